package approval_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
)

// Web sessions under fake time: the idle and absolute timeouts hold to the
// microsecond, activity extends only the idle one, sign-out is final.

func webSessions(h *harness) *approval.WebSessions {
	return h.svc.WebSessions(approval.WebSessionOptions{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour})
}

func TestWebSessionIdleTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		ws := webSessions(h)
		token, s, err := ws.SignIn(t.Context(), "Approver@Contoso.test", approval.DevPassword)
		if err != nil {
			t.Fatalf("SignIn: %v", err)
		}
		if got := time.Until(s.IdleExpiresAt); got != 30*time.Minute {
			t.Errorf("idle deadline in %v, want 30m", got)
		}
		time.Sleep(30*time.Minute - time.Microsecond)
		u, _, err := ws.ResumeWebSession(t.Context(), token)
		if err != nil || u.Email != "approver@contoso.test" {
			t.Fatalf("1µs before the idle deadline: %v, %v", u, err)
		}
		// That use moved the idle deadline: 30 more minutes from now.
		time.Sleep(30*time.Minute - time.Microsecond)
		if _, _, err := ws.ResumeWebSession(t.Context(), token); err != nil {
			t.Fatalf("kept alive by use: %v", err)
		}
		time.Sleep(30 * time.Minute)
		_, _, err = ws.ResumeWebSession(t.Context(), token)
		wantCode(t, err, lockbox.EUNAUTHENTICATED)
	})
}

func TestWebSessionAbsoluteTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		ws := webSessions(h)
		start := time.Now()
		token, _, err := ws.SignIn(t.Context(), "approver@contoso.test", approval.DevPassword)
		if err != nil {
			t.Fatalf("SignIn: %v", err)
		}
		// Busy all day: a page every 20 minutes never lets the idle timeout hit.
		for time.Since(start) < 12*time.Hour-20*time.Minute {
			time.Sleep(20 * time.Minute)
			if _, _, err := ws.ResumeWebSession(t.Context(), token); err != nil {
				t.Fatalf("after %v of activity: %v", time.Since(start), err)
			}
		}
		time.Sleep(time.Until(start.Add(12 * time.Hour)))
		_, _, err = ws.ResumeWebSession(t.Context(), token)
		wantCode(t, err, lockbox.EUNAUTHENTICATED)
	})
}

func TestWebSessionSignOut(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ws := webSessions(h)
	token, _, err := ws.SignIn(t.Context(), "auditor@contoso.test", approval.DevPassword)
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	other, _, err := ws.SignIn(t.Context(), "auditor@contoso.test", approval.DevPassword)
	if err != nil {
		t.Fatalf("second SignIn: %v", err)
	}
	if err := ws.SignOut(t.Context(), token); err != nil {
		t.Fatalf("SignOut: %v", err)
	}
	_, _, err = ws.ResumeWebSession(t.Context(), token)
	wantCode(t, err, lockbox.EUNAUTHENTICATED)
	if _, _, err := ws.ResumeWebSession(t.Context(), other); err != nil {
		t.Errorf("the other browser's session ended too: %v", err)
	}
	if err := ws.SignOut(t.Context(), token); err != nil {
		t.Errorf("signing out twice: %v", err)
	}
}

func TestWebSessionSignInRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ws := webSessions(h)
	for _, tc := range []struct{ name, email, password string }{
		{"WrongPassword", "approver@contoso.test", "nope"},
		{"UnknownEmail", "nobody@contoso.test", approval.DevPassword},
		{"ServiceAccount", "dev-service", approval.DevServiceToken},
		{"Empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ws.SignIn(t.Context(), tc.email, tc.password)
			wantCode(t, err, lockbox.EUNAUTHENTICATED)
		})
	}
	_, _, err := ws.ResumeWebSession(t.Context(), "lbw_forged")
	wantCode(t, err, lockbox.EUNAUTHENTICATED)
}

// TestWebSessionSharesLoginLimit: failures through the API and the web count
// against one per-account budget, so two doors do not double the guesses.
func TestWebSessionSharesLoginLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		ws := webSessions(h)
		for i := range 10 {
			var err error
			if i%2 == 0 {
				_, err = h.svc.Login(t.Context(), "approver@contoso.test", "wrong")
			} else {
				_, _, err = ws.SignIn(t.Context(), "approver@contoso.test", "wrong")
			}
			wantCode(t, err, lockbox.EUNAUTHENTICATED)
		}
		_, _, err := ws.SignIn(t.Context(), "approver@contoso.test", approval.DevPassword)
		wantCode(t, err, lockbox.ERATELIMITED)
		time.Sleep(30 * time.Second)
		if _, _, err := ws.SignIn(t.Context(), "approver@contoso.test", approval.DevPassword); err != nil {
			t.Fatalf("after the refill: %v", err)
		}
	})
}

// TestWebSessionRoleChangeTakesEffect: a session carries the user's current
// roles, so a removed approver cannot keep approving from an open tab.
func TestWebSessionRoleChangeTakesEffect(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ws := webSessions(h)
	token, _, err := ws.SignIn(t.Context(), "approver@contoso.test", approval.DevPassword)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.svc.UpdateTenantUser(h.as("admin@contoso.test"), "contoso", "approver@contoso.test",
		lockbox.UserUpdate{Roles: []lockbox.Role{lockbox.RoleAuditReader}})
	if err != nil {
		t.Fatal(err)
	}
	u, _, err := ws.ResumeWebSession(context.Background(), token)
	if err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if u.IsTenantApprover("contoso") {
		t.Errorf("roles after the change = %v, want no approver role", u.Roles)
	}
}
