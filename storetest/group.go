package storetest

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// WaitQueued waits until n goroutines that the calling goroutine started
// are blocked in a store's Update waiting for a writer to take it
// (internal/groupcommit's Submit, which both stores use), read from every
// goroutine's stack ("goroutine 7 [select]:" … "created by … in goroutine
// 5"). A writer gathers into its group only the callers blocked there, so
// Updates started behind one that holds the writer join its group once
// this returns.
func WaitQueued(tb testing.TB, n int) {
	tb.Helper()
	for deadline := time.Now().Add(20 * time.Second); BlockedUpdates() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("%d Updates blocked for a writer, want %d", BlockedUpdates(), n)
		}
	}
}

// HoldWriter runs fn in an Update that then waits until release is
// closed, holding the writer that runs it: on a store with one writer, the
// Updates started meanwhile queue, and then run in its group (WaitQueued).
// It returns the Update's result channel once fn has run.
func HoldWriter(tb testing.TB, s lockbox.Store, release <-chan struct{}, fn func(lockbox.Tx) error) <-chan error {
	tb.Helper()
	held, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- s.Update(tb.Context(), func(tx lockbox.Tx) error {
			err := fn(tx)
			close(held)
			<-release
			return err
		})
	}()
	<-held
	return done
}

// BlockedUpdates counts the goroutines started by the calling one that
// wait in groupcommit's Submit for a writer to take their Update.
func BlockedUpdates() int {
	buf := make([]byte, 64<<10)
	self := string(buf[:runtime.Stack(buf, false)])
	self, _, _ = strings.Cut(strings.TrimPrefix(self, "goroutine "), " ")
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		if strings.Contains(header, " [select") && strings.Contains(g, "groupcommit.(*Queue).Submit(") &&
			strings.Contains(g+"\n", " in goroutine "+self+"\n") {
			count++
		}
	}
	return count
}

// CheckGroupAuditReads holds a store to lockbox.Store.Update's promise that
// an Update's audit reads see the records of the Updates committed before
// it, when they are committed together: both stores write a commit group's
// appends only at its commit. s must run Updates on one writer, so that
// those queued behind one that runs join its group (the sqlite store; the
// postgres store opened with one writer).
//
// The first Update records an operator action of req-x and holds the
// writer; three more queue behind it: one searches req-x's actions, as a
// completion's access report does, one reads the log by index and drops
// the read's error, and one searches another request, which no earlier
// record could match.
func CheckGroupAuditReads(t *testing.T, s lockbox.Store) {
	ctx := t.Context()
	MustInsertTenant(t, s, "contoso")
	action := NewAuditRecord("contoso", "rec-action")
	action.RecordType, action.Operation, action.RequestID = lockbox.RecordOperatorAction, lockbox.OpOperatorAction, "req-x"

	release := make(chan struct{})
	first := HoldWriter(t, s, release, func(tx lockbox.Tx) error { return tx.AppendAudit(ctx, action) })

	search := func(request string) lockbox.AuditQuery {
		return lockbox.AuditQuery{Log: "contoso", RequestID: request, Limit: 10,
			Operations: []string{lockbox.OpOperatorAction, lockbox.OpOperatorActionBlocked}}
	}
	type reader struct {
		name string
		read func(lockbox.Tx) ([]string, error) // the ids read
		want []string
		runs int
		err  error
	}
	readers := []*reader{
		{name: "search of req-x", want: []string{"rec-action"}, read: func(tx lockbox.Tx) ([]string, error) {
			recs, err := tx.SearchAudit(ctx, search("req-x"))
			return recordIDs(recs), err
		}},
		{name: "records by index, the read's error dropped", want: []string{"rec-action", "rec-r0"}, read: func(tx lockbox.Tx) ([]string, error) {
			recs, _ := tx.AuditRecords(ctx, "contoso", 0, 10) // the store runs it again all the same
			return recordIDs(recs), nil
		}},
		{name: "search of req-y", want: nil, read: func(tx lockbox.Tx) ([]string, error) {
			recs, err := tx.SearchAudit(ctx, search("req-y"))
			return recordIDs(recs), err
		}},
	}
	got := make([][]string, len(readers))
	var wg sync.WaitGroup
	for i, r := range readers {
		wg.Go(func() {
			r.err = s.Update(ctx, func(tx lockbox.Tx) error {
				r.runs++
				ids, err := r.read(tx)
				if err != nil {
					return err
				}
				got[i] = ids
				// Its own record, so the log says where it committed.
				return tx.AppendAudit(ctx, NewAuditRecord("contoso", fmt.Sprintf("rec-r%d", i)))
			})
		})
		WaitQueued(t, i+1) // in this order
	}
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatalf("the first Update: %v", err)
	}

	var order []string
	for _, rec := range MustAuditRecords(t, s, "contoso", 0, MustAuditSize(t, s, "contoso")) {
		order = append(order, rec.ID)
	}
	if len(order) == 0 || order[0] != "rec-action" {
		t.Fatalf("log order %v: the held Update's record must come first", order)
	}
	for i, r := range readers {
		if r.err != nil {
			t.Errorf("%s: %v", r.name, r.err)
			continue
		}
		if !slices.Equal(got[i], r.want) {
			t.Errorf("%s, in an Update committed after the action's (log order %v): read %v, want %v", r.name, order, got[i], r.want)
		}
	}
	if r := readers[2]; r.runs != 1 {
		t.Errorf("%s ran %d times, want once: no earlier record could match it", r.name, r.runs)
	}
}

func recordIDs(recs []*lockbox.AuditRecord) []string {
	var ids []string
	for _, rec := range recs {
		ids = append(ids, rec.ID)
	}
	return ids
}

// CheckGroupWebhookDelete holds DeleteWebhook to deleting the undelivered
// messages of the endpoint that an Update committed just before it queued,
// when both are committed together (the postgres store inserts a group's
// messages with its COMMIT). s must run Updates on one writer, as for
// CheckGroupAuditReads.
func CheckGroupWebhookDelete(t *testing.T, s lockbox.Store) {
	ctx := t.Context()
	MustInsertTenant(t, s, "contoso")
	hook := &lockbox.Webhook{ID: "wh-1", Tenant: "contoso", URL: "https://hooks.example.test/lockbox",
		Events: []string{lockbox.OpRequestApproved}, CreatedBy: "admin@contoso.test", CreatedAt: T0}
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.InsertWebhook(ctx, hook, "whsec-1") })
	msg := NewWebhookMessage(1, hook.ID)

	release := make(chan struct{})
	first := HoldWriter(t, s, release, func(tx lockbox.Tx) error { return tx.EnqueueOutbox(ctx, msg) })
	deleted := make(chan error, 1)
	go func() {
		deleted <- s.Update(ctx, func(tx lockbox.Tx) error { return tx.DeleteWebhook(ctx, "contoso", hook.ID) })
	}()
	WaitQueued(t, 1)
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("the Update queueing the message: %v", err)
	}
	if err := <-deleted; err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	if left := MustListOutbox(t, s, lockbox.OutboxQuery{Channel: lockbox.ChannelWebhook, Status: lockbox.OutboxPending}); len(left) != 0 {
		t.Errorf("%d undelivered messages of the deleted endpoint left (first %s), want none: it was deleted after they were queued", len(left), left[0].ID)
	}
}
