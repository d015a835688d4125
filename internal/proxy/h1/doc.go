// Package h1 is a synchronous HTTP/1.1 client for upstream connections: an
// http.RoundTripper the forwarder can use instead of *http.Transport.
//
// Why it exists: http.Transport runs a readLoop and a writeLoop goroutine
// per connection, hands every request and response between them over
// channels, and keeps two 4 KiB bufio buffers per open connection. That is
// CPU on every request and memory on every open stream, and an idle SSE
// stream holds its upstream connection for minutes. Here the calling
// goroutine writes the request and reads the response itself: a pooled
// connection holds only its net.Conn, a 4 KiB read buffer is borrowed from
// a pool while a response is in flight, and the request head (with a small
// in-memory body) goes out in one write from a pooled buffer.
//
// What it does:
//   - per-address LIFO pools of keep-alive connections, an idle timeout, an
//     optional cap on connections per address (callers wait for a slot,
//     honouring their context);
//   - a liveness check (a non-blocking peek) before reusing an idle
//     connection, and one transparent retry on a new connection when a
//     reused one fails before any response byte arrived and the body can
//     be sent again;
//   - Content-Length and chunked bodies both ways, response trailers,
//     1xx responses skipped, bodies read until close;
//   - cancellation through the request's context, with its cancel hook
//     when it is a CancelHooker (the fast lane's are) and with
//     context.AfterFunc otherwise (no goroutine per request either way):
//     errors then wrap context.Cause;
//   - Detach, which hands the connection of an in-flight response to the
//     caller (for a zero-copy streaming path).
//
// What it does not do: HTTP/2, proxies (CONNECT or absolute-form
// requests), compression (no Accept-Encoding is added, nothing is
// decoded), Expect: 100-continue (the body is sent with the head; a 100
// response is skipped), protocol upgrades (101 is an error), and reading
// the response while a request body is still being sent (an upstream that
// answers a large body before reading it can only get its answer through
// once the body is written or the write fails).
package h1
