package mail_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/mail"
)

// TestSenderRendersEachRecipient: a notice to several recipients shares one
// payload (and the sender renders it once); each delivered email still has
// its own recipient and Message-ID and the body Render gives, and another
// notice between them gets its own body.
func TestSenderRendersEachRecipient(t *testing.T) {
	t.Parallel()
	box := mail.NewDevMailbox(100)
	sender, err := mail.NewSender("Lockbox <lockbox@provider.test>", nil, box)
	if err != nil {
		t.Fatal(err)
	}
	r := sampleRequest()
	pending := pendingNotice(r)
	approved := r.Clone()
	approved.Status = lockbox.StatusApproved
	other := lockbox.Notice{Type: lockbox.NoticeApproved, Timestamp: t0, Data: lockbox.NoticeData{Tenant: r.Tenant,
		TenantName: "Contoso Ltd", Actor: "approver@contoso.test", Request: approved}}
	var msgs []*lockbox.OutboxMessage
	for i, to := range []string{"a@contoso.test", "b@contoso.test", "", "c@contoso.test"} {
		if to == "" {
			msgs = append(msgs, outboxEmail(t, "other-1", "operator@provider.test", other))
			continue
		}
		msgs = append(msgs, outboxEmail(t, fmt.Sprintf("pending-%d", i), to, pending))
	}
	for _, m := range msgs {
		if err := sender.Deliver(context.Background(), m); err != nil {
			t.Fatalf("deliver %s: %v", m.ID, err)
		}
	}
	got, err := box.ListMail(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*lockbox.DevMail{}
	for _, m := range got {
		byID[m.ID] = m
	}
	for _, m := range msgs {
		want, err := mail.Render(m, "provider.test")
		if err != nil {
			t.Fatal(err)
		}
		d := byID[m.ID]
		if d == nil {
			t.Fatalf("%s not delivered", m.ID)
		}
		if len(d.To) != 1 || d.To[0] != m.To || d.MessageID != "<"+m.ID+"@provider.test>" ||
			d.Subject != want.Subject || d.Text != want.Text || d.HTML != want.HTML {
			t.Errorf("%s delivered to %v as %s %q; want to %s as <%s@provider.test> %q, and Render's body",
				m.ID, d.To, d.MessageID, d.Subject, m.To, m.ID, want.Subject)
		}
	}
	if byID["pending-0"].Subject == byID["other-1"].Subject {
		t.Errorf("two notices delivered with one subject %q", byID["other-1"].Subject)
	}
	bad := &lockbox.OutboxMessage{ID: "bad-1", To: "a@contoso.test", Payload: []byte("{")}
	if err := sender.Deliver(context.Background(), bad); err == nil {
		t.Error("an unreadable payload was delivered")
	}
}
