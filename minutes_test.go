package lockbox_test

import (
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

func TestParseMinutes(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"2h", 120, false},
		{"90m", 90, false},
		{"1h30m", 90, false},
		{"120s", 2, false},
		{" 4h ", 240, false},
		{"0m", 0, false},
		{"-1h", -60, false}, // the range is the caller's rule
		{"90s", 0, true},
		{"120", 0, true}, // no unit: forms that take bare minutes say so themselves
		{"two hours", 0, true},
		{"1h 30m", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := lockbox.ParseMinutes(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseMinutes(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
			if err != nil && lockbox.ErrorCode(err) != lockbox.EINVALID {
				t.Errorf("error %v, want EINVALID", err)
			}
		})
	}
}

func TestParseGrace(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"", 0, false}, // none: the old credential stops at once
		{"10m", 10 * time.Minute, false},
		{" 24h ", 24 * time.Hour, false},
		{"0", 0, false},
		{"25h", 25 * time.Hour, false}, // the bounds are the service's rule
		{"soon", 0, true},
		{"10", 0, true},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := lockbox.ParseGrace(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseGrace(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
			if err != nil && (lockbox.ErrorCode(err) != lockbox.EINVALID || lockbox.ErrorField(err) != "grace") {
				t.Errorf("error %v, want EINVALID on the field grace", err)
			}
		})
	}
}
