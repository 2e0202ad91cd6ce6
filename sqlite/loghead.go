package sqlite

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/lockboxhq/lockbox/auditlog"
)

// The audit log of one commit group. An append needs its log's head
// (auditlog.Head: the size, which is the next index, and the right edge of
// the Merkle tree), from which auditlog makes the record's row and moves
// the head; the store writes the row and the new size. A commit group is
// one transaction holding SQLite's only write lock, so nothing else can
// change a log while it runs: the group reads each log's head once (the
// size from audit_logs, the edge from the records' hashes: this store keeps
// no edge column), keeps it in memory for its later appends, and stages the
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
// appends at commit too). An Update whose audit read could return a record
// an earlier Update of the group staged is run again after a flush
// (seeEarlier, runSavepoint).

// logHead is a log's head (auditlog.Head: size and right edge) as the
// group holds it.
type logHead struct {
	auditlog.Head
	dirty bool // Size is ahead of the audit_logs row
}

func (h *logHead) clone() *logHead { return &logHead{Head: h.Head.Clone(), dirty: h.dirty} }

// groupLogs is the audit state of one commit group: the heads of the logs
// it has appended to, and the records it staged. Only
// the writer goroutine uses it.
type groupLogs struct {
	heads  map[string]*logHead
	staged []*auditlog.Entry
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
	// appended is set when flush wrote records.
	appended bool
	// again is set when an audit read of the Update now running could
	// return a staged record of an earlier one (seeEarlier): it is run
	// again after a flush. failed is the error of such a flush, which
	// fails the group.
	again  bool
	failed error
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
	for _, e := range g.staged[g.mark:] {
		delete(g.ids, e.Record.ID)
	}
	g.staged = g.staged[:g.mark]
	g.undo = nil
}

// stage queues e for the flush.
func (g *groupLogs) stage(e *auditlog.Entry) {
	g.staged = append(g.staged, e)
	g.ids[e.Record.ID] = true
}

// known returns log's head if the group or the cache holds it, else nil.
func (g *groupLogs) known(log string) *logHead {
	if h, ok := g.heads[log]; ok {
		return h
	}
	return g.committed[log]
}

// mutable returns log's head for an append, first saving it as it was
// for a rollback of the savepoint. The first time the group needs a log it
// takes the head the last group committed (logCache), else reads it.
func (g *groupLogs) mutable(ctx context.Context, q queryer, log string) (*logHead, error) {
	h, loaded := g.heads[log]
	if !loaded {
		var err error
		if h, err = g.load(ctx, q, log); err != nil {
			return nil, err
		}
		g.heads[log] = h
	}
	if g.undo != nil {
		if _, saved := g.undo[log]; !saved {
			g.undo[log] = nil // not loaded before: rolling back forgets it
			if loaded {
				g.undo[log] = h.clone()
			}
		}
	}
	return h, nil
}

// load returns log's head as of the group's start: a copy of the cache's,
// or else its size and edge (from the records' hashes) read from the
// database.
func (g *groupLogs) load(ctx context.Context, q queryer, log string) (*logHead, error) {
	if h, ok := g.committed[log]; ok {
		return h.clone(), nil
	}
	size, err := readAuditSize(ctx, q, log)
	if err != nil {
		return nil, err
	}
	head, err := auditlog.LoadHead(size, nil, hashRows(ctx, q, log))
	if err != nil {
		return nil, fmt.Errorf("sqlite: head of log %s: %w", log, err)
	}
	return &logHead{Head: head}, nil
}

// flush writes the staged records in the order they were appended, the
// entry bundles they fill, then the size of every log the group appended
// to. It runs after the last savepoint and before COMMIT, and between two
// savepoints when an Update must read what earlier ones staged
// (runSavepoint); if it fails, the whole group fails. IDs were checked at
// append time and indexes come from the heads, so it should not.
func (g *groupLogs) flush(ctx context.Context, t *tx) error {
	if g.failed != nil {
		return g.failed
	}
	var full []*auditlog.Entry // the last records of entry bundles
	for _, e := range g.staged {
		if err := t.insertAudit(ctx, e); err != nil {
			return err
		}
		if (e.Record.Index+1)%auditlog.BundleSize == 0 {
			full = append(full, e)
		}
	}
	// Each bundle this group filled, from the rows just written: the same
	// bytes, committed together. It replaces any bundle stored there, which
	// only a log rolled back by hand and appended to again can have.
	for _, e := range full {
		err := t.storeBundle(ctx, e.Record.Tenant, e.Record.Index/auditlog.BundleSize, `INSERT INTO audit_bundles (log, n, data)
			VALUES (?, ?, ?) ON CONFLICT (log, n) DO UPDATE SET data = excluded.data`)
		if err != nil {
			return err
		}
	}
	g.appended = g.appended || len(g.staged) > 0
	g.staged = nil
	for _, log := range slices.Sorted(maps.Keys(g.heads)) {
		h := g.heads[log]
		if !h.dirty {
			continue
		}
		_, err := t.tx.ExecContext(ctx, `INSERT INTO audit_logs (log, size) VALUES (?, ?)
			ON CONFLICT (log) DO UPDATE SET size = excluded.size`, log, h.Size)
		if err != nil {
			return fmt.Errorf("sqlite: write head of log %s: %w", log, err)
		}
		h.dirty = false
	}
	return nil
}
