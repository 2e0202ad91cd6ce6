package auditlog

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
)

// Leaf is what the verifier keeps of each record to explain, on a later
// run, what changed: its id and the first half of its leaf hash (which
// covers its index, so records are compared where they stand; one that
// only moved is told by its id).
type Leaf struct {
	ID      string
	Content [16]byte
}

// State is what a customer keeps between verifications of one log: the key
// they trust, the last checkpoint that verified, the right edge of its tree
// (so the next run reads only what was added) and, in a file beside them,
// the records it covered (read only to explain a rewrite).
type State struct {
	Key        string      `json:"key"`
	Origin     string      `json:"origin"`
	Checkpoint string      `json:"checkpoint"`
	VerifiedAt time.Time   `json:"verified_at"`
	Edge       []tlog.Hash `json:"edge"`
	// Records and RecordsBytes describe the kept records file: how many
	// records, in how many bytes, belong to this state (the file may have
	// more after a run that failed; they are ignored and overwritten).
	Records      int64 `json:"records"`
	RecordsBytes int64 `json:"records_bytes"`
	// Decisions is what checking signed decisions needs from the records
	// before the edge: the passkeys registered so far (decisions.go).
	Decisions *Decisions `json:"decisions,omitempty"`

	dir     string // where it was loaded from
	pending string // a records file of this run, moved in place by SaveState
}

// Size is the size of the saved checkpoint (0 if unreadable).
func (s *State) Size() int64 {
	cp, err := s.checkpoint()
	if err != nil {
		return 0
	}
	return cp.Size
}

func (s *State) checkpoint() (*lockbox.Checkpoint, error) {
	return ParseCheckpointUnverified([]byte(s.Checkpoint))
}

// head is the kept right edge of the tree when it is whole and hashes to
// the kept checkpoint's root (a damaged state only costs a full run).
func (s *State) head(cp *lockbox.Checkpoint) (Head, bool) {
	h, ok := HeadOf(cp.Size, s.Edge)
	if !ok || h.Root() != cp.RootHash {
		return Head{}, false
	}
	return h, true
}

// leaves reads the kept records, or nil when they are not all kept.
func (s *State) leaves() ([]Leaf, error) {
	if s.dir == "" || s.Records != s.Size() {
		return nil, nil
	}
	return readLeaves(filepath.Join(s.dir, recordsFile), s.Records)
}

// State files in a directory: the JSON state, the saved checkpoint as it
// was served (so it can be shown to anyone as evidence), and the records.
// (Versions before the right edge kept "records" with other digests; it is
// no longer read.)
const (
	stateFile      = "state.json"
	checkpointFile = "checkpoint"
	recordsFile    = "leaves"
)

// supersededDir is where SupersedeState keeps replaced states.
const supersededDir = "superseded"

// SupersedeState keeps the state of dir (its checkpoint, state and records)
// in dir/superseded/<at, UTC> as evidence, and returns that directory: the
// checkpoint a person decided to stop holding the log to (audit verify
// --accept-new-history) is proof, with the new one, that the provider
// presented two histories. The files are linked (copied where links are
// not possible), not moved: until SaveState replaces them, dir still holds
// the old state, so an interruption never leaves it without one (which
// would trust the server's key anew on the next run).
func SupersedeState(dir string, at time.Time) (string, error) {
	to := filepath.Join(dir, supersededDir, at.UTC().Format("20060102T150405.000000000Z"))
	if err := os.MkdirAll(to, 0o700); err != nil {
		return "", fmt.Errorf("keep the superseded verification state: %w", err)
	}
	for _, name := range []string{stateFile, checkpointFile, recordsFile} {
		err := keepFile(filepath.Join(dir, name), filepath.Join(to, name))
		if errors.Is(err, fs.ErrNotExist) && name == recordsFile {
			continue // the records are only kept to explain a failure
		} else if err != nil {
			return "", fmt.Errorf("keep the superseded verification state: %w", err)
		}
	}
	return to, nil
}

// keepFile links from at to, or copies it (synced) where it cannot.
func keepFile(from, to string) error {
	if err := os.Link(from, to); err == nil || errors.Is(err, fs.ErrNotExist) {
		return err
	}
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	return errors.Join(err, dst.Sync(), dst.Close())
}

// LoadState reads the state kept in dir; nil, nil when there is none. The
// records are not read: only a failed run needs them.
func LoadState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read verification state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("verification state %s is damaged: %w", dir, err)
	}
	s.dir = dir
	return &s, nil
}

// SaveState writes s to dir, each file replaced atomically, records first,
// so an interrupted save leaves the previous checkpoint in force.
func SaveState(dir string, s *State) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save verification state: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if s.pending != "" {
		if filepath.Dir(s.pending) != filepath.Clean(dir) {
			return fmt.Errorf("save verification state: records were kept in %s, not %s", filepath.Dir(s.pending), dir)
		}
		if err := os.Rename(s.pending, filepath.Join(dir, recordsFile)); err != nil {
			return fmt.Errorf("save verification state: %w", err)
		}
		s.pending = ""
	}
	if err := writeAtomic(dir, checkpointFile, func(w io.Writer) error { _, err := io.WriteString(w, s.Checkpoint); return err }); err != nil {
		return err
	}
	if err := writeAtomic(dir, stateFile, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err }); err != nil {
		return err
	}
	s.dir = dir
	return nil
}

func writeAtomic(dir, name string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(dir, "."+name+"-*")
	if err != nil {
		return fmt.Errorf("save verification state: %w", err)
	}
	defer os.Remove(f.Name()) // no-op once renamed
	bw := bufio.NewWriter(f)
	if err := write(bw); err != nil {
		f.Close()
		return fmt.Errorf("save verification state: %w", err)
	}
	if err := errors.Join(bw.Flush(), f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("save verification state: %w", err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("save verification state: %w", err)
	}
	return nil
}

// The records file: per record, a uvarint id length, the id, and the
// 16-byte content digest.

// leafWriter keeps a run's records: appended in place after the records of
// the kept state (an incremental run), or written to a new file that
// SaveState moves in place (a full or first run), so that a run that fails
// leaves the kept records as they were.
type leafWriter struct {
	f       *os.File
	w       *bufio.Writer
	count   int64
	bytes   int64
	pending string
	buf     [binary.MaxVarintLen64]byte
}

// openLeafWriter prepares to keep the records from index from on, in dir.
// It returns nil (keep nothing) when the kept records do not reach from.
func openLeafWriter(dir string, prev *State, from int64) (*leafWriter, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keep verification records: %w", err)
	}
	if from == 0 {
		f, err := os.CreateTemp(dir, "."+recordsFile+"-*")
		if err != nil {
			return nil, fmt.Errorf("keep verification records: %w", err)
		}
		return &leafWriter{f: f, w: bufio.NewWriterSize(f, 1<<16), pending: f.Name()}, nil
	}
	if prev == nil || prev.dir != dir || prev.Records != from {
		return nil, nil
	}
	f, err := os.OpenFile(filepath.Join(dir, recordsFile), os.O_RDWR, 0o600)
	if err != nil {
		return nil, nil // the records are gone: keep checking without them
	}
	if err := f.Truncate(prev.RecordsBytes); err != nil {
		f.Close()
		return nil, fmt.Errorf("keep verification records: %w", err)
	}
	if _, err := f.Seek(prev.RecordsBytes, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("keep verification records: %w", err)
	}
	return &leafWriter{f: f, w: bufio.NewWriterSize(f, 1<<16), count: from, bytes: prev.RecordsBytes}, nil
}

func (l *leafWriter) add(id []byte, h tlog.Hash) error {
	if l == nil {
		return nil
	}
	n := binary.PutUvarint(l.buf[:], uint64(len(id)))
	l.w.Write(l.buf[:n])
	l.w.Write(id)
	_, err := l.w.Write(h[:16])
	l.count++
	l.bytes += int64(n + len(id) + 16)
	if err != nil {
		return fmt.Errorf("keep verification records: %w", err)
	}
	return nil
}

func (l *leafWriter) finish() error {
	if l == nil {
		return nil
	}
	if err := errors.Join(l.w.Flush(), l.f.Sync(), l.f.Close()); err != nil {
		l.abort()
		return fmt.Errorf("keep verification records: %w", err)
	}
	return nil
}

// abort drops a new records file; appended records are past the kept
// state's RecordsBytes, so they are ignored.
func (l *leafWriter) abort() {
	if l == nil {
		return
	}
	l.f.Close()
	if l.pending != "" {
		os.Remove(l.pending)
	}
}

func readLeaves(path string, count int64) ([]Leaf, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read verification state: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	out := make([]Leaf, 0, count)
	for int64(len(out)) < count {
		n, err := binary.ReadUvarint(br)
		if err != nil || n > 1<<10 {
			return nil, fmt.Errorf("verification records %s are damaged", path)
		}
		id := make([]byte, n)
		var l Leaf
		if _, err := io.ReadFull(br, id); err != nil {
			return nil, fmt.Errorf("verification records %s are damaged", path)
		}
		if _, err := io.ReadFull(br, l.Content[:]); err != nil {
			return nil, fmt.Errorf("verification records %s are damaged", path)
		}
		l.ID = string(id)
		out = append(out, l)
	}
	return out, nil
}
