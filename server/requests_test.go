package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lockboxhq/lockbox"
)

func TestBodyDecoding(t *testing.T) {
	t.Parallel()
	big := `{"reason":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantCode   string
		wantDetail string // a substring of the problem's detail
	}{
		{"TooLarge", big, 413, lockbox.ETOOLARGE, "larger than 1 MiB"},
		{"UnknownField", `{"tenant":"contoso","colour":"red"}`, 400, lockbox.EINVALID, `"colour"`},
		{"MalformedJSON", `{tenant:"contoso"}`, 400, lockbox.EINVALID, "not valid JSON"},
		{"Truncated", `{"tenant":"contoso"`, 400, lockbox.EINVALID, "ends in the middle"},
		{"TrailingData", `{"tenant":"contoso"} {}`, 400, lockbox.EINVALID, "more after its JSON value"},
		{"TrailingGarbage", `{"tenant":"contoso"}x`, 400, lockbox.EINVALID, "more after its JSON value"},
		{"WrongType", `{"duration_minutes":"2h"}`, 400, lockbox.EINVALID, `Field "duration_minutes" must be an integer; got a string`},
		{"Fraction", `{"duration_minutes":1.5}`, 400, lockbox.EINVALID, `"duration_minutes" must be an integer`},
		{"WrongItemType", `{"operations":[1]}`, 400, lockbox.EINVALID, `"operations" must be a string`},
		{"NotAnObject", `["contoso"]`, 400, lockbox.EINVALID, "must be a JSON object, not an array"},
		{"Empty", ``, 400, lockbox.EINVALID, "empty"},
		// SPEC §14's classes, refused by the one decoder.
		{"KeyCase", `{"Tenant":"contoso"}`, 400, lockbox.EINVALID, `Unknown field "Tenant"`},
		{"DuplicateKey", `{"tenant":"contoso","tenant":"fabrikam"}`, 400, lockbox.EINVALID, `"tenant" twice`},
		{"InvalidUTF8", "{\"tenant\":\"contoso\",\"reason\":\"\xff\"}", 400, lockbox.EINVALID, "UTF-8"},
		{"EscapedSurrogate", `{"reason":"\udc00"}`, 400, lockbox.EINVALID, "not valid JSON"},
		{"IntOverflow", `{"duration_minutes":99999999999999999999}`, 400, lockbox.EINVALID, "out of range"},
		{"Exponent", `{"duration_minutes":1e3}`, 400, lockbox.EINVALID, "must be an integer"},
		{"BadTime", `{"start_time":"tomorrow"}`, 400, lockbox.EINVALID, "RFC 3339"},
		{"TimeNotString", `{"start_time":5}`, 400, lockbox.EINVALID, "RFC 3339"},
		{"Valid", `{"tenant":"contoso","duration_minutes":60}`, 201, "", ""},
		{"NullTime", `{"tenant":"contoso","start_time":null}`, 201, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, false)
			rec := h.do(t, call{method: "POST", path: "/v1/requests", body: tt.body})
			if tt.wantCode == "" {
				if rec.Code != tt.wantStatus {
					t.Fatalf("status = %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
				}
				return
			}
			p := mustProblem(t, rec, tt.wantStatus, tt.wantCode)
			if !strings.Contains(p.Detail, tt.wantDetail) {
				t.Errorf("detail = %q, want it to contain %q", p.Detail, tt.wantDetail)
			}
		})
	}
}

func TestCreateRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	rec := h.do(t, call{method: "POST", path: "/v1/requests",
		body: `{"tenant":"contoso","service":"exchange","service_request":"SR-1","reason":"r","duration_minutes":60,"start_time":"2026-11-21T12:00:00+02:00"}`})
	if rec.Code != 201 {
		t.Fatalf("status = %d: %s", rec.Code, rec.Body)
	}
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	want := lockbox.NewRequest{Tenant: "contoso", Service: "exchange", ServiceRequest: "SR-1", Reason: "r", DurationMinutes: 60, StartTime: &start}
	if diff := cmp.Diff(want, h.fake.newReq); diff != "" {
		t.Errorf("NewRequest (-want +got):\n%s", diff)
	}
	for k, v := range map[string]string{
		"Content-Type": "application/json",
		"ETag":         `"v3"`,
		"Location":     "/v1/requests/" + fakeRequest().ID,
	} {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestResponseTimesAreUTC(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	rec := h.do(t, call{method: "GET", path: "/v1/requests/x"})
	// fakeRequest's times are UTC already; the encoding must say Z.
	if !strings.Contains(rec.Body.String(), `"created_at":"2026-11-21T09:00:00Z"`) {
		t.Errorf("created_at is not RFC 3339 UTC: %s", rec.Body)
	}
	if !strings.Contains(rec.Body.String(), `"start_time":null`) {
		t.Errorf("start_time is not null: %s", rec.Body)
	}
}

func TestDecisions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		path      string
		body      string
		ifMatch   string
		wantEvent lockbox.Event
		wantDec   lockbox.Decision
	}{
		{"ApproveWithoutBody", "/v1/requests/LB-7K3Q9MXA/approve", "", "", lockbox.EventApprove, lockbox.Decision{}},
		{"DenyWithComment", "/v1/requests/LB-7K3Q9MXA/deny", `{"comment":"no"}`, "", lockbox.EventDeny, lockbox.Decision{Comment: "no"}},
		{"CancelIfMatch", "/v1/requests/LB-7K3Q9MXA/cancel", `{}`, `"v7"`, lockbox.EventCancel, lockbox.Decision{IfVersion: 7}},
		{"Revoke", "/v1/requests/LB-7K3Q9MXA/revoke", "", `*`, lockbox.EventRevoke, lockbox.Decision{}},
		{"Complete", "/v1/requests/LB-7K3Q9MXA/complete", `{"comment":"fixed"}`, "", lockbox.EventComplete, lockbox.Decision{Comment: "fixed"}},
		{"ReviewApprove", "/v1/requests/LB-7K3Q9MXA/review", `{"decision":"approve","comment":"ok"}`, `"v1"`, lockbox.EventReviewApprove, lockbox.Decision{Comment: "ok", IfVersion: 1}},
		{"ReviewDeny", "/v1/requests/LB-7K3Q9MXA/review", `{"decision":"deny"}`, "", lockbox.EventReviewDeny, lockbox.Decision{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, false)
			hdr := map[string]string{}
			if tt.ifMatch != "" {
				hdr["If-Match"] = tt.ifMatch
			}
			rec := h.do(t, call{method: "POST", path: tt.path, body: tt.body, header: hdr})
			if rec.Code != 200 {
				t.Fatalf("status = %d: %s", rec.Code, rec.Body)
			}
			if h.fake.idOrRef != "LB-7K3Q9MXA" || h.fake.event != tt.wantEvent {
				t.Errorf("Act(%q, %q), want (LB-7K3Q9MXA, %q)", h.fake.idOrRef, h.fake.event, tt.wantEvent)
			}
			if diff := cmp.Diff(tt.wantDec, h.fake.decision); diff != "" {
				t.Errorf("Decision (-want +got):\n%s", diff)
			}
			if got := rec.Header().Get("ETag"); got != `"v3"` {
				t.Errorf("ETag = %q, want \"v3\"", got)
			}
		})
	}
}

func TestDecisionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path, body, ifMatch string
		wantStatus                int
		wantCode                  string
	}{
		{"ReviewWithoutBody", "/v1/requests/x/review", "", "", 400, lockbox.EINVALID},
		{"ReviewBadDecision", "/v1/requests/x/review", `{"decision":"maybe"}`, "", 400, lockbox.EINVALID},
		{"UnknownField", "/v1/requests/x/approve", `{"comment":"ok","version":3}`, "", 400, lockbox.EINVALID},
		{"WeakETag", "/v1/requests/x/approve", "", `W/"v3"`, 400, lockbox.EINVALID},
		{"UnquotedETag", "/v1/requests/x/approve", "", `v3`, 400, lockbox.EINVALID},
		{"ETagList", "/v1/requests/x/approve", "", `"v3", "v4"`, 400, lockbox.EINVALID},
		{"ZeroVersion", "/v1/requests/x/approve", "", `"v0"`, 400, lockbox.EINVALID},
		{"LeadingZero", "/v1/requests/x/approve", "", `"v03"`, 400, lockbox.EINVALID},
		{"NegativeVersion", "/v1/requests/x/approve", "", `"v-3"`, 400, lockbox.EINVALID},
		{"HugeVersion", "/v1/requests/x/approve", "", `"v99999999999999999999999"`, 400, lockbox.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, false)
			hdr := map[string]string{}
			if tt.ifMatch != "" {
				hdr["If-Match"] = tt.ifMatch
			}
			mustProblem(t, h.do(t, call{method: "POST", path: tt.path, body: tt.body, header: hdr}), tt.wantStatus, tt.wantCode)
			if h.fake.event != "" {
				t.Errorf("Act was called with %q", h.fake.event)
			}
		})
	}
}

func TestListRequests(t *testing.T) {
	t.Parallel()
	after := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		query string
		want  lockbox.RequestFilter
	}{
		{"Defaults", "", lockbox.RequestFilter{Limit: 100}},
		{"All", "?tenant=contoso&service=exchange&cursor=abc&limit=1000&created_after=2026-11-20T01:00:00%2B01:00",
			lockbox.RequestFilter{Tenant: "contoso", Service: "exchange", Cursor: "abc", Limit: 1000, CreatedAfter: &after}},
		{"StatusRepeated", "?status=pending&status=active", lockbox.RequestFilter{Status: []lockbox.Status{"pending", "active"}, Limit: 100}},
		{"StatusCommas", "?status=pending,active&status=revoked", lockbox.RequestFilter{Status: []lockbox.Status{"pending", "active", "revoked"}, Limit: 100}},
		{"StatusEmptyItems", "?status=pending,,&status=", lockbox.RequestFilter{Status: []lockbox.Status{"pending"}, Limit: 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, false)
			rec := h.do(t, call{method: "GET", path: "/v1/requests" + tt.query})
			if rec.Code != 200 {
				t.Fatalf("status = %d: %s", rec.Code, rec.Body)
			}
			if diff := cmp.Diff(tt.want, h.fake.filter); diff != "" {
				t.Errorf("filter (-want +got):\n%s", diff)
			}
			var page map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
				t.Fatal(err)
			}
			if _, ok := page["requests"]; !ok {
				t.Errorf("no requests in %s", rec.Body)
			}
		})
	}
}

func TestListRequestsBadQuery(t *testing.T) {
	t.Parallel()
	for _, q := range []string{
		"?status=pending,nope", "?created_after=yesterday", "?created_after=2026-11-20",
		"?limit=0", "?limit=1001", "?limit=ten", "?limit=5&limit=6", "?tenant=a&tenant=b", "?state=pending",
	} {
		t.Run(q, func(t *testing.T) {
			h := newHarness(t, false)
			mustProblem(t, h.do(t, call{method: "GET", path: "/v1/requests" + q}), 400, lockbox.EINVALID)
		})
	}
}

// TestBodyMediaType: a body must say it is JSON (SPEC §14); an empty
// optional body needs no Content-Type.
func TestBodyMediaType(t *testing.T) {
	t.Parallel()
	body := `{"tenant":"contoso","duration_minutes":60}`
	for _, tt := range []struct {
		name, contentType string
		want              int
	}{
		{"JSON", "application/json", 201},
		{"JSONWithCharset", "application/json; charset=utf-8", 201},
		{"Missing", "", 415},
		{"TextPlain", "text/plain", 415},
		{"Form", "application/x-www-form-urlencoded", 415},
		{"OtherCharset", "application/json; charset=latin1", 415},
		{"Malformed", "application/json; ===", 415},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, false)
			rec := h.do(t, call{method: "POST", path: "/v1/requests", body: body, header: map[string]string{"Content-Type": tt.contentType}})
			if tt.want != 415 {
				if rec.Code != tt.want {
					t.Fatalf("status = %d, want %d: %s", rec.Code, tt.want, rec.Body)
				}
				return
			}
			mustProblem(t, rec, 415, lockbox.EUNSUPPORTEDMEDIA)
		})
	}
	h := newHarness(t, false)
	rec := h.do(t, call{method: "POST", path: "/v1/requests/r1/approve"})
	if rec.Code == 415 {
		t.Errorf("an empty optional body without Content-Type: status 415: %s", rec.Body)
	}
}
