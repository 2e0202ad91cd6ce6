package main

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/client"
)

// api is everything the CLI asks of a Lockbox server. Commands depend on
// this interface, not on the HTTP client, so tests can hand them a fake.
type api interface {
	lockbox.RequestService
	lockbox.AccountService
	lockbox.TenantService
	lockbox.CatalogService
}

// clockAdvancer is the dev-only clock endpoint, which only the HTTP client
// offers.
type clockAdvancer interface {
	AdvanceClock(ctx context.Context, d time.Duration) (time.Time, error)
}

var _ clockAdvancer = (*client.Client)(nil)

// newClient returns the HTTP client of the server at baseURL; token may be ""
// (to log in).
func newClient(baseURL, token string) api { return client.New(baseURL, token) }

// resolve finds the server and token: flags (or their variables), then the
// saved login (whose token is used only for the server it was issued by).
func (a *app) resolve() (server, token string, err error) {
	server, token = a.server, a.token
	if err := a.checkServerFlag(); err != nil {
		return "", "", err
	}
	if server == "" || token == "" {
		creds, err := a.savedCredentials()
		if err != nil {
			return "", "", err
		}
		if creds != nil && server == "" {
			server = creds.Server
		}
		if creds != nil && token == "" && sameServer(creds.Server, server) {
			token = creds.Token
		}
	}
	if server == "" || token == "" {
		return "", "", errNotSignedIn
	}
	if server, err = normalizeServer(server); err != nil {
		return "", "", err
	}
	return server, token, nil
}

// checkServerFlag refuses a --server (or LOCKBOX_SERVER) that is not a
// server URL, as a usage error.
func (a *app) checkServerFlag() error {
	if a.server == "" {
		return nil
	}
	if _, err := normalizeServer(a.server); err != nil {
		return &usageError{msg: "--server (or LOCKBOX_SERVER): " + err.Error()}
	}
	return nil
}

// client returns the API of the configured server, signed in.
func (a *app) client() (api, error) {
	server, token, err := a.resolve()
	if err != nil {
		return nil, err
	}
	return a.dial(server, token), nil
}

// ask resolves the signed-in client and makes one request with it.
func ask[T any](a *app, request func(api) (T, error)) (T, error) {
	c, err := a.client()
	if err != nil {
		var zero T
		return zero, err
	}
	return request(c)
}

// clientAs returns the signed-in client as C, an interface that only the
// HTTP client offers; can says what for, in the error otherwise.
func clientAs[C any](a *app, can string) (C, error) {
	var zero C
	c, err := a.client()
	if err != nil {
		return zero, err
	}
	cc, ok := c.(C)
	if !ok {
		return zero, errors.New("this client cannot " + can)
	}
	return cc, nil
}

func (a *app) savedCredentials() (*credentials, error) {
	dir, err := configDir(a.getenv)
	if err != nil {
		return nil, err
	}
	return loadCredentials(dir)
}

func sameServer(x, y string) bool {
	nx, errx := normalizeServer(x)
	ny, erry := normalizeServer(y)
	return errx == nil && erry == nil && nx == ny
}

// ownTenant fills an omitted --tenant with the signed-in user's tenant: a
// tenant's users belong to exactly one, so they need not type it. Provider
// staff belong to none and must name it.
func (a *app) ownTenant(cmd *cobra.Command, tenant *string) error {
	if *tenant != "" {
		return nil
	}
	u, err := ask(a, func(c api) (*lockbox.User, error) { return c.Me(cmd.Context()) })
	if err != nil {
		return err
	}
	if u.Tenant == "" {
		return usageErrorf("--tenant is required: %s is provider staff, not a member of one tenant", u.Email)
	}
	*tenant = u.Tenant
	return nil
}
