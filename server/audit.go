package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
)

// The audit log routes (SPEC §7). {tenant} is a tenant's name, or
// "provider" (lockbox.ProviderLog, a reserved name) for the provider's own
// log, which provider admins read.

var auditFilterParams = []string{"start", "end", "operation", "user", "request_id", "record_type", "limit", "cursor"}

// auditPage is the body of GET …/audit. Records are served as their
// canonical JSON, the exact bytes the log hashes, so what a customer reads
// is what they verify.
type auditPage struct {
	Records    []json.RawMessage `json:"records"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

func (s *Server) searchAudit(w http.ResponseWriter, r *http.Request) {
	f, err := parseAuditFilter(r.URL.Query(), true)
	if err != nil {
		s.error(w, r, err)
		return
	}
	page, err := s.Audit.SearchAudit(r.Context(), r.PathValue("tenant"), f)
	if err != nil {
		s.error(w, r, err)
		return
	}
	out := auditPage{Records: make([]json.RawMessage, len(page.Records)), NextCursor: page.NextCursor}
	for i, rec := range page.Records {
		if out.Records[i], err = rec.Canonical(); err != nil {
			s.error(w, r, fmt.Errorf("encode audit record %s: %w", rec.ID, err))
			return
		}
	}
	s.respond(w, r, http.StatusOK, out)
}

// exportAudit streams the CSV (auditlog.ServeCSV): each record is written
// as it is read, so memory stays flat however many there are. The status
// line goes out with the first row; an error after that breaks the
// response off, which the client sees as a cut transfer, never as a
// complete file.
func (s *Server) exportAudit(w http.ResponseWriter, r *http.Request) {
	f, err := parseAuditFilter(r.URL.Query(), false)
	if err == nil {
		err = auditlog.ServeCSV(w, r, s.Audit, r.PathValue("tenant"), f, func(err error) { s.logInternal(r, err) })
	}
	if err != nil {
		s.error(w, r, err)
	}
}

// parseAuditFilter reads the audit search query; paged is false for the
// CSV export, which takes no limit or cursor. Unknown parameters are
// refused: a mistyped filter must not silently export more.
func parseAuditFilter(q url.Values, paged bool) (lockbox.AuditFilter, error) {
	var f lockbox.AuditFilter
	allowed := auditFilterParams
	if !paged {
		allowed = allowed[:len(allowed)-2]
	}
	for name, vs := range q {
		if !slices.Contains(allowed, name) {
			return f, lockbox.Errorf(lockbox.EINVALID, "Unknown query parameter %q; use %s.", name, strings.Join(allowed, ", "))
		}
		if len(vs) > 1 && name != "operation" && name != "user" {
			return f, lockbox.Errorf(lockbox.EINVALID, "Query parameter %q is given %d times; give it once.", name, len(vs))
		}
	}
	var err error
	if f.Start, err = queryTime(q, "start"); err != nil {
		return f, err
	}
	if f.End, err = queryTime(q, "end"); err != nil {
		return f, err
	}
	f.Operations, f.Users = splitList(q["operation"]), q["user"]
	f.RequestID, f.RecordType, f.Cursor = q.Get("request_id"), q.Get("record_type"), q.Get("cursor")
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > lockbox.MaxAuditPageSize {
			return f, lockbox.Errorf(lockbox.EINVALID, "limit must be a whole number from 1 to %d; got %q.", lockbox.MaxAuditPageSize, v[0])
		}
		f.Limit = n
	}
	return f, nil
}

func queryTime(q url.Values, name string) (*time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, lockbox.Errorf(lockbox.EINVALID, "%s must be an RFC 3339 time like 2026-11-21T09:00:00Z; got %q.", name, v)
	}
	t = t.UTC()
	return &t, nil
}

// splitList accepts a parameter repeated, comma-separated, or both.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func (s *Server) logCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp, err := s.Audit.Checkpoint(r.Context(), r.PathValue("tenant"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "private, no-cache")
	_, _ = w.Write(cp.Note)
}

// tiler is the audit service's c2sp.org/tlog-tiles view of a log
// (auditlog.Service.LogTile).
type tiler interface {
	LogTile(ctx context.Context, log, path string) ([]byte, bool, error)
}

// logTile serves GET …/log/tiles/tile/…: a full tile never changes, so it
// may be kept for a year (privately: the log is not public); a partial one
// is revalidated.
func (s *Server) logTile(w http.ResponseWriter, r *http.Request) {
	t, ok := s.Audit.(tiler)
	if !ok {
		s.error(w, r, lockbox.Errorf(lockbox.ENOTFOUND, "This server does not serve tiles."))
		return
	}
	data, full, err := t.LogTile(r.Context(), r.PathValue("tenant"), "tile/"+r.PathValue("path"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	// Announced, so a client reads a bundle into one buffer of its size.
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	if full {
		w.Header().Set("Cache-Control", "private, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "private, no-cache")
	}
	_, _ = w.Write(data)
}

// logBundles serves GET …/log/bundles?start=N&end=M: the log's full entry
// bundles N to M-1 in one response, for verifiers that read them all
// (auditlog.Service.LogBundles); without end, to the last full bundle the
// log has. An error after the first bytes cannot change the status any
// more: the connection is cut, so the client sees a short stream, never a
// complete-looking one.
func (s *Server) logBundles(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	names := []string{"start", "end"}
	if !q.Has("end") {
		names = names[:1]
	}
	args, err := int64Params(q, names...)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if len(args) == 1 {
		args = append(args, -1) // open: auditlog.Service.LogBundles
	}
	b, ok := s.Audit.(bundler)
	if !ok {
		s.error(w, r, lockbox.Errorf(lockbox.ENOTFOUND, "This server does not stream entry bundles."))
		return
	}
	// An open end's response changes as the log grows: not to be kept.
	sw := &startedWriter{w: w, immutable: args[1] >= 0}
	if err := b.LogBundles(r.Context(), r.PathValue("tenant"), args[0], args[1], sw); err != nil {
		if sw.started {
			s.logger().WarnContext(r.Context(), "entry bundle stream cut short", "route", r.Pattern, "err", err)
			panic(http.ErrAbortHandler)
		}
		s.error(w, r, err)
		return
	}
	sw.start() // an empty range: no byte written, the headers still due
}

// bundler is the audit service's bundle streams (auditlog.Service).
type bundler interface {
	LogBundles(ctx context.Context, log string, start, end int64, w io.Writer) error
}

// startedWriter sets the stream's headers before its first byte and
// remembers that it was sent.
type startedWriter struct {
	w                  http.ResponseWriter
	started, immutable bool
}

func (sw *startedWriter) Write(p []byte) (int, error) {
	sw.start()
	return sw.w.Write(p)
}

func (sw *startedWriter) start() {
	if sw.started {
		return
	}
	sw.started = true
	h := sw.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	if sw.immutable {
		// Full bundles never change (as the tiles route says).
		h.Set("Cache-Control", "private, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "private, no-cache")
	}
	sw.w.WriteHeader(http.StatusOK)
}

// logEntries is the body of GET …/log/entries.
type logEntries struct {
	Entries []lockbox.LogEntry `json:"entries"`
}

func (s *Server) logEntries(w http.ResponseWriter, r *http.Request) {
	args, err := int64Params(r.URL.Query(), "start", "end")
	if err != nil {
		s.error(w, r, err)
		return
	}
	entries, err := s.Audit.LogEntries(r.Context(), r.PathValue("tenant"), args[0], args[1])
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, logEntries{Entries: entries})
}

// proof is the body of the proof routes: base64 hashes, in RFC 6962 order.
type proof struct {
	Hashes [][]byte `json:"hashes"`
}

func proofOut(hs [][32]byte) proof {
	out := proof{Hashes: make([][]byte, len(hs))}
	for i := range hs {
		out.Hashes[i] = hs[i][:]
	}
	return out
}

func (s *Server) inclusionProof(w http.ResponseWriter, r *http.Request) {
	args, err := int64Params(r.URL.Query(), "index", "size")
	if err != nil {
		s.error(w, r, err)
		return
	}
	hs, err := s.Audit.InclusionProof(r.Context(), r.PathValue("tenant"), args[0], args[1])
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, proofOut(hs))
}

func (s *Server) consistencyProof(w http.ResponseWriter, r *http.Request) {
	args, err := int64Params(r.URL.Query(), "old", "new")
	if err != nil {
		s.error(w, r, err)
		return
	}
	hs, err := s.Audit.ConsistencyProof(r.Context(), r.PathValue("tenant"), args[0], args[1])
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, proofOut(hs))
}

// logKey serves the checkpoint verifier key, one line of text.
func (s *Server) logKey(w http.ResponseWriter, r *http.Request) {
	key, err := s.Audit.LogKey(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = fmt.Fprintln(w, key)
}

// int64Params reads exactly the named parameters, each a non-negative
// whole number given once.
func int64Params(q url.Values, names ...string) ([]int64, error) {
	for name := range q {
		if !slices.Contains(names, name) {
			return nil, lockbox.Errorf(lockbox.EINVALID, "Unknown query parameter %q; use %s.", name, strings.Join(names, " and "))
		}
	}
	out := make([]int64, len(names))
	for i, name := range names {
		vs := q[name]
		if len(vs) != 1 {
			return nil, lockbox.Errorf(lockbox.EINVALID, "Give query parameter %q exactly once.", name)
		}
		n, err := strconv.ParseInt(vs[0], 10, 64)
		if err != nil || n < 0 {
			return nil, lockbox.Errorf(lockbox.EINVALID, "%s must be a whole number, 0 or more; got %q.", name, vs[0])
		}
		out[i] = n
	}
	return out, nil
}
