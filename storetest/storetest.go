// Package storetest is the conformance suite of lockbox.Store: every backend
// (sqlite, postgres) runs Run, so that they behave the same and the workflow
// can rely on the contract in store.go rather than on one database.
//
// It also offers fixtures and MustX helpers to tests of other packages that
// need a populated store. It may import only the root lockbox package,
// go-cmp, golang.org/x/mod/sumdb/tlog (the reference for audit hashes) and the standard library (testing included: it is test support and
// is never linked into the lockbox binary).
package storetest

import (
	"testing"

	"github.com/lockboxhq/lockbox"
)

// test is one conformance case. It receives a new, empty store.
type test struct {
	name string
	fn   func(t *testing.T, s lockbox.Store)
}

// Run runs the conformance suite, its cases in parallel. open must return
// a new, empty, migrated store for each call and close it when the test
// ends (t.Cleanup); it is called from parallel tests.
func Run(t *testing.T, open func(t *testing.T) lockbox.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Tx", txTests},
		{"Update", updateTests},
		{"Request", requestTests},
		{"ListRequests", listTests},
		{"Due", dueTests},
		{"Tenant", tenantTests},
		{"User", userTests},
		{"Token", tokenTests},
		{"Service", serviceTests},
		{"Audit", auditTests},
		{"Outbox", outboxTests},
		{"AuditLog", auditLogTests},
		{"AuditBundle", bundleTests},
		{"WebSession", webSessionTests},
		{"SSO", ssoTests},
		{"SignInLimit", signInLimitTests},
		{"SigningKeys", keyTests},
		{"Conflict", conflictTests},
		{"Passkey", passkeyTests},
		{"ReadAhead", readAheadTests},
	}
	// Every case has a store of its own, so all run in parallel.
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range g.tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					tt.fn(t, open(t))
				})
			}
		})
	}
}
