// Package routing holds end-to-end tests of endpoint picking: an aimesh
// gateway in front of simulated model servers (internal/sim) with real
// metric scrapes, real timing and injected faults. The tests live in
// package routing_test; this file only documents the directory.
package routing
