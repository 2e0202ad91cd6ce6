package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func (a *app) loginCmd() *cobra.Command {
	var email string
	var sso ssoLoginFlags // sso.go
	var browser bool
	cmd := &cobra.Command{
		Use:   "login --server URL (--email E | --sso [--email E] | --browser)",
		Short: "Sign in and save the session for later commands",
		Long: `Sign in to a Lockbox server. The password is prompted for (without echo)
when standard input is a terminal, and read from LOCKBOX_PASSWORD otherwise.
The session token is saved, readable only by you, in credentials.json under
$LOCKBOX_CONFIG_DIR, or lockbox/ in your configuration directory.

With --sso, sign in through your identity provider instead: lockbox opens
your browser (or prints the address to open) and waits on a loopback port for
the server's answer. --email selects your organisation's IdP by its domain;
without it, the provider's staff IdP is used.

With --browser, sign in to the admin center in your browser, with your
password and your passkey (which the terminal cannot reach), and confirm
there that this command line may use your sign-in: lockbox opens (or prints)
<server>/cli-login and waits on a loopback port, as with --sso. Use it when
your account has a passkey.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			server, err := a.loginServer()
			if err != nil {
				return err
			}
			switch {
			case browser && (sso.on || email != ""):
				return usageErrorf("--browser signs you in as whoever you are in the browser: give it without --sso and --email")
			case browser:
				return a.loginBrowser(cmd, server, sso.timeout)
			case sso.on:
				return a.loginSSO(cmd, server, lockbox.NormalizeEmail(email), sso)
			}
			if email == "" {
				return usageErrorf("--email is required (or sign in with --sso or --browser)")
			}
			password, err := a.readPassword()
			if err != nil {
				return err
			}
			email = lockbox.NormalizeEmail(email)
			s, err := a.dial(server, "").Login(cmd.Context(), email, password)
			switch lockbox.ErrorCode(err) {
			case "":
			case lockbox.EPASSKEYREQUIRED:
				// The terminal cannot reach a browser's authenticator; the
				// browser can, and hands its sign-in over (--browser).
				return lockbox.Errorf(lockbox.EPASSKEYREQUIRED, "Your password is right, but your account has a passkey, and the CLI cannot use one by itself: run `lockbox login --browser --server %s` to sign in with it in your browser and hand the session to the CLI.", server)
			default:
				return err
			}
			if s.PasswordChangeRequired {
				// A one-time password signs in only to be replaced: do it
				// now, with the token it gave, before saving anything.
				fmt.Fprintln(a.stderr, "Your password is a one-time password: choose a new one.")
				if err := a.changePassword(cmd.Context(), a.dial(server, s.Token), password); err != nil {
					return err
				}
			}
			if s.PasskeySetupRequired {
				// The terminal cannot register one: say where to.
				fmt.Fprintln(a.stderr, "Sign-in to your account must be confirmed with a passkey, and it has none: add one on the Account page of the admin center. Until then this session can do nothing else (403 mfa_required).")
			}
			dir, err := configDir(a.getenv)
			if err != nil {
				return err
			}
			c := &credentials{Server: server, Email: email, Token: s.Token, ExpiresAt: s.ExpiresAt.UTC()}
			if err := saveCredentials(dir, c); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Signed in to %s as %s (session expires %s).\n", server, email, formatTime(s.ExpiresAt))
			return nil
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "your email address")
	addSSOLoginFlags(cmd, &sso)
	cmd.Flags().BoolVar(&browser, "browser", false, "sign in in the admin center in a browser, with your passkey if you have one, and hand that sign-in to the CLI (LOCKBOX_NO_BROWSER=1: only print the address to open; --sso-timeout applies)")
	return cmd
}

// loginBrowser: the admin center's /cli-login page, behind its sign-in
// (password, then passkey), asks the person to confirm and sends the
// browser to the loopback with a one-time code (loopbackLogin). The CLI
// builds the address itself: nothing to ask the server first.
func (a *app) loginBrowser(cmd *cobra.Command, server string, timeout time.Duration) error {
	return a.loopbackLogin(cmd, server, timeout, "through the browser", func(_ context.Context, _ ssoClient, redirect, state, challenge string) (string, error) {
		q := url.Values{"redirect_uri": {redirect}, "state": {state}, "code_challenge": {challenge}}
		return strings.TrimSuffix(server, "/") + "/cli-login?" + q.Encode(), nil
	})
}

// loginServer is --server (or LOCKBOX_SERVER), else the server of the saved
// login (to sign in again).
func (a *app) loginServer() (string, error) {
	server := a.server
	if err := a.checkServerFlag(); err != nil {
		return "", err
	}
	if server == "" {
		if c, err := a.savedCredentials(); err == nil && c != nil {
			server = c.Server
		}
	}
	if server == "" {
		return "", usageErrorf("--server is required")
	}
	server, err := normalizeServer(server)
	if err != nil {
		return "", err
	}
	if u, _ := url.Parse(server); u.Scheme == "http" && !isLoopback(u.Hostname()) {
		fmt.Fprintf(a.stderr, "lockbox: warning: %s is not HTTPS; your password and token travel unencrypted\n", server)
	}
	return server, nil
}

func isLoopback(host string) bool {
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1"
}

// readPassword prompts without echo on a terminal, and otherwise reads
// LOCKBOX_PASSWORD (scripts and tests), never a flag: flags show in ps.
func (a *app) readPassword() (string, error) {
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(a.stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", fmt.Errorf("reading password: %w", err)
		}
		if len(b) == 0 {
			return "", errors.New("no password given")
		}
		return string(b), nil
	}
	if p := a.getenv("LOCKBOX_PASSWORD"); p != "" {
		return p, nil
	}
	return "", errors.New("no password: standard input is not a terminal and LOCKBOX_PASSWORD is not set")
}

func (a *app) logoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "End the saved session on the server and forget it",
		Long: `Sign out: the server ends the saved session's token (POST /v1/auth/logout),
so a copy of it is worthless too, and the saved credentials are removed. When
the server cannot be reached the credentials are removed anyway and the
command says the token may still work until it expires.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := configDir(a.getenv)
			if err != nil {
				return err
			}
			if creds, err := a.savedCredentials(); err == nil && creds != nil && creds.Token != "" {
				err := a.dial(creds.Server, creds.Token).Logout(cmd.Context())
				if err != nil && lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
					fmt.Fprintf(a.stderr, "lockbox: warning: the server did not end the session (%s); the token works until %s\n",
						lockbox.ErrorMessage(err), formatTime(creds.ExpiresAt))
				}
			}
			removed, err := removeCredentials(dir)
			if err != nil {
				return err
			}
			if removed {
				fmt.Fprintln(a.stdout, "Signed out.")
			} else {
				fmt.Fprintln(a.stdout, "Not signed in.")
			}
			return nil
		},
	}
}

func (a *app) whoamiCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who you are signed in as",
		Args:  exactArgs(),
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		server, token, err := a.resolve()
		if err != nil {
			return err
		}
		u, err := a.dial(server, token).Me(cmd.Context())
		if err != nil {
			return err
		}
		if format.value == formatJSON {
			return writeJSON(a.stdout, u)
		}
		return writeKV(a.stdout, append(userFields(u), [2]string{"Server", server}))
	}
	return cmd
}

// userFields describes a user as label/value pairs.
func userFields(u *lockbox.User) [][2]string {
	tenant := u.Tenant
	if tenant == "" {
		tenant = "(provider)"
	}
	return [][2]string{
		{"Email", u.Email},
		{"Name", u.Name},
		{"Tenant", tenant},
		{"Roles", joinRoles(u.Roles)},
		{"ID", u.ID},
	}
}

func joinRoles(roles []lockbox.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

func toRoles(names []string) []lockbox.Role {
	roles := make([]lockbox.Role, len(names))
	for i, n := range names {
		roles[i] = lockbox.Role(strings.TrimSpace(n))
	}
	return roles
}
