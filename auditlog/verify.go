package auditlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
)

// Source is what the verifier reads from a Lockbox server: the Go client
// over HTTP, or an AuditService directly. Nothing it returns is trusted.
type Source interface {
	LogKey(ctx context.Context) (string, error)
	Checkpoint(ctx context.Context, log string) (*lockbox.Checkpoint, error)
	LogEntries(ctx context.Context, log string, start, end int64) ([]lockbox.LogEntry, error)
	ConsistencyProof(ctx context.Context, log string, oldSize, newSize int64) ([][32]byte, error)
}

// Problem kinds, stable for scripts (`lockbox audit verify -o json`).
const (
	ProblemUnknownKey   = "unknown_key"   // checkpoint signed by a key not trusted
	ProblemBadSignature = "bad_signature" // trusted key, invalid signature: altered or forged
	ProblemMalformed    = "malformed"     // not a checkpoint
	ProblemWrongOrigin  = "wrong_origin"  // a checkpoint of another log
	ProblemBadEntry     = "bad_entry"     // an entry missing, out of place or not a canonical record
	ProblemRootMismatch = "root_mismatch" // the entries do not hash to the signed root
	ProblemChanged      = "changed"       // a record verified before has different content
	ProblemDeleted      = "deleted"       // a record verified before is gone
	ProblemInserted     = "inserted"      // a record appeared inside history verified before
	ProblemMoved        = "moved"         // records verified before are in another order
	ProblemTruncated    = "truncated"     // the log is shorter than when verified before
	ProblemRolledBack   = "rolled_back"   // history after some point was replaced
	ProblemFork         = "fork"          // the signed checkpoint does not extend the one verified before
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
	// KeyName names the key the checkpoint was checked against.
	KeyName string `json:"-"`
	// SignatureOnly is set when the log was larger than Options.MaxEntries:
	// the signature was checked, the entries were not read.
	SignatureOnly bool `json:"-"`
	// State is what to keep for the next run; nil unless OK, and after a
	// glance (Options.RootOnly, Options.MaxEntries).
	State *State `json:"-"`
}

// OK reports whether the log verified.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) add(kind string, index int64, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Kind: kind, Index: index, Message: fmt.Sprintf(format, args...)})
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

	// A glance keeps nothing and compares with no earlier state (prev must
	// be nil): the admin center's look at the latest checkpoint on every
	// page view. RootOnly hashes the entries to check the signed root
	// without checking each record's form or building State; MaxEntries,
	// when > 0, bounds the entries read: a larger log gets its signature
	// checked only (Report.SignatureOnly).
	RootOnly   bool
	MaxEntries int64
}

func (o Options) glance() bool { return o.RootOnly || o.MaxEntries > 0 }

// maxReported bounds the problems of one kind listed one by one.
const maxReported = 20

// Verify checks log on src against prev, the state kept from the last run
// (nil on the first). It returns an error only when src cannot be read;
// everything wrong with the log itself is a Problem in the report.
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
	raw, err := src.Checkpoint(ctx, log)
	if err != nil {
		return nil, fmt.Errorf("fetch checkpoint: %w", err)
	}
	cp, ok := r.checkCheckpoint(raw.Note, verifier, log, prev)
	if !ok {
		return r, nil
	}
	r.Checkpoint, r.Size = cp, cp.Size
	if opts.MaxEntries > 0 && cp.Size > opts.MaxEntries {
		r.SignatureOnly = true
		return r, nil
	}
	tree, leaves, complete, err := fetchEntries(ctx, src, log, cp.Size, r, opts)
	if err != nil {
		return nil, err
	}
	if complete && tree.root(cp.Size) != cp.RootHash {
		if err := r.locateMismatch(ctx, src, log, cp, tree); err != nil {
			return nil, err
		}
	}
	if prev != nil {
		if err := r.compare(ctx, src, log, cp, prev, tree, leaves, complete); err != nil {
			return nil, err
		}
	}
	if r.OK() && !opts.glance() {
		r.State = newState(verifier, cp, leaves, opts.Now)
	}
	return r, nil
}

// newState is what the next run compares with: the trusted key, the
// checkpoint and every leaf.
func newState(v *trusted, cp *lockbox.Checkpoint, leaves []Leaf, clock func() time.Time) *State {
	if clock == nil {
		clock = time.Now
	}
	return &State{Key: v.key, Origin: cp.Origin, Checkpoint: string(cp.Note), VerifiedAt: clock().UTC(), Leaves: leaves}
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

// fetchEntries reads every entry of the checkpoint's tree, checking each is
// the canonical record it claims to be at its place (unless opts.RootOnly),
// and rebuilds the tree. complete is false when the entries could not all
// be placed.
func fetchEntries(ctx context.Context, src Source, log string, size int64, r *Report, opts Options) (*memTree, []Leaf, bool, error) {
	tree := &memTree{}
	var leaves []Leaf
	if !opts.RootOnly {
		leaves = make([]Leaf, 0, size)
	}
	bad := 0
	for next := int64(0); next < size; {
		page, err := src.LogEntries(ctx, log, next, size)
		if err != nil {
			return nil, nil, false, fmt.Errorf("fetch entries from %d: %w", next, err)
		}
		if len(page) == 0 {
			r.add(ProblemBadEntry, next, "The checkpoint covers %d records but the server returned only %d: records %d to %d are missing.", size, next, next, size-1)
			return tree, leaves, false, nil
		}
		for _, e := range page {
			if e.Index != next {
				r.add(ProblemBadEntry, next, "Record %d is missing from the entries: the server returned record %d in its place.", next, e.Index)
				return tree, leaves, false, nil
			}
			if !opts.RootOnly {
				leaf, msg := checkEntry(log, e)
				if msg != "" {
					if bad++; bad <= maxReported {
						r.add(ProblemBadEntry, e.Index, "Record %d: %s.", e.Index, msg)
					}
				}
				leaves = append(leaves, leaf)
			}
			if err := tree.append(e.Index, e.Data); err != nil {
				return nil, nil, false, err
			}
			next++
			if next == size {
				break
			}
		}
		if opts.Progress != nil {
			opts.Progress(next, size)
		}
	}
	if bad > maxReported {
		r.add(ProblemBadEntry, -1, "%d more records are not valid (first %d listed).", bad-maxReported, maxReported)
	}
	return tree, leaves, true, nil
}

// checkEntry checks that e is a canonical record of log claiming index
// e.Index, and returns what the next run compares it by.
func checkEntry(log string, e lockbox.LogEntry) (Leaf, string) {
	rec, err := lockbox.ParseAuditRecord(e.Data)
	if err != nil {
		return Leaf{Content: digest(e.Data)}, "not an audit record (" + err.Error() + ")"
	}
	leaf := Leaf{ID: rec.ID}
	canon, err := rec.Canonical()
	if err != nil || !bytes.Equal(canon, e.Data) {
		leaf.Content = digest(e.Data)
		return leaf, "not in canonical form"
	}
	claimed := rec.Index
	rec.Index = 0
	content, _ := rec.Canonical()
	leaf.Content = digest(content)
	switch {
	case claimed != e.Index:
		return leaf, fmt.Sprintf("says it is record %d (id %s): records were moved, inserted or deleted", claimed, rec.ID)
	case rec.Tenant != log:
		return leaf, fmt.Sprintf("belongs to log %q, not %q", rec.Tenant, log)
	}
	return leaf, ""
}

func digest(b []byte) [16]byte {
	s := sha256.Sum256(b)
	return [16]byte(s[:16])
}

// locateMismatch finds the first entry that breaks the signed root: the
// smallest prefix whose locally computed root the server cannot prove to be
// a prefix of the signed tree. Proofs are checked, never trusted, so a lying
// server can only make the answer less precise, not hide the mismatch.
func (r *Report) locateMismatch(ctx context.Context, src Source, log string, cp *lockbox.Checkpoint, tree *memTree) error {
	consistent := func(m int64) (bool, error) {
		p, err := src.ConsistencyProof(ctx, log, m, cp.Size)
		if err != nil {
			return false, fmt.Errorf("fetch consistency proof %d→%d: %w", m, cp.Size, err)
		}
		return tlog.CheckTree(treeProof(p), cp.Size, cp.RootHash, m, tree.root(m)) == nil, nil
	}
	lo, hi := int64(1), cp.Size // the first inconsistent prefix is in [lo, hi]
	for lo < hi {
		mid := lo + (hi-lo)/2
		ok, err := consistent(mid)
		if err != nil {
			return err
		}
		if ok {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	r.add(ProblemRootMismatch, lo-1, "The entries do not hash to the signed checkpoint (size %d): record %d is the first that differs from what was logged — it was changed, inserted, deleted or moved after it was written.", cp.Size, lo-1)
	return nil
}

func treeProof(hs [][32]byte) tlog.TreeProof {
	out := make(tlog.TreeProof, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out
}
