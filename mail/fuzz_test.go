package mail_test

import (
	"html"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/mail"
)

// FuzzEmail renders and encodes an email from arbitrary user-controlled
// fields (reason, comment, service request, operation, requester, tenant
// display name, decider, and even the codes Lockbox itself generates) and
// proves the two promises of SPEC §5: no link of any kind in the subject,
// the text part or the HTML part, and no header beyond Lockbox's own (CR/LF
// cannot inject one). `go test` runs the seeds; `go test -fuzz FuzzEmail
// ./mail` explores.
func FuzzEmail(f *testing.F) {
	for _, seed := range [][]string{
		{"Mailbox fails to load.", "OK for 2h", "SR-1", "Get-Mailbox", "operator@provider.test", "Contoso", "LB-7K3Q9MXA", "contoso"},
		{"see https://evil.example.com/login", "http://x.y", "SR\r\nBcc: victim@example.com", "Get-Mailbox\nX-Evil: 1", "a@b.c", "Evil.com", "LB-1\r\nX-Injected: yes", "con\ntoso"},
		{"<a href=\"https://phish.example\">click</a>", "<img src=x onerror=alert(1)>", "javascript:alert(1)", "mailto:x@y.z", "x", "\u202egro.live", "LB-\x00", "t"},
		{"ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ", "example。com", "exa\u200bmple.com", "10.0.0.1", "\\\\server\\share", "x．y", "a.b", "x.y"},
		{"ftp://a.b", "HXXPS://ok.but.still", "data:text/html,<script>", "www.example.com", "foo@bar.baz", "пример.рф", "LB-\u2028", "c"},
		{strings.Repeat("a.b ", 600), strings.Repeat("\r\n", 300), "", "", "", "", "", ""},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3], seed[4], seed[5], seed[6], seed[7])
	}
	f.Fuzz(func(t *testing.T, reason, comment, serviceRequest, operation, requester, tenantName, reference, tenant string) {
		r := sampleRequest()
		r.Reason, r.ServiceRequest, r.Operations, r.RequestedBy = reason, serviceRequest, []string{operation, "Repair-Mailbox"}, requester
		r.Reference, r.Tenant, r.Service = reference, tenant, tenantName
		for _, kind := range []string{lockbox.NoticePending, lockbox.NoticeDenied} {
			n := lockbox.Notice{Type: kind, Data: lockbox.NoticeData{Tenant: tenant, TenantName: tenantName,
				Actor: requester, Comment: comment, Request: r}}
			checkEmail(t, outboxEmail(t, "0193f4c2-0000-7000-8000-00000000000f", "approver@contoso.test", n))
		}
	})
}

func checkEmail(t *testing.T, m *lockbox.OutboxMessage) {
	e, err := mail.Render(m, "mail.provider.test")
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	raw, err := mail.Message(e, "Lockbox <lockbox@mail.provider.test>")
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	p := parseMessage(t, raw)
	var names []string
	for k := range p.header {
		names = append(names, k)
	}
	slices.Sort(names)
	if diff := cmp.Diff(wantHeaders, names); diff != "" {
		t.Fatalf("headers (-want +got):\n%s\n%s", diff, raw)
	}
	for k, v := range p.header {
		if len(v) != 1 {
			t.Errorf("header %s appears %d times", k, len(v))
		}
	}
	if got := p.header.Get("Message-Id"); got != "<0193f4c2-0000-7000-8000-00000000000f@mail.provider.test>" {
		t.Errorf("Message-Id = %q", got)
	}
	if got := p.header.Get("To"); got != "<approver@contoso.test>" {
		t.Errorf("To = %q", got)
	}
	for part, s := range map[string]string{
		"subject": p.header.Get("Subject"), "reference header": p.header.Get("X-Lockbox-Reference"),
		"text": p.text, "unescaped html": html.UnescapeString(p.html),
	} {
		if l := linkIn(s); l != "" {
			t.Fatalf("%s holds a link-like %q:\n%s", part, l, s)
		}
	}
	if l := htmlLinkIn(p.html); l != "" {
		t.Fatalf("the HTML part holds a link-like %q:\n%s", l, p.html)
	}
	if !strings.Contains(p.text, "the usual way") || !strings.Contains(p.html, "the usual way") {
		t.Error("the instruction to sign in the usual way is missing")
	}
}
