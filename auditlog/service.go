package auditlog

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/lockboxhq/lockbox"
)

// Service implements lockbox.AuditService on a store. Checkpoints are
// signed when asked for, for the size committed at that moment, and the
// latest one of each log is kept in memory: a log that did not grow costs no
// signature, and a log that did is published at once (no publishing lag).
type Service struct {
	store  lockbox.Store
	signer note.Signer
	key    string
	prefix string

	mu     sync.Mutex
	latest map[string]*lockbox.Checkpoint

	wit *witnesses // nil: no witnesses (witness.go)

	fill bundleFiller // full entry bundles to store (bundlefill.go)
}

var _ lockbox.AuditService = (*Service)(nil)

// New returns the audit service of store, signing checkpoints with signer,
// whose verifier key verifierKey is served by LogKey. originPrefix starts
// every origin line ("" means DefaultOriginPrefix).
func New(store lockbox.Store, signer note.Signer, verifierKey, originPrefix string) *Service {
	if originPrefix == "" {
		originPrefix = DefaultOriginPrefix
	}
	return &Service{store: store, signer: signer, key: verifierKey, prefix: originPrefix,
		latest: map[string]*lockbox.Checkpoint{}}
}

// OriginPrefix is the first part of this server's origin lines.
func (s *Service) OriginPrefix() string { return s.prefix }

// authorize checks the caller in ctx may read log (authz.go decides).
func authorize(ctx context.Context, log string) error {
	return lockbox.AuthorizeReadLog(lockbox.UserFromContext(ctx), log)
}

// SearchAudit implements lockbox.AuditService.
func (s *Service) SearchAudit(ctx context.Context, log string, f lockbox.AuditFilter) (*lockbox.AuditPage, error) {
	if err := authorize(ctx, log); err != nil {
		return nil, err
	}
	q, err := query(log, f)
	if err != nil {
		return nil, err
	}
	var recs []*lockbox.AuditRecord
	q.Limit++ // one more tells whether a next page exists
	err = s.store.View(ctx, func(tx lockbox.Tx) (err error) {
		if err := resolveRequest(ctx, tx, &q); err != nil {
			return err
		}
		recs, err = tx.SearchAudit(ctx, q)
		return err
	})
	if err != nil {
		return nil, err
	}
	page := &lockbox.AuditPage{Records: recs}
	if len(recs) == q.Limit {
		page.Records = recs[:q.Limit-1]
		page.NextCursor = encodeCursor(page.Records[len(page.Records)-1])
	}
	return page, nil
}

// exportPage is how many records ExportAudit reads per store transaction:
// large enough to amortise a query, small enough that memory stays flat.
const exportPage = 1000

// exportQuery authorizes an export of log and turns its filter into the
// query of its first page: every record the filter matches, a page at a
// time, with a request reference resolved to its id.
func (s *Service) exportQuery(ctx context.Context, log string, f lockbox.AuditFilter) (lockbox.AuditQuery, error) {
	if err := authorize(ctx, log); err != nil {
		return lockbox.AuditQuery{}, err
	}
	f.Limit, f.Cursor = 0, ""
	q, err := query(log, f)
	if err != nil {
		return lockbox.AuditQuery{}, err
	}
	q.Limit = exportPage
	if q.RequestID != "" {
		if err := s.store.View(ctx, func(tx lockbox.Tx) error { return resolveRequest(ctx, tx, &q) }); err != nil {
			return lockbox.AuditQuery{}, err
		}
	}
	return q, nil
}

// ExportAudit implements lockbox.AuditService, one short read transaction
// per page so that an export of millions of rows never pins a snapshot.
// Records appended meanwhile are newer than the cursor, so none is seen
// twice or skipped.
func (s *Service) ExportAudit(ctx context.Context, log string, f lockbox.AuditFilter, fn func(*lockbox.AuditRecord) error) error {
	q, err := s.exportQuery(ctx, log, f)
	if err != nil {
		return err
	}
	for {
		var recs []*lockbox.AuditRecord
		err := s.store.View(ctx, func(tx lockbox.Tx) (err error) {
			recs, err = tx.SearchAudit(ctx, q)
			return err
		})
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(recs) < q.Limit {
			return nil
		}
		last := recs[len(recs)-1]
		q.BeforeTime, q.BeforeIndex = &last.Time, last.Index
	}
}

// ExportAuditLeaves is ExportAudit without decoding (LeafExporter): fn gets
// each record's stored canonical bytes, checked canonical in one pass, with
// the fields an export shows. The bytes are the store's buffer for the
// page: fn must not keep them.
//
// The next page is read while fn gets this one's records: reading the rows
// and writing them out each took about half of an export, one after the
// other on one core (docs/benchmarks.md, "CSV export from stored bytes").
func (s *Service) ExportAuditLeaves(ctx context.Context, log string, f lockbox.AuditFilter, fn func(h *lockbox.CanonicalHead, leaf []byte) error) error {
	q, err := s.exportQuery(ctx, log, f)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the reader when fn fails
	pages := make(chan leafPage, 1)
	go s.readLeafPages(ctx, log, q, pages)
	for p := range pages {
		for _, e := range p.leaves {
			h, err := lockbox.CheckCanonical(e.Data)
			if err != nil {
				return fmt.Errorf("stored audit record %d of %s: %w", e.Index, log, err)
			}
			if err := fn(&h, e.Data); err != nil {
				return err
			}
		}
		if p.err != nil {
			return p.err
		}
	}
	return nil
}

// leafPage is one page of an export, and the error that ended the reading
// after it, if one did.
type leafPage struct {
	leaves []lockbox.LogEntry
	err    error
}

// readLeafPages sends q's records to c a page at a time, each page read in
// a read transaction of its own (so a slow download holds none open), and
// closes c after the last page or the first error.
func (s *Service) readLeafPages(ctx context.Context, log string, q lockbox.AuditQuery, c chan<- leafPage) {
	defer close(c)
	for {
		var p leafPage
		p.err = s.store.View(ctx, func(tx lockbox.Tx) (err error) {
			p.leaves, err = tx.SearchAuditLeaves(ctx, q)
			return err
		})
		more := p.err == nil && len(p.leaves) == q.Limit
		if more {
			// The keyset of the next page is the last record's time and
			// index.
			last := p.leaves[len(p.leaves)-1]
			h, err := lockbox.CheckCanonical(last.Data)
			var t time.Time
			if err == nil {
				t, err = time.Parse(lockbox.AuditTimeFormat, string(h.Time))
			}
			if err != nil {
				p.err, more = fmt.Errorf("stored audit record %d of %s: %w", last.Index, log, err), false
			}
			q.BeforeTime, q.BeforeIndex = &t, h.Index
		}
		select {
		case c <- p:
		case <-ctx.Done():
			return
		}
		if !more {
			return
		}
	}
}

// Checkpoint implements lockbox.AuditService.
func (s *Service) Checkpoint(ctx context.Context, log string) (*lockbox.Checkpoint, error) {
	if err := authorize(ctx, log); err != nil {
		return nil, err
	}
	cp, err := s.checkpoint(ctx, log)
	if err != nil {
		return nil, err
	}
	return s.withCosignatures(log, cp), nil
}

func (s *Service) checkpoint(ctx context.Context, log string) (*lockbox.Checkpoint, error) {
	var size int64
	var root [32]byte
	err := s.store.View(ctx, func(tx lockbox.Tx) (err error) {
		if size, err = tx.AuditSize(ctx, log); err != nil {
			return err
		}
		if cp := s.cached(log); cp != nil && cp.Size == size {
			root = cp.RootHash
			return nil
		}
		root, err = treeHash(ctx, tx, log, size)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint of %s: %w", log, err)
	}
	if cp := s.cached(log); cp != nil && cp.Size == size {
		return cp, nil
	}
	msg, err := SignCheckpoint(s.signer, Origin(s.prefix, log), size, root)
	if err != nil {
		return nil, err
	}
	cp := &lockbox.Checkpoint{Origin: Origin(s.prefix, log), Size: size, RootHash: root, Note: msg}
	s.remember(log, cp)
	return cp, nil
}

func (s *Service) cached(log string) *lockbox.Checkpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest[log]
}

// remember keeps cp unless a larger one is already kept (two readers may
// race; logs only grow).
func (s *Service) remember(log string, cp *lockbox.Checkpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.latest[log]; old == nil || old.Size <= cp.Size {
		s.latest[log] = cp
	}
}

// LogEntries implements lockbox.AuditService.
func (s *Service) LogEntries(ctx context.Context, log string, start, end int64) ([]lockbox.LogEntry, error) {
	if err := authorize(ctx, log); err != nil {
		return nil, err
	}
	if start < 0 || end <= start {
		return nil, lockbox.Errorf(lockbox.EINVALID, "Entries need 0 <= start < end (got start=%d, end=%d).", start, end)
	}
	end = min(end, start+lockbox.MaxLogEntriesPage)
	var out []lockbox.LogEntry
	err := s.store.View(ctx, func(tx lockbox.Tx) error {
		size, err := tx.AuditSize(ctx, log)
		if err != nil {
			return err
		}
		if start > size {
			return lockbox.Errorf(lockbox.EINVALID, "start=%d is beyond the log's size %d.", start, size)
		}
		out, err = tx.AuditLeaves(ctx, log, start, min(end, size))
		return err
	})
	return out, err
}

// InclusionProof implements lockbox.AuditService.
func (s *Service) InclusionProof(ctx context.Context, log string, index, size int64) ([][32]byte, error) {
	if err := authorize(ctx, log); err != nil {
		return nil, err
	}
	var out [][32]byte
	err := s.store.View(ctx, func(tx lockbox.Tx) error {
		current, err := tx.AuditSize(ctx, log)
		if err != nil {
			return err
		}
		if index < 0 || index >= size || size > current {
			return lockbox.Errorf(lockbox.EINVALID, "An inclusion proof needs 0 <= index < size <= %d, the log's size (got index=%d, size=%d).", current, index, size)
		}
		out, err = inclusionProof(ctx, tx, log, index, size)
		return err
	})
	return out, err
}

// ConsistencyProof implements lockbox.AuditService.
func (s *Service) ConsistencyProof(ctx context.Context, log string, oldSize, newSize int64) ([][32]byte, error) {
	if err := authorize(ctx, log); err != nil {
		return nil, err
	}
	var out [][32]byte
	err := s.store.View(ctx, func(tx lockbox.Tx) error {
		current, err := tx.AuditSize(ctx, log)
		if err != nil {
			return err
		}
		if oldSize < 0 || oldSize > newSize || newSize > current {
			return lockbox.Errorf(lockbox.EINVALID, "A consistency proof needs 0 <= old <= new <= %d, the log's size (got old=%d, new=%d).", current, oldSize, newSize)
		}
		out, err = consistencyProof(ctx, tx, log, oldSize, newSize)
		return err
	})
	return out, err
}

// LogKey implements lockbox.AuditService.
func (s *Service) LogKey(context.Context) (string, error) { return s.key, nil }

// resolveRequest lets a request filter name a request by its reference
// (LB-…) wherever its id works: the records carry the id. Only a request of
// the log's own tenant is resolved, so a reference of another tenant's
// request finds nothing, exactly like one that does not exist.
func resolveRequest(ctx context.Context, tx lockbox.Tx, q *lockbox.AuditQuery) error {
	if q.RequestID == "" {
		return nil
	}
	r, err := tx.GetRequest(ctx, q.RequestID)
	switch {
	case lockbox.ErrorCode(err) == lockbox.ENOTFOUND:
		return nil
	case err != nil:
		return err
	case r.Tenant == q.Log || q.Log == lockbox.ProviderLog:
		q.RequestID = r.ID
	}
	return nil
}

// query validates f into a store query for log.
func query(log string, f lockbox.AuditFilter) (lockbox.AuditQuery, error) {
	q := lockbox.AuditQuery{Log: log, Start: utc(f.Start), End: utc(f.End), Operations: f.Operations,
		Users: f.Users, RequestID: f.RequestID, RecordType: f.RecordType, Limit: f.Limit}
	if q.Limit == 0 {
		q.Limit = lockbox.DefaultAuditPageSize
	}
	if q.Limit < 1 || q.Limit > lockbox.MaxAuditPageSize {
		return q, lockbox.Errorf(lockbox.EINVALID, "limit must be between 1 and %d.", lockbox.MaxAuditPageSize)
	}
	if q.Start != nil && q.End != nil && !q.End.After(*q.Start) {
		return q, lockbox.Errorf(lockbox.EINVALID, "end must be after start.")
	}
	for _, op := range q.Operations {
		if !lockbox.IsAuditOperation(op) {
			return q, lockbox.Errorf(lockbox.EINVALID, "Unknown operation %q (use one of %s).", op, strings.Join(lockbox.AuditOperations, ", "))
		}
	}
	if q.RecordType != "" && !lockbox.IsAuditRecordType(q.RecordType) {
		return q, lockbox.Errorf(lockbox.EINVALID, "Unknown record_type %q (use one of %s).", q.RecordType, strings.Join(lockbox.AuditRecordTypes, ", "))
	}
	for _, u := range q.Users {
		if err := lockbox.ValidText("user", u, 320, false); err != nil || u == "" {
			return q, lockbox.Errorf(lockbox.EINVALID, "user must be 1 to 320 characters of text.")
		}
	}
	if err := lockbox.ValidText("request_id", q.RequestID, 100, false); err != nil {
		return q, err
	}
	if f.Cursor != "" {
		t, idx, err := decodeCursor(f.Cursor)
		if err != nil {
			return q, err
		}
		q.BeforeTime, q.BeforeIndex = &t, idx
	}
	return q, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Cursors are the (time, index) of the last record of a page. They are
// opaque to clients, who only hand them back.
func encodeCursor(r *lockbox.AuditRecord) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("a1:%d:%d", r.Time.UnixMicro(), r.Index)))
}

func decodeCursor(s string) (time.Time, int64, error) {
	bad := lockbox.Errorf(lockbox.EINVALID, "cursor is not valid: pass the next_cursor of the previous page unchanged.")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, 0, bad
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != 3 || parts[0] != "a1" {
		return time.Time{}, 0, bad
	}
	us, err1 := strconv.ParseInt(parts[1], 10, 64)
	idx, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || idx < 0 {
		return time.Time{}, 0, bad
	}
	return time.UnixMicro(us).UTC(), idx, nil
}
