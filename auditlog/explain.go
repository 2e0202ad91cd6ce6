package auditlog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
)

// explain runs when the streaming pass found something that does not
// match: it reads the whole log again, keeping every record's id and hash
// (some 60 bytes a record), locates the first record that breaks the
// signed root and holds the log to the records kept by the last run, to
// tell a person precisely what was rewritten. A log that verifies never
// comes here, so only a broken log costs memory per record.
func explain(ctx context.Context, src Source, log string, prev *State, verifier *trusted, cp *lockbox.Checkpoint, head *Report, opts Options) (*Report, error) {
	r := &Report{Log: log, PreviousSize: head.PreviousSize, KeyTrustedOnFirstUse: head.KeyTrustedOnFirstUse,
		KeyName: head.KeyName, Checkpoint: cp, Size: cp.Size}
	tree, leaves, complete, err := fetchEntries(ctx, src, log, cp.Size, r, opts)
	if err != nil {
		return nil, err
	}
	r.Checked = int64(len(tree.hashes))
	if complete && tree.root(cp.Size) != cp.RootHash {
		if err := r.locateMismatch(ctx, src, log, cp, tree); err != nil {
			return nil, err
		}
	}
	if prev != nil {
		was, err := prev.leaves()
		if err != nil {
			return nil, err
		}
		if err := r.compare(ctx, src, log, cp, prev, was, tree, leaves, complete); err != nil {
			return nil, err
		}
	}
	if r.OK() && !opts.glance() {
		// Only when the stream was cut short by a server that answers
		// differently from one request to the next: keep the edge.
		var head Head
		for i := range cp.Size {
			h, _ := tree.ReadHashes([]int64{tlog.StoredHashIndex(0, i)})
			head.AppendHash(h[0])
		}
		r.State = &State{Key: verifier.key, Origin: cp.Origin, Checkpoint: string(cp.Note), VerifiedAt: now(opts.Now), Edge: head.Edge}
	}
	return r, nil
}

func now(clock func() time.Time) time.Time {
	if clock == nil {
		clock = time.Now
	}
	return clock().UTC()
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
	pages := newPager(src, log, size)
	defer pages.close()
	for next := int64(0); next < size; {
		page, _, err := pages.page(ctx, next)
		if bb := (*badBundle)(nil); errors.As(err, &bb) {
			r.add(ProblemBadEntry, next, "Records from %d could not be read: %v.", next, bb)
			return tree, leaves, false, nil
		}
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

// checkEntry is checkLeaf, and what a run compares the record by: its id
// and its leaf hash.
func checkEntry(log string, e lockbox.LogEntry) (Leaf, string) {
	id, _, msg := checkLeaf(log, e)
	h := tlog.RecordHash(e.Data)
	return Leaf{ID: string(id), Content: [16]byte(h[:16])}, msg
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
