package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"
)

// profileAimesh drives aimesh at rate (0: the closed loop of the
// saturation phase, 64 connections) for dur while its admin listener
// records a CPU profile into path (for `go tool pprof`). A closed loop
// runs with aimesh capped at quota of a CPU (0: uncapped), as in the
// capped saturation runs, so that the profile is of a saturated proxy.
func profileAimesh(ctx context.Context, log *slog.Logger, t *target, body []byte, rate int, dur time.Duration, quota float64, path string) error {
	if t.admin == "" {
		return fmt.Errorf("%s has no admin listener", t.name)
	}
	if rate == 0 && quota > 0 {
		q, err := capTarget(t, quota)
		if err != nil {
			return err
		}
		defer q.close()
	}
	type got struct {
		b   []byte
		err error
	}
	ch := make(chan got, 1)
	go func() {
		c := &http.Client{Timeout: dur + 30*time.Second}
		resp, err := c.Get("http://" + t.admin + "/debug/pprof/profile?seconds=" + strconv.Itoa(int(dur.Seconds())))
		if err != nil {
			ch <- got{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		ch <- got{b, err}
	}()
	var res *attackResult
	if rate > 0 {
		res = attack(ctx, t, newClient(), body, rate, dur+time.Second)
	} else {
		res = attackWorkers(ctx, t, newClient(), body, 0, dur+time.Second, uint64(closedLoopConns), uint64(closedLoopConns))
	}
	all, sys := res.cpu.per10k(res.sent)
	log.Info("profiled load", "target", t.name, "rate", rate, "sent", res.sent, "errors", res.errs,
		"cpu_s_per_10k", all, "sys_s_per_10k", sys)
	g := <-ch
	if g.err != nil {
		return fmt.Errorf("cpu profile: %w", g.err)
	}
	if err := os.WriteFile(path, g.b, 0o644); err != nil {
		return fmt.Errorf("write profile: %w", err)
	}
	log.Info("cpu profile written", "path", path)
	return nil
}
