package approval

import (
	"context"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lockboxhq/lockbox"
)

// accessCache makes the data-plane hot path — a service account asking
// whether a grant still holds — answer from memory without giving up the
// online truth:
//
//   - Every committed write through this Service bumps an epoch (the store
//     is wrapped), and an entry is only used while the epoch it was loaded
//     in is current. A revocation, completion or any other change made
//     through this server is therefore seen by the very next check.
//   - Entries also expire after ttl, which bounds how long a change made by
//     another process on the same database (another replica) can go
//     unseen. Servers sharing a database with others should use a small ttl
//     or none (Options.AccessCacheTTL = 0 disables the cache).
//   - Deadlines are never cached: access_ends_at is compared with the clock
//     on every check.
//
// Only requests (for access checks) and service accounts (whose tokens do
// not expire) are cached; people's sessions are not.
type accessCache struct {
	ttl   time.Duration
	epoch atomic.Uint64

	mu       sync.RWMutex
	requests map[string]cached[*lockbox.AccessRequest]
	services map[[sha256.Size]byte]cached[*lockbox.User]
}

type cached[T any] struct {
	v        T
	epoch    uint64
	loadedAt time.Time
}

// maxCached bounds each map; a full map is cleared (entries are cheap to
// load again).
const maxCached = 50_000

// newAccessCache returns a cache, or nil (caching off) when ttl <= 0. A
// nil *accessCache misses every lookup and stores nothing.
func newAccessCache(ttl time.Duration) *accessCache {
	if ttl <= 0 {
		return nil
	}
	return &accessCache{ttl: ttl, requests: map[string]cached[*lockbox.AccessRequest]{},
		services: map[[sha256.Size]byte]cached[*lockbox.User]{}}
}

// wrap returns st with every Update bumping the epoch once it has ended.
func (c *accessCache) wrap(st lockbox.Store) lockbox.Store {
	if c == nil {
		return st
	}
	return &epochStore{Store: st, c: c}
}

type epochStore struct {
	lockbox.Store
	c *accessCache
}

// Update bumps the epoch after the transaction ends, committed or not, so
// no entry loaded before the commit is used after it.
func (s *epochStore) Update(ctx context.Context, fn func(lockbox.Tx) error) error {
	err := s.Store.Update(ctx, fn)
	s.c.epoch.Add(1)
	return err
}

// begin returns the epoch to stamp on what is read next.
func (c *accessCache) begin() uint64 {
	if c == nil {
		return 0
	}
	return c.epoch.Load()
}

func fresh[T any](c *accessCache, e cached[T], ok bool) bool {
	return ok && e.epoch == c.epoch.Load() && time.Since(e.loadedAt) < c.ttl
}

func (c *accessCache) request(id string) (*lockbox.AccessRequest, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	e, ok := c.requests[id]
	c.mu.RUnlock()
	return e.v, fresh(c, e, ok)
}

func (c *accessCache) putRequest(r *lockbox.AccessRequest, epoch uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.requests) >= maxCached {
		clear(c.requests)
	}
	c.requests[r.ID] = cached[*lockbox.AccessRequest]{v: r.Clone(), epoch: epoch, loadedAt: time.Now()}
}

func (c *accessCache) serviceAccount(token string) (*lockbox.User, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	e, ok := c.services[sha256.Sum256([]byte(token))]
	c.mu.RUnlock()
	return e.v, fresh(c, e, ok)
}

// putServiceAccount caches a service account's authentication; other
// users are never cached.
func (c *accessCache) putServiceAccount(token string, u *lockbox.User, epoch uint64) {
	if c == nil || !u.ServiceAccount {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.services) >= maxCached {
		clear(c.services)
	}
	c.services[sha256.Sum256([]byte(token))] = cached[*lockbox.User]{v: u, epoch: epoch, loadedAt: time.Now()}
}
