package route

import (
	"errors"
	"net/http"
	"testing"

	"github.com/aimesh/aimesh/api/v1alpha1"
)

func ptr[T any](v T) *T { return &v }

// countingModel is a ModelSource that counts its calls.
type countingModel struct {
	model string
	err   error
	calls int
}

func (c *countingModel) Model() (string, error) {
	c.calls++
	return c.model, c.err
}

var errTooLarge = errors.New("request body larger than 1048576 bytes")

// chat is a POST /v1/chat/completions request for model on port 8080.
func chat(model string) *Request {
	return &Request{
		Method: "POST", Path: "/v1/chat/completions", Host: "ai-api-service.local",
		Scheme: "http", Port: 8080, Header: http.Header{"Content-Type": {"application/json"}},
		Model: &countingModel{model: model},
	}
}

// matchCase is a request and whether it should match.
type matchCase struct {
	name string
	req  *Request
	want bool
}

// with returns a copy of the chat request changed by f.
func with(f func(r *Request)) *Request {
	r := chat("llama-3.1-8b-instruct")
	f(r)
	return r
}

func runMatch(t *testing.T, m *Matcher, cases []matchCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := m.Match(c.req)
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			if got != c.want {
				t.Errorf("Match(%s) = %v, want %v (matcher: %s)", c.name, got, c.want, m)
			}
		})
	}
}

func mustHTTP(t *testing.T, m v1alpha1.HTTPRouteMatch) *Matcher {
	t.Helper()
	mm, err := CompileHTTPRouteMatch(&m)
	if err != nil {
		t.Fatalf("CompileHTTPRouteMatch: %v", err)
	}
	return mm
}

func header(name string, mm *v1alpha1.HeaderMatchMethod, invert bool) v1alpha1.HTTPHeaderMatch {
	h := v1alpha1.HTTPHeaderMatch{Name: name, Match: mm}
	if invert {
		h.Invert = ptr(true)
	}
	return h
}
