package gateway

import (
	"net/http"
	"strings"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/proxy"
	"github.com/aimesh/aimesh/internal/telemetry"
)

// finish records a request's metrics and access log line, or, when its
// response is still streaming (a proxy.Stream took it over), has the
// stream do that when it ends. It also ends the request's count in the
// listener's in-flight gauge.
func (g *Gateway) finish(w http.ResponseWriter, st *reqState, li *listenerInfo, al *telemetry.AccessLogger) {
	s := st.res.Stream
	if s == nil {
		rec := g.newRecord(w, st, li, al)
		rec.write(&st.res)
		li.metrics.InFlightDec()
		return
	}
	// st goes back to its pool when the handler returns: the stream keeps
	// only a copy of what the record needs.
	rec := new(record)
	*rec = g.newRecord(w, st, li, al)
	rec.entry.Model = strings.Clone(rec.entry.Model)
	s.Start(func(res *proxy.Result) {
		rec.write(res)
		li.metrics.InFlightDec()
	})
}

// record is what a request's metrics and access log line need besides its
// Result.
type record struct {
	g      *Gateway
	li     *listenerInfo
	al     *telemetry.AccessLogger
	entry  telemetry.Entry // request fields filled in
	bodyN  int64           // body bytes read for the model
	routed bool            // a route or service was chosen (metrics without a target)
}

func (g *Gateway) newRecord(w http.ResponseWriter, st *reqState, li *listenerInfo, al *telemetry.AccessLogger) record {
	r := st.r
	return record{g: g, li: li, al: al, bodyN: int64(st.body.Len()), entry: telemetry.Entry{
		Start:          st.start,
		Method:         r.Method,
		Path:           r.RequestURI,
		Protocol:       r.Proto,
		Authority:      r.Host,
		Scheme:         st.req.Scheme,
		RequestHeader:  r.Header,
		ResponseHeader: w.Header(),
		BytesReceived:  r.ContentLength,
		VirtualService: st.service,
		Route:          st.routeName,
		Model:          st.model,
		RemoteAddr:     r.RemoteAddr,
	}}
}

// write records res.
func (rec *record) write(res *proxy.Result) {
	e := &rec.entry
	dur := time.Since(e.Start)
	node := ""
	if res.Target != nil {
		node = res.Target.Node.Name
		m := res.Target.Metrics(rec.g.metrics, rec.li.idx, rec.li.name, e.VirtualService, e.Route)
		m.Observe(res.Code, dur, res.TTFB)
		if res.Failure != "" && res.Failure != "client_gone" {
			m.UpstreamError(res.Failure)
		}
	} else if res.Code != 0 {
		rec.g.metrics.Route(rec.li.name, e.VirtualService, e.Route, "").Observe(res.Code, dur, res.TTFB)
	}
	if rec.al == nil {
		return
	}
	e.Code = res.Code
	e.Flags = responseFlags(res.Failure)
	e.BytesSent = res.BytesSent
	e.Duration = dur
	e.TTFB = res.TTFB
	e.UpstreamHost = res.Upstream
	e.VirtualNode = node
	e.FailureReason = res.Failure
	e.Retries = res.Retries
	if e.BytesReceived < 0 {
		e.BytesReceived = rec.bodyN // read for the model
		if res.BodyRead > 0 {
			e.BytesReceived = res.BodyRead // streamed
		}
	}
	rec.al.Log(e)
}

// responseFlags maps a failure to Envoy's response flags, which App Mesh
// users grep their access logs for.
func responseFlags(failure string) string {
	switch failure {
	case "":
		return "-"
	case "connect":
		return "UF"
	case "timeout":
		return "UT"
	case "idle_timeout":
		return "SI"
	case "reset":
		return "UR"
	case "no_endpoint", "no_healthy_upstream":
		return "UH"
	case "route_not_found", "model_not_found":
		return "NR"
	case "client_gone":
		return "DC"
	case "drain_timeout":
		return "DT"
	}
	return "-"
}

// v1Protocol converts a listener protocol string.
func v1Protocol(p string) v1.PortProtocol { return v1.PortProtocol(p) }
