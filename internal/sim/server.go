package sim

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Response headers that tell tests which simulated server answered.
const (
	HeaderServer  = "X-Sim-Server"
	HeaderVersion = "X-Sim-Version"
)

// Server is one simulated OpenAI-compatible model server. It is an http.Handler; Start and
// StartCluster put it behind a listener.
type Server struct {
	cfg     Config
	log     *slog.Logger
	eng     *engine
	met     *metrics
	mux     *http.ServeMux
	models  map[string]bool
	created int64
	ids     atomic.Uint64
	hanging atomic.Int64

	stopHang     chan struct{} // closed by stopHanging
	stopHangOnce sync.Once

	faultMu sync.Mutex
	faults  Faults
	rng     *rand.Rand
}

var _ http.Handler = (*Server)(nil)

// NewServer builds a server from cfg; zero fields that have a default get it (see Config).
func NewServer(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new sim server %q: %w", cfg.Name, err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("server", cfg.Name, "model", cfg.Model)
	met := newMetrics()
	s := &Server{
		cfg:     cfg,
		log:     log,
		eng:     newEngine(&cfg, met),
		met:     met,
		mux:     http.NewServeMux(),
		models:  map[string]bool{cfg.Model: true},
		created: time.Now().Unix(),
		faults:  cfg.Faults,
		rng:     rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),

		stopHang: make(chan struct{}),
	}
	for _, a := range cfg.Aliases {
		s.models[a] = true
	}
	s.mux.HandleFunc("POST /v1/chat/completions", s.handleInference(kindChat))
	s.mux.HandleFunc("POST /v1/completions", s.handleInference(kindCompletion))
	s.mux.HandleFunc("GET /v1/models", s.handleModels)
	s.mux.HandleFunc("GET /health", s.handleHealth)
	s.mux.HandleFunc("GET /metrics", s.handleMetrics)
	s.mux.HandleFunc("/sim/faults", s.handleFaults)
	s.mux.HandleFunc("GET /sim/stats", s.handleStats)
	s.mux.HandleFunc("POST /reset_prefix_cache", s.handleResetPrefixCache)
	return s, nil
}

// Config returns the configuration in force (defaults filled; Faults as at start).
func (s *Server) Config() Config { return s.cfg }

// ServeHTTP tags every response with the server's name (and version) and routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set(HeaderServer, s.cfg.Name)
	if s.cfg.Version != "" {
		h.Set(HeaderVersion, s.cfg.Version)
	}
	if id := r.Header.Get("X-Request-Id"); id != "" {
		h.Set("X-Request-Id", id)
	}
	s.mux.ServeHTTP(w, r)
}

// Stats is a snapshot of a server's state, for tests and GET /sim/stats.
type Stats struct {
	Running          int     `json:"running"`
	Waiting          int     `json:"waiting"`
	Hanging          int     `json:"hanging"`
	KVBlocksTotal    int     `json:"kv_blocks_total"`
	KVBlocksUsed     int     `json:"kv_blocks_used"`
	KVBlocksFree     int     `json:"kv_blocks_free"` // free or evictable
	KVCacheUsage     float64 `json:"kv_cache_usage"`
	CachedBlocks     int     `json:"cached_blocks"` // blocks holding a reusable prefix
	PrefixQueries    int64   `json:"prefix_cache_queries"`
	PrefixHits       int64   `json:"prefix_cache_hits"`
	PromptTokens     int64   `json:"prompt_tokens"`
	GenerationTokens int64   `json:"generation_tokens"`
}

// Stats returns the current state.
func (s *Server) Stats() Stats {
	st := s.eng.stats()
	return Stats{
		Running:          st.running,
		Waiting:          st.waiting,
		Hanging:          int(s.hanging.Load()),
		KVBlocksTotal:    s.cfg.KVBlocks,
		KVBlocksUsed:     st.usedBlocks,
		KVBlocksFree:     st.freeBlocks,
		KVCacheUsage:     st.usage,
		CachedBlocks:     st.cachedBlocks,
		PrefixQueries:    s.met.prefixQueries.Load(),
		PrefixHits:       s.met.prefixHits.Load(),
		PromptTokens:     s.met.promptTokens.Load(),
		GenerationTokens: s.met.genTokens.Load(),
	}
}

// ResetPrefixCache drops every cached prefix block that no running request uses and returns
// how many it dropped (vLLM's POST /reset_prefix_cache).
func (s *Server) ResetPrefixCache() int {
	return s.eng.resetPrefixCache()
}

func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Server) handleResetPrefixCache(w http.ResponseWriter, _ *http.Request) {
	n := s.ResetPrefixCache()
	s.log.Info("prefix cache reset", "dropped_blocks", n)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	if s.Faults().Unhealthy {
		writeError(w, http.StatusServiceUnavailable, "server_error", "unhealthy", "the simulated engine is unhealthy (fault injection)")
		return
	}
	w.WriteHeader(http.StatusOK)
}

type modelCard struct {
	ID          string `json:"id"`
	Object      string `json:"object"`
	Created     int64  `json:"created"`
	OwnedBy     string `json:"owned_by"`
	Root        string `json:"root"`
	MaxModelLen int    `json:"max_model_len"`
}

func (s *Server) handleModels(w http.ResponseWriter, _ *http.Request) {
	names := append([]string{s.cfg.Model}, s.cfg.Aliases...)
	data := make([]modelCard, len(names))
	for i, n := range names {
		data[i] = modelCard{ID: n, Object: "model", Created: s.created, OwnedBy: "aimesh-sim", Root: s.cfg.Model, MaxModelLen: s.cfg.MaxModelLen}
	}
	writeJSON(w, http.StatusOK, struct {
		Object string      `json:"object"`
		Data   []modelCard `json:"data"`
	}{"list", data})
}

// handleInference serves /v1/chat/completions and /v1/completions: parse, check, draw
// faults, then generate.
func (s *Server) handleInference(kind reqKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		arrival := time.Now()
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
		if err != nil {
			if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
				writeError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", "body_too_large",
					fmt.Sprintf("request body is larger than %d bytes", mbe.Limit))
				return
			}
			writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_body", fmt.Sprintf("read request body: %v", err))
			return
		}
		req, aerr := parseRequest(kind, body)
		if aerr == nil && !s.models[req.model] {
			aerr = &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found",
				message: fmt.Sprintf("The model `%s` does not exist.", req.model)}
		}
		var job *job
		if aerr == nil {
			job, aerr = s.newJob(req)
		}
		if aerr != nil {
			s.log.Debug("request rejected", "status", aerr.status, "code", aerr.code, "err", aerr.message)
			writeAPIError(w, aerr)
			return
		}
		plan := s.drawFaults()
		switch {
		case plan.hang:
			s.hang(r)
			return
		case plan.errStatus != 0:
			s.writeFaultError(w, plan)
			return
		}
		job.arrival = arrival
		job.plan = plan
		s.generate(w, r, job)
	}
}

// hang answers nothing until the client goes away; when the server stops it aborts the
// connection (returning would send an empty 200).
func (s *Server) hang(r *http.Request) {
	s.hanging.Add(1)
	defer s.hanging.Add(-1)
	s.log.Debug("request hangs (fault injection)")
	select {
	case <-r.Context().Done():
	case <-s.stopHang:
		panic(http.ErrAbortHandler)
	}
}

// stopHanging aborts the requests hung by the hang fault, now and from now on.
func (s *Server) stopHanging() {
	s.stopHangOnce.Do(func() { close(s.stopHang) })
}

func (s *Server) writeFaultError(w http.ResponseWriter, p faultPlan) {
	typ, code, msg := "server_error", "internal_error", "the simulated engine failed (fault injection)"
	switch p.errStatus {
	case http.StatusTooManyRequests:
		typ, code, msg = "rate_limit_error", "rate_limit_exceeded", "rate limit reached (fault injection)"
	case http.StatusServiceUnavailable:
		code, msg = "service_unavailable", "the simulated engine is overloaded (fault injection)"
	default:
		if p.errStatus < 500 {
			typ, code, msg = "invalid_request_error", "injected_error", "injected client error (fault injection)"
		}
	}
	if p.errStatus == http.StatusTooManyRequests || p.errStatus == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(p.retryAfter))
	}
	s.log.Debug("request fails (fault injection)", "status", p.errStatus)
	writeError(w, p.errStatus, typ, code, msg)
}
