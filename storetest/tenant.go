package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

var tenantTests = []test{
	{"RoundTrip", testTenantRoundTrip},
	{"InsertConflict", testInsertTenantConflict},
	{"NotFound", testTenantNotFound},
	{"List", testListTenants},
	{"Settings", testSettings},
	{"Policy", testPolicy},
	{"NilListsReadBackEmpty", testNilListsReadBackEmpty},
	{"ReadsAfterOwnWrites", testReadsAfterOwnWrites},
}

var serviceTests = []test{
	{"RoundTrip", testServiceRoundTrip},
	{"PutReplaces", testPutServiceReplaces},
	{"NotFound", testServiceNotFound},
	{"List", testListServices},
}

func getTenant(t *testing.T, s lockbox.Store, name string) (*lockbox.Tenant, *lockbox.Settings) {
	t.Helper()
	var tn *lockbox.Tenant
	var st *lockbox.Settings
	MustView(t, s, func(tx lockbox.Tx) (err error) {
		if tn, err = tx.GetTenant(t.Context(), name); err != nil {
			return err
		}
		st, err = tx.GetSettings(t.Context(), name)
		return err
	})
	return tn, st
}

// settingsUnlikeDefault is a tenant's settings with every field, nested
// ones too, set by reflection to a value that is neither its default nor
// its zero value: a store that forgets a field, today's or one added
// later, then fails the round trip instead of reading back the default.
// A field of a kind it does not know fails the test, so that whoever adds
// one teaches it here. step varies the values between calls.
func settingsUnlikeDefault(t *testing.T, step int) lockbox.Settings {
	t.Helper()
	s, d := lockbox.DefaultSettings(), lockbox.DefaultSettings()
	n := 0
	var set func(v, def reflect.Value, path string)
	set = func(v, def reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Struct:
			for i := range v.NumField() {
				f := v.Type().Field(i)
				if !f.IsExported() {
					t.Fatalf("storetest: %s.%s is unexported: set it here by hand", path, f.Name)
				}
				set(v.Field(i), def.Field(i), path+"."+f.Name)
			}
			return
		case reflect.Bool:
			v.SetBool(!def.Bool())
		case reflect.Int:
			v.SetInt(def.Int() + int64(n+step)) // default+1 at least, and never twice the same
		case reflect.Slice:
			if v.Type().Elem().Kind() != reflect.String {
				t.Fatalf("storetest: cannot make a non-default value of %s (%s)", path, v.Type())
			}
			list := []string{fmt.Sprintf("f%d-%d@contoso.test", n, step), fmt.Sprintf("g%d-%d@contoso.test", n, step)}
			v.Set(reflect.ValueOf(list))
		default:
			t.Fatalf("storetest: cannot make a non-default value of %s (%s)", path, v.Type())
		}
		n++
	}
	set(reflect.ValueOf(&s).Elem(), reflect.ValueOf(d), "Settings")
	if n < 13 {
		t.Fatalf("storetest: set only %d fields of the settings", n)
	}
	return s
}

func testTenantRoundTrip(t *testing.T, s lockbox.Store) {
	want := &lockbox.Tenant{Name: "contoso", DisplayName: "Contoso Ltd.", CreatedAt: T0}
	wantSettings := settingsUnlikeDefault(t, 1)
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.InsertTenant(t.Context(), want, wantSettings) })
	got, gotSettings := getTenant(t, s, "contoso")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetTenant (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&wantSettings, gotSettings); diff != "" {
		t.Errorf("GetSettings (-want +got):\n%s", diff)
	}
}

func testInsertTenantConflict(t *testing.T, s lockbox.Store) {
	orig := MustInsertTenant(t, s, "contoso")
	err := s.Update(t.Context(), func(tx lockbox.Tx) error {
		return tx.InsertTenant(t.Context(), &lockbox.Tenant{Name: "contoso", DisplayName: "Other", CreatedAt: T0.Add(time.Hour)},
			lockbox.Settings{RequestTTLMinutes: 60, MaxAccessMinutes: 1, NotifyEmails: []string{}})
	})
	wantCode(t, err, lockbox.ECONFLICT)
	got, settings := getTenant(t, s, "contoso")
	if diff := cmp.Diff(orig, got); diff != "" {
		t.Errorf("tenant changed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(ptr(lockbox.DefaultSettings()), settings); diff != "" {
		t.Errorf("settings changed (-want +got):\n%s", diff)
	}
}

func testTenantNotFound(t *testing.T, s lockbox.Store) {
	MustInsertTenant(t, s, "contoso")
	tests := []struct {
		name string
		fn   func(tx lockbox.Tx) error
	}{
		{"GetTenant", func(tx lockbox.Tx) error { _, err := tx.GetTenant(t.Context(), "fabrikam"); return err }},
		{"GetSettings", func(tx lockbox.Tx) error { _, err := tx.GetSettings(t.Context(), "fabrikam"); return err }},
		{"UpdateSettings", func(tx lockbox.Tx) error {
			return tx.UpdateSettings(t.Context(), "fabrikam", lockbox.DefaultSettings())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, s.Update(t.Context(), tt.fn), lockbox.ENOTFOUND) })
	}
}

func testListTenants(t *testing.T, s lockbox.Store) {
	var got []*lockbox.Tenant
	MustView(t, s, func(tx lockbox.Tx) (err error) { got, err = tx.ListTenants(t.Context()); return err })
	if len(got) != 0 {
		t.Fatalf("ListTenants on an empty store = %d tenants", len(got))
	}
	// Inserted out of order: the listing is by name.
	want := []*lockbox.Tenant{MustInsertTenant(t, s, "fabrikam"), MustInsertTenant(t, s, "contoso"), MustInsertTenant(t, s, "northwind")}
	want[0], want[1] = want[1], want[0]
	MustView(t, s, func(tx lockbox.Tx) (err error) { got, err = tx.ListTenants(t.Context()); return err })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListTenants (-want +got):\n%s", diff)
	}
}

func testSettings(t *testing.T, s lockbox.Store) {
	MustInsertTenant(t, s, "contoso")
	MustInsertTenant(t, s, "fabrikam")
	// Every field changes, from the defaults and back: an update that
	// skips a field, or writes only what is not zero, fails.
	for i, want := range []lockbox.Settings{settingsUnlikeDefault(t, 2), lockbox.DefaultSettings()} {
		MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.UpdateSettings(t.Context(), "contoso", want) })
		_, got := getTenant(t, s, "contoso")
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("GetSettings after update %d (-want +got):\n%s", i+1, diff)
		}
	}
	_, other := getTenant(t, s, "fabrikam")
	if diff := cmp.Diff(ptr(lockbox.DefaultSettings()), other); diff != "" {
		t.Errorf("another tenant's settings changed (-want +got):\n%s", diff)
	}
}

// testPolicy: a tenant's rules round-trip in order, start empty, leave
// the settings and other tenants alone, and an unknown tenant is
// ENOTFOUND.
func testPolicy(t *testing.T, s lockbox.Store) {
	MustInsertTenant(t, s, "contoso")
	MustInsertTenant(t, s, "fabrikam")
	getPolicy := func(tenant string) *lockbox.Policy {
		var p *lockbox.Policy
		MustView(t, s, func(tx lockbox.Tx) (err error) { p, err = tx.GetPolicy(t.Context(), tenant); return err })
		return p
	}
	if diff := cmp.Diff(&lockbox.Policy{Rules: []lockbox.PolicyRule{}}, getPolicy("contoso")); diff != "" {
		t.Errorf("a new tenant's policy (-want +got):\n%s", diff)
	}
	want := lockbox.Policy{Rules: []lockbox.PolicyRule{
		{ID: "z-night", Description: "No access at night", When: `now.getHours("Europe/Berlin") < 7`, Action: lockbox.PolicyAction{Kind: lockbox.ActionDeny}},
		{ID: "a-exports", When: "request.operations.exists(o, o.startsWith(\"Export\"))\n|| false",
			Action: lockbox.PolicyAction{Kind: lockbox.ActionRequireApprovals, RequireApprovals: 2}},
		{ID: "m-read", When: "true", Action: lockbox.PolicyAction{Kind: lockbox.ActionAutoApprove}},
	}}
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.UpdatePolicy(t.Context(), "contoso", want) })
	if diff := cmp.Diff(&want, getPolicy("contoso")); diff != "" {
		t.Errorf("GetPolicy after update (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&lockbox.Policy{Rules: []lockbox.PolicyRule{}}, getPolicy("fabrikam")); diff != "" {
		t.Errorf("another tenant's policy changed (-want +got):\n%s", diff)
	}
	if _, st := getTenant(t, s, "contoso"); !cmp.Equal(ptr(lockbox.DefaultSettings()), st) {
		t.Errorf("settings changed with the policy: %+v", st)
	}
	err := s.View(t.Context(), func(tx lockbox.Tx) error { _, err := tx.GetPolicy(t.Context(), "nope"); return err })
	if lockbox.ErrorCode(err) != lockbox.ENOTFOUND {
		t.Errorf("GetPolicy of an unknown tenant: %v, want not_found", err)
	}
	err = s.Update(t.Context(), func(tx lockbox.Tx) error { return tx.UpdatePolicy(t.Context(), "nope", want) })
	if lockbox.ErrorCode(err) != lockbox.ENOTFOUND {
		t.Errorf("UpdatePolicy of an unknown tenant: %v, want not_found", err)
	}
}

// testNilListsReadBackEmpty: a list stored as nil reads back as an empty,
// non-nil list, so the API serves [] and never null.
func testNilListsReadBackEmpty(t *testing.T, s lockbox.Store) {
	MustUpdate(t, s, func(tx lockbox.Tx) error {
		return tx.InsertTenant(t.Context(), &lockbox.Tenant{Name: "contoso", CreatedAt: T0}, lockbox.Settings{})
	})
	r := NewRequest(1)
	r.Operations = nil
	MustInsertRequest(t, s, r)
	u := NewUser("u1", "u1@provider.test", "", lockbox.RoleOperator)
	u.Roles = nil
	MustInsertUser(t, s, u, "hash")
	MustPutService(t, s, &lockbox.Service{Name: "exchange", UpdatedAt: T0})

	_, settings := getTenant(t, s, "contoso")
	got := MustGetRequest(t, s, r.ID)
	var user *lockbox.User
	var svc *lockbox.Service
	MustView(t, s, func(tx lockbox.Tx) (err error) {
		if user, err = tx.GetUserByID(t.Context(), "u1"); err != nil {
			return err
		}
		svc, err = tx.GetService(t.Context(), "exchange")
		return err
	})
	if settings.NotifyEmails == nil || got.Operations == nil || user.Roles == nil || svc.Operations == nil {
		t.Errorf("nil list read back: notify_emails %#v, operations %#v, roles %#v, service operations %#v",
			settings.NotifyEmails, got.Operations, user.Roles, svc.Operations)
	}
}

func exchange() *lockbox.Service {
	return &lockbox.Service{Name: "exchange", DisplayName: "Exchange Online",
		Operations: []string{"Get-Mailbox", "Get-MailboxStatistics", "Repair-Mailbox"}, UpdatedAt: T0}
}

func getService(t *testing.T, s lockbox.Store, name string) (*lockbox.Service, error) {
	var svc *lockbox.Service
	err := s.View(t.Context(), func(tx lockbox.Tx) (err error) {
		svc, err = tx.GetService(t.Context(), name)
		return err
	})
	return svc, err
}

func testServiceRoundTrip(t *testing.T, s lockbox.Store) {
	want := exchange()
	MustPutService(t, s, want)
	got, err := getService(t, s, "exchange")
	if err != nil {
		t.Fatalf("GetService: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetService (-want +got):\n%s", diff)
	}
}

func testPutServiceReplaces(t *testing.T, s lockbox.Store) {
	MustPutService(t, s, exchange())
	want := &lockbox.Service{Name: "exchange", DisplayName: "Exchange", Operations: []string{"Get-Mailbox"},
		UpdatedAt: T0.Add(time.Hour)}
	MustPutService(t, s, want)
	got, err := getService(t, s, "exchange")
	if err != nil {
		t.Fatalf("GetService: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetService after replace (-want +got):\n%s", diff)
	}
}

func testServiceNotFound(t *testing.T, s lockbox.Store) {
	MustPutService(t, s, exchange())
	_, err := getService(t, s, "teams")
	wantCode(t, err, lockbox.ENOTFOUND)
}

func testListServices(t *testing.T, s lockbox.Store) {
	var want []*lockbox.Service
	for _, name := range []string{"teams", "exchange", "sharepoint", "onedrive"} {
		svc := &lockbox.Service{Name: name, DisplayName: name, Operations: []string{"Read-" + name}, UpdatedAt: T0}
		MustPutService(t, s, svc)
		want = append(want, svc)
	}
	want = []*lockbox.Service{want[1], want[3], want[2], want[0]}
	var got []*lockbox.Service
	MustView(t, s, func(tx lockbox.Tx) (err error) { got, err = tx.ListServices(t.Context()); return err })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListServices (-want +got):\n%s", diff)
	}
}

// testReadsAfterOwnWrites: inside one transaction, settings, tenant and
// webhook reads see the transaction's own writes, however often they were
// read before (a store may remember what a transaction read), and what a
// read returns is the caller's to change.
func testReadsAfterOwnWrites(t *testing.T, s lockbox.Store) {
	MustInsertTenant(t, s, "contoso")
	want := lockbox.DefaultSettings()
	want.RequireApproval, want.RequestTTLMinutes, want.MaxAccessMinutes = false, 60, 30
	want.NotifyEmails, want.ReminderMinutesBeforeExpiry, want.ApprovalsRequired = []string{"soc@contoso.test"}, 15, 2
	MustUpdate(t, s, func(tx lockbox.Tx) error {
		ctx := t.Context()
		before, err := tx.GetSettings(ctx, "contoso")
		if err != nil {
			return err
		}
		before.NotifyEmails = append(before.NotifyEmails, "changed-by-the-caller@contoso.test")
		if again, err := tx.GetSettings(ctx, "contoso"); err != nil || len(again.NotifyEmails) != 0 {
			t.Errorf("GetSettings after the caller changed its copy = %v, %v; want the stored settings", again, err)
		}
		if err := tx.UpdateSettings(ctx, "contoso", want); err != nil {
			return err
		}
		got, err := tx.GetSettings(ctx, "contoso")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("GetSettings after UpdateSettings in the same transaction (-want +got):\n%s", diff)
		}
		hooks, err := tx.ListWebhooks(ctx, "contoso")
		if err != nil || len(hooks) != 0 {
			t.Fatalf("ListWebhooks = %v, %v; want none", hooks, err)
		}
		if err := tx.InsertWebhook(ctx, newWebhook("wh-1", "contoso", 1), "whsec_1"); err != nil {
			return err
		}
		if hooks, err = tx.ListWebhooks(ctx, "contoso"); err != nil || len(hooks) != 1 {
			t.Errorf("ListWebhooks after InsertWebhook in the same transaction = %d endpoints, %v; want 1", len(hooks), err)
		}
		if err := tx.DeleteWebhook(ctx, "contoso", "wh-1"); err != nil {
			return err
		}
		if hooks, err = tx.ListWebhooks(ctx, "contoso"); err != nil || len(hooks) != 0 {
			t.Errorf("ListWebhooks after DeleteWebhook in the same transaction = %d endpoints, %v; want none", len(hooks), err)
		}
		return nil
	})
}
