package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/client"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
)

// TestDatabaseRestartMidRun: a real server on PostgreSQL whose database
// goes away (every connection dropped, new ones refused, as during a
// restart) answers 503 with code "unavailable", /readyz included, and
// serves again once the database is back, without being restarted.
func TestDatabaseRestartMidRun(t *testing.T) {
	t.Parallel()
	proxy, dsn := pgtest.NewProxy(t, pgtest.Schema(t, pgtest.DSN(t)))
	ctx := context.Background()
	rs, err := startServer(ctx, serverConfig{Listen: "127.0.0.1:0", Dev: true, WorkerPoll: 50 * time.Millisecond,
		Database: dsn, KeyDir: t.TempDir(), PasswordMemoryKiB: 64, Notify: notifyConfig{MailFrom: "Lockbox <lockbox@localhost>"}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := rs.Close(ctx); err != nil {
			t.Errorf("graceful shutdown: %v", err)
		}
	})
	s, err := client.New(rs.URL(), "").Login(ctx, "operator@provider.test", "lockbox-dev")
	if err != nil {
		t.Fatal(err)
	}
	op := client.New(rs.URL(), s.Token)
	file := func() error {
		_, err := op.CreateRequest(ctx, lockbox.NewRequest{Tenant: "contoso", Service: "exchange",
			ServiceRequest: "SR-1", Reason: "Restart test.", Operations: []string{"Get-Mailbox"}, DurationMinutes: 60})
		return err
	}
	if err := file(); err != nil {
		t.Fatalf("before the outage: %v", err)
	}

	proxy.Cut()
	if code := readyz(t, rs.URL()); code != lockbox.EUNAVAILABLE {
		t.Errorf("/readyz during the outage: code %q, want %q", code, lockbox.EUNAVAILABLE)
	}
	for _, call := range []struct {
		name string
		fn   func() error
	}{
		{"create request", file},
		{"list requests", func() error { _, err := op.ListRequests(ctx, lockbox.RequestFilter{}); return err }},
		{"sign in", func() error {
			_, err := client.New(rs.URL(), "").Login(ctx, "manager@provider.test", "lockbox-dev")
			return err
		}},
	} {
		err := call.fn()
		var lerr *lockbox.Error
		if code := lockbox.ErrorCode(err); code != lockbox.EUNAVAILABLE || !errors.As(err, &lerr) || lerr.Message != "The database is unavailable; try again." {
			t.Errorf("%s during the outage = %v, want code %q and a message that says to try again", call.name, err, lockbox.EUNAVAILABLE)
		}
	}

	proxy.Restore()
	var last error
	for range 5 { // the pool may hold dead connections for a call or two
		if last = file(); last == nil {
			break
		}
	}
	if last != nil {
		t.Fatalf("after the database came back: %v", last)
	}
	if code := readyz(t, rs.URL()); code != "" {
		t.Errorf("/readyz after the outage: code %q, want ready", code)
	}
	page, err := op.ListRequests(ctx, lockbox.RequestFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Requests) != 2 {
		t.Errorf("after the outage: %d requests listed, want 2: one before, one after, none during", len(page.Requests))
	}
}

// readyz returns the problem code of GET /readyz, or "" for 200.
func readyz(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return ""
	}
	var p struct {
		Code string `json:"code"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&p)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz: status %d, want 503", resp.StatusCode)
	}
	return p.Code
}
