package sqlite

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
)

// The audit log of one commit group. An append needs its log's size (the
// next index) and the right edge of the Merkle tree (the hashes StoredHashes
// combines the new leaf with), then a new size and the record row. A commit
// group is one transaction holding SQLite's only write lock, so nothing
// else can change a log while it runs: the group reads each log's size and
// edge once, keeps them in memory for its later appends, and stages the
// record rows, writing them all and each log's new size once, after the
// last Update and just before COMMIT. Writing them outside any Update's
// savepoint matters: SQLite copies every page an Update first changes into
// a savepoint journal, and an append changes five (the row and its four
// index entries).
//
// What a group learned outlives it (logCache): the next group starts from
// the heads the last one committed, so a busy log costs no read at all. The
// cache is dropped whenever SQLite's data_version says another connection
// (another process, an operator's sqlite3 shell) committed since, or the
// pool's connection is not the one the cache was filled on, and heads of a
// group that does not commit never reach it.
//
// Savepoints: an Update that fails rolls back to its savepoint; undo makes
// the memory follow, by remembering each head the Update touched as it was
// before and dropping the rows it staged.
//
// A staged record is not in audit_records until the flush, so inside an
// Update only AuditSize sees it: the store contract already tells code in a
// transaction not to read back what it appended (PostgreSQL writes its
// appends at commit too).

// edgeNode is the newest complete subtree of one level of the tree: the
// only node of that level a future append can combine with.
type edgeNode struct {
	node int64 // its index within the level; -1: not known yet
	hash tlog.Hash
}

type logHead struct {
	size  int64
	edge  []edgeNode // by level
	dirty bool       // size is ahead of the audit_logs row
}

func (h *logHead) clone() *logHead {
	c := *h
	c.edge = slices.Clone(h.edge)
	return &c
}

// advance records that the leaf at index h.size was appended with the
// stored hashes hs (tlog.StoredHashes: hs[l] is the level-l node it
// completed).
func (h *logHead) advance(hs []tlog.Hash) {
	for l, hash := range hs {
		for len(h.edge) <= l {
			h.edge = append(h.edge, edgeNode{node: -1})
		}
		h.edge[l] = edgeNode{node: h.size >> l, hash: hash}
	}
	h.size++
	h.dirty = true
}

// stagedRec is a record appended in this group, waiting for the flush.
type stagedRec struct {
	rec       lockbox.AuditRecord // Index set
	canonical []byte
	hashes    []byte
}

// groupLogs is the audit state of one commit group: the heads of the logs
// it has appended to or asked the size of, and the records it staged. Only
// the writer goroutine uses it.
type groupLogs struct {
	heads  map[string]*logHead
	staged []*stagedRec
	ids    map[string]bool // IDs of staged records
	// For the savepoint now open: each touched log's head as it was when
	// the savepoint began (nil: not loaded then), and how many records
	// were staged then.
	undo map[string]*logHead
	mark int
	// idBound is at least every stored or staged record ID, once read.
	idBound     string
	idBoundRead bool
	// committed is the heads as of the group's start (logCache.heads):
	// read-only here, cloned into heads before any change.
	committed map[string]*logHead
}

func newGroupLogs(c *logCache) *groupLogs {
	return &groupLogs{heads: map[string]*logHead{}, ids: map[string]bool{},
		committed: c.heads, idBound: c.idBound, idBoundRead: c.idBoundRead}
}

// maxCachedLogs bounds logCache; past it the cache starts again empty.
const maxCachedLogs = 4096

// logCache is the log heads as of the last committed group. Only the writer
// goroutine uses it.
type logCache struct {
	heads       map[string]*logHead // not changed while a group runs: it clones
	idBound     string
	idBoundRead bool
	conn        any   // the driver connection it was filled on
	version     int64 // that connection's PRAGMA data_version then
}

func newLogCache() *logCache { return &logCache{heads: map[string]*logHead{}} }

// validate drops the cache unless conn is the connection it was filled on
// and no other connection has committed since (data_version, read inside
// the group's transaction, so nothing can commit between it and the group).
func (c *logCache) validate(ctx context.Context, q queryer, conn any) error {
	var v int64
	if err := q.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
		return fmt.Errorf("sqlite: data_version: %w", err)
	}
	if conn != c.conn || v != c.version || len(c.heads) > maxCachedLogs {
		*c = logCache{heads: map[string]*logHead{}, conn: conn, version: v}
	}
	return nil
}

// commit keeps what group g, now committed and done, learned.
func (c *logCache) commit(g *groupLogs) {
	maps.Copy(c.heads, g.heads)
	c.idBound, c.idBoundRead = g.idBound, g.idBoundRead
}

// begin starts a savepoint; release and rollback end it.
func (g *groupLogs) begin() {
	g.undo = map[string]*logHead{}
	g.mark = len(g.staged)
}

func (g *groupLogs) release() { g.undo = nil }

func (g *groupLogs) rollback() {
	for log, h := range g.undo {
		if h == nil {
			delete(g.heads, log)
		} else {
			g.heads[log] = h
		}
	}
	for _, s := range g.staged[g.mark:] {
		delete(g.ids, s.rec.ID)
	}
	g.staged = g.staged[:g.mark]
	g.undo = nil
}

// stage queues s for the flush.
func (g *groupLogs) stage(s *stagedRec) {
	g.staged = append(g.staged, s)
	g.ids[s.rec.ID] = true
}

// mutable returns log's head for changing, first saving it for rollback.
func (g *groupLogs) mutable(log string) *logHead {
	h := g.heads[log]
	if g.undo != nil {
		if _, saved := g.undo[log]; !saved {
			g.undo[log] = h.clone()
		}
	}
	return h
}

// head returns log's head, reading its size from the database the first
// time the group needs it.
func (g *groupLogs) head(ctx context.Context, q queryer, log string) (*logHead, error) {
	if h, ok := g.heads[log]; ok {
		return h, nil
	}
	if h, ok := g.committed[log]; ok {
		h = h.clone()
		g.heads[log] = h
		if g.undo != nil {
			if _, saved := g.undo[log]; !saved {
				g.undo[log] = nil // back to the committed head on rollback
			}
		}
		return h, nil
	}
	size, err := readAuditSize(ctx, q, log)
	if err != nil {
		return nil, err
	}
	h := &logHead{size: size}
	g.heads[log] = h
	if g.undo != nil {
		if _, saved := g.undo[log]; !saved {
			g.undo[log] = nil
		}
	}
	return h, nil
}

// flush writes the staged records in the order they were appended, then
// the size of every log the group appended to. It runs once, after the last
// savepoint and before COMMIT; if it fails, the whole group fails. IDs were
// checked at append time and indexes come from the heads, so it should not.
func (g *groupLogs) flush(ctx context.Context, t *tx) error {
	for _, s := range g.staged {
		if err := t.insertAudit(ctx, &s.rec, s.canonical, s.hashes); err != nil {
			return err
		}
	}
	g.staged = nil
	for _, log := range slices.Sorted(maps.Keys(g.heads)) {
		h := g.heads[log]
		if !h.dirty {
			continue
		}
		_, err := t.tx.ExecContext(ctx, `INSERT INTO audit_logs (log, size) VALUES (?, ?)
			ON CONFLICT (log) DO UPDATE SET size = excluded.size`, log, h.size)
		if err != nil {
			return fmt.Errorf("sqlite: write head of log %s: %w", log, err)
		}
		h.dirty = false
	}
	return nil
}

// edgeReader is tlog.HashReader for appending to one log: it answers from
// the head's edge and reads what the edge does not hold from the stored
// records. StoredHashes asks only for the newest complete node of a level;
// if an append since the head was loaded completed it, advance put it in
// the edge (and a staged record's nodes are never asked of the database),
// so what is missing was completed by a committed record. The edge misses
// the levels no append has completed since the head was loaded: all of
// them at first, then about one level in eight appends.
type edgeReader struct {
	head *logHead
	db   hashReader
}

func (r edgeReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var missing []int64
	var at []int // where each missing hash goes in out
	for i, idx := range indexes {
		level, n := tlog.SplitStoredHashIndex(idx)
		if level < len(r.head.edge) && r.head.edge[level].node == n {
			out[i] = r.head.edge[level].hash
			continue
		}
		missing, at = append(missing, idx), append(at, i)
	}
	if len(missing) == 0 {
		return out, nil
	}
	read, err := r.db.ReadHashes(missing)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		out[i] = read[j]
	}
	return out, nil
}
