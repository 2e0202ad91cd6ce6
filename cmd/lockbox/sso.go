package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockboxhq/lockbox"
)

// Single sign-on from the CLI (SPEC §10.2): `lockbox login --sso` over a
// loopback redirect (RFC 8252, as `gcloud auth login` does), and `lockbox
// sso get|set|delete` for a tenant's own IdP.

type ssoLoginFlags struct {
	on      bool
	timeout time.Duration
}

func addSSOLoginFlags(cmd *cobra.Command, f *ssoLoginFlags) {
	cmd.Flags().BoolVar(&f.on, "sso", false, "sign in through your identity provider in a browser (LOCKBOX_NO_BROWSER=1: only print the address to open)")
	cmd.Flags().DurationVar(&f.timeout, "sso-timeout", 5*time.Minute, "how long to wait for the browser sign-in")
}

// ssoClient is what `login --sso` and `lockbox sso` need of the server
// beyond the api interface (only the HTTP client offers it).
type ssoClient interface {
	StartSSO(ctx context.Context, email, redirectURI, state, codeChallenge string) (string, error)
	RedeemSSOCode(ctx context.Context, code, verifier string) (*lockbox.Session, error)
	GetTenantSSO(ctx context.Context, tenant string) (*lockbox.TenantSSO, error)
	PutTenantSSO(ctx context.Context, tenant string, in lockbox.TenantSSOInput) (*lockbox.TenantSSO, error)
	DeleteTenantSSO(ctx context.Context, tenant string) error
}

func asSSO(c api) (ssoClient, error) {
	s, ok := c.(ssoClient)
	if !ok {
		return nil, errors.New("this client cannot use single sign-on")
	}
	return s, nil
}

func randomURLSafe() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// loginSSO: ask the server for the IdP's URL with the loopback's PKCE
// challenge, and sign in there (loopbackLogin).
func (a *app) loginSSO(cmd *cobra.Command, server, email string, f ssoLoginFlags) error {
	return a.loopbackLogin(cmd, server, f.timeout, "with single sign-on", func(ctx context.Context, c ssoClient, redirect, state, challenge string) (string, error) {
		return c.StartSSO(ctx, email, redirect, state, challenge)
	})
}

// loopbackLogin: listen on 127.0.0.1:0, open the address open gives for
// the loopback redirect, a state and a PKCE challenge (lockbox login --sso
// and --browser), receive the one-time code on the loopback, trade it with
// the verifier (which never left this process) for a token, and save it.
func (a *app) loopbackLogin(cmd *cobra.Command, server string, timeout time.Duration, how string,
	open func(ctx context.Context, c ssoClient, redirect, state, challenge string) (string, error)) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	c, err := asSSO(a.dial(server, ""))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen on a loopback port for the sign-in: %w", err)
	}
	defer ln.Close()
	redirect := fmt.Sprintf("http://%s/callback", ln.Addr())
	verifier, state := randomURLSafe(), randomURLSafe()
	sum := sha256.Sum256([]byte(verifier))
	authURL, err := open(ctx, c, redirect, state, base64.RawURLEncoding.EncodeToString(sum[:]))
	if err != nil {
		return err
	}

	codes := make(chan string, 1)
	declined := make(chan struct{}, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path == "/callback" && q.Get("state") == state && q.Get("error") == "access_denied" {
			// The person chose Cancel (web/clilogin.go): stop waiting.
			loopbackPage(w, http.StatusOK, "You did not sign in. You can close this tab and return to your terminal.")
			select {
			case declined <- struct{}{}:
			default:
			}
			return
		}
		if r.URL.Path != "/callback" || q.Get("state") != state || q.Get("code") == "" {
			loopbackPage(w, http.StatusBadRequest, "This is not the sign-in lockbox is waiting for. Return to your terminal.")
			return
		}
		loopbackPage(w, http.StatusOK, "You are signed in to Lockbox. You can close this tab and return to your terminal.")
		select {
		case codes <- q.Get("code"):
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	// Shutdown, not Close: the browser's page from the loopback (signed
	// in, or canceled) must be sent whole before the command ends, which
	// for a Cancel is as soon as the handler has told it.
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()

	fmt.Fprintf(a.stderr, "Sign in in your browser. If it does not open, open this address:\n\n    %s\n\nWaiting for the sign-in (up to %s)…\n", authURL, timeout)
	if a.getenv("LOCKBOX_NO_BROWSER") == "" {
		if err := openBrowser(authURL); err != nil {
			fmt.Fprintf(a.stderr, "lockbox: could not open a browser (%v); open the address above yourself.\n", err)
		}
	}
	var code string
	select {
	case code = <-codes:
	case <-declined:
		return errors.New("the sign-in was canceled in the browser; nothing was signed in")
	case <-ctx.Done():
		return fmt.Errorf("no sign-in arrived within %s; if the browser showed an error, it says why", timeout)
	}
	s, err := c.RedeemSSOCode(ctx, code, verifier)
	if err != nil {
		return err
	}
	u, err := a.dial(server, s.Token).Me(ctx)
	if err != nil {
		return err
	}
	dir, err := configDir(a.getenv)
	if err != nil {
		return err
	}
	if err := saveCredentials(dir, &credentials{Server: server, Email: u.Email, Token: s.Token, ExpiresAt: s.ExpiresAt.UTC()}); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "Signed in to %s as %s %s (session expires %s).\n", server, u.Email, how, formatTime(s.ExpiresAt))
	return nil
}

func loopbackPage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Lockbox</title></head><body><p>%s</p></body></html>", html.EscapeString(msg))
}

// openBrowser opens url with the desktop's opener, without waiting for it.
func openBrowser(url string) error {
	var c *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		c = exec.Command("open", url)
	case "windows":
		c = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		c = exec.Command("xdg-open", url)
	}
	if err := c.Start(); err != nil {
		return err
	}
	go func() { _ = c.Wait() }()
	return nil
}

func (a *app) ssoCmd() *cobra.Command {
	return group("sso", "Show, set and remove a tenant's own identity provider (global admins)",
		a.ssoGetCmd(), a.ssoSetCmd(), a.ssoDeleteCmd())
}

func ssoKV(c *lockbox.TenantSSO) [][2]string {
	secret := "not set"
	if c.ClientSecretSet {
		secret = "set (never shown)"
	}
	return [][2]string{{"tenant", c.Tenant}, {"issuer", c.Issuer}, {"client_id", c.ClientID}, {"client_secret", secret},
		{"allowed_domains", strings.Join(c.AllowedDomains, ", ")}, {"enforce", fmt.Sprint(c.Enforce)},
		{"break_glass", c.BreakGlass}, {"updated_at", formatTime(c.UpdatedAt)}}
}

func (a *app) ssoGetCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{Use: "get --tenant T", Short: "Show the tenant's identity provider (never its secret)", Args: exactArgs()}
	cmd.Flags().StringVar(&tenant, "tenant", "", "the tenant (default: your own)")
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := a.ownTenant(cmd, &tenant); err != nil {
			return err
		}
		c, err := ask(a, func(c api) (*lockbox.TenantSSO, error) {
			s, err := asSSO(c)
			if err != nil {
				return nil, err
			}
			return s.GetTenantSSO(cmd.Context(), tenant)
		})
		if err != nil {
			return err
		}
		if format.value == formatJSON {
			return writeJSON(a.stdout, c)
		}
		return writeKV(a.stdout, ssoKV(c))
	}
	return cmd
}

func (a *app) ssoSetCmd() *cobra.Command {
	var (
		tenant string
		in     lockbox.TenantSSOInput
	)
	cmd := &cobra.Command{
		Use:   "set --tenant T --issuer URL --client-id ID --allowed-domain D... [--enforce --break-glass EMAIL]",
		Short: "Set the tenant's identity provider (the client secret is read from LOCKBOX_SSO_CLIENT_SECRET)",
		Long: `Set the tenant's own OpenID Connect identity provider. Register Lockbox there as a web
application with the redirect URI <server>/auth/callback and the scopes openid email profile.
The client secret is read from LOCKBOX_SSO_CLIENT_SECRET (never a flag: flags show in ps);
left unset, the stored secret is kept, for the same --issuer and --client-id only (the
server refuses to send it to another IdP client).`,
		Args: exactArgs(),
	}
	fl := cmd.Flags()
	fl.StringVar(&tenant, "tenant", "", "the tenant (default: your own)")
	fl.StringVar(&in.Issuer, "issuer", "", "the IdP's issuer URL")
	fl.StringVar(&in.ClientID, "client-id", "", "Lockbox's client id at the IdP")
	fl.StringSliceVar(&in.AllowedDomains, "allowed-domain", nil, "an email domain of your users (repeat, or comma-separate)")
	fl.BoolVar(&in.Enforce, "enforce", false, "refuse password sign-in to the tenant's users, except --break-glass")
	fl.StringVar(&in.BreakGlass, "break-glass", "", "the global admin who may still use a password (required with --enforce)")
	required(cmd, "issuer", "client-id", "allowed-domain")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := a.ownTenant(cmd, &tenant); err != nil {
			return err
		}
		in.ClientSecret = a.getenv("LOCKBOX_SSO_CLIENT_SECRET")
		c, err := ask(a, func(c api) (*lockbox.TenantSSO, error) {
			s, err := asSSO(c)
			if err != nil {
				return nil, err
			}
			return s.PutTenantSSO(cmd.Context(), tenant, in)
		})
		if err != nil {
			return err
		}
		return writeKV(a.stdout, ssoKV(c))
	}
	return cmd
}

func (a *app) ssoDeleteCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{Use: "delete --tenant T", Short: "Remove the tenant's identity provider: users sign in with passwords again", Args: exactArgs()}
	cmd.Flags().StringVar(&tenant, "tenant", "", "the tenant (default: your own)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := a.ownTenant(cmd, &tenant); err != nil {
			return err
		}
		_, err := ask(a, func(c api) (struct{}, error) {
			s, err := asSSO(c)
			if err != nil {
				return struct{}{}, err
			}
			return struct{}{}, s.DeleteTenantSSO(cmd.Context(), tenant)
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Single sign-on of %s removed: its users sign in with passwords again.\n", tenant)
		return nil
	}
	return cmd
}
