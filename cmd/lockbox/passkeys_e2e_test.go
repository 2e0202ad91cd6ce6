package main

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox/client"
	"github.com/lockboxhq/lockbox/internal/passkeytest"
)

// TestPasskeysThroughTheCLI: a passkey registered over the API (with a
// software authenticator at the server's localhost origin) is listed and
// removed by `lockbox passkeys`.
func TestPasskeysThroughTheCLI(t *testing.T) {
	t.Parallel()
	srv := startE2E(t)
	ctx := context.Background()
	cli := srv.as("approver@contoso.test") // before the passkey: the password alone signs in
	sess, err := client.New(srv.url, "").Login(ctx, "approver@contoso.test", "lockbox-dev")
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(srv.url, sess.Token)
	a := registerPasskey(t, c, srv.url, "yubikey")
	if out := cli.mustRun("passkeys", "list"); !strings.Contains(out, a.CredentialID()) || !strings.Contains(out, "yubikey") {
		t.Fatalf("passkeys list:\n%s", out)
	}
	srv.as("admin@provider.test").wantFail(1, "not found", "passkeys", "remove", a.CredentialID())
	// With a passkey, the password alone signs in no more, and the CLI
	// says what to do instead; the saved session stays as it was.
	cli.wantFail(1, "the CLI cannot use one", "login", "--server", srv.url, "--email", "approver@contoso.test")
	cli.mustRun("passkeys", "list")
	cli.mustRun("passkeys", "remove", a.CredentialID())
	if out := cli.mustRun("passkeys", "list", "-o", "json"); strings.Contains(out, a.CredentialID()) {
		t.Fatalf("still listed after remove:\n%s", out)
	}
}

// registerPasskey registers a software authenticator's passkey, named
// name, for the account signed in as c on the server at serverURL, over
// the API. WebAuthn refuses IP addresses as relying parties, so the
// authenticator's origin is the server's port at localhost (the relying
// party of a server without --external-url).
func registerPasskey(t *testing.T, c *client.Client, serverURL, name string) *passkeytest.Authenticator {
	t.Helper()
	ctx := context.Background()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	a := passkeytest.New("localhost", "http://localhost:"+u.Port())
	begin, err := c.BeginPasskey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Register(begin.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FinishPasskey(ctx, name, resp); err != nil {
		t.Fatal(err)
	}
	return a
}
