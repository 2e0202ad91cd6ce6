package auditlog

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
)

// A verifier that checks a whole log reads every full entry bundle. Read as
// tiles, that is one request per 256 records, some 3,900 for a million,
// and each request costs the server and the client more than the bundle
// itself (authentication, logging, headers, a connection: docs/
// benchmarks.md). LogBundles sends a run of full bundles in one response
// instead: the same bytes as the tiles, each after its length, read from
// the store a chunk at a time. Tiles stay the interoperable form
// (c2sp.org/tlog-tiles); this is a shortcut over the same data that the
// verifier takes when the server offers it.

// streamChunk is how many bundles one read transaction gathers before they
// are written (some 2 MiB): a client that reads slowly holds no
// transaction open, only this buffer.
const streamChunk = 16

// chunkBufs holds the buffers of the chunks being written, some 2 MiB
// each once grown: made afresh for every stream, they were most of the
// time of a short one (an incremental verify's few bundles) in clearing
// memory and collecting it.
var chunkBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledChunk is the largest chunk buffer kept for the next stream.
const maxPooledChunk = 8 << 20

// frameHeader is the length of each bundle's frame header in the stream:
// the bundle's length in bytes, a big-endian uint32.
const frameHeader = 4

// LogBundles writes log's full entry bundles start, start+1, … before end
// to w, each as its length in bytes (a big-endian uint32) and then exactly
// the bytes of GET …/log/tiles/tile/entries/<N>. end < 0 leaves the end
// open: the stream runs to the last full bundle the log has when it is
// first read (none when start is past it), so a verifier may ask for the
// new bundles before it knows the checkpoint (pager.streamAhead). EINVALID
// for a range that is not one (start < 0, end < start); ENOTFOUND when the
// log has not filled bundle end-1. Nothing is written before the first
// chunk is read, so those errors come before any byte; an error after some
// bytes were written leaves the stream short, which a reader sees as an
// error.
func (s *Service) LogBundles(ctx context.Context, log string, start, end int64, w io.Writer) error {
	if err := authorize(ctx, log); err != nil {
		return err
	}
	if start < 0 || (end >= 0 && end < start) {
		return lockbox.Errorf(lockbox.EINVALID, "No range of entry bundles from %d to %d: start must be 0 or more and end at least start.", start, end)
	}
	bp := chunkBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= maxPooledChunk { // a log of huge records keeps none
			*bp = buf[:0]
			chunkBufs.Put(bp)
		}
	}()
	for n := start; end < 0 || n < end; {
		var lens []int
		var fills []int64
		var err error
		buf, lens, fills, end, err = s.readBundles(ctx, buf[:0], log, n, end)
		if err != nil {
			return err
		}
		for _, f := range fills {
			s.queueFill(log, f)
		}
		if err := writeFrames(w, lens, buf); err != nil {
			return err
		}
		n += int64(len(lens))
	}
	return nil
}

// readBundles appends log's full bundles from on to buf, up to streamChunk
// of them and not past end, in one read transaction, and returns the
// length of each and the ones it built from the rows (not stored yet: the
// caller queues them for the filler). end is the end of the whole range,
// which the log must have filled; < 0: the log's full bundles now, which
// it returns as the range's end.
func (s *Service) readBundles(ctx context.Context, buf []byte, log string, from, end int64) ([]byte, []int, []int64, int64, error) {
	var lens []int
	var fills []int64
	base, asked := len(buf), end
	err := s.store.View(ctx, func(tx lockbox.Tx) error {
		buf, lens, fills, end = buf[:base], nil, nil, asked // as if new, should a store run this again
		size, err := tx.AuditSize(ctx, log)
		if err != nil {
			return err
		}
		switch full := size / BundleSize; {
		case end < 0:
			end = max(from, full)
		case end > full:
			return lockbox.Errorf(lockbox.ENOTFOUND, "No entry bundle %d: the log of %d records has %d full entry bundles.", end-1, size, full)
		}
		last := min(from+streamChunk, end)
		for n := from; n < last; {
			var stored []int
			if buf, stored, err = tx.AppendAuditBundles(ctx, buf, log, n, last); err != nil {
				return err
			}
			lens = append(lens, stored...)
			if n += int64(len(stored)); n == last {
				break
			}
			// Not stored (a log filled before bundles were): built from
			// the rows, as the tile route does.
			data, _, err := entryBundle(ctx, tx, log, tlog.Tile{H: TileHeight, L: -1, N: n, W: BundleSize})
			if err != nil {
				return err
			}
			buf = append(buf, data...)
			lens = append(lens, len(data))
			fills = append(fills, n)
			n++
		}
		return nil
	})
	return buf, lens, fills, end, err
}

// writeFrames writes each bundle of buf, of the lengths lens, after its
// length as a big-endian uint32.
func writeFrames(w io.Writer, lens []int, buf []byte) error {
	var hdr [frameHeader]byte
	for _, n := range lens {
		binary.BigEndian.PutUint32(hdr[:], uint32(n))
		if _, err := w.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}

// BundleReader is a Source that also sends runs of full entry bundles in
// one response (the Go client: GET …/log/bundles). Verify then reads the
// full bundles of a log through one stream, and tiles only for the rest.
type BundleReader interface {
	// ReadBundles returns the stream of LogBundles(start, end); end < 0
	// leaves its end open.
	ReadBundles(ctx context.Context, log string, start, end int64) (io.ReadCloser, error)
}

// maxBundle bounds a full bundle in a stream: 256 leaves of at most 64 KiB
// (c2sp.org/tlog-tiles).
const maxBundle = BundleSize * (2 + 0xFFFF)

// readFrame reads one bundle of a LogBundles stream, into buf if it is
// large enough.
func readFrame(r io.Reader, hdr, buf []byte) ([]byte, error) {
	if _, err := io.ReadFull(r, hdr[:frameHeader]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr)
	if n > maxBundle {
		return nil, fmt.Errorf("a bundle of %d bytes announced, longer than any", n)
	}
	data := buf[:0]
	if cap(data) < int(n) {
		data = make([]byte, n, n+n/8) // room for the next bundles' spread
	}
	data = data[:n]
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, err
	}
	return data, nil
}
