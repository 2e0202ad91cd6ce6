package mail

import (
	"bytes"
	"io"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"testing"
	"time"
)

func TestWriteQP(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 80)
	for _, c := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"a=b", "a=3Db"},
		{"line one\nline two", "line one\r\nline two"},
		{"crlf\r\nkept", "crlf\r\nkept"},
		{"lone\rcr", "lone=0Dcr"},
		{"trailing space \nnext", "trailing space=20\r\nnext"},
		{"trailing tab\t", "trailing tab=09"},
		{"two  spaces", "two  spaces"},
		{"é", "=C3=A9"},
		{long, long[:75] + "=\r\n" + long[75:]},
		{long[:75] + "\nx", long[:75] + "\r\nx"}, // no soft break before a hard one
		{long[:74] + "=", long[:74] + "=\r\n=3D"},
		{long[:72] + " \n", long[:72] + "=20\r\n"},
		{long[:73] + " \n", long[:73] + "=\r\n=20\r\n"}, // =20 would pass 75 before the break
		{"", ""},
	} {
		var b bytes.Buffer
		writeQP(&b, c.in)
		if got := b.String(); got != c.want {
			t.Errorf("writeQP(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

// FuzzWriteQP: whatever the text, the encoding is lines of at most 76
// printable ASCII characters (spaces and tabs never last), and Go's own
// quoted-printable reader gives the text back.
func FuzzWriteQP(f *testing.F) {
	for _, s := range []string{"", "a=b c\n", strings.Repeat("ab \t", 40), "\r\r\n\n\r", "日本語のテキスト。" + strings.Repeat("=", 30), strings.Repeat("x", 75) + "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b bytes.Buffer
		writeQP(&b, s)
		enc := b.String()
		for _, line := range strings.Split(enc, "\r\n") {
			if len(line) > 76 {
				t.Fatalf("line of %d characters: %q", len(line), line)
			}
			if strings.HasSuffix(line, " ") || strings.HasSuffix(line, "\t") {
				t.Fatalf("line ends in white space: %q", line)
			}
			for i := 0; i < len(line); i++ {
				if c := line[i]; (c < ' ' || c > '~') && c != '\t' {
					t.Fatalf("byte %#x in %q", c, line)
				}
			}
		}
		dec, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(enc)))
		if err != nil {
			t.Fatalf("decode %q: %v", enc, err)
		}
		if got, want := strings.ReplaceAll(string(dec), "\r\n", "\n"), strings.ReplaceAll(s, "\r\n", "\n"); got != want {
			t.Fatalf("decoded %q, want %q (encoded %q)", got, want, enc)
		}
	})
}

// TestEncodeHeaders: a long subject is folded and reads back whole, the
// From display name is encoded, and the boundary is the message's own.
func TestEncodeHeaders(t *testing.T) {
	t.Parallel()
	subject := strings.Repeat("word ", 39) + "end"
	e := &Email{To: "approver@contoso.test", Subject: subject, MessageID: "m-1@provider.test",
		Date: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC), Reference: "LB-7K3Q9MXA", Text: "t", HTML: "<p>h</p>"}
	raw, err := Message(e, "Lockbox Ä <lockbox@provider.test>")
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n") {
		if len(line) > 78 {
			t.Errorf("header line of %d characters: %q", len(line), line)
		}
	}
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get("Subject"); got != subject {
		t.Errorf("Subject = %q, want %q", got, subject)
	}
	from, err := m.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Lockbox Ä" || from[0].Address != "lockbox@provider.test" {
		t.Errorf("From = %v (%v)", from, err)
	}
	other := *e
	other.MessageID = "m-2@provider.test"
	raw2, err := Message(&other, "lockbox@provider.test")
	if err != nil {
		t.Fatal(err)
	}
	b1, b2 := boundaryOf(t, raw), boundaryOf(t, raw2)
	if b1 == b2 || !strings.HasPrefix(b1, "=_") {
		t.Errorf("boundaries %q and %q: want each message its own, beginning =_", b1, b2)
	}
	again, _ := Message(e, "Lockbox Ä <lockbox@provider.test>")
	if !bytes.Equal(raw, again) {
		t.Error("the same email encoded twice differs")
	}
	e.To = "not an address\r\nBcc: x@y.z"
	if _, err := Message(e, "lockbox@provider.test"); err == nil {
		t.Error("a recipient with a line break was encoded")
	}
}

func boundaryOf(t *testing.T, raw []byte) string {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, b, ok := strings.Cut(m.Header.Get("Content-Type"), `boundary="`)
	if !ok {
		t.Fatalf("no boundary in %q", m.Header.Get("Content-Type"))
	}
	return strings.TrimSuffix(b, `"`)
}

// BenchmarkEncode is the encoding of one rendered email alone.
func BenchmarkEncode(b *testing.B) {
	e := &Email{To: "approver@contoso.test", Subject: "[Lockbox] Access request LB-7K3Q9MXA needs your decision (contoso)",
		MessageID: "m-1@provider.test", Date: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC), Reference: "LB-7K3Q9MXA",
		Text: strings.Repeat("A provider support engineer asks for access to your organization's content.\n", 20),
		HTML: strings.Repeat(`<p style="font-family: Segoe UI, Helvetica">A provider support engineer asks for access.</p>`+"\n", 25)}
	b.SetBytes(int64(len(e.Text) + len(e.HTML)))
	for b.Loop() {
		if _, err := encode(e, "lockbox@provider.test"); err != nil {
			b.Fatal(err)
		}
	}
}
