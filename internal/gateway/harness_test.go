package gateway_test

// The harness: real upstream servers on loopback, configs written as YAML
// with free ports, a gateway started with Apply, and small helpers for
// requests, OpenAI-shaped errors, metrics and polling. Nothing here mocks
// the gateway.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/config"
	"github.com/aimesh/aimesh/internal/gateway"
)

// testLog is where gateways under test log: nowhere, unless
// AIMESH_TEST_LOG is set (then stderr, at debug level).
func testLog() *slog.Logger {
	if os.Getenv("AIMESH_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// seenRequest is what an upstream received (Path escaped, as sent).
type seenRequest struct {
	Method, Host, Path, RawQuery, Proto string
	Header                              http.Header
	Body                                []byte
}

// upstream is a real HTTP server on 127.0.0.1 that counts requests and new
// connections and records what it received. Every response carries
// X-Upstream: name.
type upstream struct {
	name string
	srv  *httptest.Server
	// streamBody leaves the request body to the handler (not recorded).
	streamBody bool
	hits       atomic.Int64
	newConns   atomic.Int64

	mu   sync.Mutex
	seen []seenRequest
}

// handlerFunc is an upstream's behaviour; the default answers 200 with
// {"upstream":name}.
type handlerFunc func(u *upstream, w http.ResponseWriter, r *http.Request)

func okHandler(u *upstream, w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"upstream":%q}`, u.name)
}

// statusHandler answers every request with code.
func statusHandler(code int) handlerFunc {
	return func(u *upstream, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"upstream":%q,"status":%d}`, u.name, code)
	}
}

// hangHandler answers nothing until the request is cancelled.
func hangHandler(u *upstream, w http.ResponseWriter, r *http.Request) {
	<-r.Context().Done()
}

// newUpstream starts an HTTP/1.1 upstream; h nil means okHandler.
func newUpstream(t testing.TB, name string, h handlerFunc) *upstream {
	return startUpstream(t, name, h, false)
}

// newH2CUpstream starts an upstream that also speaks prior-knowledge
// HTTP/2 over cleartext (h2c).
func newH2CUpstream(t testing.TB, name string, h handlerFunc) *upstream {
	return startUpstream(t, name, h, true)
}

// newStreamingH2CUpstream is an h2c upstream whose handler reads the
// request body itself, as it arrives.
func newStreamingH2CUpstream(t testing.TB, name string, h handlerFunc) *upstream {
	return startUpstream(t, name, h, true, true)
}

func startUpstream(t testing.TB, name string, h handlerFunc, h2c bool, streamBody ...bool) *upstream {
	t.Helper()
	if h == nil {
		h = okHandler
	}
	u := &upstream{name: name, streamBody: len(streamBody) > 0 && streamBody[0]}
	u.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		var body []byte
		if !u.streamBody {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		u.mu.Lock()
		u.seen = append(u.seen, seenRequest{
			Method: r.Method, Host: r.Host, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
			Proto: r.Proto, Header: r.Header.Clone(), Body: body,
		})
		u.mu.Unlock()
		w.Header().Set("X-Upstream", name)
		h(u, w, r)
	}))
	u.srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.newConns.Add(1)
		}
	}
	if h2c {
		p := new(http.Protocols)
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		u.srv.Config.Protocols = p
	}
	u.srv.Start()
	t.Cleanup(u.srv.Close)
	return u
}

// addr is the upstream's host:port.
func (u *upstream) addr() string { return u.srv.Listener.Addr().String() }

func (u *upstream) port() int { return u.srv.Listener.Addr().(*net.TCPAddr).Port }

// last returns the last request the upstream received.
func (u *upstream) last(t testing.TB) seenRequest {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		t.Fatalf("upstream %s received no request", u.name)
	}
	return u.seen[len(u.seen)-1]
}

func (u *upstream) reset() {
	u.hits.Store(0)
	u.mu.Lock()
	u.seen = nil
	u.mu.Unlock()
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// closedAddr returns 127.0.0.1:port where nothing listens.
//
// The port stays reserved by a bound socket that never listens, so
// connections to it are refused for the whole test and no other server
// (another test binary running at the same time) can take it.
func closedAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
}

// testGW is a gateway serving a test config.
type testGW struct {
	*gateway.Gateway
	mesh  string // base URL of the mesh listener
	admin string // base URL of the admin listener
}

// parseConfig decodes, defaults and validates YAML like `aimesh run` does.
func parseConfig(t testing.TB, yaml string, kube bool) *config.Resources {
	t.Helper()
	res, errs := config.Decode("test.yaml", []byte(yaml))
	if len(errs) > 0 {
		t.Fatalf("decode config: %v\n%s", errs, numbered(yaml))
	}
	if err := config.Prepare(res, config.Options{Kubernetes: kube}); err != nil {
		t.Fatalf("validate config: %v\n%s", err, numbered(yaml))
	}
	return res
}

func numbered(s string) string {
	var b strings.Builder
	for i, l := range strings.Split(s, "\n") {
		fmt.Fprintf(&b, "%3d  %s\n", i+1, l)
	}
	return b.String()
}

// startGW applies yaml to a new gateway with a mesh listener and an admin
// listener on free loopback ports. opts may set MaxBodyBytes, Node and so
// on; addresses left empty are filled in.
func startGW(t testing.TB, yaml string, opts gateway.Options) *testGW {
	t.Helper()
	if opts.ListenAddress == "" {
		opts.ListenAddress = "127.0.0.1"
	}
	if opts.MeshAddress == "" {
		opts.MeshAddress = "127.0.0.1:0"
	}
	if opts.AdminAddress == "" {
		opts.AdminAddress = "127.0.0.1:0"
	}
	if opts.DrainTimeout == 0 {
		opts.DrainTimeout = 5 * time.Second
	}
	if opts.Log == nil {
		opts.Log = testLog()
	}
	// hack/test.sh runs the package once more with net/http alone on the
	// plaintext listeners (--http1-fast-lane=false): both paths stay tested.
	if os.Getenv("AIMESH_TEST_NET_HTTP_ONLY") == "1" {
		opts.NetHTTPOnly = true
	}
	g := gateway.New(opts)
	if err := g.Apply(parseConfig(t, yaml, opts.Kubernetes)); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return serveGW(t, g)
}

// serveGW starts the admin listener of an applied gateway and registers
// its shutdown.
func serveGW(t testing.TB, g *gateway.Gateway) *testGW {
	t.Helper()
	tg := &testGW{Gateway: g}
	admin, err := g.StartAdmin()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	if err != nil {
		t.Fatalf("admin: %v", err)
	}
	if admin != nil {
		tg.admin = "http://" + admin.String()
	}
	if a := g.ListenerAddr("mesh"); a != nil {
		tg.mesh = "http://" + a.String()
	}
	return tg
}

// gatewayURL is the base URL of a VirtualGateway listener port.
func (g *testGW) gatewayURL(t testing.TB, port int) string {
	t.Helper()
	a := g.ListenerAddr("gateway:" + strconv.Itoa(port))
	if a == nil {
		t.Fatalf("no gateway listener on port %d", port)
	}
	return "http://" + a.String()
}

// client is an HTTP/1.1 client with keep-alive and a deadline.
func client(t testing.TB) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// h2cClient speaks prior-knowledge HTTP/2 over cleartext.
func h2cClient(t testing.TB) *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: p, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// reply is a fully read response.
type reply struct {
	code   int
	header http.Header
	body   []byte
}

// call sends a request with the given Host header (empty: the URL's) and
// reads the whole response.
func call(t testing.TB, c *http.Client, method, url, host string, hdr http.Header, body []byte) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", method, url, host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s (Host %s): read body: %v", method, url, host, err)
	}
	return reply{code: resp.StatusCode, header: resp.Header, body: b}
}

// chatBody is an OpenAI chat request for model.
func chatBody(model string) []byte {
	return []byte(`{"model":` + strconv.Quote(model) + `,"messages":[{"role":"user","content":"hi"}]}`)
}

// apiError is the OpenAI error shape.
type apiError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// wantError checks that r is an OpenAI-shaped JSON error with status and
// code.
func wantError(t testing.TB, r reply, status int, code string) {
	t.Helper()
	if r.code != status {
		t.Fatalf("status %d, want %d; body %s", r.code, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e apiError
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body is not OpenAI-shaped JSON: %v: %s", err, r.body)
	}
	if e.Error.Message == "" || e.Error.Type == "" || e.Error.Code == nil {
		t.Fatalf("error body lacks message, type or code: %s", r.body)
	}
	if *e.Error.Code != code {
		t.Errorf("error code %q, want %q (%s)", *e.Error.Code, code, e.Error.Message)
	}
}

// eventually polls cond every 10ms until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// metric returns the value of the first sample of the admin /metrics page
// named name whose labels include every label in want (k="v" pairs), and
// whether there was one.
func (g *testGW) metric(t testing.TB, name string, want ...string) (float64, bool) {
	t.Helper()
	return sample(t, g.scrape(t), name, want...)
}

// scrape returns the admin /metrics page.
func (g *testGW) scrape(t testing.TB) string {
	t.Helper()
	resp, err := http.Get(g.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sample finds a sample in a scraped page; see metric.
func sample(t testing.TB, page, name string, want ...string) (float64, bool) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(page))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, w := range want {
			if !strings.Contains(line, w) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		return v, true
	}
	return 0, false
}
