package mail

import (
	"context"
	"slices"
	"sync"

	"github.com/lockboxhq/lockbox"
)

var _ lockbox.DevMailbox = (*DevMailbox)(nil)

// DevMailbox keeps the mail a --dev server delivered, in memory (dev
// databases are throwaway too), at most max messages: the oldest go first.
// A retried message replaces its earlier capture (same outbox id), so the
// box shows each notification once. It is safe for concurrent use.
type DevMailbox struct {
	mu   sync.Mutex
	max  int
	msgs []*captured          // oldest first
	byID map[string]*captured // the same, by outbox id
}

type captured struct {
	mail *lockbox.DevMail
	eml  []byte
}

// NewDevMailbox returns an empty mailbox holding at most max messages.
func NewDevMailbox(max int) *DevMailbox {
	return &DevMailbox{max: max, byID: map[string]*captured{}}
}

// add captures eml, the message encoded from e, as outbox message id.
// The retry of a captured message is found by its id, not by a scan: a
// benchmark's box is full (a scan of it was a sixth of a delivery's CPU).
func (b *DevMailbox) add(id string, e *Email, eml []byte) {
	c := captured{eml: eml, mail: &lockbox.DevMail{ID: id, To: []string{e.To}, Subject: e.Subject,
		MessageID: "<" + e.MessageID + ">", Date: e.Date, Text: e.Text, HTML: e.HTML}}
	b.mu.Lock()
	defer b.mu.Unlock()
	if old := b.byID[id]; old != nil {
		*old = c
		return
	}
	b.msgs = append(b.msgs, &c)
	b.byID[id] = &c
	if n := len(b.msgs) - b.max; n > 0 {
		for _, m := range b.msgs[:n] {
			delete(b.byID, m.mail.ID)
		}
		b.msgs = slices.Delete(b.msgs, 0, n)
	}
}

// ListMail returns the captured mail, newest first.
func (b *DevMailbox) ListMail(context.Context) ([]*lockbox.DevMail, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*lockbox.DevMail, 0, len(b.msgs))
	for i := len(b.msgs) - 1; i >= 0; i-- {
		m := *b.msgs[i].mail
		m.To = slices.Clone(m.To)
		out = append(out, &m)
	}
	return out, nil
}

// MailEML returns one captured message as sent; ENOTFOUND when unknown.
func (b *DevMailbox) MailEML(_ context.Context, id string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if m := b.byID[id]; m != nil {
		return slices.Clone(m.eml), nil
	}
	return nil, lockbox.Errorf(lockbox.ENOTFOUND, "No captured mail with id %q.", id)
}
