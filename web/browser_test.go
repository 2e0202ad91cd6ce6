package web_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
)

// Browser end-to-end tests: Debian Chromium, headless, driven by chromedp
// against the admin center on a real listener, the real workflow service
// and a real SQLite database. Each person has their own browser context
// (their own cookies), as if on their own machine.
//
// Without a browser they skip (install one with `apt-get install chromium`
// or point LOCKBOX_BROWSER at it); CI sets LOCKBOX_REQUIRE_BROWSER=1 to make
// that a failure. Screenshots go to LOCKBOX_ARTIFACTS (default: a new temp
// directory, logged); LOCKBOX_DOCS_SCREENSHOTS=DIR also writes the README's
// screenshots there.

// browserNames are tried in order when LOCKBOX_BROWSER is not set.
var browserNames = []string{"chromium", "chromium-browser", "chromium-headless-shell", "headless_shell", "google-chrome"}

func findBrowser() string {
	if p := os.Getenv("LOCKBOX_BROWSER"); p != "" {
		return p
	}
	for _, name := range browserNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	for _, p := range []string{"/usr/lib/chromium/chromium", "/usr/lib/chromium/headless_shell"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// shared is the one Chromium of the test binary, started by the first
// test that needs it and stopped by TestMain: starting a browser takes
// seconds, a browser context of its own per person (cookies included)
// takes milliseconds and isolates as well.
var shared struct {
	once sync.Once
	ctx  context.Context // the browser; tabs derive from it
	stop func()
	err  error
}

// startBrowser returns the shared headless Chromium, starting it on first
// use, or skips when there is none.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path := findBrowser()
	if path == "" {
		msg := "no Chromium found: install it (apt-get install chromium) or set LOCKBOX_BROWSER=/path/to/chromium"
		if os.Getenv("LOCKBOX_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg + " (LOCKBOX_REQUIRE_BROWSER=1)")
		}
		t.Skip(msg)
	}
	shared.once.Do(func() { shared.ctx, shared.stop, shared.err = launchBrowser(path) })
	if shared.err != nil {
		t.Fatalf("start %s: %v", path, shared.err)
	}
	return shared.ctx
}

// launchBrowser starts Chromium at path, for the rest of the test binary.
func launchBrowser(path string) (context.Context, func(), error) {
	dir, err := os.MkdirTemp("", "lockbox-chromium-")
	if err != nil {
		return nil, nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.NoSandbox, chromedp.DisableGPU, // CI runs as root in a container
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.UserDataDir(dir), chromedp.WindowSize(1440, 900),
		// The viewer's zone: the page's script picks it up, so times show
		// in Paris time with UTC alongside.
		chromedp.Env("TZ=Europe/Paris"),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	stop := func() {
		_ = chromedp.Cancel(ctx) // closes the browser and waits for it
		cancel()
		cancelAlloc()
		os.RemoveAll(dir)
	}
	// The first run starts the browser and binds its life to the context
	// it is given, so it gets no timeout of its own (chromedp bounds the
	// wait for the browser's address).
	if err := chromedp.Do(ctx); err != nil {
		stop()
		return nil, nil, err
	}
	return ctx, stop, nil
}

// stopBrowser stops the shared browser if a test started it (TestMain).
func stopBrowser() {
	if shared.stop != nil {
		shared.stop()
	}
}

// artifactsDir is where screenshots go.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("LOCKBOX_ARTIFACTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "lockbox-browser-"); err != nil {
			t.Fatal(err)
		}
	}
	dir = filepath.Join(dir, "browser")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// person is one user in their own browser context.
type person struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
}

func (s *suite) person(t *testing.T) *person {
	t.Helper()
	ctx, cancel := chromedp.NewContext(s.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first run opens the tab and binds it to ctx: no timeout here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return &person{t: t, ctx: ctx, base: s.base, dir: s.dir}
}

// do runs steps with a time limit, saving a screenshot if they fail.
func (p *person) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.shot("failed-" + strings.ReplaceAll(p.t.Name(), "/", "-"))
		p.t.Fatalf("browser: %v", err)
	}
}

// open navigates to path and waits for sel.
func (p *person) open(path, sel string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.base+path), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// click clicks sel and waits for next (an element of the page it leads to).
func (p *person) click(sel, next string) {
	p.t.Helper()
	p.do(chromedp.Click(chromedp.CSS(sel)), chromedp.WaitVisible(chromedp.CSS(next)))
}

// text returns the visible text of sel once it is there. A page still
// settling after a redirect can replace the node between finding it and
// reading it ("No node with given id found", seen in CI under load), so
// the read is retried until the time limit; any other error fails at once.
func (p *person) text(sel string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	for {
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err == nil {
			return strings.TrimSpace(s)
		}
		if ctx.Err() != nil || !strings.Contains(err.Error(), "No node with given id found") {
			p.t.Fatalf("text of %s: %v", sel, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// present reports whether sel matches anything now (without waiting).
func (p *person) present(sel string) bool {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf("document.querySelector(%q) !== null", sel)))
	if err != nil {
		p.t.Fatalf("query %s: %v", sel, err)
	}
	return ok
}

func (p *person) signIn(email string) {
	p.t.Helper()
	p.open("/signin", "#email")
	p.do(chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), approval.DevPassword))
	p.click("#signin", "nav.side")
}

// shot saves a full-page screenshot as an artifact and, when docs is set,
// as a README screenshot.
func (p *person) shot(name string, docs ...bool) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(p.dir, name+".png"), png, 0o644); err != nil {
		p.t.Errorf("save screenshot: %v", err)
	}
	if dir := os.Getenv("LOCKBOX_DOCS_SCREENSHOTS"); dir != "" && len(docs) > 0 && docs[0] {
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			p.t.Errorf("save docs screenshot: %v", err)
		}
	}
}

// cookie returns the value of the session cookie the browser holds.
func (p *person) cookie(name string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{p.base}})
	if err != nil {
		p.t.Fatalf("cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

type suite struct {
	e       *env
	browser context.Context
	base    string
	dir     string
}

// TestBrowser runs the scenarios in parallel, each on a server and
// database of its own, in the shared browser.
func TestBrowser(t *testing.T) {
	t.Parallel()
	b := startBrowser(t)
	dir := artifactsDir(t)
	for _, sc := range []struct {
		name string
		run  func(*suite, *testing.T)
	}{
		{"ApproverApprovesByReference", (*suite).approverApproves},
		{"ManagerCannotApproveOwnRequest", (*suite).managerOwnRequest},
		{"CrossSiteFormRefused", (*suite).crossSiteRefused},
		{"AuditorDownloadsCSV", (*suite).auditorDownloadsCSV},
		{"SignOutEndsSession", (*suite).signOutEndsSession},
		{"TwoOfTwoWithNarrowing", (*suite).twoOfTwoWithNarrowing},
		{"PolicyPage", (*suite).policyPage},
		{"BreakGlassStandsOutAndIsAcknowledged", (*suite).breakGlassAcknowledged},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			srv := httptest.NewServer(e.h)
			t.Cleanup(srv.Close)
			sc.run(&suite{e: e, browser: b, base: srv.URL, dir: dir}, t)
		})
	}
}

// twoOfTwoWithNarrowing: a tenant needs two approvers. The first approves
// one hour instead of two and unticks an operation; the page then shows one
// approval of two and who still may approve. The second approves as shown,
// and the request is active for one hour with the one operation.
func (s *suite) twoOfTwoWithNarrowing(t *testing.T) {
	r := s.e.pendingOfTwo()
	first := s.person(t)
	first.signIn("approver@contoso.test")
	first.open("/requests/"+r.Reference, "#action-approve")
	first.click("#action-approve", "#duration_minutes")
	first.do(chromedp.SetValue(chromedp.CSS("#duration_minutes"), "60"),
		chromedp.Click(chromedp.CSS("#op-Repair-Mailbox")),
		chromedp.SendKeys(chromedp.CSS("#comment"), "Statistics only, one hour"))
	first.shot("approve-narrowing", true)
	first.click("#confirm", ".notice.ok")
	if got := first.text("#approvals"); !strings.Contains(got, "1 of 2") || !strings.Contains(got, "admin@contoso.test") {
		t.Errorf("approvals after the first: %q", got)
	}
	if first.present("#action-approve") {
		t.Error("the first approver is offered to approve again")
	}
	first.shot("approval-one-of-two", true)
	second := s.person(t)
	second.signIn("admin@contoso.test")
	second.open("/requests/"+r.Reference, "#action-approve")
	second.click("#action-approve", "#confirm")
	second.click("#confirm", ".notice.ok")
	if got := second.text("#status"); !strings.Contains(got, "Active") {
		t.Errorf("after two approvals the page shows %q, want Active", got)
	}
	if got := second.text("#duration"); got != "1 h" {
		t.Errorf("duration shown %q, want 1 h", got)
	}
	got := s.e.get(r.ID)
	if got.Status != lockbox.StatusActive || got.DurationMinutes != 60 || strings.Join(got.Operations, ",") != "Get-MailboxStatistics" {
		t.Errorf("stored: %s for %d min with %v", got.Status, got.DurationMinutes, got.Operations)
	}
}

// breakGlassAcknowledged: a break-glass request that ran and was revoked
// stands out in the list and on its page, with its access report; the
// approver acknowledges it and it no longer needs review.
func (s *suite) breakGlassAcknowledged(t *testing.T) {
	r := s.e.breakGlassEnded()
	p := s.person(t)
	p.signIn("approver@contoso.test")
	p.open("/requests?needs_review=1", "tr.breakglass-row")
	if got := p.text("#requests"); !strings.Contains(got, r.Reference) || !strings.Contains(got, "Break-glass") || !strings.Contains(got, "Needs review") {
		t.Errorf("needs-review list: %q", got)
	}
	p.shot("break-glass-list", true)
	p.click("a[href='/requests/"+r.Reference+"']", "#break-glass")
	if got := p.text("#break-glass"); !strings.Contains(got, "INC-4711") || !strings.Contains(got, "without approval") || !strings.Contains(got, "Needs review") {
		t.Errorf("break-glass banner: %q", got)
	}
	if got := p.text("#access-report"); !strings.Contains(got, "Get-MailboxStatistics") {
		t.Errorf("access report: %q", got)
	}
	p.shot("break-glass-request", true)
	p.click("#action-acknowledge", "#comment")
	p.do(chromedp.SendKeys(chromedp.CSS("#comment"), "Reviewed with our SOC."))
	p.click("#confirm", ".notice.ok")
	if p.present("#needs-review") || p.present("#action-acknowledge") {
		t.Error("the acknowledged request still asks for review")
	}
	if got := s.e.get(r.ID); got.NeedsReview || got.AcknowledgedBy == nil || *got.AcknowledgedBy != "approver@contoso.test" {
		t.Errorf("stored after acknowledging: needs_review %v, by %v", got.NeedsReview, got.AcknowledgedBy)
	}
}

// approverApproves: an approver signs in, finds a pending request by the
// reference from the email, approves it with a comment after the
// confirmation step, and sees it active.
func (s *suite) approverApproves(t *testing.T) {
	older := s.e.pending()
	r := s.e.pending()
	p := s.person(t)
	p.signIn("approver@contoso.test")
	p.open("/requests", "#requests")
	if got := p.text("#requests tbody tr:first-child .ref"); got != r.Reference {
		t.Errorf("newest first: first row %s, want %s (then %s)", got, r.Reference, older.Reference)
	}
	p.shot("requests", true)
	p.do(chromedp.SendKeys(chromedp.CSS("#ref"), strings.ToLower(r.Reference)))
	p.click(`form[role="search"] button`, "#reference")
	if got := p.text("#reference"); got != r.Reference {
		t.Fatalf("opened %s, want %s", got, r.Reference)
	}
	if got := p.text("#status"); !strings.Contains(got, "Pending") {
		t.Errorf("status %q, want Pending", got)
	}
	// The script set the zone from the browser: Paris time, UTC alongside.
	if got := p.text("dl.fields"); !strings.Contains(got, "CET (") || !strings.Contains(got, "UTC)") {
		t.Errorf("times not shown in the viewer's zone with UTC alongside:\n%s", got)
	}
	p.shot("request-detail", true)
	p.click("#action-approve", "#confirm")
	p.do(chromedp.SendKeys(chromedp.CSS("#comment"), "OK for 2h, SR checked"))
	p.shot("approve-confirm", true)
	p.click("#confirm", ".notice.ok")
	if got := p.text("#status"); !strings.Contains(got, "Active") {
		t.Errorf("after approval the page shows %q, want Active", got)
	}
	if got := s.e.get(r.ID); got.Status != lockbox.StatusActive || got.DecisionComment == nil || *got.DecisionComment != "OK for 2h, SR checked" {
		t.Errorf("stored: %s, comment %v", got.Status, got.DecisionComment)
	}
	p.shot("request-active")
	p.open("/settings", "#require_approval")
	p.shot("settings", true)
	// A bad value is named next to its field, and nothing is saved.
	p.do(chromedp.SetValue(chromedp.CSS("#request_ttl_minutes"), "5"))
	p.click("#save-settings", "#request_ttl_minutes-error")
	if got := p.text("#request_ttl_minutes-error"); got != "Must be between 60 and 10080; got 5." {
		t.Errorf("inline error %q", got)
	}
	p.shot("settings-error", true)
}

// managerOwnRequest: a person who is operator and support manager files a
// request through the New request form; the review queue shows it as not
// approvable by them, and its page offers no review button.
func (s *suite) managerOwnRequest(t *testing.T) {
	_, err := s.e.svc.AddStaff(s.e.as("admin@provider.test"), lockbox.NewUser{Email: "lead@provider.test",
		Roles: []lockbox.Role{lockbox.RoleOperator, lockbox.RoleSupportManager}, Password: approval.DevPassword})
	if err != nil {
		t.Fatal(err)
	}
	other := s.e.file()
	p := s.person(t)
	p.signIn("lead@provider.test")
	p.open("/requests/new", "#new-request")
	p.do(chromedp.SendKeys(chromedp.CSS("#tenant"), "contoso"),
		chromedp.SetValue(chromedp.CSS("#service"), "sharepoint"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('service').dispatchEvent(new Event('change'))`),
		chromedp.Click(chromedp.CSS(`input[value="sharepoint/Get-SiteStorage"]`)),
		chromedp.SendKeys(chromedp.CSS("#service_request"), "SR-2026-009001"),
		chromedp.SendKeys(chromedp.CSS("#reason"), "Site storage report is wrong; need to read storage metrics."),
		chromedp.SetValue(chromedp.CSS("#duration"), "45m"))
	if p.present(`.ops-group[data-service="exchange"]:not([hidden])`) {
		t.Error("the script left other services' operations visible")
	}
	p.shot("new-request", true)
	p.click("#submit-request", "#reference")
	ref := p.text("#reference")
	if got := p.text("#blocked"); !strings.Contains(got, "You filed this request, so you cannot review it") {
		t.Errorf("own request page: blocked = %q", got)
	}
	if p.present("#action-review-approve") {
		t.Error("own request offers a review button")
	}
	p.open("/review", "#requests")
	rows := p.text("#requests tbody")
	if !strings.Contains(rows, ref) || !strings.Contains(rows, other.Reference) {
		t.Fatalf("review queue lacks %s or %s:\n%s", ref, other.Reference, rows)
	}
	if !p.present(fmt.Sprintf(`a[href="/requests/%s/review-approve"]`, other.Reference)) ||
		p.present(fmt.Sprintf(`a[href="/requests/%s/review-approve"]`, ref)) {
		t.Error("the queue must offer review of others' requests only")
	}
	if !strings.Contains(rows, "Not approvable by you: You filed this request") {
		t.Errorf("the queue does not say why the own request is not approvable:\n%s", rows)
	}
	p.shot("review-queue", true)
	got, err := s.e.svc.GetRequest(s.e.as("manager@provider.test"), ref)
	if err != nil || got.Status != lockbox.StatusPendingReview || got.DurationMinutes != 45 ||
		strings.Join(got.Operations, ",") != "Get-SiteStorage" {
		t.Errorf("filed request = %+v, %v", got, err)
	}
}

// crossSiteRefused: a page on another site posts a hidden approval form to
// the admin center while the approver is signed in; Lockbox refuses it.
func (s *suite) crossSiteRefused(t *testing.T) {
	r := s.e.pending()
	p := s.person(t)
	p.signIn("approver@contoso.test")
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>You won a prize</title>
<form method="post" action="%s/requests/%s/approve">
<input type="hidden" name="version" value="%d"><input type="hidden" name="comment" value="pwned">
<button id="claim" type="submit">Claim your prize</button></form>`, s.base, r.Reference, r.Version)
	}))
	t.Cleanup(evil.Close)
	// localhost and 127.0.0.1 are different sites to the browser.
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)
	p.do(chromedp.Navigate(evilURL), chromedp.WaitVisible(chromedp.CSS("#claim")))
	p.click("#claim", "#error-message")
	if got := p.text("#error-message"); !strings.Contains(got, "sent from another web site") {
		t.Errorf("error page says %q", got)
	}
	p.shot("cross-site-refused")
	if got := s.e.get(r.ID); got.Status != lockbox.StatusPending || got.Version != r.Version {
		t.Errorf("after the cross-site post: %s v%d, want pending v%d", got.Status, got.Version, r.Version)
	}
}

// auditorDownloadsCSV: an audit reader searches the log, sees the verified
// checkpoint, and downloads the CSV, which holds an approval.
func (s *suite) auditorDownloadsCSV(t *testing.T) {
	if _, err := s.e.svc.Act(s.e.as("approver@contoso.test"), s.e.pending().ID, lockbox.EventApprove, lockbox.Decision{}); err != nil {
		t.Fatal(err)
	}
	p := s.person(t)
	p.signIn("auditor@contoso.test")
	p.open("/audit", "#audit-records")
	if got := p.text("#checkpoint-status"); got != "Verified" {
		t.Errorf("checkpoint status %q, want Verified", got)
	}
	p.shot("audit-log", true)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	// Download events are the browser's, not the page's; subscribe before
	// the click so none is missed. The iteration ends with ctx.
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	p.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: new(true),
			BrowserContextID: chromedp.FromContext(ctx).BrowserContextID})
		return err
	}), chromedp.Click(chromedp.CSS("#download-csv")))
	var file string
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("waiting for the download: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			file = filepath.Join(dir, ev.GUID)
			break
		}
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("downloaded CSV: %v", err)
	}
	if len(rows) < 2 || strings.Join(rows[0], ",") != "RecordId,CreationDate,RecordType,Operation,UserId,AuditData" {
		t.Fatalf("CSV = %q", rows)
	}
	var approved bool
	for _, row := range rows[1:] {
		approved = approved || (row[3] == lockbox.OpRequestApproved && row[4] == "approver@contoso.test")
	}
	if !approved {
		t.Errorf("the CSV has no approval by approver@contoso.test: %q", rows)
	}
}

// signOutEndsSession: after sign-out the browser is signed out and the old
// cookie, replayed from elsewhere, is refused.
func (s *suite) signOutEndsSession(t *testing.T) {
	p := s.person(t)
	p.signIn("admin@contoso.test")
	old := p.cookie("lockbox_session")
	if old == "" {
		t.Fatal("no session cookie after sign-in")
	}
	p.click(".who button", "#signin")
	if got := p.text(".notice.ok"); got != "You have signed out." {
		t.Errorf("after sign-out: %q", got)
	}
	if p.cookie("lockbox_session") != "" {
		t.Error("the browser still holds the session cookie")
	}
	p.open("/users", "#signin") // back to the sign-in page, not the users page
	req, _ := http.NewRequest(http.MethodGet, s.base+"/users", nil)
	req.AddCookie(&http.Cookie{Name: "lockbox_session", Value: old})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/signin") {
		t.Errorf("replayed old cookie: %d to %q, want 303 to /signin", res.StatusCode, res.Header.Get("Location"))
	}
	p.shot("signin", true)
}
