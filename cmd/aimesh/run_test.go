package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/telemetry"
)

// TestAccessLogBufferingFlags: the defaults are telemetry's, 0 turns
// buffering off, and negative values are refused before anything starts.
func TestAccessLogBufferingFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want telemetry.Buffering
	}{
		{nil, telemetry.DefaultBuffering},
		{[]string{"--access-log-flush-interval", "0"}, telemetry.Buffering{Size: telemetry.DefaultBufferSize}},
		{[]string{"--access-log-flush-interval", "10s", "--access-log-buffer-bytes", "1048576"},
			telemetry.Buffering{FlushInterval: 10 * time.Second, Size: 1 << 20}},
	} {
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var rf runFlags
		rf.register(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if err := rf.check(); err != nil {
			t.Errorf("%q: %v", tc.args, err)
		}
		if got := rf.accessLogBuffering(); got != tc.want {
			t.Errorf("%q: buffering %+v, want %+v", tc.args, got, tc.want)
		}
	}

	for _, tc := range []struct {
		cmd  func(context.Context, []string, io.Writer, io.Writer) int
		args []string
		want string
	}{
		{cmdRun, []string{"--access-log-flush-interval", "-1s", "-f", "../../examples/seed-mesh.yaml"}, "aimesh run: --access-log-flush-interval: want 0 or more, got -1s"},
		{cmdRun, []string{"--access-log-buffer-bytes", "-5", "-f", "../../examples/seed-mesh.yaml"}, "aimesh run: --access-log-buffer-bytes: want 0 or more, got -5"},
		{cmdDemo, []string{"--access-log-buffer-bytes", "-5"}, "aimesh demo: --access-log-buffer-bytes: want 0 or more, got -5"},
		{cmdRun, []string{"--gc-heap-floor-mib", "-1", "-f", "../../examples/seed-mesh.yaml"}, "aimesh run: --gc-heap-floor-mib: want 0 or more, got -1"},
		{cmdRun, []string{"--memory-limit-mib", "-2", "-f", "../../examples/seed-mesh.yaml"}, "aimesh run: --memory-limit-mib: want -1, 0 or more, got -2"},
	} {
		var stdout, stderr bytes.Buffer
		if code := tc.cmd(context.Background(), tc.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// TestFastLaneFlag: the fast lane is on by default and
// --http1-fast-lane=false leaves plaintext listeners to net/http.
func TestFastLaneFlag(t *testing.T) {
	for _, tc := range []struct {
		args        []string
		netHTTPOnly bool
	}{
		{nil, false},
		{[]string{"--http1-fast-lane=false"}, true},
	} {
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var rf runFlags
		rf.register(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if got := rf.gatewayOptions(nil).NetHTTPOnly; got != tc.netHTTPOnly {
			t.Errorf("%q: NetHTTPOnly %v, want %v", tc.args, got, tc.netHTTPOnly)
		}
	}
}
