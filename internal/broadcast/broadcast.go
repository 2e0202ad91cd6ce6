// Package broadcast wakes every waiter at once: a store tells whoever waits
// that a transaction appending audit records committed (the witness loop
// sends the moved checkpoint at once, instead of polling for it).
package broadcast

import "sync"

// Signal is a broadcast without a payload; its zero value is ready.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// Wait returns a channel closed at the next Fire. Take it before looking at
// the state it announces changes of, so no change between the look and the
// wait is missed.
func (s *Signal) Wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Fire wakes every Wait so far; it costs nothing when nobody waits.
func (s *Signal) Fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}
