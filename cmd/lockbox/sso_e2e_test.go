package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/testop"
	"github.com/lockboxhq/lockbox/sqlite"
)

// runEnv runs one command line in-process with extra variables.
func (e *e2e) runEnv(extra map[string]string, stdout, stderr io.Writer, args ...string) int {
	env := map[string]string{"LOCKBOX_CONFIG_DIR": e.config, "LOCKBOX_PASSWORD": "lockbox-dev"}
	for k, v := range extra {
		env[k] = v
	}
	return run(context.Background(), args, strings.NewReader(""), stdout, stderr, func(k string) string { return env[k] })
}

var authURLRE = regexp.MustCompile(`open this address:\s+(\S+)`)

// loginSSO runs `lockbox login --sso` as a person would, with the browser
// played by an HTTP client: it reads the address the CLI prints, signs in
// at the real test OP as who, follows Lockbox's callback to the CLI's
// loopback, and returns the CLI's exit code and output.
func (e *e2e) loginSSO(who string, args ...string) (int, string, string) {
	e.t.Helper()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- e.runEnv(map[string]string{"LOCKBOX_NO_BROWSER": "1"}, &out, &errb,
			append([]string{"login", "--sso", "--sso-timeout", "1m", "--server", e.url}, args...)...)
	}()
	var authURL string
	for authURL == "" {
		select {
		case code := <-done:
			return code, out.String(), errb.String()
		case <-time.After(20 * time.Millisecond):
		}
		if m := authURLRE.FindStringSubmatch(errb.String()); m != nil {
			authURL = m[1]
		}
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	callback, err := testop.SignIn(e.t.Context(), noFollow, authURL, who, testop.DefaultPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := noFollow.Get(callback) // Lockbox's /auth/callback
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	if loop := res.Header.Get("Location"); strings.HasPrefix(loop, "http://127.0.0.1:") {
		res, err := noFollow.Get(loop) // the CLI's loopback listener
		if err != nil {
			e.t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "signed in") {
			e.t.Errorf("loopback page: %d %s", res.StatusCode, body)
		}
	} else {
		e.t.Logf("Lockbox's callback answered %d (no loopback redirect)", res.StatusCode)
		return -1, out.String(), errb.String()
	}
	return <-done, out.String(), errb.String()
}

// TestSSOThroughTheCLI: `lockbox serve --oidc-issuer … --oidc-only`
// against the real test OP; a tenant's global admin sets contoso's IdP
// with `lockbox sso set`; `lockbox login --sso` signs staff and a tenant
// user in over the loopback redirect; passwords are refused as configured.
func TestSSOThroughTheCLI(t *testing.T) {
	t.Parallel()
	op, err := testop.Start("127.0.0.1:0", testop.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	ctx := context.Background()
	dataDir := t.TempDir()
	rs, err := startServer(ctx, serverConfig{Listen: "127.0.0.1:0", Dev: true, WorkerPoll: 50 * time.Millisecond,
		Database: filepath.Join(dataDir, "lockbox.db"), PasswordMemoryKiB: 64,
		SSO: ssoConfig{Issuer: op.Issuer("provider"), ClientID: testop.DefaultClientID, ClientSecret: testop.DefaultClientSecret, OIDCOnly: true}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close(ctx) })
	for _, iss := range []string{"provider", "contoso"} {
		if err := op.AddClient(iss, testop.Client{ID: testop.DefaultClientID, Secret: testop.DefaultClientSecret,
			RedirectURIs: []string{rs.URL() + "/auth/callback"}}); err != nil {
			t.Fatal(err)
		}
	}
	srv := &e2e{t: t, url: rs.URL()}

	// --oidc-only: staff passwords are refused.
	staff := &e2e{t: t, url: srv.url, config: t.TempDir()}
	staff.wantFail(1, "single sign-on", "login", "--server", srv.url, "--email", "operator@provider.test")
	code, out, errOut := staff.loginSSO("operator@provider.test")
	if code != 0 || !strings.Contains(out, "as operator@provider.test") {
		t.Fatalf("staff login --sso: exit %d\n%s\n%s", code, out, errOut)
	}
	if out := staff.mustRun("whoami"); !strings.Contains(out, "operator@provider.test") {
		t.Errorf("whoami after login --sso: %s", out)
	}

	// A reset staff member who signs in through the IdP before using the
	// one-time password has it voided, so no password at all: passwd
	// --first chooses one, with no current password.
	provider := &e2e{t: t, url: srv.url, config: t.TempDir()}
	if code, out, errOut := provider.loginSSO("admin@provider.test"); code != 0 {
		t.Fatalf("provider admin login --sso: exit %d\n%s\n%s", code, out, errOut)
	}
	provider.mustRun("staff", "reset-password", "operator2@provider.test")
	reset := &e2e{t: t, url: srv.url, config: t.TempDir()}
	if code, out, errOut := reset.loginSSO("operator2@provider.test"); code != 0 {
		t.Fatalf("login --sso after a reset: exit %d\n%s\n%s", code, out, errOut)
	}
	first := map[string]string{"LOCKBOX_NEW_PASSWORD": "operator two's first passphrase"}
	var pout, perr bytes.Buffer
	if code := reset.runEnv(first, &pout, &perr, "passwd"); code != 1 || !strings.Contains(perr.String(), "leave the current password empty") {
		t.Fatalf("passwd with a current password, on an account with none: %d\n%s", code, perr.String())
	}
	perr.Reset()
	if code := reset.runEnv(first, &pout, &perr, "passwd", "--first"); code != 0 {
		t.Fatalf("passwd --first: %d\n%s", code, perr.String())
	}
	if out := reset.mustRun("whoami"); !strings.Contains(out, "operator2@provider.test") {
		t.Errorf("whoami after passwd --first: %s", out)
	}

	// The tenant's global admin sets contoso's IdP; the secret comes from
	// the environment and is never shown back.
	admin := srv.as("admin@contoso.test")
	var sout, serr bytes.Buffer
	if code := admin.runEnv(map[string]string{"LOCKBOX_SSO_CLIENT_SECRET": testop.DefaultClientSecret}, &sout, &serr,
		"sso", "set", "--tenant", "contoso", "--issuer", op.Issuer("contoso"), "--client-id", testop.DefaultClientID,
		"--allowed-domain", "contoso.test", "--enforce", "--break-glass", "admin@contoso.test"); code != 0 {
		t.Fatalf("sso set: %d\n%s", code, serr.String())
	}
	// The database never holds it in clear (lockbox.db and its WAL).
	wantNotInFiles(t, dataDir, testop.DefaultClientSecret)
	got := admin.mustRun("sso", "get", "--tenant", "contoso")
	if strings.Contains(got, testop.DefaultClientSecret) || !strings.Contains(got, "set (never shown)") || !strings.Contains(got, "contoso.test") {
		t.Errorf("sso get:\n%s", got)
	}
	// Enforced: the approver's password is refused; single sign-on works.
	approver := &e2e{t: t, url: srv.url, config: t.TempDir()}
	approver.wantFail(1, "single sign-on", "login", "--server", srv.url, "--email", "approver@contoso.test")
	code, out, errOut = approver.loginSSO("approver@contoso.test", "--email", "approver@contoso.test")
	if code != 0 || !strings.Contains(out, "as approver@contoso.test") {
		t.Fatalf("tenant login --sso: exit %d\n%s\n%s", code, out, errOut)
	}
	approver.mustRun("requests", "list")

	admin.mustRun("sso", "delete", "--tenant", "contoso")
	admin.wantFail(1, "No single sign-on", "sso", "get", "--tenant", "contoso")
}

// wantNotInFiles fails if any file directly in dir contains secret.
func wantNotInFiles(t *testing.T, dir, secret string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the secret in clear", e.Name())
		}
	}
}

// TestServeSealsClearSSOSecrets: a tenant's client secret stored in clear
// by a version before sealing is sealed when the server starts.
func TestServeSealsClearSSOSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	cfg := serverConfig{Listen: "127.0.0.1:0", Dev: true, Database: filepath.Join(dir, "lockbox.db"), PasswordMemoryKiB: 64}
	rs, err := startServer(ctx, cfg, io.Discard) // creates and seeds the database
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Close(ctx); err != nil {
		t.Fatal(err)
	}
	const clear = "a-secret-stored-in-clear"
	st, err := sqlite.Open(ctx, cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Update(ctx, func(tx lockbox.Tx) error {
		return tx.PutTenantSSO(ctx, &lockbox.TenantSSO{Tenant: "contoso", Issuer: "https://idp.contoso.test",
			ClientID: "lockbox", ClientSecret: clear, AllowedDomains: []string{"contoso.test"}})
	}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	if rs, err = startServer(ctx, cfg, io.Discard); err != nil {
		t.Fatal(err)
	}
	var c *lockbox.TenantSSO
	err = rs.store.View(ctx, func(tx lockbox.Tx) (err error) {
		c, err = tx.GetTenantSSO(ctx, "contoso")
		return err
	})
	if err := rs.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err != nil || !strings.HasPrefix(c.ClientSecret, lockbox.SealedPrefix) {
		t.Fatalf("stored secret after a start: %v, want it sealed", err)
	}
	wantNotInFiles(t, dir, clear)
}
