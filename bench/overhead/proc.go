package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat;
// Linux fixes it at 100 for user space.
const clockTicks = 100

// raiseNoFile sets RLIMIT_NOFILE to n (soft and hard) so the bench and the
// proxies it starts, which inherit the limit, can hold tens of thousands of
// sockets. Without root only the soft limit can rise, up to the hard one.
func raiseNoFile(n uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	want := syscall.Rlimit{Cur: n, Max: n}
	if lim.Max > n {
		want.Max = lim.Max
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		want = syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
		if err2 := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err2 != nil {
			return lim.Cur, fmt.Errorf("setrlimit: %w", err)
		}
	}
	return want.Cur, nil
}

// tids lists the threads of pid.
func tids(pid int) ([]int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, fmt.Errorf("list threads: %w", err)
	}
	out := make([]int, 0, len(ents))
	for _, e := range ents {
		if t, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, t)
		}
	}
	return out, nil
}

// pinAndNice pins every thread of this process to cpu (when cpu >= 0) and
// sets their nice value (when nice != 0). Both are per-thread on Linux;
// threads and processes started later inherit them from their creator.
func pinAndNice(cpu, nice int) error {
	ts, err := tids(os.Getpid())
	if err != nil {
		return err
	}
	for _, t := range ts {
		if cpu >= 0 {
			var set unix.CPUSet
			set.Set(cpu)
			if err := unix.SchedSetaffinity(t, &set); err != nil {
				return fmt.Errorf("pin thread %d to cpu %d: %w", t, cpu, err)
			}
		}
		if nice != 0 {
			if err := syscall.Setpriority(syscall.PRIO_PROCESS, t, nice); err != nil {
				return fmt.Errorf("nice thread %d: %w", t, err)
			}
		}
	}
	return nil
}

// pinTree pins every thread of pid and of its descendants to cpu.
func pinTree(pid, cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	for _, p := range tree(pid) {
		ts, err := tids(p)
		if err != nil {
			return err
		}
		for _, t := range ts {
			if err := unix.SchedSetaffinity(t, &set); err != nil {
				return fmt.Errorf("pin thread %d of %d to cpu %d: %w", t, p, cpu, err)
			}
		}
	}
	return nil
}

// cpuTime is CPU time in clock ticks: user (utime) and system (stime).
type cpuTime struct{ user, sys uint64 }

func (c cpuTime) total() uint64 { return c.user + c.sys }

func (c cpuTime) plus(o cpuTime) cpuTime { return cpuTime{c.user + o.user, c.sys + o.sys} }

func (c cpuTime) minus(o cpuTime) cpuTime { return cpuTime{c.user - o.user, c.sys - o.sys} }

// per10k is CPU seconds per 10,000 of n requests: all, and the system part.
func (c cpuTime) per10k(n int) (all, sys float64) {
	if n <= 0 {
		return 0, 0
	}
	f := 10000 / clockTicks / float64(n)
	return float64(c.total()) * f, float64(c.sys) * f
}

// cpuTicks is the CPU time of pid and of its children (nginx's worker is
// a child of its master).
func cpuTicks(pid int) cpuTime {
	var sum cpuTime
	for _, p := range tree(pid) {
		sum = sum.plus(procTicks(p))
	}
	return sum
}

func procTicks(pid int) cpuTime {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuTime{}
	}
	// Fields after the command name, which may hold spaces: state is
	// field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return cpuTime{}
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return cpuTime{}
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return cpuTime{ut, st}
}

// tree is pid and its descendants.
func tree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children(out[i])...)
	}
	return out
}

func children(pid int) []int {
	var out []int
	ts, _ := tids(pid)
	for _, t := range ts {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, t))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// statusKB reads a "Vm..." line of /proc/PID/status, in KiB.
func statusKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// commName is /proc/PID/comm.
func commName(pid int) string {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	return strings.TrimSpace(string(b))
}
