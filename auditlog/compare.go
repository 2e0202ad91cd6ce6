package auditlog

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
)

// compare holds the new checkpoint and entries to the state verified last
// time: the signed trees must be consistent (a cryptographic proof from the
// server, checked here), the entries must start with the same history, and
// when they do not, the kept record list says precisely what changed.
func (r *Report) compare(ctx context.Context, src Source, log string, cp *lockbox.Checkpoint, prev *State, was []Leaf, tree *memTree, leaves []Leaf, complete bool) error {
	old, err := prev.checkpoint()
	if err != nil {
		return fmt.Errorf("the saved checkpoint is damaged (delete the state to start over): %w", err)
	}
	before := len(r.Problems)
	switch {
	case cp.Size < old.Size:
		r.add(ProblemTruncated, cp.Size, "The log shrank: it had %d records when you verified it on %s, now the signed checkpoint says %d: records were removed or the log was rolled back.",
			old.Size, prev.VerifiedAt.Format("2006-01-02 15:04 UTC"), cp.Size)
	case cp.Size == old.Size && cp.RootHash != old.RootHash:
		r.add(ProblemFork, -1, "Two signed checkpoints for the same size %d have different root hashes: the history you verified was rewritten. Keep both checkpoints as evidence:\n%s\n%s", cp.Size, prev.Checkpoint, cp.Note)
	case cp.Size > old.Size && old.Size > 0:
		p, err := src.ConsistencyProof(ctx, log, old.Size, cp.Size)
		if err != nil {
			return fmt.Errorf("fetch consistency proof %d→%d: %w", old.Size, cp.Size, err)
		}
		if tlog.CheckTree(treeProof(p), cp.Size, cp.RootHash, old.Size, old.RootHash) != nil {
			r.add(ProblemFork, -1, "The server cannot prove that its checkpoint (size %d) extends the one you verified on %s (size %d): history before record %d was rewritten. Keep both checkpoints as evidence:\n%s\n%s",
				cp.Size, prev.VerifiedAt.Format("2006-01-02 15:04 UTC"), old.Size, old.Size, prev.Checkpoint, cp.Note)
		}
	}
	if complete && cp.Size >= old.Size && old.Size > 0 && tree.root(old.Size) != old.RootHash && len(r.Problems) == before {
		r.add(ProblemFork, -1, "The first %d records served now do not hash to the checkpoint you verified before: history was rewritten.", old.Size)
	}
	if int64(len(was)) == old.Size {
		r.diffRecords(was, leaves)
	}
	return nil
}

// diffRecords explains how the records verified last time (was) differ from
// those served now (now): deleted, inserted in the middle, changed, moved,
// or a replaced tail (rolled back and regrown).
func (r *Report) diffRecords(was, now []Leaf) {
	nowPos := make(map[string]int, len(now))
	for i, l := range now {
		nowPos[l.ID] = i
	}
	wasPos := make(map[string]int, len(was))
	for i, l := range was {
		wasPos[l.ID] = i
	}
	// The first index where old history is gone, when everything from there
	// on is gone: a rollback (or truncation), told as one event.
	tail := len(was)
	for tail > 0 {
		if _, ok := nowPos[was[tail-1].ID]; ok {
			break
		}
		tail--
	}
	lastKept := -1 // where the last surviving old record is now
	for _, l := range was[:tail] {
		lastKept = max(lastKept, nowPos[l.ID])
	}
	var n counter
	for i, l := range was[:tail] {
		j, ok := nowPos[l.ID]
		switch {
		case !ok:
			n.add(r, ProblemDeleted, int64(i), "Record %d (id %s) was deleted.", i, l.ID)
		case j == i && now[j].Content != l.Content: // a leaf hash covers the index: compare in place only
			n.add(r, ProblemChanged, int64(i), "Record %d (id %s) was changed after it was logged.", i, l.ID)
		}
	}
	for j, l := range now {
		if _, ok := wasPos[l.ID]; !ok && j < lastKept {
			n.add(r, ProblemInserted, int64(j), "Record %d (id %s) was inserted into history you had verified.", j, l.ID)
		}
	}
	r.moved(was[:tail], nowPos, &n)
	if tail < len(was) {
		regrown := ""
		if len(now) > tail {
			regrown = fmt.Sprintf(", then regrown with different records (now %d records)", len(now))
		}
		n.add(r, ProblemRolledBack, int64(tail), "The log was rolled back to %d records: the %d records from index %d on that you verified (first id %s) are gone%s.",
			tail, len(was)-tail, tail, was[tail].ID, regrown)
	}
	n.flush(r)
}

// moved reports surviving records whose order changed: those outside the
// longest run of survivors still in their old relative order (the fewest
// records whose moving explains the new order; a swap names both).
func (r *Report) moved(was []Leaf, nowPos map[string]int, n *counter) {
	var olds, pos []int // survivors: old index, new index
	for i, l := range was {
		if j, ok := nowPos[l.ID]; ok {
			olds, pos = append(olds, i), append(pos, j)
		}
	}
	inOrder := longestIncreasing(pos)
	for k, i := range olds {
		if !inOrder[k] {
			n.add(r, ProblemMoved, int64(i), "Record %d (id %s) was moved to index %d.", i, was[i].ID, pos[k])
		}
	}
}

// longestIncreasing marks the members of one longest strictly increasing
// subsequence of xs (patience sorting, O(n log n)).
func longestIncreasing(xs []int) []bool {
	tails := []int{} // tails[l]: index in xs of the smallest tail of a run of length l+1
	prev := make([]int, len(xs))
	for i, x := range xs {
		l, _ := slices.BinarySearchFunc(tails, x, func(t, x int) int { return cmp.Compare(xs[t], x) })
		if l > 0 {
			prev[i] = tails[l-1]
		} else {
			prev[i] = -1
		}
		if l == len(tails) {
			tails = append(tails, i)
		} else {
			tails[l] = i
		}
	}
	out := make([]bool, len(xs))
	if len(tails) > 0 {
		for i := tails[len(tails)-1]; i >= 0; i = prev[i] {
			out[i] = true
		}
	}
	return out
}

// counter lists at most maxReported problems of a kind, then a summary.
type counter map[string]int

func (c *counter) add(r *Report, kind string, index int64, format string, args ...any) {
	if *c == nil {
		*c = counter{}
	}
	if (*c)[kind]++; (*c)[kind] <= maxReported {
		r.add(kind, index, format, args...)
	}
}

func (c counter) flush(r *Report) {
	for kind, k := range c {
		if k > maxReported {
			r.add(kind, -1, "… and %d more %s records (first %d listed).", k-maxReported, kind, maxReported)
		}
	}
}
