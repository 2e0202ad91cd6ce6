package testop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// SignIn plays the browser at the provider for tests without one: it
// follows authURL (the relying party's redirect to the authorization
// endpoint) to the login form, signs in as email, and returns the URL the
// provider redirects back to (the relying party's redirect URI with code
// and state). It does not follow that last redirect. hc must not follow
// redirects on its own (CheckRedirect returning http.ErrUseLastResponse);
// a nil hc is such a client.
func SignIn(ctx context.Context, hc *http.Client, authURL, email, password string) (string, error) {
	if hc == nil {
		hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	get := func(u string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		return hc.Do(req)
	}
	// authorize → login form
	resp, err := get(authURL)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("testop: authorize answered %s", resp.Status)
	}
	loginURL, err := resp.Location()
	if err != nil {
		return "", err
	}
	id := loginURL.Query().Get("id")
	if id == "" {
		return "", errors.New("testop: authorize did not redirect to the login form")
	}
	form := url.Values{"id": {id}, "username": {email}, "password": {password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, loginURL.Scheme+"://"+loginURL.Host+loginURL.Path, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = hc.Do(req)
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", fmt.Errorf("testop: login answered %s: %s", resp.Status, body)
	}
	// login → authorize callback → the relying party
	cb, err := resp.Location()
	if err != nil {
		return "", err
	}
	resp, err = get(cb.String())
	if err != nil {
		return "", err
	}
	body, _ = io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("testop: authorize callback answered %s: %s", resp.Status, body)
	}
	back, err := resp.Location()
	if err != nil {
		return "", err
	}
	return back.String(), nil
}
