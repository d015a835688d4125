// Package grpcstatus answers a gRPC client's failed call as gRPC does:
// HTTP 200 with the status in grpc-status and grpc-message, not an HTTP
// error status with a JSON body.
//
// A gRPC client reads the outcome of a call from grpc-status; given an
// HTTP error instead, it can only guess a code from the HTTP status and
// loses the message. When aimesh itself refuses or fails a call (no route,
// no healthy endpoint, a timeout, a body too large) it therefore answers
// a request whose Content-Type is application/grpc with a Trailers-Only
// response: one header block that carries the status and ends the stream.
package grpcstatus
