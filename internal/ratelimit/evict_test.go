package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

// TestLimiterEvictsLeastRecentlyUsed: a spray of made-up keys past maxKeys
// never resets a throttled key that is still being tried; only the least
// recently used buckets make room.
func TestLimiterEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	l := New(1, time.Hour)
	l.maxKeys = 5
	l.Spend("hot", now)  // throttled for an hour
	l.Spend("cold", now) // throttled, then never asked about again
	for i := range 50 {
		l.Spend(fmt.Sprint("spray", i), now)
		if l.Allowed("hot", now) {
			t.Fatalf("after %d sprayed keys the throttled key has an attempt again", i+1)
		}
		if n := len(l.buckets); n > l.maxKeys || l.order.Len() != n {
			t.Fatalf("after %d sprayed keys: %d buckets, %d in order, want at most %d", i+1, n, l.order.Len(), l.maxKeys)
		}
	}
	if _, ok := l.buckets["cold"]; ok {
		t.Errorf("the least recently used bucket was kept")
	}
	for i := 46; i < 50; i++ { // the 4 newest sprayed keys stay, beside "hot"
		if _, ok := l.buckets[fmt.Sprint("spray", i)]; !ok {
			t.Errorf("recent key spray%d was evicted", i)
		}
	}
}

// TestAllowedCreatesNoBucket: asking about a key that never failed keeps
// no state, so asking about made-up keys costs no memory and evicts
// nothing.
func TestAllowedCreatesNoBucket(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	l := New(2, time.Minute)
	for i := range 10 {
		if !l.Allowed(fmt.Sprint(i), now) || l.Wait(fmt.Sprint(i), now) != 0 {
			t.Fatalf("a new key has no attempt left")
		}
	}
	if n := len(l.buckets); n != 0 {
		t.Errorf("%d buckets after only asking, want 0", n)
	}
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"}, // one /64
		{"2001:db8:1:2::1", "2001:DB8:1:2:0:0:0:7"},
		{"fe80::1%eth0", "fe80::2"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
	}
	for _, tt := range tests {
		if ka, kb := ClientKey(tt.a), ClientKey(tt.b); ka != kb {
			t.Errorf("ClientKey(%q) = %q, ClientKey(%q) = %q: want one key", tt.a, ka, tt.b, kb)
		}
	}
	distinct := []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:3::1"}, // neighbouring /64s
		{"192.0.2.1", "192.0.2.2"},             // IPv4 per address
		{"", "192.0.2.1"},
	}
	for _, tt := range distinct {
		if ka, kb := ClientKey(tt.a), ClientKey(tt.b); ka == kb {
			t.Errorf("ClientKey(%q) = ClientKey(%q) = %q: want distinct keys", tt.a, tt.b, ka)
		}
	}
	if got := ClientKey("2001:db8:1:2:3:4:5:6"); got != "ip:2001:db8:1:2::/64" {
		t.Errorf("ClientKey = %q, want ip:2001:db8:1:2::/64", got)
	}
}
