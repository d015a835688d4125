// Package telemetry owns what aimesh tells operators about traffic:
// Prometheus metrics and App Mesh access logs. (Traces will live here too.)
//
// # Metrics
//
// NewMetrics builds a private prometheus.Registry (Go and process
// collectors included; nothing is registered globally) with these series:
//
//	aimesh_requests_total{listener, virtual_service, route, virtual_node, code}
//	aimesh_request_duration_seconds{listener, virtual_service, route, virtual_node}  histogram
//	aimesh_time_to_first_byte_seconds{virtual_service, route, virtual_node}          histogram (TTFT for streams)
//	aimesh_requests_in_flight{listener}
//	aimesh_retries_total{virtual_service, route, virtual_node}
//	aimesh_fallbacks_total{virtual_service, route, virtual_node}
//	aimesh_upstream_errors_total{virtual_node, kind}   kind: connect, timeout, reset, status_5xx, overflow, protocol
//	aimesh_config_reloads_total{result}                result: success, failure
//	aimesh_config_last_reload_success_timestamp_seconds
//	aimesh_config_generation
//
// Histogram buckets (DurationBuckets) run from 1 ms to 10 min so one series
// serves fast API calls and long generations alike. Handler serves the
// registry; Registry lets other packages add their own collectors.
//
// The request path never hashes label values. Snapshot compilation asks
// Metrics.Route(listener, vs, route, node) for a *RouteMetrics and
// Metrics.Listener(name) for a *ListenerMetrics and stores them in the
// compiled tables; a request then calls RouteMetrics.Observe(code, dur,
// ttfb), Retry, Fallback and UpstreamError(kind), which use cached children
// (status codes and error kinds in a small lock-free table). The same labels
// always give the same handle, so successive snapshots share them.
//
// # Access logs
//
// An AccessLogger implements App Mesh's logging.accessLog.file: a path
// (/dev/stdout and /dev/stderr are the process's streams; other paths are
// opened for appending) and an Envoy format, text or JSON, compiled once
// when the logger is made. Loggers are opened through a LogFiles owned by
// the gateway: all loggers on one path share one writer, buffer and lock,
// and every write holds whole lines, so lines never interleave.
//
// Lines are buffered as Envoy and nginx buffer them (DefaultBuffering:
// 64 KiB per file, written when full and at least every second by one
// goroutine per LogFiles), because a write system call per request costs
// more than formatting the line. LogFiles.Reopen (log rotation) writes the
// buffers to the old files first, and LogFiles.Close writes everything
// out, so only a crash loses lines, at most one interval's worth.
// /dev/stdout is buffered like a file: `kubectl logs` shows lines within
// the interval. Buffering{} (interval 0) writes every line at once.
//
// Supported Envoy command operators:
//
//	%START_TIME%                   2026-03-07T09:04:05.123Z (UTC)
//	%START_TIME(FORMAT)%           strftime: %Y %m %d %H %M %S %T %F %s %z %3f %f ... (see compileStrftime)
//	%REQ(H)% %REQ(H?ALT)% %REQ(H):N%   request header (first value); :METHOD :PATH :AUTHORITY :SCHEME
//	                               and X-ENVOY-ORIGINAL-PATH (path before a gateway rewrite);
//	                               REQUEST_HEADER is an alias; :N truncates to N bytes
//	%RESP(H)% (RESPONSE_HEADER)    response header, with ?ALT and :N as above
//	%PROTOCOL% %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT%
//	%DURATION%                     ms, request start to last response byte
//	%RESPONSE_DURATION%            ms, request start to first response byte (time to first token)
//	%RESPONSE_TX_DURATION%         ms, first to last response byte
//	%UPSTREAM_HOST%                endpoint host:port
//	%UPSTREAM_CLUSTER%             the VirtualNode
//	%UPSTREAM_TRANSPORT_FAILURE_REASON%
//	%DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%
//	%DOWNSTREAM_DIRECT_REMOTE_ADDRESS% %DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT%
//	%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%
//	%REQUESTED_SERVER_NAME% %ROUTE_NAME% %HOSTNAME%
//
// aimesh additions:
//
//	%AIMESH_VIRTUAL_SERVICE%       the VirtualService the request was routed through
//	%AIMESH_MODEL%                 the "model" of an OpenAI-style request body
//	%AIMESH_RETRIES%               retries made
//	%AIMESH_PROMPT_TOKENS% %AIMESH_COMPLETION_TOKENS%   usage reported by the model server
//
// %% is a literal percent sign. An unknown or malformed operator is an error
// (a *FormatError naming it) from NewAccessLogger and ValidateFormat, so
// config validation reports it before anything is served.
//
// Text lines print a missing value as "-" (as Envoy does), escape control
// characters inside values (so a request cannot forge log lines) and end in
// exactly one newline, added if the format lacks it. JSON formats write one
// object per line with keys in the configured order; a value that is exactly
// one operator is typed as Envoy types it (RESPONSE_CODE, BYTES_*,
// DURATION, RESPONSE_DURATION, AIMESH_RETRIES and token counts are numbers)
// and is null when missing; any other value is a string. With no format the
// line is Envoy's default (DefaultTextFormat).
//
// Log allocates nothing in the steady state: lines are built in pooled
// buffers from the pre-compiled segments.
package telemetry
