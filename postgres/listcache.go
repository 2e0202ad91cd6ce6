package postgres

import (
	"sync"
)

// Per-tenant lists a workflow step reads on every step that notifies — a
// tenant's webhook endpoints and its accounts — are remembered by the
// Store under a version of the list kept on the database (migrations 00019
// and 00022): every change to a tenant's list bumps that version in the
// change's own transaction (a trigger, so no write path can forget it). A
// list is therefore the list of its version whichever replica wrote it: a
// transaction that read version v may be given the remembered list of v
// without reading it again, and a change committed on another replica is
// seen by the first transaction here that reads the version after that
// commit. The versions are read with the tenant's row (readTenant), which
// a step reads anyway, so a remembered list costs the step no round trip.
//
// Only lists read by transactions that changed no such list are
// remembered: a transaction's own uncommitted change may yet roll back, and
// its version number would then be reused for another list.

// listCache is what a Store remembers of one kind of list, by tenant.
type listCache[T any] struct {
	mu      sync.Mutex
	entries map[string]cachedList[T]
}

type cachedList[T any] struct {
	version int64
	items   []T
}

// maxCachedTenants bounds the memory of a cache: past it, the cache starts
// over (the lists are re-read on the next steps that need them).
const maxCachedTenants = 10000

// get returns copies (clone) of tenant's list if it is remembered at
// version.
func (c *listCache[T]) get(tenant string, version int64, clone func(T) T) ([]*T, bool) {
	c.mu.Lock()
	e, ok := c.entries[tenant]
	c.mu.Unlock()
	if !ok || e.version != version {
		return nil, false
	}
	return handOut(e.items, clone), true
}

// put remembers copies of tenant's list at version, unless a newer
// version is remembered already.
func (c *listCache[T]) put(tenant string, version int64, items []*T, clone func(T) T) {
	kept := keep(items, clone)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[tenant]; ok && e.version > version {
		return
	}
	if c.entries == nil || len(c.entries) >= maxCachedTenants {
		c.entries = map[string]cachedList[T]{}
	}
	c.entries[tenant] = cachedList[T]{version: version, items: kept}
}

// txLists is what one transaction has read of one kind of list: the lists,
// and the versions read with tenants' rows. Callers get copies: they may
// change what they are given.
type txLists[T any] struct {
	lists    map[string][]T
	versions map[string]int64
	// wrote is set once the transaction changes any such list: from then
	// on it neither uses nor fills the Store's cache.
	wrote bool
}

func (l *txLists[T]) get(tenant string, clone func(T) T) ([]*T, bool) {
	items, ok := l.lists[tenant]
	if !ok {
		return nil, false
	}
	return handOut(items, clone), true
}

func (l *txLists[T]) set(tenant string, items []*T, clone func(T) T) {
	if l.lists == nil {
		l.lists = map[string][]T{}
	}
	l.lists[tenant] = keep(items, clone)
}

func (l *txLists[T]) setVersion(tenant string, v int64) {
	if l.versions == nil {
		l.versions = map[string]int64{}
	}
	l.versions[tenant] = v
}

// changed forgets every list and version read (the change bumped a
// version) and stops the use of the Store's cache.
func (l *txLists[T]) changed() {
	l.lists, l.versions, l.wrote = nil, nil, true
}

// listOf returns tenant's list: this transaction's, else the Store's cache
// (c; nil for none) at the version this transaction read on the tenant's
// row, else read, which returns the list and the version it was read at
// in one statement (found false: none to remember, as for an unknown
// tenant).
func listOf[T any](l *txLists[T], c *listCache[T], tenant string, clone func(T) T,
	read func() (items []*T, version int64, found bool, err error)) ([]*T, error) {
	if items, ok := l.get(tenant, clone); ok {
		return items, nil
	}
	if v, ok := l.versions[tenant]; ok && !l.wrote && c != nil {
		if items, ok := c.get(tenant, v, clone); ok {
			l.set(tenant, items, clone)
			return items, nil
		}
	}
	items, version, found, err := read()
	if err != nil {
		return nil, err
	}
	l.set(tenant, items, clone)
	if found && !l.wrote && c != nil {
		c.put(tenant, version, items, clone)
	}
	return items, nil
}

// keep copies items to be kept; handOut copies kept items to be handed
// out.
func keep[T any](items []*T, clone func(T) T) []T {
	c := make([]T, len(items))
	for i, it := range items {
		c[i] = clone(*it)
	}
	return c
}

func handOut[T any](items []T, clone func(T) T) []*T {
	out := make([]*T, len(items))
	for i, it := range items {
		c := clone(it)
		out[i] = &c
	}
	return out
}
