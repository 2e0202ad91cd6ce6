// Package mail delivers Lockbox's email notifications (SPEC §5): it renders
// an outbox message into a text and HTML email without a single link,
// encodes it (mime.go), sends it over SMTP with github.com/wneessen/go-mail's
// client, classifies failures as temporary (retry) or permanent (dead),
// and, in --dev mode, captures every message in a DevMailbox.
//
// It imports the root lockbox package, go-mail and the standard library. It
// does not import the other adapters: the delivery worker (package outbox)
// calls it through its Deliver method.
package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"

	"github.com/lockboxhq/lockbox"
)

// Sender delivers email outbox messages: captured in Capture when set (dev
// mode), and sent over SMTP when set.
type Sender struct {
	from    string // the From header, as configured
	sender  string // its address alone: the envelope sender
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
	return &Sender{from: addr.String(), sender: addr.Address, domain: domain, smtp: smtp, capture: capture}, nil
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
	msg, err := encode(e, s.from)
	if err != nil {
		return &lockbox.DeliveryError{Kind: "address", Permanent: true, Err: err}
	}
	if s.capture != nil {
		s.capture.add(m.ID, e, msg)
	}
	if s.smtp == nil {
		return nil
	}
	return s.smtp.Send(ctx, s.sender, e.To, msg)
}
