package lockbox

import "context"

type contextKey int

const (
	userContextKey contextKey = iota + 1
	clientIPContextKey
	credentialContextKey
)

// NewContextWithCredential records the secret the caller authenticated
// with (a bearer token or a web session token), so that "end this session"
// and "end every other session" know which one is the caller's.
func NewContextWithCredential(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, credentialContextKey, token)
}

// CredentialFromContext returns the caller's credential, or "".
func CredentialFromContext(ctx context.Context) string {
	t, _ := ctx.Value(credentialContextKey).(string)
	return t
}

// NewContextWithUser returns a context carrying the authenticated principal.
// Every service method reads the actor from here, never from its arguments,
// so no entry point can act as someone it did not authenticate.
func NewContextWithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userContextKey, u)
}

// UserFromContext returns the principal in ctx, or nil when anonymous.
func UserFromContext(ctx context.Context) *User {
	u, _ := ctx.Value(userContextKey).(*User)
	return u
}

// NewContextWithClientIP records the caller's address for audit records.
func NewContextWithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPContextKey, ip)
}

// ClientIPFromContext returns the caller's address, or "" when unknown.
func ClientIPFromContext(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPContextKey).(string)
	return ip
}
