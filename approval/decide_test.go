package approval

import (
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// TestDecideSettlesTheRequestItIsGiven checks the online rule on a request
// read earlier (as the access cache holds it): the deadlines that passed
// since are applied by the event table, not by a second copy of the window.
func TestDecideSettlesTheRequestItIsGiven(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	read := func(st lockbox.Status) *lockbox.AccessRequest {
		return &lockbox.AccessRequest{ID: "r1", Reference: "LB-1", Tenant: "contoso", Service: "exchange",
			RequestedBy: "op@provider.test", Status: st, Operations: []string{"Get-Mailbox"},
			DurationMinutes: 60, CreatedAt: t0, ExpiresAt: t0.Add(12 * time.Hour), ReviewedAt: at(0),
			DecidedAt: at(0), AccessStartsAt: at(time.Hour), AccessEndsAt: at(2 * time.Hour)}
	}
	c := &lockbox.GrantClaims{Tenant: "contoso", Audience: "exchange", Subject: "op@provider.test",
		Operations: []string{"Get-Mailbox"}}
	in := lockbox.AccessCheck{Operation: "Get-Mailbox"}
	tests := []struct {
		name    string
		status  lockbox.Status
		now     time.Duration
		allowed bool
		reason  string
	}{
		{"active inside the window", lockbox.StatusActive, 90 * time.Minute, true, "approved by request LB-1"},
		{"active read, at its end", lockbox.StatusActive, 2 * time.Hour, false, "Request LB-1 ended at 2026-12-05T11:00:00Z"},
		{"active read, long after", lockbox.StatusActive, 30 * time.Hour, false, "Request LB-1 ended at 2026-12-05T11:00:00Z"},
		{"approved read, before start", lockbox.StatusApproved, 30 * time.Minute, false, "access starts at 2026-12-05T10:00:00Z"},
		{"approved read, start passed", lockbox.StatusApproved, 61 * time.Minute, true, "approved by request LB-1"},
		{"approved read, window passed", lockbox.StatusApproved, 3 * time.Hour, false, "ended at 2026-12-05T11:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := read(tt.status)
			d := decide(r, c, in, t0.Add(tt.now))
			if d.Allowed != tt.allowed || !strings.Contains(d.Reason, tt.reason) {
				t.Fatalf("decide = allowed %v %q; want %v, containing %q", d.Allowed, d.Reason, tt.allowed, tt.reason)
			}
			if r.Status != tt.status {
				t.Fatalf("decide changed the request it was given: %s", r.Status)
			}
		})
	}
}
