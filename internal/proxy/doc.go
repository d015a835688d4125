// Package proxy forwards requests to upstream endpoints: pooled keep-alive
// transports (HTTP/1.1 and h2c), endpoint choice per attempt, retries on
// another endpoint before any response byte reached the client, fallback
// targets, per-request, per-try and idle timeouts, and streaming responses
// through with a flush per chunk. It also forwards TCP connections and
// CONNECT tunnels.
//
// A request body the gateway buffered (Plan.Body) is sent again as is. Any
// other body is streamed to the upstream as the client sends it, with a
// copy of up to Forwarder.MaxReplay bytes kept, so gRPC and other client
// streams are not held back; another attempt can send it when none of it
// was sent yet or when all of it fit in the copy.
//
// Errors reach the client as OpenAI-shaped JSON: 502 when no connection
// could be made, 503 when the target has no endpoint, 504 on timeout. Once
// response headers went out, a failure can only cut the stream; the
// connection is then aborted so the client sees an error, not a short but
// well-formed response.
package proxy
