package auditlog

import (
	"crypto/sha256"

	"golang.org/x/mod/sumdb/tlog"
)

// edge is the right edge of an RFC 6962 tree (a compact range from 0): the
// roots of its perfect subtrees, largest first, one per set bit of size.
// It is all a verifier needs to keep to extend the tree by new leaves and
// take its root: at most 64 hashes, whatever the log's size.
type edge struct {
	size   int64
	hashes []tlog.Hash
}

// append adds the leaf hash h, merging the perfect subtrees it completes.
func (e *edge) append(h tlog.Hash) {
	e.hashes = append(e.hashes, h)
	for n := e.size; n&1 == 1; n >>= 1 {
		k := len(e.hashes)
		e.hashes[k-2] = tlog.NodeHash(e.hashes[k-2], e.hashes[k-1])
		e.hashes = e.hashes[:k-1]
	}
	e.size++
}

// root is the tree hash of the size leaves appended.
func (e *edge) root() tlog.Hash {
	if len(e.hashes) == 0 {
		return sha256.Sum256(nil)
	}
	r := e.hashes[len(e.hashes)-1]
	for i := len(e.hashes) - 2; i >= 0; i-- {
		r = tlog.NodeHash(e.hashes[i], r)
	}
	return r
}

// edgeOf rebuilds an edge of size from its hashes, if they are as many as
// size has set bits.
func edgeOf(size int64, hashes []tlog.Hash) (*edge, bool) {
	n := 0
	for s := size; s > 0; s >>= 1 {
		n += int(s & 1)
	}
	if size < 0 || n != len(hashes) {
		return nil, false
	}
	return &edge{size: size, hashes: append([]tlog.Hash(nil), hashes...)}, true
}
