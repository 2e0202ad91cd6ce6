package auditlog

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
)

// This file serves each log as a c2sp.org/tlog-tiles tree, so that any
// tlog-tiles client reads and verifies it without Lockbox's code: hash
// tiles of height 8 straight from the stored hashes (tlog.ReadTileData over
// the store's HashReader), and entry bundles of the exact stored leaf
// bytes, each prefixed with its big-endian uint16 length. A full bundle
// never changes, so the store keeps it as one value, written in the
// transaction of the append that fills it: serving it costs one read, not
// 256 rows (docs/benchmarks.md, "Entry bundles stored once full").

// TileHeight is the height of every tile (c2sp.org/tlog-tiles).
const TileHeight = 8

// LogTile returns the tile at path, relative to the log's tiles root
// ("tile/0/x001/234", "tile/entries/005.p/17"), and whether it is full: a
// full tile never changes, a partial one (".p/W") is the first W hashes or
// entries of a tile the log has not filled yet. ENOTFOUND for a path that
// is not a tile of the log at its current size (or not a tile at all);
// EINTERNAL for a leaf too long for an entry bundle (64 KiB; Lockbox's
// records are far smaller).
func (s *Service) LogTile(ctx context.Context, log, path string) ([]byte, bool, error) {
	if err := authorize(ctx, log); err != nil {
		return nil, false, err
	}
	t, err := parseTilePath(path)
	if err != nil {
		return nil, false, lockbox.Errorf(lockbox.ENOTFOUND, "No tile %q: tile paths are tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>] (c2sp.org/tlog-tiles).", path)
	}
	var data []byte
	var fill bool // a full bundle built from the rows: the store should keep it
	err = s.store.View(ctx, func(tx lockbox.Tx) error {
		if t.L < 0 && t.W == BundleSize {
			// A full bundle as the store keeps it: one read (AuditBundle
			// checks it is within the log).
			if data, err = tx.AuditBundle(ctx, log, t.N); err != nil || data != nil {
				return err
			}
		}
		size, err := tx.AuditSize(ctx, log)
		if err != nil {
			return err
		}
		level := max(t.L, 0) * TileHeight
		if t.N<<TileHeight+int64(t.W) > size>>level {
			return lockbox.Errorf(lockbox.ENOTFOUND, "No tile %q in the log of %d records.", path, size)
		}
		if t.L >= 0 {
			data, err = tlog.ReadTileData(t, txHashes{ctx, tx, log})
			return err
		}
		data, fill, err = entryBundle(ctx, tx, log, t)
		return err
	})
	if err == nil && fill {
		s.queueFill(log, t.N)
	}
	return data, t.W == BundleSize, err
}

// ReadTile is LogTile for the verifier (TileReader): Verify reads a
// Service's log through its entry bundles, as it reads a server's.
func (s *Service) ReadTile(ctx context.Context, log, path string) ([]byte, error) {
	data, _, err := s.LogTile(ctx, log, path)
	return data, err
}

// BundleSize is the number of leaves of a full entry bundle.
const BundleSize = 1 << TileHeight

// entryBundle is data tile t built from the record rows, and whether it is
// full (then the caller hands it to the filler, bundlefill.go, so that the
// next read finds it stored).
func entryBundle(ctx context.Context, tx lockbox.Tx, log string, t tlog.Tile) ([]byte, bool, error) {
	start := t.N << TileHeight
	leaves, err := tx.AuditLeaves(ctx, log, start, start+int64(t.W))
	if err != nil {
		return nil, false, err
	}
	if len(leaves) != t.W {
		return nil, false, fmt.Errorf("auditlog: entry bundle %d of %s: %d of %d leaves", t.N, log, len(leaves), t.W)
	}
	data, err := EntryBundle(leaves)
	if err != nil {
		return nil, false, fmt.Errorf("auditlog: entry bundle %d of %s: %w", t.N, log, err)
	}
	return data, t.W == BundleSize, nil
}

// EntryBundle is the c2sp.org/tlog-tiles entry bundle of leaves: each
// leaf's bytes after their big-endian uint16 length. The stores build the
// bundles they keep with it, so what they keep and what is built from the
// rows are the same bytes by construction.
func EntryBundle(leaves []lockbox.LogEntry) ([]byte, error) {
	n := 0
	for _, e := range leaves {
		n += 2 + len(e.Data)
	}
	out := make([]byte, 0, n)
	for _, e := range leaves {
		if len(e.Data) > 0xFFFF {
			return nil, fmt.Errorf("leaf %d is %d bytes, too long for a tlog-tiles entry bundle", e.Index, len(e.Data))
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(e.Data)))
		out = append(out, e.Data...)
	}
	return out, nil
}

// parseTilePath parses a c2sp.org/tlog-tiles tile path; the index
// encoding (x001/234, .p/W) is the one of golang.org/x/mod/sumdb/tlog.
func parseTilePath(path string) (tlog.Tile, error) {
	var t tlog.Tile
	var err error
	switch {
	case strings.HasPrefix(path, "tile/entries/"):
		t, err = tlog.ParseTilePath("tile/8/data/" + strings.TrimPrefix(path, "tile/entries/"))
	case strings.HasPrefix(path, "tile/"):
		t, err = tlog.ParseTilePath("tile/8/" + strings.TrimPrefix(path, "tile/"))
	default:
		return t, fmt.Errorf("not a tile path")
	}
	if err != nil || t.H != TileHeight || t.L > 8 || strings.Contains(path, "/data/") {
		return t, fmt.Errorf("not a tile path")
	}
	return t, nil
}
