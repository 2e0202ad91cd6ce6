package lockbox_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
)

// TestValidateWebhookURL: every spelling of a non-public host is refused,
// and numbers out of range are not URLs (SPEC §14).
func TestValidateWebhookURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url  string
		ok   bool
		addr string // the address the host is read as, when it is one
	}{
		{"https://hooks.example.com/lockbox", true, ""},
		{"https://hooks.example.com:8443/x?token=1", true, ""},
		{"https://93.184.215.14/x", true, "93.184.215.14"},
		{"https://[2606:2800:220:1::]/x", true, "2606:2800:220:1::"},
		// Ports.
		{"https://hooks.example.com:99999/x", false, ""},
		{"https://hooks.example.com:0/x", false, ""},
		{"https://hooks.example.com:/x", false, ""},
		{"https://hooks.example.com:0443/x", false, ""},
		{"https://hooks.example.com:-1/x", false, ""},
		// Loopback and private hosts in every spelling.
		{"https://127.0.0.1/x", false, ""},
		{"https://127.1/x", false, ""},
		{"https://127.0.1/x", false, ""},
		{"https://0177.0.0.1/x", false, ""},
		{"https://0x7f.0.0.1/x", false, ""},
		{"https://0x7f000001/x", false, ""},
		{"https://2130706433/x", false, ""},
		{"https://017700000001/x", false, ""},
		{"https://127.0.0.1./x", false, ""},
		{"https://0/x", false, ""},
		{"https://10.1/x", false, ""},
		{"https://012.0.0.1/x", false, ""},
		{"https://0xa9.0xfe.0xa9.0xfe/latest", false, ""}, // 169.254.169.254
		{"https://[::1]/x", false, ""},
		{"https://[::ffff:127.0.0.1]/x", false, ""},
		{"https://[::ffff:7f00:1]/x", false, ""},
		{"https://[::127.0.0.1]/x", false, ""},
		{"https://[0:0:0:0:0:ffff:a00:5]/x", false, ""},
		{"https://[fd00::1]/x", false, ""},
		{"https://[fe80::1%25eth0]/x", false, ""},
		{"https://localhost/x", false, ""},
		{"https://LOCALHOST./x", false, ""},
		{"https://printer.local/x", false, ""},
		{"https://intranet/x", false, ""},
		// Numeric-looking hosts that are no address at all.
		{"https://256.0.0.1/x", false, ""},
		{"https://1.2.3.4.5/x", false, ""},
		{"https://example.123/x", false, ""},
		{"https://08.0.0.1/x", false, ""},
		// Shape.
		{"http://hooks.example.com/x", false, ""},
		{"ftp://hooks.example.com/x", false, ""},
		{"https://user:pw@hooks.example.com/x", false, ""},
		{"https://hooks.example.com/x#frag", false, ""},
		{"hooks.example.com/x", false, ""},
		{"https:hooks.example.com", false, ""},
		{"https://hooks.example.com/\x00", false, ""},
		{"https://127.0.0.0]/", false, ""},
		{"https://hooks..example.com/", false, ""},
		{"https://bücher.example/", false, ""},
		{"https://xn--bcher-kva.example/", true, ""},
		{"", false, ""},
	} {
		w, err := lockbox.ValidateWebhookURL(tc.url, false)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateWebhookURL(%q) = %v, want ok %v", tc.url, err, tc.ok)
			continue
		}
		if err != nil {
			if lockbox.ErrorCode(err) != lockbox.EINVALID || lockbox.ErrorMessage(err) == "" {
				t.Errorf("ValidateWebhookURL(%q) = %v, want EINVALID with a message", tc.url, err)
			}
			continue
		}
		if got := w.Addr; tc.addr != "" && got != netip.MustParseAddr(tc.addr) {
			t.Errorf("ValidateWebhookURL(%q).Addr = %v, want %s", tc.url, got, tc.addr)
		}
	}
}

// TestWebhookHostSpellings: the parser reads legacy IPv4 forms as
// inet_aton does, so the check judges the address a client would reach.
func TestWebhookHostSpellings(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]string{
		"127.1": "127.0.0.1", "0177.0.0.1": "127.0.0.1", "0x7f.1": "127.0.0.1", "2130706433": "127.0.0.1",
		"0x7F000001": "127.0.0.1", "10.0.258": "10.0.1.2", "192.168.0x1.1": "192.168.1.1", "0": "0.0.0.0",
		"::ffff:127.0.0.1": "::ffff:127.0.0.1", "8.8.8.8": "8.8.8.8",
	} {
		w, err := lockbox.ParseWebhookHost(host)
		if err != nil || w.Addr != netip.MustParseAddr(want) {
			t.Errorf("ParseWebhookHost(%q) = %+v, %v; want %s", host, w, err, want)
		}
	}
	for _, host := range []string{"hooks.example.com", "0x.example", "a1"} {
		if w, err := lockbox.ParseWebhookHost(host); err != nil || w.Addr.IsValid() || w.Name != strings.ToLower(host) {
			t.Errorf("ParseWebhookHost(%q) = %+v, %v; want the name", host, w, err)
		}
	}
}

type fakeDNS map[string][]netip.Addr

func (f fakeDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// TestWebhookAddrs: a name is judged by every address it resolves to.
func TestWebhookAddrs(t *testing.T) {
	t.Parallel()
	dns := fakeDNS{
		"hooks.example.com":  {netip.MustParseAddr("93.184.215.14")},
		"localhost":          {netip.MustParseAddr("127.0.0.1")},
		"rebind.example.com": {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("127.0.0.1")},
		"mapped.example.com": {netip.MustParseAddr("::ffff:10.0.0.1")},
	}
	ctx := context.Background()
	for host, wantOK := range map[string]bool{
		"hooks.example.com": true, "rebind.example.com": false, "mapped.example.com": false,
		"127.1": false, "93.184.215.14": true, "localhost": false,
	} {
		_, err := lockbox.WebhookAddrs(ctx, dns, host, false)
		if (err == nil) != wantOK {
			t.Errorf("WebhookAddrs(%q) = %v, want ok %v", host, err, wantOK)
		}
		if _, err := lockbox.WebhookAddrs(ctx, dns, host, true); err != nil {
			t.Errorf("WebhookAddrs(%q, allowPrivate) = %v", host, err)
		}
	}
	if _, err := lockbox.WebhookAddrs(ctx, dns, "missing.example.com", false); lockbox.ErrorCode(err) != lockbox.EINTERNAL {
		t.Errorf("an unresolvable name: %v, want the resolver's error", err)
	}
}

// FuzzValidateWebhookURL: whatever the input, an accepted URL is https
// with a valid port, and a host that is an address is public; the parser
// never panics. The seeds run in the normal suite.
func FuzzValidateWebhookURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/x", "https://127.1/", "https://0x7f.1:99999/", "https://[::ffff:127.0.0.1]/",
		"https://2130706433", "https://a.b.c.d.e/", "https://0177.0.0.1.", "https://[fe80::1%25lo]/", "https://h:65535/", "https://1.1.1.1:1/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		w, err := lockbox.ValidateWebhookURL(raw, false)
		if err != nil {
			if lockbox.ErrorCode(err) != lockbox.EINVALID {
				t.Fatalf("%q: %v, want EINVALID", raw, err)
			}
			return
		}
		if w.URL.Scheme != "https" {
			t.Fatalf("%q accepted with scheme %q", raw, w.URL.Scheme)
		}
		if w.Addr.IsValid() && !lockbox.PublicAddr(w.Addr) {
			t.Fatalf("%q accepted, reaching %s", raw, w.Addr)
		}
		if w.Addr.IsValid() == (w.Name != "") {
			t.Fatalf("%q: host is both or neither an address and a name: %+v", raw, w)
		}
		if addr, err := netip.ParseAddr(strings.Trim(w.URL.Hostname(), "[]")); err == nil && !lockbox.PublicAddr(addr) {
			t.Fatalf("%q accepted, a literal %s", raw, addr)
		}
	})
}
