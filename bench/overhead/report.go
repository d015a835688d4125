package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

const (
	beginMark = "<!-- overhead:begin -->"
	endMark   = "<!-- overhead:end -->"
)

// report is everything one run measured.
type report struct {
	started        time.Time
	elapsed        time.Duration
	command        string
	machine        string
	loadBefore     string
	loadAfter      string
	setup          string
	lowRate        int
	highRate       int
	rounds         int
	dur            time.Duration
	bound          time.Duration
	streams        int
	targets        []*target
	low, high      map[string]*phaseStats
	lowOne         map[string]*phaseStats // low rate, every process on CPU oneCPU
	oneCPU         int
	maxRPS         map[string]int
	maxBusy        map[string]float64     // core use at the max rate
	sat            map[string]*saturation // closed loop, 64 connections
	capped         map[string]*quotaRun   // closed loop, proxy capped at quota of a CPU
	quota          float64
	peakRSS        map[string]int64 // KiB
	steadyRSS      map[string]int64 // KiB, VmRSS after the high-rate rounds
	sse            map[string]*sseResult
	swap           *swapResult
	notes          []string
	versions       map[string]string
	direct         string // name of the baseline target
	compareAgainst string // the peer the targets compare with
	proxyCPU       int
	stepDur        time.Duration
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Microsecond)) }

// added is the median over rounds of target minus direct at quantile
// index i (0: p50, 1: p90, 2: p99).
func (r *report) added(ph map[string]*phaseStats, name string, i int) time.Duration {
	return addedMedian(ph[name], ph[r.direct], i)
}

func (r *report) latencyCell(ph map[string]*phaseStats, name string) string {
	s := ph[name]
	if s == nil || len(s.lat) == 0 {
		return "n/a"
	}
	var cell string
	if name == r.direct {
		cell = fmt.Sprintf("(%s / %s / %s)", us(s.median(0)), us(s.median(1)), us(s.median(2)))
	} else {
		cell = fmt.Sprintf("%s / %s / %s", us(r.added(ph, name, 0)), us(r.added(ph, name, 1)), us(r.added(ph, name, 2)))
	}
	if s.errs > 0 {
		cell += fmt.Sprintf(" (%d errors)", s.errs)
	}
	return cell
}

// markdown renders the section, markers included.
func (r *report) markdown() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("%s\n## Proxy overhead: aimesh, nginx, HAProxy and two Go floors\n\n", beginMark)
	w("Client-observed cost of the hop: latency through each proxy minus latency direct to the same\n")
	w("loopback upstream, measured in the same run with open-loop load (vegeta, constant rate).\n")
	w("Absolute numbers drift on this shared machine; compare the rows with each other. The two Go floors\n")
	w("(bench/overhead/floor.go) are not proxies: they relay bytes and nothing else, to show what Go costs here.\n\n")
	w("- Run: %s, %s, `%s`\n", r.started.UTC().Format("2006-01-02 15:04 UTC"), r.elapsed.Round(time.Second), r.command)
	w("- Machine: %s; load average %s before, %s after (other engineers' builds share it)\n", r.machine, r.loadBefore, r.loadAfter)
	w("- Setup: %s\n", r.setup)
	w("- Versions: %s\n", r.versionLine())
	w("- Latency: %d rounds x %s per target and rate, target order rotated each round; added = median over rounds of "+
		"(target minus direct at the same quantile in the same round); direct's own latency (median over rounds) in parentheses\n\n",
		r.rounds, r.dur)
	w("| target | added p50 / p90 / p99 (us) at %d rps | same, all on CPU %d | added p50 / p90 / p99 (us) at %d rps | max rps (100%% 200, p99 <= %s) | closed loop, 64 conns: rps (CPU s / 10k req, proxy core busy) | CPU s / 10k req at %d rps | peak RSS | RSS / idle SSE stream (%d streams) |\n",
		r.lowRate, r.oneCPU, r.highRate, r.bound, r.highRate, r.streams)
	w("|---|---|---|---|---|---|---|---|---|\n")
	for _, t := range r.targets {
		cpu, rss, sse, sat := "-", "-", "-", "-"
		if s := r.sat[t.name]; s != nil {
			sat = fmt.Sprintf("%.0f", s.rps)
			if s.cpu > 0 {
				sat += fmt.Sprintf(" (%.2f, core %.0f%% busy)", s.cpu, s.busy()*100)
			}
			if s.errs > 0 {
				sat += fmt.Sprintf(", %d errors", s.errs)
			}
			if t.name == r.direct {
				sat += " (harness ceiling)"
			}
		}
		if t.name != r.direct {
			if s := r.high[t.name]; s != nil && s.cpuPer10k() > 0 {
				cpu = fmt.Sprintf("%.2f", s.cpuPer10k())
			}
			if k := r.peakRSS[t.name]; k > 0 {
				rss = fmt.Sprintf("%.1f MiB", float64(k)/1024)
				if st := r.steadyRSS[t.name]; st > 0 {
					rss += fmt.Sprintf(" (%.1f after the %d rps rounds)", float64(st)/1024, r.highRate)
				}
			}
			if s := r.sse[t.name]; s != nil {
				sse = fmt.Sprintf("%.1f KiB", s.perStream/1024)
				if s.openFailed > 0 {
					sse += fmt.Sprintf(" (%d failed to open)", s.openFailed)
				}
			}
		}
		maxCell := "-"
		if m, ok := r.maxRPS[t.name]; ok {
			maxCell = fmt.Sprint(m)
			if t.name == r.direct {
				maxCell += " (harness ceiling)"
			} else if b := r.maxBusy[t.name]; b > 0 {
				maxCell += fmt.Sprintf(" (core %.0f%% busy)", b*100)
			}
		}
		w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", t.name, r.latencyCell(r.low, t.name), r.latencyCell(r.lowOne, t.name), r.latencyCell(r.high, t.name),
			maxCell, sat, cpu, rss, sse)
	}
	w("\nAdded latency in the first column includes the hop to the proxy's CPU and back: with the proxy pinned to another CPU than the "+
		"load generator and upstream, each request wakes CPU %d twice, which on this VM costs every proxy alike "+
		"(nginx's and HAProxy's event loops too) a few hundred microseconds at low rates. The second column repeats the "+
		"low rate with every process on one CPU: no cross-CPU wake-ups, so it shows what the proxy's own work adds "+
		"to a request (its CPU time is on the request's path). CPU s / 10k requests is "+
		"utime+stime of the proxy's processes (during the %d rps rounds, and during the closed-loop run); the closed-loop columns are "+
		"each target's median of five rotated 3 s runs. "+
		"Peak RSS is VmHWM after the latency, closed-loop and maximum-rate phases; overloaded open-loop steps leave "+
		"thousands of connections open at once, which a goroutine-per-connection server pays for in memory. "+
		"Max rps: a %s step passes when one of three "+
		"tries has every request answered 200 and p99 within the bound; direct's ceiling is the load generator's and "+
		"upstream's on one CPU. Where a proxy's core is far from busy at its max rate, the load generator and upstream "+
		"sharing CPU 0 set that rate, not the proxy (it varies from run to run with the machine's load); the closed-loop "+
		"run and the CPU per request show the proxies.\n", r.proxyCPU, r.highRate, r.stepDur)
	w("\n%s", r.perCoreTable())
	w("\n%s", r.targetsTable())
	if r.swap != nil {
		w("\n%s", r.swap.markdown())
	}
	for _, n := range r.notes {
		w("\n%s\n", n)
	}
	w("\n%s\n", endMark)
	return b.String()
}

// perCoreTable is the requests one core of each proxy serves: measured
// with the proxy capped at a CPU quota and kept saturated, and
// extrapolated from the uncapped closed loop, whose proxy core is partly
// idle because the load generator shares the other CPU with the upstream.
func (r *report) perCoreTable() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("Requests per core. Capped: the proxy's processes in a cgroup whose CFS bandwidth limit is %.0f%% of a CPU "+
		"(%s period), driven by the same 64-connection closed loop, so that the proxy, not the load generator, "+
		"sets the rate; rps per core is the rate divided by the quota, and the share of periods that ran out of "+
		"quota shows the proxy was saturated (median of five rotated 3 s runs). The CPU per request splits into user "+
		"time (the proxy's own code, its runtime and libraries) and system time (system calls and the kernel's TCP work "+
		"done on the proxy's behalf). Extrapolated: 10,000 divided by "+
		"the CPU seconds per 10k requests of the uncapped closed loop, in which the proxy's core is partly idle "+
		"and each wake-up serves fewer requests.\n\n", 100*r.quota, quotaPeriod)
	w("| target | capped: rps | capped: rps per core | periods throttled | capped: CPU s / 10k req (user + system) | extrapolated rps per core |\n|---|---|---|---|---|---|\n")
	for _, t := range r.targets {
		if t.name == r.direct {
			continue
		}
		rps, perCore, thr, cpu, ext := "-", "-", "-", "-", "-"
		if q := r.capped[t.name]; q != nil {
			rps, perCore = fmt.Sprintf("%.0f", q.rps), fmt.Sprintf("%.0f", q.perCore)
			thr = fmt.Sprintf("%.0f%%", 100*q.throttled)
			cpu = fmt.Sprintf("%.2f (%.2f + %.2f)", q.cpu, q.cpu-q.sys, q.sys)
			if q.errs > 0 {
				rps += fmt.Sprintf(" (%d errors)", q.errs)
			}
		}
		if s := r.sat[t.name]; s != nil && s.cpu > 0 {
			ext = fmt.Sprintf("%.0f", 10000/s.cpu)
		}
		w("| %s | %s | %s | %s | %s | %s |\n", t.name, rps, perCore, thr, cpu, ext)
	}
	return b.String()
}

func (r *report) versionLine() string {
	var parts []string
	for _, t := range r.targets {
		if t.version != "" {
			parts = append(parts, t.name+" "+t.version)
		}
	}
	parts = append(parts, runtime.Version()+" (bench)", "vegeta v12.13.0")
	return strings.Join(parts, ", ")
}

func mark(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// targetsTable checks the tracker's targets, as ratios of the same run.
func (r *report) targetsTable() string {
	var b strings.Builder
	b.WriteString("| target | measured | result |\n|---|---|---|\n")
	peer := r.compareAgainst
	for _, ph := range []struct {
		stats map[string]*phaseStats
		how   string
	}{{r.low, "proxy on its own CPU"}, {r.lowOne, fmt.Sprintf("all on CPU %d", r.oneCPU)}} {
		s := ph.stats["aimesh"]
		if s == nil || len(s.lat) == 0 {
			continue
		}
		a := r.added(ph.stats, "aimesh", 2)
		line := fmt.Sprintf("aimesh %s us", us(a))
		ok := a <= 100*time.Microsecond
		if p := ph.stats[peer]; p != nil && len(p.lat) > 0 {
			pa := r.added(ph.stats, peer, 2)
			line += fmt.Sprintf(", %s %s us", peer, us(pa))
			ok = ok && a <= pa
		}
		fmt.Fprintf(&b, "| p99 added at %d rps <= 100 us and <= %s's (%s) | %s | %s |\n", r.lowRate, peer, ph.how, line, mark(ok))
	}
	if a, p := r.sat["aimesh"], r.sat[peer]; a != nil && p != nil && p.rps > 0 {
		ratio := a.rps / p.rps
		note := ""
		if p.busy() < 0.9 {
			note = fmt.Sprintf("; %s's core was only %.0f%% busy: the load generator's CPU, not %s, set its rate", peer, p.busy()*100, peer)
		}
		result := mark(ratio >= 1)
		if p.busy() < 0.9 {
			// Not a comparison of the proxies: the capped row is.
			result = "inconclusive"
		}
		fmt.Fprintf(&b, "| max rps aimesh / %s >= 1.0 (closed loop, 64 connections) | %.0f / %.0f = %.2f%s | %s |\n",
			peer, a.rps, p.rps, ratio, note, result)
	}
	if a, p := r.capped["aimesh"], r.capped[peer]; a != nil && p != nil && p.perCore > 0 {
		ratio := a.perCore / p.perCore
		fmt.Fprintf(&b, "| rps per core aimesh / %s >= 1.0 (saturated, capped at %.0f%% of a CPU) | %.0f / %.0f = %.2f | %s |\n",
			peer, 100*r.quota, a.perCore, p.perCore, ratio, mark(ratio >= 1))
	} else if a, p := r.sat["aimesh"], r.sat[peer]; a != nil && p != nil && a.cpu > 0 && p.cpu > 0 {
		ratio := p.cpu / a.cpu
		fmt.Fprintf(&b, "| rps per core aimesh / %s >= 1.0 (extrapolated from CPU per request in the closed loop) | %.0f / %.0f = %.2f | %s |\n",
			peer, 10000/a.cpu, 10000/p.cpu, ratio, mark(ratio >= 1))
	}
	if s := r.sse["aimesh"]; s != nil {
		fmt.Fprintf(&b, "| <= 16 KiB per open SSE stream | %.1f KiB | %s |\n", s.perStream/1024, mark(s.perStream <= 16*1024))
	}
	if r.swap != nil && r.swap.ok {
		ok := r.swap.applyMS < 100 && r.swap.failed == 0
		fmt.Fprintf(&b, "| 5,000-route compile and swap < 100 ms, zero failed requests | %.1f ms (benchmark mean), %d failed of %d during %d swaps | %s |\n",
			r.swap.applyMS, r.swap.failed, r.swap.requests, r.swap.swaps, mark(ok))
	}
	return b.String()
}

// writeDoc replaces the section between the markers in path, appending it
// (and creating the file) when the markers are absent.
func writeDoc(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var out []byte
	i, j := bytes.Index(old, []byte(beginMark)), bytes.Index(old, []byte(endMark))
	switch {
	case i >= 0 && j > i:
		// The section ends with the end marker and a newline; what
		// followed the old marker (its newline included) stays as it was.
		section = strings.TrimSuffix(section, "\n")
		out = append(append(append(out, old[:i]...), section...), old[j+len(endMark):]...)
	case len(old) == 0:
		out = []byte("# Benchmarks\n\n" + section)
	default:
		out = append(bytes.TrimRight(old, "\n"), "\n\n"+section...)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// machine describes the host: CPU model, CPU count, kernel, memory.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	mem := statusMemTotal()
	return fmt.Sprintf("%s, %d CPUs, %s RAM, Linux %s", model, runtime.NumCPU(), mem, kernel)
}

func statusMemTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(v), &kb)
			return fmt.Sprintf("%.0f GiB", float64(kb)/1024/1024)
		}
	}
	return "?"
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
