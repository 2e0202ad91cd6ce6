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

	"github.com/lockboxhq/lockbox"
)

// Leaf is what the verifier keeps of each record to explain, on a later
// run, what changed: its id and a digest of its content without its index
// (so that a record that only moved is told from one that changed).
type Leaf struct {
	ID      string
	Content [16]byte
}

// State is what a customer keeps between verifications of one log: the key
// they trust, the last checkpoint that verified, and the records it covered.
type State struct {
	Key        string    `json:"key"`
	Origin     string    `json:"origin"`
	Checkpoint string    `json:"checkpoint"`
	VerifiedAt time.Time `json:"verified_at"`
	Leaves     []Leaf    `json:"-"` // in a file of its own, compact
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

// State files in a directory: the JSON state, the saved checkpoint as it
// was served (so it can be shown to anyone as evidence), and the records.
const (
	stateFile      = "state.json"
	checkpointFile = "checkpoint"
	recordsFile    = "records"
)

// LoadState reads the state kept in dir; nil, nil when there is none.
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
	if s.Leaves, err = readLeaves(filepath.Join(dir, recordsFile)); err != nil {
		return nil, err
	}
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
	if err := writeAtomic(dir, recordsFile, func(w io.Writer) error { return writeLeaves(w, s.Leaves) }); err != nil {
		return err
	}
	if err := writeAtomic(dir, checkpointFile, func(w io.Writer) error { _, err := io.WriteString(w, s.Checkpoint); return err }); err != nil {
		return err
	}
	return writeAtomic(dir, stateFile, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err })
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
func writeLeaves(w io.Writer, leaves []Leaf) error {
	var buf [binary.MaxVarintLen64]byte
	for _, l := range leaves {
		n := binary.PutUvarint(buf[:], uint64(len(l.ID)))
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
		if _, err := io.WriteString(w, l.ID); err != nil {
			return err
		}
		if _, err := w.Write(l.Content[:]); err != nil {
			return err
		}
	}
	return nil
}

func readLeaves(path string) ([]Leaf, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read verification state: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var out []Leaf
	for {
		n, err := binary.ReadUvarint(br)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
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
}
