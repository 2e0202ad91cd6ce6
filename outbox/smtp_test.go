package outbox_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	netmail "net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/mail"
	"github.com/lockboxhq/lockbox/outbox"
)

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// mailWorker is a delivery worker whose email goes to srv.
func mailWorker(t *testing.T, e *env, clock lockbox.Clock, srv *smtpServer, reg prometheus.Registerer) *outbox.Worker {
	t.Helper()
	cfg, err := mail.ParseSMTPURL(srv.url())
	if err != nil {
		t.Fatal(err)
	}
	sender, err := mail.NewSender("Lockbox <lockbox@provider.test>", mail.NewSMTP(cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	var m *outbox.Metrics
	if reg != nil {
		m = outbox.NewMetrics(reg, e.store, clock)
	}
	return outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelEmail: sender},
		outbox.Options{Jitter: func() float64 { return 0.5 }, Metrics: m})
}

func deliverDue(t *testing.T, w *outbox.Worker) int {
	t.Helper()
	n, err := w.DeliverDue(t.Context())
	if err != nil {
		t.Fatalf("DeliverDue: %v", err)
	}
	return n
}

func byRecipient(t *testing.T, msgs []received) map[string]*netmail.Message {
	t.Helper()
	out := map[string]*netmail.Message{}
	for _, m := range msgs {
		parsed, err := netmail.ReadMessage(bytes.NewReader(m.data))
		if err != nil {
			t.Fatal(err)
		}
		for _, to := range m.to {
			out[to] = parsed
		}
	}
	return out
}

func TestEmailsOverSMTP(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: t0}
	e := newEnv(t, clock)
	srv := newSMTPServer(t, "lockbox", "smtp-pass")
	if _, err := e.svc.UpdateSettings(e.as("approver@contoso.test"), "contoso",
		lockbox.SettingsPatch{NotifyEmails: &[]string{"soc@contoso.test", "Approver@Contoso.test"}}); err != nil {
		t.Fatal(err)
	}
	w := mailWorker(t, e, clock, srv, nil)
	r := e.pending("Mailbox fails to load; see https://wiki.provider.test/kb/42")

	if n := deliverDue(t, w); n != 3 {
		t.Fatalf("delivered %d, want 3 (two approvers and one notify-only address; duplicates removed)", n)
	}
	got := byRecipient(t, srv.received())
	var rcpts []string
	for to := range got {
		rcpts = append(rcpts, to)
	}
	slices.Sort(rcpts)
	if diff := cmp.Diff([]string{"admin@contoso.test", "approver@contoso.test", "soc@contoso.test"}, rcpts); diff != "" {
		t.Fatalf("recipients (-want +got):\n%s", diff)
	}
	ids := map[string]string{}
	for _, m := range e.outbox(lockbox.OutboxQuery{Channel: lockbox.ChannelEmail}) {
		if m.Status != lockbox.OutboxDelivered || m.Attempts != 1 {
			t.Errorf("outbox %s to %s: %s after %d attempts", m.ID, m.To, m.Status, m.Attempts)
		}
		ids[m.To] = m.ID
	}
	for to, msg := range got {
		if want := "<" + ids[to] + "@provider.test>"; msg.Header.Get("Message-Id") != want {
			t.Errorf("%s: Message-Id %q, want %q (the outbox id)", to, msg.Header.Get("Message-Id"), want)
		}
		if subj := msg.Header.Get("Subject"); !strings.Contains(subj, r.Reference) || !strings.Contains(subj, "needs your decision") {
			t.Errorf("%s: subject %q", to, subj)
		}
		body, _ := io.ReadAll(msg.Body)
		for _, want := range []string{r.Reference, "hxxps://wiki[.]provider[.]test/kb/42", "SR-2026-004211", "Decide by (UTC)"} {
			if !bytes.Contains(body, []byte(want)) {
				t.Errorf("%s: body lacks %q", to, want)
			}
		}
		if bytes.Contains(body, []byte("https://")) {
			t.Errorf("%s: the body holds a live URL", to)
		}
	}

	// The requester hears of the decision.
	e.act("approver@contoso.test", r, lockbox.EventApprove)
	if n := deliverDue(t, w); n != 1 {
		t.Fatalf("delivered %d after approval, want 1 (to the requester)", n)
	}
	msg := byRecipient(t, srv.received())["operator@provider.test"]
	if msg == nil || !strings.Contains(msg.Header.Get("Subject"), "was approved") {
		t.Fatalf("the requester got no approval email: %v", msg)
	}
}

func TestTemporaryFailureIsRetriedWithTheSameMessageID(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: t0}
	e := newEnv(t, clock)
	srv := newSMTPServer(t, "", "")
	srv.failData.Store(2) // both approvers' messages get 451 once
	w := mailWorker(t, e, clock, srv, nil)
	e.pending("Mailbox fails to load.")

	deliverDue(t, w)
	if got := srv.received(); len(got) != 0 {
		t.Fatalf("accepted %d messages during the 451s", len(got))
	}
	for _, m := range e.outbox(lockbox.OutboxQuery{}) {
		// Backoff after the first failure: 30s with jitter fixed at the middle (¾ of it).
		if m.Status != lockbox.OutboxPending || m.Attempts != 1 || !strings.Contains(m.LastError, "451") ||
			!m.NextAttemptAt.Equal(t0.Add(22500*time.Millisecond)) {
			t.Errorf("after 451: %s attempts %d next %v error %q", m.Status, m.Attempts, m.NextAttemptAt, m.LastError)
		}
	}
	if n := deliverDue(t, w); n != 0 {
		t.Errorf("%d attempts before the backoff ended", n)
	}
	clock.Advance(22500 * time.Millisecond)
	if n := deliverDue(t, w); n != 2 {
		t.Fatalf("retried %d, want 2", n)
	}
	got := byRecipient(t, srv.received())
	for _, m := range e.outbox(lockbox.OutboxQuery{}) {
		if m.Status != lockbox.OutboxDelivered || m.Attempts != 2 {
			t.Errorf("%s: %s after %d attempts", m.To, m.Status, m.Attempts)
		}
		if id := got[m.To].Header.Get("Message-Id"); id != "<"+m.ID+"@provider.test>" {
			t.Errorf("%s: Message-Id %q after a retry, want the outbox id %s", m.To, id, m.ID)
		}
	}
}

func TestRejectedRecipientIsDeadAndCounted(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: t0}
	e := newEnv(t, clock)
	srv := newSMTPServer(t, "", "")
	srv.rejectRcpt = "admin@contoso.test"
	reg := prometheus.NewRegistry()
	w := mailWorker(t, e, clock, srv, reg)
	e.pending("Mailbox fails to load.")
	deliverDue(t, w)
	for _, m := range e.outbox(lockbox.OutboxQuery{}) {
		want := lockbox.OutboxDelivered
		if m.To == "admin@contoso.test" {
			want = lockbox.OutboxDead
		}
		if m.Status != want || m.Attempts != 1 {
			t.Errorf("%s: %s after %d attempts (%s), want %s after 1", m.To, m.Status, m.Attempts, m.LastError, want)
		}
	}
	clock.Advance(time.Minute)
	metrics := scrape(t, reg)
	for _, want := range []string{
		`lockbox_outbox_attempts_total{channel="email"} 2`,
		`lockbox_outbox_failures_total{channel="email",kind="smtp_rejected"} 1`,
		`lockbox_outbox_delivered_total{channel="email"} 1`,
		`lockbox_outbox_dead_total{channel="email"} 1`,
		`lockbox_outbox_messages{channel="email",status="dead"} 1`,
		`lockbox_outbox_messages{channel="email",status="delivered"} 1`,
		`lockbox_outbox_messages{channel="email",status="pending"} 0`,
		`lockbox_outbox_oldest_pending_age_seconds{channel="email"} 0`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}
}

func TestMetricsOldestPendingAge(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: t0}
	e := newEnv(t, clock)
	reg := prometheus.NewRegistry()
	outbox.NewMetrics(reg, e.store, clock)
	e.pending("Mailbox fails to load.")
	clock.Advance(90 * time.Second)
	metrics := scrape(t, reg)
	for _, want := range []string{
		`lockbox_outbox_messages{channel="email",status="pending"} 2`,
		`lockbox_outbox_oldest_pending_age_seconds{channel="email"} 90`,
		`lockbox_outbox_scrape_error 0`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}
}

// scrape reads reg the way Prometheus does, in the text format.
func scrape(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}
