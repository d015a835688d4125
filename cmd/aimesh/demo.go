package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/examples"
	"github.com/aimesh/aimesh/internal/config"
	"github.com/aimesh/aimesh/internal/gateway"
	"github.com/aimesh/aimesh/internal/sim"
)

// demoModel is the model the seed mesh routes and the simulators serve.
const demoModel = "llama-3.1-8b-instruct"

// cmdDemo runs `aimesh demo`: two simulated model-server versions and the
// gateway serving the seed mesh in front of them, in one process.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rf runFlags
	rf.register(fs)
	port := fs.Int("port", 8080, "port of the VirtualGateway listener")
	simPort := fs.Int("sim-port", 9001, "port of the first simulated model server (the second takes the next; 0: a free port each)")
	timeScale := fs.Float64("time-scale", 1, "speed of the simulated model servers (0.1: ten times faster)")
	load := fs.Bool("load", false, "drive a light built-in load and print a summary line every second")
	rps := fs.Float64("rps", 4, "requests per second of the built-in load (Poisson arrivals)")
	accessLog := fs.Bool("access-log", true, "write the gateway's access log to stdout (off by default with --load, so the summary lines stay readable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := rf.logger(stderr)
	if err == nil {
		err = rf.check()
	}
	if err != nil {
		fmt.Fprintln(stderr, "aimesh demo:", err)
		return 2
	}
	cfgs := make([]sim.Config, 2)
	for i, v := range []string{"v1", "v2"} {
		c := sim.DefaultConfig()
		c.Name, c.Version, c.Model, c.TimeScale = "llm-"+v, v, demoModel, *timeScale
		c.Logger = log
		cfgs[i] = c
	}
	simCtx, stopSims := context.WithCancel(context.Background())
	defer stopSims()
	cluster, err := sim.StartCluster(simCtx, "127.0.0.1", *simPort, cfgs)
	if err != nil {
		fmt.Fprintf(stderr, "aimesh demo: start simulated model servers on 127.0.0.1:%d-%d: %v (pick others with --sim-port)\n", *simPort, *simPort+1, err)
		return 1
	}
	defer cluster.Close()
	simPorts := make([]int, len(cluster.Servers))
	for i, s := range cluster.Servers {
		_, ps, _ := net.SplitHostPort(s.Addr)
		simPorts[i], _ = strconv.Atoi(ps)
	}
	logSet := false
	fs.Visit(func(f *flag.Flag) { logSet = logSet || f.Name == "access-log" })
	res, err := demoResources(*port, simPorts, *accessLog && (!*load || logSet))
	if err != nil {
		fmt.Fprintln(stderr, "aimesh demo:", err)
		return 1
	}
	g := gateway.New(rf.gatewayOptions(log))
	if err := g.Apply(res); err != nil {
		fmt.Fprintf(stderr, "aimesh demo: %v (pick another port with --port)\n", err)
		g.Shutdown(context.Background())
		return 1
	}
	url := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(*port))
	printDemoBanner(stdout, url, rf.meshListen, rf.admin, cluster)
	return serve(ctx, g, &rf, log, func(ctx context.Context) {
		if *load {
			driveLoad(ctx, url, *rps, stdout)
		}
	})
}

// demoResources is the embedded seed mesh with the gateway and model
// server ports this run uses.
func demoResources(gatewayPort int, simPorts []int, accessLog bool) (*config.Resources, error) {
	res, errs := config.Decode("seed-mesh.yaml", examples.SeedMesh)
	if len(errs) > 0 {
		return nil, errs.Err()
	}
	for _, vg := range res.VirtualGateways {
		for i := range vg.Spec.Listeners {
			vg.Spec.Listeners[i].PortMapping.Port = v1.PortNumber(gatewayPort)
		}
		if !accessLog {
			vg.Spec.Logging = nil
		}
	}
	for _, vn := range res.VirtualNodes {
		i := -1
		switch vn.Name {
		case "llm-v1":
			i = 0
		case "llm-v2":
			i = 1
		}
		if i < 0 || vn.Spec.ServiceDiscovery == nil || vn.Spec.ServiceDiscovery.Static == nil {
			continue
		}
		p := v1.PortNumber(simPorts[i])
		for j := range vn.Spec.ServiceDiscovery.Static.Endpoints {
			vn.Spec.ServiceDiscovery.Static.Endpoints[j].Port = &p
		}
	}
	if err := config.Prepare(res, config.Options{}); err != nil {
		return nil, err
	}
	return res, nil
}

func printDemoBanner(w io.Writer, url, meshListen, admin string, cluster *sim.Cluster) {
	fmt.Fprintf(w, "aimesh demo: the seed mesh in front of two simulated model servers (90%% v1, 10%% v2)\n\n")
	for i, s := range cluster.Servers {
		fmt.Fprintf(w, "  model server llm-v%d    %s  (model %s)\n", i+1, s.URL, demoModel)
	}
	fmt.Fprintf(w, "  gateway              %s\n", url)
	if meshListen != "" {
		fmt.Fprintf(w, "  mesh listener        http://%s  (Host: ai-api-service.local)\n", meshListen)
	}
	if admin != "" {
		fmt.Fprintf(w, "  admin                http://%s/metrics  /config  /readyz\n", admin)
	}
	body := `{"model":"` + demoModel + `","messages":[{"role":"user","content":"Hello!"}]}`
	streamBody := `{"model":"` + demoModel + `","stream":true,"messages":[{"role":"user","content":"Hello!"}]}`
	fmt.Fprintf(w, "\nTry:\n  curl -s %s/v1/chat/completions -H 'Content-Type: application/json' -d '%s'\n", url, body)
	fmt.Fprintf(w, "  curl -sN %s/v1/chat/completions -H 'Content-Type: application/json' -d '%s'\n", url, streamBody)
	fmt.Fprintf(w, "\nThe X-Sim-Version response header says which version answered. Ctrl-C stops.\n")
}
