package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
)

// TestAccessCheckBodies: through the API, the access check answers the
// plain body its shortcut reads and the same check spelled so that only
// DecodeStrict can read it alike, and refuses every class of SPEC §14
// input with the status, code and message of the general decoder.
func TestAccessCheckBodies(t *testing.T) {
	m := newMatrix(t)
	tok := m.grant("contoso")
	plain := `{"token":"` + tok + `","operation":"Get-MailboxStatistics","resource":"mailbox:alice"}`
	escaped := fmt.Sprintf(`{"token":"\u%04x%s","operation":"Get-Mailbox\u0053tatistics","resource":"mailbox:alice"}`, tok[0], tok[1:])
	do := func(contentType, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/access/check", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+approval.DevServiceToken)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		m.handler.ServeHTTP(rec, req)
		return rec
	}
	const js = "application/json"
	for _, tc := range []struct {
		name, contentType, body string
	}{
		{"Plain", js, plain},
		{"Escaped", js, escaped},
		{"Spaced", js, "\n " + strings.ReplaceAll(plain, `":"`, `" : "`) + " \r\n"},
		{"CharsetUTF8", "application/json; charset=utf-8", plain},
		{"MediaTypeCase", "Application/JSON", plain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(tc.contentType, tc.body)
			var d decisionBody
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &d) != nil || !d.Allowed || d.RequestID == nil || d.AccessEndsAt == nil {
				t.Fatalf("%d %s, want an allowed decision", rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != js || !strings.HasSuffix(rec.Body.String(), "}\n") {
				t.Errorf("Content-Type %q, body %q: want JSON and a newline", ct, rec.Body)
			}
		})
	}
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		code, detail            string
	}{
		{"DuplicateKey", js, strings.Replace(plain, `{`, `{"operation":"Get-Mailbox",`, 1), 400, lockbox.EINVALID, `names the field "operation" twice`},
		{"KeyDiffersInCase", js, strings.Replace(plain, `"token"`, `"Token"`, 1), 400, lockbox.EINVALID, `Unknown field "Token"`},
		{"UnknownKey", js, strings.Replace(plain, `}`, `,"scope":"all"}`, 1), 400, lockbox.EINVALID, `Unknown field "scope"`},
		{"InvalidUTF8", js, strings.Replace(plain, "alice", "alice\xc3\x28", 1), 400, lockbox.EINVALID, "not valid UTF-8"},
		{"LoneSurrogate", js, strings.Replace(plain, "alice", `alice\ud800`, 1), 400, lockbox.EINVALID, ""},
		{"NullToken", js, strings.Replace(plain, `"`+tok+`"`, "null", 1), 400, lockbox.EINVALID, "token is required"},
		{"NumberToken", js, strings.Replace(plain, `"`+tok+`"`, "7", 1), 400, lockbox.EINVALID, `"token" must be a string`},
		{"TwoObjects", js, plain + `{}`, 400, lockbox.EINVALID, "more after its JSON value"},
		{"Truncated", js, strings.TrimSuffix(plain, "}"), 400, lockbox.EINVALID, "ends in the middle"},
		{"Array", js, `[` + plain + `]`, 400, lockbox.EINVALID, "must be a JSON object, not an array"},
		{"Empty", js, " ", 400, lockbox.EINVALID, "body is empty"},
		{"ClientIPOnCheck", js, strings.Replace(plain, `}`, `,"client_ip":"198.51.100.7"}`, 1), 400, lockbox.EINVALID, "only /v1/operator-actions"},
		{"ControlInOperation", js, strings.Replace(plain, "Get-MailboxStatistics", `Get-Mailbox\u0000`, 1), 400, lockbox.EINVALID, ""},
		{"TextPlain", "text/plain", plain, 415, lockbox.EUNSUPPORTEDMEDIA, "Content-Type: application/json"},
		{"NoContentType", "", plain, 415, lockbox.EUNSUPPORTEDMEDIA, "Content-Type: application/json"},
		{"JSONPrefix", "application/jsonx", plain, 415, lockbox.EUNSUPPORTEDMEDIA, "Content-Type: application/json"},
		{"Latin1", "application/json; charset=latin1", plain, 415, lockbox.EUNSUPPORTEDMEDIA, `charset "latin1"`},
		{"TooLarge", js, strings.Replace(plain, "alice", strings.Repeat("a", 1<<20), 1), 413, lockbox.ETOOLARGE, "larger than 1 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustProblem(t, do(tc.contentType, tc.body), tc.status, tc.code)
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail %q, want it to say %q", p.Detail, tc.detail)
			}
		})
	}
}
