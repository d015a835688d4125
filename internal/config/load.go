package config

// Options say what the configuration is for.
type Options struct {
	// Kubernetes is set in --kubernetes mode, where VirtualNodes may use
	// serviceDiscovery.kubernetes and TLS files are not checked on disk.
	Kubernetes bool
}

// Load decodes, defaults and validates the files (or directories) at
// paths. It returns an ErrorList naming every problem, or another error
// when a file cannot be read.
func Load(paths []string, opts Options) (*Resources, error) {
	res, err := DecodeFiles(paths)
	if err != nil {
		return nil, err
	}
	return res, Prepare(res, opts)
}

// Prepare defaults and validates decoded resources.
func Prepare(res *Resources, opts Options) error {
	Default(res)
	return Validate(res, opts).Err()
}
