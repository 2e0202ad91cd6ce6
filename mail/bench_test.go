package mail_test

import (
	"testing"

	"github.com/lockboxhq/lockbox/mail"
)

// BenchmarkRenderAndEncode is the CPU cost of one email: render both parts
// (defanging included) and encode the MIME message.
func BenchmarkRenderAndEncode(b *testing.B) {
	m := outboxEmail(b, "0193f4c2-0000-7000-8000-000000000001", "approver@contoso.test", pendingNotice(sampleRequest()))
	for b.Loop() {
		e, err := mail.Render(m, "provider.test")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := mail.Message(e, "lockbox@provider.test"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRender is rendering alone: decode the notice and write both
// parts, once per notice whatever its number of recipients (bodyCache).
func BenchmarkRender(b *testing.B) {
	m := outboxEmail(b, "0193f4c2-0000-7000-8000-000000000001", "approver@contoso.test", pendingNotice(sampleRequest()))
	b.SetBytes(int64(len(m.Payload)))
	for b.Loop() {
		if _, err := mail.Render(m, "provider.test"); err != nil {
			b.Fatal(err)
		}
	}
}
