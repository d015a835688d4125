package gateway

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// TestSplitHostPort checks splitHostPort against what net.SplitHostPort
// alone gives, including the Host values it refuses.
func TestSplitHostPort(t *testing.T) {
	old := func(hostport string) (string, int) {
		host, ps, err := net.SplitHostPort(hostport)
		if err != nil {
			return strings.ToLower(hostport), 0
		}
		p, _ := strconv.Atoi(ps)
		return strings.ToLower(host), p
	}
	for _, in := range []string{
		"", "bench.local", "Bench.Local", "bench.local:8080", "BENCH:80", "host:", "host:abc",
		"[::1]:443", "[::1]", "::1", "a:b:c", "[fe80::1%eth0]:8080", ":80", "h:99999",
	} {
		gh, gp := splitHostPort(in)
		wh, wp := old(in)
		if gh != wh || gp != wp {
			t.Errorf("splitHostPort(%q) = %q, %d; want %q, %d", in, gh, gp, wh, wp)
		}
	}
	if n := testing.AllocsPerRun(100, func() { splitHostPort("bench.local") }); n != 0 {
		t.Errorf("splitHostPort of a host without a port allocates %v times", n)
	}
}
