package server_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/grant"
	"github.com/lockboxhq/lockbox/keys"
)

// newTestGrants wires grants as lockbox serve does: real keys in a
// temporary key directory, published to store, and an authority that
// verifies against the published keys.
func newTestGrants(tb testing.TB, store lockbox.Store) (lockbox.GrantAuthority, func(context.Context) ([]byte, error)) {
	tb.Helper()
	ring, _, err := keys.Open(context.Background(), filepath.Join(tb.TempDir(), "keys"), store, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	fetch := grant.PublishedKeys(store)
	return grant.NewAuthority(ring.GrantSigner, &grant.KeySet{Fetch: fetch}, lockbox.DefaultGrantIssuer), grant.JWKSFunc(fetch)
}

// grant returns a grant token for a fresh active request in target.
func (m *matrix) grant(target string) string {
	r := m.request(target, lockbox.StatusActive)
	g, err := m.svc.IssueGrant(m.ctxOf("operator@provider.test"), r.ID)
	if err != nil {
		m.t.Fatal(err)
	}
	return g.Token
}

type decisionBody struct {
	Allowed      bool       `json:"allowed"`
	Reason       string     `json:"reason"`
	RequestID    *string    `json:"request_id"`
	AccessEndsAt *time.Time `json:"access_ends_at"`
}

const serviceAccount = "service:dev-service"

// enforcement walks SPEC §6 through the API: a grant, the JWKS, allowed
// and refused checks, recorded actions, revocation, and bad calls.
func (c *conformance) enforcement(t *testing.T) {
	c.tokens[serviceAccount] = "dev-service-token"
	r := c.file(t, "enforced")
	c.act(t, "enforced: review", manager, r, "review", map[string]string{"decision": "approve"}, 200)
	c.act(t, "enforced: approve", approver, r, "approve", nil, 200)
	path := "/v1/requests/" + r.ID + "/token"

	g := decode[lockbox.Grant](t, c.run(t, step{name: "token", as: operator, method: "POST", path: path, want: 200}))
	c.run(t, step{name: "token with empty object", as: operator, method: "POST", path: path, body: map[string]any{}, want: 200})
	c.run(t, step{name: "jwks", method: "GET", path: "/.well-known/jwks.json", want: 200})

	check := func(name, url string, body any, want int) decisionBody {
		t.Helper()
		out := c.run(t, step{name: name, as: serviceAccount, method: "POST", path: url, body: body, want: want})
		if want != 200 {
			return decisionBody{}
		}
		return decode[decisionBody](t, out)
	}
	ok := check("check allowed", "/v1/access/check", map[string]any{"token": g.Token, "operation": "Get-MailboxStatistics", "resource": "mailbox:alice"}, 200)
	if !ok.Allowed || ok.RequestID == nil || *ok.RequestID != r.ID || ok.AccessEndsAt == nil {
		t.Errorf("allowed check: %+v", ok)
	}
	if d := check("check unapproved operation", "/v1/access/check", map[string]any{"token": g.Token, "operation": "Repair-Mailbox"}, 200); d.Allowed {
		t.Errorf("unapproved operation allowed: %+v", d)
	}
	if d := check("check forged token", "/v1/access/check", map[string]any{"token": "eyJhbGciOiJub25lIn0.e30.", "operation": "Get-Mailbox"}, 200); d.Allowed || d.RequestID != nil {
		t.Errorf("forged token: %+v", d)
	}
	action := map[string]any{"token": g.Token, "operation": "Get-MailboxStatistics", "resource": "mailbox:alice", "client_ip": "198.51.100.7", "service": "exchange"}
	if d := check("operator action", "/v1/operator-actions", action, 200); !d.Allowed {
		t.Errorf("operator action refused: %+v", d)
	}
	action["operation"] = "Repair-Mailbox"
	if d := check("operator action blocked", "/v1/operator-actions", action, 200); d.Allowed {
		t.Errorf("blocked operator action allowed: %+v", d)
	}

	for _, s := range []step{
		{name: "token by manager", as: manager, method: "POST", path: path, want: 403},
		{name: "token by other tenant", as: "admin@fabrikam.test", method: "POST", path: path, want: 404},
		{name: "token with a body field", as: operator, method: "POST", path: path, body: `{"ttl":60}`, want: 400, invalid: true},
		{name: "check by operator", as: operator, method: "POST", path: "/v1/access/check", body: map[string]any{"token": g.Token, "operation": "Get-Mailbox"}, want: 403},
		{name: "check without token field", as: serviceAccount, method: "POST", path: "/v1/access/check", body: `{"operation":"Get-Mailbox"}`, want: 400, invalid: true},
		{name: "check with client_ip", as: serviceAccount, method: "POST", path: "/v1/access/check", body: map[string]any{"token": g.Token, "operation": "Get-Mailbox", "client_ip": "198.51.100.7"}, want: 400, invalid: true},
		{name: "action with bad client_ip", as: serviceAccount, method: "POST", path: "/v1/operator-actions", body: map[string]any{"token": g.Token, "operation": "Get-Mailbox", "client_ip": "localhost"}, want: 400},
		{name: "check unknown field", as: serviceAccount, method: "POST", path: "/v1/access/check", body: `{"token":"x","operation":"y","scope":"z"}`, want: 400, invalid: true},
	} {
		c.run(t, s)
	}

	// Revocation is refused by the very next check.
	c.act(t, "enforced: revoke", approver, r, "revoke", nil, 200)
	if d := check("check after revoke", "/v1/access/check", map[string]any{"token": g.Token, "operation": "Get-MailboxStatistics"}, 200); d.Allowed {
		t.Errorf("allowed after revocation: %+v", d)
	}
	c.run(t, step{name: "token after revoke", as: operator, method: "POST", path: path, want: 409})
}

// TestGrantVerifiesWithAnotherLibrary checks a grant the way a third party
// would: fetch the JWKS over HTTP, then verify with golang-jwt/jwt/v5, an
// implementation independent of the go-jose code that signed it. (The JWKS
// JSON is decoded by hand with encoding/json: OKP keys are three fields.)
func TestGrantVerifiesWithAnotherLibrary(t *testing.T) {
	t.Parallel()
	srv := newRealServer(t)
	ts := httptest.NewServer(srv.handler)
	t.Cleanup(ts.Close)
	tok, want := issueOverHTTP(t, ts.URL)

	jwks := fetchJWKS(t, ts.URL+"/.well-known/jwks.json")
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithAudience("exchange"),
		jwt.WithIssuer(lockbox.DefaultGrantIssuer), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	claims := jwt.MapClaims{}
	parsed, err := parser.ParseWithClaims(tok, claims, func(tk *jwt.Token) (any, error) {
		if typ := tk.Header["typ"]; typ != grant.Type {
			t.Errorf("typ header = %v, want %s", typ, grant.Type)
		}
		kid, _ := tk.Header["kid"].(string)
		k, ok := jwks[kid]
		if !ok {
			t.Fatalf("kid %q not in the JWKS %v", kid, jwks)
		}
		return k, nil
	})
	if err != nil || !parsed.Valid {
		t.Fatalf("golang-jwt rejected the grant: %v", err)
	}
	if claims["sub"] != "operator@provider.test" || claims["tenant"] != "contoso" || claims["rid"] != want.RequestID {
		t.Errorf("claims = %v", claims)
	}
	if ops, _ := claims["ops"].([]any); len(ops) != 1 || ops[0] != "Get-MailboxStatistics" {
		t.Errorf("ops = %v", claims["ops"])
	}
	exp, _ := claims.GetExpirationTime()
	if exp == nil || !exp.Time.Equal(want.ExpiresAt) {
		t.Errorf("exp = %v, want %v", exp, want.ExpiresAt)
	}

	// The same library refuses the same token for another audience, and a
	// tampered payload.
	if _, err := jwt.NewParser(jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithAudience("sharepoint")).
		Parse(tok, func(*jwt.Token) (any, error) { return firstKey(jwks), nil }); err == nil {
		t.Error("golang-jwt accepted the grant for another audience")
	}
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), "Get-MailboxStatistics", "Repair-Mailbox", 1))) + "." + parts[2]
	if _, err := jwt.NewParser(jwt.WithValidMethods([]string{"EdDSA"})).
		Parse(forged, func(*jwt.Token) (any, error) { return firstKey(jwks), nil }); err == nil {
		t.Error("golang-jwt accepted a tampered payload")
	}
}

func firstKey(m map[string]ed25519.PublicKey) ed25519.PublicKey {
	for _, k := range m {
		return k
	}
	return nil
}

// issueOverHTTP drives a request to active as the dev accounts and returns
// its grant.
func issueOverHTTP(t *testing.T, base string) (string, lockbox.Grant) {
	t.Helper()
	call := func(email, method, path string, body any, out any) {
		t.Helper()
		var b strings.Builder
		if body != nil {
			json.NewEncoder(&b).Encode(body)
		}
		req, _ := http.NewRequest(method, base+path, strings.NewReader(b.String()))
		req.Header.Set("Content-Type", "application/json")
		if email != "" {
			req.Header.Set("Authorization", "Bearer "+login(t, base, email))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %s", method, path, resp.Status)
		}
		if out != nil {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				t.Fatal(err)
			}
		}
	}
	var r lockbox.AccessRequest
	call(operator, "POST", "/v1/requests", newRequestBody("exchange"), &r)
	call(manager, "POST", "/v1/requests/"+r.ID+"/review", map[string]string{"decision": "approve"}, nil)
	call(approver, "POST", "/v1/requests/"+r.ID+"/approve", nil, nil)
	var g lockbox.Grant
	call(operator, "POST", "/v1/requests/"+r.ID+"/token", nil, &g)
	return g.Token, g
}

func login(t *testing.T, base, email string) string {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": "lockbox-dev"})
	resp, err := http.Post(base+"/v1/auth/token", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s lockbox.Session
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s.Token
}

// fetchJWKS reads the key set with nothing but encoding/json (RFC 8037:
// kty OKP, crv Ed25519, x = base64url public key).
func fetchJWKS(t *testing.T, url string) map[string]ed25519.PublicKey {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("JWKS Content-Type = %q", ct)
	}
	var set struct {
		Keys []struct{ Kty, Crv, X, Kid, Alg, Use string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	out := map[string]ed25519.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" || k.Use != "sig" {
			t.Errorf("unexpected JWK %+v", k)
			continue
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			t.Fatalf("JWK x = %q: %v", k.X, err)
		}
		out[k.Kid] = ed25519.PublicKey(x)
	}
	if len(out) == 0 {
		t.Fatal("the JWKS has no keys")
	}
	return out
}
