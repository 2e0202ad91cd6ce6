package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/client"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
	"github.com/lockboxhq/lockbox/server"
	"github.com/lockboxhq/lockbox/sqlite"
	"github.com/lockboxhq/lockbox/sqlite/sqlitetest"
)

// bearer adds a bearer token to every request: how a tlog-tiles client is
// given a tenant log's access rules.
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// flipTiles serves tiles with one byte of every entry bundle changed: a
// provider serving records other than the ones it signed.
type flipTiles struct{ *auditlog.Service }

func (f flipTiles) LogTile(ctx context.Context, log, path string) ([]byte, bool, error) {
	b, full, err := f.Service.LogTile(ctx, log, path)
	if err == nil && strings.Contains(path, "/entries/") {
		b = bytes.Replace(b, []byte(`"tiled `), []byte(`"tilex `), 1)
	}
	return b, full, err
}

// tilesServer is a real server on loopback over a real store holding n
// records in contoso's log, its audit service wrapped by wrap, and the
// auditor's token.
func tilesServer(t *testing.T, n int, wrap func(*auditlog.Service) lockbox.AuditService) (*httptest.Server, string) {
	return tilesServerAt(t, sqlitetest.Path(t), n, wrap)
}

// tilesServerAt is tilesServer on the database file at path.
func tilesServerAt(t *testing.T, path string, n int, wrap func(*auditlog.Service) lockbox.AuditService) (*httptest.Server, string) {
	ts, token, _ := tilesServerStore(t, path, n, wrap)
	return ts, token
}

// tiledRecords are records from to from+n-1 of contoso's log as
// tilesServer fills it.
func tiledRecords(from, n int) []*lockbox.AuditRecord {
	var recs []*lockbox.AuditRecord
	for i := from; i < from+n; i++ {
		recs = append(recs, &lockbox.AuditRecord{ID: fmt.Sprintf("tile-%04d", i), Time: time.Date(2030, 1, 1, 0, 0, i, 0, time.UTC),
			Tenant: "contoso", RecordType: lockbox.RecordTenantAdmin, Operation: lockbox.OpSettingsUpdated, UserID: "admin@contoso.test",
			AuditData: map[string]any{"note": fmt.Sprint("tiled ", i)}})
	}
	return recs
}

// tilesServerStore is tilesServerAt, and its store, for a test that adds
// records while the server runs.
func tilesServerStore(t *testing.T, path string, n int, wrap func(*auditlog.Service) lockbox.AuditService) (*httptest.Server, string, lockbox.Store) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc := approval.New(store, lockbox.NewOffsetClock(), approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1, LoginBurst: 1000})
	if err := svc.SeedDev(ctx); err != nil {
		t.Fatal(err)
	}
	lockboxtest.AppendAudit(t, store, tiledRecords(0, n)...)
	audit := newTestAudit(t, store)
	s := &server.Server{Requests: svc, Accounts: svc, Tenants: svc, Catalog: svc, Logger: slog.New(slog.DiscardHandler), Audit: wrap(audit)}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	sess, err := svc.Login(ctx, "auditor@contoso.test", approval.DevPassword)
	if err != nil {
		t.Fatal(err)
	}
	return ts, sess.Token, store
}

// readWithTorchwood reads and verifies contoso's log through its tiles with
// filippo.io/torchwood's tile client and golang.org/x/mod's note and tlog,
// nothing of Lockbox's: the checkpoint's signature with the published key,
// every data tile against the hash tiles and the signed root, and one
// entry's inclusion proof. It returns the entries and the client's error.
func readWithTorchwood(t *testing.T, ts *httptest.Server, token string) ([][]byte, error) {
	ctx := t.Context()
	resp, err := http.Get(ts.URL + "/v1/log/key")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	verifier, err := note.NewVerifier(strings.TrimSpace(string(key)))
	if err != nil {
		t.Fatal(err)
	}
	fetcher, err := torchwood.NewTileFetcher(ts.URL+"/v1/tenants/contoso/log/tiles/",
		torchwood.WithHTTPClient(&http.Client{Transport: bearer{token}, Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := fetcher.ReadEndpoint(ctx, "checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(verifier))
	if err != nil {
		t.Fatalf("checkpoint signature: %v", err)
	}
	cp, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil {
		t.Fatal(err)
	}
	tree := tlog.Tree{N: cp.N, Hash: cp.Hash}
	client, err := torchwood.NewClient(fetcher)
	if err != nil {
		t.Fatal(err)
	}
	var entries [][]byte
	// The iterator may stop before a partial data tile; resuming reads it.
	for try := 0; try < 3 && int64(len(entries)) < tree.N; try++ {
		for i, e := range client.Entries(ctx, tree, int64(len(entries))) {
			if i != int64(len(entries)) {
				t.Fatalf("entry %d after %d entries", i, len(entries))
			}
			entries = append(entries, bytes.Clone(e))
		}
		if err := client.Err(); err != nil {
			return entries, err
		}
	}
	if int64(len(entries)) != tree.N {
		t.Fatalf("read %d entries of %d", len(entries), tree.N)
	}
	last := tree.N - 1
	if e, _, err := client.Entry(ctx, tree, last); err != nil || !bytes.Equal(e, entries[last]) {
		t.Fatalf("entry %d with its inclusion proof: %v", last, err)
	}
	return entries, nil
}

// TestTilesReadByTorchwood: a tlog-tiles client nobody here wrote reads and
// verifies a tenant log of full and partial tiles (600 records: two full
// entry bundles, a partial one, a partial level-1 hash tile), every entry
// the exact canonical record; a provider serving altered entries is caught.
func TestTilesReadByTorchwood(t *testing.T) {
	t.Parallel()
	ts, token := tilesServer(t, 600, func(s *auditlog.Service) lockbox.AuditService { return s })
	entries, err := readWithTorchwood(t, ts, token)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for i, e := range entries {
		var rec struct {
			Index int64  `json:"index"`
			ID    string `json:"id"`
		}
		if err := json.Unmarshal(e, &rec); err != nil || rec.Index != int64(i) {
			t.Fatalf("entry %d: %v %s", i, err, e)
		}
		if strings.HasPrefix(rec.ID, "tile-") {
			seen++
		}
	}
	if seen != 600 {
		t.Errorf("%d of the 600 records read", seen)
	}

	bad, badToken := tilesServer(t, 600, func(s *auditlog.Service) lockbox.AuditService { return tilesOnly{s, flipTiles{s}} })
	if _, err := readWithTorchwood(t, bad, badToken); err == nil {
		t.Error("torchwood verified altered entry bundles")
	}
}

// TestTilesFromStoredBundles: full entry bundles are served as the store
// keeps them (written with the append that filled them), or built from the
// rows for a log filled before they were kept (then stored in the
// background); either way torchwood reads and verifies the log, and a
// stored bundle altered in the database file is caught like any altered
// bundle.
func TestTilesFromStoredBundles(t *testing.T) {
	t.Parallel()
	path := sqlitetest.Path(t)
	var svc *auditlog.Service
	ts, token := tilesServerAt(t, path, 600, func(s *auditlog.Service) lockbox.AuditService { svc = s; return s })
	db := sqlitetest.Raw(t, path)
	exec := func(query string) int64 {
		t.Helper()
		res, err := db.Exec(query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		n, _ := res.RowsAffected()
		return n
	}
	stored := func() int { return countBundles(t, path) }
	if got := stored(); got != 2 {
		t.Fatalf("%d bundles stored, want the 2 full ones", got)
	}
	if _, err := readWithTorchwood(t, ts, token); err != nil {
		t.Fatalf("stored bundles: %v", err)
	}

	exec(`DELETE FROM audit_bundles`) // as a log filled before migration 00018
	if _, err := readWithTorchwood(t, ts, token); err != nil {
		t.Fatalf("bundles built from the rows: %v", err)
	}
	svc.WaitBundleFills()
	if got := stored(); got != 2 {
		t.Fatalf("%d bundles stored after they were read, want 2", got)
	}

	// Same length, another record: only the leaf hash tells.
	if n := exec(`UPDATE audit_bundles SET data = CAST(replace(data, '"tiled 300"', '"tiled 301"') AS BLOB) WHERE log = 'contoso' AND n = 1 AND instr(data, '"tiled 300"') > 0`); n != 1 {
		t.Fatalf("tampered %d bundles", n)
	}
	if _, err := readWithTorchwood(t, ts, token); err == nil {
		t.Error("torchwood verified a stored bundle altered in the database")
	}
}

// TestTilesHTTP: caching (full tiles immutable, partial ones and the
// checkpoint revalidated), the log's access rules, and 404 past the end.
func TestTilesHTTP(t *testing.T) {
	t.Parallel()
	ts, token := tilesServer(t, 300, func(s *auditlog.Service) lockbox.AuditService { return s })
	base := ts.URL + "/v1/tenants/contoso/log/tiles/"
	get := func(path, token string) *http.Response {
		req, _ := http.NewRequest("GET", path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, tt := range []struct {
		path, token string
		status      int
		cache       string
	}{
		{"tile/entries/000", token, 200, "private, max-age=31536000, immutable"},
		{"tile/0/000", token, 200, "private, max-age=31536000, immutable"},
		{"tile/entries/001.p/3", token, 200, "private, no-cache"},
		{"tile/1/000.p/1", token, 200, "private, no-cache"},
		{"checkpoint", token, 200, "private, no-cache"},
		{"tile/entries/001", token, 404, ""},       // not full yet
		{"tile/entries/001.p/200", token, 404, ""}, // past the end
		{"tile/entries/000", "", 401, ""},          // no token
	} {
		resp := get(base+tt.path, tt.token)
		if resp.StatusCode != tt.status || (tt.cache != "" && resp.Header.Get("Cache-Control") != tt.cache) {
			t.Errorf("%s: %d %q, want %d %q", tt.path, resp.StatusCode, resp.Header.Get("Cache-Control"), tt.status, tt.cache)
		}
	}
	// Tiles announce their length, so a client reads each into one buffer.
	for _, path := range []string{"tile/entries/000", "tile/entries/001.p/3", "tile/0/000"} {
		if resp := get(base+path, token); resp.ContentLength <= 0 {
			t.Errorf("%s: Content-Length %d, want the tile's length", path, resp.ContentLength)
		}
	}
	// Another tenant's tiles look like a missing log's.
	if resp := get(ts.URL+"/v1/tenants/fabrikam/log/tiles/tile/entries/000.p/1", token); resp.StatusCode != 404 {
		t.Errorf("another tenant's tile: %d, want 404", resp.StatusCode)
	}
}

// countEntries counts the reads of the JSON entries endpoint.
type countEntries struct {
	*auditlog.Service
	n *atomic.Int64
}

func (c countEntries) LogEntries(ctx context.Context, log string, start, end int64) ([]lockbox.LogEntry, error) {
	c.n.Add(1)
	return c.Service.LogEntries(ctx, log, start, end)
}

// TestVerifyOverTiles: `lockbox audit verify`'s code over HTTP (the Go
// client), against a server without bundle streams, reads the log through
// its entry bundles, never the JSON entries endpoint, and catches a
// provider serving altered bundles (TestVerifyOverBundleStream does the
// same through streams).
func TestVerifyOverTiles(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	ts, token := tilesServer(t, 600, func(s *auditlog.Service) lockbox.AuditService {
		return tilesOnly{countEntries{s, &n}, s}
	})
	r, err := auditlog.Verify(t.Context(), client.New(ts.URL, token), "contoso", nil, auditlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.Checked != r.Size || r.Size < 600 || n.Load() != 0 {
		t.Fatalf("ok=%t checked %d of %d, JSON entries read %d times: %v", r.OK(), r.Checked, r.Size, n.Load(), r.Problems)
	}

	bad, badToken := tilesServer(t, 600, func(s *auditlog.Service) lockbox.AuditService { return flipTiles{s} })
	r, err = auditlog.Verify(t.Context(), client.New(bad.URL, badToken), "contoso", nil, auditlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.OK() {
		t.Fatal("altered entry bundles verified")
	}
}
