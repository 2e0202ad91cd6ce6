package client

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/lockboxhq/lockbox"
)

var _ lockbox.AuditService = (*Client)(nil)

func auditPath(log, rest string) string { return "/v1/tenants/" + url.PathEscape(log) + rest }

// auditQuery encodes f as the query of the search and export routes.
func auditQuery(f lockbox.AuditFilter, paged bool) string {
	q := url.Values{}
	if f.Start != nil {
		q.Set("start", f.Start.UTC().Format(time.RFC3339Nano))
	}
	if f.End != nil {
		q.Set("end", f.End.UTC().Format(time.RFC3339Nano))
	}
	q["operation"], q["user"] = f.Operations, f.Users
	if f.RequestID != "" {
		q.Set("request_id", f.RequestID)
	}
	if f.RecordType != "" {
		q.Set("record_type", f.RecordType)
	}
	if paged && f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if paged && f.Cursor != "" {
		q.Set("cursor", f.Cursor)
	}
	if s := q.Encode(); s != "" {
		return "?" + s
	}
	return ""
}

// SearchAudit returns one page of a log's records (GET …/audit). Records are
// decoded from the canonical JSON the server sends.
func (c *Client) SearchAudit(ctx context.Context, log string, f lockbox.AuditFilter) (*lockbox.AuditPage, error) {
	var out struct {
		Records    []json.RawMessage `json:"records"`
		NextCursor string            `json:"next_cursor"`
	}
	if err := c.do(ctx, http.MethodGet, auditPath(log, "/audit")+auditQuery(f, true), nil, &out); err != nil {
		return nil, err
	}
	page := &lockbox.AuditPage{Records: make([]*lockbox.AuditRecord, len(out.Records)), NextCursor: out.NextCursor}
	for i, raw := range out.Records {
		rec, err := lockbox.ParseAuditRecord(raw)
		if err != nil {
			return nil, &lockbox.Error{Code: lockbox.EINTERNAL, Err: err,
				Message: fmt.Sprintf("The server sent an audit record that does not decode: %v.", err)}
		}
		page.Records[i] = rec
	}
	return page, nil
}

// ExportAuditCSV copies the server's CSV export (GET …/audit.csv) to w as
// it arrives and returns the number of bytes copied.
func (c *Client) ExportAuditCSV(ctx context.Context, log string, f lockbox.AuditFilter, w io.Writer) (int64, error) {
	body, err := c.get(ctx, auditPath(log, "/audit.csv")+auditQuery(f, false), "text/csv")
	if err != nil {
		return 0, err
	}
	defer body.Close()
	n, err := io.Copy(w, body)
	if err != nil {
		return n, fmt.Errorf("audit export cut short after %d bytes: %w", n, err)
	}
	return n, nil
}

// ExportAudit streams the CSV export and calls fn with each record, decoded
// from its AuditData column (the whole canonical record).
func (c *Client) ExportAudit(ctx context.Context, log string, f lockbox.AuditFilter, fn func(*lockbox.AuditRecord) error) error {
	body, err := c.get(ctx, auditPath(log, "/audit.csv")+auditQuery(f, false), "text/csv")
	if err != nil {
		return err
	}
	defer body.Close()
	r := csv.NewReader(body)
	r.FieldsPerRecord = 6
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil {
		return fmt.Errorf("audit export: no header: %w", err)
	}
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("audit export cut short: %w", err)
		}
		rec, err := lockbox.ParseAuditRecord([]byte(row[5]))
		if err != nil {
			return fmt.Errorf("audit export: AuditData of %s does not decode: %w", row[0], err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// Checkpoint returns the log's signed checkpoint (GET …/log/checkpoint).
// Only Note is set: the client trusts nothing it has not verified, so parse
// and verify it with auditlog.OpenCheckpoint.
func (c *Client) Checkpoint(ctx context.Context, log string) (*lockbox.Checkpoint, error) {
	b, err := c.getText(ctx, auditPath(log, "/log/checkpoint"))
	if err != nil {
		return nil, err
	}
	return &lockbox.Checkpoint{Note: b}, nil
}

// LogEntries returns leaves start <= index < end (GET …/log/entries); the
// server may return fewer than asked.
func (c *Client) LogEntries(ctx context.Context, log string, start, end int64) ([]lockbox.LogEntry, error) {
	var out struct {
		Entries []lockbox.LogEntry `json:"entries"`
	}
	path := fmt.Sprintf("%s?start=%d&end=%d", auditPath(log, "/log/entries"), start, end)
	if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return out.Entries, nil
}

// maxTile bounds a tile: a full entry bundle of 256 leaves of at most
// 64 KiB each (c2sp.org/tlog-tiles), far above Lockbox's records.
const maxTile = 256 * (2 + 0xFFFF)

// ReadTile returns the tile at path under the log's c2sp.org/tlog-tiles
// root (GET …/log/tiles/<path>), e.g. "tile/entries/x001/234.p/17".
func (c *Client) ReadTile(ctx context.Context, log, path string) ([]byte, error) {
	resp, err := c.getResponse(ctx, auditPath(log, "/log/tiles/"+path), "application/octet-stream")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := readTile(resp.Body, resp.ContentLength)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, &lockbox.Error{Code: lockbox.EUNAVAILABLE, Err: err,
			Message: fmt.Sprintf("Reading %s from %s failed: %v.", path, c.BaseURL, err)}
	}
	if len(b) > maxTile {
		return nil, lockbox.Errorf(lockbox.EINTERNAL, "The server sent a tile %s longer than any tile (%d bytes).", path, maxTile)
	}
	return b, nil
}

// readTile reads a tile's body: into one buffer of the length the server
// announced, when it did, else as it comes; never more than maxTile+1
// bytes. An entry bundle is some 140 KiB, which io.ReadAll reaches from
// 512 bytes by growing, copying and clearing: a fifth of a full
// verification's client CPU (docs/benchmarks.md).
func readTile(body io.Reader, n int64) ([]byte, error) {
	if n < 0 || n > maxTile {
		return io.ReadAll(io.LimitReader(body, maxTile+1))
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(body, b); err != nil {
		return nil, err
	}
	return b, nil
}

// ReadBundles returns the stream of full entry bundles start to end-1 of
// the log (GET …/log/bundles; auditlog.Service.LogBundles says its form),
// or with end < 0 to the last full bundle the log has. The caller closes
// it.
func (c *Client) ReadBundles(ctx context.Context, log string, start, end int64) (io.ReadCloser, error) {
	path := fmt.Sprintf("%s?start=%d", auditPath(log, "/log/bundles"), start)
	if end >= 0 {
		path += fmt.Sprintf("&end=%d", end)
	}
	resp, err := c.getResponse(ctx, path, "application/octet-stream")
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// InclusionProof returns an RFC 6962 inclusion proof (GET …/log/proof/inclusion).
func (c *Client) InclusionProof(ctx context.Context, log string, index, size int64) ([][32]byte, error) {
	return c.proof(ctx, fmt.Sprintf("%s?index=%d&size=%d", auditPath(log, "/log/proof/inclusion"), index, size))
}

// ConsistencyProof returns an RFC 6962 consistency proof (GET …/log/proof/consistency).
func (c *Client) ConsistencyProof(ctx context.Context, log string, oldSize, newSize int64) ([][32]byte, error) {
	return c.proof(ctx, fmt.Sprintf("%s?old=%d&new=%d", auditPath(log, "/log/proof/consistency"), oldSize, newSize))
}

func (c *Client) proof(ctx context.Context, path string) ([][32]byte, error) {
	var out struct {
		Hashes [][]byte `json:"hashes"`
	}
	if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	hs := make([][32]byte, len(out.Hashes))
	for i, h := range out.Hashes {
		if len(h) != 32 {
			return nil, lockbox.Errorf(lockbox.EINTERNAL, "The server sent a proof hash of %d bytes, not 32.", len(h))
		}
		hs[i] = [32]byte(h)
	}
	return hs, nil
}

// LogKey returns the checkpoint verifier key (GET /v1/log/key).
func (c *Client) LogKey(ctx context.Context) (string, error) {
	b, err := c.getText(ctx, "/v1/log/key")
	if err != nil {
		return "", err
	}
	return string(trimNewline(b)), nil
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// maxTextBody bounds a text answer (a checkpoint or a key is a few hundred bytes).
const maxTextBody = 64 << 10

func (c *Client) getText(ctx context.Context, path string) ([]byte, error) {
	body, err := c.get(ctx, path, "text/plain")
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, maxTextBody))
	if err != nil {
		return nil, &lockbox.Error{Code: lockbox.EUNAVAILABLE, Err: err,
			Message: fmt.Sprintf("Reading %s from %s failed: %v.", path, c.BaseURL, err)}
	}
	return b, nil
}

// get starts a GET whose successful body is not JSON; the caller closes it.
func (c *Client) get(ctx context.Context, path, accept string) (io.ReadCloser, error) {
	resp, err := c.getResponse(ctx, path, accept)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// getResponse is get with the whole response (its length too).
func (c *Client) getResponse(ctx context.Context, path, accept string) (*http.Response, error) {
	req, err := c.newRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept+", application/problem+json")
	resp, err := c.send(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, responseError(resp)
	}
	return resp, nil
}
