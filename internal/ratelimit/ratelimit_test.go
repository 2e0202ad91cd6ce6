package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

// step is one call at an offset from the start: "allow" (spend and report),
// "allowed" (report only) or "spend".
type step struct {
	at   time.Duration
	op   string
	key  string
	want bool // for allow and allowed
}

// TestLimiter: burst 3, one more every 10 s, on a clock the test steps.
func TestLimiter(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		steps []step
	}{
		{"BurstThenRefused", []step{
			{0, "allow", "a", true}, {0, "allow", "a", true}, {0, "allow", "a", true},
			{0, "allow", "a", false},
		}},
		{"RefillsOnePerInterval", []step{
			{0, "allow", "a", true}, {0, "allow", "a", true}, {0, "allow", "a", true},
			{10*time.Second - time.Nanosecond, "allow", "a", false},
			{10 * time.Second, "allow", "a", true},
			{10 * time.Second, "allow", "a", false},
		}},
		{"AllowedDoesNotSpend", []step{
			{0, "allowed", "a", true}, {0, "allowed", "a", true}, {0, "allowed", "a", true},
			{0, "allowed", "a", true}, {0, "allow", "a", true},
		}},
		{"SpendCountsTowardsTheLimit", []step{
			{0, "spend", "a", false}, {0, "spend", "a", false}, {0, "allowed", "a", true},
			{0, "spend", "a", false}, {0, "allowed", "a", false}, {0, "allow", "a", false},
			{10 * time.Second, "allowed", "a", true},
		}},
		{"KeysAreIndependent", []step{
			{0, "spend", "a", false}, {0, "spend", "a", false}, {0, "spend", "a", false},
			{0, "allowed", "a", false}, {0, "allowed", "b", true}, {0, "allow", "b", true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(3, 10*time.Second)
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				var got bool
				switch s.op {
				case "allow":
					got = l.Allow(s.key, now)
				case "allowed":
					got = l.Allowed(s.key, now)
				case "spend":
					l.Spend(s.key, now)
					continue
				}
				if got != s.want {
					t.Errorf("step %d: %s(%q) at +%v = %v, want %v", i, s.op, s.key, s.at, got, s.want)
				}
			}
		})
	}
}

// TestLimiterBoundsMemory: a spray of keys never grows the table past
// maxKeys.
func TestLimiterBoundsMemory(t *testing.T) {
	l := New(1, time.Minute)
	l.maxKeys = 5
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	for i := range 12 {
		l.Spend(fmt.Sprint(i), now)
		if n := len(l.buckets); n > l.maxKeys {
			t.Fatalf("after %d keys: %d buckets, want at most %d", i+1, n, l.maxKeys)
		}
	}
}

func TestWait(t *testing.T) {
	t.Parallel()
	l := New(1, 10*time.Second)
	now := time.Unix(1_000_000, 0)
	if w := l.Wait("k", now); w != 0 {
		t.Fatalf("Wait with an attempt left = %v, want 0", w)
	}
	l.Spend("k", now)
	if w := l.Wait("k", now); w != 10*time.Second {
		t.Errorf("Wait right after spending = %v, want 10s", w)
	}
	if w := l.Wait("k", now.Add(4*time.Second)); w != 6*time.Second {
		t.Errorf("Wait 4s later = %v, want 6s", w)
	}
}
