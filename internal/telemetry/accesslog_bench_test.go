package telemetry

import (
	"io"
	"path/filepath"
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

// BenchmarkAccessLogText logs Envoy's default line: formatting alone
// (discard), and into a real file with one write per line (flush=0, the
// behaviour before buffering) and with DefaultBuffering (flush=1s), where
// a write carries 64 KiB of lines.
func BenchmarkAccessLogText(b *testing.B) {
	e := testEntry()
	b.Run("discard", func(b *testing.B) {
		l := benchLogger(b, nil)
		b.ReportAllocs()
		for b.Loop() {
			l.Log(e)
		}
	})
	for _, tc := range []struct {
		name string
		buf  Buffering
	}{
		{"file/flush=0", Buffering{}},
		{"file/flush=1s", DefaultBuffering},
	} {
		b.Run(tc.name, func(b *testing.B) {
			files := NewLogFilesWith(nil, nil, tc.buf)
			l, err := NewAccessLogger(&v1alpha1.FileAccessLog{Path: filepath.Join(b.TempDir(), "access.log")}, files)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				l.Log(e)
			}
			b.StopTimer()
			if err := files.Close(); err != nil {
				b.Fatal(err)
			}
		})
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
