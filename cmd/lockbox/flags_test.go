package main

import (
	"testing"
	"time"
)

// TestParseMinutes: the syntax is lockbox.ParseMinutes' (tested there);
// a flag adds "greater than zero", unless zero is allowed.
func TestParseMinutes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        string
		allowZero bool
		want      int
		wantErr   bool
	}{
		{"Hours", "2h", false, 120, false},
		{"PartMinute", "90s", false, 0, true},
		{"Zero", "0", false, 0, true},
		{"ZeroAllowed", "0", true, 0, false},
		{"ZeroMinutesAllowed", "0m", true, 0, false},
		{"Negative", "-1h", true, 0, true},
		{"Garbage", "two hours", false, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMinutes(tt.in, tt.allowZero)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseMinutes(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseMinutes(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    time.Time
		wantErr bool
	}{
		{"UTC", "2026-11-21T09:00:00Z", time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC), false},
		{"OffsetToUTC", "2026-11-21T10:30:00+01:00", time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC), false},
		{"DateOnly", "2026-11-21", time.Time{}, true},
		{"NoZone", "2026-11-21T09:00:00", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTime(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseTime(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if !got.Equal(tt.want) || (err == nil && got.Location() != time.UTC) {
				t.Errorf("parseTime(%q) = %v, want %v in UTC", tt.in, got, tt.want)
			}
		})
	}
}

func TestStatusesValue(t *testing.T) {
	t.Parallel()
	var v statusesValue
	if err := v.Set("pending"); err != nil {
		t.Fatal(err)
	}
	if err := v.Set("approved,active"); err != nil {
		t.Fatal(err)
	}
	if got, want := v.String(), "pending,approved,active"; got != want {
		t.Errorf("statuses = %q, want %q", got, want)
	}
	if err := v.Set("pendng"); err == nil {
		t.Error("unknown status accepted")
	}
}
