package auditlog

import (
	"errors"
	"fmt"
	"math"

	tlogformat "github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"

	"github.com/lockboxhq/lockbox"
)

// Checkpoint errors, told apart so that a person learns what happened: a
// key they never trusted signed it, or a trusted key's signature is wrong
// (the note was altered or forged), or it is not a checkpoint at all.
var (
	ErrUnknownKey   = errors.New("checkpoint is not signed by any key you trust")
	ErrBadSignature = errors.New("checkpoint signature is invalid: the checkpoint was altered or forged")
	ErrMalformed    = errors.New("checkpoint is malformed")
	errHashMissing  = errors.New("auditlog: hash not in tree")
)

// DefaultOriginPrefix is the first part of every log's origin line when the
// server is not given another (a name identifying the deployment, such as
// its host name, is better: origins should be unique).
const DefaultOriginPrefix = "lockbox"

// Origin is the checkpoint origin line of a log: "<prefix>/<log>".
func Origin(prefix, log string) string { return prefix + "/" + log }

// SignCheckpoint returns the signed note of a c2sp.org/tlog-checkpoint for
// a tree of size with root hash. The body has no timestamp or extension
// line, and Ed25519 signatures are deterministic, so the same tree always
// gives byte-identical notes, on every replica.
func SignCheckpoint(signer note.Signer, origin string, size int64, root [32]byte) ([]byte, error) {
	body := tlogformat.Checkpoint{Origin: origin, Size: uint64(size), Hash: root[:]}.Marshal()
	msg, err := note.Sign(&note.Note{Text: string(body)}, signer)
	if err != nil {
		return nil, fmt.Errorf("auditlog: sign checkpoint: %w", err)
	}
	return msg, nil
}

// OpenCheckpoint checks msg's signature with verifiers and parses its body.
// It returns ErrUnknownKey, ErrBadSignature or ErrMalformed (wrapped, with
// detail) when it cannot vouch for the checkpoint. Extension lines are
// allowed and ignored.
func OpenCheckpoint(msg []byte, verifiers note.Verifiers) (*lockbox.Checkpoint, error) {
	n, err := note.Open(msg, verifiers)
	var unknown *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &unknown):
		return nil, fmt.Errorf("%w (signed by %s)", ErrUnknownKey, signerNames(unknown.Note))
	case errors.As(err, &invalid):
		return nil, fmt.Errorf("%w (key %s+%08x)", ErrBadSignature, invalid.Name, invalid.Hash)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return parseBody(msg, n.Text)
}

// ParseCheckpointUnverified reads what a checkpoint says without checking
// its signature: for showing what a refused checkpoint claimed.
func ParseCheckpointUnverified(msg []byte) (*lockbox.Checkpoint, error) {
	text, _, ok := cutNote(msg)
	if !ok {
		return nil, fmt.Errorf("%w: no signature block", ErrMalformed)
	}
	return parseBody(msg, text)
}

func cutNote(msg []byte) (text string, sigs string, ok bool) {
	s := string(msg)
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '\n' && s[i+1] == '\n' {
			return s[:i+1], s[i+2:], true
		}
	}
	return "", "", false
}

func parseBody(msg []byte, text string) (*lockbox.Checkpoint, error) {
	var cp tlogformat.Checkpoint
	if _, err := cp.Unmarshal([]byte(text)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(cp.Hash) != 32 || cp.Size > math.MaxInt64 {
		return nil, fmt.Errorf("%w: root hash of %d bytes, size %d", ErrMalformed, len(cp.Hash), cp.Size)
	}
	out := &lockbox.Checkpoint{Origin: cp.Origin, Size: int64(cp.Size), Note: append([]byte(nil), msg...)}
	copy(out.RootHash[:], cp.Hash)
	return out, nil
}

func signerNames(n *note.Note) string {
	if n == nil || len(n.UnverifiedSigs) == 0 {
		return "no key"
	}
	s := ""
	for i, sig := range n.UnverifiedSigs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s+%08x", sig.Name, sig.Hash)
	}
	return s
}
