package server

import (
	"net/http"
	"time"

	"github.com/lockboxhq/lockbox"
)

// maxClockAdvance bounds one step of the dev clock: a year is far more than
// any deadline Lockbox keeps, and an overflowing offset is not a clock.
const maxClockAdvance = 8760 * time.Hour

// clockAdvance is the body of POST /v1/dev/clock and the reply's shape.
type (
	clockAdvance struct {
		Advance string `json:"advance"`
	}
	clockNow struct {
		Now time.Time `json:"now"`
	}
)

// advanceClock moves the --dev clock forward, so a person can watch a
// 12-hour deadline pass. The route exists only when DevClock is set.
func (s *Server) advanceClock(w http.ResponseWriter, r *http.Request) {
	var in clockAdvance
	if err := decodeJSON(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	d, err := time.ParseDuration(in.Advance)
	if err != nil || d <= 0 || d > maxClockAdvance {
		s.error(w, r, lockbox.Errorf(lockbox.EINVALID,
			`advance must be a positive Go duration up to 8760h, like "12h1m"; got %q.`, in.Advance))
		return
	}
	now := s.DevClock.Advance(d)
	s.logger().InfoContext(r.Context(), "dev clock advanced", "by", d, "now", now)
	s.respond(w, r, http.StatusOK, clockNow{Now: now.UTC()})
}
