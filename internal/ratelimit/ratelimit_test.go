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

// TestRule: the arithmetic a store's buckets follow (burst 3, one more
// every 10 s).
func TestRule(t *testing.T) {
	t.Parallel()
	r := Rule{Burst: 3, Every: 10 * time.Second}
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	empty := &Bucket{Tokens: 0, At: t0}
	tests := []struct {
		name      string
		b         *Bucket
		now       time.Time
		tokens    float64
		wait      time.Duration
		spent     Bucket
		spendOK   bool
		fullAfter time.Duration // of spent
	}{
		{"NoBucketIsFull", nil, t0, 3, 0, Bucket{2, t0}, true, 10 * time.Second},
		{"Empty", empty, t0, 0, 10 * time.Second, Bucket{0, t0}, false, 30 * time.Second},
		{"HalfRefilled", empty, t0.Add(5 * time.Second), 0.5, 5 * time.Second, Bucket{0.5, t0.Add(5 * time.Second)}, false, 25 * time.Second},
		{"RefillCapped", empty, t0.Add(time.Hour), 3, 0, Bucket{2, t0.Add(time.Hour)}, true, 10 * time.Second},
		{"ClockWentBack", &Bucket{1, t0}, t0.Add(-time.Minute), 1, 0, Bucket{0, t0}, true, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Tokens(tt.b, tt.now); got != tt.tokens {
				t.Errorf("Tokens = %v, want %v", got, tt.tokens)
			}
			if got := r.Wait(tt.b, tt.now); got != tt.wait {
				t.Errorf("Wait = %v, want %v", got, tt.wait)
			}
			got, ok := r.Spend(tt.b, tt.now)
			if got != tt.spent || ok != tt.spendOK {
				t.Errorf("Spend = %+v, %v; want %+v, %v", got, ok, tt.spent, tt.spendOK)
			}
			if full := r.FullAt(got); full != got.At.Add(tt.fullAfter) {
				t.Errorf("FullAt = %v after, want %v", full.Sub(got.At), tt.fullAfter)
			}
		})
	}
}
