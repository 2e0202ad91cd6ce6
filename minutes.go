package lockbox

import (
	"strings"
	"time"
)

// ParseMinutes reads a duration as people type one into the CLI and the web
// forms — Go syntax such as 2h, 90m or 1h30m, surrounding spaces ignored —
// in whole minutes, the unit of every duration Lockbox keeps. EINVALID when
// s is not a duration or not a whole number of minutes. Whether the value
// is in range is the caller's rule: the settings', a request's maximum, a
// flag's "greater than zero".
func ParseMinutes(s string) (int, error) {
	s = strings.TrimSpace(s)
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, Errorf(EINVALID, "%q is not a duration in whole minutes; write e.g. 2h, 90m or 1h30m.", s)
	}
	if d%time.Minute != 0 {
		return 0, Errorf(EINVALID, "%q is not a whole number of minutes; write e.g. 2h, 90m or 1h30m.", s)
	}
	return int(d / time.Minute), nil
}

// ParseGrace reads a rotation's grace period, as the API body and the web
// forms give it ("10m"; "" is none: the old credential stops at once).
// EINVALID, on the field grace, when s is not a duration. Its bounds are
// the service's rule.
func ParseGrace(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, FieldErrorf(EINVALID, "grace", "The grace period %q is not a duration such as \"10m\" or \"0\".", s)
	}
	return d, nil
}
