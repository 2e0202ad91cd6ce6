package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockboxhq/lockbox"
)

// usageError is a mistake in how the command was called. It exits with
// status 2 and a hint to read the command's help.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// flagError turns pflag's parse errors (unknown flag, bad value) into usage
// errors.
func flagError(_ *cobra.Command, err error) error {
	return &usageError{msg: err.Error()}
}

// required marks flags that must be given; cobra reports a missing one as a
// usage error before the command runs.
func required(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		if err := cmd.MarkFlagRequired(n); err != nil {
			panic(err) // a flag name typo: a bug, caught by any test that builds the tree
		}
	}
}

// exactArgs is cobra.ExactArgs with a message that names what is missing.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usageErrorf("expected %d argument(s) (%s), got %d",
				len(names), strings.Join(names, " "), len(args))
		}
		return nil
	}
}

// parseMinutes parses a duration in whole minutes (lockbox.ParseMinutes),
// which must be positive unless allowZero.
func parseMinutes(s string, allowZero bool) (int, error) {
	m, err := lockbox.ParseMinutes(s)
	if err != nil {
		return 0, errors.New(lockbox.ErrorMessage(err))
	}
	if m < 0 || (m == 0 && !allowZero) {
		return 0, fmt.Errorf("duration %s must be greater than zero", strings.TrimSpace(s))
	}
	return m, nil
}

// minutesValue is a duration flag stored as whole minutes, validated while
// flags are parsed so that a bad value is a usage error.
type minutesValue struct {
	minutes   int
	allowZero bool
}

func (v *minutesValue) String() string {
	if v.minutes == 0 {
		return ""
	}
	return formatMinutes(v.minutes)
}

func (v *minutesValue) Set(s string) error {
	m, err := parseMinutes(s, v.allowZero)
	if err != nil {
		return err
	}
	v.minutes = m
	return nil
}

func (v *minutesValue) Type() string { return "duration" }

// parseTime parses an RFC 3339 time and converts it to UTC.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (such as 2026-11-21T09:00:00Z)", s)
	}
	return t.UTC(), nil
}

// timeValue is an RFC 3339 time flag; nil until set.
type timeValue struct{ t *time.Time }

func (v *timeValue) String() string {
	if v.t == nil {
		return ""
	}
	return v.t.Format(time.RFC3339)
}

func (v *timeValue) Set(s string) error {
	t, err := parseTime(s)
	if err != nil {
		return err
	}
	v.t = &t
	return nil
}

func (v *timeValue) Type() string { return "time" }

// statusesValue is a repeatable --status flag checked against the known
// statuses.
type statusesValue struct{ list []string }

func (v *statusesValue) String() string { return strings.Join(v.list, ",") }

func (v *statusesValue) Set(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if !slices.Contains(statusNames(), part) {
			return fmt.Errorf("unknown status %q (use one of %s)", part, strings.Join(statusNames(), ", "))
		}
		v.list = append(v.list, part)
	}
	return nil
}

func (v *statusesValue) Type() string { return "status" }

// errNotSignedIn is returned when no server or token is configured.
var errNotSignedIn = errors.New("not signed in: run `lockbox login --server URL --email E`")
