package main

import (
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() {
	pulumi.Run(run)
}

// run is the program the Pulumi engine runs: read the config, declare the
// stack, export its outputs.
func run(ctx *pulumi.Context) error {
	cfg, err := LoadConfig(ctx)
	if err != nil {
		return fmt.Errorf("load config: %w", err)
	}
	exports, err := Deploy(ctx, cfg, nil)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(exports))
	for name := range exports {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ctx.Export(name, exports[name])
	}
	return nil
}
