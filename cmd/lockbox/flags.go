package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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

// parseTime reads a time as people type one, and converts it to UTC:
// RFC 3339 ("2026-12-04T09:00:00Z"), a date ("2026-12-04", midnight in the
// local time zone) or a local date and time ("2026-12-04T09:00",
// "2026-12-04 09:00"), or a duration relative to now: "24h" or "7d" ago,
// "+2h" from now.
func parseTime(s string) (time.Time, error) {
	return parseTimeAt(s, time.Now(), time.Local)
}

func parseTimeAt(s string, now time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	rel, sign := s, -1
	if r, ok := strings.CutPrefix(s, "+"); ok {
		rel, sign = r, 1
	}
	if days, ok := strings.CutSuffix(rel, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.Add(time.Duration(sign*n) * 24 * time.Hour).UTC(), nil
		}
	}
	if d, err := time.ParseDuration(rel); err == nil && d >= 0 && rel != "" && rel[0] != '-' {
		return now.Add(time.Duration(sign) * d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use 2026-12-04, 2026-12-04T09:00, RFC 3339 (2026-12-04T09:00:00Z), or a duration ago (24h, 7d) or ahead (+2h)", s)
}

// boolValue is a boolean flag that takes its value as a separate word too:
// --require-approval false, --require-approval=false. (A plain bool flag
// reads "--require-approval false" as true plus a stray argument.)
type boolValue struct{ b bool }

func (v *boolValue) String() string { return strconv.FormatBool(v.b) }

func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	v.b = b
	return nil
}

func (v *boolValue) Type() string { return "true|false" }

// apiFieldAnnotation marks the API field a flag sets, so that an error
// about that field names the flag the person typed (fieldAsFlag). A flag
// named like its field (--reason: reason, --service-request:
// service_request) needs no mark.
const apiFieldAnnotation = "lockbox_api_field"

// apiField records that flag sets the API field; unit, when not "", says
// how the API counts it ("minutes").
func apiField(cmd *cobra.Command, flag, field, unit string) {
	if err := cmd.Flags().SetAnnotation(flag, apiFieldAnnotation, []string{field, unit}); err != nil {
		panic(err) // a flag name typo: a bug
	}
}

// flagsByField maps each API field that a flag of cmd sends to how the
// flag is shown: "--request-ttl (in minutes)".
func flagsByField(cmd *cobra.Command) map[string]string {
	out := map[string]string{}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		field, unit := strings.ReplaceAll(f.Name, "-", "_"), ""
		if a := f.Annotations[apiFieldAnnotation]; len(a) == 2 {
			field, unit = a[0], a[1]
		}
		name := "--" + f.Name
		if unit != "" {
			name += " (in " + unit + ")"
		}
		out[field] = name
	})
	return out
}

// fieldAsFlag rewrites an API error about a field into the words of the
// command line: "request_ttl_minutes must be between 60 and 10080" becomes
// "--request-ttl (in minutes) must be between 60 and 10080".
//
// The API's messages name their field (lockbox.FieldErrorf) at the start,
// as the web's besideField expects: only there is a plain word such as
// "service" or "reason" the field's name, not prose ("the services
// catalog"). A message about a field it does not open with is prefixed
// with the flag. Snake_case and dotted names (escalation.after_minutes) are
// never prose, so they become flags wherever they appear.
func fieldAsFlag(cmd *cobra.Command, field, msg string) string {
	if field == "" || cmd == nil {
		return msg
	}
	flags := flagsByField(cmd)
	name, ok := flags[field]
	if !ok {
		return msg
	}
	out := msg
	switch {
	case wordAt(msg, field, 0):
		out = name + msg[len(field):]
	case apiName(field) && strings.Contains(msg, field):
		out = replaceWord(msg, field, name)
	default:
		out = name + ": " + msg
	}
	for other, flag := range flags {
		if other != field && apiName(other) {
			out = replaceWord(out, other, strings.SplitN(flag, " ", 2)[0])
		}
	}
	return out
}

// apiName reports whether field is spelled as only an API name is
// (snake_case or dotted), never as a word of English.
func apiName(field string) bool { return strings.ContainsAny(field, "_.") }

// wordAt reports whether word stands in s at i as a whole name: not a part
// of a longer name ("service" in "services", "break_glass" in
// "break_glass.enabled"), nor an option already ("--reason").
func wordAt(s, word string, i int) bool {
	if !strings.HasPrefix(s[i:], word) {
		return false
	}
	if i > 0 && (nameByte(s[i-1]) || s[i-1] == '.' || s[i-1] == '-') {
		return false
	}
	rest := s[i+len(word):]
	if rest != "" && (nameByte(rest[0]) || rest[0] == '-') {
		return false
	}
	return !strings.HasPrefix(rest, ".") || len(rest) == 1 || !nameByte(rest[1])
}

func nameByte(b byte) bool {
	return b == '_' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

// replaceWord replaces every whole-name occurrence of word in s (wordAt).
func replaceWord(s, word, with string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if wordAt(s, word, i) {
			b.WriteString(with)
			i += len(word)
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// readJSONBody reads the JSON body a command sends from the file name, or
// from stdin for "-", refusing an empty one here: the server's answer to an
// empty body speaks of request bodies, not of the file the person named.
func readJSONBody(name string, stdin io.Reader) ([]byte, error) {
	var b []byte
	var err error
	if name == "-" {
		b, err = io.ReadAll(io.LimitReader(stdin, 1<<20+1))
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		what := name
		if name == "-" {
			what = "standard input"
		}
		return nil, usageErrorf("--file %s is empty: it must hold a JSON object", what)
	}
	return b, nil
}

// timeValue is a time flag (parseTime); nil until set.
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

// addTenantFlag is --tenant of the commands that act in one tenant; left
// out, ownTenant fills in the signed-in user's.
func addTenantFlag(cmd *cobra.Command, tenant *string) {
	cmd.Flags().StringVar(tenant, "tenant", "", "the tenant (default: your own, if you belong to one)")
}
