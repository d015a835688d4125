// Package proxy forwards requests to upstream endpoints: pooled keep-alive
// transports (HTTP/1.1 and h2c), endpoint choice per attempt, retries on
// another endpoint before any response byte reached the client, fallback
// targets, per-request, per-try and idle timeouts, and streaming responses
// through with a flush per chunk. It also forwards TCP connections and
// CONNECT tunnels.
//
// Errors reach the client as OpenAI-shaped JSON: 502 when no connection
// could be made, 503 when the target has no endpoint, 504 on timeout. Once
// response headers went out, a failure can only cut the stream; the
// connection is then aborted so the client sees an error, not a short but
// well-formed response.
package proxy
