// Package picker chooses the endpoint of a VirtualNode that serves each
// request. It owns the small contracts policies are built from, Filter
// (narrow the candidates), Scorer (rate each in [0,1]; Weighted gives it a
// weight) and Picker (choose from the weighted totals), the Policy a node
// is balanced with, and the Balancer, the long-lived owner of every
// endpoint Set's policy and prefix index.
//
// A pick (Balancer.Pick) gathers the candidates: endpoints that are
// available (not ejected by outlier detection, not failed by a health
// check: internal/health) and not already tried by this request's earlier
// attempts while others are left. Each carries its load view (Observe):
// the model server's scraped queue, running requests and KV-cache usage
// (internal/modelserver) corrected by what aimesh sent since the scrape,
// or aimesh's own in-flight counters without metrics; metrics older than
// StaleIntervals scrape intervals count as saturated. Admission (Admit)
// refuses a sheddable request when every candidate is saturated and at
// least one was freshly scraped, so missing metrics fail open. The policy
// then picks.
//
// Policies live one per package (roundrobin, random, leastrequest,
// inference) and are registered in one explicit function,
// internal/picker/policies.Registry.
package picker
