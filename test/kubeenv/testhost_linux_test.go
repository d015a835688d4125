package kubeenv

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSlotAddr(t *testing.T) {
	tests := []struct {
		slot, host int
		want       string
	}{
		{0, 1, "198.18.0.1"},
		{0, 2, "198.18.0.2"},
		{255, 2, "198.18.255.2"},
		{256, 1, "198.19.0.1"},
		{testHostSlots - 1, 2, "198.19.255.2"},
	}
	bench := netip.MustParsePrefix("198.18.0.0/15")
	for _, tt := range tests {
		got := slotAddr(tt.slot, tt.host)
		if got.String() != tt.want {
			t.Errorf("slotAddr(%d, %d) = %s, want %s", tt.slot, tt.host, got, tt.want)
		}
		if !bench.Contains(got) {
			t.Errorf("slotAddr(%d, %d) = %s is outside %s", tt.slot, tt.host, got, bench)
		}
	}
}

func TestTwoTestHostsGetDistinctAddresses(t *testing.T) {
	a, b := NewTestHost(t, "a"), NewTestHost(t, "b")
	if a.Addr == b.Addr || a.HostAddr == b.HostAddr {
		t.Fatalf("test hosts share addresses: %v/%v and %v/%v", a.Addr, a.HostAddr, b.Addr, b.HostAddr)
	}
	urlA := a.Serve(t, 0, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "a") }))
	urlB := b.Serve(t, 0, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "b") }))
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	for url, want := range map[string]string{urlA: "a", urlB: "b"} {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != want {
			t.Errorf("GET %s = %q, want %q", url, body, want)
		}
	}
}

func TestTestHostCleanupRemovesNamespace(t *testing.T) {
	var name, link string
	t.Run("host", func(t *testing.T) {
		h := NewTestHost(t, "cleanup")
		name, link = h.Name, h.link
		h.Serve(t, 0, http.NotFoundHandler())
	})
	if _, err := os.Stat(filepath.Join("/run/netns", name)); !os.IsNotExist(err) {
		t.Errorf("netns %s still exists after cleanup (stat err %v)", name, err)
	}
	if err := ip("link", "show", link); err == nil {
		t.Errorf("link %s still exists after cleanup", link)
	}
}

func TestTestHostCommandRunsInsideNamespace(t *testing.T) {
	h := NewTestHost(t, "cmd")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := h.Command(ctx, "ip", "-4", "-o", "addr", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip addr in test host: %v: %s", err, out)
	}
	if !strings.Contains(string(out), h.Addr.String()+"/30") || strings.Contains(string(out), h.HostAddr.String()+"/30") {
		t.Fatalf("addresses inside %s:\n%s\nwant %s and not %s", h.Name, out, h.Addr, h.HostAddr)
	}
}
