// Package ratelimit limits attempts per key (an account, a client address)
// with a token bucket per key. It is the one sign-in limiter: the workflow
// (approval) limits failed sign-ins per account and per client address
// (ClientKey), across every replica, in buckets its store keeps (Rule,
// Bucket), and remembers throttled clients in each replica's memory too
// (Limiter).
//
// Every method takes the time from its caller, so a limit follows the
// caller's injected clock and tests step time instead of sleeping. It
// imports the standard library only.
package ratelimit

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// Rule is a token bucket: Burst attempts at once, and one more every
// Every. It is the arithmetic of every limit, in memory (Limiter) or kept
// by a store (Bucket).
type Rule struct {
	Burst int
	Every time.Duration
}

// Bucket is what a key has left: Tokens at At. A key that never spent has
// no bucket (nil): a full one.
type Bucket struct {
	Tokens float64
	At     time.Time
}

// Tokens is what b has left at now. A clock that went back counts no
// refill, never a negative one.
func (r Rule) Tokens(b *Bucket, now time.Time) float64 {
	if b == nil {
		return float64(r.Burst)
	}
	elapsed := max(now.Sub(b.At), 0)
	return min(b.Tokens+float64(elapsed)/float64(r.Every), float64(r.Burst))
}

// Allowed reports whether b has an attempt left at now.
func (r Rule) Allowed(b *Bucket, now time.Time) bool { return r.Tokens(b, now) >= 1 }

// Wait is how long from now until b has an attempt left (0: it has one
// now), for a Retry-After header.
func (r Rule) Wait(b *Bucket, now time.Time) time.Duration {
	tokens := r.Tokens(b, now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) * float64(r.Every))
}

// Spend is b after using one attempt at now (none when none is left), and
// whether there was one.
func (r Rule) Spend(b *Bucket, now time.Time) (Bucket, bool) {
	tokens := r.Tokens(b, now)
	ok := tokens >= 1
	if ok {
		tokens--
	}
	at := now
	if b != nil && b.At.After(now) {
		at = b.At
	}
	return Bucket{Tokens: tokens, At: at}, ok
}

// FullAt is when b is full again: from then on it is the same as no
// bucket, and a store may forget it.
func (r Rule) FullAt(b Bucket) time.Time {
	return b.At.Add(time.Duration((float64(r.Burst) - b.Tokens) * float64(r.Every)))
}

// maxKeys bounds memory under a spray of made-up keys (addresses, email
// addresses): past it the least recently used bucket makes room. Never all
// of them: a global reset would hand every throttled account and client a
// fresh limit for the price of 100,000 made-up keys.
const maxKeys = 100_000

// Limiter keeps a Rule's buckets in memory, one per key. The zero value is
// not usable; call New.
type Limiter struct {
	rule    Rule
	maxKeys int

	mu sync.Mutex
	// buckets indexes order, whose front is the most recently used
	// bucket and whose back the next to go.
	buckets map[string]*list.Element
	order   list.List
}

type entry struct {
	key string
	b   Bucket
}

// New returns a Limiter that allows burst attempts per key at once, and one
// more every every.
func New(burst int, every time.Duration) *Limiter {
	return &Limiter{rule: Rule{Burst: burst, Every: every}, maxKeys: maxKeys, buckets: map[string]*list.Element{}}
}

// Allowed reports whether key has an attempt left at now, without using it
// (for limits that count only failures: check first, Spend on failure).
func (l *Limiter) Allowed(key string, now time.Time) bool {
	return l.rule.Allowed(l.bucket(key), now)
}

// Wait is how long from now until key has an attempt left (0: it has one
// now), for a Retry-After header.
func (l *Limiter) Wait(key string, now time.Time) time.Duration {
	return l.rule.Wait(l.bucket(key), now)
}

// Spend uses one of key's attempts at now; it does nothing when none is
// left.
func (l *Limiter) Spend(key string, now time.Time) { l.Allow(key, now) }

// Allow uses one of key's attempts at now and reports whether there was
// one (for limits that count every attempt).
func (l *Limiter) Allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.buckets[key]
	if !ok {
		for len(l.buckets) >= l.maxKeys {
			oldest := l.order.Back()
			l.order.Remove(oldest)
			delete(l.buckets, oldest.Value.(*entry).key)
		}
		e = l.order.PushFront(&entry{key: key, b: Bucket{Tokens: float64(l.rule.Burst), At: now}})
		l.buckets[key] = e
	}
	l.order.MoveToFront(e)
	en := e.Value.(*entry)
	next, allowed := l.rule.Spend(&en.b, now)
	en.b = next
	return allowed
}

// bucket is a copy of key's bucket, nil when it has none (full), so asking
// never creates a bucket: only spending does.
func (l *Limiter) bucket(key string) *Bucket {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.buckets[key]
	if !ok {
		return nil
	}
	l.order.MoveToFront(e)
	b := e.Value.(*entry).b
	return &b
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
