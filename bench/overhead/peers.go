package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The peers get what aimesh has: one worker (thread), keep-alive to the
// upstream with a connection pool, the 90/10 split of the seed mesh,
// streaming responses passed through unbuffered, and an access log line
// per request written to a file. nginx buffers its lines as aimesh does by
// default (up to 64 KiB, for at most a second: `buffer=64k flush=1s`);
// HAProxy 2.6 cannot buffer a log, so it writes each line to its stdout
// (a file).

const nginxConf = `daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile {{nofile}};
pid {{work}}/nginx.pid;
error_log {{work}}/nginx-error.log warn;
events {
    worker_connections {{conns}};
}
http {
    access_log {{work}}/nginx-access.log combined buffer=64k flush=1s;
    client_body_temp_path {{work}}/nginx-body;
    proxy_temp_path {{work}}/nginx-proxy;
    fastcgi_temp_path {{work}}/nginx-fastcgi;
    uwsgi_temp_path {{work}}/nginx-uwsgi;
    scgi_temp_path {{work}}/nginx-scgi;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    upstream llm {
        server 127.0.0.1:{{up1}} weight=9;
        server 127.0.0.1:{{up2}} weight=1;
        keepalive 256;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:{{port}} backlog=4096;
        location / {
            proxy_pass http://llm;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 600s;
        }
    }
}
`

const haproxyConf = `global
    nbthread 1
    maxconn {{maxconn}}
    log stdout format raw local0
defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    timeout client 600s
    timeout server 600s
    timeout http-keep-alive 300s
    maxconn {{maxconn}}
    http-reuse always
frontend fe
    bind 127.0.0.1:{{port}}
    default_backend llm
backend llm
    balance roundrobin
    server llm1 127.0.0.1:{{up1}} weight 90
    server llm2 127.0.0.1:{{up2}} weight 10
`

// maxConns is how many proxied connections (a client socket and an
// upstream socket each) fit in the open-file limit, keeping room for the
// listeners, logs, idle keep-alive connections (256 per upstream) and
// connections still closing from earlier phases.
func maxConns(nofile uint64) uint64 { return (nofile - 2000) / 2 }

func fill(tmpl string, kv ...string) string {
	return strings.NewReplacer(kv...).Replace(tmpl)
}

// startNginx runs nginx -c with a config of our own on loopback ports.
func (l *launcher) startNginx(ctx context.Context, up *upstream, body []byte) (*target, error) {
	bin, err := l.ensurePackage(ctx, "nginx", "nginx")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := fill(nginxConf, "{{work}}", l.work, "{{port}}", fmt.Sprint(port),
		"{{nofile}}", fmt.Sprint(l.nofile), "{{conns}}", fmt.Sprint(l.nofile-64),
		"{{up1}}", fmt.Sprint(up.Port(0)), "{{up2}}", fmt.Sprint(up.Port(1)))
	cfgPath := filepath.Join(l.work, "nginx.conf")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("write nginx config: %w", err)
	}
	t := &target{name: "nginx", port: port, logPath: filepath.Join(l.work, "nginx.log"),
		url: fmt.Sprintf("http://127.0.0.1:%d/v1/chat/completions", port)}
	if v, err := exec.Command(bin, "-v").CombinedOutput(); err == nil {
		t.version = strings.TrimPrefix(strings.TrimSpace(string(v)), "nginx version: ")
	}
	cmd := l.command(nil, bin, "-p", l.work, "-e", filepath.Join(l.work, "nginx-error.log"), "-c", cfgPath)
	t.servingPID = func() int { return nginxWorker(t.pid()) }
	return t, l.start(t, cmd, body)
}

// nginxWorker is the worker process of the nginx master pid.
func nginxWorker(master int) int {
	deadline := time.Now().Add(2 * time.Second)
	for {
		for _, c := range children(master) {
			if strings.HasPrefix(commName(c), "nginx") {
				return c
			}
		}
		if time.Now().After(deadline) {
			return master
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startHAProxy runs haproxy -db with one thread.
func (l *launcher) startHAProxy(ctx context.Context, up *upstream, body []byte) (*target, error) {
	bin, err := l.ensurePackage(ctx, "haproxy", "haproxy")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := fill(haproxyConf, "{{port}}", fmt.Sprint(port), "{{maxconn}}", fmt.Sprint(maxConns(l.nofile)),
		"{{up1}}", fmt.Sprint(up.Port(0)), "{{up2}}", fmt.Sprint(up.Port(1)))
	cfgPath := filepath.Join(l.work, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("write haproxy config: %w", err)
	}
	t := &target{name: "haproxy", port: port, logPath: filepath.Join(l.work, "haproxy.log"),
		url: fmt.Sprintf("http://127.0.0.1:%d/v1/chat/completions", port)}
	if v, err := exec.Command(bin, "-v").Output(); err == nil {
		first, _, _ := strings.Cut(string(v), "\n")
		f := strings.Fields(first)
		if len(f) >= 3 {
			t.version = f[2]
		}
	}
	cmd := l.command(nil, bin, "-db", "-f", cfgPath)
	t.servingPID = t.pid
	return t, l.start(t, cmd, body)
}
