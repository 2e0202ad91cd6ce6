package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

// ssoTests are the conformance cases of lockbox.SSOTx.
var ssoTests = []test{
	{"TenantConfig", testSSOTenantConfig},
	{"DomainOfOneTenant", testSSODomainOfOneTenant},
	{"ListAndReplaceSecret", testSSOListAndReplaceSecret},
	{"FlowTakenOnce", testSSOFlowTakenOnce},
	{"FlowExpires", testSSOFlowExpires},
}

func testSSOTenantConfig(t *testing.T, s lockbox.Store) {
	ctx := t.Context()
	MustInsertTenant(t, s, "contoso")
	err := s.View(ctx, func(tx lockbox.Tx) error { _, err := tx.GetTenantSSO(ctx, "contoso"); return err })
	wantCode(t, err, lockbox.ENOTFOUND)
	err = s.Update(ctx, func(tx lockbox.Tx) error {
		return tx.PutTenantSSO(ctx, &lockbox.TenantSSO{Tenant: "nobody", Issuer: "https://x", ClientID: "c", ClientSecret: "s", UpdatedAt: T0})
	})
	wantCode(t, err, lockbox.ENOTFOUND)

	want := &lockbox.TenantSSO{Tenant: "contoso", Issuer: "https://idp.contoso.test", ClientID: "lockbox",
		ClientSecret: "s3cret", ClientSecretSet: true, AllowedDomains: []string{"contoso.test", "eu.contoso.test"},
		Enforce: true, BreakGlass: "admin@contoso.test", UpdatedAt: T0}
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.PutTenantSSO(ctx, want) })
	var got, byDomain *lockbox.TenantSSO
	MustView(t, s, func(tx lockbox.Tx) (err error) {
		if got, err = tx.GetTenantSSO(ctx, "contoso"); err != nil {
			return err
		}
		byDomain, err = tx.TenantSSOByDomain(ctx, "eu.contoso.test")
		return err
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetTenantSSO (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, byDomain); diff != "" {
		t.Errorf("TenantSSOByDomain (-want +got):\n%s", diff)
	}

	// Replacing drops a domain no longer listed.
	next := *want
	next.AllowedDomains = []string{"contoso.test"}
	next.Enforce = false
	next.UpdatedAt = T0.Add(time.Hour)
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.PutTenantSSO(ctx, &next) })
	err = s.View(ctx, func(tx lockbox.Tx) error { _, err := tx.TenantSSOByDomain(ctx, "eu.contoso.test"); return err })
	wantCode(t, err, lockbox.ENOTFOUND)

	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.DeleteTenantSSO(ctx, "contoso") })
	err = s.View(ctx, func(tx lockbox.Tx) error { _, err := tx.TenantSSOByDomain(ctx, "contoso.test"); return err })
	wantCode(t, err, lockbox.ENOTFOUND)
	err = s.Update(ctx, func(tx lockbox.Tx) error { return tx.DeleteTenantSSO(ctx, "contoso") })
	wantCode(t, err, lockbox.ENOTFOUND)
}

// testSSODomainOfOneTenant: a domain selects one tenant's IdP; another
// tenant claiming it is refused and changes nothing.
func testSSODomainOfOneTenant(t *testing.T, s lockbox.Store) {
	ctx := t.Context()
	MustInsertTenant(t, s, "contoso")
	MustInsertTenant(t, s, "fabrikam")
	MustUpdate(t, s, func(tx lockbox.Tx) error {
		return tx.PutTenantSSO(ctx, &lockbox.TenantSSO{Tenant: "contoso", Issuer: "https://c", ClientID: "c",
			ClientSecret: "s", AllowedDomains: []string{"contoso.test"}, UpdatedAt: T0})
	})
	err := s.Update(ctx, func(tx lockbox.Tx) error {
		return tx.PutTenantSSO(ctx, &lockbox.TenantSSO{Tenant: "fabrikam", Issuer: "https://f", ClientID: "f",
			ClientSecret: "s", AllowedDomains: []string{"fabrikam.test", "contoso.test"}, UpdatedAt: T0})
	})
	wantCode(t, err, lockbox.ECONFLICT)
	MustView(t, s, func(tx lockbox.Tx) error {
		c, err := tx.TenantSSOByDomain(ctx, "contoso.test")
		if err != nil {
			return err
		}
		if c.Tenant != "contoso" {
			t.Errorf("contoso.test selects %q", c.Tenant)
		}
		_, err = tx.GetTenantSSO(ctx, "fabrikam")
		wantCode(t, err, lockbox.ENOTFOUND)
		return nil
	})
}

// testSSOListAndReplaceSecret: the IdPs whose secret is not sealed under
// a given prefix are listed (the prefix taken literally), and a secret is
// replaced only while it is still the one read (a configuration saved
// meanwhile wins).
func testSSOListAndReplaceSecret(t *testing.T, s lockbox.Store) {
	ctx := t.Context()
	stale := func(current string) []string {
		t.Helper()
		var got []string
		MustView(t, s, func(tx lockbox.Tx) (err error) { got, err = tx.StaleSSOSecrets(ctx, current); return err })
		return got
	}
	if none := stale("lbsealed1.k2."); len(none) != 0 {
		t.Errorf("StaleSSOSecrets of an empty store = %v", none)
	}
	for _, tenant := range []string{"fabrikam", "contoso", "northwind"} {
		MustInsertTenant(t, s, tenant)
	}
	for tenant, secret := range map[string]string{"fabrikam": "lbsealed1.k2.abc", "contoso": "clear-contoso"} {
		MustUpdate(t, s, func(tx lockbox.Tx) error {
			return tx.PutTenantSSO(ctx, &lockbox.TenantSSO{Tenant: tenant, Issuer: "https://" + tenant, ClientID: "c",
				ClientSecret: secret, AllowedDomains: []string{tenant + ".test"}, UpdatedAt: T0})
		})
	}
	for _, tt := range []struct {
		current string
		want    []string
	}{
		{"lbsealed1.k2.", []string{"contoso"}},
		{"lbsealed1.k3.", []string{"contoso", "fabrikam"}},
		{"lbsealed1.k_.", []string{"contoso", "fabrikam"}}, // not a LIKE pattern
	} {
		if diff := cmp.Diff(tt.want, stale(tt.current)); diff != "" {
			t.Errorf("StaleSSOSecrets(%q) (-want +got):\n%s", tt.current, diff)
		}
	}

	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.ReplaceSSOSecret(ctx, "contoso", "clear-contoso", "sealed-1") })
	err := s.Update(ctx, func(tx lockbox.Tx) error { return tx.ReplaceSSOSecret(ctx, "contoso", "clear-contoso", "sealed-2") })
	wantCode(t, err, lockbox.ENOTFOUND)
	err = s.Update(ctx, func(tx lockbox.Tx) error { return tx.ReplaceSSOSecret(ctx, "northwind", "", "sealed-3") })
	wantCode(t, err, lockbox.ENOTFOUND)
	MustView(t, s, func(tx lockbox.Tx) error {
		c, err := tx.GetTenantSSO(ctx, "contoso")
		if err == nil && c.ClientSecret != "sealed-1" {
			t.Errorf("contoso's secret = %q, want sealed-1 (the stale replace must change nothing)", c.ClientSecret)
		}
		return err
	})
}

func testSSOFlowTakenOnce(t *testing.T, s lockbox.Store) {
	ctx := t.Context()
	f := &lockbox.SSOFlow{Tenant: "contoso", Issuer: "https://c", Nonce: "n", Verifier: "v",
		Browser: []byte{1, 2}, Next: "/requests", ExpiresAt: T0.Add(10 * time.Minute)}
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.InsertSSOFlow(ctx, sessionHash("st"), f) })
	err := s.Update(ctx, func(tx lockbox.Tx) error { return tx.InsertSSOFlow(ctx, sessionHash("st"), f) })
	wantCode(t, err, lockbox.ECONFLICT)
	var got *lockbox.SSOFlow
	MustUpdate(t, s, func(tx lockbox.Tx) (err error) {
		got, err = tx.TakeSSOFlow(ctx, sessionHash("st"), T0.Add(time.Minute))
		return err
	})
	if diff := cmp.Diff(f, got); diff != "" {
		t.Errorf("TakeSSOFlow (-want +got):\n%s", diff)
	}
	err = s.Update(ctx, func(tx lockbox.Tx) error {
		_, err := tx.TakeSSOFlow(ctx, sessionHash("st"), T0.Add(time.Minute))
		return err
	})
	wantCode(t, err, lockbox.ENOTFOUND)
}

// testSSOFlowExpires: a flow is dead at its deadline, taken or not.
func testSSOFlowExpires(t *testing.T, s lockbox.Store) {
	ctx := t.Context()
	f := &lockbox.SSOFlow{Issuer: "https://p", Nonce: "n", Verifier: "v", ExpiresAt: T0.Add(10 * time.Minute)}
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.InsertSSOFlow(ctx, sessionHash("st"), f) })
	err := s.Update(ctx, func(tx lockbox.Tx) error { _, err := tx.TakeSSOFlow(ctx, sessionHash("st"), f.ExpiresAt); return err })
	wantCode(t, err, lockbox.ENOTFOUND)
}
