package lockboxtest

import (
	"context"
	"errors"
	"sync"

	"github.com/lockboxhq/lockbox"
)

// ErrStoreGone is what a FlakyStore's failing reads return.
var ErrStoreGone = errors.New("lockboxtest: the database went away")

// FlakyStore is a store whose reads fail on demand, as when the database
// goes away in the middle of a long read such as an audit export (which
// reads one page per View). Until FailViewsAfter is called it is the store
// it wraps.
type FlakyStore struct {
	lockbox.Store

	mu    sync.Mutex
	armed bool
	left  int
}

// FailViewsAfter lets n more View calls through; every later one fails
// with ErrStoreGone.
func (s *FlakyStore) FailViewsAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed, s.left = true, n
}

// View implements lockbox.Store.
func (s *FlakyStore) View(ctx context.Context, fn func(lockbox.Tx) error) error {
	if !s.pass() {
		return ErrStoreGone
	}
	return s.Store.View(ctx, fn)
}

func (s *FlakyStore) pass() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.armed {
		return true
	}
	s.left--
	return s.left >= 0
}
