package web_test

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lockboxhq/lockbox"
)

// axeSource is axe-core (npm axe-core, testdata/axe), the accessibility
// engine the audit used, injected into each page.
//
//go:embed testdata/axe/axe.min.js
var axeSource string

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// pageReport is what one page at one width must show: no serious or
// critical axe violation, and nothing wider than the screen.
type pageReport struct {
	Violations  []axeViolation `json:"violations"`
	ScrollWidth int            `json:"scrollWidth"`
	InnerWidth  int            `json:"innerWidth"`
	Overflowing []string       `json:"overflowing"`
}

const axeRun = `axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify({
  violations: r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical'),
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  overflowing: [...document.querySelectorAll('body *')].filter(e => {
    const b = e.getBoundingClientRect();
    if (b.width === 0 || b.right <= window.innerWidth + 1 || getComputedStyle(e).position === 'fixed') return false;
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible') return false; // scrolls inside its own box
    }
    return true;
  }).concat([...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 &&
      e.parentElement && e.parentElement.getBoundingClientRect().right <= window.innerWidth + 1)).slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + String(e.className).split(' ').join('.') : ''))
}))`

// check audits the page p shows at the current width.
func (p *person) check(name string) pageReport {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axeSource+";true")); err != nil {
		p.t.Fatalf("%s: inject axe: %v", name, err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("%s: run axe: %v", name, err)
	}
	var r pageReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		p.t.Fatalf("%s: axe result: %v", name, err)
	}
	return r
}

// TestAccessibility runs everyPageAccessible on its own server. It is not
// parallel: go test runs it before the parallel browser scenarios, so its
// thirty axe runs do not slow their steps past their time limits.
func TestAccessibility(t *testing.T) {
	b := startBrowser(t)
	e := newEnv(t)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	(&suite{e: e, browser: b, base: srv.URL, dir: artifactsDir(t)}).everyPageAccessible(t)
}

// everyPageAccessible visits every page of every role at a phone's width
// (390 px) and a desktop's (1280 px): zero serious or critical axe-core
// violations, and no page wider than the screen ("Sign out" cut off).
func (s *suite) everyPageAccessible(t *testing.T) {
	// A webhook that the requests below are delivered to, for its pages.
	hook, err := s.e.svc.CreateWebhook(s.e.as("admin@contoso.test"), "contoso",
		lockbox.NewWebhook{URL: "https://siem.contoso.example.com/hooks/lockbox?token=0123456789abcdef", Description: "SIEM"})
	if err != nil {
		t.Fatal(err)
	}
	// One of its deliveries given up, for the Resend button.
	now := time.Now().UTC()
	if err := s.e.store.Update(context.Background(), func(tx lockbox.Tx) error {
		return tx.EnqueueOutbox(context.Background(), &lockbox.OutboxMessage{ID: "msg-dead", Channel: lockbox.ChannelWebhook, Tenant: "contoso",
			Type: lockbox.OpRequestApproved, WebhookID: hook.ID, Payload: []byte(`{}`), Status: lockbox.OutboxDead, Attempts: 9,
			CreatedAt: now, NextAttemptAt: now, LastError: "http_status: the endpoint at siem.contoso.example.com answered 503 Service Unavailable", FinishedAt: &now})
	}); err != nil {
		t.Fatal(err)
	}
	r := s.e.pending()
	// An approved request, for the revoke confirmation.
	approved, err := s.e.svc.Act(s.e.as("approver@contoso.test"), s.e.pending().ID, lockbox.EventApprove, lockbox.Decision{})
	if err != nil {
		t.Fatal(err)
	}
	pages := map[string][]string{
		"": {"/signin", "/preferences"},
		"operator@provider.test": {"/requests/new", "/requests", "/requests/" + r.Reference, "/requests/" + r.Reference + "/cancel",
			"/account"},
		"manager@provider.test": {"/review"},
		"approver@contoso.test": {"/requests", "/requests/" + r.Reference, "/requests/" + r.Reference + "/approve", "/settings", "/audit",
			"/requests/" + r.Reference + "/deny", "/requests/" + approved.Reference + "/revoke",
			"/requests/LB-NOSUCHRQ", // the error page (not found)
			"/dev/mail"},
		"admin@contoso.test": {"/users", "/users/auditor@contoso.test/remove", "/policy", "/sso",
			"/webhooks", "/webhooks/" + hook.ID + "/rotate", "/webhooks/" + hook.ID + "/delete", "/webhooks/" + hook.ID + "/deliveries",
			"/webhooks/" + hook.ID + "/edit"},
		"admin@provider.test": {"/tenants", "/staff", "/services", "/service-accounts", "/service-accounts/dev-service/rotate", "/service-accounts/dev-service/revoke",
			"/staff/operator2@provider.test/remove"},
	}
	for email, paths := range pages {
		p := s.person(t)
		if email != "" {
			p.signIn(email)
		}
		for _, width := range []int64{390, 1280} {
			p.do(chromedp.EmulateViewport(width, 844))
			for _, path := range paths {
				p.open(path, "main")
				name := fmt.Sprintf("%s %s at %d px", email, path, width)
				rep := p.check(name)
				for _, v := range rep.Violations {
					t.Errorf("%s: %s (%s): %s on %v", name, v.ID, v.Impact, v.Help, v.Nodes)
				}
				if rep.ScrollWidth > rep.InnerWidth {
					t.Errorf("%s: the page is %d px wide on a %d px screen; too wide: %s", name, rep.ScrollWidth, rep.InnerWidth, strings.Join(rep.Overflowing, ", "))
				}
				if t.Failed() {
					p.shot("axe-" + strings.NewReplacer("/", "_", "@", "_", " ", "_").Replace(name))
				}
			}
		}
	}
}
