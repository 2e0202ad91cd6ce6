package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/lockboxhq/lockbox/auditlog"
)

// Output formats (-o).
const (
	formatTable = "table"
	formatJSON  = "json"
	formatCSV   = "csv"
)

// formatValue is the -o/--output flag: one of the formats the command
// supports, checked while flags are parsed so that a bad value is a usage
// error.
type formatValue struct {
	value   string
	allowed []string
	// hint is added to the error about a value that is not a format.
	hint string
}

func (v *formatValue) String() string { return v.value }

func (v *formatValue) Set(s string) error {
	if !slices.Contains(v.allowed, s) {
		return fmt.Errorf("unknown output format %q (use %s)%s", s, strings.Join(v.allowed, "|"), v.hint)
	}
	v.value = s
	return nil
}

func (v *formatValue) Type() string { return "format" }

// addFormatFlag adds -o/--output, the output format, to cmd: kubectl and gh
// spell it so. The first allowed format is the default. --format, its
// name before, is kept hidden so that scripts written then still work.
func addFormatFlag(cmd *cobra.Command, allowed ...string) *formatValue {
	v := &formatValue{value: allowed[0], allowed: allowed}
	cmd.Flags().VarP(v, "output", "o", "output format: "+strings.Join(allowed, "|"))
	cmd.Flags().Var(&formatAlias{v, cmd}, "format", "deprecated: use -o/--output")
	if err := cmd.Flags().MarkHidden("format"); err != nil {
		panic(err) // the flag was just added
	}
	return v
}

// addOutputFlag is addFormatFlag for the commands that can also write a
// file (--file): a value that is not a format says so, since --output
// named the file there once.
func addOutputFlag(cmd *cobra.Command, allowed ...string) *formatValue {
	v := addFormatFlag(cmd, allowed...)
	v.hint = "; -o/--output is the format, name a file with --file"
	return v
}

// formatAlias is the deprecated --format: it sets the format and says, on
// stderr, to use -o. (pflag's own deprecation notice would go to stdout,
// into the very output a script reads.)
type formatAlias struct {
	*formatValue
	cmd *cobra.Command
}

func (v *formatAlias) Set(s string) error {
	if err := v.formatValue.Set(s); err != nil {
		return err
	}
	fmt.Fprintln(v.cmd.ErrOrStderr(), "lockbox: --format is deprecated; use -o/--output")
	return nil
}

// table is rows of cells under a header, rendered as aligned text or CSV.
type table struct {
	header []string
	rows   [][]string
}

func newTable(header ...string) *table { return &table{header: header} }

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// writeText renders t with aligned columns for a person to read, an empty
// cell as "-". Cells are
// escaped so that data typed by others cannot move the cursor, recolour the
// terminal or break the columns.
func (t *table) writeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range append([][]string{t.header}, t.rows...) {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = sanitize(orDash(c))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// writeList writes items as a JSON array, as CSV or as an aligned table
// (format), one row of cells under header per item.
func writeList[T any](w io.Writer, format string, items []T, header []string, row func(T) []string) error {
	if format == formatJSON {
		return writeJSON(w, nonNil(items))
	}
	t := newTable(header...)
	for _, it := range items {
		t.add(row(it)...)
	}
	if format == formatCSV {
		return t.writeCSV(w)
	}
	return t.writeText(w)
}

// nonNil makes an empty listing encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// writeCSV renders t as CSV with a header row, every cell defused against
// formula injection.
func (t *table) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	for _, row := range append([][]string{t.header}, t.rows...) {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = auditlog.DefuseCSVCell(c)
		}
		if err := cw.Write(cells); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeKV renders label/value pairs (an empty value as "-"), one per line, for a single object.
func writeKV(w io.Writer, pairs [][2]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range pairs {
		fmt.Fprintf(tw, "%s:\t%s\n", sanitize(p[0]), sanitize(orDash(p[1])))
	}
	return tw.Flush()
}

// printLine prints one line made of data typed by others, escaped for the
// terminal.
func (a *app) printLine(format string, args ...any) error {
	_, err := fmt.Fprintln(a.stdout, sanitize(fmt.Sprintf(format, args...)))
	return err
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// sanitize makes s safe to print on a terminal on one line: control
// characters (newlines, tabs, escape sequences) and bidirectional overrides
// are shown escaped, and invalid UTF-8 is replaced.
func sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !strings.ContainsFunc(s, unsafeRune) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unsafeRune(r) {
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

// formatTime shows a time in UTC, RFC 3339.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// formatTimePtr is formatTime, and "" for nil.
func formatTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return formatTime(*t)
}

func formatStrPtr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// formatMinutes shows minutes as a Go duration without zero units: 120 →
// "2h", 90 → "1h30m", 45 → "45m".
func formatMinutes(m int) string {
	switch {
	case m == 0:
		return "0m"
	case m%60 == 0:
		return fmt.Sprintf("%dh", m/60)
	case m > 60:
		return fmt.Sprintf("%dh%dm", m/60, m%60)
	}
	return fmt.Sprintf("%dm", m)
}

// orDash shows an empty value as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
