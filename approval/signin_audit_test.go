package approval_test

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
)

// TestSignInsAreAudited: every session and API token issued to a person is
// an account.signed_in record in their tenant's log (staff: the provider
// log), with how they signed in, the kind of session and the client
// address, and nothing secret. A failed sign-in issues nothing and records
// nothing. (Passkeys and single sign-on: TestPasskeySecondFactor,
// TestSSOVoidsOneTimePassword.)
func TestSignInsAreAudited(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ws := webSessions(h)
	from := lockbox.NewContextWithClientIP(context.Background(), "198.51.100.7")
	for _, tc := range []struct {
		name, email, log, session string
		signIn                    func(email, password string) error
	}{
		{"TenantUserAPI", "approver@contoso.test", "contoso", "api_token", func(email, password string) error {
			_, err := h.svc.Login(from, email, password)
			return err
		}},
		{"TenantUserWeb", "auditor@contoso.test", "contoso", "web", func(email, password string) error {
			_, _, err := ws.SignIn(from, email, password)
			return err
		}},
		{"StaffAPI", "operator@provider.test", lockbox.ProviderLog, "api_token", func(email, password string) error {
			_, err := h.svc.Login(from, email, password)
			return err
		}},
		{"StaffWeb", "manager@provider.test", lockbox.ProviderLog, "web", func(email, password string) error {
			_, _, err := ws.SignIn(from, email, password)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mine := func() []*lockbox.AuditRecord {
				return slices.DeleteFunc(h.auditOf(tc.log, lockbox.OpSignedIn), func(r *lockbox.AuditRecord) bool { return r.UserID != tc.email })
			}
			if err := tc.signIn(tc.email, "wrong-password"); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
				t.Fatalf("wrong password: %v", err)
			}
			if got := mine(); len(got) != 0 {
				t.Fatalf("a failed sign-in was recorded: %+v", got[0])
			}
			if err := tc.signIn(tc.email, approval.DevPassword); err != nil {
				t.Fatal(err)
			}
			got := mine()
			if len(got) != 1 {
				t.Fatalf("%d sign-in records of %s in %s, want 1", len(got), tc.email, tc.log)
			}
			rec := got[0]
			want := map[string]any{"target_user": tc.email, "method": approval.SignInPassword, "session": tc.session}
			if !maps.Equal(rec.AuditData, want) || rec.ClientIP != "198.51.100.7" || rec.Result != lockbox.ResultSucceeded {
				t.Errorf("record: data %v, client %q, result %s; want %v from 198.51.100.7, succeeded", rec.AuditData, rec.ClientIP, rec.Result, want)
			}
		})
	}
}
