package kubeenv

import "time"

// CRDDir is where the project's generated CRDs live, relative to the
// module root; pass it to WithCRDDir.
const CRDDir = "deploy/chart/aimesh/crds"

// Option configures Start.
type Option func(*options)

type options struct {
	assetsDir      string
	crdDir         string
	apiServerFlags []string
	startTimeout   time.Duration
	stopGrace      time.Duration
}

func defaultOptions() options {
	return options{startTimeout: 90 * time.Second, stopGrace: 10 * time.Second}
}

// WithCRDDir installs every CustomResourceDefinition in the *.yaml, *.yml
// and *.json files of dir and waits until each is established and served.
// A relative dir is taken from the module root, so tests in any package
// write WithCRDDir(CRDDir). An empty or missing dir fails the test.
func WithCRDDir(dir string) Option {
	return func(o *options) { o.crdDir = dir }
}

// WithAssetsDir runs the binaries in dir instead of AssetsDir().
func WithAssetsDir(dir string) Option {
	return func(o *options) { o.assetsDir = dir }
}

// WithAPIServerFlags appends flags to kube-apiserver's command line (a
// later flag wins over an earlier one of the same name).
func WithAPIServerFlags(flags ...string) Option {
	return func(o *options) { o.apiServerFlags = append(o.apiServerFlags, flags...) }
}

// WithStartTimeout bounds how long starting (and restarting) the API
// server may take; the default is 90s, generous for a loaded 2-core machine.
func WithStartTimeout(d time.Duration) Option {
	return func(o *options) { o.startTimeout = d }
}
