package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
)

// auditAPI is what the audit commands need of a server: the audit service,
// and the server's own CSV export to copy byte for byte.
type auditAPI interface {
	lockbox.AuditService
	ExportAuditCSV(ctx context.Context, log string, f lockbox.AuditFilter, w io.Writer) (int64, error)
}

func (a *app) auditCmd() *cobra.Command {
	return group("audit", "Search, export and verify a tenant's audit log",
		a.auditSearchCmd(), a.auditVerifyCmd(), a.auditMonitorCmd(), a.auditVerifyExportCmd())
}

func (a *app) auditClient() (auditAPI, error) { return clientAs[auditAPI](a, "read audit logs") }

// listValue is a repeatable flag that also takes comma-separated values.
type listValue struct {
	list  []string
	check func(string) error
}

func (v *listValue) String() string { return strings.Join(v.list, ",") }

func (v *listValue) Set(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		if v.check != nil {
			if err := v.check(part); err != nil {
				return err
			}
		}
		v.list = append(v.list, part)
	}
	return nil
}

func (v *listValue) Type() string { return "strings" }

func (a *app) auditSearchCmd() *cobra.Command {
	var (
		f          lockbox.AuditFilter
		tenant     string
		start, end timeValue
		output     string
		ops        = listValue{check: func(s string) error {
			if !lockbox.IsAuditOperation(s) {
				return fmt.Errorf("unknown operation %q (use one of %s)", s, strings.Join(lockbox.AuditOperations, ", "))
			}
			return nil
		}}
		users     listValue
		proofFile string
	)
	cmd := &cobra.Command{
		Use:   "search",
		Short: "Search a tenant's audit log, newest first, every page",
		Long: `Search a tenant's audit log, newest first, following every page.

--tenant provider reads the provider's own log (provider admins). -o/--output is the
format, as in kubectl and gh; --file names a file to write instead of stdout.
-o csv is the server's export (RecordId,CreationDate,RecordType,Operation,
UserId,AuditData, formula cells defused), copied as it streams; an export the
server breaks off part-way is an error (exit status 1, and no --file is left).
-o json is an array of the records' canonical JSON. --request-id takes a
request's id or its reference (LB-…). A progress bar shows on stderr when it
is a terminal.

  lockbox audit search --tenant contoso --request-id LB-7K3Q9MXA
  lockbox audit search --tenant contoso -o csv --file contoso-audit.csv`,
		Args: exactArgs(),
	}
	fl := cmd.Flags()
	fl.StringVar(&tenant, "tenant", "", "the tenant whose log to search (default: your own, if you belong to one; provider: the provider's log)")
	fl.Var(&start, "start", "only records at or after this time: 2026-12-04, RFC 3339, or a duration ago (24h, 7d)")
	fl.Var(&start, "since", "the same as --start (e.g. --since 24h)")
	fl.Var(&end, "end", "only records before this time (as --start)")
	fl.Var(&ops, "operation", "only this operation (repeatable)")
	fl.Var(&users, "user", "only records by this user id, e.g. an email (repeatable)")
	fl.StringVar(&f.RequestID, "request-id", "", "only records about this request (its id or reference, LB-…)")
	fl.StringVar(&f.RecordType, "record-type", "", "only this record type ("+strings.Join(lockbox.AuditRecordTypes, ", ")+")")
	fl.StringVar(&output, "file", "", "write to this file (readable by you only) instead of stdout")
	fl.StringVar(&proofFile, "proof", "", "with -o csv --file F: also write a proof bundle here (the signed checkpoint and an inclusion proof per record), for audit verify-export")
	format := addOutputFlag(cmd, formatTable, formatJSON, formatCSV)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := a.ownTenant(cmd, &tenant); err != nil {
			return err
		}
		if f.RecordType != "" && !lockbox.IsAuditRecordType(f.RecordType) {
			return usageErrorf("--record-type %q: use one of %s", f.RecordType, strings.Join(lockbox.AuditRecordTypes, ", "))
		}
		if proofFile != "" && (format.value != formatCSV || output == "") {
			return usageErrorf("--proof needs -o csv and --file: the bundle proves the records of that file")
		}
		f.Start, f.End, f.Operations, f.Users = start.t, end.t, ops.list, users.list
		c, err := a.auditClient()
		if err != nil {
			return err
		}
		err = a.withOutput(output, func(w io.Writer) error {
			return a.searchAudit(cmd.Context(), c, tenant, f, format.value, w)
		})
		if err != nil || proofFile == "" {
			return err
		}
		return a.writeBundle(cmd.Context(), c, tenant, output, proofFile)
	}
	return cmd
}

// writeBundle writes the proof bundle of the export in file.
func (a *app) writeBundle(ctx context.Context, c auditAPI, tenant, file, proofFile string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := auditlog.MakeBundle(ctx, c, tenant, f)
	if err != nil {
		return fmt.Errorf("proof bundle: %w", err)
	}
	return a.withOutput(proofFile, func(w io.Writer) error { return writeJSON(w, b) })
}

// withOutput runs write on stdout, or on a new file readable by its owner
// only (audit data is sensitive) that is removed again if write fails.
func (a *app) withOutput(path string, write func(io.Writer) error) error {
	if path == "" {
		return write(a.stdout)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("--file: %w", err)
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

func (a *app) searchAudit(ctx context.Context, c auditAPI, tenant string, f lockbox.AuditFilter, format string, w io.Writer) error {
	bar := a.progress("exporting", format == formatCSV)
	defer bar.finish()
	if format == formatCSV {
		_, err := c.ExportAuditCSV(ctx, tenant, f, bar.wrap(w))
		return err
	}
	out := newRecordWriter(format, w)
	f.Limit = lockbox.MaxAuditPageSize
	seen := map[string]bool{}
	for {
		page, err := c.SearchAudit(ctx, tenant, f)
		if err != nil {
			return err
		}
		if err := out.write(page.Records); err != nil {
			return err
		}
		bar.add(len(page.Records))
		if page.NextCursor == "" {
			return out.close()
		}
		if seen[page.NextCursor] { // a server bug must not loop forever
			return errors.New("the server returned the same page twice; stopping")
		}
		seen[page.NextCursor] = true
		f.Cursor = page.NextCursor
	}
}

// recordWriter writes pages of records as they come: a JSON array of
// canonical records, or an aligned table flushed page by page.
type recordWriter struct {
	format string
	w      io.Writer
	n      int
}

func newRecordWriter(format string, w io.Writer) *recordWriter {
	return &recordWriter{format: format, w: w}
}

func (rw *recordWriter) write(recs []*lockbox.AuditRecord) error {
	if rw.format == formatJSON {
		for _, r := range recs {
			b, err := r.Canonical()
			if err != nil {
				return err
			}
			sep := ",\n  "
			if rw.n == 0 {
				sep = "[\n  "
			}
			if _, err := fmt.Fprintf(rw.w, "%s%s", sep, b); err != nil {
				return err
			}
			rw.n++
		}
		return nil
	}
	t := newTable("TIME", "OPERATION", "USER", "RESULT", "REFERENCE", "INDEX", "DETAILS")
	if rw.n > 0 {
		t.header = nil
	}
	for _, r := range recs {
		details, _ := json.Marshal(r.AuditData)
		t.add(r.Time.UTC().Format(lockbox.AuditTimeFormat), r.Operation, r.UserID, r.Result, reference(r),
			fmt.Sprint(r.Index), string(details))
	}
	rw.n += len(recs)
	if len(t.rows) == 0 && t.header == nil {
		return nil
	}
	return t.writeText(rw.w)
}

// reference is what a person calls the request a record is about: its
// reference (LB-…), which request records carry in audit_data, else its id.
func reference(r *lockbox.AuditRecord) string {
	if ref, ok := r.AuditData["reference"].(string); ok && ref != "" {
		return ref
	}
	return r.RequestID
}

func (rw *recordWriter) close() error {
	if rw.format != formatJSON {
		return nil
	}
	end := "\n]\n"
	if rw.n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(rw.w, end)
	return err
}

// progressBar is a spinner with a count on stderr when it is a terminal,
// and nothing otherwise (scripts and logs get no control characters).
type progressBar struct{ bar *progressbar.ProgressBar }

func (a *app) progress(what string, bytes bool) *progressBar {
	f, ok := a.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return &progressBar{}
	}
	opts := []progressbar.Option{progressbar.OptionSetWriter(a.stderr), progressbar.OptionSetDescription(what),
		progressbar.OptionSpinnerType(14), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100_000_000)}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true))
	} else {
		opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionSetItsString("records"), progressbar.OptionShowIts())
	}
	return &progressBar{bar: progressbar.NewOptions64(-1, opts...)}
}

func (p *progressBar) add(n int) {
	if p.bar != nil {
		_ = p.bar.Add(n)
	}
}

func (p *progressBar) set(done, total int64) {
	if p.bar != nil {
		p.bar.ChangeMax64(total)
		_ = p.bar.Set64(done)
	}
}

func (p *progressBar) wrap(w io.Writer) io.Writer {
	if p.bar == nil {
		return w
	}
	return io.MultiWriter(w, p.bar)
}

func (p *progressBar) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

func (a *app) auditVerifyCmd() *cobra.Command {
	var tenant, trustKey, stateDir string
	var full bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Prove the provider has not rewritten a tenant's audit log",
		Long: `Verify a tenant's audit log: check the signed checkpoint, check every record
is canonical and in its place, recompute the Merkle root, and prove the log
only grew since the checkpoint this command verified last time, which it keeps
under your configuration directory ($LOCKBOX_CONFIG_DIR, else the system's;
or --state-dir) with the right edge of its tree. The next run downloads and
checks only the records added since; --full downloads and checks every record
again (do it now and then: it also proves the server still serves the exact
bytes it signed). Memory stays flat however long the log. Any rewrite,
deletion, insertion, reordering, truncation or rollback is reported with the
records concerned, and the kept checkpoint is left as it was.

The first run trusts the key the server publishes (GET /v1/log/key) and keeps
it: pin it instead with --trust-key, using a key you obtained independently.
Exit status 1 when the log does not verify.

After a failure you have looked into (say, the provider restored a backup and
told you which records it lost), --accept-new-history verifies the log as it
is now on its own, under the key you kept (or --trust-key), and keeps it from
then on. The checkpoint it replaces is kept, never deleted, in superseded/ in
the state directory: with the new one it proves the provider presented two
histories.`,
		Args: exactArgs(),
	}
	var accept bool
	fl := cmd.Flags()
	fl.BoolVar(&accept, "accept-new-history", false, "after a failure you have looked into: keep the log as it is now if it verifies on its own; the replaced checkpoint is kept in superseded/")
	fl.StringVar(&tenant, "tenant", "", "the tenant whose log to verify (default: your own, if you belong to one; provider: the provider's log)")
	fl.StringVar(&trustKey, "trust-key", "", "the verifier key to hold the server to (default: the one kept from the last run)")
	fl.StringVar(&stateDir, "state-dir", "", "where to keep the last verified checkpoint (default: under the config directory)")
	fl.BoolVar(&full, "full", false, "check every record again, not only those added since the last run")
	witnesses := addWitnessFlags(cmd)
	format := addOutputFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := witnesses.check(); err != nil {
			return err
		}
		if err := a.ownTenant(cmd, &tenant); err != nil {
			return err
		}
		c, stateDir, err := a.keptLog(tenant, stateDir)
		if err != nil {
			return err
		}
		opts := auditlog.Options{TrustedKey: trustKey, Full: full, Witnesses: witnesses.keys, WitnessQuorum: witnesses.quorum}
		if accept {
			return a.acceptNewHistory(cmd.Context(), c, tenant, stateDir, opts, format.value)
		}
		return a.verifyAudit(cmd.Context(), c, tenant, stateDir, opts, format.value)
	}
	return cmd
}

// witnessFlags are --witness and --witness-quorum, as audit verify and
// audit monitor take them: the witnesses a reader trusts, and how many of
// them must have cosigned a checkpoint for it to be accepted.
type witnessFlags struct {
	keys   []string
	quorum int
}

func addWitnessFlags(cmd *cobra.Command) *witnessFlags {
	w := &witnessFlags{}
	cmd.Flags().StringArrayVar(&w.keys, "witness", nil, "a witness's cosignature verifier key (NAME+HASH+KEY) to require cosignatures of (repeat for several)")
	cmd.Flags().IntVar(&w.quorum, "witness-quorum", 0, "how many of the --witness keys must have cosigned the checkpoint (default: all)")
	return w
}

func (w *witnessFlags) check() error {
	for _, k := range w.keys {
		if _, err := auditlog.NewCosignatureVerifier(k); err != nil {
			return usageErrorf("--witness: %v", err)
		}
	}
	if w.quorum < 0 || w.quorum > len(w.keys) {
		return usageErrorf("--witness-quorum %d: %d --witness keys given", w.quorum, len(w.keys))
	}
	return nil
}

// keptLog is the audit client and the directory of the kept state of
// tenant's log (stateDir, or the default of verifyStateDir), as verify and
// monitor both use them.
func (a *app) keptLog(tenant, stateDir string) (auditAPI, string, error) {
	server, _, err := a.resolve()
	if err != nil {
		return nil, "", err
	}
	c, err := a.auditClient()
	if err != nil {
		return nil, "", err
	}
	if stateDir == "" {
		if stateDir, err = a.verifyStateDir(server, tenant); err != nil {
			return nil, "", err
		}
	}
	return c, stateDir, nil
}

// verifyStateDir is <config>/audit/<server host>/<tenant>: one kept
// checkpoint per log of each server.
func (a *app) verifyStateDir(server, tenant string) (string, error) {
	dir, err := configDir(a.getenv)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(server)
	if err != nil {
		return "", err
	}
	host := strings.NewReplacer(":", "_", "/", "_").Replace(u.Host)
	if strings.ContainsAny(tenant, `/\`) || tenant == "." || tenant == ".." {
		return "", usageErrorf("--tenant %q is not a tenant name", tenant)
	}
	return filepath.Join(dir, "audit", host, tenant), nil
}

func (a *app) verifyAudit(ctx context.Context, c auditAPI, tenant, stateDir string, opts auditlog.Options, format string) error {
	prev, err := auditlog.LoadState(stateDir)
	if err != nil {
		return err
	}
	bar := a.progress("verifying", false)
	opts.Progress, opts.StateDir = bar.set, stateDir
	report, err := auditlog.Verify(ctx, c, tenant, prev, opts)
	bar.finish()
	if err != nil {
		return err
	}
	return a.keepVerified(report, prev, tenant, stateDir, format)
}

// keepVerified keeps the state of a report that verified against prev,
// prints it, and fails when it did not verify.
func (a *app) keepVerified(report *auditlog.Report, prev *auditlog.State, tenant, stateDir, format string) error {
	if report.OK() {
		if err := auditlog.SaveState(stateDir, report.State); err != nil {
			return err
		}
	}
	if format == formatJSON {
		if report.Problems == nil {
			report.Problems = []auditlog.Problem{}
		}
		if err := writeJSON(a.stdout, report); err != nil {
			return err
		}
	} else {
		a.printVerifyReport(report, prev, stateDir)
	}
	if !report.OK() {
		return fmt.Errorf("the audit log of %s did NOT verify: %d problem(s); the checkpoint kept in %s is unchanged", tenant, len(report.Problems), stateDir)
	}
	return nil
}

// acceptance is what audit verify --accept-new-history reports: whether it
// replaced the kept state, where the replaced one went, what the kept state
// found wrong (what was accepted), and the new history's own verification.
type acceptance struct {
	Accepted   bool               `json:"accepted"`
	Superseded string             `json:"superseded,omitempty"`
	Replaced   []auditlog.Problem `json:"replaced_problems"`
	Report     *auditlog.Report   `json:"report"`
}

// acceptNewHistory is audit verify --accept-new-history. A log that still
// extends the kept checkpoint is verified as usual: there is nothing to
// accept. Otherwise the log as it is now must verify on its own (every
// record, the signature under the key kept, or --trust-key: accepting a
// history never accepts a new key); then the kept state is copied to
// superseded/<time> and the new one kept. Nothing is replaced when the new
// history does not verify.
func (a *app) acceptNewHistory(ctx context.Context, c auditAPI, tenant, stateDir string, opts auditlog.Options, format string) error {
	prev, err := auditlog.LoadState(stateDir)
	if err != nil {
		return err
	}
	if prev == nil {
		return usageErrorf("--accept-new-history: no checkpoint is kept in %s, so there is nothing to replace; run audit verify without it", stateDir)
	}
	bar := a.progress("verifying", false)
	opts.Progress, opts.StateDir = bar.set, stateDir
	kept, err := auditlog.Verify(ctx, c, tenant, prev, opts)
	bar.finish()
	if err != nil {
		return err
	}
	if kept.OK() {
		if format != formatJSON {
			fmt.Fprintln(a.stdout, "Nothing to accept: the log still extends the checkpoint you kept.")
		}
		return a.keepVerified(kept, prev, tenant, stateDir, format)
	}
	if opts.TrustedKey == "" {
		opts.TrustedKey = prev.Key
	}
	opts.Full = true
	bar = a.progress("verifying the new history", false)
	opts.Progress = bar.set
	fresh, err := auditlog.Verify(ctx, c, tenant, nil, opts)
	bar.finish()
	if err != nil {
		return err
	}
	out := acceptance{Replaced: kept.Problems, Report: fresh}
	if fresh.OK() {
		if out.Superseded, err = auditlog.SupersedeState(stateDir, time.Now()); err != nil {
			return err
		}
		if err := auditlog.SaveState(stateDir, fresh.State); err != nil {
			return err
		}
		out.Accepted = true
	}
	if format == formatJSON {
		if fresh.Problems == nil {
			fresh.Problems = []auditlog.Problem{}
		}
		if err := writeJSON(a.stdout, out); err != nil {
			return err
		}
	} else {
		a.printVerifyReport(kept, prev, stateDir)
		if out.Accepted {
			cp := fresh.Checkpoint
			fmt.Fprintf(a.stdout, "\nAccepted the log as it is now instead: %d records, root %x…, verified on its own, every record, under the key you kept.\n",
				cp.Size, cp.RootHash[:8])
			fmt.Fprintf(a.stdout, "The checkpoint you kept before (%d records, verified %s) is now in %s: keep it.\n"+
				"With the new one it proves the provider presented two histories. Later runs are held to the new one.\n",
				prev.Size(), prev.VerifiedAt.Format("2006-01-02 15:04 UTC"), out.Superseded)
			fmt.Fprintf(a.stdout, "Kept the checkpoint in %s\n", stateDir)
			a.printVerifyNotes(fresh)
		} else {
			fmt.Fprintln(a.stdout, "\nThe log as it is now does not verify on its own either:")
			a.printVerifyReport(fresh, nil, stateDir)
		}
	}
	if !out.Accepted {
		return fmt.Errorf("the audit log of %s did NOT verify on its own: nothing accepted; the checkpoint kept in %s is unchanged", tenant, stateDir)
	}
	return nil
}

// printVerifyNotes prints what the report notes without failing (a
// setting that weakens the signed-decision check was changed): shown by
// the run that first checks the record, so nobody misses it.
func (a *app) printVerifyNotes(r *auditlog.Report) {
	for _, n := range r.Notes {
		fmt.Fprintf(a.stdout, "NOTE [%s] %s\n", n.Kind, sanitize(n.Message))
	}
}

func (a *app) printVerifyReport(r *auditlog.Report, prev *auditlog.State, stateDir string) {
	w := a.stdout
	defer a.printVerifyNotes(r) // last, whether it verified or not
	if !r.OK() {
		fmt.Fprintf(w, "Audit log of %s: VERIFICATION FAILED\n", sanitize(r.Log))
		kinds := []string{}
		for _, p := range r.Problems {
			if !slices.Contains(kinds, p.Kind) {
				kinds = append(kinds, p.Kind)
			}
			for i, line := range strings.Split(p.Message, "\n") {
				prefix := "  - [" + p.Kind + "] "
				if i > 0 {
					prefix = "      "
				}
				fmt.Fprintln(w, prefix+sanitize(line))
			}
		}
		return
	}
	cp := r.Checkpoint
	fmt.Fprintf(w, "Audit log of %s verified: %d records, root %x…, origin %s.\n", sanitize(r.Log), cp.Size, cp.RootHash[:8], sanitize(cp.Origin))
	if r.Cosignatures > 0 {
		fmt.Fprintf(w, "The checkpoint carries %d witness cosignature(s) from the witnesses you trust: they saw this same history.\n", r.Cosignatures)
	}
	switch {
	case prev == nil:
		fmt.Fprintln(w, "First verification: the log is complete and signed; from now on any rewrite of these records will be detected.")
	case r.Incremental:
		fmt.Fprintf(w, "The log only grew since you last verified it on %s (%d → %d records): no earlier record changed; checked the %d new records (--full checks all).\n",
			prev.VerifiedAt.Format("2006-01-02 15:04 UTC"), r.PreviousSize, r.Size, r.Checked)
	default:
		fmt.Fprintf(w, "The log only grew since you last verified it on %s (%d → %d records): no earlier record changed; checked all %d records.\n",
			prev.VerifiedAt.Format("2006-01-02 15:04 UTC"), r.PreviousSize, r.Size, r.Checked)
	}
	if r.KeyTrustedOnFirstUse {
		fmt.Fprintf(w, "Trusted the server's key on first use: %s\n(compare it with the key your provider gave you; later runs hold the server to it).\n", sanitize(r.State.Key))
	}
	fmt.Fprintf(w, "Kept the checkpoint in %s\n", stateDir)
}
