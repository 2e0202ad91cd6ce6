package servegc

import (
	"os"
	"runtime/debug"
	"testing"
)

// Not parallel: the collector's target is the process's.
func TestSet(t *testing.T) {
	tests := []struct {
		name    string
		gogc    string // "" for unset
		want    int    // Set's result
		percent int    // the target in force after
	}{
		{"unset: Lockbox's target", "", Percent, Percent},
		{"GOGC chosen: left alone", "150", -1, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.gogc != "" {
				t.Setenv("GOGC", tt.gogc)
			} else {
				t.Setenv("GOGC", "") // restored at the test's end
				if err := os.Unsetenv("GOGC"); err != nil {
					t.Fatal(err)
				}
			}
			prev := debug.SetGCPercent(100)
			t.Cleanup(func() { debug.SetGCPercent(prev) })
			if got := Set(); got != tt.want {
				t.Errorf("Set() = %d, want %d", got, tt.want)
			}
			if got := debug.SetGCPercent(100); got != tt.percent {
				t.Errorf("target after Set: %d, want %d", got, tt.percent)
			}
		})
	}
}
