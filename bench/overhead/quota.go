package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cpuQuota is a cgroup (v1 "cpu" controller, or v2 with cpu enabled)
// whose CFS bandwidth limit caps the processes in it at a fraction of one
// CPU. With the proxy capped, the load generator on the other CPU can keep
// it saturated: the rate it then sustains, divided by the fraction, is
// what one fully busy core of that proxy serves, measured rather than
// extrapolated from a partly idle core.
type cpuQuota struct {
	dir  string
	root string // where tasks go back to
	v2   bool
	frac float64
}

// quotaPeriod is the CFS bandwidth period. Short, so that throttling
// stalls the proxy for a few milliseconds at a time rather than tens.
const quotaPeriod = 10 * time.Millisecond

// newCPUQuota makes the cgroup aimesh-bench-<name> limited to frac of a
// CPU. It needs root and a mounted cpu controller.
func newCPUQuota(name string, frac float64) (*cpuQuota, error) {
	if frac <= 0 || frac > 1 {
		return nil, fmt.Errorf("cpu quota %v: want a fraction in (0, 1]", frac)
	}
	period := quotaPeriod.Microseconds()
	quota := int64(float64(period) * frac)
	for _, root := range []string{"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"} {
		if fileExists(filepath.Join(root, "cpu.cfs_quota_us")) {
			q := &cpuQuota{dir: filepath.Join(root, "aimesh-bench-"+name), root: root, frac: frac}
			if err := os.Mkdir(q.dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return nil, fmt.Errorf("cgroup %s: %w", q.dir, err)
			}
			if err := q.write("cpu.cfs_period_us", strconv.FormatInt(period, 10)); err != nil {
				return nil, err
			}
			return q, q.write("cpu.cfs_quota_us", strconv.FormatInt(quota, 10))
		}
	}
	for _, root := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		b, err := os.ReadFile(filepath.Join(root, "cgroup.subtree_control"))
		if err != nil || !slices.Contains(strings.Fields(string(b)), "cpu") {
			continue
		}
		q := &cpuQuota{dir: filepath.Join(root, "aimesh-bench-"+name), root: root, v2: true, frac: frac}
		if err := os.Mkdir(q.dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("cgroup %s: %w", q.dir, err)
		}
		return q, q.write("cpu.max", fmt.Sprintf("%d %d", quota, period))
	}
	return nil, errors.New("no cgroup cpu controller with CFS bandwidth (cpu.cfs_quota_us or cpu.max) is mounted")
}

func (q *cpuQuota) write(file, v string) error {
	if err := os.WriteFile(filepath.Join(q.dir, file), []byte(v), 0o644); err != nil {
		return fmt.Errorf("cgroup %s: %w", file, err)
	}
	return nil
}

// add moves pid and its descendants (every thread) into the cgroup.
func (q *cpuQuota) add(pid int) error {
	for _, p := range tree(pid) {
		if err := q.write("cgroup.procs", strconv.Itoa(p)); err != nil {
			return err
		}
	}
	return nil
}

// capTarget caps t's processes at frac of a CPU until the returned
// cgroup is closed.
func capTarget(t *target, frac float64) (*cpuQuota, error) {
	q, err := newCPUQuota(t.name, frac)
	if err != nil {
		return nil, err
	}
	if err := q.add(t.pid()); err != nil {
		q.close()
		return nil, err
	}
	return q, nil
}

// throttled is the number of enforcement periods so far and how many of
// them ran out of quota.
func (q *cpuQuota) throttled() (periods, throttled int64) {
	b, err := os.ReadFile(filepath.Join(q.dir, "cpu.stat"))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, " ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "nr_periods":
			periods = n
		case "nr_throttled":
			throttled = n
		}
	}
	return periods, throttled
}

// close moves the tasks back to the root cgroup and removes this one.
func (q *cpuQuota) close() {
	b, _ := os.ReadFile(filepath.Join(q.dir, "cgroup.procs"))
	for _, p := range strings.Fields(string(b)) {
		os.WriteFile(filepath.Join(q.root, "cgroup.procs"), []byte(p), 0o644)
	}
	os.Remove(q.dir)
}

// quotaRun is a closed-loop run of a target capped at a CPU quota.
type quotaRun struct {
	rps       float64 // successful requests per second
	perCore   float64 // rps divided by the quota
	throttled float64 // share of enforcement periods that ran out of quota
	cpu       float64 // CPU seconds per 10k requests (utime+stime)
	sys       float64 // of cpu, the kernel's part (stime)
	errs      int
}

// saturateCapped runs the closed loop against t with its processes capped
// at frac of a CPU.
func saturateCapped(ctx context.Context, log *slog.Logger, t *target, c *http.Client, body []byte, conns int, dur time.Duration, frac float64) (*quotaRun, error) {
	q, err := capTarget(t, frac)
	if err != nil {
		return nil, err
	}
	defer q.close()
	p0, th0 := q.throttled()
	s := saturate(ctx, log, t, c, body, conns, dur)
	p1, th1 := q.throttled()
	r := &quotaRun{rps: s.rps, perCore: s.rps / frac, cpu: s.cpu, sys: s.sys, errs: s.errs}
	if p1 > p0 {
		r.throttled = float64(th1-th0) / float64(p1-p0)
	}
	log.Info("capped saturation", "target", t.name, "quota", frac, "rps", int(r.rps), "rps_per_core", int(r.perCore),
		"throttled", fmt.Sprintf("%.0f%%", 100*r.throttled), "cpu_s_per_10k", r.cpu, "sys_s_per_10k", r.sys)
	return r, nil
}

// cappedPhase runs rounds of capped closed-loop runs of every proxy (not
// direct), rotating the order, and keeps each one's median round by rps.
func cappedPhase(ctx context.Context, log *slog.Logger, ts []*target, clients map[string]*http.Client,
	body []byte, conns int, dur time.Duration, rounds int, frac float64) (map[string]*quotaRun, error) {
	var proxies []*target
	for _, t := range ts {
		if t.pid() != 0 {
			proxies = append(proxies, t)
		}
	}
	return medianRounds(ctx, proxies, rounds, func(t *target) (*quotaRun, error) {
		return saturateCapped(ctx, log, t, clients[t.name], body, conns, dur, frac)
	}, func(a, b *quotaRun) int { return cmpFloat(a.rps, b.rps) })
}
