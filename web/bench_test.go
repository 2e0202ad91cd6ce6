package web_test

import (
	"net/http"
	"testing"
)

// Page cost with a real session lookup and a real SQLite read, per page
// view (go test -run '^$' -bench . ./web/). Results: docs/benchmarks.md.

func BenchmarkRequestListPage(b *testing.B) {
	e := newEnv(b)
	for range 50 {
		e.pending()
	}
	c := e.signIn("approver@contoso.test")
	for b.Loop() {
		if res := c.get("/requests"); res.StatusCode != http.StatusOK {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
}

func BenchmarkRequestDetailPage(b *testing.B) {
	e := newEnv(b)
	r := e.pending()
	c := e.signIn("approver@contoso.test")
	for b.Loop() {
		if res := c.get("/requests/" + r.Reference); res.StatusCode != http.StatusOK {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
}

func BenchmarkSignInPage(b *testing.B) {
	e := newEnv(b)
	c := e.client()
	for b.Loop() {
		if res := c.get("/signin"); res.StatusCode != http.StatusOK {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
}
