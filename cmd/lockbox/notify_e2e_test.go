package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	netmail "net/mail"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/client"
)

// mailSink is a real SMTP server on 127.0.0.1:0 keeping what it accepts.
type mailSink struct {
	mu   sync.Mutex
	msgs []*netmail.Message
}

func (s *mailSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s}, nil }

type sinkSession struct{ s *mailSink }

func (ss *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (ss *sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (ss *sinkSession) Reset()                               {}
func (ss *sinkSession) Logout() error                        { return nil }
func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := netmail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	ss.s.msgs = append(ss.s.msgs, m)
	return nil
}

func (s *mailSink) messageIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.msgs {
		out = append(out, m.Header.Get("Message-Id"))
	}
	return out
}

// hookSink is a webhook receiver that keeps what it receives.
type hookSink struct {
	mu    sync.Mutex
	calls []hookCall
}

type hookCall struct {
	header http.Header
	body   []byte
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.calls = append(h.calls, hookCall{r.Header.Clone(), b})
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookSink) received() []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookCall(nil), h.calls...)
}

// eventually polls cond for up to 10 seconds (the worker polls every second).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestEndToEndNotifications runs a dev server that also sends over SMTP,
// registers a webhook through the CLI, and follows a request: the
// approvers' emails arrive over SMTP and in the dev mailbox with the same
// Message-IDs, and the webhook arrives signed per Standard Webhooks.
func TestEndToEndNotifications(t *testing.T) {
	t.Parallel()
	sink := &mailSink{}
	smtpSrv := smtp.NewServer(sink)
	smtpSrv.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go smtpSrv.Serve(ln)
	t.Cleanup(func() { smtpSrv.Close() })
	hooks := &hookSink{}
	receiver := httptest.NewServer(hooks)
	t.Cleanup(receiver.Close)

	ctx := context.Background()
	dataDir := t.TempDir()
	rs, err := startServer(ctx, serverConfig{Listen: "127.0.0.1:0", Dev: true, WorkerPoll: 50 * time.Millisecond,
		Database: filepath.Join(dataDir, "lockbox.db"), PasswordMemoryKiB: 64,
		Notify: notifyConfig{SMTPURL: "smtp://127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) + "?starttls=false",
			MailFrom: "Lockbox <lockbox@provider.test>", AllowPrivateWebhooks: true}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := rs.Close(ctx); err != nil {
			t.Errorf("graceful shutdown: %v", err)
		}
	})
	srv := &e2e{t: t, url: rs.URL()}
	op, mgr, approver := srv.as("operator@provider.test"), srv.as("manager@provider.test"), srv.as("approver@contoso.test")

	var hook lockbox.Webhook
	out := approver.mustRun("webhooks", "create", "--tenant", "contoso", "--url", receiver.URL+"/lockbox",
		"--event", "request.pending", "--description", "SIEM", "-o", "json")
	if err := json.Unmarshal([]byte(out), &hook); err != nil || !strings.HasPrefix(hook.Secret, "whsec_") {
		t.Fatalf("webhooks create: %v\n%s", err, out)
	}
	if list := approver.mustRun("webhooks", "list", "--tenant", "contoso"); !strings.Contains(list, hook.ID) || strings.Contains(list, hook.Secret) {
		t.Errorf("webhooks list:\n%s", list)
	}
	// Shown once, and never in clear in the database (deliveries below
	// are signed with it all the same).
	wantNotInFiles(t, dataDir, strings.TrimPrefix(hook.Secret, "whsec_"))
	op.wantFail(1, "", "webhooks", "list", "--tenant", "contoso")

	r := op.request("requests", "create", "--tenant", "contoso", "--service", "exchange",
		"--service-request", "SR-2026-004211", "--reason", "See https://kb.provider.test/42",
		"--duration", "1h", "--operation", "Get-MailboxStatistics")
	mgr.request("requests", "review", r.Reference, "--approve")

	eventually(t, "two approver emails over SMTP", func() bool { return len(sink.messageIDs()) == 2 })
	eventually(t, "the webhook", func() bool { return len(hooks.received()) == 1 })

	call := hooks.received()[0]
	wh, err := standardwebhooks.NewWebhook(hook.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(call.body, call.header); err != nil {
		t.Errorf("the delivery does not verify: %v", err)
	}
	var n lockbox.Notice
	if err := json.Unmarshal(call.body, &n); err != nil || n.Type != "request.pending" || n.Data.Request.Reference != r.Reference {
		t.Errorf("webhook body %s: %v", call.body, err)
	}

	devMail, err := client.New(srv.url, devToken(t, approver)).ListMail(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range devMail {
		got[m.MessageID] = true
		if !strings.Contains(m.Text, "hxxps://kb[.]provider[.]test/42") || strings.Contains(m.Text+m.HTML, "https://") {
			t.Errorf("dev mail %s: the reason's URL is not defanged:\n%s", m.MessageID, m.Text)
		}
	}
	for _, id := range sink.messageIDs() {
		if !got[id] {
			t.Errorf("SMTP got %s, which the dev mailbox does not show (it has %v)", id, got)
		}
	}

	// A rotation with a grace: the next delivery verifies with either
	// secret, and the new one is not in the database files either; one
	// with no grace: the old secret no longer verifies.
	pending := func(n int) hookCall {
		t.Helper()
		r := op.request("requests", "create", "--tenant", "contoso", "--service", "exchange",
			"--service-request", "SR-2026-00421"+strconv.Itoa(n), "--reason", "Mailbox fails to load.",
			"--duration", "1h", "--operation", "Get-MailboxStatistics")
		mgr.request("requests", "review", r.Reference, "--approve")
		eventually(t, "the webhook", func() bool { return len(hooks.received()) == n })
		return hooks.received()[n-1]
	}
	verifies := func(secret string, call hookCall) bool {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		return wh.Verify(call.body, call.header) == nil
	}
	var rotated lockbox.Webhook
	out = approver.mustRun("webhooks", "rotate-secret", hook.ID, "--tenant", "contoso", "--grace", "1h", "-o", "json")
	if err := json.Unmarshal([]byte(out), &rotated); err != nil || !strings.HasPrefix(rotated.Secret, "whsec_") ||
		rotated.Secret == hook.Secret || rotated.PreviousSecretExpiresAt == nil {
		t.Fatalf("webhooks rotate-secret: %v\n%s", err, out)
	}
	wantNotInFiles(t, dataDir, strings.TrimPrefix(rotated.Secret, "whsec_"))
	if list := approver.mustRun("webhooks", "list", "--tenant", "contoso"); !strings.Contains(list, "OLD SECRET SIGNS UNTIL") ||
		!strings.Contains(list, "WAITING SINCE") ||
		!strings.Contains(list, rotated.PreviousSecretExpiresAt.UTC().Format(time.RFC3339)) || strings.Contains(list, rotated.Secret) {
		t.Errorf("webhooks list during the grace:\n%s", list)
	}
	if call := pending(2); !verifies(hook.Secret, call) || !verifies(rotated.Secret, call) {
		t.Errorf("during the grace a delivery must verify with both secrets (old: %v, new: %v)",
			verifies(hook.Secret, call), verifies(rotated.Secret, call))
	}
	out = approver.mustRun("webhooks", "rotate-secret", hook.ID, "--tenant", "contoso")
	if !strings.Contains(out, "The old secret no longer signs deliveries.") {
		t.Errorf("webhooks rotate-secret without --grace:\n%s", out)
	}
	newest := strings.TrimSpace(strings.SplitN(strings.SplitN(out, "store it with the receiver):", 2)[1], "\n\n", 3)[1])
	if call := pending(3); verifies(rotated.Secret, call) || !verifies(newest, call) {
		t.Errorf("after a rotation with no grace: the old secret verifies %v, the new one %v; want false, true",
			verifies(rotated.Secret, call), verifies(newest, call))
	}
	// The endpoint's admins see its three deliveries, each delivered, by
	// the webhook-id its receiver got.
	eventually(t, "three deliveries recorded as delivered", func() bool {
		var list []lockbox.WebhookDelivery
		out := approver.mustRun("webhooks", "deliveries", hook.ID, "--tenant", "contoso", "-o", "json")
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("webhooks deliveries: %v\n%s", err, out)
		}
		for i, d := range list {
			if d.Status != lockbox.OutboxDelivered || d.Type != "request.pending" || d.ID != hooks.received()[len(list)-1-i].header.Get("webhook-id") {
				return false
			}
		}
		return len(list) == 3
	})
	if out := approver.mustRun("webhooks", "deliveries", hook.ID, "--tenant", "contoso"); !strings.Contains(out, "LAST ERROR") ||
		strings.Count(out, "delivered") != 3 {
		t.Errorf("webhooks deliveries:\n%s", out)
	}
	op.wantFail(1, "", "webhooks", "deliveries", hook.ID, "--tenant", "contoso")

	// The first delivery, sent again: same webhook-id, signed afresh with
	// today's secret.
	firstID := hooks.received()[0].header.Get("webhook-id")
	if out := approver.mustRun("webhooks", "resend", hook.ID, firstID, "--tenant", "contoso"); !strings.Contains(out, "sent again") {
		t.Errorf("webhooks resend:\n%s", out)
	}
	eventually(t, "the resent delivery", func() bool { return len(hooks.received()) == 4 })
	if again := hooks.received()[3]; again.header.Get("webhook-id") != firstID || !verifies(newest, again) {
		t.Errorf("the resent delivery: webhook-id %q (want %q), verifies with the newest secret: %v",
			again.header.Get("webhook-id"), firstID, verifies(newest, again))
	}
	op.wantFail(1, "", "webhooks", "resend", hook.ID, firstID, "--tenant", "contoso")
	// The list says when it was resent: its retries count from then.
	if out := approver.mustRun("webhooks", "deliveries", hook.ID, "--tenant", "contoso"); !strings.Contains(out, "RESENT") {
		t.Errorf("webhooks deliveries has no RESENT column:\n%s", out)
	}
	eventually(t, "the resent delivery listed with resent_at", func() bool {
		var list []lockbox.WebhookDelivery
		if err := json.Unmarshal([]byte(approver.mustRun("webhooks", "deliveries", hook.ID, "--tenant", "contoso", "-o", "json")), &list); err != nil {
			t.Fatal(err)
		}
		resent := 0
		for _, d := range list {
			if d.ResentAt != nil {
				resent++
				if d.ID != firstID {
					t.Fatalf("%s listed as resent, want only %s", d.ID, firstID)
				}
			}
		}
		return resent == 1
	})

	// A test delivery, although the endpoint subscribed to request.pending
	// only.
	if out := approver.mustRun("webhooks", "test", hook.ID, "--tenant", "contoso"); !strings.Contains(out, "webhook.test") {
		t.Errorf("webhooks test:\n%s", out)
	}
	eventually(t, "the test delivery", func() bool { return len(hooks.received()) == 5 })
	var test lockbox.Notice
	if call := hooks.received()[4]; json.Unmarshal(call.body, &test) != nil || test.Type != "webhook.test" || !verifies(newest, call) {
		t.Errorf("the test delivery: %s", call.body)
	}
	approver.wantFail(1, "grace period must be between 0 and 24h", "webhooks", "rotate-secret", hook.ID, "--tenant", "contoso", "--grace", "25h")
	op.wantFail(1, "", "webhooks", "rotate-secret", hook.ID, "--tenant", "contoso")

	// Changed in place: the description and events; the URL stays.
	if out := approver.mustRun("webhooks", "update", hook.ID, "--tenant", "contoso", "--description", "SIEM, all request events",
		"--event", "request.pending", "--event", "request.approved"); !strings.Contains(out, "request.pending, request.approved") {
		t.Errorf("webhooks update:\n%s", out)
	}
	if list := approver.mustRun("webhooks", "list", "--tenant", "contoso"); !strings.Contains(list, "SIEM, all request events") {
		t.Errorf("webhooks list after the update:\n%s", list)
	}
	approver.wantFail(1, "Nothing to change", "webhooks", "update", hook.ID, "--tenant", "contoso")
	approver.wantFail(1, "url must use https", "webhooks", "update", hook.ID, "--tenant", "contoso", "--url", "ftp://x.example.com/")

	approver.mustRun("webhooks", "delete", hook.ID, "--tenant", "contoso")
	approver.wantFail(1, "not found", "webhooks", "delete", hook.ID, "--tenant", "contoso")
}

// devToken is the saved session token of a CLI user.
func devToken(t *testing.T, u *e2e) string {
	t.Helper()
	creds, err := loadCredentials(u.config)
	if err != nil || creds == nil {
		t.Fatalf("credentials: %v", err)
	}
	return creds.Token
}
