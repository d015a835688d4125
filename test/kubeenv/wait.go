package kubeenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// poll calls fn every interval until it reports done or ctx ends; on
// timeout the error names what was awaited and fn's last reason. A reason
// wrapping errExited ends the wait at once.
func poll(ctx context.Context, what string, interval time.Duration, fn func() (done bool, reason error)) error {
	var last error
	for {
		done, err := fn()
		if done {
			return nil
		}
		if errors.Is(err, errExited) {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		last = err
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("wait for %s: %w (last: %w)", what, ctx.Err(), last)
			}
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// errExited stops a wait early: the process it waits for is gone.
var errExited = errors.New("process exited")

func getOK(ctx context.Context, client *http.Client, url, token string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, fmt.Errorf("request %s: %w", url, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("get %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return true, nil
}

func waitEtcd(ctx context.Context, p *process, url string) error {
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	return poll(ctx, "etcd health", 50*time.Millisecond, func() (bool, error) {
		if !p.running() {
			return false, fmt.Errorf("%w: %w", errExited, p.exitErr())
		}
		return getOK(ctx, client, url+"/health", "")
	})
}

func waitReadyz(ctx context.Context, p *process, host string, c *credentials) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.caPEM) {
		return errors.New("wait for kube-apiserver: bad CA certificate")
	}
	client := &http.Client{Transport: &http.Transport{
		Proxy:           nil,
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}
	defer client.CloseIdleConnections()
	err := poll(ctx, "kube-apiserver /readyz", 100*time.Millisecond, func() (bool, error) {
		if !p.running() {
			return false, fmt.Errorf("%w: %w", errExited, p.exitErr())
		}
		return getOK(ctx, client, host+"/readyz", c.token)
	})
	if err != nil && !errors.Is(err, errExited) {
		err = fmt.Errorf("%w; last log lines:\n%s", err, p.logTail(30))
	}
	return err
}

func (e *Env) waitNamespaces(ctx context.Context, names ...string) error {
	for _, name := range names {
		err := poll(ctx, "namespace "+name, 100*time.Millisecond, func() (bool, error) {
			_, err := e.clientset.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
			return err == nil, err
		})
		if err != nil {
			return err
		}
	}
	return nil
}
