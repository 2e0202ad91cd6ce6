// Package sqlrows is the database/sql plumbing the sqlite and postgres
// stores share: collecting query rows, counting affected rows (and what a
// write by key that changed none means), and the column encodings both
// schemas use (JSON lists, nullable strings, audit records kept as their
// canonical bytes).
//
// It knows no SQL dialect, and imports only the root lockbox package (for
// its error codes), the standard library and go-json-experiment (decode).
// Infrastructure errors come back unwrapped, or through the store's own
// wrap, so that each store wraps them its own way (postgres marks
// connection failures EUNAVAILABLE). Time columns are not here: the two
// engines store them differently.
package sqlrows

import (
	"database/sql"
	"encoding/json"
	"fmt"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/lockboxhq/lockbox"
)

// Scanner is what a *sql.Row and *sql.Rows have in common.
type Scanner interface {
	Scan(dest ...any) error
}

// Collect scans every row with scan, closes rows, and returns the values,
// or nil and the first error of scan or rows.Err. With no rows the slice
// is nil, as after appending nothing; a caller that promises a non-nil
// list says so itself.
func Collect[T any](rows *sql.Rows, scan func(Scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Value scans a row of one column, for Collect.
func Value[T any](s Scanner) (T, error) {
	var v T
	err := s.Scan(&v)
	return v, err
}

// WebhookSecret scans tenant, id and secret, for Collect.
func WebhookSecret(s Scanner) (lockbox.WebhookSecret, error) {
	var w lockbox.WebhookSecret
	err := s.Scan(&w.Tenant, &w.ID, &w.Secret)
	return w, err
}

// RowsAffected returns the number of rows a statement changed, taking
// ExecContext's results as they are: err when the statement failed.
func RowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ExpectRow is the outcome of a write by key (an UPDATE or DELETE … WHERE
// id = …): nil when it changed a row, ENOTFOUND with the message format
// and args when it changed none, and a failed statement's error through
// wrap.
func ExpectRow(res sql.Result, err error, wrap func(error) error, format string, args ...any) error {
	n, err := RowsAffected(res, err)
	if err != nil {
		return wrap(err)
	}
	if n == 0 {
		return lockbox.Errorf(lockbox.ENOTFOUND, format, args...)
	}
	return nil
}

// AuditRecord scans a row of the canonical column back into a record, for
// Collect: both stores keep an audit record as its canonical bytes.
func AuditRecord(s Scanner) (*lockbox.AuditRecord, error) {
	var b []byte
	if err := s.Scan(&b); err != nil {
		return nil, err
	}
	rec, err := lockbox.ParseAuditRecord(b)
	if err != nil {
		return nil, fmt.Errorf("stored record is not canonical JSON: %w", err)
	}
	return rec, nil
}

// LogEntry scans a row of (index, canonical bytes), the bytes untouched,
// for Collect.
func LogEntry(s Scanner) (lockbox.LogEntry, error) {
	var e lockbox.LogEntry
	err := s.Scan(&e.Index, &e.Data)
	return e, err
}

// JSONList encodes a list column; nil is stored as [] so that a list read
// back is never nil and serves as [] rather than null in the API.
func JSONList[T any](v []T) (string, error) {
	if v == nil {
		v = []T{}
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// ParseList decodes a list column written by JSONList; [] decodes to an
// empty, non-nil slice.
func ParseList[T any](s string) ([]T, error) {
	out := []T{}
	if err := decode(s, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeOptions read a column as encoding/json would: names matched
// without regard to case (but with regard to '_' and '-'), the last of
// duplicate names kept, invalid UTF-8 replaced rather than refused
// (TestDecodeAsEncodingJSON).
var decodeOptions = jsonv2.JoinOptions(
	jsonv2.MatchCaseInsensitiveNames(true), jsonv1.MatchCaseSensitiveDelimiter(true),
	jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

// decode decodes the JSON columns the stores read on every workflow step
// (an account's roles, a request's operations and policy, a tenant's
// policy). It is go-json-experiment rather than encoding/json, which the
// columns are still written with: the same values in half the time and
// under half the allocations. With encoding/json, decoding them was 4 % of
// the CPU of the workflow benchmark's process on PostgreSQL
// (docs/benchmarks.md, "Twenty-third session").
func decode(s string, v any) error {
	return jsonv2.Unmarshal([]byte(s), v, decodeOptions)
}

// StringPtr maps NULL back to a missing string.
func StringPtr(v sql.Null[string]) *string {
	if !v.Valid {
		return nil
	}
	return &v.V
}

// AppendBundles appends the data of rows (n, data), in n order, to dst
// while n runs on from from, and closes rows; it returns dst and the
// length of each data it appended. The data is scanned as sql.RawBytes,
// so it is copied once, into dst (the stores' AppendAuditBundles, each
// bundle some 130 KiB).
func AppendBundles(rows *sql.Rows, dst []byte, from int64) ([]byte, []int, error) {
	defer rows.Close()
	var lens []int
	for next := from; rows.Next(); next++ {
		var n int64
		var data sql.RawBytes
		if err := rows.Scan(&n, &data); err != nil {
			return dst, lens, err
		}
		if n != next {
			break
		}
		dst = append(dst, data...)
		lens = append(lens, len(data))
	}
	return dst, lens, rows.Err()
}
