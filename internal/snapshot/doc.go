// Package snapshot compiles validated resources into the immutable tables
// the request path reads: gateway listeners with their GatewayRoute
// tables, VirtualServices by hostname, routers with per-protocol route
// tables (regexes compiled, targets with cumulative weights), and the
// effective retry and timeout policy of every route. A Holder swaps
// snapshots atomically; requests keep the snapshot they started with.
//
// State that outlives a snapshot (endpoint sets, metric handles, access log
// files) is not owned here: Compile asks long-lived registries for it by
// name, so a reload keeps it.
//
// Defaults applied here (documented on the API fields too):
//   - route timeout perRequest 600s (App Mesh uses 15s, which cuts long
//     LLM generations), idle 300s (App Mesh's); 0 disables either. A target
//     node listener's timeout, when set, caps the route's.
//   - without a retryPolicy, App Mesh's implicit one: up to 2 retries on
//     connection errors, refused streams and HTTP 503, gRPC unavailable.
//   - perRetryTimeout bounds an attempt until its response headers arrive;
//     streamed bodies are bounded by perRequest and idle only.
package snapshot
