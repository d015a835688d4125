package gateway

import (
	"bytes"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"

	"github.com/aimesh/aimesh/internal/config"
	"sigs.k8s.io/yaml"
)

// StartAdmin binds the admin listener: /healthz (the process is alive),
// /readyz (a config is served and the gateway is not draining), /config
// (the resources served, as YAML), /metrics (Prometheus) and
// /debug/pprof/.
func (g *Gateway) StartAdmin() (net.Addr, error) {
	if g.AdminAddress == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", g.AdminAddress)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case g.draining.Load():
			http.Error(w, "draining", http.StatusServiceUnavailable)
		case g.holder.Load() == nil:
			http.Error(w, "no configuration applied yet", http.StatusServiceUnavailable)
		default:
			w.Write([]byte("ok generation " + strconv.FormatInt(g.gen.Load(), 10) + "\n"))
		}
	})
	mux.HandleFunc("GET /config", func(w http.ResponseWriter, r *http.Request) {
		snap := g.holder.Load()
		if snap == nil {
			http.Error(w, "no configuration applied yet", http.StatusServiceUnavailable)
			return
		}
		out, err := ResourcesYAML(snap.Resources)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/yaml")
		w.Header().Set("X-Aimesh-Generation", strconv.FormatInt(snap.Generation, 10))
		w.Write(out)
	})
	mux.Handle("GET /metrics", g.metrics.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	g.admin = &http.Server{Handler: mux}
	go g.admin.Serve(ln)
	return ln.Addr(), nil
}

// ResourcesYAML renders resources as a multi-document YAML stream.
func ResourcesYAML(res *config.Resources) ([]byte, error) {
	var buf bytes.Buffer
	objs := make([]any, 0, res.Len())
	for _, o := range res.Meshes {
		objs = append(objs, o)
	}
	for _, o := range res.VirtualNodes {
		objs = append(objs, o)
	}
	for _, o := range res.VirtualServices {
		objs = append(objs, o)
	}
	for _, o := range res.VirtualRouters {
		objs = append(objs, o)
	}
	for _, o := range res.VirtualGateways {
		objs = append(objs, o)
	}
	for _, o := range res.GatewayRoutes {
		objs = append(objs, o)
	}
	for i, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}
