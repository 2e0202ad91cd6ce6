package mail

import (
	"bytes"
	"fmt"
	"hash/fnv"
	netmail "net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Every Lockbox email has one shape: a fixed set of headers and a
// multipart/alternative body of a text part and an HTML part, both
// quoted-printable. It is written here, in one pass into one buffer,
// rather than by go-mail's general message writer, which cost 75 µs an
// email (a quarter of it choosing headers and boundaries this shape never
// varies, half its byte-at-a-time quoted-printable writer): with about
// five emails a workflow, encoding was the largest part of a notification's
// CPU (docs/benchmarks.md, issue 16). go-mail still makes the SMTP
// conversation (smtp.go).

// Message encodes e as an RFC 5322 message (an .eml file, CRLF line ends)
// from from, an address with an optional display name: a text part and an
// HTML alternative, the stable Message-ID and Date of the notification,
// and headers that ask auto-responders to stay quiet.
func Message(e *Email, from string) ([]byte, error) {
	addr, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("from %q: %w", from, err)
	}
	return encode(e, addr.String())
}

// encode is Message with from already parsed and formatted
// (netmail.Address.String: a display name outside ASCII is RFC 2047
// encoded). Every header value is either a validated address or built by
// this package from Lockbox's own codes (headerValue), so no line break
// can reach a header.
func encode(e *Email, from string) ([]byte, error) {
	if !lockbox.ValidEmail(e.To) {
		return nil, fmt.Errorf("recipient %q is not an email address", e.To)
	}
	to := (&netmail.Address{Address: e.To}).String()
	id := headerValue(e.MessageID, 300)
	// The boundary begins "=_", which a quoted-printable part never
	// contains ('=' is always followed by two hex digits or a line break),
	// so it needs no randomness to stay out of the parts; the Message-ID's
	// hash makes it the message's own, and the same every time.
	h := fnv.New64a()
	h.Write([]byte(id))
	boundary := "=_lockbox_" + strconv.FormatUint(h.Sum64(), 36)
	b := bytes.NewBuffer(make([]byte, 0, 1024+len(e.Text)*11/10+len(e.HTML)*12/10))
	header(b, "From", from)
	header(b, "To", to)
	header(b, "Subject", headerValue(e.Subject, 200))
	header(b, "Date", e.Date.Format(time.RFC1123Z))
	header(b, "Message-ID", "<"+id+">")
	header(b, "MIME-Version", "1.0")
	header(b, "Auto-Submitted", "auto-generated")
	header(b, "X-Auto-Response-Suppress", "All")
	header(b, "X-Lockbox-Reference", headerValue(e.Reference, 32))
	header(b, "User-Agent", "Lockbox")
	header(b, "X-Mailer", "Lockbox")
	header(b, "Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	for _, p := range []struct{ ctype, body string }{{"text/plain", e.Text}, {"text/html", e.HTML}} {
		b.WriteString("--" + boundary + "\r\n")
		b.WriteString("Content-Type: " + p.ctype + "; charset=UTF-8\r\n")
		b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
		writeQP(b, p.body)
		b.WriteString("\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.Bytes(), nil
}

// header writes "name: value", folded at spaces where a line would pass
// 78 characters (RFC 5322 §2.2.3; unfolding removes the CRLF alone, so the
// value reads back unchanged).
func header(b *bytes.Buffer, name, value string) {
	b.WriteString(name)
	b.WriteByte(':')
	n := len(name) + 1
	for first := true; value != ""; first = false {
		word, rest, _ := strings.Cut(value, " ")
		if !first && n+1+len(word) > 78 {
			b.WriteString("\r\n")
			n = 0
		}
		b.WriteByte(' ')
		b.WriteString(word)
		n += 1 + len(word)
		value = rest
	}
	b.WriteString("\r\n")
}

// qpMax is the longest encoded line before its soft break ("="): 76 with
// it (RFC 2045 §6.7).
const qpMax = 75

// writeQP writes s quoted-printable (RFC 2045 §6.7): printable ASCII but
// '=' as it is, line feeds (and CR LF) as CRLF line breaks, every other
// byte as =XX, spaces and tabs as =20 and =09 only before a line break or
// at the end, and a soft break ("=" CRLF) before a line would pass 76
// characters. Runs that need no encoding are copied whole.
func writeQP(b *bytes.Buffer, s string) {
	const hex = "0123456789ABCDEF"
	n := 0 // characters on the current line
	for i := 0; i < len(s); {
		// A run of characters written as they are.
		j, end := i, min(len(s), i+qpMax-n)
		for j < end && (qpPrintable[s[j]] || qpLiteral(s, j)) {
			j++
		}
		if j > i {
			b.WriteString(s[i:j])
			n += j - i
			i = j
			if i == len(s) {
				break
			}
			if n == qpMax && !qpBreak(s, i) {
				b.WriteString("=\r\n")
				n = 0
			}
			continue
		}
		c := s[i]
		switch {
		case c == '\n':
			b.WriteString("\r\n")
			n, i = 0, i+1
			continue
		case c == '\r' && i+1 < len(s) && s[i+1] == '\n':
			b.WriteString("\r\n")
			n, i = 0, i+2
			continue
		}
		if n+3 > qpMax {
			b.WriteString("=\r\n")
			n = 0
		}
		b.WriteByte('=')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
		n += 3
		i++
	}
}

// qpLiteral says whether s[i] may be written as it is: printable ASCII
// but '=', or a space or tab that a line break or the end does not follow
// (trailing white space may be dropped in transport).
func qpLiteral(s string, i int) bool {
	c := s[i]
	return qpPrintable[c] || (c == ' ' || c == '\t') && i+1 < len(s) && s[i+1] != '\n' && s[i+1] != '\r'
}

// qpPrintable holds the bytes written as they are wherever they stand:
// '!' to '~' but '='.
var qpPrintable = func() (t [256]bool) {
	for c := '!'; c <= '~'; c++ {
		t[c] = c != '='
	}
	return t
}()

// qpBreak says whether a line break starts at s[i].
func qpBreak(s string, i int) bool {
	return s[i] == '\n' || s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n'
}
