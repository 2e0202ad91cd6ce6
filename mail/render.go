package mail

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json"

	"github.com/lockboxhq/lockbox"
)

// Email is a rendered notification, before it is encoded as a message.
type Email struct {
	To        string
	Subject   string
	MessageID string // without angle brackets
	Date      time.Time
	Reference string
	Text      string
	HTML      string
}

// content is what an email says, written as text (writeText) and as HTML
// (writeHTML). Every string in it is already defanged and bounded: the
// writers add only their own fixed words, and HTML escaping.
type content struct {
	Lead        string
	Rows        []row
	QuoteLabel  string
	Quote       []string // the requester's reason, line by line
	CommentBy   string
	Comment     []string // the decider's comment, line by line
	Instruction string
	Footer      string
}

type row struct{ Label, Value string }

// The two parts are written by code, not text/template and html/template:
// executing those (reflection, and html/template's escaper on every value)
// was two thirds of rendering a notice, itself a tenth of the server's CPU
// a workflow step on PostgreSQL (issue 16). The HTML part escapes every
// value as html/template did in text, so the bytes sent are the same.

// writeText writes the plain-text part.
func (c *content) writeText(b *strings.Builder) {
	b.WriteString(c.Lead)
	b.WriteString("\n\n")
	for _, r := range c.Rows {
		// The label in a column 24 wide.
		b.WriteString(r.Label)
		b.WriteString(":")
		for n := utf8.RuneCountInString(r.Label) + 1; n < 23; n++ {
			b.WriteByte(' ')
		}
		b.WriteString(" ")
		b.WriteString(r.Value)
		b.WriteString("\n")
	}
	quote := func(label string, lines []string) {
		b.WriteString("\n")
		b.WriteString(label)
		b.WriteString("\n")
		for _, l := range lines {
			b.WriteString("  > ")
			b.WriteString(l)
			b.WriteString("\n")
		}
	}
	quote(c.QuoteLabel, c.Quote)
	if c.CommentBy != "" {
		quote(c.CommentBy, c.Comment)
	}
	b.WriteString("\nWhat to do: ")
	b.WriteString(c.Instruction)
	b.WriteString("\n\n--\n")
	b.WriteString(c.Footer)
	b.WriteString("\n")
}

const (
	htmlHead = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Lockbox</title>
</head>
<body style="font-family: Segoe UI, Helvetica, Arial, sans-serif; font-size: 14px; color: #1b1b1b;">
<p>`
	htmlRow        = "\n<tr><th style=\"text-align: left; padding: 2px 16px 2px 0; vertical-align: top;\">"
	htmlQuoteStart = "<blockquote style=\"margin: 0 0 0 8px; padding-left: 8px; border-left: 3px solid #c8c8c8; white-space: pre-wrap;\">"
	htmlFoot       = `</p>
<hr>
<p style="color: #5c5c5c; font-size: 12px;">`
)

// htmlEscaper escapes text as html/template does in an element's content.
var htmlEscaper = strings.NewReplacer("\x00", "\uFFFD", `"`, "&#34;", "&", "&amp;", "'", "&#39;", "+", "&#43;", "<", "&lt;", ">", "&gt;")

// writeHTML writes the HTML part: the same content, every value escaped.
func (c *content) writeHTML(b *strings.Builder) {
	esc := func(s string) { htmlEscaper.WriteString(b, s) }
	quote := func(lines []string) {
		b.WriteString(htmlQuoteStart)
		for i, l := range lines {
			if i > 0 {
				b.WriteString("<br>")
			}
			esc(l)
		}
		b.WriteString("</blockquote>")
	}
	b.WriteString(htmlHead)
	esc(c.Lead)
	b.WriteString("</p>\n<table style=\"border-collapse: collapse;\">")
	for _, r := range c.Rows {
		b.WriteString(htmlRow)
		esc(r.Label)
		b.WriteString("</th><td style=\"padding: 2px 0;\">")
		esc(r.Value)
		b.WriteString("</td></tr>")
	}
	b.WriteString("\n</table>\n<p>")
	esc(c.QuoteLabel)
	b.WriteString("</p>\n")
	quote(c.Quote)
	if c.CommentBy != "" {
		b.WriteString("\n<p>")
		esc(c.CommentBy)
		b.WriteString("</p>\n")
		quote(c.Comment)
	}
	b.WriteString("\n<p><strong>What to do:</strong> ")
	esc(c.Instruction)
	b.WriteString(htmlFoot)
	esc(c.Footer)
	b.WriteString("</p>\n</body>\n</html>\n")
}

// messageIDPart is what an outbox id may look like to become a Message-ID.
var messageIDPart = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// Render turns the outbox message m (an email) into an Email from the
// notice in its payload. The same message always renders the same Email:
// its Message-ID is derived from m.ID and its Date is m.CreatedAt.
func Render(m *lockbox.OutboxMessage, domain string) (*Email, error) {
	return renderWith(m, domain, renderBody)
}

// renderWith is Render with the body of m's payload from body.
func renderWith(m *lockbox.OutboxMessage, domain string, body func(payload []byte) (*body, error)) (*Email, error) {
	if !messageIDPart.MatchString(m.ID) {
		return nil, fmt.Errorf("outbox id %q cannot form a Message-ID", m.ID)
	}
	b, err := body(m.Payload)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", m.ID, err)
	}
	return &Email{
		To: m.To, Subject: b.subject, MessageID: m.ID + "@" + headerValue(domain, 200), Date: m.CreatedAt.UTC(),
		Reference: b.reference, Text: b.text, HTML: b.html,
	}, nil
}

// body is what a notice payload renders to, whoever receives it.
type body struct {
	subject, reference, text, html string
}

// renderBody renders a notice payload.
func renderBody(payload []byte) (*body, error) {
	var n lockbox.Notice
	// go-json-experiment decodes the notice in about half the time of
	// encoding/json, which was most of rendering once the parts were
	// written in code (issue 16); the payload is encoding/json's own
	// output (approval), which it reads the same.
	if err := json.Unmarshal(payload, &n); err != nil {
		return nil, fmt.Errorf("decode notice: %w", err)
	}
	if n.Data.Request == nil && n.Data.Passkey == nil {
		return nil, fmt.Errorf("notice %s has no request", n.Type)
	}
	build := build
	reference := ""
	if n.Data.Request != nil {
		reference = n.Data.Request.Reference
	} else {
		build = buildPasskey
	}
	c, subject, err := build(&n)
	if err != nil {
		return nil, err
	}
	var text, html strings.Builder
	c.writeText(&text)
	c.writeHTML(&html)
	return &body{subject: subject, reference: headerValue(Line(reference, 32), 32), text: text.String(), html: html.String()}, nil
}

// bodyCache remembers the bodies of the notices rendered last. A notice to
// a tenant's n approvers is n outbox messages with one payload, delivered
// one after another or side by side (the outbox sends a round's messages
// a batch at a time): it is rendered once, not n times, by whichever send
// asks first while the others wait for it (rendering was a twelfth of a
// workflow step's CPU, issue 16). Rendering is a function of the payload
// alone, so a remembered body, or error, is the body or error.
type bodyCache struct {
	mu     sync.Mutex
	bodies map[string]*cachedBody
	// render renders a payload: renderBody, or a test's.
	render func(payload []byte) (*body, error)
}

// cachedBody is one payload's body, ready once its first asker rendered it.
type cachedBody struct {
	ready chan struct{}
	b     *body
	err   error
}

// maxBodies bounds the cache; a full cache is emptied.
const maxBodies = 64

func (c *bodyCache) get(payload []byte) (*body, error) {
	c.mu.Lock()
	e, ok := c.bodies[string(payload)]
	if !ok {
		if c.bodies == nil || len(c.bodies) >= maxBodies {
			c.bodies = map[string]*cachedBody{}
		}
		e = &cachedBody{ready: make(chan struct{})}
		c.bodies[string(payload)] = e
	}
	c.mu.Unlock()
	if ok {
		<-e.ready
		return e.b, e.err
	}
	defer close(e.ready) // also if rendering panics: nobody waits forever
	render := c.render
	if render == nil {
		render = renderBody
	}
	e.err = errors.New("rendering failed") // what the others see if it panics
	e.b, e.err = render(payload)
	return e.b, e.err
}

// instruction is the one way to act on a Lockbox email (SPEC §5).
const instruction = "Sign in to the Lockbox admin center the usual way (type its address or use your own " +
	"bookmark; never a link from an email) and check that the reference code %s is shown there before you act."

// build chooses the subject, lead and rows for the notice kind.
func build(n *lockbox.Notice) (*content, string, error) {
	r := n.Data.Request
	ref := Line(r.Reference, 32)
	tenant := tenantLabel(n.Data)
	c := &content{
		QuoteLabel:  "Reason given by the requester (quoted as typed; anything that looks like a link has been disabled):",
		Quote:       lines(r.Reason, lockbox.MaxReasonLen),
		Instruction: fmt.Sprintf(instruction, ref),
		Footer: "Lockbox sent this message because of your role in the tenant " + tenant +
			". Lockbox messages never contain links: treat any message with a link that claims to be from Lockbox as phishing.",
	}
	var subject string
	switch n.Type {
	case lockbox.NoticePending:
		subject = "Access request %s needs your decision"
		c.Lead = "A provider support engineer asks for access to your organization's content. Nothing is accessible unless an approver of your organization approves the request."
		c.Rows = append(requestRows(n), row{"Decide by (UTC)", utc(r.ExpiresAt)})
	case lockbox.NoticeReminder:
		subject = "Reminder: access request %s expires soon"
		c.Lead = "This access request is still waiting for a decision. If nobody decides by the deadline it expires and no access is granted."
		c.Rows = append(requestRows(n), row{"Decide by (UTC)", utc(r.ExpiresAt)})
	case lockbox.NoticeAutoApproved:
		subject = "Access request %s was approved automatically"
		c.Lead = "For your information: your organization does not require approval for data access requests, so Lockbox approved this request automatically. An approver can still revoke it in the admin center."
		c.Rows = append(requestRows(n), accessRows(r)...)
	case lockbox.NoticePolicyApproved:
		subject = "Access request %s was approved by your policy"
		c.Lead = "For your information: your organization's policy rule " + policyRule(r) + " approves requests like this one, so Lockbox approved it automatically. An approver can still revoke it in the admin center."
		c.Rows = append(requestRows(n), accessRows(r)...)
	case lockbox.NoticePolicyDenied:
		subject = "Access request %s was denied by your policy"
		c.Lead = "For your information: your organization's policy rule " + policyRule(r) + " denies requests like this one, so Lockbox denied it automatically. No access was granted."
		c.Rows = requestRows(n)
	case lockbox.NoticeApproved:
		subject = "Your access request %s was approved"
		c.Lead = "Your access request was approved by " + deciderLabel(n.Data) + "."
		c.Rows = append(requestRows(n), accessRows(r)...)
		c.Footer = "Lockbox sent this message because you filed this request. Lockbox messages never contain links."
	case lockbox.NoticeDenied:
		subject = "Your access request %s was denied"
		c.Lead = "Your access request was denied by " + deciderLabel(n.Data) + ". No access was granted."
		c.Rows = requestRows(n)
		c.Footer = "Lockbox sent this message because you filed this request. Lockbox messages never contain links."
	case lockbox.NoticeExpired:
		subject = "Your access request %s expired"
		c.Lead = "Nobody decided on your access request before its deadline, so it expired. No access was granted."
		c.Rows = append(requestRows(n), row{"Deadline (UTC)", utc(r.ExpiresAt)})
		c.Footer = "Lockbox sent this message because you filed this request. Lockbox messages never contain links."
	case lockbox.NoticeRevoked:
		subject = "Access for your request %s was revoked"
		c.Lead = "The tenant revoked your access (" + deciderLabel(n.Data) + "). Access has ended."
		c.Rows = append(requestRows(n), row{"Access ended (UTC)", utcPtr(r.EndedAt)})
		c.Footer = "Lockbox sent this message because you filed this request. Lockbox messages never contain links."
	case lockbox.NoticeExtensionRequested:
		subject = "More time asked for access request %s"
		c.Lead = "The support engineer asks for more time on an active access request. Access still ends at the time below unless an approver of your organization approves the extension; if nobody decides by then, it lapses."
		c.Rows = append(requestRows(n), append(accessRows(r), extensionRows(r)...)...)
	case lockbox.NoticeExtensionApproved:
		subject = "More time approved for your access request %s"
		c.Lead = "Your extension was approved by " + deciderLabel(n.Data) + ". Ask for a new grant token: tokens never outlive the access."
		c.Rows = append(requestRows(n), append(accessRows(r), extensionRows(r)...)...)
		c.Footer = "Lockbox sent this message because you filed this request. Lockbox messages never contain links."
	case lockbox.NoticeExtensionDenied:
		subject = "More time denied for your access request %s"
		c.Lead = "Your extension was denied by " + deciderLabel(n.Data) + ". Access ends as approved before."
		c.Rows = append(requestRows(n), append(accessRows(r), extensionRows(r)...)...)
		c.Footer = "Lockbox sent this message because you filed this request. Lockbox messages never contain links."
	case lockbox.NoticeExtensionLapsed:
		subject = "Your extension of access request %s lapsed"
		c.Lead = "Nobody decided on your extension before the access ended, so it lapsed. Access has ended."
		c.Rows = append(requestRows(n), append(accessRows(r), extensionRows(r)...)...)
		c.Footer = "Lockbox sent this message because you filed this request. Lockbox messages never contain links."
	case lockbox.NoticeBreakGlass:
		subject = "URGENT: access started without approval (break-glass) for %s"
		c.Lead = "Urgent: access started without approval. A provider support engineer used break-glass for an incident, your organization allows it, and a provider support manager reviewed it, so access is open now, for at most the time below. An approver can revoke it at any time in the admin center, and must acknowledge it there once it has ended."
		c.Rows = append(requestRows(n), append([]row{{"Incident", Line(r.Incident, lockbox.MaxIncidentLen)}}, accessRows(r)...)...)
	case lockbox.NoticeEscalated:
		subject = "Escalation: access request %s is still undecided"
		c.Lead = "This access request has waited for a decision longer than your organization's escalation time. Lockbox tells you so that someone who may decide does so in time; if nobody decides by the deadline it expires and no access is granted."
		c.Rows = append(requestRows(n), row{"Decide by (UTC)", utc(r.ExpiresAt)})
		c.Footer = "Lockbox sent this message because your address is in the escalation setting of the tenant " + tenant +
			". Lockbox messages never contain links: treat any message with a link that claims to be from Lockbox as phishing."
	case lockbox.NoticeAccessReport:
		subject = "Access report for request %s"
		c.Lead = "Access of this request has ended. This is what the support engineer did with it, as the provider's services reported each action to Lockbox."
		c.Rows = append(requestRows(n), reportRows(n.Data.Report)...)
	default:
		return nil, "", fmt.Errorf("no email template for notice type %q", n.Type)
	}
	if n.Data.Comment != "" {
		c.CommentBy = "Comment from " + deciderLabel(n.Data) + " (quoted as typed; links disabled):"
		c.Comment = lines(n.Data.Comment, lockbox.MaxCommentLen)
	}
	// Header text is defanged like the body, then reduced to printable ASCII.
	subject = "[Lockbox] " + headerValue(fmt.Sprintf(subject, Line(r.Reference, 32)), 150) +
		" (" + headerValue(Line(n.Data.Tenant, 63), 63) + ")"
	return c, subject, nil
}

// policyRule names the rule that decided r, quoted.
func policyRule(r *lockbox.AccessRequest) string {
	if r.Policy == nil {
		return `"(unknown)"`
	}
	return `"` + Line(r.Policy.Rule, 63) + `"`
}

// buildPasskey is the email that an account gained a passkey (SPEC §10.3):
// to the admins of its population, who should know if it was not its owner.
func buildPasskey(n *lockbox.Notice) (*content, string, error) {
	p := n.Data.Passkey
	if n.Type != lockbox.NoticePasskeyAdded || p == nil {
		return nil, "", fmt.Errorf("no email template for notice type %q", n.Type)
	}
	where := "the provider's staff"
	if n.Data.Tenant != "" {
		where = "the tenant " + tenantLabel(n.Data)
	}
	c := &content{
		Lead: "A new passkey was added to " + Line(p.Account, 254) + " in " + where + ". Passkeys sign in and sign access decisions. " +
			"If the account's owner did not add it, treat it as an attack: remove the account's access and review the audit log.",
		Rows: []row{{"Account", Line(p.Account, 254)}, {"Passkey name", Line(p.Name, 64)}, {"Credential id", Line(p.CredentialID, 200)},
			{"Added (UTC)", utc(n.Timestamp)}},
		Instruction: "Sign in to the Lockbox admin center the usual way (type its address or use your own bookmark; never a link from an email) and look for passkey.registered in the audit log.",
		Footer:      "Lockbox sent this message because you are an administrator of this account's organization. Lockbox messages never contain links.",
	}
	subject := "[Lockbox] " + headerValue("A new passkey was added to "+Line(p.Account, 254), 150)
	return c, subject, nil
}

// requestRows are the facts every email states about the request.
func requestRows(n *lockbox.Notice) []row {
	r := n.Data.Request
	start := "as soon as approved"
	if r.StartTime != nil {
		start = utc(*r.StartTime)
	}
	return []row{
		{"Reference code", Line(r.Reference, 32)},
		{"Tenant", tenantLabel(n.Data)},
		{"Service", Line(r.Service, 100)},
		{"Service request", Line(r.ServiceRequest, lockbox.MaxServiceRequestLen)},
		{"Requested by", Line(r.RequestedBy, 254)},
		{"Operations", Line(strings.Join(r.Operations, ", "), 2000)},
		{"Duration", duration(r.DurationMinutes)},
		{"Requested start (UTC)", start},
	}
}

// accessRows state the approved access window.
func accessRows(r *lockbox.AccessRequest) []row {
	return []row{{"Access starts (UTC)", utcPtr(r.AccessStartsAt)}, {"Access ends (UTC)", utcPtr(r.AccessEndsAt)}}
}

func lastExtension(r *lockbox.AccessRequest) *lockbox.Extension {
	if n := len(r.Extensions); n > 0 {
		return &r.Extensions[n-1]
	}
	return nil
}

// reportRows state an access report: totals, then one row per operation.
func reportRows(rep *lockbox.AccessReport) []row {
	if rep == nil {
		return nil
	}
	rows := []row{{"Access started (UTC)", utcPtr(rep.AccessStartsAt)}, {"Access ended (UTC)", utcPtr(rep.AccessEndedAt)},
		{"Allowed actions", fmt.Sprint(rep.AllowedTotal)}, {"Blocked attempts", fmt.Sprint(rep.BlockedTotal)}}
	for _, o := range rep.Operations {
		rows = append(rows, row{"Approved " + Line(o.Operation, 100), fmt.Sprintf("%d allowed, %d blocked", o.Allowed, o.Blocked)})
	}
	for _, b := range rep.Blocked {
		if !b.Approved {
			rows = append(rows, row{"Not approved " + Line(b.Operation, 100), fmt.Sprintf("%d blocked", b.Count)})
		}
	}
	unused := "none"
	if len(rep.Unused) > 0 {
		unused = Line(strings.Join(rep.Unused, ", "), 2000)
	}
	return append(rows, row{"Unused operations", unused})
}

// extensionRows state the extension the email is about.
func extensionRows(r *lockbox.AccessRequest) []row {
	x := lastExtension(r)
	if x == nil {
		return nil
	}
	return []row{{"Extension", duration(x.Minutes)}, {"Reason for more time", Line(x.Reason, 500)},
		{"Extension status", Line(x.Status, 20)}}
}

func tenantLabel(d lockbox.NoticeData) string {
	if d.TenantName == "" || d.TenantName == d.Tenant {
		return Line(d.Tenant, 63)
	}
	return Line(d.TenantName, 100) + " (" + Line(d.Tenant, 63) + ")"
}

func deciderLabel(d lockbox.NoticeData) string {
	if d.Actor == "" || d.Actor == lockbox.System.Email {
		return "Lockbox (automatic)"
	}
	return Line(d.Actor, 254)
}

// lines defangs s and splits it into lines for quoting, at most max runes.
func lines(s string, max int) []string {
	s = Defang(s)
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	out := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range out {
		out[i] = strings.ReplaceAll(l, "\t", "    ")
	}
	return out
}

// utc formats t in UTC with the zone spelt out, so nobody reads it as local.
func utc(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") + " UTC" }

func utcPtr(t *time.Time) string {
	if t == nil {
		return "not set"
	}
	return utc(*t)
}

func duration(minutes int) string {
	h, m := minutes/60, minutes%60
	var parts []string
	if h > 0 {
		parts = append(parts, plural(h, "hour"))
	}
	if m > 0 || h == 0 {
		parts = append(parts, plural(m, "minute"))
	}
	return strings.Join(parts, " ")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
