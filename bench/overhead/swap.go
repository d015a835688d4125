package main

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// swapResult is the 5,000-route compile-and-swap test's outcome, from
// `go test ./internal/gateway` (BenchmarkApply5000Routes and
// TestSwap5000RoutesUnderLoad).
type swapResult struct {
	ok                bool
	applyMS           float64 // compile+swap, benchmark mean
	reloadMS          float64 // decode+validate+compile+swap
	underLoadMedianMS string
	underLoadMaxMS    string
	swaps             int
	procs             int // GOMAXPROCS of the test binary
	requests, failed  int
	err               string
}

func (s *swapResult) markdown() string {
	if !s.ok {
		return fmt.Sprintf("5,000-route compile and swap: not measured (%s).\n", s.err)
	}
	return fmt.Sprintf("5,000-route compile and swap (`go test ./internal/gateway -bench BenchmarkApply5000Routes`, "+
		"100 routers x 50 model routes + 100 GatewayRoutes, GOMAXPROCS=%d, shared machine): Apply of validated resources "+
		"(compile, swap) %.1f ms; the whole reload from YAML (decode, default, validate, compile, swap) %.0f ms. "+
		"Under load (`TestSwap5000RoutesUnderLoad`, 8 clients): %d swaps, median %s, max %s, %d requests, %d failed.\n",
		s.procs, s.applyMS, s.reloadMS, s.swaps, s.underLoadMedianMS, s.underLoadMaxMS, s.requests, s.failed)
}

var (
	benchLine = regexp.MustCompile(`BenchmarkApply5000Routes/(\S+?)(?:-(\d+))?\s+\d+\s+(\d+) ns/op`)
	swapLine  = regexp.MustCompile(`SWAP-RESULT routes=\d+ swaps=(\d+) requests=(\d+) failed=(\d+) median=(\S+) max=(\S+)`)
)

// runSwap runs the gateway's 5,000-route swap benchmark and test.
func runSwap(ctx context.Context, log *slog.Logger) *swapResult {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	log.Info("5,000-route compile and swap: go test ./internal/gateway")
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-v",
		"-run", "^TestSwap5000RoutesUnderLoad$", "-bench", "^BenchmarkApply5000Routes$", "-benchtime", "10x",
		"./internal/gateway")
	out, err := cmd.CombinedOutput()
	res := &swapResult{}
	if err != nil {
		res.err = fmt.Sprintf("go test: %v: %s", err, tail(out))
	}
	res.procs = 1
	for _, m := range benchLine.FindAllSubmatch(out, -1) {
		ns, _ := strconv.ParseFloat(string(m[3]), 64)
		if len(m[2]) > 0 {
			res.procs, _ = strconv.Atoi(string(m[2]))
		}
		switch string(m[1]) {
		case "compile+swap":
			res.applyMS = ns / 1e6
		case "decode+validate+compile+swap":
			res.reloadMS = ns / 1e6
		}
	}
	if m := swapLine.FindSubmatch(out); m != nil {
		res.swaps, _ = strconv.Atoi(string(m[1]))
		res.requests, _ = strconv.Atoi(string(m[2]))
		res.failed, _ = strconv.Atoi(string(m[3]))
		res.underLoadMedianMS, res.underLoadMaxMS = string(m[4]), string(m[5])
	}
	res.ok = res.applyMS > 0 && res.requests > 0
	if !res.ok && res.err == "" {
		res.err = "no result in the go test output: " + tail(out)
	}
	log.Info("compile and swap", "apply_ms", res.applyMS, "reload_ms", res.reloadMS, "swaps", res.swaps,
		"requests", res.requests, "failed", res.failed, "err", res.err)
	return res
}
