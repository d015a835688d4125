// Package discovery owns the endpoints of VirtualNodes: long-lived Endpoint
// objects (address plus the per-endpoint state that must survive a config
// reload, such as in-flight counts) grouped in Sets, and the sources that
// fill the Sets: static lists, DNS names re-resolved on an interval, and, in
// Kubernetes mode, EndpointSlices (fed in by internal/kube through Update).
//
// A Registry keys Sets by VirtualNode and port. Successive snapshots ask the
// Registry for the same keys and get the same Sets back, so a reload keeps
// endpoint state; keys a new snapshot no longer uses are released and their
// resolvers stopped.
package discovery
