package main

import (
	"errors"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// This file is where flags meet the environment. A flag that can also be
// set from a variable is bound to it once, with bindEnv, where the flag is
// registered; applyEnv, run before every command, is the only code that
// reads those variables.

// envAnnotation is the pflag annotation that holds a flag's variable.
const envAnnotation = "lockbox_env"

// boolSpellings are the values a boolean variable may take: those of
// strconv.ParseBool, exactly as on the command line (--dev=true).
const boolSpellings = "1, t, T, TRUE, true, True, 0, f, F, FALSE, false or False"

// envVar binds one flag to one environment variable.
type envVar struct{ flag, env string }

// bindEnv binds each flag of fs to its variable, and names the variable in
// the flag's help ("[$LOCKBOX_LISTEN]"). A flag that does not exist is a
// bug in the command tree, caught by any test that builds it.
func bindEnv(fs *pflag.FlagSet, vars ...envVar) {
	for _, v := range vars {
		f := fs.Lookup(v.flag)
		if f == nil {
			panic("bindEnv: no flag --" + v.flag)
		}
		f.Usage += " [$" + v.env + "]"
		if err := fs.SetAnnotation(v.flag, envAnnotation, []string{v.env}); err != nil {
			panic(err)
		}
	}
}

// applyEnv sets every bound flag of cmd that the command line left unset
// from its variable; an empty variable counts as unset. The value is parsed
// by the flag itself, so a variable takes exactly what the flag takes, and
// one that does not parse is a usage error naming the variable (exit 2)
// rather than being ignored.
func applyEnv(cmd *cobra.Command, getenv func(string) string) error {
	fs := cmd.Flags()
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		env := f.Annotations[envAnnotation]
		if len(env) == 0 || f.Changed {
			return
		}
		v := getenv(env[0])
		if v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, envError(env[0], v, f, err))
		}
	})
	return errors.Join(errs...)
}

// envError says why a variable's value was refused. Only typed flags
// (numbers, durations, booleans) refuse values, so the value, which is
// shown, is never a secret.
func envError(env, v string, f *pflag.Flag, err error) error {
	if f.Value.Type() == "bool" {
		return usageErrorf("%s=%q is not a boolean; use %s", env, v, boolSpellings)
	}
	return usageErrorf("%s=%q is not a valid %s for --%s: %v", env, v, f.Value.Type(), f.Name, err)
}

// envHelp explains the variables in a command's help.
const envHelp = `Every flag can also be set by the environment variable shown beside it in brackets;
a flag on the command line wins, and an empty variable counts as unset. A variable is
read exactly as its flag: durations such as 30s, 15m or 12h, and booleans as one of
` + boolSpellings + ` (Go's strconv.ParseBool).
A value that does not parse is a usage error (exit status 2).`
