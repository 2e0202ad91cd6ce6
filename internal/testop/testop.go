// Package testop is a small OpenID provider for tests and local trials of
// Lockbox's single sign-on (SPEC §10.2). It is built on
// github.com/zitadel/oidc/v3/pkg/op (an OpenID-certified implementation), so
// Lockbox's relying party is tested against a real provider: discovery, the
// authorization code flow with PKCE, signed ID tokens and a JWKS endpoint.
//
// One Server serves several issuers under one address, each under its own
// path (http://127.0.0.1:PORT/provider, http://127.0.0.1:PORT/contoso), each
// with its own users, clients and signing key. Users sign in on a plain HTML
// form with an email and a password.
//
// It is never part of the lockbox binary: cmd/lockbox-testop wraps it, and
// tests start it in-process on 127.0.0.1:0.
//
// TEST-ONLY fault injection: a User's Fault makes the provider issue a
// broken ID token for that user (expired, for another audience, with a
// wrong nonce), so the relying party's refusals can be tested end to end. A
// real provider has no such thing; neither should anything but tests use it.
package testop

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Fault is a TEST-ONLY defect the provider puts in a user's ID token.
type Fault string

const (
	// FaultNone issues a correct ID token.
	FaultNone Fault = ""
	// FaultExpiredIDToken issues an ID token that expired an hour ago.
	FaultExpiredIDToken Fault = "expired_id_token"
	// FaultWrongAudience issues an ID token for another client.
	FaultWrongAudience Fault = "wrong_audience"
	// FaultWrongNonce issues an ID token with a nonce that is not the one
	// the relying party sent.
	FaultWrongNonce Fault = "wrong_nonce"
)

// Faults lists the known faults (for flag validation).
var Faults = []Fault{FaultExpiredIDToken, FaultWrongAudience, FaultWrongNonce}

// User is an account at one issuer.
type User struct {
	Email         string `json:"email"`
	Password      string `json:"password"`
	Name          string `json:"name,omitempty"`
	EmailVerified bool   `json:"email_verified"`
	// Fault is TEST-ONLY: see the package comment.
	Fault Fault `json:"fault,omitempty"`
}

// Client is a relying party registered at one issuer.
type Client struct {
	ID           string   `json:"id"`
	Secret       string   `json:"secret"`
	RedirectURIs []string `json:"redirect_uris"`
}

// Issuer is one OpenID provider of the server, served under /<Name>.
type Issuer struct {
	Name    string   `json:"name"`
	Clients []Client `json:"clients"`
	Users   []User   `json:"users"`
}

// Config is the whole server.
type Config struct {
	Issuers []Issuer `json:"issuers"`
}

// Server is a running test provider.
type Server struct {
	URL      string // http://127.0.0.1:PORT, no trailing slash
	srv      *http.Server
	ln       net.Listener
	mu       sync.Mutex
	storages map[string]*storage
	down     bool
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves every issuer of cfg.
func Start(addr string, cfg Config, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("testop: listen: %w", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), ln: ln, storages: map[string]*storage{}}
	mux := http.NewServeMux()
	for _, iss := range cfg.Issuers {
		if iss.Name == "" || strings.ContainsAny(iss.Name, "/?#") {
			ln.Close()
			return nil, fmt.Errorf("testop: issuer name %q must be one path segment", iss.Name)
		}
		h, st, err := newIssuer(s.URL+"/"+iss.Name, iss, logger)
		if err != nil {
			ln.Close()
			return nil, err
		}
		s.storages[iss.Name] = st
		mux.Handle("/"+iss.Name+"/", http.StripPrefix("/"+iss.Name, h))
	}
	s.srv = &http.Server{Handler: s.outage(mux), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("testop: serve", "err", err)
		}
	}()
	return s, nil
}

// Issuer returns the issuer URL of the named issuer.
func (s *Server) Issuer(name string) string { return s.URL + "/" + name }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// SetDown makes every endpoint answer 503 (down) or serve again: TEST-ONLY,
// to show what Lockbox does when an IdP is unavailable.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func (s *Server) outage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		down := s.down
		s.mu.Unlock()
		if down {
			http.Error(w, "test provider is down", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// AddClient registers a relying party at an issuer after start (a test
// knows its own redirect URI only once its server listens).
func (s *Server) AddClient(issuer string, c Client) error {
	st, ok := s.storages[issuer]
	if !ok {
		return fmt.Errorf("testop: no issuer %q", issuer)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.clients[c.ID] = c
	return nil
}

// AddUser adds or replaces a user of an issuer.
func (s *Server) AddUser(issuer string, u User) error {
	st, ok := s.storages[issuer]
	if !ok {
		return fmt.Errorf("testop: no issuer %q", issuer)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.users[strings.ToLower(u.Email)] = u
	return nil
}

func newIssuer(issuer string, cfg Issuer, logger *slog.Logger) (http.Handler, *storage, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("testop: key: %w", err)
	}
	st := &storage{
		issuer:   issuer,
		key:      key,
		keyID:    cfg.Name + "-" + rand.Text()[:8],
		clients:  map[string]Client{},
		users:    map[string]User{},
		requests: map[string]*authRequest{},
		codes:    map[string]string{},
	}
	for _, c := range cfg.Clients {
		st.clients[c.ID] = c
	}
	for _, u := range cfg.Users {
		st.users[strings.ToLower(u.Email)] = u
	}
	var cryptoKey [32]byte
	if _, err := rand.Read(cryptoKey[:]); err != nil {
		return nil, nil, err
	}
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:      cryptoKey,
		CodeMethodS256: true,
		AuthMethodPost: true,
	}, st, op.StaticIssuer(issuer), op.WithAllowInsecure(), op.WithLogger(logger))
	if err != nil {
		return nil, nil, fmt.Errorf("testop: provider: %w", err)
	}
	callback := op.AuthCallbackURL(provider)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		renderLogin(w, http.StatusOK, cfg.Name, r.URL.Query().Get("id"), r.URL.Query().Get("hint"), "")
	})
	mux.Handle("POST /login", op.NewIssuerInterceptor(provider.IssuerFromRequest).HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			id := r.PostFormValue("id")
			email := r.PostFormValue("username")
			if err := st.checkLogin(id, email, r.PostFormValue("password")); err != nil {
				renderLogin(w, http.StatusUnauthorized, cfg.Name, id, email, err.Error())
				return
			}
			http.Redirect(w, r, callback(r.Context(), id), http.StatusFound)
		}))
	mux.Handle("/", st.tokenFaults(provider))
	return mux, st, nil
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test IdP {{.Issuer}}: sign in</title></head>
<body><h1>Test identity provider “{{.Issuer}}”</h1>
<p>This is lockbox-testop, a provider for tests and local trials only.</p>
{{with .Error}}<p role="alert" id="error">{{.}}</p>{{end}}
<form method="post" action="login">
<input type="hidden" name="id" value="{{.ID}}">
<label for="username">Email</label> <input id="username" name="username" type="email" value="{{.Email}}" required>
<label for="password">Password</label> <input id="password" name="password" type="password" required>
<button type="submit" id="submit">Sign in</button>
</form></body></html>`))

func renderLogin(w http.ResponseWriter, status int, issuer, id, email, problem string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = loginPage.Execute(w, map[string]string{"Issuer": issuer, "ID": id, "Email": email, "Error": problem})
}

// storage is an in-memory op.Storage for one issuer.
type storage struct {
	issuer string
	key    *rsa.PrivateKey
	keyID  string

	mu       sync.Mutex
	clients  map[string]Client
	users    map[string]User // by lower-case email
	requests map[string]*authRequest
	codes    map[string]string // code → request id
}

type faultKey struct{}

// tokenFaults puts the fault of the user whose code is being exchanged into
// the context of the token request: the client's ID token lifetime (the
// only lever zitadel gives over "exp") is read per request from it.
func (st *storage) tokenFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/oauth/token") {
			if err := r.ParseForm(); err == nil {
				st.mu.Lock()
				if req, ok := st.requests[st.codes[r.PostForm.Get("code")]]; ok {
					r = r.WithContext(context.WithValue(r.Context(), faultKey{}, req.fault))
				}
				st.mu.Unlock()
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (st *storage) checkLogin(id, email, password string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	req, ok := st.requests[id]
	if !ok {
		return errors.New("this sign-in has expired; start again from the application")
	}
	u, ok := st.users[strings.ToLower(strings.TrimSpace(email))]
	if !ok || u.Password != password {
		return errors.New("wrong email or password")
	}
	req.user = u
	req.done = true
	req.authTime = time.Now()
	req.fault = u.Fault
	return nil
}

type authRequest struct {
	id       string
	oidc     oidc.AuthRequest
	user     User
	done     bool
	authTime time.Time
	fault    Fault
	// minted is set once the access token exists, just before zitadel
	// builds the ID token: FaultWrongAudience changes the client id only
	// from then on, after the token endpoint has checked the client.
	minted atomic.Bool
}

func (a *authRequest) GetID() string    { return a.id }
func (a *authRequest) GetACR() string   { return "" }
func (a *authRequest) GetAMR() []string { return []string{"pwd"} }
func (a *authRequest) GetClientID() string {
	if a.fault == FaultWrongAudience && a.minted.Load() {
		return "some-other-client"
	}
	return a.oidc.ClientID
}
func (a *authRequest) GetAudience() []string  { return []string{a.GetClientID()} }
func (a *authRequest) GetAuthTime() time.Time { return a.authTime }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.oidc.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.oidc.CodeChallenge, Method: a.oidc.CodeChallengeMethod}
}
func (a *authRequest) GetNonce() string {
	if a.fault == FaultWrongNonce {
		return "not-" + a.oidc.Nonce
	}
	return a.oidc.Nonce
}
func (a *authRequest) GetRedirectURI() string             { return a.oidc.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.oidc.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.oidc.ResponseMode }
func (a *authRequest) GetScopes() []string                { return a.oidc.Scopes }
func (a *authRequest) GetState() string                   { return a.oidc.State }
func (a *authRequest) GetSubject() string                 { return subject(a.user.Email) }
func (a *authRequest) Done() bool                         { return a.done }

// subject is the stable "sub" of a user: the lower-case email, prefixed so
// nobody mistakes it for the email claim.
func subject(email string) string { return "user:" + strings.ToLower(email) }

func (st *storage) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if slices.Contains(r.Prompt, oidc.PromptNone) {
		return nil, oidc.ErrLoginRequired()
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	req := &authRequest{id: rand.Text(), oidc: *r}
	st.requests[req.id] = req
	return req, nil
}

func (st *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	req, ok := st.requests[id]
	if !ok {
		return nil, errors.New("auth request not found")
	}
	return req, nil
}

func (st *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	st.mu.Lock()
	id, ok := st.codes[code]
	st.mu.Unlock()
	if !ok {
		return nil, errors.New("code invalid, used or expired")
	}
	return st.AuthRequestByID(ctx, id)
}

func (st *storage) SaveAuthCode(_ context.Context, id, code string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.codes[code] = id
	return nil
}

// DeleteAuthRequest runs once the code was exchanged: the code can never
// be used again.
func (st *storage) DeleteAuthRequest(_ context.Context, id string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.requests, id)
	for code, rid := range st.codes {
		if rid == id {
			delete(st.codes, code)
		}
	}
	return nil
}

func (st *storage) CreateAccessToken(_ context.Context, r op.TokenRequest) (string, time.Time, error) {
	if a, ok := r.(*authRequest); ok {
		a.minted.Store(true)
	}
	return rand.Text(), time.Now().Add(5 * time.Minute), nil
}

func (st *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errors.New("refresh tokens are not supported")
}

func (st *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

func (st *storage) TerminateSession(context.Context, string, string) error { return nil }

func (st *storage) RevokeToken(context.Context, string, string, string) *oidc.Error { return nil }

func (st *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.id }

type publicKey struct{ signingKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.PublicKey }

func (st *storage) SigningKey(context.Context) (op.SigningKey, error) {
	return signingKey{st.keyID, st.key}, nil
}

func (st *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (st *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{signingKey{st.keyID, st.key}}}, nil
}

func (st *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	st.mu.Lock()
	c, ok := st.clients[id]
	st.mu.Unlock()
	if !ok {
		return nil, errors.New("client not found")
	}
	fault, _ := ctx.Value(faultKey{}).(Fault)
	return &client{Client: c, fault: fault, issuer: st.issuer}, nil
}

func (st *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	c, ok := st.clients[id]
	if !ok || c.Secret != secret {
		return errors.New("invalid client")
	}
	return nil
}

func (st *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest puts the email claims in the ID token, as Entra
// ID, Okta and Google do with the "email" scope.
func (st *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, r op.IDTokenRequest, scopes []string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	var u User
	for _, cand := range st.users {
		if subject(cand.Email) == r.GetSubject() {
			u = cand
		}
	}
	info.Subject = r.GetSubject()
	if slices.Contains(scopes, oidc.ScopeEmail) {
		info.Email = u.Email
		info.EmailVerified = oidc.Bool(u.EmailVerified)
	}
	if slices.Contains(scopes, oidc.ScopeProfile) {
		info.Name = u.Name
	}
	return nil
}

func (st *storage) SetUserinfoFromToken(context.Context, *oidc.UserInfo, string, string, string) error {
	return errors.New("the userinfo endpoint is not supported: the ID token carries the claims")
}

func (st *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errors.New("introspection is not supported")
}

func (st *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (st *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT profile is not supported")
}

func (st *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile is not supported")
}

func (st *storage) Health(context.Context) error { return nil }

// client is a registered relying party: a confidential web client that
// may use http redirect URIs on loopback (DevMode, as this is a test OP).
type client struct {
	Client
	fault  Fault
	issuer string
}

func (c *client) GetID() string                       { return c.ID }
func (c *client) RedirectURIs() []string              { return c.Client.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string    { return nil }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod {
	return oidc.AuthMethodBasic
}
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType        { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c *client) LoginURL(id string) string           { return c.issuer + "/login?id=" + url.QueryEscape(id) }
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }

// IDTokenLifetime is where FaultExpiredIDToken acts: an ID token whose
// "exp" is an hour in the past.
func (c *client) IDTokenLifetime() time.Duration {
	if c.fault == FaultExpiredIDToken {
		return -time.Hour
	}
	return 5 * time.Minute
}
func (c *client) DevMode() bool { return true }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(string) bool           { return false }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }
