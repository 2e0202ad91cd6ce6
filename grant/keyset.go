package grant

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
	"time"
)

// DefaultMinRefresh is how often, at most, a KeySet fetches its keys again
// because a token named a kid it does not know.
const DefaultMinRefresh = 10 * time.Second

// KeySet is a KeySource over a fetch function (the server's published
// keys, or a JWKS URL), cached. An unknown kid triggers a fetch — how a
// verifier learns about a rotation — but at most once per MinRefresh, so
// tokens with made-up kids cannot turn into a flood of fetches.
type KeySet struct {
	// Fetch returns every current public key by kid.
	Fetch func(ctx context.Context) (map[string]ed25519.PublicKey, error)
	// MinRefresh is the least time between fetches for unknown kids
	// (DefaultMinRefresh when 0).
	MinRefresh time.Duration
	// Now is the clock for MinRefresh (time.Now when nil).
	Now func() time.Time

	mu        sync.RWMutex
	keys      map[string]ed25519.PublicKey
	fetchedAt time.Time
	fetchMu   sync.Mutex // one fetch at a time
}

// Key returns kid's public key, fetching the set when it is not known yet.
func (s *KeySet) Key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	if k, ok := s.lookup(kid); ok {
		return k, nil
	}
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	if k, ok := s.lookup(kid); ok { // another caller fetched meanwhile
		return k, nil
	}
	if !s.mayFetch() {
		return nil, fmt.Errorf("%w: %s", ErrUnknownKey, kid)
	}
	if err := s.refresh(ctx); err != nil {
		return nil, err
	}
	if k, ok := s.lookup(kid); ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownKey, kid)
}

// Refresh fetches the keys now.
func (s *KeySet) Refresh(ctx context.Context) error {
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	return s.refresh(ctx)
}

// Keys returns the keys known now, by kid.
func (s *KeySet) Keys() map[string]ed25519.PublicKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]ed25519.PublicKey, len(s.keys))
	for k, v := range s.keys {
		out[k] = v
	}
	return out
}

func (s *KeySet) lookup(kid string) (ed25519.PublicKey, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[kid]
	return k, ok
}

func (s *KeySet) mayFetch() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	min := s.MinRefresh
	if min == 0 {
		min = DefaultMinRefresh
	}
	return s.keys == nil || s.now().Sub(s.fetchedAt) >= min
}

// refresh replaces the keys with a fresh fetch; fetchMu is held. A failed
// fetch counts as a fetch for MinRefresh, so a down key server is not
// hammered either.
func (s *KeySet) refresh(ctx context.Context) error {
	keys, err := s.Fetch(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetchedAt = s.now()
	if err != nil {
		return fmt.Errorf("fetch grant keys: %w", err)
	}
	s.keys = keys
	return nil
}

func (s *KeySet) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}
