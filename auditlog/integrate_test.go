package auditlog_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/storetest"
)

// refTree is a log of n records, leaf i being the canonical bytes of
// leafRecord(i), as tlog computes it from the leaves alone: what heads and
// entries are checked against.
type refTree struct{ storetest.RefTree }

func newRefTree(tb testing.TB, n int) *refTree {
	r := &refTree{}
	for i := range int64(n) {
		rec := leafRecord(i)
		rec.Index = i
		data, err := rec.Canonical()
		if err != nil {
			tb.Fatal(err)
		}
		r.Add(i, data)
	}
	return r
}

// edge is the reference edge of the first size leaves.
func (r *refTree) edge(size int64) []tlog.Hash {
	var out []tlog.Hash
	for l := 0; size>>l > 0; l++ {
		out = append(out, r.Hashes[tlog.StoredHashIndex(l, size>>l-1)])
	}
	return out
}

// rowsOf is auditlog.HashRows over the first size records of r; it counts
// the records asked for and refuses to be asked one twice in a call.
func (r *refTree) rowsOf(size int64, asked *int) auditlog.HashRows {
	return func(records []int64) (map[int64][]byte, error) {
		out := map[int64][]byte{}
		for _, idx := range records {
			if _, dup := out[idx]; dup {
				return nil, fmt.Errorf("record %d asked twice", idx)
			}
			*asked++
			if idx < size {
				out[idx] = r.Stored(idx)
			}
		}
		return out, nil
	}
}

func leafRecord(i int64) *lockbox.AuditRecord {
	return &lockbox.AuditRecord{ID: fmt.Sprintf("r%03d", i), Tenant: "contoso",
		RecordType: lockbox.RecordOperatorAction, Operation: lockbox.OpOperatorAction,
		AuditData: map[string]any{"n": i}}
}

// TestHeadAppend: appending from an empty head gives every record its
// index, its canonical bytes and tlog's stored hashes, leaves the caller's
// record alone, and keeps the head's edge equal to the reference's, so
// the root computed from the edge alone is the tree's.
func TestHeadAppend(t *testing.T) {
	const n = 70
	ref := newRefTree(t, n)
	var h auditlog.Head
	for i := range int64(n) {
		rec := leafRecord(i)
		e, err := h.Append(rec)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Index != 0 {
			t.Fatalf("Append set the caller's Index to %d", rec.Index)
		}
		want := *rec
		want.Index = i
		canonical, _ := want.Canonical()
		if e.Record.Index != i || !bytes.Equal(e.Canonical, canonical) {
			t.Fatalf("entry %d: index %d, canonical %s; want %s", i, e.Record.Index, e.Canonical, canonical)
		}
		if !bytes.Equal(e.Hashes, ref.Stored(i)) {
			t.Fatalf("entry %d: hashes differ from tlog's", i)
		}
		if h.Size != i+1 || !slices.Equal(h.Edge, ref.edge(i+1)) {
			t.Fatalf("after entry %d: size %d, edge of %d levels, differs from the reference", i, h.Size, len(h.Edge))
		}
		got, err := tlog.TreeHash(h.Size, edgeHashes(h))
		if want, _ := tlog.TreeHash(h.Size, ref); err != nil || got != want {
			t.Fatalf("root of %d from the edge: %x, %v; want %x", h.Size, got[:4], err, want[:4])
		}
	}
}

// edgeHashes is tlog.HashReader over a head's edge only.
type edgeHashes auditlog.Head

func (e edgeHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		l, n := tlog.SplitStoredHashIndex(x)
		if l >= len(e.Edge) || n != e.Size>>l-1 {
			return nil, fmt.Errorf("hash %d is not on the edge", x)
		}
		out[i] = e.Edge[l]
	}
	return out, nil
}

// TestLoadHead: a head loaded from a stored edge reads no record; one
// without (or with a damaged) edge reads at most one record per level,
// each once; either way it is the head appending built, and appends from
// it go on storing tlog's hashes.
func TestLoadHead(t *testing.T) {
	const n = 70
	ref := newRefTree(t, n+1)
	for size := range int64(n) {
		want := ref.edge(size)
		good := auditlog.Head{Size: size, Edge: want}
		for _, tc := range []struct {
			name      string
			edge      []byte
			readsRows bool
		}{
			{"StoredEdge", good.EdgeBytes(), false},
			{"NoEdge", nil, size > 0},
			{"ShortEdge", good.EdgeBytes()[:max(0, len(want)-1)*tlog.HashSize], size > 0},
			{"LongEdge", append(good.EdgeBytes(), make([]byte, tlog.HashSize)...), size > 0},
		} {
			asked := 0
			h, err := auditlog.LoadHead(size, tc.edge, ref.rowsOf(size, &asked))
			if err != nil {
				t.Fatalf("size %d, %s: %v", size, tc.name, err)
			}
			if h.Size != size || !slices.Equal(h.Edge, want) {
				t.Fatalf("size %d, %s: head differs from the reference", size, tc.name)
			}
			if (asked > 0) != tc.readsRows || asked > len(want) {
				t.Fatalf("size %d, %s: read %d records, want reads %v and at most %d", size, tc.name, asked, tc.readsRows, len(want))
			}
			e, err := h.Append(leafRecord(size))
			if err != nil || !bytes.Equal(e.Hashes, ref.Stored(size)) {
				t.Fatalf("size %d, %s: append after loading: %v, or hashes differ from tlog's", size, tc.name, err)
			}
		}
	}
}

// TestStoredHashes: hashes are read from the records that hold them, in
// any order and with repeats; one beyond the log, or a damaged column, is
// an error, never a zero hash; a failing read is passed on.
func TestStoredHashes(t *testing.T) {
	ref := newRefTree(t, 37)
	errRead := errors.New("read failed")
	short := map[int64][]byte{7: ref.Stored(7)[:tlog.HashSize]} // record 7 stores 4 hashes
	tests := []struct {
		name    string
		indexes []int64
		rows    auditlog.HashRows
		wantErr bool
	}{
		{"OutOfOrderRepeated", []int64{tlog.StoredHashIndex(5, 0), 0, tlog.StoredHashIndex(0, 36), 0, tlog.StoredHashIndex(2, 3)}, nil, false},
		{"Every", seq(tlog.StoredHashCount(37)), nil, false},
		{"BeyondTheLog", []int64{tlog.StoredHashIndex(0, 37)}, nil, true},
		{"NodeNotComplete", []int64{tlog.StoredHashIndex(3, 4)}, nil, true},
		{"ShortColumn", []int64{tlog.StoredHashIndex(1, 3)}, func([]int64) (map[int64][]byte, error) { return short, nil }, true},
		{"ReadFails", []int64{0}, func([]int64) (map[int64][]byte, error) { return nil, errRead }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked := 0
			rows := tt.rows
			if rows == nil {
				rows = ref.rowsOf(37, &asked)
			}
			got, err := auditlog.StoredHashes(tt.indexes, rows)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("StoredHashes succeeded: %x", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, _ := ref.ReadHashes(tt.indexes)
			if diff := cmp.Diff(want, hashList(got)); diff != "" {
				t.Errorf("hashes (-want +got):\n%s", diff)
			}
		})
	}
}

func seq(n int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i)
	}
	return out
}

func hashList(hs [][32]byte) []tlog.Hash {
	out := make([]tlog.Hash, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out
}

// TestAppendChangesNothingOnError: a head whose edge does not match its
// size (a store's bug) refuses the append and stays as it was.
func TestAppendChangesNothingOnError(t *testing.T) {
	h := auditlog.Head{Size: 5} // no edge
	if _, err := h.Append(leafRecord(5)); err == nil {
		t.Fatal("Append with no edge succeeded")
	}
	if h.Size != 5 || len(h.Edge) != 0 {
		t.Errorf("head after a failed append: size %d, %d levels; want 5, 0", h.Size, len(h.Edge))
	}
}

// TestHeadRootAndStoredHashes: a head extended one leaf hash at a time has
// tlog's tree hash at every size, and AppendHash reports the hashes
// tlog.StoredHashes gives the record, for the store and the verifier alike.
func TestHeadRootAndStoredHashes(t *testing.T) {
	t.Parallel()
	var h auditlog.Head
	var stored []tlog.Hash // tlog's storage, for TreeHash and StoredHashes
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	for n := int64(0); n < 300; n++ {
		want, err := tlog.TreeHash(n, reader)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.Root(); got != want {
			t.Fatalf("size %d: root %x, tlog says %x", n, got[:4], want[:4])
		}
		data := []byte(fmt.Sprintf("leaf %d", n))
		hs, err := tlog.StoredHashes(n, data, reader)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
		k := h.AppendHash(tlog.RecordHash(data))
		if !slices.Equal(h.Edge[:k], hs) {
			t.Fatalf("leaf %d: AppendHash completed %d hashes that differ from tlog.StoredHashes' %d", n, k, len(hs))
		}
	}
}

// TestSplitCanonical: prefix, decimal index and suffix are the canonical
// bytes at every index, also for an id that spells the index field.
func TestSplitCanonical(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"plain", `tricky,"index":0,"time":"x"`, "ünïcode\n"} {
		rec := &lockbox.AuditRecord{ID: id, Time: time.Date(2030, 1, 2, 3, 4, 5, 6e6, time.UTC), Tenant: "contoso",
			RecordType: "x", Operation: "y", AuditData: map[string]any{"index": 7, "k": `,"index":0,`}}
		prefix, suffix, err := auditlog.SplitCanonical(rec)
		if err != nil {
			t.Fatal(err)
		}
		for _, idx := range []int64{0, 1, 9, 10, 123456789} {
			r := *rec
			r.Index = idx
			want, err := r.Canonical()
			if err != nil {
				t.Fatal(err)
			}
			got := string(prefix) + strconv.FormatInt(idx, 10) + string(suffix)
			if got != string(want) {
				t.Errorf("id %q index %d: split gives\n%s\nwant\n%s", id, idx, got, want)
			}
		}
	}
}
