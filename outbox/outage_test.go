package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/mail"
	"github.com/lockboxhq/lockbox/outbox"
	"github.com/lockboxhq/lockbox/storetest"
)

// fakeMTA is a mail server reached by calling it (a real listener would
// hang a synctest bubble): it renders and encodes each message exactly as
// the SMTP sender does, and accepts it unless it is down.
type fakeMTA struct {
	mu       sync.Mutex
	down     bool
	accepted []string // Message-IDs, in order
}

var errRefused = errors.New("dial tcp 127.0.0.1:25: connect: connection refused")

func (f *fakeMTA) Deliver(_ context.Context, m *lockbox.OutboxMessage) error {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down { // refused before a byte is sent, like a closed port
		return &lockbox.DeliveryError{Kind: "connect", Err: errRefused}
	}
	e, err := mail.Render(m, "provider.test")
	if err != nil {
		return &lockbox.DeliveryError{Kind: "render", Permanent: true, Err: err}
	}
	raw, err := mail.Message(e, "lockbox@provider.test")
	if err != nil {
		return err
	}
	parsed, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accepted = append(f.accepted, parsed.Header.Get("Message-Id"))
	return nil
}

func (f *fakeMTA) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// TestLongSMTPOutage keeps decisions flowing through a 20-hour SMTP outage
// on a fake clock, with the real workflow, store, workers and message
// encoding, and a worker that crashes after sending. Nothing waits for the
// mail server; once it is back every notification is delivered, except
// requests to decide (and reminders) whose decision deadline passed during
// the outage, which are recorded as skipped; the only duplicates are the
// crashed worker's sends, with the same Message-ID.
func TestLongSMTPOutage(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, lockbox.SystemClock{})
		mta := &fakeMTA{down: true}
		w := outbox.New(e.store, lockbox.SystemClock{}, map[string]outbox.Deliverer{lockbox.ChannelEmail: mta},
			outbox.Options{Poll: 15 * time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		var workers sync.WaitGroup
		workers.Go(func() { w.Run(ctx) })
		workers.Go(func() { e.svc.RunWorker(ctx, 15*time.Minute) })
		defer func() { cancel(); workers.Wait() }() // also when the test fails early

		const rounds = 30 // one request every 40 minutes for 20 hours
		for i := range rounds {
			start := time.Now()
			r := e.pending(fmt.Sprintf("Outage case %d", i))
			switch i % 5 {
			case 0: // left undecided: a reminder at 10 h, expiry at 12 h
			case 1:
				e.act("approver@contoso.test", r, lockbox.EventDeny)
			default:
				e.act("approver@contoso.test", r, lockbox.EventApprove)
			}
			if waited := time.Since(start); waited != 0 {
				t.Fatalf("decision %d waited %v for something (the mail server?)", i, waited)
			}
			time.Sleep(40 * time.Minute)
		}
		synctest.Wait()
		if len(mta.accepted) != 0 {
			t.Fatalf("accepted %d messages while down", len(mta.accepted))
		}

		mta.setDown(false)
		crashed := crashAfterSend(t, e, mta, 5)
		time.Sleep(3 * time.Hour) // the longest backoff is 1 h
		synctest.Wait()

		msgs := e.outbox(lockbox.OutboxQuery{})
		checkAllDeliveredOnce(t, msgs, mta.accepted, crashed)
		t.Logf("%d decisions, %d notifications, %d accepted (%d crash-after-send duplicates)",
			rounds, len(msgs), len(mta.accepted), len(crashed))
	})
}

// crashAfterSend is a worker that claims n messages as they fall due,
// sends them, and dies before recording anything. It returns the
// Message-IDs it sent.
func crashAfterSend(t *testing.T, e *env, mta *fakeMTA, n int) map[string]bool {
	t.Helper()
	sent := map[string]bool{}
	for range 120 { // at most two hours of fake time
		// The real worker takes each message the instant it falls due, so
		// this one claims as a replica whose clock runs an hour ahead would.
		now := time.Now().UTC().Truncate(time.Microsecond).Add(time.Hour)
		for _, m := range storetest.MustClaim(t, e.store, now, 2*time.Minute, n-len(sent)) {
			if err := mta.Deliver(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			sent["<"+m.ID+"@provider.test>"] = true
		}
		if len(sent) == n {
			break
		}
		time.Sleep(time.Minute)
	}
	if len(sent) != n {
		t.Fatalf("the crashing worker sent %d, want %d", len(sent), n)
	}
	return sent
}

func checkAllDeliveredOnce(t *testing.T, msgs []*lockbox.OutboxMessage, accepted []string, crashed map[string]bool) {
	t.Helper()
	count := map[string]int{}
	for _, id := range accepted {
		count[id]++
	}
	kinds := map[string]int{}
	for _, m := range msgs {
		kinds[m.Type]++
		id := "<" + m.ID + "@provider.test>"
		want := 1
		switch {
		case m.Status == lockbox.OutboxDelivered:
		case m.Status == lockbox.OutboxSkipped && (m.Type == lockbox.NoticePending || m.Type == lockbox.NoticeReminder) &&
			strings.Contains(m.LastError, "deadline"):
			// Mail came back after this request's decision deadline: asking
			// approvers to decide it would be wrong, so it is recorded, not sent.
			want = 0
		default:
			t.Errorf("%s (%s to %s) is %s: %s", m.ID, m.Type, m.To, m.Status, m.LastError)
		}
		if crashed[id] {
			want++
		}
		if count[id] != want {
			t.Errorf("%s (%s) was accepted %d times, want %d", m.ID, m.Type, count[id], want)
		}
		delete(count, id)
	}
	if len(count) != 0 {
		t.Errorf("accepted messages that are not in the outbox: %v", count)
	}
	for _, kind := range []string{lockbox.NoticePending, lockbox.NoticeApproved, lockbox.NoticeDenied, lockbox.NoticeReminder, lockbox.NoticeExpired} {
		if kinds[kind] == 0 {
			t.Errorf("no %s notification in the outbox: %v", kind, kinds)
		}
	}
}

// alwaysDown fails every attempt temporarily and records when.
type alwaysDown struct {
	mu       sync.Mutex
	attempts []time.Time
	clock    lockbox.Clock
}

func (a *alwaysDown) Deliver(context.Context, *lockbox.OutboxMessage) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.attempts = append(a.attempts, a.clock.Now())
	return &lockbox.DeliveryError{Kind: "connect", Err: errRefused}
}

func TestRetriesForAtLeast24HoursThenDead(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0}
	e := newEnv(t, clock)
	down := &alwaysDown{clock: clock}
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelEmail: down}, outbox.Options{})
	storetest.MustEnqueue(t, e.store, storetest.NewOutboxMessage(0))
	created := storetest.T0
	var m *lockbox.OutboxMessage
	for range 200 { // bounded; about 30 attempts are expected
		deliverDue(t, w)
		m = e.outbox(lockbox.OutboxQuery{})[0]
		if m.Status != lockbox.OutboxPending {
			break
		}
		clock.Set(m.NextAttemptAt)
	}
	if m.Status != lockbox.OutboxDead || m.FinishedAt == nil {
		t.Fatalf("after %d attempts the message is %s", m.Attempts, m.Status)
	}
	last, prev := down.attempts[len(down.attempts)-1], down.attempts[len(down.attempts)-2]
	if last.Before(created.Add(24*time.Hour)) || !prev.Before(created.Add(24*time.Hour)) {
		t.Errorf("gave up at %v after a try at %v; want the first failure at or after 24 h (%v)", last, prev, created.Add(24*time.Hour))
	}
	for i := 1; i < len(down.attempts); i++ {
		gap := down.attempts[i].Sub(down.attempts[i-1])
		if gap < 15*time.Second || gap > time.Hour {
			t.Errorf("gap %d = %v, want between 15s (half the base delay) and 1h (the cap)", i, gap)
		}
	}
	if m.Attempts != len(down.attempts) || m.LastError == "" {
		t.Errorf("attempts %d (made %d), last error %q", m.Attempts, len(down.attempts), m.LastError)
	}
	t.Logf("%d attempts over %v", m.Attempts, last.Sub(created))
}

// TestResentDeliveryRetriesFromTheResend: a webhook delivery given up
// after its 24 hours of retries and then sent again on request is retried
// when it fails, not given up at once, and is given up at the first
// failure 24 hours after the resend.
func TestResentDeliveryRetriesFromTheResend(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0}
	e := newEnv(t, clock)
	down := &alwaysDown{clock: clock}
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelWebhook: down}, outbox.Options{})
	m := storetest.NewWebhookMessage(0, "wh-1")
	storetest.MustEnqueue(t, e.store, m)
	// retry runs rounds until the message is no longer pending; rounds
	// are the times of the rounds that left it pending. (Not every round
	// sends: the endpoint is paused between them, pause.go.)
	var rounds []time.Time
	retry := func() *lockbox.OutboxMessage {
		t.Helper()
		var got *lockbox.OutboxMessage
		for range 200 { // bounded; about 30 attempts a day are expected
			deliverDue(t, w)
			got = e.outbox(lockbox.OutboxQuery{})[0]
			if got.Status != lockbox.OutboxPending {
				return got
			}
			rounds = append(rounds, clock.Now())
			clock.Set(got.NextAttemptAt)
		}
		t.Fatalf("still pending after %d attempts", got.Attempts)
		return nil
	}
	if got := retry(); got.Status != lockbox.OutboxDead {
		t.Fatalf("first day: %s, want dead", got.Status)
	}
	clock.Set(storetest.T0.Add(48 * time.Hour))
	resentAt := clock.Now()
	storetest.MustUpdate(t, e.store, func(tx lockbox.Tx) error {
		_, err := tx.ResendWebhookDelivery(t.Context(), "contoso", "wh-1", m.ID, resentAt)
		return err
	})
	made := len(down.attempts)
	deliverDue(t, w)
	if got := e.outbox(lockbox.OutboxQuery{})[0]; got.Status != lockbox.OutboxPending || len(down.attempts) != made+1 {
		t.Fatalf("after the resend's first attempt (failed): %s with %d attempts made; want pending, to be retried", got.Status, len(down.attempts)-made)
	}
	got := retry()
	if got.Status != lockbox.OutboxDead || got.FinishedAt == nil {
		t.Fatalf("after the resend: %s, want dead", got.Status)
	}
	last, prev := *got.FinishedAt, rounds[len(rounds)-1]
	if end := resentAt.Add(24 * time.Hour); last.Before(end) || !prev.Before(end) {
		t.Errorf("gave up at %v after a try at %v; want the first failure at or after 24 h from the resend (%v)", last, prev, end)
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		jitter   float64
		attempt  int
		min, max time.Duration
	}{
		{0, 1, 15 * time.Second, 15 * time.Second},
		{0.999999, 1, 29 * time.Second, 30 * time.Second},
		{0, 2, 30 * time.Second, 30 * time.Second},
		{0, 5, 4 * time.Minute, 4 * time.Minute},
		{0, 8, 30 * time.Minute, 30 * time.Minute},
		{0, 9, 30 * time.Minute, 30 * time.Minute}, // capped at 1 h, half of it without jitter
		{0.999999, 60, 59 * time.Minute, time.Hour},
	} {
		w := outbox.New(nil, nil, nil, outbox.Options{Jitter: func() float64 { return tc.jitter }})
		if got := w.Backoff(tc.attempt); got < tc.min || got > tc.max {
			t.Errorf("Backoff(%d) with jitter %v = %v, want in [%v, %v]", tc.attempt, tc.jitter, got, tc.min, tc.max)
		}
	}
}

// counting records how many attempts each message got.
type counting struct {
	mu   sync.Mutex
	seen map[string]int
}

func (c *counting) Deliver(_ context.Context, m *lockbox.OutboxMessage) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[m.ID]++
	return nil
}

// TestReplicasDeliverEachMessageOnce runs four workers (as four replicas
// would) on one store at once: every email, and every webhook delivery
// (claimed a few of each endpoint at a time, most of them to one
// endpoint), is delivered once.
func TestReplicasDeliverEachMessageOnce(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0.Add(time.Hour)}
	e := newEnv(t, clock)
	const n = 200
	var msgs []*lockbox.OutboxMessage
	for i := range n / 2 {
		hook := "wh-big"
		if i%10 == 0 {
			hook = fmt.Sprintf("wh-%d", i%3)
		}
		msgs = append(msgs, storetest.NewOutboxMessage(i), storetest.NewWebhookMessage(n/2+i, hook))
	}
	storetest.MustEnqueue(t, e.store, msgs...)
	c := &counting{seen: map[string]int{}}
	var wg sync.WaitGroup
	for range 4 {
		w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelEmail: c, lockbox.ChannelWebhook: c},
			outbox.Options{Batch: 3, Claim: 5})
		wg.Go(func() { deliverDue(t, w) })
	}
	wg.Wait()
	if len(c.seen) != n {
		t.Errorf("delivered %d distinct messages, want %d", len(c.seen), n)
	}
	for id, k := range c.seen {
		if k != 1 {
			t.Errorf("%s was delivered %d times", id, k)
		}
	}
}

func TestPermanentFailureIsDeadAtOnce(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0.Add(time.Minute)}
	e := newEnv(t, clock)
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{}, outbox.Options{}) // no webhook deliverer
	m := storetest.NewOutboxMessage(0)
	m.Payload = []byte("not json")
	bad := storetest.NewOutboxMessage(1)
	bad.Channel = lockbox.ChannelWebhook
	storetest.MustEnqueue(t, e.store, m, bad)
	w2 := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelEmail: &fakeMTA{}}, outbox.Options{})
	deliverDue(t, w2) // the email does not render: dead; the webhook has no deliverer: retried
	deliverDue(t, w)
	for _, got := range e.outbox(lockbox.OutboxQuery{}) {
		want := map[string]string{m.ID: lockbox.OutboxDead, bad.ID: lockbox.OutboxPending}[got.ID]
		if got.Status != want || got.Attempts != 1 {
			t.Errorf("%s: %s after %d attempts (%s), want %s after 1", got.ID, got.Status, got.Attempts, got.LastError, want)
		}
	}
}

// failing is a deliverer whose every attempt fails with err.
type failing struct{ err error }

func (f failing) Deliver(context.Context, *lockbox.OutboxMessage) error { return f.err }

// TestStoredErrorHidesInternals: a webhook's tenant admins read its
// deliveries' last errors, so a failure to read Lockbox's own store is
// stored as its lockbox.Error's message only ("Internal error." for a
// driver's error, which names the database's address): the log has it.
func TestStoredErrorHidesInternals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"DriverError", &lockbox.DeliveryError{Kind: "store", Err: errors.New("get webhook: dial tcp 10.1.2.3:5432: connect: connection refused")},
			"store: Internal error."},
		{"LockboxError", &lockbox.DeliveryError{Kind: "store", Err: lockbox.Errorf(lockbox.EUNAVAILABLE, "The signing secret of webhook wh-1 cannot be read with this server's keys.")},
			"store: The signing secret of webhook wh-1 cannot be read with this server's keys."},
		{"ReceiverAnswer", &lockbox.DeliveryError{Kind: "http_status", Err: errors.New("the endpoint at hooks.example.com answered 503 Service Unavailable")},
			"http_status: the endpoint at hooks.example.com answered 503 Service Unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := &manualClock{t: storetest.T0.Add(time.Minute)}
			e := newEnv(t, clock)
			m := storetest.NewWebhookMessage(1, "wh-1")
			storetest.MustEnqueue(t, e.store, m)
			deliverDue(t, outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelWebhook: failing{tc.err}}, outbox.Options{}))
			got := e.outbox(lockbox.OutboxQuery{})
			if len(got) != 1 || got[0].LastError != tc.want {
				t.Errorf("stored last error %q, want %q", got[0].LastError, tc.want)
			}
		})
	}
}
