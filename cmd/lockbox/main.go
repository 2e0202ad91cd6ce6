// Command lockbox is the Lockbox server (lockbox serve) and its client (every
// other subcommand, which talks to a server over its HTTP API).
//
// Flags and environment are read here and nowhere else. Each run builds a
// fresh command tree, so tests call run in-process, as often as they like.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/lockboxhq/lockbox"
	"github.com/spf13/cobra"
)

// version, commit, commitDate and buildDate are set at link time by
// scripts/build.sh (-ldflags "-X main.version=v1.2.3 -X main.commit=…");
// without them the version comes from the module and the commit and its
// date from the go command's VCS stamp, and the build date is not known.
var version, commit, commitDate, buildDate = "", "", "", ""

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// run executes one command line and returns the exit status: 0 on success,
// 1 on an error, 2 on a usage error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, dial: newClient}
	return a.execute(ctx, args)
}

// app is one invocation: its streams, its environment, how it reaches the
// API, and the values of the global flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	dial           func(server, token string) api

	server string // --server
	token  string // --token
}

// runError marks an error returned by a command's own code (exit 1), as
// opposed to one cobra found in the command line (exit 2).
type runError struct{ err error }

func (e *runError) Error() string { return e.err.Error() }
func (e *runError) Unwrap() error { return e.err }

func (a *app) execute(ctx context.Context, args []string) int {
	root := a.rootCmd()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	var re *runError
	if errors.As(err, &re) {
		fmt.Fprintf(a.stderr, "lockbox: %s\n", errorText(re.err, cmd))
		return 1
	}
	fmt.Fprintf(a.stderr, "lockbox: %s\n", err)
	fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	return 2
}

// errorText is what the person sees for a failed command: the API's message
// for an application error, with a hint when the session is no longer valid.
func errorText(err error, cmd *cobra.Command) string {
	var e *lockbox.Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	msg := fieldAsFlag(cmd, e.Field, e.Message)
	if msg == "" {
		msg = e.Code
	}
	// The server's message already says what happened ("sign in again");
	// the hint adds only the command, once.
	if e.Code == lockbox.EUNAUTHENTICATED && cmd.Name() != "login" && !strings.Contains(msg, "lockbox login") {
		msg = strings.TrimSpace(msg)
		if !strings.HasSuffix(msg, ".") {
			msg += "."
		}
		msg += " Run `lockbox login --server URL --email E`."
	}
	return msg
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "lockbox",
		Short: "Customer Lockbox: customer-approved, time-boxed access to tenant data",
		Long: `Lockbox makes a provider's access to customer data customer-approved,
just-in-time, time-boxed and audited. 'lockbox serve' runs the server; every
other command is a client of a server's API.

The client finds its server and token in --server/--token, then
LOCKBOX_SERVER/LOCKBOX_TOKEN, then the session saved by 'lockbox login'.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          missingSubcommand,
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	root.Version = versionLine()
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(flagError)
	// The environment is applied here, once for every command (env.go). No
	// subcommand may set its own PersistentPreRunE: cobra would run that
	// one instead.
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return applyEnv(cmd, a.getenv) }
	pf := root.PersistentFlags()
	pf.StringVar(&a.server, "server", "", "Lockbox server URL (default: the saved login's)")
	pf.StringVar(&a.token, "token", "", "bearer token (default: the saved login's)")
	bindEnv(pf, envVar{"server", "LOCKBOX_SERVER"}, envVar{"token", "LOCKBOX_TOKEN"})
	root.AddCommand(
		newServeCmd(),
		a.loginCmd(), a.logoutCmd(), a.whoamiCmd(), a.passwdCmd(), a.tokensCmd(), a.passkeysCmd(),
		a.adminCmd(),
		a.requestsCmd(), a.settingsCmd(), a.usersCmd(), a.tenantsCmd(),
		a.staffCmd(), a.serviceAccountsCmd(), a.servicesCmd(),
		a.devCmd(), a.versionCmd(),
		a.auditCmd(),
		a.keysCmd(),
		a.webhooksCmd(), a.ssoCmd(), a.policyCmd(),
		a.backupCmd(), a.restoreCmd(),
	)
	markRunErrors(root)
	a.completeFlagValues(root) // completion.go
	return root
}

// markRunErrors wraps every command's RunE so that the errors it returns are
// told apart from cobra's own usage errors (unknown flag, missing argument,
// required flag not set), which cobra reports before RunE runs. A RunE may
// still return a *usageError to exit 2.
func markRunErrors(c *cobra.Command) {
	if f := c.RunE; f != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			err := f(cmd, args)
			var ue *usageError
			if err == nil || errors.As(err, &ue) {
				return err
			}
			return &runError{err: err}
		}
	}
	for _, sub := range c.Commands() {
		markRunErrors(sub)
	}
}

// group returns a command that only holds subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: unknownSubcommand, RunE: missingSubcommand,
		SuggestionsMinimumDistance: 2}
	c.AddCommand(subs...)
	return c
}

// unknownSubcommand rejects a misspelt subcommand of a group, which cobra
// would otherwise pass to the group as an argument.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return &usageError{msg: msg}
}

func missingSubcommand(cmd *cobra.Command, _ []string) error {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return usageErrorf("%s needs a command: %s", cmd.CommandPath(), strings.Join(names, ", "))
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date of lockbox",
		Args:  exactArgs(),
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(a.stdout, versionLine())
			return err
		},
	}
}

// versionLine is what `lockbox version` and `lockbox --version` print.
func versionLine() string {
	bi, _ := debug.ReadBuildInfo()
	return "lockbox " + describeBuild(bi, buildStamp{version, commit, commitDate, buildDate})
}

// buildStamp is what a build may set at link time (-X main.version=…,
// main.commit, main.commitDate, main.buildDate: scripts/build.sh), for
// builds without git metadata (a source tarball, or
// GOFLAGS=-buildvcs=false) and for the build date, which nothing else
// records.
type buildStamp struct{ version, commit, commitDate, buildDate string }

// describeBuild names a build: its version (set at link time, else the
// module version of go install …@v1.2.3, else "dev"), the commit and the
// commit's date (set at link time, else stamped by the go command from git:
// vcs.revision, vcs.time, vcs.modified), or "unknown" when neither is there,
// and the build date when set at link time (left out otherwise: the
// commit's date is not when the binary was built).
func describeBuild(bi *debug.BuildInfo, link buildStamp) string {
	v, commit, when := link.version, link.commit, link.commitDate
	if bi != nil {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		if r := settings["vcs.revision"]; r != "" && commit == "" {
			commit = r[:min(len(r), 12)]
			if settings["vcs.modified"] == "true" {
				commit += "-dirty"
			}
		}
		if when == "" {
			when = settings["vcs.time"]
		}
	}
	if v == "" {
		v = "dev"
	}
	if commit == "" {
		commit = "unknown"
	}
	if when == "" {
		when = "unknown"
	}
	built := ""
	if link.buildDate != "" {
		built = ", built " + link.buildDate
	}
	return fmt.Sprintf("%s (commit %s, commit date %s%s, %s)", v, commit, when, built, runtime.Version())
}
