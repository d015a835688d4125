package main

import (
	"context"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// newClient is a load-generator client with its own keep-alive pool, so
// connections to a target survive from one attack to the next.
func newClient() *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConnsPerHost: 10000,
			DisableCompression:  true,
			IdleConnTimeout:     5 * time.Minute,
		},
	}
}

// attackResult is one open-loop attack on one target.
type attackResult struct {
	lat      []time.Duration // latencies of the successful requests
	sent     int
	errs     int
	firstErr string
	cpu      cpuTime // CPU time the target's processes used meanwhile
}

// attack sends rate requests per second for dur (vegeta's constant pacer:
// open loop) and collects latencies.
func attack(ctx context.Context, t *target, c *http.Client, body []byte, rate int, dur time.Duration) *attackResult {
	return attackWorkers(ctx, t, c, body, rate, dur, 32, 4096)
}

// attackWorkers is attack with vegeta's worker bounds; rate 0 sends as
// fast as maxWorkers workers can (a closed loop of maxWorkers clients).
func attackWorkers(ctx context.Context, t *target, c *http.Client, body []byte, rate int, dur time.Duration, workers, maxWorkers uint64) *attackResult {
	atk := vegeta.NewAttacker(vegeta.Client(c), vegeta.Workers(workers), vegeta.MaxWorkers(maxWorkers))
	tr := vegeta.NewStaticTargeter(vegeta.Target{
		Method: http.MethodPost, URL: t.url, Body: body,
		Header: http.Header{"Content-Type": {"application/json"}},
	})
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	r := &attackResult{lat: make([]time.Duration, 0, int(float64(max(rate, 10000))*dur.Seconds())+16)}
	pid := t.pid()
	var before cpuTime
	if pid != 0 {
		before = cpuTicks(pid)
	}
	for res := range atk.Attack(tr, vegeta.ConstantPacer{Freq: rate, Per: time.Second}, dur, t.name) {
		r.sent++
		if res.Code == http.StatusOK && res.Error == "" {
			r.lat = append(r.lat, res.Latency)
			continue
		}
		if r.errs == 0 {
			r.firstErr = res.Error
		}
		r.errs++
	}
	if pid != 0 {
		r.cpu = cpuTicks(pid).minus(before)
	}
	return r
}

// quantile is the exact q-quantile (nearest rank) of sorted d.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// quantiles are the ones reported.
var quantiles = [3]float64{0.5, 0.9, 0.99}

// phaseStats is one target's aggregate over a latency phase's rounds.
type phaseStats struct {
	lat      []time.Duration    // sorted after finish
	rounds   [][3]time.Duration // each round's quantiles
	sent     int
	errs     int
	firstErr string
	cpu      cpuTime
}

func (s *phaseStats) add(r *attackResult) {
	slices.Sort(r.lat)
	var qs [3]time.Duration
	for i, q := range quantiles {
		qs[i] = quantile(r.lat, q)
	}
	s.rounds = append(s.rounds, qs)
	s.lat = append(s.lat, r.lat...)
	s.sent += r.sent
	s.errs += r.errs
	s.cpu = s.cpu.plus(r.cpu)
	if s.firstErr == "" {
		s.firstErr = r.firstErr
	}
}

// cpuPer10k is CPU seconds per 10,000 requests.
func (s *phaseStats) cpuPer10k() float64 {
	all, _ := s.cpu.per10k(s.sent)
	return all
}

// latencyPhase runs rounds of dur-long attacks at rate on every target,
// rotating the order each round so that drift hits every target alike.
func latencyPhase(ctx context.Context, log *slog.Logger, ts []*target, clients map[string]*http.Client,
	body []byte, rate, rounds int, dur time.Duration) map[string]*phaseStats {
	out := map[string]*phaseStats{}
	for _, t := range ts {
		out[t.name] = &phaseStats{}
		attack(ctx, t, clients[t.name], body, rate, time.Second) // warm up
	}
	for r := 0; r < rounds && ctx.Err() == nil; r++ {
		for i := range ts {
			t := ts[(i+r)%len(ts)]
			res := attack(ctx, t, clients[t.name], body, rate, dur)
			out[t.name].add(res)
			log.Info("attack", "rate", rate, "round", r+1, "target", t.name, "sent", res.sent, "errors", res.errs,
				"p50", quantile(res.lat, 0.5), "p99", quantile(res.lat, 0.99))
		}
	}
	for _, s := range out {
		slices.Sort(s.lat)
	}
	return out
}

// rateStep is one step of the maximum-rate search.
type rateStep struct {
	rate int
	ok   bool
	p99  time.Duration
	errs int
	busy float64 // fraction of a core the target's processes used
}

// maxRate finds the highest rate a target sustains for stepDur with every
// request answered 200 and p99 at most bound: it raises the rate by a
// quarter until a step fails, then bisects. A step passes when one of
// three tries does: on a shared machine another process's burst fails a
// try now and then, but cannot make an overloaded proxy pass.
func maxRate(ctx context.Context, log *slog.Logger, t *target, c *http.Client, body []byte,
	bound, stepDur time.Duration, start, limit int) (int, []rateStep) {
	var steps []rateStep
	try := func(rate int) bool {
		for attempt := 0; attempt < 3 && ctx.Err() == nil; attempt++ {
			r := attack(ctx, t, c, body, rate, stepDur)
			slices.Sort(r.lat)
			st := rateStep{rate: rate, p99: quantile(r.lat, 0.99), errs: r.errs,
				busy: float64(r.cpu.total()) / clockTicks / stepDur.Seconds()}
			st.ok = r.errs == 0 && r.sent > 0 && st.p99 <= bound
			steps = append(steps, st)
			log.Info("max-rate step", "target", t.name, "rate", rate, "ok", st.ok, "p99", st.p99, "errors", r.errs,
				"first_error", r.firstErr, "sent_per_s", int(float64(r.sent)/stepDur.Seconds()),
				"proxy_core_busy", st.busy)
			time.Sleep(time.Second) // let the target drain
			if st.ok {
				return true
			}
		}
		return false
	}
	lo, hi := 0, 0
	for rate := start; rate <= limit && ctx.Err() == nil; rate = roundTo(rate*5/4, 250) {
		if !try(rate) {
			hi = rate
			break
		}
		lo = rate
	}
	if hi == 0 {
		return lo, steps
	}
	for i := 0; i < 3 && hi-lo > 250 && ctx.Err() == nil; i++ {
		mid := roundTo((lo+hi)/2, 250)
		if mid <= lo || mid >= hi {
			break
		}
		if try(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, steps
}

// addedMedian is the median over rounds of (s's quantile i minus base's
// in the same round): each round's difference comes from runs seconds
// apart, and the median discards rounds another process disturbed.
func addedMedian(s, base *phaseStats, i int) time.Duration {
	n := min(len(s.rounds), len(base.rounds))
	if n == 0 {
		return 0
	}
	d := make([]time.Duration, n)
	for r := range n {
		d[r] = s.rounds[r][i] - base.rounds[r][i]
	}
	slices.Sort(d)
	if n%2 == 1 {
		return d[n/2]
	}
	return (d[n/2-1] + d[n/2]) / 2
}

// median of each round's quantile i.
func (s *phaseStats) median(i int) time.Duration {
	d := make([]time.Duration, len(s.rounds))
	for r := range s.rounds {
		d[r] = s.rounds[r][i]
	}
	slices.Sort(d)
	if len(d) == 0 {
		return 0
	}
	if len(d)%2 == 1 {
		return d[len(d)/2]
	}
	return (d[len(d)/2-1] + d[len(d)/2]) / 2
}

func roundTo(n, step int) int { return (n + step/2) / step * step }

// saturation is a closed-loop run: conns clients send back to back.
type saturation struct {
	rps   float64 // successful requests per second
	p99   time.Duration
	cpu   float64 // CPU seconds per 10k requests of the target's processes
	sys   float64 // of cpu, the seconds spent in the kernel
	errs  int
	conns int
}

// closedLoopConns is how many clients the closed-loop runs keep busy.
const closedLoopConns = 64

// saturate runs conns closed-loop clients against t for dur.
func saturate(ctx context.Context, log *slog.Logger, t *target, c *http.Client, body []byte, conns int, dur time.Duration) *saturation {
	r := attackWorkers(ctx, t, c, body, 0, dur, uint64(conns), uint64(conns))
	slices.Sort(r.lat)
	s := &saturation{rps: float64(len(r.lat)) / dur.Seconds(), p99: quantile(r.lat, 0.99), errs: r.errs, conns: conns}
	s.cpu, s.sys = r.cpu.per10k(r.sent)
	log.Info("saturation", "target", t.name, "conns", conns, "rps", int(s.rps), "p99", s.p99, "errors", r.errs,
		"cpu_s_per_10k", s.cpu, "sys_s_per_10k", s.sys)
	return s
}

// busy is the fraction of one core the target used: rate times CPU per
// request.
func (s *saturation) busy() float64 { return s.rps * s.cpu / 10000 }

// busyAt is the core use of the passing step at rate (0 if none).
func busyAt(steps []rateStep, rate int) float64 {
	b := 0.0
	for _, st := range steps {
		if st.ok && st.rate == rate {
			b = max(b, st.busy)
		}
	}
	return b
}

// saturationPhase runs rounds of closed-loop runs, rotating the target
// order, and keeps each target's median round (by CPU per request): a
// neighbour's burst on the proxy's core (or its SMT sibling) can double
// the CPU a request costs for a few seconds.
func saturationPhase(ctx context.Context, log *slog.Logger, ts []*target, clients map[string]*http.Client,
	body []byte, conns int, dur time.Duration, rounds int) map[string]*saturation {
	out, _ := medianRounds(ctx, ts, rounds, func(t *target) (*saturation, error) {
		return saturate(ctx, log, t, clients[t.name], body, conns, dur), nil
	}, func(a, b *saturation) int {
		if a.cpu != b.cpu {
			return cmpFloat(a.cpu, b.cpu)
		}
		return cmpFloat(b.rps, a.rps)
	})
	return out
}

// medianRounds runs run on every target, rounds times, rotating the order
// each round, and keeps each target's median result by cmp. It stops at
// run's first error.
func medianRounds[T any](ctx context.Context, ts []*target, rounds int, run func(*target) (T, error), cmp func(a, b T) int) (map[string]T, error) {
	all := map[string][]T{}
	for r := 0; r < rounds && ctx.Err() == nil; r++ {
		for i := range ts {
			t := ts[(i+r)%len(ts)]
			v, err := run(t)
			if err != nil {
				return nil, err
			}
			all[t.name] = append(all[t.name], v)
			time.Sleep(500 * time.Millisecond)
		}
	}
	out := map[string]T{}
	for name, vs := range all {
		slices.SortFunc(vs, cmp)
		out[name] = vs[len(vs)/2]
	}
	return out, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// warmUp drives every target with the closed loop for d before anything
// is measured: what a process does once (first touches of its heap and
// buffers, which fault pages in, connection pools filling, lazily built
// tables) would otherwise land on the first phase's latencies. aimesh,
// whose garbage collector lets the heap grow to a 32 MiB floor, touches
// fresh pages for its first ~15,000 requests: at 200 rps that was 0.6
// page faults per request.
func warmUp(ctx context.Context, log *slog.Logger, ts []*target, body []byte, d time.Duration) {
	if d <= 0 {
		return
	}
	for _, t := range ts {
		r := attackWorkers(ctx, t, newClient(), body, 0, d, closedLoopConns, closedLoopConns)
		log.Info("warmed up", "target", t.name, "requests", r.sent, "errors", r.errs)
	}
}
