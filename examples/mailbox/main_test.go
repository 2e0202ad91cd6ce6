package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/guard"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
)

// TestMailboxEnforcesGrants runs the example against a real Lockbox: the
// approved operation is served and recorded, an unapproved one is refused
// and recorded as blocked, and a revoked grant stops working at once.
func TestMailboxEnforcesGrants(t *testing.T) {
	t.Parallel()
	lb := lockboxtest.Start(t)
	g, err := guard.New(guard.Config{Server: lb.URL, ServiceToken: "dev-service-token", Service: "exchange"})
	if err != nil {
		t.Fatal(err)
	}
	mailbox := httptest.NewServer(newHandler(g))
	t.Cleanup(mailbox.Close)
	req, gr, err := lb.ActiveGrant(60, "Get-MailboxStatistics")
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, token string) (int, map[string]any) {
		t.Helper()
		hr, _ := http.NewRequest(method, mailbox.URL+path, nil)
		if token != "" {
			hr.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	if code, body := call("GET", "/mailboxes/alice/statistics", gr.Token); code != 200 || body["served_to"] != "operator@provider.test" {
		t.Fatalf("approved operation: %d %v", code, body)
	}
	if code, body := call("POST", "/mailboxes/alice/repair", gr.Token); code != 403 {
		t.Fatalf("unapproved operation: %d %v", code, body)
	}
	if code, _ := call("GET", "/mailboxes/alice", ""); code != 401 {
		t.Fatalf("no grant: %d", code)
	}
	if code, _ := call("GET", "/mailboxes/alice", "not.a.token"); code != 401 {
		t.Fatalf("garbage grant: %d", code)
	}
	if _, err := lb.Service.Act(lb.As("approver@contoso.test"), req.ID, lockbox.EventRevoke, lockbox.Decision{}); err != nil {
		t.Fatal(err)
	}
	if code, body := call("GET", "/mailboxes/alice/statistics", gr.Token); code != 403 {
		t.Fatalf("after revocation: %d %v", code, body)
	}

	var got []string
	for _, rec := range lb.Audit("contoso") {
		if rec.RecordType == lockbox.RecordOperatorAction {
			got = append(got, rec.Operation+" "+rec.AuditData["operation"].(string)+" "+rec.AuditData["resource"].(string)+" "+rec.ClientIP)
		}
	}
	want := []string{
		"operator.action Get-MailboxStatistics mailbox:alice 127.0.0.1",
		"operator.action_blocked Repair-Mailbox mailbox:alice 127.0.0.1",
		"operator.action_blocked Get-MailboxStatistics mailbox:alice 127.0.0.1",
	}
	if len(got) != len(want) {
		t.Fatalf("operator records = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d = %q, want %q", i, got[i], want[i])
		}
	}
}
