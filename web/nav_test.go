package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

var navLinkRE = regexp.MustCompile(`<a href="([^"]+)"`)

// navLinks are the pages the main menu of a rendered page links to.
func navLinks(t *testing.T, body string) map[string]bool {
	t.Helper()
	start, end := strings.Index(body, `<nav class="side"`), strings.Index(body, `</nav>`)
	if start < 0 || end < start {
		t.Fatalf("no main menu in the page:\n%s", excerpt(body))
	}
	out := map[string]bool{}
	for _, m := range navLinkRE.FindAllStringSubmatch(body[start:end], -1) {
		out[m[1]] = true
	}
	return out
}

// TestNavigationMatchesAuthorization: for every role, the menu links to
// exactly the pages the root package's authorization opens to the person
// (each page by the question it stands for), and every link opens.
func TestNavigationMatchesAuthorization(t *testing.T) {
	e := newEnv(t)
	for _, email := range append(devAccounts, "operator2@provider.test") {
		t.Run(email, func(t *testing.T) {
			u := lockbox.UserFromContext(e.as(email))
			log := u.Tenant
			if log == "" {
				log = lockbox.ProviderLog
			}
			allowed := map[string]bool{
				"/requests/new":     lockbox.AuthorizeCreate(u) == nil,
				"/requests":         lockbox.VisibleTo(u).Sees(),
				"/review":           lockbox.Can(u, lockbox.PermReviewRequests, ""),
				"/settings":         lockbox.Can(u, lockbox.PermWriteSettings, u.Tenant),
				"/policy":           lockbox.Can(u, lockbox.PermWritePolicy, u.Tenant),
				"/users":            lockbox.Can(u, lockbox.PermWriteTenantUsers, u.Tenant),
				"/sso":              lockbox.Can(u, lockbox.PermManageSSO, u.Tenant),
				"/webhooks":         lockbox.Can(u, lockbox.PermManageWebhooks, u.Tenant),
				"/audit":            lockbox.AuthorizeReadLog(u, log) == nil,
				"/tenants":          lockbox.Can(u, lockbox.PermManageTenants, ""),
				"/staff":            lockbox.Can(u, lockbox.PermManageStaff, ""),
				"/service-accounts": lockbox.Can(u, lockbox.PermManageStaff, ""),
				"/services":         lockbox.Can(u, lockbox.PermWriteCatalog, ""),
				"/dev/mail":         true, // a dev server's
			}
			want := map[string]bool{}
			for href, ok := range allowed {
				if ok {
					want[href] = true
				}
			}
			c := e.signIn(email)
			got := navLinks(t, c.get("/preferences").body)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("menu links (-allowed +shown):\n%s", diff)
			}
			for href := range got {
				wantStatus(t, c.get(href), http.StatusOK)
			}
		})
	}
}
