package main

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lockboxhq/lockbox"
)

// offsetStore is a store whose database has a clock of its own, off by off.
type offsetStore struct {
	lockbox.Store
	off time.Duration
}

func (s offsetStore) ClockOffset() time.Duration { return s.off }

// TestClockOffsetGauge: lockbox_database_clock_offset_seconds is what the
// store last measured, signed, in seconds; a store without a clock of its
// own (SQLite) reports 0. TestAlertRules checks a fresh server exports it.
func TestClockOffsetGauge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		store lockbox.Store
		want  float64
	}{
		{"Behind", offsetStore{off: -1500 * time.Millisecond}, -1.5},
		{"Ahead", offsetStore{off: 300 * time.Millisecond}, 0.3},
		{"NoClockOfItsOwn", struct{ lockbox.Store }{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			reg.MustRegister(clockOffsetGauge(tc.store))
			mfs, err := reg.Gather()
			if err != nil || len(mfs) != 1 || mfs[0].GetName() != "lockbox_database_clock_offset_seconds" {
				t.Fatalf("Gather = %v, %v; want the one gauge", mfs, err)
			}
			if got := mfs[0].GetMetric()[0].GetGauge().GetValue(); got != tc.want {
				t.Errorf("gauge = %v, want %v", got, tc.want)
			}
		})
	}
}
