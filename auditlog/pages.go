package auditlog

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
)

// TileReader is a Source that also serves the log as a c2sp.org/tlog-tiles
// tree (the Go client over HTTP, or a Service). Verify then reads the
// records from the entry bundles (tile/entries/N): the stored leaf bytes as
// they are, with no JSON or base64 to decode, and full bundles that never
// change, which a cache may keep. path is relative to the log's tiles root.
type TileReader interface {
	ReadTile(ctx context.Context, log, path string) ([]byte, error)
}

// tilesAhead is how many entry bundles are fetched ahead of the one being
// checked, some 150 KiB each in memory: enough to keep the server's reads
// and the round trips off the verifier's path, and to fetch the few
// bundles of an incremental run at once (measured in docs/benchmarks.md:
// 2 ahead made a 1,000-record run several round trips long).
const tilesAhead = 8

// pager reads a log's leaves in index order for the verifier, a page at a
// time: from entry bundles when the source serves tiles, else from
// LogEntries. Nothing it returns is trusted; the caller checks each
// entry's place, form and hash.
type pager struct {
	src  Source
	log  string
	size int64 // the checkpoint's size: nothing at or past it is read

	tiles   TileReader      // nil: LogEntries pages
	bundles BundleReader    // nil: no streams (an old server, or a stream failed)
	ctx     context.Context // of the fetches under way; cancel ends them
	cancel  context.CancelFunc
	queue   []chan bundle // fetches under way, of tiles first, first+1, …
	stream  chan bundle   // or the stream under way, of bundles first … streamEnd-1
	first   int64
	launch  int64 // the next tile to fetch
	read    bool  // a bundle was read: a later 404 is a missing record, not an old server

	streamEnd int64
}

type bundle struct {
	entries []lockbox.LogEntry
	err     error
}

func newPager(src Source, log string, size int64) *pager {
	p := &pager{src: src, log: log, size: size}
	p.tiles, _ = src.(TileReader)
	if p.tiles != nil {
		p.bundles, _ = src.(BundleReader)
	}
	return p
}

// badBundle is an entry bundle that does not parse: the server's answer is
// not a tlog-tiles entry bundle of the width asked.
type badBundle struct {
	path string
	msg  string
}

func (e *badBundle) Error() string {
	return fmt.Sprintf("the entry bundle %s is not a valid c2sp.org/tlog-tiles entry bundle: %s", e.path, e.msg)
}

// page returns entries from index from on (fewer than asked is not an
// error; none means the server has none there).
func (p *pager) page(ctx context.Context, from int64) ([]lockbox.LogEntry, error) {
	if p.tiles == nil {
		return p.src.LogEntries(ctx, p.log, from, p.size)
	}
	n := from >> TileHeight
	if p.stream != nil {
		if n != p.first || n >= p.streamEnd {
			p.close() // past the stream (the partial bundle), or elsewhere
		} else if b := <-p.stream; b.err == nil {
			p.first++
			p.read = true
			return from1(b.entries, from), nil
		} else {
			// The stream failed (an older server has no such route; a
			// connection broke; a frame is not a bundle): the tiles say
			// what is wrong, if anything.
			p.bundles = nil
			p.close()
		}
	}
	if p.queue == nil || n != p.first {
		p.restart(ctx, n)
		if p.stream != nil {
			return p.page(ctx, from)
		}
	}
	b := <-p.queue[0]
	p.queue, p.first = p.queue[1:], p.first+1
	p.fetchAhead()
	var bb *badBundle
	switch {
	case b.err == nil:
	case errors.As(b.err, &bb) || ctx.Err() != nil:
		return nil, b.err
	case !p.read && lockbox.ErrorCode(b.err) == lockbox.ENOTFOUND:
		// A server from before tiles: read the JSON entries instead.
		p.close()
		p.tiles = nil
		return p.src.LogEntries(ctx, p.log, from, p.size)
	default:
		// A bundle the server cannot make (a record row gone, say): its
		// entries endpoint says which records it has, and the caller
		// finds the gap.
		p.close()
		return p.src.LogEntries(ctx, p.log, from, p.size)
	}
	p.read = true
	return from1(b.entries, from), nil
}

// from1 is entries from index from on.
func from1(entries []lockbox.LogEntry, from int64) []lockbox.LogEntry {
	i := 0
	for i < len(entries) && entries[i].Index < from {
		i++
	}
	return entries[i:]
}

// minStream is the fewest full bundles worth a stream: an incremental run
// reads its few bundles faster as tiles fetched in parallel.
const minStream = 2 * tilesAhead

// restart drops the fetches under way and fetches from tile n on: the full
// bundles in one stream when the server offers streams and there are
// enough of them, else tile by tile.
func (p *pager) restart(ctx context.Context, n int64) {
	p.close()
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.first, p.launch = n, n
	if full := p.size >> TileHeight; p.bundles != nil && full-n >= minStream {
		p.stream, p.streamEnd = make(chan bundle, tilesAhead), full
		go streamBundles(p.ctx, p.bundles, p.log, n, full, p.stream)
		return
	}
	p.queue = []chan bundle{}
	for range tilesAhead {
		p.fetchAhead()
	}
}

// streamBundles reads the full bundles from to end-1 of one LogBundles
// stream into c, up to the first error, which it sends last.
func streamBundles(ctx context.Context, src BundleReader, log string, from, end int64, c chan<- bundle) {
	send := func(b bundle) bool {
		select {
		case c <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	body, err := src.ReadBundles(ctx, log, from, end)
	if err != nil {
		send(bundle{err: fmt.Errorf("stream entry bundles %d to %d: %w", from, end, err)})
		return
	}
	defer body.Close()
	r := bufio.NewReaderSize(body, 256<<10)
	var hdr [frameHeader]byte
	for n := from; n < end; n++ {
		data, err := readFrame(r, hdr[:])
		if err != nil {
			send(bundle{err: fmt.Errorf("stream entry bundle %d: %w", n, err)})
			return
		}
		entries, err := parseBundle(data, n<<TileHeight, BundleSize)
		if err != nil {
			err = &badBundle{path: EntryBundlePath(n, BundleSize), msg: err.Error()}
		}
		if !send(bundle{entries: entries, err: err}) {
			return
		}
	}
}

// fetchAhead starts fetching the next tile, if the checkpoint covers it.
func (p *pager) fetchAhead() {
	// The fetch reads only these copies: page may drop to LogEntries
	// (p.tiles = nil) while fetches it cancelled are still running.
	ctx, tiles, log := p.ctx, p.tiles, p.log
	if p.launch<<TileHeight >= p.size {
		if len(p.queue) == 0 { // past the end: answer "none" at once
			c := make(chan bundle, 1)
			c <- bundle{}
			p.queue = append(p.queue, c)
		}
		return
	}
	n := p.launch
	w := int(min(p.size-n<<TileHeight, 1<<TileHeight))
	c := make(chan bundle, 1)
	p.queue = append(p.queue, c)
	p.launch++
	go func() {
		path := EntryBundlePath(n, w)
		data, err := tiles.ReadTile(ctx, log, path)
		if err != nil {
			c <- bundle{err: fmt.Errorf("fetch %s: %w", path, err)}
			return
		}
		entries, err := parseBundle(data, n<<TileHeight, w)
		if err != nil {
			err = &badBundle{path: path, msg: err.Error()}
		}
		c <- bundle{entries: entries, err: err}
	}()
}

// close stops the fetches under way.
func (p *pager) close() {
	if p.cancel != nil {
		p.cancel()
		p.cancel, p.ctx = nil, nil
	}
	p.queue, p.stream = nil, nil
}

// EntryBundlePath is the path of entry bundle n holding w leaves (w <
// 256: a partial bundle), relative to a log's tiles root.
func EntryBundlePath(n int64, w int) string {
	t := tlog.Tile{H: TileHeight, L: -1, N: n, W: w}
	return "tile/entries/" + strings.TrimPrefix(t.Path(), "tile/8/data/")
}

// parseBundle splits an entry bundle of exactly w leaves, the first at
// index start, each a big-endian uint16 length and that many bytes. The
// entries share data's memory.
func parseBundle(data []byte, start int64, w int) ([]lockbox.LogEntry, error) {
	out := make([]lockbox.LogEntry, 0, w)
	for len(data) > 0 {
		if len(out) == w {
			return nil, fmt.Errorf("%d bytes after its %d entries", len(data), w)
		}
		if len(data) < 2 {
			return nil, fmt.Errorf("entry %d: a truncated length", len(out))
		}
		n := int(binary.BigEndian.Uint16(data))
		if len(data)-2 < n {
			return nil, fmt.Errorf("entry %d: %d bytes announced, %d left", len(out), n, len(data)-2)
		}
		out = append(out, lockbox.LogEntry{Index: start + int64(len(out)), Data: data[2 : 2+n : 2+n]})
		data = data[2+n:]
	}
	if len(out) != w {
		return nil, fmt.Errorf("%d entries, not %d", len(out), w)
	}
	return out, nil
}
