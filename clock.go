package lockbox

import (
	"sync"
	"time"
)

// Clock is where every rule gets the time. Rules and stores never call
// time.Now themselves: one timestamp is taken per transaction and passed down.
type Clock interface {
	Now() time.Time
}

// SystemClock reads the wall clock (which, under testing/synctest, is the
// bubble's fake clock).
type SystemClock struct{}

// Now returns the current time in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// OffsetClock is the wall clock shifted forward by an adjustable offset. Dev
// mode uses it so a person can watch a 12-hour deadline pass in a second.
type OffsetClock struct {
	mu     sync.Mutex
	offset time.Duration
	// moved is closed and replaced whenever the clock is advanced, so that
	// workers sleeping until a deadline wake up at once.
	moved chan struct{}
}

// NewOffsetClock returns an OffsetClock with no offset.
func NewOffsetClock() *OffsetClock { return &OffsetClock{moved: make(chan struct{})} }

// Now returns the wall clock plus the offset, in UTC.
func (c *OffsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset).UTC()
}

// Advance moves the clock forward by d (never backward: time in an audit log
// must not run backwards).
func (c *OffsetClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.offset += d
		close(c.moved)
		c.moved = make(chan struct{})
	}
	return time.Now().Add(c.offset).UTC()
}

// Moved returns a channel that is closed the next time the clock is advanced.
func (c *OffsetClock) Moved() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.moved
}
