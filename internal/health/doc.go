// Package health keeps unhealthy endpoints out of picking, with App Mesh's
// two mechanisms from a VirtualNode listener.
//
// Active healthCheck: one checker per endpoint (discovery.Workers) probes
// every intervalMillis (plus up to 10% jitter) with a timeout of
// timeoutMillis: http and http2 GET path (default "/", 2xx is healthy;
// http2 over h2c), tcp connect, grpc grpc.health.v1.Health/Check expecting
// SERVING. unhealthyThreshold consecutive failures mark the endpoint
// unhealthy and healthyThreshold consecutive successes bring it back
// (CheckState); a new endpoint starts healthy and is probed at once. So an
// endpoint that stops answering is out after about unhealthyThreshold ×
// interval + timeout.
//
// Passive outlierDetection: the gateway reports every attempt's outcome
// (Manager.Observe); server errors (5xx, connect failures, resets,
// timeouts) counted in windows of interval eject the endpoint after
// maxServerErrors for baseEjectionDuration × the times it was ejected,
// within maxEjectionPercent of the Set (at least one endpoint may always be
// ejected); see Outlier. An ejected endpoint is out from the next pick, and
// back in by itself when the ejection ends.
//
// Verdicts are published on the endpoint (discovery.State) where pickers
// read them lock free. A node left with no available endpoint answers 503
// no_healthy_upstream at once, or its route's fallback serves. Checkers
// and detectors are long-lived: a reload with unchanged settings keeps
// them, verdicts and ejections included; changed or removed settings lift
// what the old ones decided.
package health
