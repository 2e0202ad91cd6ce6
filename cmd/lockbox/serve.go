package main

import "github.com/spf13/cobra"

// newServeCmd is replaced by the real server wiring.
func newServeCmd() *cobra.Command {
	return &cobra.Command{Use: "serve", Short: "Run the Lockbox server"}
}
