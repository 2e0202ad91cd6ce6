package auditlog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/lockboxhq/lockbox"
)

// Source is what the verifier reads from a Lockbox server: the Go client
// over HTTP, or an AuditService directly. Nothing it returns is trusted. A
// Source that is also a TileReader is read through its entry bundles.
type Source interface {
	LogKey(ctx context.Context) (string, error)
	Checkpoint(ctx context.Context, log string) (*lockbox.Checkpoint, error)
	LogEntries(ctx context.Context, log string, start, end int64) ([]lockbox.LogEntry, error)
	ConsistencyProof(ctx context.Context, log string, oldSize, newSize int64) ([][32]byte, error)
}

// Problem kinds, stable for scripts (`lockbox audit verify -o json`).
const (
	ProblemUnknownKey   = "unknown_key"    // checkpoint signed by a key not trusted
	ProblemBadSignature = "bad_signature"  // trusted key, invalid signature: altered or forged
	ProblemMalformed    = "malformed"      // not a checkpoint
	ProblemWrongOrigin  = "wrong_origin"   // a checkpoint of another log
	ProblemBadEntry     = "bad_entry"      // an entry missing, out of place or not a canonical record
	ProblemRootMismatch = "root_mismatch"  // the entries do not hash to the signed root
	ProblemChanged      = "changed"        // a record verified before has different content
	ProblemDeleted      = "deleted"        // a record verified before is gone
	ProblemInserted     = "inserted"       // a record appeared inside history verified before
	ProblemMoved        = "moved"          // records verified before are in another order
	ProblemTruncated    = "truncated"      // the log is shorter than when verified before
	ProblemRolledBack   = "rolled_back"    // history after some point was replaced
	ProblemFork         = "fork"           // the signed checkpoint does not extend the one verified before
	ProblemNoQuorum     = "witness_quorum" // fewer valid witness cosignatures than required
)

// Problem is one thing wrong with the log, for a person (Message) and a
// script (Kind, Index: the record index concerned, or -1).
type Problem struct {
	Kind    string `json:"kind"`
	Index   int64  `json:"index"`
	Message string `json:"message"`
}

// Report is the outcome of one verification.
type Report struct {
	Log string `json:"log"`
	// Checkpoint is the server's checkpoint, when its signature verified.
	Checkpoint *lockbox.Checkpoint `json:"-"`
	Size       int64               `json:"size"`
	// PreviousSize is the size verified on the last run; -1 on a first run.
	PreviousSize int64 `json:"previous_size"`
	// KeyTrustedOnFirstUse is set when no key was pinned or saved, so the
	// server's own key was trusted: later runs hold the server to it.
	KeyTrustedOnFirstUse bool      `json:"key_trusted_on_first_use"`
	Problems             []Problem `json:"problems"`
	// Notes are records the reader should know of that are not problems:
	// a legitimate change can explain them (decisions.go: signing turned
	// off). They never fail the verification, so they are shown once, by
	// the run that first checks their record (and again by --full).
	Notes []Problem `json:"notes,omitempty"`
	// KeyName names the key the checkpoint was checked against.
	KeyName string `json:"-"`
	// SignatureOnly is set when the log was larger than Options.MaxEntries:
	// the signature was checked, the entries were not read.
	SignatureOnly bool `json:"-"`
	// State is what to keep for the next run; nil unless OK, and after a
	// glance (Options.RootOnly, Options.MaxEntries).
	State *State `json:"-"`
	// Checked is how many records this run downloaded and checked: those
	// added since the kept state (an incremental run), or all of them.
	Checked int64 `json:"checked"`
	// Incremental is set when the run started from the kept right edge.
	Incremental bool `json:"incremental"`
	// Cosignatures is how many trusted witnesses cosigned the checkpoint
	// (when Options.Witnesses was given).
	Cosignatures int `json:"cosignatures,omitempty"`
}

// OK reports whether the log verified.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) add(kind string, index int64, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Kind: kind, Index: index, Message: fmt.Sprintf(format, args...)})
}

func (r *Report) note(kind string, index int64, format string, args ...any) {
	r.Notes = append(r.Notes, Problem{Kind: kind, Index: index, Message: fmt.Sprintf(format, args...)})
}

// Options tune Verify.
type Options struct {
	// TrustedKey, when set, is the verifier key to hold the server to,
	// instead of the one saved by the last run.
	TrustedKey string
	// Progress, when set, is told how many entries of how many were read.
	Progress func(done, total int64)
	// Now stamps the saved state; default time.Now.
	Now func() time.Time
	// Full checks every record again, instead of those added since the
	// kept state. The kept state is still held to: the log must extend it.
	Full bool
	// StateDir, when set, is where the records of this run are kept for
	// the next run to explain a rewrite with (which records changed, moved
	// or vanished). Without it a rewrite is still detected, less precisely.
	// The kept state there is not replaced until SaveState.
	StateDir string
	// Each, when set, is shown every record this run checked and found
	// canonical and in its place, in index order (the monitor prints the
	// ones a customer wants to see). leaf is only valid during the call.
	// A record shown may still belong to a log that fails as a whole.
	Each func(index int64, leaf []byte)

	// A glance keeps nothing and compares with no earlier state (prev must
	// be nil): the admin center's look at the latest checkpoint on every
	// page view. RootOnly hashes the entries to check the signed root
	// without checking each record's form or building State; MaxEntries,
	// when > 0, bounds the entries read: a larger log gets its signature
	// checked only (Report.SignatureOnly).
	RootOnly   bool
	MaxEntries int64

	// Witnesses are the cosignature verifier keys of witnesses the reader
	// trusts (c2sp.org/tlog-cosignature); a checkpoint without
	// WitnessQuorum valid cosignatures among them is refused (default: all).
	Witnesses     []string
	WitnessQuorum int
}

func (o Options) glance() bool { return o.RootOnly || o.MaxEntries > 0 }

// maxReported bounds the problems of one kind listed one by one.
const maxReported = 20

// Verify checks log on src against prev, the state kept from the last run
// (nil on the first). It returns an error only when src cannot be read;
// everything wrong with the log itself is a Problem in the report.
//
// It streams: memory does not grow with the log. With a kept state it
// downloads only the records added since (unless Options.Full), extending
// the kept right edge of the tree; a root that then matches the signed
// checkpoint proves the log only grew. When anything does not match, it
// reads the whole log again to say precisely what happened (explain.go);
// only that path holds a record list in memory.
func Verify(ctx context.Context, src Source, log string, prev *State, opts Options) (*Report, error) {
	if prev != nil && opts.glance() {
		return nil, errors.New("auditlog: RootOnly and MaxEntries are for a glance, without an earlier state")
	}
	r := &Report{Log: log, PreviousSize: -1}
	if prev != nil {
		r.PreviousSize = prev.Size()
	}
	verifier, err := trustedVerifier(ctx, src, prev, opts, r)
	if err != nil {
		return nil, err
	}
	r.KeyName = verifier.Name()
	pages := newPager(src, log, 0)
	defer pages.close()
	pages.checkLeaves(opts.RootOnly)
	if prev != nil && !opts.Full {
		// The records since the kept edge, asked for with the checkpoint.
		pages.streamAhead(ctx, prev.Size()>>TileHeight)
	}
	raw, err := src.Checkpoint(ctx, log)
	if err != nil {
		return nil, fmt.Errorf("fetch checkpoint: %w", err)
	}
	cp, ok := r.checkCheckpoint(raw.Note, verifier, log, prev)
	if !ok {
		return r, nil
	}
	r.Checkpoint, r.Size = cp, cp.Size
	if len(opts.Witnesses) > 0 {
		if ok, err := r.checkCosignatures(raw.Note, opts); err != nil {
			return nil, err
		} else if !ok {
			return r, nil
		}
	}
	if opts.MaxEntries > 0 && cp.Size > opts.MaxEntries {
		r.SignatureOnly = true
		return r, nil
	}
	pages.sized(cp.Size)
	s, err := r.stream(ctx, pages, log, cp, prev, opts)
	if err != nil {
		return nil, err
	}
	if s.explain {
		return explain(ctx, src, log, prev, verifier, cp, r, opts)
	}
	if r.OK() && !opts.glance() {
		r.State = s.state(verifier, cp, opts.Now)
	}
	return r, nil
}

// streamed is the outcome of one streaming pass.
type streamed struct {
	head   Head        // the tree of the entries checked so far
	leaves *leafWriter // nil when no records are kept
	// decisions checks signed decisions record by record (decisions.go);
	// nil when records are not checked (RootOnly).
	decisions *Decisions
	explain   bool // something does not match: explain it
}

func (s *streamed) state(v *trusted, cp *lockbox.Checkpoint, clock func() time.Time) *State {
	if clock == nil {
		clock = time.Now
	}
	st := &State{Key: v.key, Origin: cp.Origin, Checkpoint: string(cp.Note), VerifiedAt: clock().UTC(), Edge: s.head.Edge,
		Decisions: s.decisions}
	if s.leaves != nil {
		st.Records, st.RecordsBytes, st.pending = s.leaves.count, s.leaves.bytes, s.leaves.pending
	}
	return st
}

// stream checks the entries from the kept right edge (or from 0) to the
// checkpoint's size, each canonical and in its place, and the root.
func (r *Report) stream(ctx context.Context, pages *pager, log string, cp *lockbox.Checkpoint, prev *State, opts Options) (*streamed, error) {
	s := &streamed{}
	var old *lockbox.Checkpoint
	if prev != nil {
		var err error
		if old, err = prev.checkpoint(); err != nil {
			return nil, fmt.Errorf("the saved checkpoint is damaged (delete the state to start over): %w", err)
		}
		if cp.Size < old.Size || (cp.Size == old.Size && cp.RootHash != old.RootHash) {
			s.explain = true
			return s, nil
		}
		if h, ok := prev.head(old); ok && !opts.Full {
			s.head, r.Incremental = h, true
		}
	}
	if !opts.RootOnly {
		var kept *Decisions
		if r.Incremental {
			kept = prev.Decisions // the passkeys registered before the kept edge
		}
		s.decisions = kept.clone()
	}
	if opts.StateDir != "" && !opts.glance() {
		lw, err := openLeafWriter(opts.StateDir, prev, s.head.Size)
		if err != nil {
			return nil, err
		}
		s.leaves = lw
	}
	bad := 0
	start := s.head.Size
	for next := start; next < cp.Size; {
		page, checks, err := pages.page(ctx, next)
		if bb := (*badBundle)(nil); errors.As(err, &bb) {
			r.add(ProblemBadEntry, next, "Records from %d could not be read: %v.", next, bb)
			s.leaves.abort()
			return s, nil
		}
		if err != nil {
			s.leaves.abort()
			return nil, fmt.Errorf("fetch entries from %d: %w", next, err)
		}
		if len(page) == 0 || page[0].Index != next {
			s.explain = true // a record is missing: explain says which
			s.leaves.abort()
			return s, nil
		}
		for i, e := range page {
			if e.Index != next {
				s.explain = true
				s.leaves.abort()
				return s, nil
			}
			var c leafCheck
			if checks != nil {
				c = checks[i] // worked out by the fetcher
			} else {
				c = checkOf(log, e, opts.RootOnly)
			}
			h := c.hash
			if !opts.RootOnly {
				id, op, msg := c.id, c.op, c.problem
				if msg != "" {
					if bad++; bad <= maxReported {
						r.add(ProblemBadEntry, e.Index, "Record %d: %s.", e.Index, msg)
					}
				}
				if err := s.leaves.add(id, h); err != nil {
					return nil, err
				}
				if msg == "" && opts.Each != nil {
					opts.Each(e.Index, e.Data)
				}
				if msg == "" {
					s.decisions.checkOp(r, e.Index, op, e.Data)
				}
			}
			s.head.AppendHash(h)
			next++
			if old != nil && next == old.Size && s.head.Root() != old.RootHash {
				s.explain = true // the history verified before was rewritten
				s.leaves.abort()
				return s, nil
			}
			if next == cp.Size {
				break
			}
		}
		if opts.Progress != nil {
			opts.Progress(next-start, cp.Size-start)
		}
	}
	r.Checked = cp.Size - start
	if bad > maxReported {
		r.add(ProblemBadEntry, -1, "%d more records are not valid (first %d listed).", bad-maxReported, maxReported)
	}
	if s.head.Root() != cp.RootHash {
		s.explain = true
		s.leaves.abort()
		return s, nil
	}
	if err := s.leaves.finish(); err != nil {
		return nil, err
	}
	return s, nil
}

// checkLeaf checks that e is a canonical record of log claiming index
// e.Index, in one pass over its bytes, and returns its id.
func checkLeaf(log string, e lockbox.LogEntry) (id, op []byte, msg string) {
	h, err := lockbox.CheckCanonical(e.Data)
	switch {
	case err != nil:
		rec, perr := lockbox.ParseAuditRecord(e.Data)
		if perr != nil {
			return nil, nil, "not an audit record (" + perr.Error() + ")"
		}
		return []byte(rec.ID), []byte(rec.Operation), "not in canonical form"
	case h.Index != e.Index:
		return h.ID, h.Operation, fmt.Sprintf("says it is record %d (id %s): records were moved, inserted or deleted", h.Index, h.ID)
	case string(h.Tenant) != log:
		return h.ID, h.Operation, fmt.Sprintf("belongs to log %q, not %q", h.Tenant, log)
	}
	return h.ID, h.Operation, ""
}

type trusted struct {
	key string
	note.Verifier
}

// trustedVerifier picks the key to hold the server to: the one given, else
// the one saved, else (first use) the server's own.
func trustedVerifier(ctx context.Context, src Source, prev *State, opts Options, r *Report) (*trusted, error) {
	key := opts.TrustedKey
	if key == "" && prev != nil {
		key = prev.Key
	}
	if key == "" {
		k, err := src.LogKey(ctx)
		if err != nil {
			return nil, fmt.Errorf("fetch the log key: %w", err)
		}
		key, r.KeyTrustedOnFirstUse = strings.TrimSpace(k), true
	}
	v, err := note.NewVerifier(key)
	if err != nil {
		return nil, fmt.Errorf("verifier key %q is not a note verifier key: %w", key, err)
	}
	return &trusted{key: key, Verifier: v}, nil
}

// checkCheckpoint verifies the signature and the origin.
func (r *Report) checkCheckpoint(msg []byte, v *trusted, log string, prev *State) (*lockbox.Checkpoint, bool) {
	cp, err := OpenCheckpoint(msg, note.VerifierList(v))
	switch {
	case errors.Is(err, ErrUnknownKey):
		r.add(ProblemUnknownKey, -1, "The checkpoint is not signed by the key you trust (%s): %v. If the provider rotated its key, confirm the new key with them out of band, then run again with --trust-key.", v.Name(), err)
	case errors.Is(err, ErrBadSignature):
		r.add(ProblemBadSignature, -1, "The checkpoint's signature does not verify with the trusted key: it was altered or forged. %v", err)
	case err != nil:
		r.add(ProblemMalformed, -1, "The server's checkpoint is not a valid signed checkpoint: %v", err)
	}
	if err != nil {
		return nil, false
	}
	want := ""
	if prev != nil {
		want = prev.Origin
	}
	if (want != "" && cp.Origin != want) || (want == "" && !strings.HasSuffix(cp.Origin, "/"+log)) {
		r.add(ProblemWrongOrigin, -1, "The checkpoint is for log %q, not for %s's log%s.", cp.Origin, log, map[bool]string{true: " (" + want + ")", false: ""}[want != ""])
		return nil, false
	}
	return cp, true
}

// checkCosignatures counts the valid cosignatures of the trusted witnesses.
func (r *Report) checkCosignatures(msg []byte, opts Options) (bool, error) {
	var vs []note.Verifier
	var names []string
	for _, k := range opts.Witnesses {
		v, err := NewCosignatureVerifier(strings.TrimSpace(k))
		if err != nil {
			return false, err
		}
		vs, names = append(vs, v), append(names, v.Name())
	}
	quorum := opts.WitnessQuorum
	if quorum <= 0 || quorum > len(vs) {
		quorum = len(vs)
	}
	r.Cosignatures = CountCosignatures(msg, vs)
	if r.Cosignatures < quorum {
		r.add(ProblemNoQuorum, -1, "The checkpoint carries %d valid cosignature(s) of the witnesses you trust (%s), fewer than the %d required: no quorum of independent witnesses has seen this history, so it may be a view shown only to you. (Right after an append the witnesses may lag by a second or two: run again; if it persists, compare with other readers.)",
			r.Cosignatures, strings.Join(names, ", "), quorum)
		return false, nil
	}
	return true, nil
}
