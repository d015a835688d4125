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
// Request bodies are read before forwarding only when a route that
// otherwise matches needs the model (or the picker needs the prompt);
// those reads are bounded by MaxBodyBytes (413 past it). Other bodies are
// streamed to the upstream as they arrive, so gRPC and other client
// streams flow; the forwarder keeps a copy of up to MaxBodyBytes so that
// retries and fallbacks can send them again.
package gateway
