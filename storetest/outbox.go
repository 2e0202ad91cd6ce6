package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/lockboxhq/lockbox"
)

// outboxTests are the conformance cases of lockbox.OutboxTx.
var outboxTests = []test{
	{"EnqueueAndList", testOutboxEnqueueAndList},
	{"ClaimDueInOrder", testOutboxClaimDueInOrder},
	{"LeaseExcludesOtherClaimers", testOutboxLease},
	{"EnqueueLeased", testOutboxEnqueueLeased},
	{"FinishResults", testOutboxFinish},
	{"FinishAfterLostLease", testOutboxLostLease},
	{"FinishBatch", testOutboxFinishBatch},
	{"FinishBatchRefused", testOutboxFinishBatchRefused},
	{"ReleaseUnstarted", testOutboxRelease},
	{"ConcurrentClaimersGetDisjointMessages", testOutboxConcurrentClaims},
	{"NextWake", testOutboxNextWake},
	{"ChannelsApart", testOutboxChannelsApart},
	{"ClaimPerEndpoint", testOutboxClaimPerEndpoint},
	{"ClaimSkip", testOutboxClaimSkip},
	{"Counts", testOutboxCounts},
	{"Purge", testOutboxPurge},
	{"Reminders", testReminders},
	{"ReminderOnce", testReminderOnce},
	{"Webhooks", testWebhooks},
	{"WebhookSecretsListedAndReplaced", testWebhookSecrets},
	{"WebhookSecretRotated", testRotateWebhookSecret},
	{"DeleteWebhookDropsPendingMessages", testDeleteWebhookMessages},
	{"WebhookDeliveries", testWebhookDeliveries},
}

// NewOutboxMessage returns a pending email message numbered n, created at
// T0 + n seconds and due then. Ids sort in n order.
func NewOutboxMessage(n int) *lockbox.OutboxMessage {
	created := T0.Add(time.Duration(n) * time.Second)
	return &lockbox.OutboxMessage{
		ID: fmt.Sprintf("msg-%06d", n), Channel: lockbox.ChannelEmail, Tenant: "contoso",
		Type: lockbox.NoticePending, To: "approver@contoso.test", Payload: []byte(`{"type":"request.pending"}`),
		Status: lockbox.OutboxPending, CreatedAt: created, NextAttemptAt: created,
	}
}

// NewWebhookMessage is NewOutboxMessage(n) as a delivery to the webhook
// endpoint webhookID.
func NewWebhookMessage(n int, webhookID string) *lockbox.OutboxMessage {
	m := NewOutboxMessage(n)
	m.Channel, m.To, m.WebhookID = lockbox.ChannelWebhook, "", webhookID
	return m
}

// MustEnqueue stores messages in their own transaction.
func MustEnqueue(tb testing.TB, s lockbox.Store, msgs ...*lockbox.OutboxMessage) {
	tb.Helper()
	MustUpdate(tb, s, func(tx lockbox.Tx) error { return tx.EnqueueOutbox(tb.Context(), msgs...) })
}

// MustClaim claims at most limit email messages at now, leased for lease.
func MustClaim(tb testing.TB, s lockbox.Store, now time.Time, lease time.Duration, limit int) []*lockbox.OutboxMessage {
	tb.Helper()
	return MustClaimChannel(tb, s, lockbox.ChannelEmail, now, lease, limit)
}

// MustClaimChannel claims at most limit messages of channel at now, leased
// for lease.
func MustClaimChannel(tb testing.TB, s lockbox.Store, channel string, now time.Time, lease time.Duration, limit int) []*lockbox.OutboxMessage {
	tb.Helper()
	return MustClaimWith(tb, s, lockbox.OutboxClaim{Channel: channel, Now: now, LeaseUntil: now.Add(lease), Limit: limit})
}

// MustClaimWith claims c.
func MustClaimWith(tb testing.TB, s lockbox.Store, c lockbox.OutboxClaim) []*lockbox.OutboxMessage {
	tb.Helper()
	var out []*lockbox.OutboxMessage
	MustUpdate(tb, s, func(tx lockbox.Tx) (err error) {
		out, err = tx.ClaimOutbox(tb.Context(), c)
		return err
	})
	return out
}

// MustListOutbox lists the outbox.
func MustListOutbox(tb testing.TB, s lockbox.Store, q lockbox.OutboxQuery) []*lockbox.OutboxMessage {
	tb.Helper()
	var out []*lockbox.OutboxMessage
	MustView(tb, s, func(tx lockbox.Tx) (err error) {
		out, err = tx.ListOutbox(tb.Context(), q)
		return err
	})
	return out
}

// finish records one result in its own transaction: the per-message error
// (ECONFLICT when the caller no longer holds it) or the call's.
func finish(tb testing.TB, s lockbox.Store, id string, attempt int, r lockbox.OutboxResult) error {
	tb.Helper()
	var errs []error
	err := s.Update(tb.Context(), func(tx lockbox.Tx) (err error) {
		errs, err = tx.FinishOutbox(tb.Context(), lockbox.OutboxFinish{ID: id, Attempt: attempt, Result: r})
		return err
	})
	if err != nil {
		return err
	}
	if len(errs) != 1 {
		tb.Fatalf("FinishOutbox of one result returned %d errors", len(errs))
	}
	return errs[0]
}

func msgIDs(msgs []*lockbox.OutboxMessage) []string {
	out := []string{}
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	return out
}

func testOutboxEnqueueAndList(t *testing.T, s lockbox.Store) {
	a, b, c := NewOutboxMessage(1), NewWebhookMessage(2, "wh-1"), NewOutboxMessage(3)
	b.Type = lockbox.OpRequestApproved
	c.Tenant = "fabrikam"
	MustEnqueue(t, s, a, b, c)
	got := MustListOutbox(t, s, lockbox.OutboxQuery{})
	if diff := cmp.Diff([]*lockbox.OutboxMessage{c, b, a}, got); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		q    lockbox.OutboxQuery
		want []string
	}{
		{lockbox.OutboxQuery{Channel: lockbox.ChannelWebhook}, []string{b.ID}},
		{lockbox.OutboxQuery{Tenant: "contoso"}, []string{b.ID, a.ID}},
		{lockbox.OutboxQuery{Status: lockbox.OutboxDelivered}, []string{}},
		{lockbox.OutboxQuery{Limit: 1}, []string{c.ID}},
	} {
		if diff := cmp.Diff(tc.want, msgIDs(MustListOutbox(t, s, tc.q))); diff != "" {
			t.Errorf("list %+v (-want +got):\n%s", tc.q, diff)
		}
	}
	err := s.Update(t.Context(), func(tx lockbox.Tx) error { return tx.EnqueueOutbox(t.Context(), NewOutboxMessage(1)) })
	wantCode(t, err, lockbox.ECONFLICT)
	// In a batch: a taken id after a new one, and an id given twice.
	err = s.Update(t.Context(), func(tx lockbox.Tx) error {
		return tx.EnqueueOutbox(t.Context(), NewOutboxMessage(7), NewOutboxMessage(1))
	})
	wantCode(t, err, lockbox.ECONFLICT)
	err = s.Update(t.Context(), func(tx lockbox.Tx) error {
		return tx.EnqueueOutbox(t.Context(), NewOutboxMessage(8), NewOutboxMessage(8))
	})
	wantCode(t, err, lockbox.ECONFLICT)
	if got := len(MustListOutbox(t, s, lockbox.OutboxQuery{})); got != 3 {
		t.Errorf("%d messages after the refused batches, want the 3 before them", got)
	}
}

func testOutboxClaimDueInOrder(t *testing.T, s lockbox.Store) {
	var msgs []*lockbox.OutboxMessage
	for n := 1; n <= 5; n++ {
		msgs = append(msgs, NewOutboxMessage(n))
	}
	msgs[0].NextAttemptAt = T0.Add(time.Hour) // created first, due last
	MustEnqueue(t, s, msgs...)
	now := T0.Add(4 * time.Second) // messages 2, 3 and 4 are due (at or before now)
	got := MustClaim(t, s, now, time.Minute, 2)
	if diff := cmp.Diff([]string{"msg-000002", "msg-000003"}, msgIDs(got)); diff != "" {
		t.Fatalf("first claim (-want +got):\n%s", diff)
	}
	if got[0].Attempts != 1 || got[1].Attempts != 1 {
		t.Errorf("claimed attempts = %d, %d; want 1 (incremented by the claim)", got[0].Attempts, got[1].Attempts)
	}
	if diff := cmp.Diff([]string{"msg-000004"}, msgIDs(MustClaim(t, s, now, time.Minute, 10))); diff != "" {
		t.Errorf("second claim (-want +got):\n%s", diff)
	}
	if got := MustClaim(t, s, now, time.Minute, 10); len(got) != 0 {
		t.Errorf("third claim got %v, want nothing due", msgIDs(got))
	}
}

func testOutboxLease(t *testing.T, s lockbox.Store) {
	MustEnqueue(t, s, NewOutboxMessage(1))
	now := T0.Add(time.Minute)
	first := MustClaim(t, s, now, 2*time.Minute, 10)
	if len(first) != 1 {
		t.Fatalf("claimed %d, want 1", len(first))
	}
	if got := MustClaim(t, s, now.Add(2*time.Minute-time.Microsecond), time.Minute, 10); len(got) != 0 {
		t.Fatalf("claimed %v under a live lease", msgIDs(got))
	}
	again := MustClaim(t, s, now.Add(2*time.Minute), time.Minute, 10)
	if len(again) != 1 || again[0].Attempts != 2 {
		t.Fatalf("after the lease ended: claimed %v, want the message at attempt 2", again)
	}
}

// testOutboxEnqueueLeased: a message enqueued with a lease (handed to a
// worker as it commits: lockbox.OutboxHandoff) is held like a claimed
// one: nobody claims it before its lease ends, its holder records attempt
// 1 or gives it back, and after the lease another claimer takes it.
func testOutboxEnqueueLeased(t *testing.T, s lockbox.Store) {
	until := T0.Add(2 * time.Minute)
	leased := func(n int) *lockbox.OutboxMessage {
		m := NewOutboxMessage(n)
		m.Attempts, m.LeaseUntil = 1, &until
		return m
	}
	MustEnqueue(t, s, leased(1), leased(2), leased(3), NewOutboxMessage(4))
	if got := MustClaim(t, s, until.Add(-time.Microsecond), time.Minute, 10); !cmp.Equal(msgIDs(got), []string{"msg-000004"}) {
		t.Fatalf("claimed %v under the leases, want only the unleased msg-000004", msgIDs(got))
	}
	MustUpdate(t, s, func(tx lockbox.Tx) error {
		next, err := tx.NextOutboxWake(t.Context(), lockbox.ChannelEmail)
		if err == nil && !next.Equal(until) {
			t.Errorf("next wake = %v, want the leases' end %v", next, until)
		}
		return err
	})
	if err := finish(t, s, "msg-000001", 1, lockbox.OutboxResult{Status: lockbox.OutboxDelivered, At: T0.Add(time.Second)}); err != nil {
		t.Fatalf("the holder's finish of attempt 1: %v", err)
	}
	var n int
	MustUpdate(t, s, func(tx lockbox.Tx) (err error) {
		n, err = tx.ReleaseOutbox(t.Context(), lockbox.OutboxAttempt{ID: "msg-000002", Attempt: 1})
		return err
	})
	if n != 1 {
		t.Fatalf("released %d, want 1", n)
	}
	if got := MustClaim(t, s, T0.Add(time.Minute), time.Hour, 10); !cmp.Equal(msgIDs(got), []string{"msg-000002"}) || got[0].Attempts != 1 {
		t.Fatalf("after the give-back claimed %v, want msg-000002 at attempt 1", got)
	}
	again := MustClaim(t, s, until, time.Minute, 10)
	if len(again) != 1 || again[0].ID != "msg-000003" || again[0].Attempts != 2 {
		t.Fatalf("after the lease ended: claimed %v, want msg-000003 at attempt 2", msgIDs(again))
	}
}

func testOutboxFinish(t *testing.T, s lockbox.Store) {
	MustEnqueue(t, s, NewOutboxMessage(1), NewOutboxMessage(2), NewOutboxMessage(3))
	now := T0.Add(time.Minute)
	claimed := MustClaim(t, s, now, time.Minute, 10)
	if len(claimed) != 3 {
		t.Fatalf("claimed %d, want 3", len(claimed))
	}
	done := now.Add(time.Second)
	retryAt := now.Add(10 * time.Minute)
	for _, f := range []struct {
		id string
		r  lockbox.OutboxResult
	}{
		{"msg-000001", lockbox.OutboxResult{Status: lockbox.OutboxDelivered, At: done}},
		{"msg-000002", lockbox.OutboxResult{Status: lockbox.OutboxPending, At: done, NextAttemptAt: retryAt, LastError: "451 try later"}},
		{"msg-000003", lockbox.OutboxResult{Status: lockbox.OutboxDead, At: done, LastError: "550 no such user"}},
	} {
		if err := finish(t, s, f.id, 1, f.r); err != nil {
			t.Fatalf("finish %s: %v", f.id, err)
		}
	}
	got := MustListOutbox(t, s, lockbox.OutboxQuery{})
	want := map[string]struct {
		status, lastErr string
		next            time.Time
		finished        *time.Time
	}{
		"msg-000001": {lockbox.OutboxDelivered, "", T0.Add(time.Second), &done},
		"msg-000002": {lockbox.OutboxPending, "451 try later", retryAt, nil},
		"msg-000003": {lockbox.OutboxDead, "550 no such user", T0.Add(3 * time.Second), &done},
	}
	for _, m := range got {
		w := want[m.ID]
		if m.Status != w.status || m.LastError != w.lastErr || !m.NextAttemptAt.Equal(w.next) || !cmp.Equal(m.FinishedAt, w.finished) || m.Attempts != 1 {
			t.Errorf("%s = %s %q next %v finished %v attempts %d; want %+v", m.ID, m.Status, m.LastError, m.NextAttemptAt, m.FinishedAt, m.Attempts, w)
		}
	}
	// The retried message is claimable at its new time, and not before; the
	// finished ones never again.
	if got := MustClaim(t, s, retryAt.Add(-time.Microsecond), time.Minute, 10); len(got) != 0 {
		t.Errorf("claimed %v before the retry time", msgIDs(got))
	}
	if diff := cmp.Diff([]string{"msg-000002"}, msgIDs(MustClaim(t, s, retryAt, time.Minute, 10))); diff != "" {
		t.Errorf("claim at the retry time (-want +got):\n%s", diff)
	}
	err := finish(t, s, "msg-000001", 1, lockbox.OutboxResult{Status: lockbox.OutboxDead, At: done})
	wantCode(t, err, lockbox.ECONFLICT)
	err = finish(t, s, "msg-missing", 1, lockbox.OutboxResult{Status: lockbox.OutboxDelivered, At: done})
	wantCode(t, err, lockbox.ECONFLICT)
}

func testOutboxLostLease(t *testing.T, s lockbox.Store) {
	MustEnqueue(t, s, NewOutboxMessage(1))
	now := T0.Add(time.Minute)
	MustClaim(t, s, now, time.Minute, 1)
	// The first worker stalls past its lease; a second takes the message.
	second := MustClaim(t, s, now.Add(time.Minute), time.Minute, 1)
	if len(second) != 1 {
		t.Fatal("the expired lease was not taken over")
	}
	err := finish(t, s, "msg-000001", 1, lockbox.OutboxResult{Status: lockbox.OutboxDead, At: now, LastError: "late"})
	wantCode(t, err, lockbox.ECONFLICT)
	if err := finish(t, s, "msg-000001", 2, lockbox.OutboxResult{Status: lockbox.OutboxDelivered, At: now}); err != nil {
		t.Fatalf("the current holder's finish: %v", err)
	}
	if got := MustListOutbox(t, s, lockbox.OutboxQuery{}); got[0].Status != lockbox.OutboxDelivered || got[0].LastError != "" {
		t.Errorf("message = %s %q, want delivered by the current holder", got[0].Status, got[0].LastError)
	}
}

// testOutboxFinishBatch records several results in one call: the ones
// still held are recorded, each lost one is ECONFLICT on its own, and the
// transaction commits the rest.
func testOutboxFinishBatch(t *testing.T, s lockbox.Store) {
	var msgs []*lockbox.OutboxMessage
	for n := 1; n <= 5; n++ {
		msgs = append(msgs, NewOutboxMessage(n))
	}
	MustEnqueue(t, s, msgs...)
	now := T0.Add(time.Minute)
	MustClaim(t, s, now, time.Minute, 5)
	// Message 1's lease runs out and a second claimer takes it (attempt 2).
	if got := MustClaim(t, s, now.Add(time.Minute), time.Minute, 1); len(got) != 1 || got[0].ID != "msg-000001" {
		t.Fatalf("re-claim got %v, want msg-000001", msgIDs(got))
	}
	done, retryAt := now.Add(time.Second), now.Add(10*time.Minute)
	results := []lockbox.OutboxFinish{
		{ID: "msg-000002", Attempt: 1, Result: lockbox.OutboxResult{Status: lockbox.OutboxDelivered, At: done}},
		{ID: "msg-000001", Attempt: 1, Result: lockbox.OutboxResult{Status: lockbox.OutboxDead, At: done, LastError: "late"}},
		{ID: "msg-000003", Attempt: 1, Result: lockbox.OutboxResult{Status: lockbox.OutboxPending, At: done, NextAttemptAt: retryAt, LastError: "451"}},
		{ID: "msg-missing", Attempt: 1, Result: lockbox.OutboxResult{Status: lockbox.OutboxDelivered, At: done}},
		{ID: "msg-000004", Attempt: 1, Result: lockbox.OutboxResult{Status: lockbox.OutboxSkipped, At: done, LastError: "moot"}},
		{ID: "msg-000005", Attempt: 2, Result: lockbox.OutboxResult{Status: lockbox.OutboxDelivered, At: done}},
	}
	var errs []error
	MustUpdate(t, s, func(tx lockbox.Tx) (err error) {
		errs, err = tx.FinishOutbox(t.Context(), results...)
		return err
	})
	var codes []string
	for _, err := range errs {
		codes = append(codes, lockbox.ErrorCode(err))
	}
	want := []string{"", lockbox.ECONFLICT, "", lockbox.ECONFLICT, "", lockbox.ECONFLICT}
	if diff := cmp.Diff(want, codes); diff != "" {
		t.Errorf("per-result error codes (-want +got):\n%s", diff)
	}
	type state struct {
		Status, LastError string
		Attempts          int
		Next              time.Time
		Finished          *time.Time
	}
	got := map[string]state{}
	for _, m := range MustListOutbox(t, s, lockbox.OutboxQuery{}) {
		got[m.ID] = state{m.Status, m.LastError, m.Attempts, m.NextAttemptAt, m.FinishedAt}
	}
	wantStates := map[string]state{
		"msg-000001": {lockbox.OutboxPending, "", 2, T0.Add(time.Second), nil}, // the second claimer's
		"msg-000002": {lockbox.OutboxDelivered, "", 1, T0.Add(2 * time.Second), &done},
		"msg-000003": {lockbox.OutboxPending, "451", 1, retryAt, nil},
		"msg-000004": {lockbox.OutboxSkipped, "moot", 1, T0.Add(4 * time.Second), &done},
		"msg-000005": {lockbox.OutboxPending, "", 1, T0.Add(5 * time.Second), nil}, // attempt 2 was never claimed
	}
	if diff := cmp.Diff(wantStates, got); diff != "" {
		t.Errorf("outbox after the batch (-want +got):\n%s", diff)
	}
	// The finished messages are never claimed again; the retried one is at
	// its new time (the others' leases have ended by then).
	if diff := cmp.Diff([]string{"msg-000001", "msg-000005", "msg-000003"}, msgIDs(MustClaim(t, s, retryAt, time.Minute, 10))); diff != "" {
		t.Errorf("claim at the retry time (-want +got):\n%s", diff)
	}
}

// testOutboxFinishBatchRefused: a batch the store cannot record is refused
// whole, and an empty one is nothing.
func testOutboxFinishBatchRefused(t *testing.T, s lockbox.Store) {
	MustEnqueue(t, s, NewOutboxMessage(1), NewOutboxMessage(2))
	now := T0.Add(time.Minute)
	MustClaim(t, s, now, time.Minute, 2)
	ok := lockbox.OutboxResult{Status: lockbox.OutboxDelivered, At: now}
	for name, results := range map[string][]lockbox.OutboxFinish{
		"UnknownStatus": {{ID: "msg-000001", Attempt: 1, Result: ok}, {ID: "msg-000002", Attempt: 1, Result: lockbox.OutboxResult{Status: "sent", At: now}}},
		"GivenTwice":    {{ID: "msg-000001", Attempt: 1, Result: ok}, {ID: "msg-000001", Attempt: 1, Result: ok}},
	} {
		err := s.Update(t.Context(), func(tx lockbox.Tx) error {
			_, err := tx.FinishOutbox(t.Context(), results...)
			return err
		})
		if lockbox.ErrorCode(err) != lockbox.EINVALID {
			t.Errorf("%s: error %v, want %s", name, err, lockbox.EINVALID)
		}
	}
	MustUpdate(t, s, func(tx lockbox.Tx) error {
		errs, err := tx.FinishOutbox(t.Context())
		if err == nil && len(errs) != 0 {
			err = fmt.Errorf("%d errors for no results", len(errs))
		}
		return err
	})
	for _, m := range MustListOutbox(t, s, lockbox.OutboxQuery{}) {
		if m.Status != lockbox.OutboxPending {
			t.Errorf("%s is %s after refused batches, want pending", m.ID, m.Status)
		}
	}
}

// testOutboxRelease: a claim given back unstarted is claimable at once,
// with the attempt count, next attempt time and last error it had before
// the claim; one no longer held at that attempt is left alone.
func testOutboxRelease(t *testing.T, s lockbox.Store) {
	MustEnqueue(t, s, NewOutboxMessage(1), NewOutboxMessage(2), NewOutboxMessage(3))
	now := T0.Add(time.Minute)
	// msg-000001 failed once already: its attempt 1 ended in a retry.
	MustClaim(t, s, now, time.Minute, 1)
	retryAt := now.Add(time.Minute)
	if err := finish(t, s, "msg-000001", 1, lockbox.OutboxResult{Status: lockbox.OutboxPending, At: now,
		NextAttemptAt: retryAt, LastError: "451 try later"}); err != nil {
		t.Fatalf("finish the first attempt: %v", err)
	}
	claimed := MustClaim(t, s, retryAt, time.Minute, 10)
	attempts := map[string]int{}
	for _, m := range claimed {
		attempts[m.ID] = m.Attempts
	}
	if diff := cmp.Diff(map[string]int{"msg-000001": 2, "msg-000002": 1, "msg-000003": 1}, attempts); diff != "" {
		t.Fatalf("claimed attempts (-want +got):\n%s", diff)
	}
	if err := finish(t, s, "msg-000003", 1, lockbox.OutboxResult{Status: lockbox.OutboxDelivered, At: retryAt}); err != nil {
		t.Fatalf("finish msg-000003: %v", err)
	}
	var released int
	MustUpdate(t, s, func(tx lockbox.Tx) (err error) {
		released, err = tx.ReleaseOutbox(t.Context(),
			lockbox.OutboxAttempt{ID: "msg-000001", Attempt: 2},
			lockbox.OutboxAttempt{ID: "msg-000002", Attempt: 2}, // not its attempt
			lockbox.OutboxAttempt{ID: "msg-000003", Attempt: 1}, // recorded already
			lockbox.OutboxAttempt{ID: "msg-missing", Attempt: 1})
		return err
	})
	if released != 1 {
		t.Errorf("ReleaseOutbox released %d, want 1 (msg-000001)", released)
	}
	want := map[string]struct {
		status, lastErr string
		attempts        int
		next            time.Time
	}{
		"msg-000001": {lockbox.OutboxPending, "451 try later", 1, retryAt},
		"msg-000002": {lockbox.OutboxPending, "", 1, T0.Add(2 * time.Second)},
		"msg-000003": {lockbox.OutboxDelivered, "", 1, T0.Add(3 * time.Second)},
	}
	for _, m := range MustListOutbox(t, s, lockbox.OutboxQuery{}) {
		w := want[m.ID]
		if m.Status != w.status || m.LastError != w.lastErr || m.Attempts != w.attempts || !m.NextAttemptAt.Equal(w.next) {
			t.Errorf("%s = %s %q attempts %d next %v; want %+v", m.ID, m.Status, m.LastError, m.Attempts, m.NextAttemptAt, w)
		}
	}
	// The released message is claimable at once, at its next attempt
	// number; msg-000002 is still under its lease.
	again := MustClaim(t, s, retryAt, time.Minute, 10)
	if len(again) != 1 || again[0].ID != "msg-000001" || again[0].Attempts != 2 {
		t.Errorf("claim after the release = %v, want msg-000001 at attempt 2", again)
	}
	MustUpdate(t, s, func(tx lockbox.Tx) (err error) {
		released, err = tx.ReleaseOutbox(t.Context())
		return err
	})
	if released != 0 {
		t.Errorf("releasing nothing released %d", released)
	}
}

// testOutboxConcurrentClaims: claimers side by side never get one message
// twice under one lease, and together get every message: emails, and
// webhooks of three endpoints claimed a few of each endpoint at a time.
func testOutboxConcurrentClaims(t *testing.T, s lockbox.Store) {
	const n = 60
	var msgs []*lockbox.OutboxMessage
	for i := range n {
		msgs = append(msgs, NewOutboxMessage(i), NewWebhookMessage(n+i, fmt.Sprintf("wh-%d", i%3)))
	}
	MustEnqueue(t, s, msgs...)
	now := T0.Add(time.Hour)
	claimAll(t, s, n, lockbox.OutboxClaim{Channel: lockbox.ChannelEmail, Now: now, LeaseUntil: now.Add(time.Minute), Limit: 4})
	claimAll(t, s, n, lockbox.OutboxClaim{Channel: lockbox.ChannelWebhook, Now: now, LeaseUntil: now.Add(time.Minute), Limit: 4, PerEndpoint: 2})
}

// claimAll has six claimers claim c until none is left and checks that
// they got n distinct messages, each once.
func claimAll(t *testing.T, s lockbox.Store, n int, c lockbox.OutboxClaim) {
	t.Helper()
	const claimers = 6
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range claimers {
		wg.Go(func() {
			for empty := 0; empty < 3; { // bounded: each round claims at least one or counts
				var got []*lockbox.OutboxMessage
				err := s.Update(context.Background(), func(tx lockbox.Tx) (err error) {
					got, err = tx.ClaimOutbox(context.Background(), c)
					return err
				})
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if len(got) == 0 {
					// A claim by endpoint picks its rows before it locks
					// them, so it may find them all taken by another
					// claimer while others are left: try again.
					empty++
					continue
				}
				if c.PerEndpoint > 0 {
					checkPerEndpoint(t, got, c.PerEndpoint)
				}
				mu.Lock()
				for _, m := range got {
					seen[m.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%s: claimed %d distinct messages, want %d", c.Channel, len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s was claimed %d times under one lease", id, c)
		}
	}
}

func testOutboxNextWake(t *testing.T, s lockbox.Store) {
	wake := func() time.Time {
		var w time.Time
		MustView(t, s, func(tx lockbox.Tx) (err error) {
			w, err = tx.NextOutboxWake(t.Context(), lockbox.ChannelEmail)
			return err
		})
		return w
	}
	if w := wake(); !w.IsZero() {
		t.Errorf("empty outbox: wake %v, want zero", w)
	}
	a, b := NewOutboxMessage(1), NewOutboxMessage(2)
	a.NextAttemptAt = T0.Add(time.Hour)
	MustEnqueue(t, s, a, b)
	if w := wake(); !w.Equal(b.NextAttemptAt) {
		t.Errorf("wake %v, want %v (the earliest next attempt)", w, b.NextAttemptAt)
	}
	MustClaim(t, s, T0.Add(time.Minute), 5*time.Minute, 1) // leases b until T0+6m
	if w, want := wake(), T0.Add(6*time.Minute); !w.Equal(want) {
		t.Errorf("wake %v, want %v (the end of b's lease)", w, want)
	}
	if err := finish(t, s, b.ID, 1, lockbox.OutboxResult{Status: lockbox.OutboxDelivered, At: T0}); err != nil {
		t.Fatal(err)
	}
	if w := wake(); !w.Equal(a.NextAttemptAt) {
		t.Errorf("wake %v, want %v", w, a.NextAttemptAt)
	}
}

func testOutboxCounts(t *testing.T, s lockbox.Store) {
	a, b, c, d := NewOutboxMessage(1), NewOutboxMessage(2), NewOutboxMessage(3), NewWebhookMessage(4, "wh-1")
	MustEnqueue(t, s, a, b, c, d)
	MustClaim(t, s, T0.Add(time.Second), time.Minute, 1) // a
	if err := finish(t, s, a.ID, 1, lockbox.OutboxResult{Status: lockbox.OutboxDead, At: T0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	var got []lockbox.OutboxCount
	MustView(t, s, func(tx lockbox.Tx) (err error) {
		got, err = tx.OutboxCounts(t.Context())
		return err
	})
	want := []lockbox.OutboxCount{
		{Channel: lockbox.ChannelEmail, Status: lockbox.OutboxDead, Count: 1, Oldest: a.CreatedAt},
		{Channel: lockbox.ChannelEmail, Status: lockbox.OutboxPending, Count: 2, Oldest: b.CreatedAt},
		{Channel: lockbox.ChannelWebhook, Status: lockbox.OutboxPending, Count: 1, Oldest: d.CreatedAt},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

func testOutboxPurge(t *testing.T, s lockbox.Store) {
	MustEnqueue(t, s, NewOutboxMessage(1), NewOutboxMessage(2), NewOutboxMessage(3), NewOutboxMessage(4))
	MustClaim(t, s, T0.Add(time.Hour), time.Minute, 3) // 1, 2, 3
	for i, at := range []time.Time{T0.Add(time.Hour), T0.Add(2 * time.Hour), T0.Add(3 * time.Hour)} {
		status := lockbox.OutboxDelivered
		if i == 1 {
			status = lockbox.OutboxDead
		}
		if err := finish(t, s, fmt.Sprintf("msg-%06d", i+1), 1, lockbox.OutboxResult{Status: status, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	MustUpdate(t, s, func(tx lockbox.Tx) (err error) {
		n, err = tx.PurgeOutbox(t.Context(), T0.Add(3*time.Hour), 100)
		return err
	})
	if n != 2 {
		t.Errorf("purged %d, want 2 (finished strictly before the cutoff)", n)
	}
	if diff := cmp.Diff([]string{"msg-000004", "msg-000003"}, msgIDs(MustListOutbox(t, s, lockbox.OutboxQuery{}))); diff != "" {
		t.Errorf("left (-want +got):\n%s", diff)
	}
}

// remindedRequest stores request n of contoso as pending with its stored
// reminder time at remindAt (nil: none). Which time that is, is the
// workflow's rule (lockbox.RemindAt); a store only keeps and scans it.
func remindedRequest(tb testing.TB, s lockbox.Store, n int, remindAt *time.Time) *lockbox.AccessRequest {
	tb.Helper()
	r := NewRequest(n)
	r.Status, r.ReviewedAt, r.ExpiresAt, r.TenantVisible = lockbox.StatusPending, &T0, T0.Add(12*time.Hour), true
	r.Deadline, r.RemindAt = &r.ExpiresAt, remindAt
	MustInsertRequest(tb, s, r)
	return r
}

func dueReminders(t *testing.T, s lockbox.Store, now time.Time) []string {
	t.Helper()
	var out []string
	MustView(t, s, func(tx lockbox.Tx) (err error) {
		out, err = tx.DueReminders(t.Context(), now, 10)
		return err
	})
	return out
}

// testReminders: a request's reminder is due once its stored reminder time
// has come and until one is recorded (MarkReminded); NextReminder is the
// earliest time still ahead. UpdateRequest moves or clears the time.
func testReminders(t *testing.T, s lockbox.Store) {
	MustInsertTenant(t, s, "contoso")
	remindedRequest(t, s, 1, ptr(T0.Add(10*time.Hour)))
	two := remindedRequest(t, s, 2, ptr(T0.Add(9*time.Hour)))
	remindedRequest(t, s, 3, nil) // no reminder
	sent := remindedRequest(t, s, 4, ptr(T0.Add(8*time.Hour)))
	MustUpdate(t, s, func(tx lockbox.Tx) error {
		_, err := tx.MarkReminded(t.Context(), sent.ID, T0.Add(8*time.Hour))
		return err
	})
	next := func(now time.Time) time.Time {
		var out time.Time
		MustView(t, s, func(tx lockbox.Tx) (err error) {
			out, err = tx.NextReminder(t.Context(), now)
			return err
		})
		return out
	}
	check := func(now time.Time, wantDue []string, wantNext time.Time) {
		t.Helper()
		if diff := cmp.Diff(wantDue, dueReminders(t, s, now)); diff != "" {
			t.Errorf("DueReminders(%v) (-want +got):\n%s", now, diff)
		}
		if got := next(now); !got.Equal(wantNext) || (!got.IsZero() && got.Location() != time.UTC) {
			t.Errorf("NextReminder(%v) = %v, want %v in UTC", now, got, wantNext)
		}
	}
	check(T0, nil, T0.Add(9*time.Hour))
	check(T0.Add(9*time.Hour-time.Microsecond), nil, T0.Add(9*time.Hour))
	check(T0.Add(9*time.Hour), []string{"req-000002"}, T0.Add(10*time.Hour))
	check(T0.Add(10*time.Hour), []string{"req-000001", "req-000002"}, time.Time{})

	// The workflow moves request 2's reminder later (a settings change),
	// then clears it (decided): the store follows.
	two.RemindAt, two.Version = ptr(T0.Add(11*time.Hour)), 2
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.UpdateRequest(t.Context(), two, 1) })
	check(T0.Add(10*time.Hour), []string{"req-000001"}, T0.Add(11*time.Hour))
	two.RemindAt, two.Version = nil, 3
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.UpdateRequest(t.Context(), two, 2) })
	check(T0.Add(11*time.Hour), []string{"req-000001"}, time.Time{})

	// A recorded reminder is not due again, even when its time moves ahead.
	sent.RemindAt, sent.Version = ptr(T0.Add(13*time.Hour)), 2
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.UpdateRequest(t.Context(), sent, 1) })
	check(T0.Add(12*time.Hour), []string{"req-000001"}, time.Time{})
	check(T0.Add(14*time.Hour), []string{"req-000001"}, time.Time{})
}

func testReminderOnce(t *testing.T, s lockbox.Store) {
	MustInsertTenant(t, s, "contoso")
	r := remindedRequest(t, s, 1, ptr(T0.Add(10*time.Hour)))
	mark := func() bool {
		var ok bool
		MustUpdate(t, s, func(tx lockbox.Tx) (err error) {
			ok, err = tx.MarkReminded(t.Context(), r.ID, T0.Add(10*time.Hour))
			return err
		})
		return ok
	}
	if !mark() {
		t.Fatal("first MarkReminded = false, want true")
	}
	if mark() {
		t.Error("second MarkReminded = true, want false")
	}
	if due := dueReminders(t, s, T0.Add(10*time.Hour)); len(due) != 0 {
		t.Errorf("a reminded request is due again: %v", due)
	}
}

func newWebhook(id, tenant string, n int) *lockbox.Webhook {
	return &lockbox.Webhook{ID: id, Tenant: tenant, URL: "https://hooks.example.com/" + id,
		Events: []string{lockbox.EventTypeRequestPending, lockbox.OpRequestApproved}, Description: "SIEM",
		CreatedBy: "admin@" + tenant + ".test", CreatedAt: T0.Add(time.Duration(n) * time.Minute)}
}

// testWebhookSecrets: the endpoints whose secret is not sealed under a
// given prefix are listed, and one is replaced only while it is still the
// one read.
func testWebhookSecrets(t *testing.T, s lockbox.Store) {
	ctx := t.Context()
	MustInsertTenant(t, s, "contoso")
	MustInsertTenant(t, s, "fabrikam")
	for _, w := range []*lockbox.Webhook{newWebhook("wh-2", "fabrikam", 1), newWebhook("wh-1", "fabrikam", 2), newWebhook("wh-3", "contoso", 1)} {
		MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.InsertWebhook(ctx, w, "whsec_"+w.ID) })
	}
	sealed := newWebhook("wh-0", "contoso", 2)
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.InsertWebhook(ctx, sealed, "lbsealed1.k2.abc") })
	var got []lockbox.WebhookSecret
	MustView(t, s, func(tx lockbox.Tx) (err error) { got, err = tx.StaleWebhookSecrets(ctx, "lbsealed1.k2."); return err })
	want := []lockbox.WebhookSecret{{Tenant: "contoso", ID: "wh-3", Secret: "whsec_wh-3"},
		{Tenant: "fabrikam", ID: "wh-1", Secret: "whsec_wh-1"}, {Tenant: "fabrikam", ID: "wh-2", Secret: "whsec_wh-2"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("StaleWebhookSecrets (-want +got):\n%s", diff)
	}
	MustUpdate(t, s, func(tx lockbox.Tx) error {
		return tx.ReplaceWebhookSecret(ctx, "fabrikam", "wh-1", "whsec_wh-1", "sealed-1")
	})
	for _, tt := range []struct{ tenant, id, old string }{
		{"fabrikam", "wh-1", "whsec_wh-1"}, // already replaced
		{"contoso", "wh-1", "sealed-1"},    // another tenant's
		{"fabrikam", "wh-9", ""},           // none
	} {
		err := s.Update(ctx, func(tx lockbox.Tx) error { return tx.ReplaceWebhookSecret(ctx, tt.tenant, tt.id, tt.old, "sealed-2") })
		wantCode(t, err, lockbox.ENOTFOUND)
	}
	MustView(t, s, func(tx lockbox.Tx) error {
		_, secret, err := tx.GetWebhook(ctx, "fabrikam", "wh-1")
		if err == nil && secret.Current != "sealed-1" {
			t.Errorf("wh-1's secret = %q, want sealed-1", secret.Current)
		}
		return err
	})
}

// testRotateWebhookSecret: a rotation stores the new secret with the
// previous one and its end, only while the current one is still the one
// read, and a later rotation replaces both.
func testRotateWebhookSecret(t *testing.T, s lockbox.Store) {
	ctx := t.Context()
	MustInsertTenant(t, s, "contoso")
	MustInsertTenant(t, s, "fabrikam")
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.InsertWebhook(ctx, newWebhook("wh-1", "fabrikam", 1), "s-1") })
	get := func() lockbox.StoredWebhookSecrets {
		t.Helper()
		var got lockbox.StoredWebhookSecrets
		MustView(t, s, func(tx lockbox.Tx) (err error) { _, got, err = tx.GetWebhook(ctx, "fabrikam", "wh-1"); return err })
		return got
	}
	if diff := cmp.Diff(lockbox.StoredWebhookSecrets{Current: "s-1"}, get()); diff != "" {
		t.Errorf("a new endpoint's secrets (-want +got):\n%s", diff)
	}
	until := T0.Add(24 * time.Hour)
	first := lockbox.StoredWebhookSecrets{Current: "s-2", Previous: "p-1", PreviousUntil: until}
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.RotateWebhookSecret(ctx, "fabrikam", "wh-1", "s-1", first) })
	if diff := cmp.Diff(first, get()); diff != "" {
		t.Errorf("after a rotation with grace (-want +got):\n%s", diff)
	}
	listedUntil := func() *time.Time {
		t.Helper()
		var list []*lockbox.Webhook
		MustView(t, s, func(tx lockbox.Tx) (err error) { list, err = tx.ListWebhooks(ctx, "fabrikam"); return err })
		if len(list) != 1 {
			t.Fatalf("listed %d webhooks, want 1", len(list))
		}
		return list[0].PreviousSecretExpiresAt
	}
	if got := listedUntil(); got == nil || !got.Equal(until) {
		t.Errorf("listed with the grace's end %v, want %v", got, until)
	}
	for _, tt := range []struct{ tenant, id, old string }{
		{"fabrikam", "wh-1", "s-1"}, // rotated meanwhile
		{"contoso", "wh-1", "s-2"},  // another tenant's
		{"fabrikam", "wh-9", ""},    // none
	} {
		err := s.Update(ctx, func(tx lockbox.Tx) error {
			return tx.RotateWebhookSecret(ctx, tt.tenant, tt.id, tt.old, lockbox.StoredWebhookSecrets{Current: "x"})
		})
		wantCode(t, err, lockbox.ENOTFOUND)
	}
	if diff := cmp.Diff(first, get()); diff != "" {
		t.Errorf("a refused rotation changed the secrets (-want +got):\n%s", diff)
	}
	// The start-up pass reseals the current secret only, keeping the grace.
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.ReplaceWebhookSecret(ctx, "fabrikam", "wh-1", "s-2", "s-2b") })
	if diff := cmp.Diff(lockbox.StoredWebhookSecrets{Current: "s-2b", Previous: "p-1", PreviousUntil: until}, get()); diff != "" {
		t.Errorf("after resealing the current secret (-want +got):\n%s", diff)
	}
	MustUpdate(t, s, func(tx lockbox.Tx) error {
		return tx.RotateWebhookSecret(ctx, "fabrikam", "wh-1", "s-2b", lockbox.StoredWebhookSecrets{Current: "s-3"})
	})
	if diff := cmp.Diff(lockbox.StoredWebhookSecrets{Current: "s-3"}, get()); diff != "" {
		t.Errorf("after a rotation with no grace (-want +got):\n%s", diff)
	}
	if got := listedUntil(); got != nil {
		t.Errorf("listed with a grace's end %v after a rotation with none", got)
	}
}

func testWebhooks(t *testing.T, s lockbox.Store) {
	MustInsertTenant(t, s, "contoso")
	MustInsertTenant(t, s, "fabrikam")
	a, b, c := newWebhook("wh-b", "contoso", 1), newWebhook("wh-a", "contoso", 2), newWebhook("wh-c", "fabrikam", 1)
	c.Events = []string{}
	for _, w := range []*lockbox.Webhook{a, b, c} {
		MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.InsertWebhook(t.Context(), w, "whsec_"+w.ID) })
	}
	err := s.Update(t.Context(), func(tx lockbox.Tx) error { return tx.InsertWebhook(t.Context(), a, "x") })
	wantCode(t, err, lockbox.ECONFLICT)
	err = s.Update(t.Context(), func(tx lockbox.Tx) error {
		return tx.InsertWebhook(t.Context(), newWebhook("wh-x", "nowhere", 1), "x")
	})
	wantCode(t, err, lockbox.ENOTFOUND)

	var list []*lockbox.Webhook
	MustView(t, s, func(tx lockbox.Tx) (err error) {
		list, err = tx.ListWebhooks(t.Context(), "contoso")
		return err
	})
	if diff := cmp.Diff([]*lockbox.Webhook{a, b}, list); diff != "" {
		t.Errorf("list (-want +got; created order, no secrets):\n%s", diff)
	}
	MustView(t, s, func(tx lockbox.Tx) error {
		w, secret, err := tx.GetWebhook(t.Context(), "fabrikam", "wh-c")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(c, w); diff != "" || secret != (lockbox.StoredWebhookSecrets{Current: "whsec_wh-c"}) {
			t.Errorf("get: secret %+v, diff (-want +got):\n%s", secret, diff)
		}
		_, _, err = tx.GetWebhook(t.Context(), "contoso", "wh-c")
		wantCode(t, err, lockbox.ENOTFOUND)
		return nil
	})
	// An update changes the URL, events and description in place, and the
	// list read after it (a cached one included) shows them.
	b2 := *b
	b2.URL, b2.Events, b2.Description = "https://hooks.example.com/moved", []string{lockbox.OpOperatorAction}, "moved"
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.UpdateWebhook(t.Context(), &b2) })
	MustView(t, s, func(tx lockbox.Tx) (err error) {
		list, err = tx.ListWebhooks(t.Context(), "contoso")
		return err
	})
	if diff := cmp.Diff([]*lockbox.Webhook{a, &b2}, list); diff != "" {
		t.Errorf("list after an update (-want +got):\n%s", diff)
	}
	other := b2
	other.Tenant = "fabrikam"
	err = s.Update(t.Context(), func(tx lockbox.Tx) error { return tx.UpdateWebhook(t.Context(), &other) })
	wantCode(t, err, lockbox.ENOTFOUND)
	err = s.Update(t.Context(), func(tx lockbox.Tx) error { return tx.DeleteWebhook(t.Context(), "contoso", "wh-c") })
	wantCode(t, err, lockbox.ENOTFOUND)
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.DeleteWebhook(t.Context(), "contoso", "wh-a") })
	err = s.Update(t.Context(), func(tx lockbox.Tx) error { return tx.DeleteWebhook(t.Context(), "contoso", "wh-a") })
	wantCode(t, err, lockbox.ENOTFOUND)
}

func testDeleteWebhookMessages(t *testing.T, s lockbox.Store) {
	MustInsertTenant(t, s, "contoso")
	w := newWebhook("wh-1", "contoso", 1)
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.InsertWebhook(t.Context(), w, "whsec_x") })
	var msgs []*lockbox.OutboxMessage
	for n := 1; n <= 3; n++ {
		m := NewWebhookMessage(n, w.ID)
		msgs = append(msgs, m)
	}
	email := NewOutboxMessage(4)
	MustEnqueue(t, s, append(msgs, email)...)
	MustClaimChannel(t, s, lockbox.ChannelWebhook, T0.Add(time.Second), time.Minute, 1)
	if err := finish(t, s, msgs[0].ID, 1, lockbox.OutboxResult{Status: lockbox.OutboxDelivered, At: T0}); err != nil {
		t.Fatal(err)
	}
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.DeleteWebhook(t.Context(), "contoso", w.ID) })
	left := msgIDs(MustListOutbox(t, s, lockbox.OutboxQuery{}))
	slices.Sort(left)
	if diff := cmp.Diff([]string{"msg-000001", "msg-000004"}, left); diff != "" {
		t.Errorf("left after delete (-want +got; the delivered one and the email stay):\n%s", diff)
	}
}

// testWebhookDeliveries: an endpoint's messages, newest first, whatever
// their status, at most the limit; not another endpoint's, not emails, not
// under another tenant's name.
func testWebhookDeliveries(t *testing.T, s lockbox.Store) {
	ctx := t.Context()
	MustInsertTenant(t, s, "contoso")
	var mine []*lockbox.OutboxMessage
	for n := 1; n <= 4; n++ {
		m := NewWebhookMessage(n, "wh-1")
		m.Type = lockbox.OpRequestApproved
		mine = append(mine, m)
	}
	other := NewWebhookMessage(5, "wh-2")
	email := NewOutboxMessage(6)
	MustEnqueue(t, s, append(mine, other, email)...)
	MustClaimChannel(t, s, lockbox.ChannelWebhook, T0.Add(time.Minute), time.Minute, 2)
	if err := finish(t, s, mine[0].ID, 1, lockbox.OutboxResult{Status: lockbox.OutboxDelivered, At: T0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := finish(t, s, mine[1].ID, 1, lockbox.OutboxResult{Status: lockbox.OutboxDead, At: T0.Add(time.Minute),
		LastError: "the endpoint at hooks.example.com answered 410 Gone"}); err != nil {
		t.Fatal(err)
	}
	get := func(tenant, id string, limit int) []*lockbox.OutboxMessage {
		t.Helper()
		var out []*lockbox.OutboxMessage
		MustView(t, s, func(tx lockbox.Tx) (err error) { out, err = tx.WebhookDeliveries(ctx, tenant, id, limit); return err })
		return out
	}
	got := get("contoso", "wh-1", 10)
	if diff := cmp.Diff([]string{"msg-000004", "msg-000003", "msg-000002", "msg-000001"}, msgIDs(got)); diff != "" {
		t.Fatalf("deliveries (-want +got; newest first):\n%s", diff)
	}
	if got[3].Status != lockbox.OutboxDelivered || got[3].FinishedAt == nil || got[2].Status != lockbox.OutboxDead ||
		got[2].LastError == "" || got[2].Attempts != 1 || got[0].Status != lockbox.OutboxPending {
		t.Errorf("statuses: %+v %+v %+v", got[0], got[2], got[3])
	}
	if diff := cmp.Diff([]string{"msg-000004", "msg-000003"}, msgIDs(get("contoso", "wh-1", 2))); diff != "" {
		t.Errorf("limited to 2 (-want +got):\n%s", diff)
	}
	for _, tc := range []struct{ tenant, id string }{{"fabrikam", "wh-1"}, {"contoso", "wh-9"}, {"contoso", ""}} {
		if got := get(tc.tenant, tc.id, 10); len(got) != 0 {
			t.Errorf("%s/%q: %v, want none", tc.tenant, tc.id, msgIDs(got))
		}
	}

	// Waiting: the pending ones (claimed or not) of each endpoint asked
	// for, the oldest's creation; not the finished ones, not an email,
	// not another tenant's.
	waiting := func(tenant string, ids ...string) map[string]lockbox.WebhookWaiting {
		t.Helper()
		var out map[string]lockbox.WebhookWaiting
		MustView(t, s, func(tx lockbox.Tx) (err error) { out, err = tx.WaitingDeliveries(ctx, tenant, ids); return err })
		return out
	}
	want := map[string]lockbox.WebhookWaiting{"wh-1": {Count: 2, Since: mine[2].CreatedAt}, "wh-2": {Count: 1, Since: other.CreatedAt}}
	if diff := cmp.Diff(want, waiting("contoso", "wh-1", "wh-2", "wh-9")); diff != "" {
		t.Errorf("waiting (-want +got):\n%s", diff)
	}
	if got := waiting("fabrikam", "wh-1", "wh-2"); len(got) != 0 {
		t.Errorf("another tenant's endpoints: %v waiting, want none", got)
	}
	if got := waiting("contoso"); len(got) != 0 {
		t.Errorf("no endpoints: %v waiting, want none", got)
	}

	// Resending: a finished message becomes pending and due, its attempts
	// and last error kept; a pending one, another endpoint's or tenant's,
	// or an email, is refused.
	at := T0.Add(time.Hour)
	for _, tc := range []struct{ name, tenant, webhook, id, want string }{
		{"Pending", "contoso", "wh-1", mine[3].ID, lockbox.ECONFLICT},
		{"AnotherEndpoint", "contoso", "wh-2", mine[1].ID, lockbox.ENOTFOUND},
		{"AnotherTenant", "fabrikam", "wh-1", mine[1].ID, lockbox.ENOTFOUND},
		{"Email", "contoso", "", email.ID, lockbox.ENOTFOUND},
		{"Missing", "contoso", "wh-1", "msg-none", lockbox.ENOTFOUND},
	} {
		err := s.Update(ctx, func(tx lockbox.Tx) error {
			_, err := tx.ResendWebhookDelivery(ctx, tc.tenant, tc.webhook, tc.id, at)
			return err
		})
		if lockbox.ErrorCode(err) != tc.want {
			t.Errorf("resend %s: %v, want %s", tc.name, err, tc.want)
		}
	}
	var resent *lockbox.OutboxMessage
	MustUpdate(t, s, func(tx lockbox.Tx) (err error) {
		resent, err = tx.ResendWebhookDelivery(ctx, "contoso", "wh-1", mine[1].ID, at)
		return err
	})
	if resent.Status != lockbox.OutboxPending || !resent.NextAttemptAt.Equal(at) || resent.FinishedAt != nil ||
		resent.Attempts != 1 || resent.LastError == "" || resent.ResentAt == nil || !resent.ResentAt.Equal(at) {
		t.Errorf("resent: %+v", resent)
	}
	claimed := MustClaimChannel(t, s, lockbox.ChannelWebhook, at, time.Minute, 10)
	if i := slices.IndexFunc(claimed, func(m *lockbox.OutboxMessage) bool { return m.ID == mine[1].ID }); i < 0 {
		t.Errorf("claimed %v at the resend's time, want %s among them", msgIDs(claimed), mine[1].ID)
	} else if r := claimed[i].ResentAt; r == nil || !r.Equal(at) || !claimed[i].RetriedSince().Equal(at) {
		t.Errorf("claimed %s with resent_at %v, want %v: its retries count from the resend", mine[1].ID, r, at)
	}
	for _, m := range claimed {
		if m.ID != mine[1].ID && (m.ResentAt != nil || !m.RetriedSince().Equal(m.CreatedAt)) {
			t.Errorf("%s, never resent, has resent_at %v", m.ID, m.ResentAt)
		}
	}
}

// testOutboxChannelsApart: a claim and a wake-up are of one channel. Due
// webhook deliveries, however many and however early, are neither claimed
// by an email claim nor its wake-up, and the other way round.
func testOutboxChannelsApart(t *testing.T, s lockbox.Store) {
	hook := func(n int) *lockbox.OutboxMessage {
		m := NewWebhookMessage(n, "wh-1")
		return m
	}
	MustEnqueue(t, s, hook(1), hook(2), hook(3), NewOutboxMessage(4), hook(5))
	wake := func(channel string) time.Time {
		var w time.Time
		MustView(t, s, func(tx lockbox.Tx) (err error) {
			w, err = tx.NextOutboxWake(t.Context(), channel)
			return err
		})
		return w
	}
	if w, want := wake(lockbox.ChannelEmail), T0.Add(4*time.Second); !w.Equal(want) {
		t.Errorf("email wake %v, want %v (the email's, not the earlier webhooks')", w, want)
	}
	if w, want := wake(lockbox.ChannelWebhook), T0.Add(time.Second); !w.Equal(want) {
		t.Errorf("webhook wake %v, want %v", w, want)
	}
	now := T0.Add(time.Hour)
	if got := MustClaim(t, s, now, time.Minute, 10); !cmp.Equal(msgIDs(got), []string{"msg-000004"}) {
		t.Errorf("email claim took %v, want only msg-000004", msgIDs(got))
	}
	got := MustClaimChannel(t, s, lockbox.ChannelWebhook, now, time.Minute, 2)
	if !cmp.Equal(msgIDs(got), []string{"msg-000001", "msg-000002"}) {
		t.Errorf("webhook claim of 2 took %v, want msg-000001, msg-000002", msgIDs(got))
	}
	if w := wake(lockbox.ChannelEmail); !w.Equal(now.Add(time.Minute)) {
		t.Errorf("email wake %v after its claim, want the lease's end %v", w, now.Add(time.Minute))
	}
}

// testOutboxClaimPerEndpoint: a claim with PerEndpoint takes at most that
// many due messages of each webhook endpoint, earliest first, so a later
// endpoint's messages are claimed beside an earlier endpoint's backlog;
// messages already leased do not count against their endpoint.
func testOutboxClaimPerEndpoint(t *testing.T, s lockbox.Store) {
	var msgs []*lockbox.OutboxMessage
	for n, hook := range []string{1: "wh-a", "wh-a", "wh-a", "wh-a", "wh-a", "wh-b", "wh-b", "wh-c"} {
		if hook != "" {
			msgs = append(msgs, NewWebhookMessage(n, hook))
		}
	}
	MustEnqueue(t, s, append(msgs, NewOutboxMessage(9))...)
	now := T0.Add(time.Hour)
	claim := func(limit int) []string {
		t.Helper()
		got := MustClaimWith(t, s, lockbox.OutboxClaim{Channel: lockbox.ChannelWebhook, Now: now,
			LeaseUntil: now.Add(time.Minute), Limit: limit, PerEndpoint: 2})
		checkPerEndpoint(t, got, 2)
		return msgIDs(got)
	}
	for _, c := range []struct {
		limit int
		want  []string
	}{
		{4, []string{"msg-000001", "msg-000002", "msg-000006", "msg-000007"}}, // not msg-000003
		{10, []string{"msg-000003", "msg-000004", "msg-000008"}},
		{10, []string{"msg-000005"}},
		{10, []string{}},
	} {
		if got := claim(c.limit); !cmp.Equal(got, c.want, cmpopts.EquateEmpty()) {
			t.Errorf("claim of %d, 2 an endpoint: %v, want %v", c.limit, got, c.want)
		}
	}
}

// testOutboxClaimSkip: a claim of webhooks by endpoint takes none of the
// endpoints it is told to skip (those the worker is still sending to), and
// leaves them due for the next claim.
func testOutboxClaimSkip(t *testing.T, s lockbox.Store) {
	var msgs []*lockbox.OutboxMessage
	for n, hook := range []string{"wh-a", "wh-b", "wh-a", "wh-c", "wh-b"} {
		msgs = append(msgs, NewWebhookMessage(n, hook))
	}
	MustEnqueue(t, s, msgs...)
	now := T0.Add(time.Hour)
	claim := func(skip ...string) []string {
		t.Helper()
		return msgIDs(MustClaimWith(t, s, lockbox.OutboxClaim{Channel: lockbox.ChannelWebhook, Now: now,
			LeaseUntil: now.Add(time.Minute), Limit: 10, PerEndpoint: 2, Skip: skip}))
	}
	if got, want := claim("wh-a", "wh-c"), []string{"msg-000001", "msg-000004"}; !cmp.Equal(got, want) {
		t.Errorf("claim skipping wh-a and wh-c: %v, want wh-b's %v", got, want)
	}
	if got, want := claim("wh-x"), []string{"msg-000000", "msg-000002", "msg-000003"}; !cmp.Equal(got, want) {
		t.Errorf("next claim: %v, want the skipped endpoints' %v", got, want)
	}
}

// checkPerEndpoint fails t if msgs hold more than per messages of one
// webhook endpoint.
func checkPerEndpoint(t *testing.T, msgs []*lockbox.OutboxMessage, per int) {
	t.Helper()
	n := map[string]int{}
	for _, m := range msgs {
		if n[m.WebhookID]++; n[m.WebhookID] > per {
			t.Errorf("claimed %d messages of %s, at most %d allowed", n[m.WebhookID], m.WebhookID, per)
		}
	}
}
