package gateway

import (
	"net/http"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/telemetry"
)

// finish records a request's metrics and access log line.
func (g *Gateway) finish(w http.ResponseWriter, st *reqState, li *listenerInfo, al *telemetry.AccessLogger) {
	dur := time.Since(st.start)
	res := &st.res
	node := ""
	if res.Target != nil {
		node = res.Target.Node.Name
		m := res.Target.Metrics(g.metrics, li.idx, li.name, st.service, st.routeName)
		m.Observe(res.Code, dur, res.TTFB)
		if res.Failure != "" && res.Failure != "client_gone" {
			m.UpstreamError(res.Failure)
		}
	} else if res.Code != 0 {
		g.metrics.Route(li.name, st.service, st.routeName, "").Observe(res.Code, dur, res.TTFB)
	}
	if al == nil {
		return
	}
	r := st.r
	e := telemetry.Entry{
		Start:          st.start,
		Method:         r.Method,
		Path:           r.RequestURI,
		Protocol:       r.Proto,
		Authority:      r.Host,
		Scheme:         st.req.Scheme,
		RequestHeader:  r.Header,
		ResponseHeader: w.Header(),
		Code:           res.Code,
		Flags:          responseFlags(res.Failure),
		BytesReceived:  r.ContentLength,
		BytesSent:      res.BytesSent,
		Duration:       dur,
		TTFB:           res.TTFB,
		UpstreamHost:   res.Upstream,
		VirtualNode:    node,
		VirtualService: st.service,
		Route:          st.routeName,
		Model:          st.model,
		RemoteAddr:     r.RemoteAddr,
		FailureReason:  res.Failure,
		Retries:        res.Retries,
	}
	if e.BytesReceived < 0 {
		e.BytesReceived = int64(st.body.Len()) // read for the model
		if res.BodyRead > 0 {
			e.BytesReceived = res.BodyRead // streamed
		}
	}
	al.Log(&e)
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
	}
	return "-"
}

// v1Protocol converts a listener protocol string.
func v1Protocol(p string) v1.PortProtocol { return v1.PortProtocol(p) }
