// Command aimesh is traffic management for AI APIs: App Mesh's resource
// model served by a Go data plane that understands LLM traffic.
//
//	aimesh demo                    gateway plus simulated model servers
//	aimesh run -f mesh.yaml        serve a mesh from files (reloads on change)
//	aimesh validate -f mesh.yaml   check files, reporting every problem
//	aimesh sim                     OpenAI-compatible model-server simulator
//	aimesh version
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a subcommand; it returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(ctx, rest, stdout, stderr)
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr)
	case "validate":
		return cmdValidate(ctx, rest, stdout, stderr)
	case "sim":
		return cmdSim(ctx, rest, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "aimesh", version)
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "aimesh: unknown command %q\n\n", cmd)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `aimesh: traffic management for AI APIs (App Mesh resources, a Go data plane)

Usage:
  aimesh demo [flags]              gateway + simulated model servers, no cluster needed
  aimesh run -f FILE... [flags]    serve a mesh from YAML files or directories
  aimesh validate -f FILE...       check files; every problem with file, document and field path
  aimesh sim [flags]               OpenAI-compatible model-server simulator
  aimesh version

Run 'aimesh COMMAND -h' for a command's flags.
`)
}
