// Package mail delivers Lockbox's email notifications (SPEC §5): it renders
// an outbox message into a text and HTML email without a single link,
// sends it over SMTP with github.com/wneessen/go-mail, classifies failures
// as temporary (retry) or permanent (dead), and, in --dev mode, captures
// every message in a DevMailbox.
//
// It imports the root lockbox package, go-mail and the standard library. It
// does not import the other adapters: the delivery worker (package outbox)
// calls it through its Deliver method.
package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"

	gomail "github.com/wneessen/go-mail"

	"github.com/lockboxhq/lockbox"
)

// Sender delivers email outbox messages: captured in Capture when set (dev
// mode), and sent over SMTP when set.
type Sender struct {
	from    string // the From address, as configured
	domain  string // of From: the right-hand side of every Message-ID
	smtp    *SMTP
	capture *DevMailbox
	bodies  bodyCache
}

// NewSender returns a Sender from from (LOCKBOX_MAIL_FROM, an address with
// an optional display name). smtp or capture may be nil, not both.
func NewSender(from string, smtp *SMTP, capture *DevMailbox) (*Sender, error) {
	addr, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail from address %q: %w", from, err)
	}
	if smtp == nil && capture == nil {
		return nil, errors.New("mail: a sender needs an SMTP server or a dev mailbox")
	}
	_, domain, _ := strings.Cut(addr.Address, "@")
	return &Sender{from: addr.String(), domain: domain, smtp: smtp, capture: capture}, nil
}

// Deliver renders and sends one email outbox message. Failures are
// *lockbox.DeliveryError: permanent when the message can never be sent
// (it does not render, or the server rejected the recipient), temporary
// otherwise (the server is down or answered 4xx).
func (s *Sender) Deliver(ctx context.Context, m *lockbox.OutboxMessage) error {
	e, err := renderWith(m, s.domain, s.bodies.get)
	if err != nil {
		return &lockbox.DeliveryError{Kind: "render", Permanent: true, Err: err}
	}
	msg, err := Message(e, s.from)
	if err != nil {
		return &lockbox.DeliveryError{Kind: "address", Permanent: true, Err: err}
	}
	if s.capture != nil {
		if err := s.capture.add(m.ID, e, msg); err != nil {
			return &lockbox.DeliveryError{Kind: "capture", Err: err}
		}
	}
	if s.smtp == nil {
		return nil
	}
	return s.smtp.Send(ctx, msg)
}

// Message encodes e as a MIME message from from: a text part and an HTML
// alternative, the stable Message-ID and Date of the notification, and
// headers that ask auto-responders to stay quiet. Every header value is
// either a validated address or built by this package from Lockbox's own
// codes, with line breaks impossible.
func Message(e *Email, from string) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := m.From(from); err != nil {
		return nil, fmt.Errorf("from %q: %w", from, err)
	}
	if !lockbox.ValidEmail(e.To) {
		return nil, fmt.Errorf("recipient %q is not an email address", e.To)
	}
	if err := m.To(e.To); err != nil {
		return nil, fmt.Errorf("recipient %q: %w", e.To, err)
	}
	m.Subject(headerValue(e.Subject, 200))
	m.SetMessageIDWithValue(headerValue(e.MessageID, 300))
	m.SetDateWithValue(e.Date)
	m.SetUserAgent("Lockbox")
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader("X-Auto-Response-Suppress", "All")
	m.SetGenHeader("X-Lockbox-Reference", headerValue(e.Reference, 32))
	m.SetBodyString(gomail.TypeTextPlain, e.Text)
	m.AddAlternativeString(gomail.TypeTextHTML, e.HTML)
	return m, nil
}

// EML returns msg as RFC 5322 bytes (an .eml file).
func EML(msg *gomail.Msg) ([]byte, error) {
	var b bytes.Buffer
	if _, err := msg.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
