package auditlog

import (
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
	queue   []chan bundle    // fetches under way, of tiles first, first+1, …
	stream  chan chan bundle // or the stream under way, of bundles first … streamEnd-1
	first   int64
	launch  int64 // the next tile to fetch
	read    bool  // a bundle was read: a later 404 is a missing record, not an old server

	streamEnd int64

	// check: fetchers work out each leaf's leafCheck (hashOnly: its hash
	// alone); page then returns them with the entries. Set by Verify.
	check, hashOnly bool
	// free holds stream buffers the caller is done with, for the stream
	// to read the next bundles into: a bundle is some 130 KiB, and a new
	// one each time is allocation, clearing and collection for nothing.
	// last is the buffer of the page returned last, free at the next call.
	free chan []byte
	last []byte
}

type bundle struct {
	entries []lockbox.LogEntry
	checks  []leafCheck // of each entry, when the pager checks
	buf     []byte      // the entries' memory, when it may be reused
	err     error
}

// leafCheck is what the verifier works out of each leaf on its own: its
// hash and checkLeaf's outcome. The goroutine that fetched a bundle works
// it out, so that it overlaps the next fetches and uses a core the loop
// that folds the tree does not (docs/benchmarks.md, "Full verify"). id and
// op share the entry's memory.
type leafCheck struct {
	hash    tlog.Hash
	id, op  []byte
	problem string
}

// checkBundle is the leafChecks of b's entries, or only their hashes
// when hashOnly (RootOnly: a glance checks no record's form).
func checkBundle(log string, b *bundle, hashOnly bool) {
	b.checks = make([]leafCheck, len(b.entries))
	for i, e := range b.entries {
		b.checks[i] = checkOf(log, e, hashOnly)
	}
}

// checkOf is e's leafCheck (only its hash when hashOnly).
func checkOf(log string, e lockbox.LogEntry, hashOnly bool) leafCheck {
	c := leafCheck{hash: tlog.RecordHash(e.Data)}
	if !hashOnly {
		c.id, c.op, c.problem = checkLeaf(log, e)
	}
	return c
}

func newPager(src Source, log string, size int64) *pager {
	p := &pager{src: src, log: log, size: size}
	p.tiles, _ = src.(TileReader)
	if p.tiles != nil {
		p.bundles, _ = src.(BundleReader)
	}
	return p
}

// checkLeaves makes the fetchers work out each leaf's leafCheck (only its
// hash when hashOnly) and page return them; and lets the stream reuse the
// memory of a page once the next is asked for. For Verify's loop, which
// keeps nothing of an entry past its page.
func (p *pager) checkLeaves(hashOnly bool) {
	p.check, p.hashOnly = true, hashOnly
	p.free = make(chan []byte, tilesAhead+2)
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
// error; none means the server has none there), and their leafChecks when
// the pager checks and the entries came from bundles (else nil: the caller
// works them out). They are valid until the next call.
func (p *pager) page(ctx context.Context, from int64) ([]lockbox.LogEntry, []leafCheck, error) {
	if p.last != nil && p.free != nil {
		select {
		case p.free <- p.last:
		default:
		}
		p.last = nil
	}
	if p.tiles == nil {
		entries, err := p.src.LogEntries(ctx, p.log, from, p.size)
		return entries, nil, err
	}
	n := from >> TileHeight
	if p.stream != nil {
		if n == p.first && n == p.streamEnd {
			p.stream = nil // on to the tiles after it, fetched meanwhile
		} else if n != p.first || n > p.streamEnd {
			p.close() // elsewhere
		} else if b := <-<-p.stream; b.err == nil {
			p.first++
			p.read = true
			p.last = b.buf
			return from1(b, from)
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
		return nil, nil, b.err
	case !p.read && lockbox.ErrorCode(b.err) == lockbox.ENOTFOUND:
		// A server from before tiles: read the JSON entries instead.
		p.close()
		p.tiles = nil
		entries, err := p.src.LogEntries(ctx, p.log, from, p.size)
		return entries, nil, err
	default:
		// A bundle the server cannot make (a record row gone, say): its
		// entries endpoint says which records it has, and the caller
		// finds the gap.
		p.close()
		entries, err := p.src.LogEntries(ctx, p.log, from, p.size)
		return entries, nil, err
	}
	p.read = true
	return from1(b, from)
}

// from1 is b's entries from index from on, and their checks.
func from1(b bundle, from int64) ([]lockbox.LogEntry, []leafCheck, error) {
	i := 0
	for i < len(b.entries) && b.entries[i].Index < from {
		i++
	}
	if b.checks == nil {
		return b.entries[i:], nil, nil
	}
	return b.entries[i:], b.checks[i:], nil
}

// minStream is the fewest full bundles worth a stream: one request for
// them all instead of one each (an incremental run after 1,000 records
// reads some four).
const minStream = 2

// restart drops the fetches under way and fetches from tile n on: the full
// bundles in one stream when the server offers streams and there are
// enough of them, else tile by tile.
func (p *pager) restart(ctx context.Context, n int64) {
	p.close()
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.first, p.launch = n, n
	p.queue = []chan bundle{}
	if full := p.size >> TileHeight; p.bundles != nil && full-n >= minStream {
		p.stream, p.streamEnd = make(chan chan bundle, tilesAhead), full
		st := streamer{src: p.bundles, log: p.log, free: p.free, check: p.check, hashOnly: p.hashOnly}
		go st.run(p.ctx, n, full, p.stream)
		// The tiles after the stream (the partial bundle) are fetched at
		// the same time: an incremental run waits for one round trip.
		p.launch = full
	}
	for range tilesAhead {
		p.fetchAhead()
	}
}

// streamAhead starts the stream of full bundles from bundle n on before
// the checkpoint is known, its end left open (LogBundles): an incremental
// run then waits for the checkpoint and its new records side by side, one
// round trip instead of two in turn (docs/benchmarks.md, "Incremental
// verify"). The stream is only a guess at what the checkpoint will cover:
// sized cuts it there, or drops it when it covers nothing the checkpoint
// does, and page reads tiles for whatever it lacks. Nothing it sends is
// trusted more than a tile: the caller checks every entry against the
// signed root. Only with a source that streams bundles.
func (p *pager) streamAhead(ctx context.Context, n int64) {
	if p.tiles == nil || p.bundles == nil {
		return
	}
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.first, p.launch = n, n
	p.stream, p.streamEnd = make(chan chan bundle, tilesAhead), -1
	st := streamer{src: p.bundles, log: p.log, free: p.free, check: p.check, hashOnly: p.hashOnly}
	go st.run(p.ctx, n, -1, p.stream)
}

// sized gives the pager the checkpoint's size, once known. A stream
// started ahead (streamAhead) is kept for the full bundles the checkpoint
// covers, and the tiles after them are fetched at once.
func (p *pager) sized(size int64) {
	p.size = size
	if p.stream == nil || p.streamEnd >= 0 {
		return
	}
	full := size >> TileHeight
	if full <= p.first {
		p.close() // no new full bundle: the partial one is a tile
		return
	}
	p.streamEnd = full
	p.queue, p.launch = []chan bundle{}, full
	for range tilesAhead {
		p.fetchAhead()
	}
}

// streamer is what a stream's goroutine reads of the pager: copies, taken
// before it starts, since page may change the pager's fields meanwhile (as
// fetchAhead's goroutines do).
type streamer struct {
	src             BundleReader
	log             string
	free            chan []byte
	check, hashOnly bool
}

// run reads the full bundles from to end-1 (end < 0: to the stream's end)
// of one LogBundles stream into c, up to the first error, which it sends
// last; an open stream's end is such an error too. Each bundle is checked by
// a goroutine of its own, and c carries where each will be, in order: a
// stream is one connection, and checking its bundles one after the other
// on the goroutine that reads them kept the verifier to one core
// (docs/benchmarks.md, "Full verify"). c's capacity bounds the bundles in
// flight.
func (st streamer) run(ctx context.Context, from, end int64, c chan<- chan bundle) {
	src, log, free, check, hashOnly := st.src, st.log, st.free, st.check, st.hashOnly
	send := func(b bundle) bool {
		f := make(chan bundle, 1)
		select {
		case c <- f:
		case <-ctx.Done():
			return false
		}
		if b.err != nil || !check {
			f <- b
			return true
		}
		go func() {
			checkBundle(log, &b, hashOnly)
			f <- b
		}()
		return true
	}
	body, err := src.ReadBundles(ctx, log, from, end)
	if err != nil {
		send(bundle{err: fmt.Errorf("stream entry bundles %d to %d: %w", from, end, err)})
		return
	}
	defer body.Close()
	var hdr [frameHeader]byte
	for n := from; end < 0 || n < end; n++ {
		var buf []byte
		select {
		case buf = <-free:
		default:
		}
		// The body is read as it is: net/http buffers it already, and a
		// bundle is read in one ReadFull, straight into buf.
		data, err := readFrame(body, hdr[:], buf)
		if err != nil {
			send(bundle{err: fmt.Errorf("stream entry bundle %d: %w", n, err)})
			return
		}
		b := bundle{buf: data}
		if b.entries, err = parseBundle(data, n<<TileHeight, BundleSize); err != nil {
			b.err = &badBundle{path: EntryBundlePath(n, BundleSize), msg: err.Error()}
		}
		if !send(b) {
			return
		}
	}
}

// fetchAhead starts fetching the next tile, if the checkpoint covers it.
func (p *pager) fetchAhead() {
	// The fetch reads only these copies: page may drop to LogEntries
	// (p.tiles = nil) while fetches it cancelled are still running.
	ctx, tiles, log, check, hashOnly := p.ctx, p.tiles, p.log, p.check, p.hashOnly
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
		b := bundle{}
		if b.entries, err = parseBundle(data, n<<TileHeight, w); err != nil {
			b.err = &badBundle{path: path, msg: err.Error()}
		} else if check {
			checkBundle(log, &b, hashOnly)
		}
		c <- b
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
