// Package ratelimit limits attempts per key (an account, a client address)
// with a token bucket per key. It is the one sign-in limiter: the workflow
// (approval) limits failed passwords per account, the admin center (web)
// sign-in attempts per address.
//
// Every method takes the time from its caller, so a limit follows the
// caller's injected clock and tests step time instead of sleeping. It
// imports golang.org/x/time/rate and the standard library only.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxKeys bounds memory under a spray of made-up keys (addresses, email
// addresses): past it every bucket is dropped and all keys start full again,
// which costs an attacker nothing they could not get from new keys anyway.
const maxKeys = 100_000

// Limiter allows each key Burst attempts at once and one more every Every.
// The zero value is not usable; call New.
type Limiter struct {
	burst   int
	every   time.Duration
	maxKeys int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// New returns a Limiter that allows burst attempts per key at once, and one
// more every every.
func New(burst int, every time.Duration) *Limiter {
	return &Limiter{burst: burst, every: every, maxKeys: maxKeys, buckets: map[string]*rate.Limiter{}}
}

// Allowed reports whether key has an attempt left at now, without using it
// (for limits that count only failures: check first, Spend on failure).
func (l *Limiter) Allowed(key string, now time.Time) bool {
	return l.bucket(key).TokensAt(now) >= 1
}

// Wait is how long from now until key has an attempt left (0: it has one
// now), for a Retry-After header.
func (l *Limiter) Wait(key string, now time.Time) time.Duration {
	tokens := l.bucket(key).TokensAt(now)
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

func (l *Limiter) bucket(key string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.maxKeys {
			clear(l.buckets)
		}
		b = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.buckets[key] = b
	}
	return b
}
