package web

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
)

// auditFilterForm is the audit search as typed: dates in the viewer's
// zone, operations ticked, users one per line or comma-separated.
type auditFilterForm struct {
	Start, End string // yyyy-mm-dd
	Operations []string
	Users      string
	Cursor     string
}

type auditData struct {
	Log        string
	Missing    bool // no audit service wired in
	Form       auditFilterForm
	AllOps     []string
	Records    []*lockbox.AuditRecord
	NextQuery  string
	CSVQuery   string
	Problem    string
	Checkpoint *checkpointView
}

// checkpointView is the latest signed checkpoint and what checking it found.
type checkpointView struct {
	Size     int64
	RootHash string
	Origin   string
	Note     string
	Verified bool
	Detail   string
}

// auditLog is the log the viewer reads: their tenant's, or for provider
// staff the provider's own (the service decides who may read which).
func auditLog(u *lockbox.User) string {
	if u.Tenant != "" {
		return u.Tenant
	}
	return lockbox.ProviderLog
}

func readAuditForm(r *http.Request) auditFilterForm {
	q := r.URL.Query()
	return auditFilterForm{Start: q.Get("start"), End: q.Get("end"), Operations: q["operation"],
		Users: q.Get("users"), Cursor: q.Get("cursor")}
}

// filter builds the service's filter. Dates are whole days in loc: the end
// date is included (records before the next midnight).
func (f auditFilterForm) filter(loc *time.Location) (lockbox.AuditFilter, error) {
	out := lockbox.AuditFilter{Operations: f.Operations, Cursor: f.Cursor, Limit: 50}
	day := func(s, field string) (*time.Time, error) {
		if s == "" {
			return nil, nil
		}
		t, err := time.ParseInLocation("2006-01-02", s, loc)
		if err != nil {
			return nil, lockbox.Errorf(lockbox.EINVALID, "The %s date %q is not a date such as 2026-11-21.", field, s)
		}
		return &t, nil
	}
	var err error
	if out.Start, err = day(f.Start, "start"); err != nil {
		return out, err
	}
	if out.End, err = day(f.End, "end"); err != nil {
		return out, err
	}
	if out.End != nil {
		next := out.End.AddDate(0, 0, 1) // the next midnight in the viewer's zone
		out.End = &next
	}
	for _, u := range strings.FieldsFunc(f.Users, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if u = strings.TrimSpace(u); u != "" {
			out.Users = append(out.Users, u)
		}
	}
	return out, nil
}

func (f auditFilterForm) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"start": f.Start, "end": f.End, "users": f.Users} {
		if s != "" {
			v.Set(k, s)
		}
	}
	for _, op := range f.Operations {
		v.Add("operation", op)
	}
	return v
}

func (h *Handler) auditPage(w http.ResponseWriter, r *http.Request) {
	u := lockbox.UserFromContext(r.Context())
	d := auditData{Log: auditLog(u), Form: readAuditForm(r), AllOps: lockbox.AuditOperations}
	if h.cfg.Audit == nil {
		d.Missing = true
		h.render(w, r, http.StatusOK, "audit", "Audit log", d)
		return
	}
	f, err := d.Form.filter(location(r))
	if err == nil {
		var page *lockbox.AuditPage
		page, err = h.cfg.Audit.SearchAudit(r.Context(), d.Log, f)
		if err == nil {
			d.Records = page.Records
			if page.NextCursor != "" {
				next := d.Form.values()
				next.Set("cursor", page.NextCursor)
				d.NextQuery = next.Encode()
			}
		}
	}
	switch lockbox.ErrorCode(err) {
	case "":
	case lockbox.EINVALID:
		d.Problem = lockbox.ErrorMessage(err)
	default:
		h.serviceError(w, r, err)
		return
	}
	d.CSVQuery = d.Form.values().Encode()
	d.Checkpoint = h.verifyCheckpoint(r.Context(), d.Log)
	h.render(w, r, statusOf(err), "audit", "Audit log", d)
}

// auditCSV streams the search as CSV in the layout of SPEC §7 (and of the
// API's audit.csv): RecordId, CreationDate, RecordType, Operation, UserId,
// AuditData (the whole record as JSON).
func (h *Handler) auditCSV(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Audit == nil {
		h.errorPage(w, r, http.StatusNotImplemented, "The audit log is not available on this server.")
		return
	}
	u := lockbox.UserFromContext(r.Context())
	f, err := readAuditForm(r).filter(location(r))
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	log := auditLog(u)
	var cw *csv.Writer
	err = h.cfg.Audit.ExportAudit(r.Context(), log, f, func(rec *lockbox.AuditRecord) error {
		if cw == nil {
			cw = startCSV(w, log)
		}
		return writeCSVRecord(cw, rec)
	})
	if cw == nil {
		if err != nil {
			h.serviceError(w, r, err)
			return
		}
		cw = startCSV(w, log) // no records: the header alone
	}
	if err != nil {
		// The response has started; the truncated file is all we can give.
		h.cfg.Logger.ErrorContext(r.Context(), "audit CSV export failed", "err", err)
	}
	cw.Flush()
}

func startCSV(w http.ResponseWriter, log string) *csv.Writer {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-%s.csv"`, log))
	cw := csv.NewWriter(w)
	cw.Write([]string{"RecordId", "CreationDate", "RecordType", "Operation", "UserId", "AuditData"})
	return cw
}

func writeCSVRecord(cw *csv.Writer, rec *lockbox.AuditRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode audit record %s: %w", rec.ID, err)
	}
	row := []string{rec.ID, rec.Time.UTC().Format("2006-01-02T15:04:05.000Z"), rec.RecordType,
		rec.Operation, rec.UserID, string(data)}
	for i, c := range row {
		row[i] = defuse(c)
	}
	return cw.Write(row)
}

// defuse stops a spreadsheet from running a cell as a formula: a cell
// starting with = + - @ tab or CR gets a leading apostrophe.
func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// maxVerifyEntries bounds the entries the page re-hashes to check the
// checkpoint's root; beyond it only the signature is checked (and the
// page says so: `lockbox audit verify` checks everything).
const maxVerifyEntries = 100_000

// verifyCheckpoint fetches the latest checkpoint, checks its signature
// with the published log key, and recomputes its root hash from the log's
// entries.
func (h *Handler) verifyCheckpoint(ctx context.Context, log string) *checkpointView {
	cp, err := h.cfg.Audit.Checkpoint(ctx, log)
	if err != nil {
		return &checkpointView{Detail: "No checkpoint could be read: " + lockbox.ErrorMessage(err)}
	}
	v := &checkpointView{Size: cp.Size, Origin: cp.Origin, Note: string(cp.Note),
		RootHash: base64.StdEncoding.EncodeToString(cp.RootHash[:])}
	key, err := h.cfg.Audit.LogKey(ctx)
	if err != nil {
		v.Detail = "The log's public key could not be read: " + lockbox.ErrorMessage(err)
		return v
	}
	verifier, err := note.NewVerifier(key)
	if err != nil {
		v.Detail = "The log's public key is malformed."
		return v
	}
	signed, err := auditlog.OpenCheckpoint(cp.Note, note.VerifierList(verifier))
	if err != nil {
		v.Detail = "Signature check failed: " + err.Error() + "."
		return v
	}
	if signed.Size != cp.Size || signed.RootHash != cp.RootHash {
		v.Detail = "The signed checkpoint does not say what the server reported."
		return v
	}
	if cp.Size > maxVerifyEntries {
		v.Verified = true
		v.Detail = fmt.Sprintf("Signature valid (key %s). The log has more than %d entries: run `lockbox audit verify` to recompute its root.", verifier.Name(), maxVerifyEntries)
		return v
	}
	root, err := h.recomputeRoot(ctx, log, cp.Size)
	switch {
	case err != nil:
		v.Detail = "Signature valid, but the entries could not be read: " + lockbox.ErrorMessage(err)
	case root != cp.RootHash:
		v.Detail = fmt.Sprintf("Signature valid, but the root hash recomputed from the %d entries differs: the log does not match its checkpoint.", cp.Size)
	default:
		v.Verified = true
		v.Detail = fmt.Sprintf("Signature valid (key %s), and the root hash recomputed from all %d entries matches.", verifier.Name(), cp.Size)
	}
	return v
}

// recomputeRoot hashes the log's first size leaves (RFC 6962) in memory.
func (h *Handler) recomputeRoot(ctx context.Context, log string, size int64) ([32]byte, error) {
	var hashes []tlog.Hash
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(hashes)) {
				return nil, fmt.Errorf("hash %d not computed", x)
			}
			out[i] = hashes[x]
		}
		return out, nil
	})
	for n := int64(0); n < size; {
		entries, err := h.cfg.Audit.LogEntries(ctx, log, n, min(size, n+lockbox.MaxLogEntriesPage))
		if err != nil {
			return [32]byte{}, err
		}
		if len(entries) == 0 {
			return [32]byte{}, fmt.Errorf("log %s ended at %d entries, before %d", log, n, size)
		}
		for _, e := range entries {
			if e.Index != n {
				return [32]byte{}, fmt.Errorf("log %s: entry %d where %d was expected", log, e.Index, n)
			}
			hs, err := tlog.StoredHashes(n, e.Data, reader)
			if err != nil {
				return [32]byte{}, err
			}
			hashes = append(hashes, hs...)
			n++
		}
	}
	root, err := tlog.TreeHash(size, reader)
	return root, err
}
