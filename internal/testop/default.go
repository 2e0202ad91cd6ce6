package testop

// DefaultPassword is the password of every user of DefaultConfig.
const DefaultPassword = "testop-password"

// DefaultClientID and DefaultClientSecret are the relying party of
// DefaultConfig at both issuers (what `lockbox serve --dev` is pointed at
// in the README's quick start).
const (
	DefaultClientID     = "lockbox"
	DefaultClientSecret = "lockbox-testop-secret"
)

// DefaultConfig is two issuers matching the accounts `lockbox serve --dev`
// seeds: "provider" (the provider's staff IdP) and "contoso" (the tenant
// contoso's IdP), with redirectURIs registered for the client "lockbox".
//
// contoso's IdP also knows people Lockbox must refuse: a user whose email
// is not verified, a fabrikam user (fabrikam has its own IdP, or none), a
// contoso.test address that is not a Lockbox user, a guest of another
// domain, and — TEST-ONLY — users
// whose ID tokens the provider breaks on purpose.
func DefaultConfig(redirectURIs ...string) Config {
	cl := []Client{{ID: DefaultClientID, Secret: DefaultClientSecret, RedirectURIs: redirectURIs}}
	u := func(email string, verified bool, fault Fault) User {
		return User{Email: email, Password: DefaultPassword, EmailVerified: verified, Fault: fault}
	}
	return Config{Issuers: []Issuer{
		{Name: "provider", Clients: cl, Users: []User{
			u("admin@provider.test", true, ""),
			u("operator@provider.test", true, ""),
			u("operator2@provider.test", true, ""),
			u("manager@provider.test", true, ""),
			u("stranger@provider.test", true, ""),
		}},
		{Name: "contoso", Clients: cl, Users: []User{
			u("admin@contoso.test", true, ""),
			u("approver@contoso.test", true, ""),
			u("auditor@contoso.test", true, ""),
			u("unverified@contoso.test", false, ""),
			u("admin@fabrikam.test", true, ""),
			u("stranger@contoso.test", true, ""),
			u("guest@partner.test", true, ""),
			u("expired@contoso.test", true, FaultExpiredIDToken),
			u("audience@contoso.test", true, FaultWrongAudience),
			u("nonce@contoso.test", true, FaultWrongNonce),
		}},
	}}
}
