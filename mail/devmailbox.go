package mail

import (
	"context"
	"slices"
	"sync"

	gomail "github.com/wneessen/go-mail"

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
	msgs []*captured // oldest first
}

type captured struct {
	mail *lockbox.DevMail
	eml  []byte
}

// NewDevMailbox returns an empty mailbox holding at most max messages.
func NewDevMailbox(max int) *DevMailbox { return &DevMailbox{max: max} }

func (b *DevMailbox) add(id string, e *Email, msg *gomail.Msg) error {
	eml, err := EML(msg)
	if err != nil {
		return err
	}
	c := &captured{eml: eml, mail: &lockbox.DevMail{ID: id, To: []string{e.To}, Subject: e.Subject,
		MessageID: "<" + e.MessageID + ">", Date: e.Date, Text: e.Text, HTML: e.HTML}}
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := slices.IndexFunc(b.msgs, func(m *captured) bool { return m.mail.ID == id }); i >= 0 {
		b.msgs[i] = c
		return nil
	}
	b.msgs = append(b.msgs, c)
	if len(b.msgs) > b.max {
		b.msgs = slices.Delete(b.msgs, 0, len(b.msgs)-b.max)
	}
	return nil
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
	for _, m := range b.msgs {
		if m.mail.ID == id {
			return slices.Clone(m.eml), nil
		}
	}
	return nil, lockbox.Errorf(lockbox.ENOTFOUND, "No captured mail with id %q.", id)
}
