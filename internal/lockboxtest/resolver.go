package lockboxtest

import (
	"context"
	"net"
	"net/netip"
)

// Resolver is a hand-written DNS for tests of webhook targets: names map
// to the addresses they resolve to; any other name does not exist. Tests
// never reach a real resolver (none answers on the test machines, and a
// lookup would leave a synctest bubble).
type Resolver map[string][]netip.Addr

// LookupNetIP answers from the map, like *net.Resolver.LookupNetIP.
func (r Resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if addrs, ok := r[host]; ok {
		return addrs, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// DNS is the test world's DNS: hooks.example.com is public; the other
// names reach a private or loopback address, directly or among public ones.
var DNS = Resolver{
	"hooks.example.com":    {netip.MustParseAddr("93.184.215.14")},
	"internal.example.com": {netip.MustParseAddr("10.0.0.5")},
	"rebind.example.com":   {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("127.0.0.1")},
	"mapped.example.com":   {netip.MustParseAddr("::ffff:127.0.0.1")},
}
