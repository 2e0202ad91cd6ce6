package auditlog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/lockboxhq/lockbox"
)

// This file is the one writer of the audit CSV export (SPEC §7): the API's
// GET …/audit.csv and the admin center's Download CSV both answer with
// ServeCSV, and `lockbox audit search -o csv` copies the API's bytes.
// (net/http is imported for ServeCSV only: the HTTP framing of an export,
// abort included, is part of the format's contract.)

// CSVHeader is the first row of every export.
var CSVHeader = []string{"RecordId", "CreationDate", "RecordType", "Operation", "UserId", "AuditData"}

// CSVContentType is the media type an export is served as.
const CSVContentType = "text/csv; charset=utf-8"

// ErrExportCutShort wraps an export's error when part of the file was
// already written: what was written looks like a complete export (a CSV
// file has no end marker), so the caller must make the failure visible.
// ServeCSV breaks the HTTP response off; a program writing a file removes
// it and exits non-zero.
var ErrExportCutShort = errors.New("audit export cut short")

// Exporter is where ExportCSV reads records: lockbox.AuditService.ExportAudit.
type Exporter interface {
	ExportAudit(ctx context.Context, log string, f lockbox.AuditFilter, fn func(*lockbox.AuditRecord) error) error
}

// LeafExporter is an Exporter that can hand over each record as its
// stored canonical bytes (checked canonical, with the fields an export
// shows): ExportCSV then copies bytes and never decodes or re-encodes a
// record. *Service is one.
type LeafExporter interface {
	ExportAuditLeaves(ctx context.Context, log string, f lockbox.AuditFilter, fn func(h *lockbox.CanonicalHead, leaf []byte) error) error
}

// ExportCSV writes the export of log's records matching f, read from src,
// newest first, one row per record as it is read (memory stays flat). When
// src is a LeafExporter the rows are made from the stored bytes as they
// are; otherwise from each record's canonical encoding: the same bytes.
//
// start is called once, just before the first byte, with the media type
// and a file name for the download, and returns where to write. Until then
// nothing is written, so an error found first (not authorized, a bad
// filter, the store down) can still be answered as an error. An error after
// start wraps ErrExportCutShort.
func ExportCSV(ctx context.Context, src Exporter, log string, f lockbox.AuditFilter, start func(contentType, filename string) io.Writer) error {
	var (
		w   *bufio.Writer
		row []byte
	)
	begin := func() error {
		w = bufio.NewWriterSize(start(CSVContentType, "audit-"+log+".csv"), 64<<10)
		_, err := w.WriteString(strings.Join(CSVHeader, ",") + "\n")
		return err
	}
	write := func(h *lockbox.CanonicalHead, leaf []byte) error {
		if w == nil {
			if err := begin(); err != nil {
				return err
			}
		}
		row = appendCSVRow(row[:0], h, leaf)
		_, err := w.Write(row)
		return err
	}
	var err error
	if le, ok := src.(LeafExporter); ok {
		err = le.ExportAuditLeaves(ctx, log, f, write)
	} else {
		err = src.ExportAudit(ctx, log, f, func(rec *lockbox.AuditRecord) error {
			leaf, err := rec.Canonical()
			if err != nil {
				return fmt.Errorf("encode audit record %s: %w", rec.ID, err)
			}
			h, err := lockbox.CheckCanonical(leaf)
			if err != nil {
				return fmt.Errorf("encode audit record %s: %w", rec.ID, err)
			}
			return write(&h, leaf)
		})
	}
	if err == nil && w == nil {
		err = begin() // no records: the header alone
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil && w != nil {
		return fmt.Errorf("%w: %w", ErrExportCutShort, err)
	}
	return err
}

// ServeCSV answers r with the export of log's records matching f, as a
// download. An error found before the first byte (not authorized, a bad
// filter, the store down) is returned for the caller to answer in its own
// format. An error after it is given to logCut, and the response is broken
// off (panic(http.ErrAbortHandler)): the client sees the connection cut
// before the end of the chunked body, so a browser reports a failed download
// and an HTTP client a read error, never a complete file.
func ServeCSV(w http.ResponseWriter, r *http.Request, src Exporter, log string, f lockbox.AuditFilter, logCut func(error)) error {
	err := ExportCSV(r.Context(), src, log, f, func(contentType, filename string) io.Writer {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, filename))
		w.WriteHeader(http.StatusOK)
		return w
	})
	if errors.Is(err, ErrExportCutShort) {
		logCut(err)
		panic(http.ErrAbortHandler)
	}
	return err
}

// appendCSVRow appends one row. AuditData is the record's canonical JSON,
// the very bytes the log hashes, so what a customer exports is what they
// verify. Cells are defused, then quoted exactly as encoding/csv quotes
// them (export_test.go holds the two to each other).
func appendCSVRow(b []byte, h *lockbox.CanonicalHead, leaf []byte) []byte {
	for i, cell := range [...][]byte{h.ID, h.Time, h.RecordType, h.Operation, h.User, leaf} {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCSVCell(b, cell)
	}
	return append(b, '\n')
}

// appendCSVCell appends DefuseCSVCell(cell), quoted when encoding/csv's
// Writer (comma ',', no CRLF) would quote it: when it holds a quote, a
// comma, CR or LF, starts with a space, or is `\.`.
func appendCSVCell(b, cell []byte) []byte {
	defuse := len(cell) > 0 && strings.IndexByte("=+-@\t\r", cell[0]) >= 0
	needs := string(cell) == `\.` || bytes.ContainsAny(cell, "\"\r\n,")
	if !needs && !defuse && len(cell) > 0 {
		r, _ := utf8.DecodeRune(cell)
		needs = unicode.IsSpace(r)
	}
	if !needs {
		if defuse {
			b = append(b, '\'')
		}
		return append(b, cell...)
	}
	b = append(b, '"')
	if defuse {
		b = append(b, '\'')
	}
	for {
		k := bytes.IndexByte(cell, '"')
		if k < 0 {
			break
		}
		b = append(b, cell[:k+1]...)
		b = append(b, '"')
		cell = cell[k+1:]
	}
	b = append(b, cell...)
	return append(b, '"')
}

// DefuseCSVCell stops a spreadsheet from running a cell as a formula (OWASP
// "CSV injection"): a cell starting with = + - @ tab or CR gets a leading
// apostrophe. Every CSV Lockbox writes (exports, the CLI's -o csv) goes
// through it.
func DefuseCSVCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
