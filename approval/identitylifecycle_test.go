package approval_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
)

// TestStaffRoleChangeStopsAtOnce: taking a role away from a staff member
// ends their API tokens and web sessions by the next call (they must sign
// in again to get the roles they now have); taking away the operator role
// also revokes their approved/active requests (by the system, audited),
// cancels open ones and refuses their grant tokens. Adding a role ends
// nothing (SPEC §10.1).
func TestStaffRoleChangeStopsAtOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		roles          []lockbox.Role
		endsSessions   bool
		endsRequests   bool
		added, removed []lockbox.Role
	}{
		{"OperatorRemoved", []lockbox.Role{lockbox.RoleSupportManager}, true, true,
			[]lockbox.Role{lockbox.RoleSupportManager}, []lockbox.Role{lockbox.RoleOperator}},
		{"RoleAdded", []lockbox.Role{lockbox.RoleOperator, lockbox.RoleSupportManager}, false, false,
			[]lockbox.Role{lockbox.RoleSupportManager}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newLifecycleHarness(t, lockbox.SystemClock{})
			w := h.operatorAtWork()
			active, open, filed, web, token, session, check := w.active, w.open, w.filed, w.web, w.token, w.session, w.check

			if _, err := h.svc.UpdateStaff(h.as("admin@provider.test"), "operator@provider.test",
				lockbox.StaffUpdate{Roles: tc.roles}); err != nil {
				t.Fatal(err)
			}

			_, errToken := h.svc.Authenticate(context.Background(), token)
			_, _, errSession := web.ResumeWebSession(context.Background(), session)
			for what, err := range map[string]error{"API token": errToken, "web session": errSession} {
				if tc.endsSessions {
					wantCode(t, err, lockbox.EUNAUTHENTICATED)
				} else if err != nil {
					t.Errorf("%s ended by a role added: %v", what, err)
				}
			}
			// The account itself still signs in, with its new roles.
			if _, err := h.svc.Login(context.Background(), "operator@provider.test", approval.DevPassword); err != nil {
				t.Errorf("sign-in after the role change: %v", err)
			}
			d, err := h.svc.CheckAccess(h.service(), check)
			if err != nil || d.Allowed == tc.endsRequests {
				t.Errorf("grant after the role change: %+v, %v; want allowed %v", d, err, !tc.endsRequests)
			}
			want := map[*lockbox.AccessRequest]lockbox.Status{active: lockbox.StatusActive, open: lockbox.StatusPending,
				filed: lockbox.StatusPendingReview}
			if tc.endsRequests {
				want = map[*lockbox.AccessRequest]lockbox.Status{active: lockbox.StatusRevoked, open: lockbox.StatusCanceled,
					filed: lockbox.StatusCanceled}
			}
			for r, status := range want {
				got := h.stored(r.ID)
				if got.Status != status {
					t.Errorf("request %s is %s, want %s", r.Reference, got.Status, status)
				}
				if tc.endsRequests && (got.EndedBy == nil || *got.EndedBy != "system") {
					t.Errorf("request %s ended by %v, want system", r.Reference, got.EndedBy)
				}
			}
			wantRevoked := 0
			if tc.endsRequests {
				wantRevoked = 1
			}
			if n := countOps(h.audit("contoso"), lockbox.OpRequestRevoked); n != wantRevoked {
				t.Errorf("%d request.revoked records in contoso's log, want %d", n, wantRevoked)
			}
			provider := h.audit(lockbox.ProviderLog)
			for op, roles := range map[string][]lockbox.Role{lockbox.OpRoleAssigned: tc.added, lockbox.OpRoleRemoved: tc.removed} {
				var got []lockbox.Role
				for _, rec := range provider {
					if rec.Operation == op && rec.AuditData["target_user"] == "operator@provider.test" {
						got = append(got, lockbox.Role(fmt.Sprint(rec.AuditData["role"])))
					}
				}
				if !slices.Equal(got, roles) {
					t.Errorf("%s records in the provider log: %v, want %v", op, got, roles)
				}
			}
		})
	}
}

// TestTokenRevokedAudited: ending one's own token (by id, or by signing
// out) writes token.revoked to the owner's log, a tenant user's in the
// tenant's; ending a token one does not have is refused and writes
// nothing.
func TestTokenRevokedAudited(t *testing.T) {
	t.Parallel()
	h := newLifecycleHarness(t, lockbox.SystemClock{})
	first := h.login("approver@contoso.test", approval.DevPassword)
	second := h.login("approver@contoso.test", approval.DevPassword)
	ctx, err := h.signedIn(first)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := h.svc.ListMyTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var other string
	for _, tk := range tokens {
		if !tk.Current {
			other = tk.ID
		}
	}
	if other == "" {
		t.Fatalf("no second token in %+v", tokens)
	}
	wantCode(t, h.svc.RevokeMyToken(ctx, "nonexistent"), lockbox.ENOTFOUND)
	if n := countOps(h.audit("contoso"), lockbox.OpTokenRevoked); n != 0 {
		t.Fatalf("a refused revocation wrote %d token.revoked records", n)
	}
	if err := h.svc.RevokeMyToken(ctx, other); err != nil {
		t.Fatal(err)
	}
	_, err = h.svc.Authenticate(context.Background(), second)
	wantCode(t, err, lockbox.EUNAUTHENTICATED)
	if err := h.svc.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = h.svc.Authenticate(context.Background(), first)
	wantCode(t, err, lockbox.EUNAUTHENTICATED)

	var got []string
	for _, rec := range h.audit("contoso") {
		if rec.Operation == lockbox.OpTokenRevoked {
			if rec.UserID != "approver@contoso.test" || rec.AuditData["target_user"] != "approver@contoso.test" {
				t.Errorf("token.revoked by %q of %v", rec.UserID, rec.AuditData["target_user"])
			}
			got = append(got, fmt.Sprint(rec.AuditData["token_id"], "/", rec.AuditData["reason"]))
		}
	}
	if want := []string{other + "/<nil>", "<nil>/signed out"}; !slices.Equal(got, want) {
		t.Errorf("token.revoked records in contoso's log: %q, want %q", got, want)
	}
	if n := countOps(h.audit(lockbox.ProviderLog), lockbox.OpTokenRevoked); n != 0 {
		t.Errorf("%d token.revoked records of a tenant user in the provider log", n)
	}
}

// TestServiceAccountRotationAudited: a rotation writes
// service_account.rotated (name and grace) and a revocation
// account.removed to the provider log; a refused rotation writes nothing.
func TestServiceAccountRotationAudited(t *testing.T) {
	t.Parallel()
	h := newLifecycleHarness(t, lockbox.SystemClock{})
	admin := h.as("admin@provider.test")
	_, err := h.svc.RotateServiceAccount(admin, "dev-service", 25*time.Hour)
	wantCode(t, err, lockbox.EINVALID)
	_, err = h.svc.RotateServiceAccount(h.as("manager@provider.test"), "dev-service", 0)
	wantCode(t, err, lockbox.EFORBIDDEN)
	if n := countOps(h.audit(lockbox.ProviderLog), lockbox.OpServiceAccountRotate); n != 0 {
		t.Fatalf("refused rotations wrote %d records", n)
	}
	if _, err := h.svc.RotateServiceAccount(admin, "dev-service", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.RotateServiceAccount(admin, "dev-service", 0); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.RevokeServiceAccount(admin, "dev-service"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rec := range h.audit(lockbox.ProviderLog) {
		switch rec.Operation {
		case lockbox.OpServiceAccountRotate:
			got = append(got, fmt.Sprint(rec.Operation, " ", rec.UserID, " ", rec.AuditData["service_account"], " ", rec.AuditData["grace_seconds"]))
		case lockbox.OpAccountRemoved:
			got = append(got, fmt.Sprint(rec.Operation, " ", rec.UserID, " ", rec.AuditData["service_account"]))
		}
	}
	want := []string{
		"service_account.rotated admin@provider.test dev-service 600",
		"service_account.rotated admin@provider.test dev-service 0",
		"account.removed admin@provider.test dev-service",
	}
	if !slices.Equal(got, want) {
		t.Errorf("provider log:\n%q\nwant\n%q", got, want)
	}
}

// TestServiceAccountListShowsUseAndGrace: the list tells whether a
// service account is used and until when a rotated-out token still
// works, so an admin can tell whether a revocation or a rotation without
// grace would stop a live service.
func TestServiceAccountListShowsUseAndGrace(t *testing.T) {
	t.Parallel()
	h := newLifecycleHarness(t, lockbox.SystemClock{})
	admin := h.as("admin@provider.test")
	list := func() *lockbox.ServiceAccount {
		t.Helper()
		sas, err := h.svc.ListServiceAccounts(admin)
		if err != nil || len(sas) != 1 {
			t.Fatalf("list: %v, %v", sas, err)
		}
		return sas[0]
	}
	if sa := list(); sa.GraceEndsAt != nil || sa.Token != "" {
		t.Fatalf("before any rotation: %+v", sa)
	}
	if _, err := h.svc.Authenticate(context.Background(), approval.DevServiceToken); err != nil {
		t.Fatal(err)
	}
	if sa := list(); sa.LastUsedAt == nil || time.Since(*sa.LastUsedAt) > 2*time.Minute {
		t.Errorf("after a use, last used %v", sa.LastUsedAt)
	}
	before := time.Now()
	if _, err := h.svc.RotateServiceAccount(admin, "dev-service", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	sa := list()
	if sa.GraceEndsAt == nil || sa.GraceEndsAt.Before(before.Add(9*time.Minute)) || sa.GraceEndsAt.After(time.Now().Add(11*time.Minute)) {
		t.Errorf("after a rotation with 10m grace, grace ends %v", sa.GraceEndsAt)
	}
	if _, err := h.svc.RotateServiceAccount(admin, "dev-service", 0); err != nil {
		t.Fatal(err)
	}
	if sa := list(); sa.GraceEndsAt != nil || sa.Token != "" {
		t.Errorf("after a rotation without grace: %+v", sa)
	}
	_, err := h.svc.ListServiceAccounts(h.as("manager@provider.test"))
	wantCode(t, err, lockbox.EFORBIDDEN)
}
