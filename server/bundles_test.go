package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/client"
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
