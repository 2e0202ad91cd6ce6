package middleware

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies is the set of peers whose forwarding headers are believed
// (lockbox serve --trusted-proxies). The zero value trusts nobody.
type TrustedProxies struct {
	prefixes []netip.Prefix
}

// ParseTrustedProxies reads a comma-separated list of CIDR prefixes or
// single addresses ("10.0.0.0/8, 127.0.0.1").
func ParseTrustedProxies(list string) (TrustedProxies, error) {
	var t TrustedProxies
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil || a.Zone() != "" {
				return TrustedProxies{}, fmt.Errorf("%q is neither a CIDR prefix (10.0.0.0/8) nor an IP address", item)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		t.prefixes = append(t.prefixes, p.Masked())
	}
	return t, nil
}

// Empty reports whether no proxy is trusted.
func (t TrustedProxies) Empty() bool { return len(t.prefixes) == 0 }

func (t TrustedProxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

type protoKey struct{}

// Forwarded serves next with the request's real client as RemoteAddr, so
// that ClientIP (and with it the audit log's client_ip, sign-in rate
// limits and the access log) names the client, not the proxy. Only when
// the peer is a trusted proxy are X-Forwarded-For and X-Forwarded-Proto
// (or, without them, Forwarded, RFC 7239) believed; the client is the
// rightmost address that is not itself a trusted proxy, since every hop
// appends and only the hops we trust are honest about what they append.
func (t TrustedProxies) Forwarded(next http.Handler) http.Handler {
	if t.Empty() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, ok := addrOf(r.RemoteAddr)
		if !ok || !t.trusted(peer) {
			next.ServeHTTP(w, r)
			return
		}
		hops, protos := forwardedHops(r.Header)
		client := peer
		for i := len(hops) - 1; i >= 0; i-- {
			a, ok := addrOf(hops[i])
			if !ok {
				break // "unknown" or an obfuscated name: the last hop we could read stands
			}
			client = a
			if !t.trusted(a) {
				break
			}
		}
		r2 := r.WithContext(r.Context())
		r2.RemoteAddr = client.Unmap().String()
		if len(protos) > 0 {
			proto := strings.ToLower(strings.TrimSpace(protos[len(protos)-1]))
			r2 = r2.WithContext(context.WithValue(r2.Context(), protoKey{}, proto))
		}
		next.ServeHTTP(w, r2)
	})
}

// forwardedHops returns the addresses and protocols a request's
// forwarding headers list, oldest first: from X-Forwarded-For and
// X-Forwarded-Proto, which nginx and Caddy maintain, or, only when there
// is no X-Forwarded-For, from Forwarded (RFC 7239). Reading one family
// only matters: a proxy that appends to one passes the other through as
// the client wrote it, and a forged header must not win.
func forwardedHops(h http.Header) (hops, protos []string) {
	if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		for _, v := range xff {
			for hop := range strings.SplitSeq(v, ",") {
				hops = append(hops, strings.TrimSpace(hop))
			}
		}
		for _, v := range h.Values("X-Forwarded-Proto") {
			for p := range strings.SplitSeq(v, ",") {
				protos = append(protos, p)
			}
		}
		return hops, protos
	}
	for _, v := range h.Values("Forwarded") {
		for elem := range strings.SplitSeq(v, ",") {
			for pair := range strings.SplitSeq(elem, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(pair), "=")
				val = strings.Trim(strings.TrimSpace(val), `"`)
				switch strings.ToLower(k) {
				case "for":
					hops = append(hops, val)
				case "proto":
					protos = append(protos, val)
				}
			}
		}
	}
	return hops, protos
}

// addrOf reads an address as proxies write it: "192.0.2.1",
// "192.0.2.1:4711", "[2001:db8::1]" or "[2001:db8::1]:4711".
func addrOf(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return a, err == nil && a.Zone() == ""
}

// IsHTTPS reports whether the client reached us over https: the
// connection is TLS, or a trusted proxy said so.
func IsHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	proto, _ := r.Context().Value(protoKey{}).(string)
	return proto == "https"
}

// HSTS serves next and, on https, tells browsers to use https only for
// two years (RFC 6797). It is never sent over plain http, where it would
// be ignored and could be injected anyway.
func HSTS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if IsHTTPS(r) {
			w.Header().Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}
