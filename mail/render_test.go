package mail_test

import (
	"bytes"
	"encoding/json"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/mail"
)

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// sampleRequest is a request as the approvers' email describes it.
func sampleRequest() *lockbox.AccessRequest {
	reviewed := t0.Add(5 * time.Minute)
	return &lockbox.AccessRequest{
		ID: "0193f4c2-8a1e-7c3b-9d2f-5b7a1c9e4d10", Reference: "LB-7K3Q9MXA", Tenant: "contoso",
		Service: "exchange", ServiceRequest: "SR-2026-004211",
		Reason:     "Mailbox of a user fails to load; need to inspect folder statistics.",
		Operations: []string{"Get-MailboxStatistics", "Repair-Mailbox"}, DurationMinutes: 120,
		Status: lockbox.StatusPending, RequestedBy: "operator@provider.test", CreatedAt: t0,
		ExpiresAt: reviewed.Add(12 * time.Hour), ReviewedAt: &reviewed, Version: 2,
	}
}

// outboxEmail wraps a notice into the outbox message the worker delivers.
func outboxEmail(t testing.TB, id, to string, n lockbox.Notice) *lockbox.OutboxMessage {
	t.Helper()
	payload, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return &lockbox.OutboxMessage{ID: id, Channel: lockbox.ChannelEmail, Tenant: n.Data.Tenant, Type: n.Type,
		To: to, Payload: payload, Status: lockbox.OutboxPending, CreatedAt: t0, NextAttemptAt: t0}
}

func pendingNotice(r *lockbox.AccessRequest) lockbox.Notice {
	return lockbox.Notice{Type: lockbox.NoticePending, Timestamp: t0,
		Data: lockbox.NoticeData{Tenant: r.Tenant, TenantName: "Contoso Ltd", Actor: "manager@provider.test", Request: r}}
}

// Link detectors, stricter than any mail client's autolinker: a scheme
// (other than the defanged hxxp/fxxp), a dot joining a word to a letter
// (every domain name), a dotted quad, or an HTML construct that links,
// loads or submits.
var (
	schemeRE     = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.\-]*:(//|\\\\)`)
	bareSchemeRE = regexp.MustCompile(`(?i)\b(mailto|javascript|vbscript|file|tel|sms|callto):`)
	domainRE     = regexp.MustCompile(`[\p{L}\p{N}\p{M}_-][.。．｡\x{2024}\x{FE52}]\p{L}`)
	quadRE       = regexp.MustCompile(`\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}`)
	uncRE        = regexp.MustCompile(`\\\\`)
	// In raw HTML (user text is escaped, so its "<" is "&lt;"): an element
	// or attribute that links, loads or submits, or CSS that loads.
	htmlTagRE   = regexp.MustCompile(`(?i)<(a|img|form|base|link|script|iframe|frame|object|embed|video|audio|source|area|svg|math)\b|<meta[^>]*(http-equiv|url)`)
	htmlAttrRE  = regexp.MustCompile(`(?i)<[^>]*\s(href|src|srcset|action|formaction|background|poster|xlink:href|ping)\s*=`)
	htmlStyleRE = regexp.MustCompile(`(?i)<style|style\s*=\s*"[^"]*(url\s*\(|@import|expression)`)
)

// htmlLinkIn returns the first linking construct of raw HTML, or "".
func htmlLinkIn(s string) string {
	for _, re := range []*regexp.Regexp{htmlTagRE, htmlAttrRE, htmlStyleRE} {
		if m := re.FindString(s); m != "" {
			return m
		}
	}
	return linkIn(s)
}

// linkIn returns the first link-like substring of s, or "".
func linkIn(s string) string {
	for _, m := range schemeRE.FindAllString(s, -1) {
		if l := strings.ToLower(m); !strings.HasPrefix(l, "hxxp") && !strings.HasPrefix(l, "fxxp") {
			return m
		}
	}
	for _, re := range []*regexp.Regexp{bareSchemeRE, domainRE, quadRE, uncRE} {
		if m := re.FindString(s); m != "" {
			return m
		}
	}
	return ""
}

func TestDefang(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"HTTPS", "see https://evil.example.com/x", "see hxxps://evil[.]example[.]com/x"},
		{"HTTPUpper", "HTTP://EXAMPLE.COM", "hxxP://EXAMPLE[.]COM"},
		{"FTP", "ftp://files.example.org", "fxxp://files[.]example[.]org"},
		{"OtherScheme", "ssh://host.example", "ssh[:]//host[.]example"},
		{"Mailto", "mailto:someone@example.com", "mailto[:]someone@example[.]com"},
		{"Javascript", "javascript:alert(1)", "javascript[:]alert(1)"},
		{"BareDomain", "go to www.example.com now.", "go to www[.]example[.]com now."},
		{"Address", "ask bob@contoso.com", "ask bob@contoso[.]com"},
		{"IPv4", "host 10.0.0.1 down", "host 10[.]0[.]0[.]1 down"},
		{"Numbers", "version 2.5 and 1.000 items.", "version 2.5 and 1.000 items."},
		{"SentenceEnd", "It fails. Then", "It fails. Then"},
		{"IDN", "пример.рф", "пример[.]рф"},
		{"IdeographicDot", "example。com", "example[.]com"},
		{"FullwidthDot", "example．com", "example[.]com"},
		{"Fullwidth", "ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ", "hxxps://example[.]com"},
		{"ZeroWidth", "exa\u200bmple.c\u200dom", "example[.]com"},
		{"Bidi", "\u202eexample.com", "example[.]com"},
		{"UNC", `\\fileserver\share`, `\ \fileserver\share`},
		{"ControlChars", "a\x00b\x1bc\r\nd\re", "abc\nd\ne"},
		{"KeepsNewlinesAndTabs", "line1\n\tline2", "line1\n\tline2"},
		{"InvalidUTF8", "bad\xffbyte", "bad\uFFFDbyte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mail.Defang(tt.in)
			if got != tt.want {
				t.Errorf("Defang(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if l := linkIn(got); l != "" {
				t.Errorf("Defang(%q) = %q still holds %q", tt.in, got, l)
			}
			if again := mail.Defang(got); again != got {
				t.Errorf("Defang is not idempotent: %q then %q", got, again)
			}
		})
	}
}

func TestRenderEveryKind(t *testing.T) {
	t.Parallel()
	start := t0.Add(24 * time.Hour)
	kinds := []struct {
		kind        string
		wantSubject string
		wantText    []string
	}{
		{lockbox.NoticePending, "[Lockbox] Access request LB-7K3Q9MXA needs your decision (contoso)",
			[]string{"Decide by (UTC):        2026-11-21 21:05:00 UTC", "Requested start (UTC):  2026-11-22 09:00:00 UTC"}},
		{lockbox.NoticeReminder, "[Lockbox] Reminder: access request LB-7K3Q9MXA expires soon (contoso)",
			[]string{"still waiting for a decision", "Decide by (UTC):"}},
		{lockbox.NoticeAutoApproved, "[Lockbox] Access request LB-7K3Q9MXA was approved automatically (contoso)",
			[]string{"does not require approval", "Access starts (UTC):    2026-11-22 09:00:00 UTC", "Access ends (UTC):      2026-11-22 11:00:00 UTC"}},
		{lockbox.NoticePolicyApproved, "[Lockbox] Access request LB-7K3Q9MXA was approved by your policy (contoso)",
			[]string{`policy rule "read-only-hours" approves`, "Access ends (UTC):      2026-11-22 11:00:00 UTC"}},
		{lockbox.NoticePolicyDenied, "[Lockbox] Access request LB-7K3Q9MXA was denied by your policy (contoso)",
			[]string{`policy rule "read-only-hours" denies`, "No access was granted."}},
		{lockbox.NoticeApproved, "[Lockbox] Your access request LB-7K3Q9MXA was approved (contoso)",
			[]string{"approved by approver@contoso[.]test", "Access ends (UTC):"}},
		{lockbox.NoticeDenied, "[Lockbox] Your access request LB-7K3Q9MXA was denied (contoso)",
			[]string{"denied by approver@contoso[.]test", "Comment from approver@contoso[.]test", "  > Not now; see hxxps://intranet[.]contoso[.]com"}},
		{lockbox.NoticeExpired, "[Lockbox] Your access request LB-7K3Q9MXA expired (contoso)",
			[]string{"Deadline (UTC):         2026-11-21 21:05:00 UTC"}},
		{lockbox.NoticeRevoked, "[Lockbox] Access for your request LB-7K3Q9MXA was revoked (contoso)",
			[]string{"Access ended (UTC):     2026-11-22 10:00:00 UTC"}},
		{lockbox.NoticeExtensionRequested, "[Lockbox] More time asked for access request LB-7K3Q9MXA (contoso)",
			[]string{"asks for more time", "Extension:              30 minutes", "Reason for more time:   still copying, see hxxps://x[.]test"}},
		{lockbox.NoticeExtensionApproved, "[Lockbox] More time approved for your access request LB-7K3Q9MXA (contoso)",
			[]string{"approved by approver@contoso[.]test", "Extension status:       approved"}},
		{lockbox.NoticeExtensionDenied, "[Lockbox] More time denied for your access request LB-7K3Q9MXA (contoso)",
			[]string{"denied by approver@contoso[.]test"}},
		{lockbox.NoticeExtensionLapsed, "[Lockbox] Your extension of access request LB-7K3Q9MXA lapsed (contoso)",
			[]string{"lapsed", "Access ends (UTC):      2026-11-22 11:00:00 UTC"}},
		{lockbox.NoticeBreakGlass, "[Lockbox] URGENT: access started without approval (break-glass) for LB-7K3Q9MXA (contoso)",
			[]string{"Urgent: access started without approval", "Incident:               INC-42", "Access ends (UTC):      2026-11-22 11:00:00 UTC"}},
		{lockbox.NoticeEscalated, "[Lockbox] Escalation: access request LB-7K3Q9MXA is still undecided (contoso)",
			[]string{"longer than your organization's escalation time", "Decide by (UTC):"}},
		{lockbox.NoticeAccessReport, "[Lockbox] Access report for request LB-7K3Q9MXA (contoso)",
			[]string{"Allowed actions:        2", "Blocked attempts:       1", "Unused operations:      Repair-Mailbox"}},
	}
	common := []string{
		"Reference code:         LB-7K3Q9MXA",
		"Tenant:                 Contoso Ltd (contoso)",
		"Service:                exchange",
		"Service request:        SR-2026-004211",
		"Requested by:           operator@provider[.]test",
		"Operations:             Get-MailboxStatistics, Repair-Mailbox",
		"Duration:               2 hours",
		"  > Mailbox of a user fails to load; need to inspect folder statistics.",
		"sign in to the Lockbox admin center the usual way",
		"check that the reference code LB-7K3Q9MXA is shown there",
	}
	for _, k := range kinds {
		t.Run(k.kind, func(t *testing.T) {
			r := sampleRequest()
			ends := start.Add(2 * time.Hour)
			ended := start.Add(time.Hour)
			r.StartTime, r.AccessStartsAt, r.AccessEndsAt, r.EndedAt = &start, &start, &ends, &ended
			r.Extensions = []lockbox.Extension{{Minutes: 30, Reason: "still copying, see https://x.test", Status: "approved"}}
			r.Policy = &lockbox.PolicyDecision{Outcome: lockbox.OutcomeAutoApprove, Rule: "read-only-hours"}
			r.Incident = "INC-42"
			n := pendingNotice(r)
			if k.kind == lockbox.NoticeAccessReport {
				r.Status = lockbox.StatusCompleted
				n.Data.Report = lockbox.NewAccessReport(r, []*lockbox.AuditRecord{
					{RequestID: r.ID, Operation: lockbox.OpOperatorAction, AuditData: map[string]any{"operation": "Get-MailboxStatistics"}},
					{RequestID: r.ID, Operation: lockbox.OpOperatorAction, AuditData: map[string]any{"operation": "Get-MailboxStatistics"}},
					{RequestID: r.ID, Operation: lockbox.OpOperatorActionBlocked, AuditData: map[string]any{"operation": "Remove-Mailbox"}},
				}, true)
			}
			n.Type = k.kind
			if k.kind != lockbox.NoticePending && k.kind != lockbox.NoticeReminder && k.kind != lockbox.NoticeAutoApproved &&
				k.kind != lockbox.NoticePolicyApproved && k.kind != lockbox.NoticePolicyDenied {
				n.Data.Actor = "approver@contoso.test"
			}
			if k.kind == lockbox.NoticeDenied {
				n.Data.Comment = "Not now; see https://intranet.contoso.com"
			}
			e, err := mail.Render(outboxEmail(t, "0193f4c2-0000-7000-8000-000000000001", "approver@contoso.test", n), "lockbox.contoso.test")
			if err != nil {
				t.Fatal(err)
			}
			if e.Subject != k.wantSubject {
				t.Errorf("subject = %q, want %q", e.Subject, k.wantSubject)
			}
			if e.MessageID != "0193f4c2-0000-7000-8000-000000000001@lockbox.contoso.test" || !e.Date.Equal(t0) {
				t.Errorf("Message-ID %q, Date %v: not derived from the outbox message", e.MessageID, e.Date)
			}
			text := strings.ToLower(e.Text)
			for _, want := range append(common, k.wantText...) {
				if !strings.Contains(text, strings.ToLower(want)) {
					t.Errorf("text lacks %q:\n%s", want, e.Text)
				}
			}
			htmlText := html.UnescapeString(e.HTML)
			for _, want := range []string{"LB-7K3Q9MXA", "SR-2026-004211", "Get-MailboxStatistics", "Contoso Ltd (contoso)", "sign in to the Lockbox admin center the usual way"} {
				if !strings.Contains(strings.ToLower(htmlText), strings.ToLower(want)) {
					t.Errorf("HTML lacks %q:\n%s", want, e.HTML)
				}
			}
			for part, s := range map[string]string{"text": e.Text, "unescaped html": htmlText, "subject": e.Subject} {
				if l := linkIn(s); l != "" {
					t.Errorf("%s holds a link-like %q", part, l)
				}
			}
			if l := htmlLinkIn(e.HTML); l != "" {
				t.Errorf("HTML holds a link-like %q", l)
			}
		})
	}
}

func TestRenderRefusesBadMessages(t *testing.T) {
	t.Parallel()
	n := pendingNotice(sampleRequest())
	for name, m := range map[string]*lockbox.OutboxMessage{
		"UnknownKind": outboxEmail(t, "id-1", "a@b.test", lockbox.Notice{Type: "request.exploded", Data: n.Data}),
		"NoRequest":   outboxEmail(t, "id-2", "a@b.test", lockbox.Notice{Type: lockbox.NoticePending}),
		"BadID":       outboxEmail(t, "id\r\nBcc: x@y.test", "a@b.test", n),
		"BadPayload":  {ID: "id-3", Payload: []byte("{")},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := mail.Render(m, "lockbox.test"); err == nil {
				t.Error("rendered; want an error")
			}
		})
	}
}

// parsedEmail is an encoded message read back the way a receiving mail
// system reads it.
type parsedEmail struct {
	header     netmail.Header
	text, html string
}

func parseMessage(t testing.TB, raw []byte) *parsedEmail {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the message does not parse: %v\n%s", err, raw)
	}
	out := &parsedEmail{header: msg.Header}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = p
		if p.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
			body = quotedprintable.NewReader(p)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) // SMTP line ends
		switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
		case "text/plain":
			out.text = string(b)
		case "text/html":
			out.html = string(b)
		default:
			t.Errorf("unexpected part %s", ct)
		}
	}
	return out
}

// wantHeaders is every header a Lockbox email has: anything else in a
// parsed message was injected.
var wantHeaders = []string{"Auto-Submitted", "Content-Type", "Date", "From", "Message-Id", "Mime-Version",
	"Subject", "To", "User-Agent", "X-Auto-Response-Suppress", "X-Lockbox-Reference", "X-Mailer"}

func TestMessageEncoding(t *testing.T) {
	t.Parallel()
	e, err := mail.Render(outboxEmail(t, "0193f4c2-0000-7000-8000-000000000002", "approver@contoso.test", pendingNotice(sampleRequest())), "mail.provider.test")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := mail.Message(e, "Lockbox <lockbox@mail.provider.test>")
	if err != nil {
		t.Fatal(err)
	}
	p := parseMessage(t, raw)
	var names []string
	for k := range p.header {
		names = append(names, k)
	}
	slices.Sort(names)
	if diff := cmp.Diff(wantHeaders, names); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	for k, want := range map[string]string{
		"Message-Id": "<0193f4c2-0000-7000-8000-000000000002@mail.provider.test>",
		"To":         "<approver@contoso.test>",
		"From":       `"Lockbox" <lockbox@mail.provider.test>`,
		"Date":       "Sat, 21 Nov 2026 09:00:00 +0000",
	} {
		if got := p.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if p.text != e.Text || html.UnescapeString(p.html) != html.UnescapeString(e.HTML) {
		t.Errorf("decoded parts differ from the rendered ones:\n%s\n---\n%s", p.text, e.Text)
	}
}

func TestRenderPasskeyAdded(t *testing.T) {
	t.Parallel()
	n := lockbox.Notice{Type: lockbox.NoticePasskeyAdded, Timestamp: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC),
		Data: lockbox.NoticeData{Tenant: "contoso", Actor: "ann@contoso.test",
			Passkey: &lockbox.PasskeyNotice{Account: "ann@contoso.test", CredentialID: "AbC-1", Name: "https://evil.example"}}}
	e, err := mail.Render(outboxEmail(t, "0193f4c2-0000-7000-8000-000000000009", "admin@contoso.test", n), "lockbox.contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.Subject, "A new passkey was added to ann@contoso[.]test") || !strings.Contains(e.Text, "AbC-1") {
		t.Errorf("subject %q, text:\n%s", e.Subject, e.Text)
	}
	if strings.Contains(e.Text, "https://") || strings.Contains(e.HTML, "https://") {
		t.Errorf("the email carries a link:\n%s", e.Text)
	}
}
