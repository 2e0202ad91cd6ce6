package server

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lockboxhq/lockbox"
)

func (s *Server) createRequest(w http.ResponseWriter, r *http.Request) {
	var in lockbox.NewRequest
	if err := decodeJSON(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	req, err := s.Requests.CreateRequest(r.Context(), in)
	if err != nil {
		s.error(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/requests/"+url.PathEscape(req.ID))
	s.respondRequest(w, r, http.StatusCreated, req)
}

func (s *Server) listRequests(w http.ResponseWriter, r *http.Request) {
	f, err := parseRequestFilter(r.URL.Query())
	if err != nil {
		s.error(w, r, err)
		return
	}
	page, err := s.Requests.ListRequests(r.Context(), f)
	if err != nil {
		s.error(w, r, err)
		return
	}
	out := lockbox.RequestPage{Requests: make([]*lockbox.AccessRequest, len(page.Requests)), NextCursor: page.NextCursor}
	for i, req := range page.Requests {
		out.Requests[i] = utcRequest(req)
	}
	s.respond(w, r, http.StatusOK, out)
}

func (s *Server) getRequest(w http.ResponseWriter, r *http.Request) {
	req, err := s.Requests.GetRequest(r.Context(), r.PathValue("id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respondRequest(w, r, http.StatusOK, req)
}

// accessReport serves GET /v1/requests/{id}/report.
func (s *Server) accessReport(w http.ResponseWriter, r *http.Request) {
	rep, err := s.Requests.AccessReport(r.Context(), r.PathValue("id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, rep)
}

// review is a support manager's decision: {"decision":"approve"|"deny"}.
func (s *Server) review(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Decision string `json:"decision"`
		Comment  string `json:"comment"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		s.error(w, r, err)
		return
	}
	events := map[string]lockbox.Event{"approve": lockbox.EventReviewApprove, "deny": lockbox.EventReviewDeny}
	ev, ok := events[body.Decision]
	if !ok {
		s.error(w, r, lockbox.Errorf(lockbox.EINVALID, `decision must be "approve" or "deny"; got %q.`, body.Decision))
		return
	}
	s.act(w, r, ev, lockbox.Decision{Comment: body.Comment})
}

// decide serves approve, deny, cancel, revoke and complete, whose body
// {"comment"} may be left out.
func (s *Server) decide(ev lockbox.Event) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var d lockbox.Decision
		if err := decodeOptionalJSON(w, r, &d); err != nil {
			s.error(w, r, err)
			return
		}
		s.act(w, r, ev, d)
	}
}

// extend is the requester's ask for more time: {"minutes","reason"}.
func (s *Server) extend(w http.ResponseWriter, r *http.Request) {
	var ask lockbox.ExtensionAsk
	if err := decodeJSON(w, r, &ask); err != nil {
		s.error(w, r, err)
		return
	}
	s.act(w, r, lockbox.EventExtend, lockbox.Decision{Extend: &ask})
}

func (s *Server) act(w http.ResponseWriter, r *http.Request, ev lockbox.Event, d lockbox.Decision) {
	v, err := ifMatchVersion(r.Header)
	if err != nil {
		s.error(w, r, err)
		return
	}
	d.IfVersion = v
	req, err := s.Requests.Act(r.Context(), r.PathValue("id"), ev, d)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respondRequest(w, r, http.StatusOK, req)
}

// respondRequest writes one request with its version as the ETag, which a
// client sends back in If-Match to act only on the state it saw.
func (s *Server) respondRequest(w http.ResponseWriter, r *http.Request, status int, req *lockbox.AccessRequest) {
	w.Header().Set("ETag", fmt.Sprintf(`"v%d"`, req.Version))
	s.respond(w, r, status, utcRequest(req))
}

// ifMatchVersion parses If-Match: "v<N>" (the ETag of a request) into N.
// No header, or "*", is 0: no condition.
func ifMatchVersion(h http.Header) (int, error) {
	values := h.Values("If-Match")
	if len(values) == 0 {
		return 0, nil
	}
	v := strings.TrimSpace(values[0])
	if len(values) == 1 && v == "*" {
		return 0, nil
	}
	digits, ok := strings.CutPrefix(v, `"v`)
	digits, ok2 := strings.CutSuffix(digits, `"`)
	n, err := strconv.Atoi(digits)
	if len(values) > 1 || !ok || !ok2 || err != nil || n < 1 || strconv.Itoa(n) != digits {
		return 0, lockbox.Errorf(lockbox.EINVALID,
			`If-Match must be one entity tag like "v3", as sent in the request's ETag; got %s.`, strings.Join(values, ", "))
	}
	return n, nil
}

var requestFilterParams = []string{"tenant", "status", "created_after", "service", "needs_review", "limit", "cursor"}

// parseRequestFilter reads GET /v1/requests's query. Unknown or repeated
// parameters are refused: a mistyped filter must not silently list more.
func parseRequestFilter(q url.Values) (lockbox.RequestFilter, error) {
	f := lockbox.RequestFilter{Limit: lockbox.DefaultRequestPageSize}
	for name, vs := range q {
		if !slices.Contains(requestFilterParams, name) {
			return f, lockbox.Errorf(lockbox.EINVALID, "Unknown query parameter %q; use %s.", name, strings.Join(requestFilterParams, ", "))
		}
		if len(vs) > 1 && name != "status" {
			return f, lockbox.Errorf(lockbox.EINVALID, "Query parameter %q is given %d times; give it once.", name, len(vs))
		}
	}
	f.Tenant, f.Service, f.Cursor = q.Get("tenant"), q.Get("service"), q.Get("cursor")
	var err error
	if f.Status, err = parseStatuses(q["status"]); err != nil {
		return f, err
	}
	if v := q.Get("created_after"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return f, lockbox.Errorf(lockbox.EINVALID, "created_after must be an RFC 3339 time like 2026-11-21T09:00:00Z; got %q.", v)
		}
		t = t.UTC()
		f.CreatedAfter = &t
	}
	switch v := q.Get("needs_review"); v {
	case "", "false":
	case "true":
		f.NeedsReview = true
	default:
		return f, lockbox.Errorf(lockbox.EINVALID, `needs_review must be "true" or "false"; got %q.`, v)
	}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > lockbox.MaxRequestPageSize {
			return f, lockbox.Errorf(lockbox.EINVALID, "limit must be a whole number from 1 to %d; got %q.", lockbox.MaxRequestPageSize, v[0])
		}
		f.Limit = n
	}
	return f, nil
}

// parseStatuses accepts status repeated, comma-separated, or both.
func parseStatuses(values []string) ([]lockbox.Status, error) {
	var out []lockbox.Status
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			st := lockbox.Status(strings.TrimSpace(s))
			if st == "" {
				continue
			}
			if !st.Valid() {
				return nil, lockbox.Errorf(lockbox.EINVALID, "Unknown status %q; use one of %s.", st, statusNames())
			}
			out = append(out, st)
		}
	}
	return out, nil
}

func statusNames() string {
	names := make([]string, len(lockbox.Statuses))
	for i, s := range lockbox.Statuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}
