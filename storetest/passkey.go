package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

// passkeyTests are the conformance cases of lockbox.PasskeyTx.
var passkeyTests = []test{
	{"RoundTrip", testPasskeyRoundTrip},
	{"Conflict", testPasskeyConflict},
	{"DeleteOnlyOwn", testPasskeyDeleteOnlyOwn},
	{"DeletedUser", testPasskeyDeletedUser},
	{"ChallengeSingleUse", testChallengeSingleUse},
	{"ChallengeExpiry", testChallengeExpiry},
}

func passkeyUsers(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "ann@p.test", "", lockbox.RoleOperator), "h")
	MustInsertUser(t, s, NewUser("u2", "bob@p.test", "", lockbox.RoleOperator), "h")
}

func testPasskeyRoundTrip(t *testing.T, s lockbox.Store) {
	passkeyUsers(t, s)
	p := &lockbox.Passkey{ID: "cred-1", UserID: "u1", Name: "laptop", PublicKey: []byte{1, 2, 3}, SignCount: 7, CreatedAt: T0}
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.InsertPasskey(t.Context(), p) })
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.TouchPasskey(t.Context(), "cred-1", 9, T0.Add(time.Minute)) })
	var got []*lockbox.Passkey
	MustView(t, s, func(tx lockbox.Tx) (err error) { got, err = tx.ListPasskeys(t.Context(), "u1"); return err })
	used := T0.Add(time.Minute)
	want := []*lockbox.Passkey{{ID: "cred-1", UserID: "u1", Name: "laptop", PublicKey: []byte{1, 2, 3}, SignCount: 9, CreatedAt: T0, LastUsedAt: &used}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListPasskeys (-want +got):\n%s", diff)
	}
	MustView(t, s, func(tx lockbox.Tx) (err error) { got, err = tx.ListPasskeys(t.Context(), "u2"); return err })
	if got == nil || len(got) != 0 {
		t.Errorf("another user's passkeys = %v, want an empty list", got)
	}
}

func testPasskeyConflict(t *testing.T, s lockbox.Store) {
	passkeyUsers(t, s)
	p := &lockbox.Passkey{ID: "cred-1", UserID: "u1", PublicKey: []byte{1}, CreatedAt: T0}
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.InsertPasskey(t.Context(), p) })
	err := s.Update(t.Context(), func(tx lockbox.Tx) error {
		return tx.InsertPasskey(t.Context(), &lockbox.Passkey{ID: "cred-1", UserID: "u2", PublicKey: []byte{2}, CreatedAt: T0})
	})
	wantCode(t, err, lockbox.ECONFLICT)
}

func testPasskeyDeleteOnlyOwn(t *testing.T, s lockbox.Store) {
	passkeyUsers(t, s)
	p := &lockbox.Passkey{ID: "cred-1", UserID: "u1", PublicKey: []byte{1}, CreatedAt: T0}
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.InsertPasskey(t.Context(), p) })
	err := s.Update(t.Context(), func(tx lockbox.Tx) error { return tx.DeletePasskey(t.Context(), "u2", "cred-1") })
	wantCode(t, err, lockbox.ENOTFOUND)
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.DeletePasskey(t.Context(), "u1", "cred-1") })
	err = s.Update(t.Context(), func(tx lockbox.Tx) error { return tx.DeletePasskey(t.Context(), "u1", "cred-1") })
	wantCode(t, err, lockbox.ENOTFOUND)
}

func testPasskeyDeletedUser(t *testing.T, s lockbox.Store) {
	passkeyUsers(t, s)
	p := &lockbox.Passkey{ID: "cred-1", UserID: "u1", PublicKey: []byte{1}, CreatedAt: T0}
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.InsertPasskey(t.Context(), p) })
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.DeleteUser(t.Context(), "u1") })
	// The credential id is free again: a removed account's keys are gone.
	p.UserID = "u2"
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.InsertPasskey(t.Context(), p) })
}

func testChallengeSingleUse(t *testing.T, s lockbox.Store) {
	passkeyUsers(t, s)
	c := &lockbox.Challenge{ID: "n1", UserID: "u1", Kind: lockbox.ChallengeDecision, Subject: "r1", Data: []byte("x"), ExpiresAt: T0.Add(5 * time.Minute)}
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.InsertChallenge(t.Context(), c, T0) })
	var got []*lockbox.Challenge
	MustView(t, s, func(tx lockbox.Tx) (err error) {
		got, err = tx.Challenges(t.Context(), "u1", lockbox.ChallengeDecision, "r1", T0)
		return err
	})
	if diff := cmp.Diff([]*lockbox.Challenge{c}, got); diff != "" {
		t.Errorf("Challenges (-want +got):\n%s", diff)
	}
	for _, q := range []struct{ user, kind, subject string }{{"u2", lockbox.ChallengeDecision, "r1"}, {"u1", lockbox.ChallengeRegistration, "r1"}, {"u1", lockbox.ChallengeDecision, "r2"}} {
		MustView(t, s, func(tx lockbox.Tx) (err error) {
			got, err = tx.Challenges(t.Context(), q.user, q.kind, q.subject, T0)
			return err
		})
		if len(got) != 0 {
			t.Errorf("Challenges(%v) = %d challenges, want none", q, len(got))
		}
	}
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.DeleteChallenge(t.Context(), "n1") })
	err := s.Update(t.Context(), func(tx lockbox.Tx) error { return tx.DeleteChallenge(t.Context(), "n1") })
	wantCode(t, err, lockbox.ENOTFOUND)
}

func testChallengeExpiry(t *testing.T, s lockbox.Store) {
	passkeyUsers(t, s)
	c := &lockbox.Challenge{ID: "n1", UserID: "u1", Kind: lockbox.ChallengeDecision, Subject: "r1", Data: []byte{}, ExpiresAt: T0.Add(5 * time.Minute)}
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.InsertChallenge(t.Context(), c, T0) })
	var got []*lockbox.Challenge
	MustView(t, s, func(tx lockbox.Tx) (err error) {
		got, err = tx.Challenges(t.Context(), "u1", lockbox.ChallengeDecision, "r1", T0.Add(5*time.Minute))
		return err
	})
	if len(got) != 0 {
		t.Errorf("a challenge at its expiry is still listed")
	}
	// Inserting another drops the expired one.
	c2 := &lockbox.Challenge{ID: "n2", UserID: "u1", Kind: lockbox.ChallengeDecision, Subject: "r1", Data: []byte{}, ExpiresAt: T0.Add(20 * time.Minute)}
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.InsertChallenge(t.Context(), c2, T0.Add(10*time.Minute)) })
	err := s.Update(t.Context(), func(tx lockbox.Tx) error { return tx.DeleteChallenge(t.Context(), "n1") })
	wantCode(t, err, lockbox.ENOTFOUND)
}
