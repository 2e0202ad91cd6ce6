package lockbox

import (
	"context"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// This file is the one check of where a webhook may point (SPEC §14): the
// URL's shape, its host in every spelling an HTTP client or resolver may
// accept, and the addresses a name resolves to. Registration
// (approval.CreateWebhook) and delivery (webhook.Sender's dialer) both use
// it, so a host is judged the same way at creation and at connect time.

// Resolver looks a host name up; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// WebhookURL is a webhook endpoint URL that passed ValidateWebhookURL.
type WebhookURL struct {
	URL *url.URL
	// Addr is the host's address when the host is an IP address in any
	// spelling ("127.1", "0x7f.1", "2130706433", "[::ffff:127.0.0.1]");
	// invalid when the host is a name.
	Addr netip.Addr
	// Name is the lower-case host name without a trailing dot, when the
	// host is not an address.
	Name string
}

// ValidateWebhookURL checks an endpoint URL at registration: absolute
// https (http too when allowPrivate), a host, a port in 1–65535 if any, no
// credentials, no fragment, and, unless allowPrivate, no address or name
// that is private, loopback, link-local or otherwise special, however it
// is spelled. A name's addresses are checked by CheckWebhookHost, at
// registration and again at every connection, since DNS can change.
func ValidateWebhookURL(raw string, allowPrivate bool) (*WebhookURL, error) {
	if err := ValidText("url", raw, MaxWebhookURLLen, true); err != nil {
		return nil, err
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "" || u.Opaque != "" {
		return nil, FieldErrorf(EINVALID, "url", "url must be an absolute URL like https://hooks.example.com/lockbox.")
	}
	switch {
	case u.Scheme != "https" && !(allowPrivate && u.Scheme == "http"):
		return nil, FieldErrorf(EINVALID, "url", "url must use https (plain http is allowed only on servers started with --allow-private-webhooks).")
	case u.User != nil:
		return nil, FieldErrorf(EINVALID, "url", "url must not contain a user name or password: deliveries are authenticated by their signature.")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, FieldErrorf(EINVALID, "url", "url must not contain a fragment (#…).")
	}
	if err := checkPort(u); err != nil {
		return nil, err
	}
	w, err := ParseWebhookHost(u.Hostname())
	if err != nil {
		return nil, err
	}
	w.URL = u
	if !allowPrivate && !w.public() {
		return nil, FieldErrorf(EINVALID, "url", "url points to a private, loopback or link-local address (%s); such targets are refused unless the server runs with --allow-private-webhooks.", u.Hostname())
	}
	return w, nil
}

// checkPort refuses a port outside 1–65535, or an empty one ("host:").
func checkPort(u *url.URL) error {
	if !strings.HasSuffix(u.Host, ":") && u.Port() == "" {
		return nil
	}
	n, err := strconv.Atoi(u.Port())
	if err != nil || n < 1 || n > 65535 || u.Port() != strconv.Itoa(n) {
		return FieldErrorf(EINVALID, "url", "url's port must be a number from 1 to 65535; got %q.", u.Port())
	}
	return nil
}

// ParseWebhookHost reads a URL host (without brackets or port) the way
// clients and resolvers may: an IPv6 literal, a dotted quad, or any legacy
// IPv4 spelling of inet_aton and the WHATWG URL standard (decimal, octal
// with a leading 0, hex with 0x, one to four parts: "127.1", "0177.0.0.1",
// "2130706433", "0x7f000001"). A host whose last label is numeric but is
// not such an address is refused, as browsers refuse it. Anything else is
// a name.
func ParseWebhookHost(host string) (*WebhookURL, error) {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "" {
		return nil, FieldErrorf(EINVALID, "url", "url must name a host.")
	}
	if strings.Contains(h, ":") {
		addr, err := netip.ParseAddr(h)
		if err != nil || addr.Zone() != "" {
			return nil, FieldErrorf(EINVALID, "url", "url's host %q is not a valid IPv6 address.", host)
		}
		return &WebhookURL{Addr: addr}, nil
	}
	labels := strings.Split(h, ".")
	if !numericLabel(labels[len(labels)-1]) {
		if !validName(labels) {
			return nil, FieldErrorf(EINVALID, "url", "url's host %q is not a valid host name (letters, digits, hyphens and dots; write international names in their xn-- form).", host)
		}
		return &WebhookURL{Name: h}, nil
	}
	addr, ok := parseIPv4(labels)
	if !ok {
		return nil, FieldErrorf(EINVALID, "url", "url's host %q is neither a host name nor a valid IPv4 address.", host)
	}
	return &WebhookURL{Addr: addr}, nil
}

// validName reports whether labels form a DNS host name: non-empty labels
// of at most 63 letters, digits, hyphens or underscores.
func validName(labels []string) bool {
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return false
		}
	}
	return true
}

// numericLabel reports whether a label looks like a number to the WHATWG
// host parser (and so makes the host an IPv4 address or invalid).
func numericLabel(s string) bool {
	if s == "" {
		return false
	}
	if rest, ok := strings.CutPrefix(s, "0x"); ok {
		return strings.Trim(rest, "0123456789abcdef") == ""
	}
	return strings.Trim(s, "0123456789") == ""
}

// parseIPv4 is inet_aton: up to four parts, each decimal, octal (leading
// 0) or hex (0x); the last part fills the bytes left.
func parseIPv4(parts []string) (netip.Addr, bool) {
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		n, ok := parseIPv4Part(p)
		if !ok {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if n > 255 {
				return netip.Addr{}, false
			}
			v |= n << (8 * (3 - uint(i)))
			continue
		}
		if n >= 1<<(8*(4-uint(i))) {
			return netip.Addr{}, false
		}
		v |= n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

func parseIPv4Part(p string) (uint64, bool) {
	base := 10
	switch {
	case p == "":
		return 0, false
	case strings.HasPrefix(p, "0x"):
		base, p = 16, p[2:]
		if p == "" {
			return 0, true // "0x" is zero to WHATWG
		}
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	n, err := strconv.ParseUint(p, base, 32)
	return n, err == nil
}

// public reports whether the host may be public: an address PublicAddr
// allows, or a name that is not obviously local.
func (w *WebhookURL) public() bool {
	if w.Addr.IsValid() {
		return PublicAddr(w.Addr)
	}
	if w.Name == "localhost" || !strings.Contains(w.Name, ".") {
		return false
	}
	for _, suffix := range []string{".localhost", ".local", ".internal", ".home.arpa"} {
		if strings.HasSuffix(w.Name, suffix) {
			return false
		}
	}
	return true
}

// WebhookAddrs returns the addresses a webhook host reaches: the address
// itself, or what r resolves the name to, each refused with EINVALID
// unless PublicAddr allows it (or allowPrivate). The delivery dialer
// connects only to what it returns; registration calls it too.
func WebhookAddrs(ctx context.Context, r Resolver, host string, allowPrivate bool) ([]netip.Addr, error) {
	w, err := ParseWebhookHost(host)
	if err != nil {
		return nil, err
	}
	addrs := []netip.Addr{w.Addr}
	if !w.Addr.IsValid() {
		if !allowPrivate && !w.public() {
			return nil, FieldErrorf(EINVALID, "url", "url's host %s is a local name; such targets are refused unless the server runs with --allow-private-webhooks.", host)
		}
		if addrs, err = r.LookupNetIP(ctx, "ip", w.Name); err != nil {
			return nil, err
		}
	}
	for _, a := range addrs {
		if !allowPrivate && !PublicAddr(a) {
			return nil, FieldErrorf(EINVALID, "url", "url's host %s reaches %s, a private, loopback or link-local address; such targets are refused unless the server runs with --allow-private-webhooks.", host, a)
		}
	}
	return addrs, nil
}

// nonPublic are the special-purpose ranges (RFC 6890 and successors) a
// webhook may not reach: a webhook must not become a way into the
// provider's own network or cloud metadata service.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("::/96"),          // IPv4-compatible (deprecated): ::127.0.0.1
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64: may embed any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("100::/64"),       // discard
	netip.MustParsePrefix("2001::/23"),      // IETF protocol assignments (Teredo, ORCHID, …)
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("2002::/16"),      // 6to4: may embed any IPv4 address
	netip.MustParsePrefix("fc00::/7"),       // unique local (also IsPrivate)
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
}

// PublicAddr reports whether a webhook may be delivered to addr: not
// loopback, private, link-local, multicast, unspecified or another
// special-purpose range. IPv4-mapped IPv6 addresses are judged as IPv4.
func PublicAddr(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.Zone() != "" || addr.IsLoopback() || addr.IsPrivate() || addr.IsUnspecified() ||
		addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast() ||
		addr.IsMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}
