package auditlog

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/lockboxhq/lockbox"
)

// Logs filled before the stores kept full entry bundles have none stored
// for those tiles: LogTile builds them from the rows, as it did for every
// bundle before, and hands them here. The filler stores them afterwards,
// in the background and in batches, each built by the store from its own
// rows inside the write transaction (lockbox.AuditLogTx.FillAuditBundle):
// never on a request's path, never from bytes a reader had. So an old log
// is read from its rows once, the first time a verifier reads it, and from
// its bundles after that; a log nobody reads costs nothing.

// fillBatch bounds the bundles stored by one Update (some 140 KiB each),
// and maxPendingFills the bundles waiting: past it, a read is not queued
// (the next read of that bundle queues it again).
const (
	fillBatch       = 32
	maxPendingFills = 4096
)

type bundleKey struct {
	log string
	n   int64
}

// bundleFiller is the queue of bundles to store, and its one goroutine,
// which runs while there is work and then ends. The zero value is ready.
type bundleFiller struct {
	mu      sync.Mutex
	pending map[bundleKey]bool
	running bool
	done    sync.WaitGroup // the goroutine (WaitBundleFills)
}

// queueFill queues log's bundle n and starts the filler if it is not
// running.
func (s *Service) queueFill(log string, n int64) {
	f := &s.fill
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pending == nil {
		f.pending = map[bundleKey]bool{}
	}
	if len(f.pending) >= maxPendingFills {
		return
	}
	f.pending[bundleKey{log, n}] = true
	if !f.running {
		f.running = true
		f.done.Add(1)
		go s.runFills()
	}
}

// next takes up to fillBatch queued bundles, in log and index order; none
// left ends the goroutine.
func (f *bundleFiller) next() []bundleKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := slices.SortedFunc(maps.Keys(f.pending), func(a, b bundleKey) int {
		return cmp.Or(strings.Compare(a.log, b.log), cmp.Compare(a.n, b.n))
	})
	keys = keys[:min(len(keys), fillBatch)]
	for _, k := range keys {
		delete(f.pending, k)
	}
	if len(keys) == 0 {
		f.running = false
	}
	return keys
}

// runFills stores the queued bundles of s's store until none is left. A failed
// batch is dropped: those bundles are built from the rows again when next
// read, and queued again.
func (s *Service) runFills() {
	f := &s.fill
	defer f.done.Done()
	ctx := context.Background() // the reads that queued them are long gone
	for keys := f.next(); len(keys) > 0; keys = f.next() {
		_ = s.store.Update(ctx, func(tx lockbox.Tx) error {
			for _, k := range keys {
				if err := tx.FillAuditBundle(ctx, k.log, k.n); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

// WaitBundleFills waits until the bundles queued so far are stored (or
// their batch failed): for tests and benchmarks, which then read what a
// later verifier will.
func (s *Service) WaitBundleFills() { s.fill.done.Wait() }
