package auditlog

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/bits"
	"slices"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
)

// This file is the Merkle arithmetic of appending to a log, shared by both
// stores, as transparency-dev/tessera keeps integration in one place
// (storage/internal/integrate.go) and its storage drivers thin. A store
// keeps, per log, a Head (loaded from, and written back to, its head row)
// and, per record, the Entry that Head.Append made of it (canonical bytes
// and the hashes column); it decides when appends run and how they
// serialize, which is where durability and gap-freedom live. What the
// index is, which hashes a record stores, and how the edge moves is
// decided here only.
//
// The hashes column of record i holds tlog.StoredHashes(i): the leaf hash,
// then each node the leaf completes, level 0 first, 32 bytes each. So the
// hash of node n of level l is at offset l of record ((n+1)<<l)-1.

// Head is one log's head: its size, which is the index of the next record,
// and the right edge of its tree: for each level l with Size>>l > 0, the
// hash of node Size>>l - 1 of that level. Those are the newest complete
// node of every level and the only nodes a new leaf is ever combined with,
// so a head is all an append needs.
type Head struct {
	Size int64
	Edge []tlog.Hash // by level; len(Edge) == edgeLevels(Size)
}

// Entry is one appended record as a store writes it.
type Entry struct {
	Record    lockbox.AuditRecord // with its Index
	Canonical []byte              // the leaf: the record's canonical bytes
	Hashes    []byte              // the hashes column
}

// HashRows reads the hashes column of some records of one log: the given
// indexes, each at most once, answered by index; a record that is not
// stored is left out of the map. It is how this package reads hashes a
// head does not hold.
type HashRows func(records []int64) (map[int64][]byte, error)

// edgeLevels is how many levels the edge of a log of size n has.
func edgeLevels(n int64) int { return bits.Len64(uint64(n)) }

// LoadHead is the head of a log of size records whose head row holds edge
// (as EdgeBytes wrote it). An edge that is missing or of the wrong length
// (a log written before its store kept edges, or a store that keeps only
// the size) is read from the records' hashes instead, one row per set bit
// of size at most.
func LoadHead(size int64, edge []byte, rows HashRows) (Head, error) {
	levels := edgeLevels(size)
	if len(edge) == levels*tlog.HashSize {
		h := Head{Size: size, Edge: make([]tlog.Hash, levels)}
		for l := range h.Edge {
			copy(h.Edge[l][:], edge[l*tlog.HashSize:])
		}
		return h, nil
	}
	indexes := make([]int64, levels)
	for l := range levels {
		indexes[l] = tlog.StoredHashIndex(l, size>>l-1)
	}
	hs, err := readHashes(indexes, rows)
	if err != nil {
		return Head{}, fmt.Errorf("auditlog: edge of a log of size %d: %w", size, err)
	}
	return Head{Size: size, Edge: hs}, nil
}

// EdgeBytes is the edge as a head row stores it: 32 bytes a level, level 0
// first.
func (h *Head) EdgeBytes() []byte { return concat(h.Edge) }

// Clone returns a copy that later appends to h do not change.
func (h *Head) Clone() Head { return Head{Size: h.Size, Edge: slices.Clone(h.Edge)} }

// Append assigns rec the next index of h's log, encodes it and computes
// the hashes it completes, and advances h (its Edge in place). rec itself
// is not changed: the store sets rec.Index once the entry is as good as
// written. On error h is unchanged.
func (h *Head) Append(rec *lockbox.AuditRecord) (Entry, error) {
	e := Entry{Record: *rec}
	e.Record.Index = h.Size
	canonical, err := e.Record.Canonical()
	if err != nil {
		return Entry{}, fmt.Errorf("auditlog: encode record %s: %w", rec.ID, err)
	}
	e.Canonical = canonical
	if e.Hashes, err = h.AppendLeaf(canonical); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// SplitCanonical returns rec's canonical bytes around its index: prefix,
// then the index in decimal, then suffix are rec.Canonical() for rec at
// any index. It is for a store that assigns indexes on its database server
// (postgres: migrations/00015_audit_append.sql), which encodes a record
// before it knows the record's index.
func SplitCanonical(rec *lockbox.AuditRecord) (prefix, suffix []byte, err error) {
	r := *rec
	r.Index = 0
	c, err := r.Canonical()
	if err != nil {
		return nil, nil, fmt.Errorf("auditlog: encode record %s: %w", rec.ID, err)
	}
	// The first occurrence: the only field before the index is the id, a
	// JSON string, in which a quote is always escaped.
	const key, at = `,"index":`, `,"index":0,"time":`
	i := bytes.Index(c, []byte(at))
	if i < 0 { // Canonical changed its field order: a bug here, not in the record
		return nil, nil, fmt.Errorf("auditlog: record %s: no index in its canonical bytes", rec.ID)
	}
	return c[:i+len(key)], c[i+len(key)+1:], nil
}

// AppendLeaf appends the leaf whose canonical bytes are data at index
// h.Size, advances h and returns the hashes column of that record. Append
// is this for a record not yet encoded; a store calls it directly only to
// give hashes to records stored without them.
func (h *Head) AppendLeaf(data []byte) ([]byte, error) {
	if len(h.Edge) != edgeLevels(h.Size) { // a store's bug: refuse, change nothing
		return nil, fmt.Errorf("auditlog: a head of size %d has %d edge hashes, want %d", h.Size, len(h.Edge), edgeLevels(h.Size))
	}
	n := h.AppendHash(tlog.RecordHash(data))
	return concat(h.Edge[:n]), nil
}

// AppendHash appends the leaf whose hash is leaf and returns how many
// hashes it completed: the leaf and each node it finishes, level 0 first,
// which are now h.Edge[:n] (tlog.StoredHashes of the new record). It is
// how a store (AppendLeaf) and a verifier that streams a log (Verify) both
// extend a tree, without allocating. h must be whole: the zero Head, or one
// from LoadHead or HeadOf.
//
// At every level l where bit l of Size is set, the new node is the right
// child of the edge node of that level: the two make the node one level up.
// The first level where the bit is clear takes the new node as its edge.
func (h *Head) AppendHash(leaf tlog.Hash) int {
	node, l := leaf, 0
	for ; h.Size>>l&1 == 1; l++ {
		left := h.Edge[l]
		h.Edge[l] = node
		node = tlog.NodeHash(left, node)
	}
	if l < len(h.Edge) {
		h.Edge[l] = node
	} else {
		h.Edge = append(h.Edge, node)
	}
	h.Size++
	return l + 1
}

// Root is the tree hash (RFC 6962) of h's log: the roots of its perfect
// subtrees, one per set bit of Size (the edge node of that level), folded
// from the smallest.
func (h *Head) Root() tlog.Hash {
	if h.Size == 0 {
		return sha256.Sum256(nil)
	}
	var root tlog.Hash
	started := false
	for l := range h.Edge {
		if h.Size>>l&1 == 0 {
			continue
		}
		if !started {
			root, started = h.Edge[l], true
		} else {
			root = tlog.NodeHash(h.Edge[l], root)
		}
	}
	return root
}

// HeadOf is the head a verifier kept (Edge as Head.Edge was), if edge has
// one hash per level of a log of size records.
func HeadOf(size int64, edge []tlog.Hash) (Head, bool) {
	if size < 0 || len(edge) != edgeLevels(size) {
		return Head{}, false
	}
	return Head{Size: size, Edge: slices.Clone(edge)}, true
}

// StoredHashes is lockbox.AuditLogTx.ReadAuditHashes over a store's rows:
// the stored hashes at the given tlog storage indexes, read from the
// hashes columns of the records that completed them.
func StoredHashes(indexes []int64, rows HashRows) ([][32]byte, error) {
	hs, err := readHashes(indexes, rows)
	if err != nil {
		return nil, err
	}
	out := make([][32]byte, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out, nil
}

func readHashes(indexes []int64, rows HashRows) ([]tlog.Hash, error) {
	recs := make([]int64, len(indexes))
	for i, idx := range indexes {
		level, n := tlog.SplitStoredHashIndex(idx)
		recs[i] = (n+1)<<level - 1
	}
	stored, err := rows(uniq(recs))
	if err != nil {
		return nil, err
	}
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		level, _ := tlog.SplitStoredHashIndex(idx)
		b, ok := stored[recs[i]]
		if !ok { // beyond the log: never a zero hash a proof would use
			return nil, fmt.Errorf("auditlog: hash %d: record %d is not stored", idx, recs[i])
		}
		if len(b) < (level+1)*tlog.HashSize {
			return nil, fmt.Errorf("auditlog: hash %d: record %d stores %d bytes of hashes, want at least %d",
				idx, recs[i], len(b), (level+1)*tlog.HashSize)
		}
		copy(out[i][:], b[level*tlog.HashSize:])
	}
	return out, nil
}

// uniq is xs without repeats, in first-seen order.
func uniq(xs []int64) []int64 {
	seen := make(map[int64]bool, len(xs))
	out := make([]int64, 0, len(xs))
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// concat is hashes as a column stores them: 32 bytes each, in order.
func concat(hs []tlog.Hash) []byte {
	out := make([]byte, 0, len(hs)*tlog.HashSize)
	for _, h := range hs {
		out = append(out, h[:]...)
	}
	return out
}
