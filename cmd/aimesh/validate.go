package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/aimesh/aimesh/internal/config"
)

// cmdValidate runs `aimesh validate`: it decodes, defaults and validates
// the files (or directories) as `aimesh run` would, and prints every
// problem on its own line to stderr (exit 1), or a one-line summary to
// stdout (exit 0). Usage errors and unreadable files exit 2.
func cmdValidate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files fileList
	fs.Var(&files, "f", "YAML `FILE`, or a directory of *.yaml, *.yml and *.json files (repeatable; files may also follow the flags)")
	kube := fs.Bool("kubernetes", false, "validate for --kubernetes mode: allow kubernetes service discovery, do not look for TLS files on disk")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: aimesh validate [--kubernetes] -f FILE [-f FILE]... [FILE...]

Check aimesh resource files without serving them: every problem is reported
with its file, document index, resource and field path.

flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	files = append(files, fs.Args()...)
	if len(files) == 0 {
		fmt.Fprintln(stderr, "aimesh validate: no files: name them with -f FILE")
		fs.Usage()
		return 2
	}
	res, err := config.Load(files, config.Options{Kubernetes: *kube})
	var list config.ErrorList
	switch {
	case errors.As(err, &list):
		for _, e := range list {
			fmt.Fprintln(stderr, e.Error())
		}
		fmt.Fprintf(stderr, "aimesh validate: %s in %s\n", countNoun(len(list), "problem", "problems"), strings.Join(files, ", "))
		return 1
	case err != nil:
		fmt.Fprintln(stderr, "aimesh validate:", err)
		return 2
	}
	fmt.Fprintf(stdout, "%s: valid (%s)\n", strings.Join(files, ", "), resourceSummary(res))
	return 0
}

// resourceSummary counts the resources by kind, e.g. "1 Mesh, 3 VirtualNodes,
// 1 VirtualRouter with 2 routes"; kinds with none are left out.
func resourceSummary(r *config.Resources) string {
	var routes int
	for _, vr := range r.VirtualRouters {
		routes += len(vr.Spec.Routes)
	}
	var parts []string
	for _, k := range []struct {
		n             int
		one, many, of string
	}{
		{len(r.Meshes), "Mesh", "Meshes", ""},
		{len(r.VirtualNodes), "VirtualNode", "VirtualNodes", ""},
		{len(r.VirtualServices), "VirtualService", "VirtualServices", ""},
		{len(r.VirtualRouters), "VirtualRouter", "VirtualRouters", countNoun(routes, "route", "routes")},
		{len(r.VirtualGateways), "VirtualGateway", "VirtualGateways", ""},
		{len(r.GatewayRoutes), "GatewayRoute", "GatewayRoutes", ""},
	} {
		if k.n == 0 {
			continue
		}
		s := countNoun(k.n, k.one, k.many)
		if k.of != "" {
			s += " with " + k.of
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// countNoun is "1 route" or "2 routes".
func countNoun(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
