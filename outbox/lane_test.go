package outbox_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/outbox"
	"github.com/lockboxhq/lockbox/storetest"
)

// holding is a deliverer whose sends of the messages it holds each wait
// until the test lets one go (letGo; closing it lets them all go), or
// their context ends: a receiver that hangs, or answers slowly. entered,
// if not nil, gets each of those as its send starts. The other messages
// are delivered at once and said on sent.
type holding struct {
	holds   func(*lockbox.OutboxMessage) bool
	entered chan string
	letGo   chan struct{}
	sent    chan string
}

func (g *holding) Deliver(ctx context.Context, m *lockbox.OutboxMessage) error {
	if !g.holds(m) {
		g.sent <- m.ID
		return nil
	}
	if g.entered != nil {
		g.entered <- m.ID
	}
	select {
	case <-g.letGo:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// notes is a deliverer that delivers at once and says so on sent.
type notes struct{ sent chan string }

func (n *notes) Deliver(_ context.Context, m *lockbox.OutboxMessage) error {
	n.sent <- m.ID
	return nil
}

// TestWebhookThatHangsHoldsNoEmail: while a webhook endpoint hangs (its
// send takes the whole timeout, here as long as the test), emails are
// still sent at once, both an email claimed by a round and one handed over
// as its transaction commits, behind another webhook. In one lane for both channels, the hanging
// send held its round, and every email after it waited for the timeout.
func TestWebhookThatHangsHoldsNoEmail(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0.Add(time.Hour)}
	e := newEnv(t, clock)
	hook := &holding{holds: func(*lockbox.OutboxMessage) bool { return true }, entered: make(chan string, 8), letGo: make(chan struct{})}
	mail := &notes{sent: make(chan string, 8)}
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelWebhook: hook, lockbox.ChannelEmail: mail},
		outbox.Options{Poll: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { w.Run(ctx) })
	t.Cleanup(func() { close(hook.letGo); cancel(); run.Wait() })

	handed := func(m *lockbox.OutboxMessage) { t.Helper(); handOver(t, e, w, m) }
	waitFor := func(ch <-chan string, want, what string) {
		t.Helper()
		waitSent(t, ch, want, what+" while a webhook hangs")
	}

	// A round's webhook hangs; then an email falls due.
	storetest.MustEnqueue(t, e.store, storetest.NewWebhookMessage(1, "wh-1"))
	waitFor(hook.entered, "msg-000001", "the claimed webhook")
	storetest.MustEnqueue(t, e.store, storetest.NewOutboxMessage(2))
	waitFor(mail.sent, "msg-000002", "the claimed email")

	// A webhook handed over to the endpoint that hangs hangs too; an email
	// handed over after it is sent all the same.
	handed(storetest.NewWebhookMessage(3, "wh-1"))
	handed(storetest.NewOutboxMessage(4))
	waitFor(mail.sent, "msg-000004", "the handed email")
}

// handOver leases msgs, all of one channel, to w, stores them and hands
// them over together, as a workflow transaction does (approval's
// handoffStore).
func handOver(t *testing.T, e *env, w *outbox.Worker, msgs ...*lockbox.OutboxMessage) {
	t.Helper()
	var until time.Time
	for ok := false; !ok; { // the lane runs once Lease grants room
		until, ok = w.Lease(msgs[0].Channel, len(msgs))
		time.Sleep(time.Millisecond)
	}
	for _, m := range msgs {
		m.Attempts, m.LeaseUntil = 1, &until
	}
	storetest.MustEnqueue(t, e.store, msgs...)
	w.Handoff(msgs)
}

// waitSent fails t unless want is sent on ch within 10 s.
func waitSent(t *testing.T, ch <-chan string, want, what string) {
	t.Helper()
	select {
	case id := <-ch:
		if id != want {
			t.Fatalf("%s: got %s, want %s", what, id, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: %s not sent within 10 s", what, want)
	}
}

// newSlowEndpoint is a webhook deliverer for which the endpoint wh-slow
// answers, but slowly: each send to it waits until the test lets one go.
func newSlowEndpoint() *holding {
	return &holding{holds: func(m *lockbox.OutboxMessage) bool { return m.WebhookID == "wh-slow" },
		entered: make(chan string, 64), sent: make(chan string, 64), letGo: make(chan struct{})}
}

// runWorker runs w until the test ends.
func runWorker(t *testing.T, w *outbox.Worker) {
	ctx, cancel := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { w.Run(ctx) })
	t.Cleanup(func() { cancel(); run.Wait() })
}

// TestEndpointWithABacklogHoldsNoOther: an endpoint that answers slowly,
// with more deliveries due than a claim takes, does not keep another
// endpoint's delivery, due after all of them, from being sent while its
// own sends are under way. Claims took the earliest due; the backlog
// filled each one, and the other endpoint's delivery waited for all of it.
func TestEndpointWithABacklogHoldsNoOther(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0.Add(time.Hour)}
	e := newEnv(t, clock)
	d := newSlowEndpoint()
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelWebhook: d},
		outbox.Options{Batch: 2, Claim: 8, Poll: 10 * time.Millisecond})
	var msgs []*lockbox.OutboxMessage
	for n := range 20 {
		msgs = append(msgs, storetest.NewWebhookMessage(n, "wh-slow"))
	}
	storetest.MustEnqueue(t, e.store, append(msgs, storetest.NewWebhookMessage(20, "wh-other"))...)
	runWorker(t, w)
	waitSent(t, d.sent, "msg-000020", "the other endpoint's delivery, due after the backlog")
}

// TestHandedBurstTakesItsShare: a burst of deliveries to a slow endpoint,
// handed over in one commit, takes one wave of its lane's round; the rest
// go back to the store. So a delivery to another endpoint handed over
// while the slow sends are under way waits only for those, not for the
// whole burst.
func TestHandedBurstTakesItsShare(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0.Add(time.Hour)}
	e := newEnv(t, clock)
	d := newSlowEndpoint()
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelWebhook: d},
		outbox.Options{Batch: 2, Poll: time.Hour})
	runWorker(t, w)
	var burst []*lockbox.OutboxMessage
	for n := range 10 {
		burst = append(burst, storetest.NewWebhookMessage(n, "wh-slow"))
	}
	handOver(t, e, w, append(burst, storetest.NewWebhookMessage(10, "wh-other"))...)
	waitSent(t, d.sent, "msg-000010", "the other endpoint's delivery in the burst's commit")
	for range 2 { // the round's wave of wh-slow
		<-d.entered
	}
	handOver(t, e, w, storetest.NewWebhookMessage(11, "wh-other"))
	d.letGo <- struct{}{}
	d.letGo <- struct{}{}
	waitSent(t, d.sent, "msg-000011", "a delivery handed over behind the slow wave")
}

// endpoints is a webhook deliverer that answers for the endpoints in up
// and gets no answer from the others (a connection that timed out); it
// counts the sends to each. With together set, sends wait until that
// many are in flight before they fail.
type endpoints struct {
	mu       sync.Mutex
	up       map[string]bool
	sends    map[string]int
	together *barrier
}

// barrier holds each caller of wait until n have called it (or 10 s have
// passed, so that a worker sending fewer at once fails the test rather
// than hangs it).
type barrier struct {
	mu   sync.Mutex
	n    int
	full chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, full: make(chan struct{})} }

func (b *barrier) wait() {
	b.mu.Lock()
	if b.n--; b.n == 0 {
		close(b.full)
	}
	b.mu.Unlock()
	select {
	case <-b.full:
	case <-time.After(10 * time.Second):
	}
}

func (d *endpoints) Deliver(_ context.Context, m *lockbox.OutboxMessage) error {
	d.mu.Lock()
	d.sends[m.WebhookID]++
	up, together := d.up[m.WebhookID], d.together
	d.mu.Unlock()
	if up {
		return nil
	}
	if together != nil {
		together.wait()
	}
	return &lockbox.DeliveryError{Kind: "connect", Err: context.DeadlineExceeded}
}

func (d *endpoints) count(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sends[id]
}

// TestEndpointThatDoesNotAnswerIsPaused: after an attempt that got no
// answer, nothing more is sent to that endpoint until a pause (the retry
// delay) ends; its deliveries fail unsent and are retried later, while
// other endpoints' are sent. When the pause ends one delivery probes it:
// no answer again pauses it longer; an answer ends the pause and the rest
// go out. A test delivery asked for during the pause is sent at once.
func TestEndpointThatDoesNotAnswerIsPaused(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0.Add(time.Hour)}
	e := newEnv(t, clock)
	d := &endpoints{up: map[string]bool{"wh-up": true}, sends: map[string]int{}}
	// One send at a time, in due order; jitter 0: a pause is half the
	// retry delay (15 s after one failure, 30 s after two).
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelWebhook: d},
		outbox.Options{Batch: 1, Jitter: func() float64 { return 0 }})
	var msgs []*lockbox.OutboxMessage
	for n := range 6 {
		m := storetest.NewWebhookMessage(n, "wh-down")
		if n >= 4 {
			m.WebhookID = "wh-up"
		}
		msgs = append(msgs, m)
	}
	storetest.MustEnqueue(t, e.store, msgs...)
	status := func() (delivered, pending int, lastErr string) {
		for _, m := range e.outbox(lockbox.OutboxQuery{}) {
			switch m.Status {
			case lockbox.OutboxDelivered:
				delivered++
			case lockbox.OutboxPending:
				pending++
				if m.ID == "msg-000003" {
					lastErr = m.LastError
				}
			}
		}
		return
	}

	deliverDue(t, w)
	if n := d.count("wh-down"); n != 1 {
		t.Fatalf("sent %d deliveries to the endpoint that did not answer, want 1 (then paused)", n)
	}
	delivered, pending, lastErr := status()
	if d.count("wh-up") != 2 || delivered != 2 || pending != 4 || !strings.Contains(lastErr, "not sent: the endpoint did not answer") {
		t.Fatalf("after the first round: %d sent to the other endpoint, %d delivered, %d pending (last error %q); want 2, 2, 4, not sent", d.count("wh-up"), delivered, pending, lastErr)
	}

	// The pause and the retries' delays over: one probe, no answer again.
	clock.Advance(time.Minute)
	deliverDue(t, w)
	if n := d.count("wh-down"); n != 2 {
		t.Fatalf("after the pause: %d sends in all, want 2 (one probe)", n)
	}
	// Paused longer now (30 s): a new delivery 20 s after the probe is not
	// sent.
	clock.Advance(20 * time.Second)
	late := storetest.NewWebhookMessage(6, "wh-down")
	late.NextAttemptAt = clock.Now()
	storetest.MustEnqueue(t, e.store, late)
	if n := deliverDue(t, w); n != 1 || d.count("wh-down") != 2 {
		t.Fatalf("20 s after the second failure: %d attempted, %d sends in all; want 1 attempted, still 2 sent", n, d.count("wh-down"))
	}

	// Its admin asks for a test delivery: sent at once, pause or not (no
	// answer yet: the pause starts again).
	test := storetest.NewWebhookMessage(7, "wh-down")
	test.Type = lockbox.EventTypeWebhookTest
	test.CreatedAt, test.NextAttemptAt = clock.Now(), clock.Now()
	storetest.MustEnqueue(t, e.store, test)
	if deliverDue(t, w); d.count("wh-down") != 3 {
		t.Fatalf("a test delivery asked for during the pause: %d sends in all, want 3 (sent at once)", d.count("wh-down"))
	}

	// The endpoint answers again: the probe ends the pause, and the others
	// follow in the same round.
	d.mu.Lock()
	d.up["wh-down"] = true
	d.mu.Unlock()
	clock.Advance(5 * time.Minute)
	deliverDue(t, w)
	if delivered, pending, _ := status(); delivered != 8 || pending != 0 {
		t.Fatalf("once it answers: %d delivered, %d pending; want 8, 0", delivered, pending)
	}
}

// TestPausedEndpointIsProbedOnce: deliveries sent at once, before the
// first of them failed, count as one failure; when the pause ends, one of
// the deliveries due together probes the endpoint and the others wait for
// its answer.
func TestPausedEndpointIsProbedOnce(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0.Add(time.Hour)}
	e := newEnv(t, clock)
	d := &endpoints{up: map[string]bool{}, sends: map[string]int{}, together: newBarrier(4)}
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelWebhook: d},
		outbox.Options{Batch: 8, Jitter: func() float64 { return 0 }})
	for n := range 4 {
		storetest.MustEnqueue(t, e.store, storetest.NewWebhookMessage(n, "wh-down"))
	}
	deliverDue(t, w)
	if n := d.count("wh-down"); n != 4 {
		t.Fatalf("first round: %d sends, want all 4 (sent at once)", n)
	}
	// One failure in a row, not four: the pause is 15 s, so 20 s later the
	// retries (due 15 s after their failures) probe it once.
	d.mu.Lock()
	d.together = nil
	d.mu.Unlock()
	clock.Advance(20 * time.Second)
	deliverDue(t, w)
	if n := d.count("wh-down"); n != 5 {
		t.Fatalf("after the pause: %d sends in all, want 5 (one probe)", n)
	}
}

// TestEndpointsTakeTurns: a round takes its share (Batch, here 1) of each
// webhook endpoint's deliveries, so one endpoint's burst, due first, does
// not go all before another endpoint's delivery, which goes in the burst's
// first round, and never has more than its share under way.
func TestEndpointsTakeTurns(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0.Add(time.Hour)}
	e := newEnv(t, clock)
	d := &inFlight{most: map[string]int{}, now: map[string]int{}}
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelWebhook: d}, outbox.Options{Batch: 1})
	for n, hook := range []string{"wh-a", "wh-a", "wh-a", "wh-b"} {
		storetest.MustEnqueue(t, e.store, storetest.NewWebhookMessage(n, hook))
	}
	deliverDue(t, w)
	if i := slices.Index(d.order, "wh-b"); i < 0 || i > 1 || len(d.order) != 4 {
		t.Errorf("sent to %v, want wh-b among the first two of four", d.order)
	}
	if d.most["wh-a"] != 1 {
		t.Errorf("%d sends to wh-a at once, want its share of 1", d.most["wh-a"])
	}
}

// inFlight is a webhook deliverer that records the endpoints in the order
// their sends start, and the most sends each had under way at once; each
// send takes a moment, so that sends started together overlap.
type inFlight struct {
	mu    sync.Mutex
	order []string
	now   map[string]int
	most  map[string]int
}

func (d *inFlight) Deliver(_ context.Context, m *lockbox.OutboxMessage) error {
	d.mu.Lock()
	d.order = append(d.order, m.WebhookID)
	d.now[m.WebhookID]++
	d.most[m.WebhookID] = max(d.most[m.WebhookID], d.now[m.WebhookID])
	d.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	d.mu.Lock()
	d.now[m.WebhookID]--
	d.mu.Unlock()
	return nil
}

// TestSlowSendsHoldNoOtherEndpoint: while a slow receiver's share of
// deliveries is under way, another endpoint's deliveries, claimed or
// handed over, are sent without waiting for those sends to end, and the
// slow endpoint gets no more than its share (Batch) in flight: what is
// handed over beyond it goes back to the store and is claimed once its
// sends end, without waiting for the next poll. A round was a barrier:
// every delivery after it waited for its slowest send.
func TestSlowSendsHoldNoOtherEndpoint(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0.Add(time.Hour)}
	e, d, reads, w := slowLane(t, clock, outbox.Options{Batch: 2, Claim: 4, Poll: time.Hour})
	// The first claim is full (the slow endpoint's share and two others),
	// so the lane claims again at once, with the slow share under way.
	var stored []*lockbox.OutboxMessage
	for n := range 3 {
		stored = append(stored, storetest.NewWebhookMessage(n, "wh-slow"))
	}
	stored = append(stored, storetest.NewWebhookMessage(3, "wh-other"), storetest.NewWebhookMessage(4, "wh-third"))
	storetest.MustEnqueue(t, e.store, stored...)
	runWorker(t, w)
	waitSentAll(t, d.sent, "the other endpoints' deliveries claimed with the slow share", "msg-000003", "msg-000004")
	waitSentAll(t, d.entered, "the slow endpoint's share", "msg-000000", "msg-000001")
	// A workflow's transaction stores a delivery the worker would give
	// back (Takes) unclaimed; the others it leases.
	for _, c := range []struct {
		m    *lockbox.OutboxMessage
		want bool
	}{
		{storetest.NewWebhookMessage(100, "wh-slow"), false},
		{storetest.NewWebhookMessage(101, "wh-other"), true},
		{storetest.NewOutboxMessage(102), true},
	} {
		if got := w.Takes(c.m); got != c.want {
			t.Errorf("Takes(%s to %q) = %v while wh-slow's share is under way, want %v", c.m.Channel, c.m.WebhookID, got, c.want)
		}
	}

	handOver(t, e, w, storetest.NewWebhookMessage(5, "wh-other"))
	waitSent(t, d.sent, "msg-000005", "a delivery handed over while the slow share is under way")
	handOver(t, e, w, storetest.NewWebhookMessage(6, "wh-slow"))
	handOver(t, e, w, storetest.NewWebhookMessage(7, "wh-other"))
	waitSent(t, d.sent, "msg-000007", "a delivery handed over after one beyond the slow share")
	before := reads.views.Load()
	select {
	case id := <-d.entered:
		t.Fatalf("%s sent to the slow endpoint beyond its share of 2 under way", id)
	case <-time.After(100 * time.Millisecond):
	}
	// The slow endpoint's third is due all along: a lane that took that
	// for a reason to claim at once would claim and look again and again.
	if n := reads.views.Load() - before; n > 5 {
		t.Errorf("the lane read the store %d times in 100 ms while nothing it may send was due", n)
	}

	d.letGo <- struct{}{}
	d.letGo <- struct{}{}
	waitSentAll(t, d.entered, "the slow endpoint's next share, once its first ended", "msg-000002", "msg-000006")
	close(d.letGo)
}

// slowLane returns a worker, not yet running, that sends webhooks to
// newSlowEndpoint through a countingStore of a new env on clock.
func slowLane(t *testing.T, clock lockbox.Clock, opts outbox.Options) (*env, *holding, *countingStore, *outbox.Worker) {
	t.Helper()
	e := newEnv(t, clock)
	d := newSlowEndpoint()
	counts := &countingStore{Store: e.store}
	return e, d, counts, outbox.New(counts, clock, map[string]outbox.Deliverer{lockbox.ChannelWebhook: d}, opts)
}

// sendSlowShare runs w and hands it a share of two deliveries to wh-slow,
// whose sends are then under way until the test lets them go.
func sendSlowShare(t *testing.T, e *env, d *holding, w *outbox.Worker) {
	t.Helper()
	runWorker(t, w)
	handOver(t, e, w, storetest.NewWebhookMessage(0, "wh-slow"), storetest.NewWebhookMessage(1, "wh-slow"))
	waitSentAll(t, d.entered, "the handed share", "msg-000000", "msg-000001")
}

// waitSentAll fails t unless the messages want, in any order, are sent on
// ch within 10 s.
func waitSentAll(t *testing.T, ch <-chan string, what string, want ...string) {
	t.Helper()
	var got []string
	for range want {
		select {
		case id := <-ch:
			got = append(got, id)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: got %v within 10 s, want %v", what, got, want)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

// TestSendsEndingClaimOnlyWhatIsDue: the end of a skipped endpoint's
// sends makes the lane claim only when deliveries were left due in the
// store. A lane that claimed after every skipped endpoint's sends ended
// claimed over and over while hand-overs kept endpoints busy.
func TestSendsEndingClaimOnlyWhatIsDue(t *testing.T) {
	t.Parallel()
	clock := lockbox.NewOffsetClock() // moved (Advance) to wake the lane, as in dev mode
	e, d, claims, w := slowLane(t, clock, outbox.Options{Batch: 2, Poll: time.Hour})
	sendSlowShare(t, e, d, w)

	// A claim while wh-slow is busy skips it, with nothing of it due.
	before := claims.claims.Load()
	// A wake while the lane is busy is missed (it then waits for the
	// next Moved): wake it until it claims.
	waitFor(t, "a claim after the wake", func() bool { clock.Advance(time.Nanosecond); return claims.claims.Load() > before })
	time.Sleep(20 * time.Millisecond) // the claim's round ends; the lane sleeps
	before = claims.claims.Load()
	d.letGo <- struct{}{}
	d.letGo <- struct{}{}
	time.Sleep(100 * time.Millisecond)
	if n := claims.claims.Load() - before; n != 0 {
		t.Errorf("%d claims after a skipped endpoint's sends ended with nothing of it due; want none", n)
	}

	// With one of its deliveries left due, the end of its sends claims it.
	handOver(t, e, w, storetest.NewWebhookMessage(2, "wh-slow"), storetest.NewWebhookMessage(3, "wh-slow"))
	waitSentAll(t, d.entered, "the next handed share", "msg-000002", "msg-000003")
	storetest.MustEnqueue(t, e.store, storetest.NewWebhookMessage(4, "wh-slow"))
	before = claims.claims.Load()
	waitFor(t, "a claim after the wake", func() bool { clock.Advance(time.Nanosecond); return claims.claims.Load() > before })
	time.Sleep(20 * time.Millisecond) // it skipped wh-slow; the lane sleeps
	d.letGo <- struct{}{}
	d.letGo <- struct{}{}
	waitSent(t, d.entered, "msg-000004", "the delivery left due, once the sends ended")
	close(d.letGo)
}

// TestDeclinedCommittedAfterSendsEnd: a delivery the worker declined
// (Takes) while its endpoint's share was under way, whose transaction
// commits only after those sends ended and the lane claimed, is claimed as
// soon as it is handed over, not at the next poll. The end of the sends
// had the lane claim before the delivery was there to claim, and the lane
// then slept for Poll.
func TestDeclinedCommittedAfterSendsEnd(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0.Add(time.Hour)}
	e, d, claims, w := slowLane(t, clock, outbox.Options{Batch: 2, Poll: time.Hour})
	sendSlowShare(t, e, d, w)

	m := storetest.NewWebhookMessage(2, "wh-slow")
	if w.Takes(m) {
		t.Fatal("Takes = true for a delivery beyond its endpoint's share under way")
	}
	time.Sleep(20 * time.Millisecond) // the lane sleeps
	claimed, looked := claims.claims.Load(), claims.views.Load()
	d.letGo <- struct{}{}
	d.letGo <- struct{}{}
	// The sends end; the lane claims, looks for its next wake, finds
	// nothing due, and sleeps.
	waitFor(t, "the claim and the look for the next wake when the sends end", func() bool {
		return claims.claims.Load() > claimed && claims.views.Load() > looked
	})
	time.Sleep(20 * time.Millisecond)
	storetest.MustEnqueue(t, e.store, m)
	w.Handoff([]*lockbox.OutboxMessage{m})
	waitSent(t, d.entered, "msg-000002", "the declined delivery, committed after its endpoint's sends ended")
	close(d.letGo)
}

// TestNoClaimsWhileNotReady: a lane claims nothing while its store is not
// ready (on PostgreSQL, also while this replica's clock is out of step with
// the database server's), and claims what is due once it is.
func TestNoClaimsWhileNotReady(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0.Add(time.Hour)}
	e := newEnv(t, clock)
	claims := &countingStore{Store: e.store}
	st := &storetest.UnreadyStore{Store: claims}
	st.Unready.Store(true)
	d := &notes{sent: make(chan string, 8)}
	w := outbox.New(st, clock, map[string]outbox.Deliverer{lockbox.ChannelWebhook: d}, outbox.Options{Poll: 10 * time.Millisecond})
	storetest.MustEnqueue(t, e.store, storetest.NewWebhookMessage(1, "wh-1"))
	runWorker(t, w)
	time.Sleep(100 * time.Millisecond)
	if n := claims.claims.Load(); n != 0 {
		t.Errorf("%d claims while the store was not ready, want none", n)
	}
	select {
	case id := <-d.sent:
		t.Fatalf("%s sent while the store was not ready", id)
	default:
	}
	st.Unready.Store(false)
	waitSent(t, d.sent, "msg-000001", "a due delivery, once the store is ready")
}

// TestEndedSendsClaimBeforeHandedOver: when an endpoint's sends end while
// a delivery of it waits in the store and another is handed over, the lane
// claims the waiting one first, and the one handed over goes back to wait
// its turn. Which came first was up to Go's select: half the time the one
// handed over took the endpoint's share, and the claim skipped the one
// waiting, which fell behind every hand-over.
func TestEndedSendsClaimBeforeHandedOver(t *testing.T) {
	t.Parallel()
	clock := lockbox.NewOffsetClock() // moved (Advance) to wake the lane, as in dev mode
	e := newEnv(t, clock)
	d := newSlowEndpoint()
	hold := &heldWake{Store: e.store, held: make(chan struct{}), release: make(chan struct{})}
	w := outbox.New(hold, clock, map[string]outbox.Deliverer{lockbox.ChannelWebhook: d},
		outbox.Options{Batch: 1, Poll: time.Hour})
	runWorker(t, w)
	handOver(t, e, w, storetest.NewWebhookMessage(0, "wh-slow"))
	waitSent(t, d.entered, "msg-000000", "the handed share")

	// Hold the lane after it has looked for its next wake (nothing due).
	hold.armed.Store(true)
	clock.Advance(time.Nanosecond)
	<-hold.held
	// Meanwhile a delivery declined while wh-slow was busy is committed,
	// wh-slow's send ends, and another delivery is handed over.
	waiting := storetest.NewWebhookMessage(1, "wh-slow")
	storetest.MustEnqueue(t, e.store, waiting)
	w.Handoff([]*lockbox.OutboxMessage{waiting})
	d.letGo <- struct{}{}
	waitFor(t, "the end of wh-slow's send", func() bool { return w.Takes(storetest.NewWebhookMessage(9, "wh-slow")) })
	handOver(t, e, w, storetest.NewWebhookMessage(2, "wh-slow"))
	hold.release <- struct{}{}
	waitSent(t, d.entered, "msg-000001", "the next of wh-slow's share, with one waiting and one handed over")
	close(d.letGo)
}

// heldWake is a store whose next read of a webhook lane's next wake, once
// armed, returns only when the test releases it.
type heldWake struct {
	lockbox.Store
	armed   atomic.Bool
	held    chan struct{}
	release chan struct{}
}

func (s *heldWake) View(ctx context.Context, fn func(lockbox.Tx) error) error {
	tx := &wakeReader{}
	err := s.Store.View(ctx, func(inner lockbox.Tx) error { tx.Tx = inner; return fn(tx) })
	if tx.webhooks && s.armed.CompareAndSwap(true, false) {
		s.held <- struct{}{}
		<-s.release
	}
	return err
}

// wakeReader is a Tx that notes a read of the webhook lane's next wake.
type wakeReader struct {
	lockbox.Tx
	webhooks bool
}

func (tx *wakeReader) NextOutboxWake(ctx context.Context, channel string) (time.Time, error) {
	tx.webhooks = tx.webhooks || channel == lockbox.ChannelWebhook
	return tx.Tx.NextOutboxWake(ctx, channel)
}

// countingStore is a store that counts its read transactions (View) and
// the claims of webhooks made in its write transactions.
type countingStore struct {
	lockbox.Store
	views, claims atomic.Int64
}

func (s *countingStore) View(ctx context.Context, fn func(lockbox.Tx) error) error {
	s.views.Add(1)
	return s.Store.View(ctx, fn)
}

func (s *countingStore) Update(ctx context.Context, fn func(lockbox.Tx) error) error {
	return s.Store.Update(ctx, func(tx lockbox.Tx) error { return fn(&claimCounter{Tx: tx, n: &s.claims}) })
}

type claimCounter struct {
	lockbox.Tx
	n *atomic.Int64
}

func (c *claimCounter) ClaimOutbox(ctx context.Context, cl lockbox.OutboxClaim) ([]*lockbox.OutboxMessage, error) {
	if cl.Channel == lockbox.ChannelWebhook {
		c.n.Add(1)
	}
	return c.Tx.ClaimOutbox(ctx, cl)
}

// waitFor fails t unless cond holds within 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s: not within 10 s", what)
		}
	}
}
