package snapshot

import "github.com/aimesh/aimesh/internal/route"

// Targets returns every target of the snapshot, each endpoint Set once:
// the providers of services, the weighted and fallback targets of every
// route, and the targets of TCP listeners. The long-lived managers
// (picking, model-server collectors, health) are synced from it before the
// snapshot is served.
func (s *Snapshot) Targets() []*Target {
	var out []*Target
	seen := map[any]bool{}
	add := func(t *Target) {
		if t == nil {
			return
		}
		var k any = t
		if t.Endpoints != nil {
			k = t.Endpoints
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, t)
		}
	}
	addRoute := func(r *Route) {
		for _, t := range r.Targets {
			add(t)
		}
		for _, t := range r.Fallback {
			add(t)
		}
	}
	for _, svc := range s.Services {
		add(svc.Node)
		if rt := svc.Router; rt != nil {
			for _, tb := range []*route.Table[*Route]{rt.HTTP, rt.HTTP2, rt.GRPC} {
				if tb == nil {
					continue
				}
				for _, e := range tb.Entries() {
					addRoute(e.Value)
				}
			}
			for _, r := range rt.TCP {
				addRoute(r)
			}
		}
	}
	for _, tl := range s.TCP {
		for _, r := range tl.Routes {
			addRoute(r)
		}
	}
	return out
}
