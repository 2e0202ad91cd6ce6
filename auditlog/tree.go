// Package auditlog is Lockbox's verifiable audit log (SPEC §7), shared by
// the server, the stores and the CLI: the Merkle arithmetic of appending
// (integrate.go: the stores keep a log's head and the hashes, this decides
// them), RFC 6962 tree hashes and proofs over the hashes a store keeps with
// each record, c2sp.org/tlog-checkpoint signed notes, the AuditService the
// API and web UI read the log through, and the client-side verifier behind
// `lockbox audit verify`.
//
// It may import the root lockbox package, golang.org/x/mod/sumdb (tlog and
// note), github.com/transparency-dev/formats/log (the checkpoint body) and
// the standard library; never a store or a transport, since the stores
// import it.
package auditlog

import (
	"context"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
)

// txHashes is tlog.HashReader over one log in one store transaction.
type txHashes struct {
	ctx context.Context
	tx  lockbox.Tx
	log string
}

func (h txHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	hs, err := h.tx.ReadAuditHashes(h.ctx, h.log, indexes)
	if err != nil {
		return nil, err
	}
	out := make([]tlog.Hash, len(hs))
	for i, x := range hs {
		out[i] = x
	}
	return out, nil
}

// treeHash is the RFC 6962 root of the log's first size records (the hash
// of the empty string for size 0), from O(log size) stored hashes.
func treeHash(ctx context.Context, tx lockbox.Tx, log string, size int64) ([32]byte, error) {
	return tlog.TreeHash(size, txHashes{ctx, tx, log})
}

// inclusionProof is the RFC 6962 audit path of leaf index in the tree of
// size size.
func inclusionProof(ctx context.Context, tx lockbox.Tx, log string, index, size int64) ([][32]byte, error) {
	p, err := tlog.ProveRecord(size, index, txHashes{ctx, tx, log})
	return hashList(p), err
}

// consistencyProof is the RFC 6962 proof that the tree of size oldSize is a
// prefix of the tree of size newSize.
func consistencyProof(ctx context.Context, tx lockbox.Tx, log string, oldSize, newSize int64) ([][32]byte, error) {
	if oldSize == 0 || oldSize == newSize {
		return [][32]byte{}, nil
	}
	p, err := tlog.ProveTree(newSize, oldSize, txHashes{ctx, tx, log})
	return hashList(p), err
}

func hashList(hs []tlog.Hash) [][32]byte {
	out := make([][32]byte, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out
}

// memTree is a log's stored hashes in memory: the verifier rebuilds the
// tree from the entries it downloaded, 64 bytes per record, and can then
// take the root of any prefix in O(log n).
type memTree struct{ hashes []tlog.Hash }

func (m *memTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m.hashes)) {
			return nil, errHashMissing
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}

// append adds leaf n (whose canonical bytes are data) to the tree.
func (m *memTree) append(n int64, data []byte) error {
	hs, err := tlog.StoredHashes(n, data, m)
	if err != nil {
		return err
	}
	m.hashes = append(m.hashes, hs...)
	return nil
}

// root is the root of the first size leaves appended.
func (m *memTree) root(size int64) tlog.Hash {
	h, err := tlog.TreeHash(size, m)
	if err != nil {
		panic(err) // size was checked against the appended count by the caller
	}
	return h
}
