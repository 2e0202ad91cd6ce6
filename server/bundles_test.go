package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/client"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
	"github.com/lockboxhq/lockbox/sqlite/sqlitetest"
)

// streamCounts counts the reads of a server's entry bundles: streams
// (GET …/log/bundles) and entry tiles.
type streamCounts struct{ streams, tiles atomic.Int64 }

// streamServer wraps the audit service: it counts, and changes what the
// stream sends with alter (nil: nothing).
type streamServer struct {
	*auditlog.Service
	n     *streamCounts
	alter func(io.Writer) io.Writer
}

func (s streamServer) LogBundles(ctx context.Context, log string, start, end int64, w io.Writer) error {
	s.n.streams.Add(1)
	if s.alter != nil {
		w = s.alter(w)
	}
	return s.Service.LogBundles(ctx, log, start, end, w)
}

func (s streamServer) LogTile(ctx context.Context, log, path string) ([]byte, bool, error) {
	if strings.Contains(path, "/entries/") {
		s.n.tiles.Add(1)
	}
	return s.Service.LogTile(ctx, log, path)
}

// tilesOnly is a server from before streams: the service's routes and
// tiles (from tiles), no LogBundles.
type tilesOnly struct {
	lockbox.AuditService
	tiles interface {
		LogTile(ctx context.Context, log, path string) ([]byte, bool, error)
	}
}

func (s tilesOnly) LogTile(ctx context.Context, log, path string) ([]byte, bool, error) {
	return s.tiles.LogTile(ctx, log, path)
}

// cutWriter fails after n bytes: a stream broken mid-way.
type cutWriter struct {
	w io.Writer
	n int
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if len(p) > c.n {
		k, _ := c.w.Write(p[:c.n])
		c.n = 0
		return k, errors.New("the disk caught fire")
	}
	c.n -= len(p)
	return c.w.Write(p)
}

// flipWriter changes one record's content, keeping its length.
type flipWriter struct{ w io.Writer }

func (f flipWriter) Write(p []byte) (int, error) {
	if _, err := f.w.Write(bytes.Replace(p, []byte(`"tiled 1234"`), []byte(`"tilex 1234"`), 1)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// TestVerifyOverBundleStream: the verifier reads a large log's full
// bundles in one stream and only the partial one as a tile; a stream cut
// mid-way, a server without streams, and bundles not stored yet all still
// verify (through tiles, or built from the rows), and an altered stream
// does not.
func TestVerifyOverBundleStream(t *testing.T) {
	t.Parallel()
	const records = 20*auditlog.BundleSize + 100 // the seeded records come on top
	tests := []struct {
		name         string
		wrap         func(streamServer) lockbox.AuditService
		alter        func(io.Writer) io.Writer
		unstored     bool // bundles deleted from the database first
		ok           bool
		streams      int64
		tilesAtMost  int64
		tilesAtLeast int64
	}{
		{name: "stream", ok: true, streams: 1, tilesAtMost: 1},
		{name: "bundles built from rows", unstored: true, ok: true, streams: 1, tilesAtMost: 1},
		{name: "stream cut", alter: func(w io.Writer) io.Writer { return &cutWriter{w: w, n: 1 << 20} }, ok: true, streams: 1, tilesAtLeast: 5},
		{name: "no streams", wrap: func(s streamServer) lockbox.AuditService { return tilesOnly{s.Service, s} }, ok: true, tilesAtLeast: 20},
		{name: "altered stream", alter: func(w io.Writer) io.Writer { return flipWriter{w} }, ok: false, streams: 2}, // verify, then explain
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := &streamCounts{}
			path := sqlitetest.Path(t)
			var svc *auditlog.Service
			ts, token := tilesServerAt(t, path, records, func(s *auditlog.Service) lockbox.AuditService {
				svc = s
				ss := streamServer{Service: s, n: n, alter: tt.alter}
				if tt.wrap != nil {
					return tt.wrap(ss)
				}
				return ss
			})
			if tt.unstored {
				deleteBundles(t, path)
			}
			r, err := auditlog.Verify(t.Context(), client.New(ts.URL, token), "contoso", nil, auditlog.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.OK() != tt.ok || (tt.ok && r.Checked != r.Size) {
				t.Fatalf("ok=%t checked %d of %d, want ok=%t: %v", r.OK(), r.Checked, r.Size, tt.ok, r.Problems)
			}
			streams, tiles := n.streams.Load(), n.tiles.Load()
			if streams != tt.streams || (tt.tilesAtMost > 0 && tiles > tt.tilesAtMost) || tiles < tt.tilesAtLeast {
				t.Errorf("%d streams and %d entry tiles read; want %d streams, %d to %d tiles",
					streams, tiles, tt.streams, tt.tilesAtLeast, tt.tilesAtMost)
			}
			if tt.unstored {
				svc.WaitBundleFills()
				if got := countBundles(t, path); got != 20 {
					t.Errorf("%d bundles stored after the stream built them, want 20", got)
				}
			}
		})
	}
}

func deleteBundles(t *testing.T, path string) {
	t.Helper()
	if _, err := sqlitetest.Raw(t, path).Exec(`DELETE FROM audit_bundles`); err != nil {
		t.Fatal(err)
	}
}

// countBundles is how many of contoso's entry bundles are stored.
func countBundles(t *testing.T, path string) (n int) {
	t.Helper()
	if err := sqlitetest.Raw(t, path).QueryRow(`SELECT count(*) FROM audit_bundles WHERE log = 'contoso'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// firstWrite tells began once the stream's first bytes are written: the
// server has read the log's size, which fixes where an open stream ends.
type firstWrite struct {
	w     io.Writer
	began chan struct{}
	once  *sync.Once
}

func (f firstWrite) Write(p []byte) (int, error) {
	f.once.Do(func() { close(f.began) })
	return f.w.Write(p)
}

// gatedCheckpoint is the client with a hook run before each checkpoint is
// fetched, and the checkpoint it answers replaceable (nil: the server's).
type gatedCheckpoint struct {
	*client.Client
	before func() error
	cp     *lockbox.Checkpoint
}

func (g *gatedCheckpoint) Checkpoint(ctx context.Context, log string) (*lockbox.Checkpoint, error) {
	if err := g.before(); err != nil {
		return nil, err
	}
	if g.cp != nil {
		return g.cp, nil
	}
	return g.Client.Checkpoint(ctx, log)
}

// TestIncrementalVerifyStreamsWithTheCheckpoint: an incremental verify asks
// for the new full bundles (an open-ended stream from its kept edge) before
// its checkpoint comes back, not after: the checkpoint is fetched only once
// the stream has begun. The stream is a guess at what the checkpoint will
// cover; a log that grew after it began (the checkpoint covers more) and a
// checkpoint older than the stream (it covers less) both verify exactly
// the checkpoint's records.
func TestIncrementalVerifyStreamsWithTheCheckpoint(t *testing.T) {
	t.Parallel()
	const first = 3*auditlog.BundleSize + 10
	const grown = 4*auditlog.BundleSize + 20 // new records, 4 new full bundles
	tests := []struct {
		name string
		// before runs after the stream began, before the checkpoint is
		// fetched; it may add records, or return the checkpoint to use.
		before      func(t *testing.T, add func(n int), c *client.Client) *lockbox.Checkpoint
		newRecords  int   // checked by the incremental run
		tilesAtMost int64 // entry tiles read
	}{
		{name: "side by side", newRecords: grown, tilesAtMost: 1,
			before: func(*testing.T, func(int), *client.Client) *lockbox.Checkpoint { return nil }},
		// The 2 bundles the stream lacks are read as tiles, and the
		// partial one fetched with the checkpoint is fetched again.
		{name: "log grew after the stream began", newRecords: grown + 2*auditlog.BundleSize, tilesAtMost: 4,
			before: func(_ *testing.T, add func(int), _ *client.Client) *lockbox.Checkpoint {
				add(2 * auditlog.BundleSize)
				return nil
			}},
		{name: "checkpoint older than the stream", newRecords: grown, tilesAtMost: 1,
			before: func(t *testing.T, add func(int), c *client.Client) *lockbox.Checkpoint {
				cp, err := c.Checkpoint(t.Context(), "contoso")
				if err != nil {
					t.Fatal(err)
				}
				add(3 * auditlog.BundleSize)
				return cp
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := &streamCounts{}
			began := make(chan struct{})
			var once sync.Once
			var open atomic.Bool // the incremental run's stream is open-ended
			ts, token, store := tilesServerStore(t, sqlitetest.Path(t), first, func(s *auditlog.Service) lockbox.AuditService {
				return openStream{streamServer{Service: s, n: n, alter: func(w io.Writer) io.Writer {
					return firstWrite{w: w, began: began, once: &once}
				}}, &open}
			})
			c := client.New(ts.URL, token)
			r, err := auditlog.Verify(t.Context(), c, "contoso", nil, auditlog.Options{})
			if err != nil || !r.OK() {
				t.Fatalf("first run: %v %v", err, r.Problems)
			}
			size := int(r.Size)
			add := func(k int) {
				lockboxtest.AppendAudit(t, store, tiledRecords(size, k)...)
				size += k
			}
			add(grown)
			n.streams.Store(0)
			n.tiles.Store(0)
			once = sync.Once{} // the first run's stream wrote already
			began = make(chan struct{})
			src := gatedCheckpoint{Client: c}
			src.before = func() error {
				select {
				case <-began:
				case <-time.After(10 * time.Second):
					return errors.New("the checkpoint was asked for before the stream of new bundles began")
				}
				src.cp = tt.before(t, add, c)
				return nil
			}
			r2, err := auditlog.Verify(t.Context(), &src, "contoso", r.State, auditlog.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !r2.OK() || !r2.Incremental || r2.Checked != int64(tt.newRecords) || r2.Size != r.Size+int64(tt.newRecords) {
				t.Fatalf("ok=%t incremental=%t checked %d to size %d; want %d new records: %v",
					r2.OK(), r2.Incremental, r2.Checked, r2.Size, tt.newRecords, r2.Problems)
			}
			if !open.Load() || n.streams.Load() != 1 || n.tiles.Load() > tt.tilesAtMost {
				t.Errorf("open-ended stream %t, %d streams, %d entry tiles; want one open-ended stream and at most %d tiles",
					open.Load(), n.streams.Load(), n.tiles.Load(), tt.tilesAtMost)
			}
		})
	}
}

// openStream notes whether a stream was asked for with its end open.
type openStream struct {
	streamServer
	open *atomic.Bool
}

func (s openStream) LogBundles(ctx context.Context, log string, start, end int64, w io.Writer) error {
	if end < 0 {
		s.open.Store(true)
	}
	return s.streamServer.LogBundles(ctx, log, start, end, w)
}
