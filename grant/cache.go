package grant

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/lockboxhq/lockbox"
)

// DefaultCacheSize bounds a Cache made by NewCache(0).
const DefaultCacheSize = 100_000

// Cache remembers verified grant tokens until they expire, keyed by the
// token's SHA-256 (the token itself is never kept). Only tokens whose
// signature and claims verified are put in it; times are checked on every
// use, so a cached token stops working at its exp like any other.
type Cache struct {
	mu      sync.RWMutex
	max     int
	entries map[[sha256.Size]byte]*lockbox.GrantClaims
}

// NewCache returns a cache of at most max tokens (DefaultCacheSize when 0).
func NewCache(max int) *Cache {
	if max <= 0 {
		max = DefaultCacheSize
	}
	return &Cache{max: max, entries: map[[sha256.Size]byte]*lockbox.GrantClaims{}}
}

func (c *Cache) get(token string) (*lockbox.GrantClaims, bool) {
	k := cacheKey(token)
	c.mu.RLock()
	defer c.mu.RUnlock()
	cl, ok := c.entries[k]
	return cl, ok
}

// put stores a verified token. A full cache first drops expired entries
// and, if still full, everything: verified tokens are cheap to verify
// again, and memory must stay bounded whatever callers send.
func (c *Cache) put(token string, cl *lockbox.GrantClaims) {
	k := cacheKey(token)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		c.evict(cl.IssuedAt)
	}
	c.entries[k] = cl
}

// cacheKey is the SHA-256 of token. It hashes a copy on the stack: the
// conversion []byte(token) put each token on the heap, once per access
// check.
func cacheKey(token string) [sha256.Size]byte {
	var buf [2048]byte // a typical grant (≈ 600 bytes) fits
	if len(token) > len(buf) {
		return sha256.Sum256([]byte(token))
	}
	return sha256.Sum256(buf[:copy(buf[:], token)])
}

// evict drops entries expired at now (the newest token's issue time, so
// the cache needs no clock of its own), or all when none has expired.
func (c *Cache) evict(now time.Time) {
	for k, cl := range c.entries {
		if !now.Before(cl.ExpiresAt) {
			delete(c.entries, k)
		}
	}
	if len(c.entries) >= c.max {
		clear(c.entries)
	}
}

// Len returns the number of cached tokens.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
