package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lockboxhq/lockbox/internal/middleware"
)

func TestForwarded(t *testing.T) {
	t.Parallel()
	trusted, err := middleware.ParseTrustedProxies("10.0.0.0/8, 192.0.2.1, 2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, peer string
		header     map[string]string
		wantIP     string
		wantHTTPS  bool
	}{
		{"NoHeaders", "10.0.0.1:5000", nil, "10.0.0.1", false},
		{"UntrustedPeerIgnored", "198.51.100.9:5000", map[string]string{"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https"}, "198.51.100.9", false},
		{"OneHop", "10.0.0.1:5000", map[string]string{"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https"}, "203.0.113.5", true},
		{"SpoofedLeftmost", "10.0.0.1:5000", map[string]string{"X-Forwarded-For": "127.0.0.1, 203.0.113.5"}, "203.0.113.5", false},
		{"TwoTrustedHops", "10.0.0.1:5000", map[string]string{"X-Forwarded-For": "198.51.100.1, 203.0.113.5, 10.9.9.9"}, "203.0.113.5", false},
		{"AllTrusted", "10.0.0.1:5000", map[string]string{"X-Forwarded-For": "10.1.1.1, 10.2.2.2"}, "10.1.1.1", false},
		{"Garbage", "10.0.0.1:5000", map[string]string{"X-Forwarded-For": "203.0.113.5, not-an-ip"}, "10.0.0.1", false},
		{"WithPort", "192.0.2.1:5000", map[string]string{"X-Forwarded-For": "203.0.113.5:4711"}, "203.0.113.5", false},
		{"Forwarded", "10.0.0.1:5000", map[string]string{"Forwarded": `for=198.51.100.1, for="[2001:db8:cafe::17]:4711";proto=https`}, "198.51.100.1", true}, // the v6 hop is a trusted proxy
		{"ForwardedPublicV6", "10.0.0.1:5000", map[string]string{"Forwarded": `for="[2a00::1]:4711";proto=https`}, "2a00::1", true},
		{"ForgedForwardedLosesToXFF", "10.0.0.1:5000", map[string]string{"Forwarded": "for=127.0.0.1", "X-Forwarded-For": "203.0.113.5"}, "203.0.113.5", false},
		{"MappedPeer", "[::ffff:10.0.0.1]:5000", map[string]string{"X-Forwarded-For": "203.0.113.5"}, "203.0.113.5", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var gotIP string
			var gotHTTPS bool
			h := trusted.Forwarded(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				gotIP, gotHTTPS = middleware.ClientIP(r), middleware.IsHTTPS(r)
			}))
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tc.peer
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if gotIP != tc.wantIP || gotHTTPS != tc.wantHTTPS {
				t.Errorf("client %s https %v, want %s %v", gotIP, gotHTTPS, tc.wantIP, tc.wantHTTPS)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"10.0.0.0/33", "proxy.example.com", "10.0.0.1/8/8", "fe80::1%eth0"} {
		if _, err := middleware.ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q) accepted", bad)
		}
	}
	if p, err := middleware.ParseTrustedProxies(""); err != nil || !p.Empty() {
		t.Errorf("empty list: %v, %v", p, err)
	}
}

func TestHSTSOnlyOverHTTPS(t *testing.T) {
	t.Parallel()
	h := middleware.HSTS(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://lockbox.test/", nil))
	if got := rec.Header().Get("Strict-Transport-Security"); got != "" {
		t.Errorf("HSTS over http: %q", got)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "https://lockbox.test/", nil))
	if got := rec.Header().Get("Strict-Transport-Security"); got == "" {
		t.Error("no HSTS over https")
	}
}
