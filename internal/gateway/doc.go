// Package gateway is aimesh's data plane: it binds the VirtualGateway
// listeners, the mesh listener (where the Host header names a
// VirtualService, or an HTTP proxy request names any host) and the TCP
// route ports; runs the request pipeline (match, admit, forward, account);
// swaps compiled snapshots on reload; and drains on shutdown.
//
// The pipeline for one HTTP request:
//
//	gateway listener: GatewayRoute match -> rewrites -> VirtualService
//	mesh listener:    Host -> VirtualService (or egress, per egressFilter)
//	VirtualService -> router listener -> route match (model last, lazily)
//	  -> weighted target -> proxy.Forward (endpoint, retries, fallback)
//	  -> metrics and access log
//
// Request bodies are read only when a route that otherwise matches needs
// the model, or when a route with retries or fallback must be able to
// send the body again; reads are bounded by MaxBodyBytes (413 past it).
package gateway
