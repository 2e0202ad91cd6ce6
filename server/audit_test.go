package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
)

// newTestAudit is the real audit service on store, signing with a fresh key.
func newTestAudit(tb testing.TB, store lockbox.Store) *auditlog.Service {
	tb.Helper()
	signer, vkey := lockboxtest.LogSigner(tb)
	return auditlog.New(store, signer, vkey, "lockbox.test")
}

// The audit routes in the authorization matrix (authz_test.go): the
// tenant's three roles read their own log; provider staff may not read a
// tenant's; the key is public.
func init() {
	readers := func(p principal, t string) outcome {
		return tenantRole(p, t, "global_admin", "lockbox_approver", "audit_reader")
	}
	for _, path := range []string{"/audit", "/audit.csv", "/log/checkpoint", "/log/entries",
		"/log/proof/inclusion", "/log/proof/consistency", "/log/tiles/checkpoint", "/log/tiles/tile/{path...}", "/log/bundles"} {
		expectations["GET /v1/tenants/{tenant}"+path] = readers
	}
	expectations["GET /v1/log/key"] = anyone
}

// auditRouteQuery makes the matrix's calls to the log routes valid (the
// seeded tenants' logs hold their admins' role assignments).
var auditRouteQuery = map[string]string{
	"GET /v1/tenants/{tenant}/log/entries":           "?start=0&end=1",
	"GET /v1/tenants/{tenant}/log/proof/inclusion":   "?index=0&size=1",
	"GET /v1/tenants/{tenant}/log/proof/consistency": "?old=0&new=1",
	"GET /v1/tenants/{tenant}/log/bundles":           "?start=0&end=0",
}

// audit walks the audit routes for TestOpenAPIConformance, after the
// request lifecycle has filled contoso's log.
func (c *conformance) audit(t *testing.T) {
	const auditor, admin = "auditor@contoso.test", "admin@provider.test"
	base := "/v1/tenants/contoso"
	page := decode[struct {
		Records    []lockbox.AuditRecord `json:"records"`
		NextCursor string                `json:"next_cursor"`
	}](t, c.run(t, step{name: "audit page", as: auditor, method: "GET", path: base + "/audit?limit=2", want: 200}))
	if len(page.Records) != 2 || page.NextCursor == "" {
		t.Fatalf("first page: %d records, cursor %q; want 2 and a cursor", len(page.Records), page.NextCursor)
	}
	c.run(t, step{name: "audit next page", as: auditor, method: "GET", path: base + "/audit?limit=2&cursor=" + page.NextCursor, want: 200})
	c.run(t, step{name: "audit every filter", as: "approver@contoso.test", method: "GET",
		path: base + "/audit?start=2000-01-01T00:00:00Z&end=2100-01-01T00:00:00Z&operation=request.approved,request.denied&operation=request.revoked&user=approver@contoso.test&user=x@y&record_type=LockboxDecision&request_id=" + page.Records[0].RequestID + "&limit=5000",
		want: 200})
	for _, bad := range []string{"limit=0", "limit=5001", "operation=request.exploded", "record_type=Nope", "start=yesterday",
		"start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z", "cursor=bogus", "colour=red", "request_id=a&request_id=b"} {
		c.run(t, step{name: "audit " + bad, as: auditor, method: "GET", path: base + "/audit?" + bad, want: 400, invalid: true})
	}
	c.run(t, step{name: "audit of another tenant", as: auditor, method: "GET", path: "/v1/tenants/fabrikam/audit", want: 404})
	c.run(t, step{name: "provider log by a tenant user", as: auditor, method: "GET", path: "/v1/tenants/provider/audit", want: 404})
	c.run(t, step{name: "provider log", as: admin, method: "GET", path: "/v1/tenants/provider/audit?operation=tenant.created", want: 200})
	c.run(t, step{name: "tenant log by provider admin", as: admin, method: "GET", path: base + "/audit", want: 403})
	c.run(t, step{name: "csv", as: auditor, method: "GET", path: base + "/audit.csv?operation=request.created", want: 200})
	c.run(t, step{name: "csv with a cursor", as: auditor, method: "GET", path: base + "/audit.csv?cursor=x", want: 400})
	c.run(t, step{name: "checkpoint", as: auditor, method: "GET", path: base + "/log/checkpoint", want: 200})
	c.run(t, step{name: "entries", as: auditor, method: "GET", path: base + "/log/entries?start=0&end=3", want: 200})
	c.run(t, step{name: "entries past the end", as: auditor, method: "GET", path: base + "/log/entries?start=100000&end=100001", want: 400})
	c.run(t, step{name: "entries without end", as: auditor, method: "GET", path: base + "/log/entries?start=0", want: 400, invalid: true})
	c.run(t, step{name: "inclusion", as: auditor, method: "GET", path: base + "/log/proof/inclusion?index=1&size=3", want: 200})
	c.run(t, step{name: "inclusion index >= size", as: auditor, method: "GET", path: base + "/log/proof/inclusion?index=3&size=3", want: 400})
	c.run(t, step{name: "consistency", as: auditor, method: "GET", path: base + "/log/proof/consistency?old=1&new=3", want: 200})
	c.run(t, step{name: "consistency old > new", as: auditor, method: "GET", path: base + "/log/proof/consistency?old=3&new=1", want: 400})
	c.run(t, step{name: "consistency negative", as: auditor, method: "GET", path: base + "/log/proof/consistency?old=-1&new=1", want: 400, invalid: true})
	c.run(t, step{name: "log key", method: "GET", path: "/v1/log/key", want: 200})
	c.run(t, step{name: "tiles checkpoint", as: auditor, method: "GET", path: base + "/log/tiles/checkpoint", want: 200})
	c.run(t, step{name: "entry bundle", as: auditor, method: "GET", path: base + "/log/tiles/tile/entries/000.p/3", want: 200})
	c.run(t, step{name: "entry bundle past the end", as: auditor, method: "GET", path: base + "/log/tiles/tile/entries/000.p/200", want: 404})
	c.run(t, step{name: "not a tile", as: auditor, method: "GET", path: base + "/log/tiles/tile/nonsense", want: 404})
	c.run(t, step{name: "bundles, none", as: auditor, method: "GET", path: base + "/log/bundles?start=0&end=0", want: 200})
	c.run(t, step{name: "bundles past the full ones", as: auditor, method: "GET", path: base + "/log/bundles?start=0&end=1", want: 404})
	c.run(t, step{name: "bundles end before start", as: auditor, method: "GET", path: base + "/log/bundles?start=2&end=1", want: 400})
	c.run(t, step{name: "bundles without end", as: auditor, method: "GET", path: base + "/log/bundles?start=0", want: 200})
	c.run(t, step{name: "bundles without end, past the full ones", as: auditor, method: "GET", path: base + "/log/bundles?start=7", want: 200})
	c.run(t, step{name: "bundles without start", as: auditor, method: "GET", path: base + "/log/bundles?end=0", want: 400, invalid: true})
	c.run(t, step{name: "bundles with end twice", as: auditor, method: "GET", path: base + "/log/bundles?start=0&end=0&end=0", want: 400, invalid: true})
	c.run(t, step{name: "bundles of another tenant", as: auditor, method: "GET", path: "/v1/tenants/fabrikam/log/bundles?start=0&end=0", want: 404})
}

// auditHarness is the authorization matrix's real API and store, used to
// fill logs straight through the store and read them through the API.
type auditHarness struct{ *matrix }

func newAuditHarness(t *testing.T) *auditHarness { return &auditHarness{newMatrix(t)} }

func (h *auditHarness) get(t *testing.T, as, path string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if as != "" {
		req.Header.Set("Authorization", "Bearer "+h.tokens[as])
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	return rec
}

// TestAuditCSVDefusesFormulas: every cell a spreadsheet would run gets a
// leading quote; AuditData is the record's canonical JSON; the header is
// SPEC's.
func TestAuditCSVDefusesFormulas(t *testing.T) {
	t.Parallel()
	h := newAuditHarness(t)
	when := time.Date(2030, 1, 2, 3, 4, 5, 678e6, time.UTC)
	var recs []*lockbox.AuditRecord
	for i, user := range []string{"=HYPERLINK(\"http://evil\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "plain@contoso.test"} {
		recs = append(recs, &lockbox.AuditRecord{ID: "csv-" + string(rune('a'+i)), Time: when.Add(time.Duration(i) * time.Second),
			Tenant: "contoso", RecordType: lockbox.RecordTenantAdmin, Operation: lockbox.OpSettingsUpdated, UserID: user,
			ActorType: lockbox.ActorTenantUser, Result: lockbox.ResultSucceeded, AuditData: map[string]any{"note": "=1+1"}})
	}
	lockboxtest.AppendAudit(t, h.store, recs...)
	rec := h.get(t, "audit_reader", "/v1/tenants/contoso/audit.csv?start=2030-01-01T00:00:00Z&operation=settings.updated")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("status %d, type %q: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, row := range rows[1:] {
		users = append(users, row[4])
	}
	want := []string{"plain@contoso.test", "'\rx", "'\tx", "'@SUM(A1)", "'-2", "'+1", "'=HYPERLINK(\"http://evil\")"}
	if diff := cmp.Diff(want, users); diff != "" {
		t.Errorf("UserId cells (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"RecordId", "CreationDate", "RecordType", "Operation", "UserId", "AuditData"}, rows[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	last := recs[len(recs)-1]
	canonical, _ := last.Canonical()
	if diff := cmp.Diff([]string{"csv-g", "2030-01-02T03:04:11.678Z", "TenantAdmin", "settings.updated", "plain@contoso.test", string(canonical)}, rows[1]); diff != "" {
		t.Errorf("first row (-want +got):\n%s", diff)
	}
}

// TestAuditCSVEmptyAndLarge: an export with no match is just the header;
// one larger than a store page (1000) streams every record once.
func TestAuditCSVEmptyAndLarge(t *testing.T) {
	t.Parallel()
	h := newAuditHarness(t)
	rec := h.get(t, "audit_reader", "/v1/tenants/contoso/audit.csv?operation=webhook.deleted")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "RecordId,CreationDate,RecordType,Operation,UserId,AuditData" {
		t.Fatalf("empty export: %d %q", rec.Code, rec.Body)
	}
	var recs []*lockbox.AuditRecord
	for i := range 2345 {
		recs = append(recs, &lockbox.AuditRecord{ID: "big-" + time.Duration(i).String(), Time: time.Date(2031, 1, 1, 0, 0, i/7, 0, time.UTC),
			Tenant: "contoso", RecordType: lockbox.RecordOperatorAction, Operation: lockbox.OpOperatorAction, UserID: "Provider Operator"})
	}
	lockboxtest.AppendAudit(t, h.store, recs...)
	rec = h.get(t, "audit_reader", "/v1/tenants/contoso/audit.csv?operation=operator.action")
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, row := range rows[1:] {
		if seen[row[0]] {
			t.Fatalf("record %s exported twice", row[0])
		}
		seen[row[0]] = true
	}
	if len(seen) != len(recs) {
		t.Errorf("exported %d records, want %d", len(seen), len(recs))
	}
}

// TestAuditProofsVerifyIndependently checks the served checkpoint, entries
// and proofs with transparency-dev/merkle, an implementation independent of
// the server's (x/mod/sumdb/tlog).
func TestAuditProofsVerifyIndependently(t *testing.T) {
	t.Parallel()
	h := newAuditHarness(t)
	var recs []*lockbox.AuditRecord
	for i := range 21 {
		recs = append(recs, &lockbox.AuditRecord{ID: "p-" + time.Duration(i).String(), Time: time.Date(2030, 1, 1, 0, 0, i, 0, time.UTC),
			Tenant: "contoso", RecordType: lockbox.RecordTenantAdmin, Operation: lockbox.OpSettingsUpdated, UserID: "admin@contoso.test"})
	}
	lockboxtest.AppendAudit(t, h.store, recs...)
	cpRec := h.get(t, "audit_reader", "/v1/tenants/contoso/log/checkpoint")
	key := strings.TrimSpace(h.get(t, "", "/v1/log/key").Body.String())
	v, err := note.NewVerifier(key)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := auditlog.OpenCheckpoint(cpRec.Body.Bytes(), note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint %q: %v", cpRec.Body, err)
	}
	if cp.Origin != "lockbox.test/contoso" || !strings.HasPrefix(cpRec.Header().Get("Content-Type"), "text/plain") {
		t.Errorf("origin %q, type %q", cp.Origin, cpRec.Header().Get("Content-Type"))
	}
	size := uint64(cp.Size)
	var entries struct {
		Entries []lockbox.LogEntry `json:"entries"`
	}
	if err := json.Unmarshal(h.get(t, "audit_reader", "/v1/tenants/contoso/log/entries?start=0&end=100000").Body.Bytes(), &entries); err != nil {
		t.Fatal(err)
	}
	if uint64(len(entries.Entries)) != size {
		t.Fatalf("%d entries, checkpoint size %d", len(entries.Entries), size)
	}
	hasher := rfc6962.DefaultHasher
	leaf := func(i uint64) []byte { return hasher.HashLeaf(entries.Entries[i].Data) }
	for s := uint64(1); s <= size; s++ {
		for i := uint64(0); i < s; i++ {
			p := h.proof(t, "/v1/tenants/contoso/log/proof/inclusion?index="+itoa(i)+"&size="+itoa(s))
			root, err := proof.RootFromInclusionProof(hasher, i, s, leaf(i), p)
			if err != nil {
				t.Fatalf("inclusion %d in %d: %v", i, s, err)
			}
			if s == size && !bytes.Equal(root, cp.RootHash[:]) {
				t.Fatalf("inclusion %d in %d: root %x, checkpoint %x", i, s, root, cp.RootHash)
			}
			if i == 0 {
				// Every smaller tree's root (from its first leaf's proof) is consistent with the checkpoint.
				c := h.proof(t, "/v1/tenants/contoso/log/proof/consistency?old="+itoa(s)+"&new="+itoa(size))
				if err := proof.VerifyConsistency(hasher, s, size, c, root, cp.RootHash[:]); err != nil {
					t.Fatalf("consistency %d→%d: %v", s, size, err)
				}
			}
		}
	}
	// A tampered proof fails.
	p := h.proof(t, "/v1/tenants/contoso/log/proof/inclusion?index=3&size="+itoa(size))
	p[0][0] ^= 1
	if err := proof.VerifyInclusion(hasher, 3, size, leaf(3), p, cp.RootHash[:]); err == nil {
		t.Error("a tampered inclusion proof verified")
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func (h *auditHarness) proof(t *testing.T, path string) [][]byte {
	t.Helper()
	rec := h.get(t, "audit_reader", path)
	if rec.Code != 200 {
		t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	var out struct {
		Hashes []string `json:"hashes"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	hs := make([][]byte, len(out.Hashes))
	for i, s := range out.Hashes {
		var err error
		if hs[i], err = base64.StdEncoding.DecodeString(s); err != nil {
			t.Fatal(err)
		}
	}
	return hs
}

// TestAuditProviderLog: provider admins read the provider log at
// /v1/tenants/provider; nobody else learns it exists beyond a 403/404.
func TestAuditProviderLog(t *testing.T) {
	t.Parallel()
	h := newAuditHarness(t)
	tests := []struct {
		as   string
		want int
	}{
		{"provider_admin", 200}, {"support_manager", 403}, {"requester", 403}, {"service_account", 403},
		{"global_admin", 404}, {"audit_reader", 404}, {"", 401},
	}
	for _, tt := range tests {
		t.Run(tt.as, func(t *testing.T) {
			for _, path := range []string{"/audit", "/audit.csv", "/log/checkpoint", "/log/entries?start=0&end=5"} {
				if rec := h.get(t, tt.as, "/v1/tenants/provider"+path); rec.Code != tt.want {
					t.Errorf("%s: %d, want %d: %s", path, rec.Code, tt.want, rec.Body)
				}
			}
		})
	}
	var page struct {
		Records []lockbox.AuditRecord `json:"records"`
	}
	if err := json.Unmarshal(h.get(t, "provider_admin", "/v1/tenants/provider/audit?operation=tenant.created").Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 2 { // the dev seed's contoso and fabrikam
		t.Errorf("%d tenant.created records in the provider log, want 2", len(page.Records))
	}
}
