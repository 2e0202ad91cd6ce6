package web_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/web"
)

// panickyCatalog is a catalog with a bug: listing services panics.
type panickyCatalog struct{ lockbox.CatalogService }

func (panickyCatalog) ListServices(context.Context) ([]*lockbox.Service, error) { panic("catalog bug") }

// TestPanicAnswersWithErrorPage: a handler's bug answers that one request
// with the error page (security headers included) and is logged once.
func TestPanicAnswersWithErrorPage(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, func(c *web.Config) {
		c.Catalog = panickyCatalog{c.Catalog}
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	c := e.signIn("operator@provider.test")
	res := c.get("/requests/new")
	wantStatus(t, res, http.StatusInternalServerError)
	wantBody(t, res, "Something went wrong on our side.")
	if res.Header.Get("Content-Security-Policy") == "" || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("error page headers: %v", res.Header)
	}
	if n := strings.Count(logs.String(), "panic=\"catalog bug\""); n != 1 {
		t.Errorf("logged the panic %d times, want once:\n%s", n, logs.String())
	}
	// The next request is served as usual.
	wantStatus(t, c.get("/requests"), http.StatusOK)
}
