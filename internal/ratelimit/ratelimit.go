// Package ratelimit limits attempts per key (an account, a client address)
// with a token bucket per key. It is the one sign-in limiter: the workflow
// (approval) limits failed passwords per account and per client address
// (ClientKey).
//
// Every method takes the time from its caller, so a limit follows the
// caller's injected clock and tests step time instead of sleeping. It
// imports golang.org/x/time/rate and the standard library only.
package ratelimit

import (
	"container/list"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxKeys bounds memory under a spray of made-up keys (addresses, email
// addresses): past it the least recently used bucket makes room. Never all
// of them: a global reset would hand every throttled account and client a
// fresh limit for the price of 100,000 made-up keys.
const maxKeys = 100_000

// Limiter allows each key Burst attempts at once and one more every Every.
// The zero value is not usable; call New.
type Limiter struct {
	burst   int
	every   time.Duration
	maxKeys int

	mu sync.Mutex
	// buckets indexes order, whose front is the most recently used
	// bucket and whose back the next to go.
	buckets map[string]*list.Element
	order   list.List
}

type entry struct {
	key string
	lim *rate.Limiter
}

// New returns a Limiter that allows burst attempts per key at once, and one
// more every every.
func New(burst int, every time.Duration) *Limiter {
	return &Limiter{burst: burst, every: every, maxKeys: maxKeys, buckets: map[string]*list.Element{}}
}

// Allowed reports whether key has an attempt left at now, without using it
// (for limits that count only failures: check first, Spend on failure).
func (l *Limiter) Allowed(key string, now time.Time) bool {
	return l.tokens(key, now) >= 1
}

// Wait is how long from now until key has an attempt left (0: it has one
// now), for a Retry-After header.
func (l *Limiter) Wait(key string, now time.Time) time.Duration {
	tokens := l.tokens(key, now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) * float64(l.every))
}

// Spend uses one of key's attempts at now; it does nothing when none is
// left.
func (l *Limiter) Spend(key string, now time.Time) {
	l.bucket(key).AllowN(now, 1)
}

// Allow uses one of key's attempts at now and reports whether there was
// one (for limits that count every attempt).
func (l *Limiter) Allow(key string, now time.Time) bool {
	return l.bucket(key).AllowN(now, 1)
}

// tokens is what key has left at now. A key without a bucket has a full
// one, so asking never creates a bucket: only spending does.
func (l *Limiter) tokens(key string, now time.Time) float64 {
	l.mu.Lock()
	e, ok := l.buckets[key]
	if ok {
		l.order.MoveToFront(e)
	}
	l.mu.Unlock()
	if !ok {
		return float64(l.burst)
	}
	return e.Value.(*entry).lim.TokensAt(now)
}

func (l *Limiter) bucket(key string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.buckets[key]; ok {
		l.order.MoveToFront(e)
		return e.Value.(*entry).lim
	}
	for len(l.buckets) >= l.maxKeys {
		oldest := l.order.Back()
		l.order.Remove(oldest)
		delete(l.buckets, oldest.Value.(*entry).key)
	}
	b := rate.NewLimiter(rate.Every(l.every), l.burst)
	l.buckets[key] = l.order.PushFront(&entry{key: key, lim: b})
	return b
}

// ClientKey is the key of a client address: an IPv4 address itself, an
// IPv6 address its /64, since one subscriber is routinely given a whole
// /64 and would otherwise have 2⁶⁴ fresh keys. An IPv4-mapped IPv6 address
// counts as IPv4; anything unparsable (an unknown address is "") is kept
// as given.
func ClientKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return "ip:" + addr
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return "ip:" + ip.String()
	}
	return "ip:" + netip.PrefixFrom(ip, 64).Masked().String()
}
