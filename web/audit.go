package web

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

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
	// The configured witnesses, each with whether it validly cosigned
	// this checkpoint, and the quorum (none configured: Witnesses empty).
	Witnesses []witnessView
	Cosigned  int
	Quorum    int
	QuorumMet bool
}

type witnessView struct {
	Name     string
	Cosigned bool
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

// auditCSV streams the search as CSV: the API's export (auditlog.ServeCSV
// answers both). An error after the first byte breaks the response off, so
// the browser reports a failed download rather than saving a truncated file
// as if it were complete.
func (h *Handler) auditCSV(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Audit == nil {
		h.errorPage(w, r, http.StatusNotImplemented, "The audit log is not available on this server.")
		return
	}
	f, err := readAuditForm(r).filter(location(r))
	if err == nil {
		log := auditLog(lockbox.UserFromContext(r.Context()))
		err = auditlog.ServeCSV(w, r, h.cfg.Audit, log, f, func(err error) {
			h.cfg.Logger.ErrorContext(r.Context(), "audit CSV export failed", "err", err)
		})
	}
	if err != nil {
		h.serviceError(w, r, err)
	}
}

// maxVerifyEntries bounds the entries the page re-hashes to check the
// checkpoint's root; beyond it only the signature is checked (and the
// page says so: `lockbox audit verify` checks everything).
const maxVerifyEntries = 100_000

// verifyCheckpoint checks the log's latest checkpoint with `lockbox audit
// verify`'s code (auditlog.Verify, at a glance: signature and root only),
// against the log key the server publishes. The page keeps nothing between
// looks, so it shows that the log matches its signed checkpoint, not that
// it only grew, nor each record's form: the CLI checks those.
func (h *Handler) verifyCheckpoint(ctx context.Context, log string) *checkpointView {
	rep, err := auditlog.Verify(ctx, h.cfg.Audit, log, nil, auditlog.Options{RootOnly: true, MaxEntries: maxVerifyEntries})
	if err != nil {
		return &checkpointView{Detail: "The checkpoint could not be checked: " + lockbox.ErrorMessage(err)}
	}
	v := &checkpointView{}
	if cp := rep.Checkpoint; cp != nil {
		v.Size, v.Origin, v.Note = cp.Size, cp.Origin, string(cp.Note)
		v.RootHash = base64.StdEncoding.EncodeToString(cp.RootHash[:])
	}
	switch {
	case !rep.OK():
		v.Detail = rep.Problems[0].Message
		if more := len(rep.Problems) - 1; more > 0 {
			v.Detail += fmt.Sprintf(" (%d more problems: run `lockbox audit verify` to list them.)", more)
		}
	case rep.SignatureOnly:
		v.Verified = true
		v.Detail = fmt.Sprintf("Signature valid (key %s). The log has more than %d entries: run `lockbox audit verify` to recompute its root.", rep.KeyName, maxVerifyEntries)
	default:
		v.Verified = true
		v.Detail = fmt.Sprintf("Signature valid (key %s), and the root hash recomputed from all %d entries matches.", rep.KeyName, rep.Size)
	}
	if rep.Checkpoint != nil {
		h.checkCosignatures(v, rep.Checkpoint.Note)
	}
	return v
}

// checkCosignatures checks the checkpoint note's cosignatures against the
// configured witnesses' keys (c2sp.org/tlog-cosignature), as `lockbox
// audit verify --witness` does.
func (h *Handler) checkCosignatures(v *checkpointView, msg []byte) {
	ws := h.cfg.Witnesses
	v.Quorum = h.cfg.WitnessQuorum
	if v.Quorum <= 0 || v.Quorum > len(ws) {
		v.Quorum = len(ws)
	}
	for _, w := range ws {
		ok := auditlog.Cosigned(msg, w.Verifier)
		if ok {
			v.Cosigned++
		}
		v.Witnesses = append(v.Witnesses, witnessView{Name: w.Name, Cosigned: ok})
	}
	v.QuorumMet = len(ws) > 0 && v.Cosigned >= v.Quorum
}
