package telemetry

import (
	"io"
	"testing"

	"github.com/aimesh/aimesh/api/v1alpha1"
)

func benchLogger(b *testing.B, format *v1alpha1.LoggingFormat) *AccessLogger {
	b.Helper()
	files := NewLogFiles(func(string) (io.Writer, error) { return io.Discard, nil }, nil)
	l, err := NewAccessLogger(&v1alpha1.FileAccessLog{Path: "/bench", Format: format}, files)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

var benchJSON = jsonFormat(
	"start_time", "%START_TIME%",
	"method", "%REQ(:METHOD)%",
	"path", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
	"protocol", "%PROTOCOL%",
	"response_code", "%RESPONSE_CODE%",
	"response_flags", "%RESPONSE_FLAGS%",
	"bytes_received", "%BYTES_RECEIVED%",
	"bytes_sent", "%BYTES_SENT%",
	"duration", "%DURATION%",
	"ttft", "%RESPONSE_DURATION%",
	"user_agent", "%REQ(USER-AGENT)%",
	"request_id", "%REQ(X-REQUEST-ID)%",
	"authority", "%REQ(:AUTHORITY)%",
	"upstream_host", "%UPSTREAM_HOST%",
	"virtual_node", "%UPSTREAM_CLUSTER%",
	"model", "%AIMESH_MODEL%",
	"retries", "%AIMESH_RETRIES%",
)

func BenchmarkAccessLogText(b *testing.B) {
	l := benchLogger(b, nil)
	e := testEntry()
	b.ReportAllocs()
	for b.Loop() {
		l.Log(e)
	}
}

func BenchmarkAccessLogJSON(b *testing.B) {
	l := benchLogger(b, benchJSON)
	e := testEntry()
	b.ReportAllocs()
	for b.Loop() {
		l.Log(e)
	}
}

func BenchmarkAccessLogTextParallel(b *testing.B) {
	l := benchLogger(b, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		e := testEntry()
		for pb.Next() {
			l.Log(e)
		}
	})
}
