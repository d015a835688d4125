package gateway

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/aimesh/aimesh/internal/config"
	"github.com/fsnotify/fsnotify"
)

// LoadAndApply loads the config files and applies them. Validation
// problems come back as a config.ErrorList. Every failure counts once in
// aimesh_config_reloads_total{result="failure"}: load and validation
// failures here, compile and bind failures in Apply.
func (g *Gateway) LoadAndApply(paths []string) error {
	res, err := config.Load(paths, config.Options{Kubernetes: g.Kubernetes})
	if err != nil {
		g.metrics.Reload(false, g.gen.Load())
		return err
	}
	return g.Apply(res)
}

// Watch reloads the config files when they change, until ctx ends. A
// change that fails to load, validate, compile or bind is logged with
// every problem and the current snapshot keeps serving. Directories are
// watched rather than files, so editors that replace files and
// Kubernetes ConfigMap symlink swaps are seen.
func (g *Gateway) Watch(ctx context.Context, paths []string) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch config: %w", err)
	}
	defer w.Close()
	dirs := map[string]bool{}
	for _, p := range paths {
		d := p
		if !isDir(p) {
			d = filepath.Dir(p)
		}
		if !dirs[d] {
			dirs[d] = true
			if err := w.Add(d); err != nil {
				return fmt.Errorf("watch config %s: %w", d, err)
			}
		}
	}
	g.Log.Info("watching config", "paths", paths)
	const debounce = 150 * time.Millisecond
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) != 0 {
				timer.Reset(debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			g.Log.Warn("config watch error", "err", err)
		case <-timer.C:
			g.reload(paths)
		}
	}
}

// reload is one watched reload attempt.
func (g *Gateway) reload(paths []string) {
	err := g.LoadAndApply(paths)
	if err == nil {
		return
	}
	var list config.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			g.Log.Error("config rejected", "problem", e.Error())
		}
		g.Log.Error("config reload rejected; still serving the last good config", "generation", g.gen.Load(), "problems", len(list))
		return
	}
	g.Log.Error("config reload failed; still serving the last good config", "generation", g.gen.Load(), "err", err)
}
