package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// TestCheckClock: the clocks differ by at least the distance from the
// database's reading to the interval around it; more than maxClockSkew
// either way is EUNAVAILABLE, saying which way, however long the round
// trip took. clockOffset, which the metric serves, is that distance, signed.
func TestCheckClock(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		db       time.Time
		rtt      time.Duration
		wantWord string // "" when the clocks agree
		wantOff  time.Duration
	}{
		{"Same", t0.Add(time.Millisecond), 2 * time.Millisecond, "", 0},
		{"SlowRoundTrip", t0.Add(2 * time.Second), 4 * time.Second, "", 0},
		{"AheadWithinBound", t0.Add(-time.Second), time.Millisecond, "", time.Second},
		{"BehindWithinBound", t0.Add(time.Second + time.Millisecond), time.Millisecond, "", -time.Second},
		{"Ahead", t0.Add(-1500 * time.Millisecond), time.Millisecond, "1.5s ahead of", 1500 * time.Millisecond},
		{"Behind", t0.Add(5 * time.Second), time.Millisecond, "4.999s behind", -4999 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			off := clockOffset(t0, tc.db, t0.Add(tc.rtt))
			if off != tc.wantOff {
				t.Errorf("clockOffset = %s, want %s", off, tc.wantOff)
			}
			err := checkClock(off, maxClockSkew)
			if tc.wantWord == "" {
				if err != nil {
					t.Fatalf("checkClock = %v, want nil", err)
				}
				return
			}
			if lockbox.ErrorCode(err) != lockbox.EUNAVAILABLE || !strings.Contains(err.Error(), tc.wantWord) {
				t.Fatalf("checkClock = %v, want EUNAVAILABLE saying %q", err, tc.wantWord)
			}
		})
	}
}
