package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
)

// errInconsistent ends the monitor: the log failed verification.
var errInconsistent = errors.New("the audit log did NOT verify")

// errUnwitnessed: the checkpoint lacks the witness quorum. It is not
// accepted (nothing kept, no record shown) and checked again at the next
// interval, since cosignatures follow an append by a moment.
var errUnwitnessed = errors.New("the checkpoint is not cosigned by the witness quorum")

func (a *app) auditMonitorCmd() *cobra.Command {
	var (
		tenant, trustKey, stateDir string
		interval                   time.Duration
		once, all                  bool
	)
	cmd := &cobra.Command{
		Use:   "monitor",
		Short: "Follow a tenant's audit log, verify every new record, print what matters",
		Long: `Follow a tenant's audit log: at every interval, verify the new signed checkpoint
against the one kept (the same state as audit verify: consistency, every new
record canonical and in its place, the root), then print the new records a
customer wants to see — operator actions and blocked attempts, refused
decisions, settings, roles and webhooks (--all: every record).

Exits 1 at once on any inconsistency, printing what was found. A server that
cannot be reached is reported on stderr and tried again at the next interval
(with --once it is an error). -o json writes one JSON object a line for SIEM
pipelines: {"type":"record","index":N,"record":{…canonical record…}},
{"type":"checkpoint","size":N,"checked":K,"previous_size":P} and, before
exiting 1, {"type":"problem","kind":…,"index":…,"message":…}.

--witness VKEY … --witness-quorum N (as audit verify) accepts only checkpoints
cosigned by N of those witnesses. One without that quorum is not accepted:
nothing is kept or shown, it is reported on stderr (-o json: a
{"type":"unwitnessed","size":N,"cosignatures":K,"quorum":Q,"message":…}
line) and checked again at the next interval, since the cosignatures follow
an append by a moment; with --once it exits 1.`,
		Args: exactArgs(),
	}
	fl := cmd.Flags()
	fl.StringVar(&tenant, "tenant", "", "the tenant whose log to follow (default: your own, if you belong to one; provider: the provider's log)")
	fl.StringVar(&trustKey, "trust-key", "", "the verifier key to hold the server to (default: the one kept from the last run)")
	fl.StringVar(&stateDir, "state-dir", "", "where the last verified checkpoint is kept (default: as audit verify)")
	fl.DurationVar(&interval, "interval", time.Minute, "time between two checks")
	fl.BoolVar(&once, "once", false, "check once and exit")
	fl.BoolVar(&all, "all", false, "print every new record, not only those that matter most")
	witnesses := addWitnessFlags(cmd)
	format := addOutputFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := a.ownTenant(cmd, &tenant); err != nil {
			return err
		}
		if interval < time.Second {
			return usageErrorf("--interval %s: at least 1s", interval)
		}
		if err := witnesses.check(); err != nil {
			return err
		}
		c, stateDir, err := a.keptLog(tenant, stateDir)
		if err != nil {
			return err
		}
		m := &monitor{a: a, c: c, tenant: tenant, stateDir: stateDir, trustKey: trustKey, all: all, json: format.value == formatJSON,
			witnesses: *witnesses}
		return m.run(cmd.Context(), interval, once)
	}
	return cmd
}

type monitor struct {
	a                          *app
	c                          auditAPI
	tenant, stateDir, trustKey string
	all, json                  bool
	witnesses                  witnessFlags
}

// run checks now, then every interval until ctx ends (or once).
func (m *monitor) run(ctx context.Context, interval time.Duration, once bool) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		err := m.check(ctx)
		switch {
		case errors.Is(err, errInconsistent), once && err != nil:
			return err
		case err != nil:
			fmt.Fprintf(m.a.stderr, "audit monitor: %v (trying again in %s)\n", err, interval)
		}
		if once {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// check verifies what was added since the kept state and prints it.
func (m *monitor) check(ctx context.Context) error {
	prev, err := auditlog.LoadState(m.stateDir)
	if err != nil {
		return err
	}
	var printErr error
	each := func(index int64, leaf []byte) {
		if printErr == nil {
			printErr = m.record(index, leaf)
		}
	}
	r, err := auditlog.Verify(ctx, m.c, m.tenant, prev, auditlog.Options{TrustedKey: m.trustKey, StateDir: m.stateDir, Each: each,
		Witnesses: m.witnesses.keys, WitnessQuorum: m.witnesses.quorum})
	if err != nil {
		return err
	}
	if printErr != nil {
		return printErr
	}
	if len(r.Problems) == 1 && r.Problems[0].Kind == auditlog.ProblemNoQuorum {
		return m.unwitnessed(r)
	}
	if !r.OK() {
		m.problems(r)
		return fmt.Errorf("%w: %d problem(s) in the log of %s; the checkpoint kept in %s is unchanged", errInconsistent, len(r.Problems), m.tenant, m.stateDir)
	}
	if err := auditlog.SaveState(m.stateDir, r.State); err != nil {
		return err
	}
	if m.json {
		return writeJSONLine(m.a.stdout, map[string]any{"type": "checkpoint", "size": r.Size, "checked": r.Checked, "previous_size": r.PreviousSize})
	}
	_, err = fmt.Fprintf(m.a.stdout, "%s  checkpoint %d records (%d new, all verified)\n", time.Now().UTC().Format(time.RFC3339), r.Size, r.Checked)
	return err
}

// record prints one verified record if it matters (or --all).
func (m *monitor) record(index int64, leaf []byte) error {
	h, err := lockbox.CheckCanonical(leaf)
	if err != nil || (!m.all && !auditlog.Notable(string(h.Operation))) {
		return nil
	}
	if m.json {
		return writeJSONLine(m.a.stdout, map[string]any{"type": "record", "index": index, "record": json.RawMessage(leaf)})
	}
	rec, err := lockbox.ParseAuditRecord(leaf)
	if err != nil {
		return err
	}
	details, _ := json.Marshal(rec.AuditData)
	_, err = fmt.Fprintf(m.a.stdout, "%s  %s  %s  %s  #%d  %s\n", rec.Time.UTC().Format(lockbox.AuditTimeFormat),
		sanitize(rec.Operation), sanitize(orDash(rec.UserID)), sanitize(orDash(reference(rec))), index, sanitize(string(details)))
	return err
}

// unwitnessed reports a checkpoint without the witness quorum (JSON
// readers get a line of it) and returns errUnwitnessed.
func (m *monitor) unwitnessed(r *auditlog.Report) error {
	quorum := m.witnesses.quorum
	if quorum == 0 {
		quorum = len(m.witnesses.keys)
	}
	if m.json {
		if err := writeJSONLine(m.a.stdout, map[string]any{"type": "unwitnessed", "size": r.Size, "cosignatures": r.Cosignatures,
			"quorum": quorum, "message": r.Problems[0].Message}); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w (%d of %d) at size %d; the checkpoint kept in %s is unchanged", errUnwitnessed, r.Cosignatures, quorum, r.Size, m.stateDir)
}

func (m *monitor) problems(r *auditlog.Report) {
	if !m.json {
		m.a.printVerifyReport(r, nil, m.stateDir)
		return
	}
	for _, p := range r.Problems {
		_ = writeJSONLine(m.a.stdout, map[string]any{"type": "problem", "kind": p.Kind, "index": p.Index, "message": p.Message})
	}
}

func writeJSONLine(w interface{ Write([]byte) (int, error) }, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
