// Package fastlane serves plain HTTP/1.1 requests on a gateway's
// plaintext listeners without net/http's per-request machinery, and hands
// every connection it does not fully understand to net/http.
//
// A request takes the fast lane only when its head fits in the
// connection's 4 KiB read buffer and is of the plainest kind: a token
// method other than CONNECT and PRI, an origin-form target ("/..."),
// HTTP/1.1, CRLF line ends, header names that are tokens followed
// directly by a colon, values without control characters, exactly one
// valid Host, at most one Content-Length made of digits, a Connection
// field (if any) that is a plain list of tokens, and no
// Transfer-Encoding, Expect, Upgrade or folded line. Anything else (an
// HTTP/2 preface, HTTP/1.0, a chunked or 100-continue upload, a proxy's
// absolute-form target, a malformed head) goes to net/http together with
// the bytes already read, and net/http serves the rest of that
// connection: its parser, its errors and its request-smuggling defences
// apply. Because the fast lane accepts no Transfer-Encoding and a single
// Content-Length, a body's length is never ambiguous.
//
// What the fast lane saves per request, against net/http's server: the
// background-read goroutine and its wake-up, a context, the textproto
// header parse (one string holds the head; names and values are slices of
// it), the chunk writer, and most read-deadline updates (the idle deadline
// moves at most once a second). A small response goes out in one write
// with its head.
//
// Timeouts: ReadHeaderTimeout bounds a head that arrives in pieces,
// IdleTimeout a keep-alive connection between requests (give or take a
// second). A client that hangs up while its request waits on a slow
// upstream cancels the request's context, as with net/http: requests
// running longer than a quarter second have their client socket watched
// for a hang-up (EPOLLRDHUP), which costs short requests nothing. The
// request's context also takes one cancel hook (HookCancel), which the
// HTTP/1.1 upstream client uses to cut its connection at a hang-up
// without context.AfterFunc's five allocations per request.
package fastlane
