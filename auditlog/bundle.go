package auditlog

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
)

// A proof bundle lets anyone check, offline and without Lockbox's server,
// that a CSV export is exactly what the signed log holds: the checkpoint
// with its signatures, and an RFC 6962 inclusion proof for every exported
// record in the tree that checkpoint signs.

// BundleFormat names the bundle's format and version.
const BundleFormat = "lockbox-proof-bundle/v1"

// Bundle is a proof bundle, stored as JSON.
type Bundle struct {
	Format string `json:"format"`
	Log    string `json:"log"`
	// Checkpoint is the signed note, exactly as served.
	Checkpoint string        `json:"checkpoint"`
	Proofs     []BundleProof `json:"proofs"`
}

// BundleProof is the inclusion proof of the record at Index.
type BundleProof struct {
	Index  int64    `json:"index"`
	Hashes [][]byte `json:"hashes"`
}

// ProofSource is what MakeBundle reads from the server (the Go client).
type ProofSource interface {
	Checkpoint(ctx context.Context, log string) (*lockbox.Checkpoint, error)
	InclusionProof(ctx context.Context, log string, index, size int64) ([][32]byte, error)
}

// MakeBundle reads an export of log (as ExportCSV writes it) and fetches a
// checkpoint, taken after the export so that it covers every record in
// it, and an inclusion proof for each record.
func MakeBundle(ctx context.Context, src ProofSource, log string, export io.Reader) (*Bundle, error) {
	cp, err := src.Checkpoint(ctx, log)
	if err != nil {
		return nil, fmt.Errorf("fetch checkpoint: %w", err)
	}
	parsed, err := ParseCheckpointUnverified(cp.Note)
	if err != nil {
		return nil, err
	}
	b := &Bundle{Format: BundleFormat, Log: log, Checkpoint: string(cp.Note), Proofs: []BundleProof{}}
	err = readExport(export, func(_ int, _ []string, leaf []byte, h *lockbox.CanonicalHead) error {
		p, err := src.InclusionProof(ctx, log, h.Index, parsed.Size)
		if err != nil {
			return fmt.Errorf("fetch the inclusion proof of record %d: %w", h.Index, err)
		}
		bp := BundleProof{Index: h.Index}
		for _, x := range p {
			bp.Hashes = append(bp.Hashes, x[:])
		}
		b.Proofs = append(b.Proofs, bp)
		return nil
	})
	return b, err
}

// readExport calls fn with every row of a CSV export, its AuditData cell
// (the leaf) checked canonical. line is the row's line number.
func readExport(r io.Reader, fn func(line int, row []string, leaf []byte, h *lockbox.CanonicalHead) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(CSVHeader)
	header, err := cr.Read()
	if err != nil || !slices.Equal(header, CSVHeader) {
		return fmt.Errorf("not a Lockbox audit export: the header is not %s", strings.Join(CSVHeader, ","))
	}
	for line := 2; ; line++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("export line %d: %w", line, err)
		}
		leaf := []byte(row[5])
		h, err := lockbox.CheckCanonical(leaf)
		if err != nil {
			return fmt.Errorf("export line %d: AuditData is not a canonical record: %w", line, err)
		}
		if err := fn(line, row, leaf, &h); err != nil {
			return err
		}
	}
}

// ExportReport is the outcome of VerifyExport.
type ExportReport struct {
	Log        string   `json:"log"`
	Origin     string   `json:"origin"`
	Size       int64    `json:"size"`
	Records    int      `json:"records"`
	Problems   []string `json:"problems"`
	Checkpoint string   `json:"-"`
}

// OK reports whether the export verified.
func (r *ExportReport) OK() bool { return len(r.Problems) == 0 }

func (r *ExportReport) add(format string, args ...any) {
	if len(r.Problems) < maxReported {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	} else if len(r.Problems) == maxReported {
		r.Problems = append(r.Problems, "… and more (first 20 listed)")
	}
}

// VerifyExport checks, offline, that export is exactly what the log signed
// by key holds: the bundle's checkpoint verifies with key and is the log's;
// every row's AuditData is a canonical record of the log whose inclusion
// proof verifies against the signed root; every other cell is what that
// record says (as ExportCSV writes it); and the rows are exactly the
// records the bundle proves, none added or missing. An error is returned
// only for unreadable input.
func VerifyExport(export io.Reader, b *Bundle, key string) (*ExportReport, error) {
	r := &ExportReport{Log: b.Log, Problems: []string{}}
	if b.Format != BundleFormat {
		return nil, fmt.Errorf("not a proof bundle (format %q, want %q)", b.Format, BundleFormat)
	}
	v, err := note.NewVerifier(strings.TrimSpace(key))
	if err != nil {
		return nil, fmt.Errorf("--key %q is not a note verifier key: %w", key, err)
	}
	cp, err := OpenCheckpoint([]byte(b.Checkpoint), note.VerifierList(v))
	if err != nil {
		r.add("The bundle's checkpoint does not verify with the key: %v", err)
		return r, nil
	}
	r.Origin, r.Size, r.Checkpoint = cp.Origin, cp.Size, b.Checkpoint
	if !strings.HasSuffix(cp.Origin, "/"+b.Log) {
		r.add("The checkpoint is of log %q, not of %s's log.", cp.Origin, b.Log)
	}
	proofs := make(map[int64]tlog.RecordProof, len(b.Proofs))
	for _, p := range b.Proofs {
		rp := make(tlog.RecordProof, 0, len(p.Hashes))
		for _, h := range p.Hashes {
			if len(h) != 32 {
				return nil, fmt.Errorf("proof of record %d: a hash of %d bytes", p.Index, len(h))
			}
			rp = append(rp, tlog.Hash(h))
		}
		proofs[p.Index] = rp
	}
	seen := map[int64]bool{}
	err = readExport(export, func(line int, row []string, leaf []byte, h *lockbox.CanonicalHead) error {
		r.Records++
		i := h.Index
		if seen[i] {
			r.add("Line %d: record %d appears twice.", line, i)
		}
		seen[i] = true
		if string(h.Tenant) != b.Log {
			r.add("Line %d: record %d belongs to log %q, not %q.", line, i, h.Tenant, b.Log)
		}
		want := []string{string(h.ID), string(h.Time), string(h.RecordType), string(h.Operation), string(h.User)}
		for k, cell := range want {
			if row[k] != DefuseCSVCell(cell) {
				r.add("Line %d: %s is %q, but the signed record says %q.", line, CSVHeader[k], row[k], DefuseCSVCell(cell))
			}
		}
		p, ok := proofs[i]
		switch {
		case !ok:
			r.add("Line %d: record %d has no proof in the bundle.", line, i)
		case i >= cp.Size || tlog.CheckRecord(p, cp.Size, cp.RootHash, i, tlog.RecordHash(leaf)) != nil:
			r.add("Line %d: record %d is not the record the signed log holds at index %d: it was changed.", line, i, i)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range b.Proofs {
		if !seen[p.Index] {
			r.add("Record %d is proven by the bundle but missing from the CSV: a row was removed.", p.Index)
		}
	}
	return r, nil
}

// ReadBundle decodes a bundle file.
func ReadBundle(rd io.Reader) (*Bundle, error) {
	var b Bundle
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("not a proof bundle: %w", err)
	}
	return &b, nil
}
