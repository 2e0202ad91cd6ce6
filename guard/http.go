package guard

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/middleware"
)

// OperationFunc names the Lockbox operation and the resource an HTTP
// request performs.
type OperationFunc func(r *http.Request) (operation, resource string)

// Operation is an OperationFunc for a route that always performs op on the
// resource named by the path value param: for "/mailboxes/{mailbox}" and
// param "mailbox", GET /mailboxes/alice is op on "mailbox:alice".
func Operation(op, param string) OperationFunc {
	return func(r *http.Request) (string, string) {
		return op, param + ":" + r.PathValue(param)
	}
}

type claimsKey struct{}

// ClaimsFromContext returns the grant of the operator a protected handler
// serves.
func ClaimsFromContext(ctx context.Context) *lockbox.GrantClaims {
	c, _ := ctx.Value(claimsKey{}).(*lockbox.GrantClaims)
	return c
}

// Protect serves next only to an operator whose grant allows the request's
// operation now. It reads the grant from "Authorization: Bearer <grant>",
// verifies it offline (garbage never reaches Lockbox), then reports the
// action online — which both checks the live state (revocation, access end)
// and records the action in the tenant's audit log. When Lockbox cannot be
// reached it fails closed with 503.
func (g *Guard) Protect(opOf OperationFunc, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := middleware.BearerToken(r)
		if !ok {
			deny(w, http.StatusUnauthorized, "Send your Lockbox grant as Authorization: Bearer <token> (lockbox requests token ID).")
			return
		}
		c, err := g.Verify(r.Context(), token)
		if lockbox.ErrorCode(err) == lockbox.EUNAUTHENTICATED {
			deny(w, http.StatusUnauthorized, lockbox.ErrorMessage(err))
			return
		} else if err != nil {
			g.logger().ErrorContext(r.Context(), "lockbox guard: cannot verify grants", "err", err)
			deny(w, http.StatusServiceUnavailable, "Lockbox cannot be reached to verify the grant.")
			return
		}
		op, resource := opOf(r)
		d, err := g.Report(r.Context(), token, op, resource, middleware.ClientIP(r))
		if err != nil {
			g.logger().ErrorContext(r.Context(), "lockbox guard: cannot report action", "err", err)
			deny(w, http.StatusServiceUnavailable, "Lockbox cannot be reached to check and record this action.")
			return
		}
		if !d.Allowed {
			deny(w, http.StatusForbidden, d.Reason)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)))
	})
}

func deny(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"allowed": false, "reason": reason})
}
