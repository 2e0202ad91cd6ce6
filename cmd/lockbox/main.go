// Command lockbox is the Lockbox server (lockbox serve) and its client.
package main

import (
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{Use: "lockbox", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newServeCmd())
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}
