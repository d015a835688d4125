package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Faults are injected into the inference endpoints (/v1/chat/completions, /v1/completions).
// Each request draws once per fault, in this order: hang, error, then (if it is served)
// slow start and close. The zero value injects nothing.
//
// In JSON (GET/POST /sim/faults) the fields are snake_case and SlowStart is a Go duration
// string ("250ms"); POST replaces the whole set, DELETE clears it.
type Faults struct {
	// ErrorRate is the fraction [0,1] of requests answered at once with ErrorStatus and an
	// OpenAI-shaped error body.
	ErrorRate float64 `json:"error_rate"`
	// ErrorStatus is the status of injected errors (400..599; 429, 500 and 503 are the usual
	// ones). Default 500.
	ErrorStatus int `json:"error_status"`
	// RetryAfterSeconds is the Retry-After header sent with injected 429 and 503. Default 1.
	RetryAfterSeconds int `json:"retry_after_seconds"`
	// HangRate is the fraction of requests that are accepted and never answered: the handler
	// waits until the client goes away (or the server closes). They take no batch slot.
	HangRate float64 `json:"hang_rate"`
	// CloseRate is the fraction of requests whose connection is aborted after CloseAfterChunks
	// SSE events (a streaming client sees those events and then EOF without [DONE]; a
	// non-streaming client sees the connection close after as many tokens' worth of time,
	// with no response). Default 1 when CloseAfterChunks > 0, else 0.
	CloseRate float64 `json:"close_rate"`
	// CloseAfterChunks is how many SSE events (the role chunk counts) go out before the abort.
	CloseAfterChunks int `json:"close_after_chunks"`
	// SlowStart is extra time before the first token, spent holding a batch slot (a degraded
	// engine). It is a simulated duration: TimeScale applies.
	SlowStart time.Duration `json:"-"`
	// SlowStartRate is the fraction of requests that get SlowStart. Default 1 when
	// SlowStart > 0, else 0.
	SlowStartRate float64 `json:"slow_start_rate"`
	// Unhealthy makes /health answer 503.
	Unhealthy bool `json:"unhealthy"`
}

// normalized fills the defaults documented on the fields.
func (f Faults) normalized() Faults {
	if f.ErrorStatus == 0 {
		f.ErrorStatus = http.StatusInternalServerError
	}
	if f.RetryAfterSeconds == 0 {
		f.RetryAfterSeconds = 1
	}
	if f.CloseAfterChunks > 0 && f.CloseRate == 0 {
		f.CloseRate = 1
	}
	if f.SlowStart > 0 && f.SlowStartRate == 0 {
		f.SlowStartRate = 1
	}
	return f
}

// Validate reports fields out of range.
func (f Faults) Validate() error {
	var errs []error
	for name, r := range map[string]float64{
		"error_rate": f.ErrorRate, "hang_rate": f.HangRate,
		"close_rate": f.CloseRate, "slow_start_rate": f.SlowStartRate,
	} {
		if r < 0 || r > 1 || r != r {
			errs = append(errs, fmt.Errorf("%s must be in [0,1], got %g", name, r))
		}
	}
	if f.ErrorStatus != 0 && (f.ErrorStatus < 400 || f.ErrorStatus > 599) {
		errs = append(errs, fmt.Errorf("error_status must be in 400..599, got %d", f.ErrorStatus))
	}
	if f.RetryAfterSeconds < 0 {
		errs = append(errs, fmt.Errorf("retry_after_seconds must not be negative, got %d", f.RetryAfterSeconds))
	}
	if f.CloseAfterChunks < 0 {
		errs = append(errs, fmt.Errorf("close_after_chunks must not be negative, got %d", f.CloseAfterChunks))
	}
	if f.SlowStart < 0 {
		errs = append(errs, fmt.Errorf("slow_start must not be negative, got %s", f.SlowStart))
	}
	return errors.Join(errs...)
}

// MarshalJSON writes SlowStart as a duration string.
func (f Faults) MarshalJSON() ([]byte, error) {
	type plain Faults // no methods: avoids recursion
	return json.Marshal(struct {
		plain
		SlowStart string `json:"slow_start"`
	}{plain(f), f.SlowStart.String()})
}

// UnmarshalJSON reads SlowStart from a duration string ("250ms") and rejects unknown fields.
func (f *Faults) UnmarshalJSON(b []byte) error {
	type plain Faults
	var v struct {
		plain
		SlowStart string `json:"slow_start"`
	}
	if err := strictUnmarshal(b, &v); err != nil {
		return err
	}
	*f = Faults(v.plain)
	if v.SlowStart != "" {
		d, err := time.ParseDuration(v.SlowStart)
		if err != nil {
			return fmt.Errorf("slow_start: %w", err)
		}
		f.SlowStart = d
	}
	return nil
}

// faultPlan is what the draws decided for one request.
type faultPlan struct {
	hang       bool
	errStatus  int // 0: none
	retryAfter int
	slowStart  time.Duration // wall clock
	closeAfter int           // -1: none
}

// SetFaults replaces the injected faults. It returns an error (and changes nothing) when a
// field is out of range.
func (s *Server) SetFaults(f Faults) error {
	f = f.normalized()
	if err := f.Validate(); err != nil {
		return fmt.Errorf("set faults: %w", err)
	}
	s.faultMu.Lock()
	s.faults = f
	s.faultMu.Unlock()
	s.log.Info("faults set", "faults", f)
	return nil
}

// Faults returns the faults in force, with defaults filled.
func (s *Server) Faults() Faults {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.faults
}

// ClearFaults stops all fault injection.
func (s *Server) ClearFaults() {
	_ = s.SetFaults(Faults{})
}

// drawFaults decides the faults of one request.
func (s *Server) drawFaults() faultPlan {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	f := s.faults
	p := faultPlan{closeAfter: -1}
	hit := func(rate float64) bool { return rate > 0 && (rate >= 1 || s.rng.Float64() < rate) }
	if hit(f.HangRate) {
		p.hang = true
		return p
	}
	if hit(f.ErrorRate) {
		p.errStatus = f.ErrorStatus
		p.retryAfter = f.RetryAfterSeconds
		return p
	}
	if hit(f.SlowStartRate) {
		p.slowStart = s.cfg.scale(f.SlowStart)
	}
	if hit(f.CloseRate) {
		p.closeAfter = f.CloseAfterChunks
	}
	return p
}

// handleFaults serves GET, POST/PUT and DELETE /sim/faults.
func (s *Server) handleFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost, http.MethodPut:
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_body", fmt.Sprintf("read faults: %v", err))
			return
		}
		var f Faults
		if err := json.Unmarshal(b, &f); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_json", fmt.Sprintf("decode faults: %v", err))
			return
		}
		if err := s.SetFaults(f); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_faults", err.Error())
			return
		}
	case http.MethodDelete:
		s.ClearFaults()
	default:
		w.Header().Set("Allow", "GET, POST, PUT, DELETE")
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed", "use GET, POST, PUT or DELETE")
		return
	}
	writeJSON(w, http.StatusOK, s.Faults())
}
