package storetest

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

// webSessionTests are the conformance cases of lockbox.SessionTx.
var webSessionTests = []test{
	{"Deadlines", testWebSessionDeadlines},
	{"CurrentRoles", testWebSessionCurrentRoles},
	{"Touch", testWebSessionTouch},
	{"TouchCannotRevive", testWebSessionTouchCannotRevive},
	{"InsertConflict", testWebSessionInsertConflict},
	{"UnknownUser", testWebSessionUnknownUser},
	{"Delete", testWebSessionDelete},
	{"DeleteUserSessions", testWebSessionDeleteUser},
	{"DeletedUser", testWebSessionDeletedUser},
	{"DeleteExpired", testWebSessionDeleteExpired},
}

func sessionHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// newWebSession returns a session of userID signed in at T0 with the given
// idle and absolute lifetimes.
func newWebSession(userID string, idle, absolute time.Duration) *lockbox.WebSession {
	return &lockbox.WebSession{UserID: userID, CreatedAt: T0,
		IdleExpiresAt: T0.Add(idle), ExpiresAt: T0.Add(absolute)}
}

func mustInsertWebSession(tb testing.TB, s lockbox.Store, token string, ws *lockbox.WebSession) {
	tb.Helper()
	MustUpdate(tb, s, func(tx lockbox.Tx) error {
		return tx.InsertWebSession(tb.Context(), sessionHash(token), ws)
	})
}

func webSessionByToken(tb testing.TB, s lockbox.Store, token string, now time.Time) (*lockbox.WebSession, *lockbox.User, error) {
	var ws *lockbox.WebSession
	var u *lockbox.User
	err := s.View(tb.Context(), func(tx lockbox.Tx) (err error) {
		ws, u, err = tx.WebSessionByHash(tb.Context(), sessionHash(token), now)
		return err
	})
	return ws, u, err
}

func touchWebSession(tb testing.TB, s lockbox.Store, token string, now, idle time.Time) error {
	return s.Update(tb.Context(), func(tx lockbox.Tx) error {
		return tx.TouchWebSession(tb.Context(), sessionHash(token), now, idle)
	})
}

// testWebSessionDeadlines: a session is valid strictly before both
// deadlines and at neither of them, whichever comes first.
func testWebSessionDeadlines(t *testing.T, s lockbox.Store) {
	user := NewUser("u1", "approver@contoso.test", "contoso", lockbox.RoleLockboxApprover)
	MustInsertUser(t, s, user, "h")
	idleFirst := newWebSession("u1", 30*time.Minute, 12*time.Hour)
	absFirst := newWebSession("u1", 30*time.Minute, 10*time.Minute)
	mustInsertWebSession(t, s, "idle-first", idleFirst)
	mustInsertWebSession(t, s, "abs-first", absFirst)
	tests := []struct {
		name, token string
		now         time.Time
		want        *lockbox.WebSession
	}{
		{"AtSignIn", "idle-first", T0, idleFirst},
		{"JustBeforeIdle", "idle-first", idleFirst.IdleExpiresAt.Add(-time.Microsecond), idleFirst},
		{"AtIdle", "idle-first", idleFirst.IdleExpiresAt, nil},
		{"AfterIdle", "idle-first", idleFirst.IdleExpiresAt.Add(time.Hour), nil},
		{"JustBeforeAbsolute", "abs-first", absFirst.ExpiresAt.Add(-time.Microsecond), absFirst},
		{"AtAbsolute", "abs-first", absFirst.ExpiresAt, nil},
		{"UnknownToken", "nope", T0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, u, err := webSessionByToken(t, s, tt.token, tt.now)
			if tt.want == nil {
				wantCode(t, err, lockbox.ENOTFOUND)
				return
			}
			if err != nil {
				t.Fatalf("WebSessionByHash: %v", err)
			}
			if diff := cmp.Diff(tt.want, ws); diff != "" {
				t.Errorf("session (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(user, u); diff != "" {
				t.Errorf("user (-want +got):\n%s", diff)
			}
		})
	}
}

// testWebSessionCurrentRoles: the session's user carries the roles stored
// now, not those at sign-in, so removing a role takes effect at once.
func testWebSessionCurrentRoles(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "approver@contoso.test", "contoso", lockbox.RoleLockboxApprover), "h")
	mustInsertWebSession(t, s, "tok", newWebSession("u1", time.Hour, 2*time.Hour))
	MustUpdate(t, s, func(tx lockbox.Tx) error {
		return tx.UpdateUserRoles(t.Context(), "u1", []lockbox.Role{lockbox.RoleAuditReader})
	})
	_, u, err := webSessionByToken(t, s, "tok", T0)
	if err != nil {
		t.Fatalf("WebSessionByHash: %v", err)
	}
	if diff := cmp.Diff([]lockbox.Role{lockbox.RoleAuditReader}, u.Roles); diff != "" {
		t.Errorf("roles (-want +got):\n%s", diff)
	}
}

// testWebSessionTouch: touching moves the idle deadline forward, never past
// the absolute deadline, and never backward.
func testWebSessionTouch(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "approver@contoso.test", "contoso", lockbox.RoleLockboxApprover), "h")
	ws := newWebSession("u1", 30*time.Minute, time.Hour)
	mustInsertWebSession(t, s, "tok", ws)
	steps := []struct {
		name         string
		now, idle    time.Time
		wantIdleTime time.Time
	}{
		{"Forward", T0.Add(20 * time.Minute), T0.Add(50 * time.Minute), T0.Add(50 * time.Minute)},
		{"Backward", T0.Add(21 * time.Minute), T0.Add(40 * time.Minute), T0.Add(50 * time.Minute)},
		{"CappedAtAbsolute", T0.Add(45 * time.Minute), T0.Add(75 * time.Minute), T0.Add(time.Hour)},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := touchWebSession(t, s, "tok", st.now, st.idle); err != nil {
				t.Fatalf("TouchWebSession: %v", err)
			}
			got, _, err := webSessionByToken(t, s, "tok", st.now)
			if err != nil {
				t.Fatalf("WebSessionByHash: %v", err)
			}
			want := *ws
			want.IdleExpiresAt = st.wantIdleTime
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("session (-want +got):\n%s", diff)
			}
		})
	}
	// Past the absolute deadline nothing is valid, however recently touched.
	_, _, err := webSessionByToken(t, s, "tok", T0.Add(time.Hour))
	wantCode(t, err, lockbox.ENOTFOUND)
}

// testWebSessionTouchCannotRevive: a session dead at now stays dead.
func testWebSessionTouchCannotRevive(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "approver@contoso.test", "contoso", lockbox.RoleLockboxApprover), "h")
	mustInsertWebSession(t, s, "tok", newWebSession("u1", 30*time.Minute, 12*time.Hour))
	late := T0.Add(30 * time.Minute)
	wantCode(t, touchWebSession(t, s, "tok", late, late.Add(30*time.Minute)), lockbox.ENOTFOUND)
	wantCode(t, touchWebSession(t, s, "missing", T0, T0.Add(time.Hour)), lockbox.ENOTFOUND)
	_, _, err := webSessionByToken(t, s, "tok", late)
	wantCode(t, err, lockbox.ENOTFOUND)
}

func testWebSessionInsertConflict(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "approver@contoso.test", "contoso", lockbox.RoleLockboxApprover), "h")
	mustInsertWebSession(t, s, "tok", newWebSession("u1", time.Hour, 2*time.Hour))
	err := s.Update(t.Context(), func(tx lockbox.Tx) error {
		return tx.InsertWebSession(t.Context(), sessionHash("tok"), newWebSession("u1", time.Hour, 2*time.Hour))
	})
	wantCode(t, err, lockbox.ECONFLICT)
}

func testWebSessionUnknownUser(t *testing.T, s lockbox.Store) {
	err := s.Update(t.Context(), func(tx lockbox.Tx) error {
		return tx.InsertWebSession(t.Context(), sessionHash("tok"), newWebSession("ghost", time.Hour, 2*time.Hour))
	})
	wantCode(t, err, lockbox.ENOTFOUND)
}

// testWebSessionDelete: sign-out removes exactly one session; deleting it
// again is not an error.
func testWebSessionDelete(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "approver@contoso.test", "contoso", lockbox.RoleLockboxApprover), "h")
	mustInsertWebSession(t, s, "laptop", newWebSession("u1", time.Hour, 2*time.Hour))
	mustInsertWebSession(t, s, "phone", newWebSession("u1", time.Hour, 2*time.Hour))
	for range 2 {
		MustUpdate(t, s, func(tx lockbox.Tx) error {
			return tx.DeleteWebSession(t.Context(), sessionHash("laptop"))
		})
	}
	_, _, err := webSessionByToken(t, s, "laptop", T0)
	wantCode(t, err, lockbox.ENOTFOUND)
	if _, _, err := webSessionByToken(t, s, "phone", T0); err != nil {
		t.Errorf("the other session: %v", err)
	}
}

func testWebSessionDeleteUser(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "approver@contoso.test", "contoso", lockbox.RoleLockboxApprover), "h")
	MustInsertUser(t, s, NewUser("u2", "auditor@contoso.test", "contoso", lockbox.RoleAuditReader), "h")
	mustInsertWebSession(t, s, "a", newWebSession("u1", time.Hour, 2*time.Hour))
	mustInsertWebSession(t, s, "b", newWebSession("u1", time.Hour, 2*time.Hour))
	mustInsertWebSession(t, s, "c", newWebSession("u2", time.Hour, 2*time.Hour))
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.DeleteUserWebSessions(t.Context(), "u1") })
	for _, tok := range []string{"a", "b"} {
		_, _, err := webSessionByToken(t, s, tok, T0)
		wantCode(t, err, lockbox.ENOTFOUND)
	}
	if _, _, err := webSessionByToken(t, s, "c", T0); err != nil {
		t.Errorf("another user's session: %v", err)
	}
}

// testWebSessionDeletedUser: removing an account ends its sessions.
func testWebSessionDeletedUser(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "approver@contoso.test", "contoso", lockbox.RoleLockboxApprover), "h")
	mustInsertWebSession(t, s, "tok", newWebSession("u1", time.Hour, 2*time.Hour))
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.DeleteUser(t.Context(), "u1") })
	_, _, err := webSessionByToken(t, s, "tok", T0)
	wantCode(t, err, lockbox.ENOTFOUND)
}

// testWebSessionDeleteExpired: housekeeping removes dead sessions only, at
// most limit per call.
func testWebSessionDeleteExpired(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "approver@contoso.test", "contoso", lockbox.RoleLockboxApprover), "h")
	mustInsertWebSession(t, s, "idle-dead", newWebSession("u1", 10*time.Minute, time.Hour))
	mustInsertWebSession(t, s, "abs-dead", newWebSession("u1", time.Hour, 10*time.Minute))
	mustInsertWebSession(t, s, "at-deadline", newWebSession("u1", 20*time.Minute, time.Hour))
	mustInsertWebSession(t, s, "alive", newWebSession("u1", 30*time.Minute, time.Hour))
	now := T0.Add(20 * time.Minute)
	deleteExpired := func(limit int) int {
		var n int
		MustUpdate(t, s, func(tx lockbox.Tx) (err error) {
			n, err = tx.DeleteExpiredWebSessions(t.Context(), now, limit)
			return err
		})
		return n
	}
	if n := deleteExpired(2); n != 2 {
		t.Errorf("first call deleted %d, want 2 (the limit)", n)
	}
	if n := deleteExpired(100); n != 1 {
		t.Errorf("second call deleted %d, want 1", n)
	}
	if n := deleteExpired(100); n != 0 {
		t.Errorf("third call deleted %d, want 0", n)
	}
	if _, _, err := webSessionByToken(t, s, "alive", now); err != nil {
		t.Errorf("live session: %v", err)
	}
	// The dead ones are gone from the table, not merely invisible: they are
	// missing even when looked up at a time they were valid.
	_, _, err := webSessionByToken(t, s, "idle-dead", T0)
	wantCode(t, err, lockbox.ENOTFOUND)
}
