package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

var listTests = []test{
	{"Filters", testListRequestsFilters},
	{"KeysetPaging", testListRequestsPaging},
	{"FullRecords", testListRequestsFullRecords},
}

// listFixture stores 36 requests spread over two tenants, two services,
// every status, three requesters and both visibilities. Every three share
// a creation time, so the id tie-break of the order matters.
func listFixture(t *testing.T, s lockbox.Store) []*lockbox.AccessRequest {
	t.Helper()
	var all []*lockbox.AccessRequest
	for n := range 36 {
		r := NewRequest(n)
		r.CreatedAt = T0.Add(time.Duration(n/3) * time.Minute)
		r.Tenant = []string{"contoso", "fabrikam"}[n%2]
		r.Service = []string{"exchange", "exchange", "teams"}[n%3]
		r.Status = lockbox.Statuses[n%len(lockbox.Statuses)]
		r.RequesterID = fmt.Sprintf("user-%c", 'a'+n%3)
		r.TenantVisible = n%4 != 0
		if !r.Status.Terminal() { // deadlines from T0-2m to T0+2m
			r.Deadline = ptr(T0.Add(time.Duration(n%5-2) * time.Minute))
		}
		all = append(all, r)
	}
	MustUpdate(t, s, func(tx lockbox.Tx) error {
		for _, r := range all {
			if err := tx.InsertRequest(t.Context(), r); err != nil {
				return err
			}
		}
		return nil
	})
	return all
}

// expectList is the reference implementation of ListRequests over rs.
func expectList(rs []*lockbox.AccessRequest, q lockbox.RequestQuery) []string {
	var out []*lockbox.AccessRequest
	for _, r := range rs {
		if matches(r, q) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, newestFirst)
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return ids(out)
}

func newestFirst(a, b *lockbox.AccessRequest) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(b.ID, a.ID)
}

func matches(r *lockbox.AccessRequest, q lockbox.RequestQuery) bool {
	switch {
	case q.Tenant != "" && r.Tenant != q.Tenant,
		len(q.Statuses) > 0 && !slices.Contains(q.Statuses, r.Status) && !due(r, q.OrDueBy),
		q.Service != "" && r.Service != q.Service,
		q.CreatedAfter != nil && !r.CreatedAt.After(*q.CreatedAfter),
		q.RequesterID != "" && r.RequesterID != q.RequesterID,
		q.TenantVisible && !r.TenantVisible:
		return false
	}
	if q.BeforeCreatedAt != nil {
		cursor := &lockbox.AccessRequest{CreatedAt: *q.BeforeCreatedAt, ID: q.BeforeID}
		return newestFirst(cursor, r) < 0 // r sorts strictly after the cursor
	}
	return true
}

// due reports whether r's stored deadline is at or before by.
func due(r *lockbox.AccessRequest, by *time.Time) bool {
	return by != nil && r.Deadline != nil && !r.Deadline.After(*by)
}

func ids(rs []*lockbox.AccessRequest) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func listRequests(t *testing.T, s lockbox.Store, q lockbox.RequestQuery) []*lockbox.AccessRequest {
	t.Helper()
	var rs []*lockbox.AccessRequest
	MustView(t, s, func(tx lockbox.Tx) (err error) {
		rs, err = tx.ListRequests(t.Context(), q)
		return err
	})
	return rs
}

func testListRequestsFilters(t *testing.T, s lockbox.Store) {
	all := listFixture(t, s)
	mid := all[16] // shares its creation time with all[15] and all[17]
	tests := []struct {
		name string
		q    lockbox.RequestQuery
	}{
		{"All", lockbox.RequestQuery{}},
		{"Tenant", lockbox.RequestQuery{Tenant: "fabrikam"}},
		{"UnknownTenant", lockbox.RequestQuery{Tenant: "nobody"}},
		{"OneStatus", lockbox.RequestQuery{Statuses: []lockbox.Status{lockbox.StatusActive}}},
		{"Statuses", lockbox.RequestQuery{Statuses: []lockbox.Status{lockbox.StatusPending, lockbox.StatusExpired, lockbox.StatusRevoked}}},
		{"Service", lockbox.RequestQuery{Service: "teams"}},
		{"CreatedAfterIsStrict", lockbox.RequestQuery{CreatedAfter: &mid.CreatedAt}},
		{"Requester", lockbox.RequestQuery{RequesterID: "user-b"}},
		{"TenantVisible", lockbox.RequestQuery{TenantVisible: true}},
		{"Combined", lockbox.RequestQuery{Tenant: "contoso", Service: "exchange", TenantVisible: true,
			Statuses: []lockbox.Status{lockbox.StatusPendingReview, lockbox.StatusPending, lockbox.StatusApproved, lockbox.StatusCanceled}}},
		{"StatusOrDue", lockbox.RequestQuery{Statuses: []lockbox.Status{lockbox.StatusCompleted}, OrDueBy: &T0}},
		{"StatusesOrDueCombined", lockbox.RequestQuery{Tenant: "contoso", TenantVisible: true, OrDueBy: &T0,
			Statuses: []lockbox.Status{lockbox.StatusPending, lockbox.StatusExpired}, Limit: 4}},
		{"StatusOrDueAfterCursor", lockbox.RequestQuery{Statuses: []lockbox.Status{lockbox.StatusDenied}, OrDueBy: &T0,
			BeforeCreatedAt: &mid.CreatedAt, BeforeID: mid.ID}},
		{"OrDueByAlone", lockbox.RequestQuery{OrDueBy: &T0, Service: "teams"}}, // nothing to widen: all match
		{"Limit", lockbox.RequestQuery{Limit: 5}},
		{"LimitAboveCount", lockbox.RequestQuery{Limit: 1000}},
		{"BeforeCursor", lockbox.RequestQuery{BeforeCreatedAt: &mid.CreatedAt, BeforeID: mid.ID}},
		{"BeforeCursorTimeOnly", lockbox.RequestQuery{BeforeCreatedAt: &mid.CreatedAt}},
		{"BeforeCursorWithFilter", lockbox.RequestQuery{Tenant: "contoso", BeforeCreatedAt: &mid.CreatedAt, BeforeID: mid.ID, Limit: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			if q.Limit == 0 {
				q.Limit = lockbox.MaxRequestPageSize
			}
			got := ids(listRequests(t, s, q))
			if diff := gocmp.Diff(expectList(all, q), got); diff != "" {
				t.Errorf("ListRequests(%+v) ids (-want +got):\n%s", q, diff)
			}
		})
	}
}

// testListRequestsPaging walks every page with the keyset cursor of the
// previous page's last row: the pages together are the whole listing, in
// order, with no duplicate and no gap, whatever the page size.
func testListRequestsPaging(t *testing.T, s lockbox.Store) {
	all := listFixture(t, s)
	for i, base := range []lockbox.RequestQuery{{}, {Tenant: "contoso"}, {Service: "teams", TenantVisible: true},
		{Statuses: []lockbox.Status{lockbox.StatusPending, lockbox.StatusRevoked}, OrDueBy: &T0}} {
		for _, size := range []int{1, 2, 3, 7, 36, 100} {
			t.Run(fmt.Sprintf("%d/%d", i, size), func(t *testing.T) {
				want := expectList(all, base)
				if diff := gocmp.Diff(want, walkPages(t, s, base, size)); diff != "" {
					t.Errorf("pages (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func walkPages(t *testing.T, s lockbox.Store, q lockbox.RequestQuery, size int) []string {
	t.Helper()
	got := []string{}
	q.Limit = size
	for range 100 {
		page := listRequests(t, s, q)
		if len(page) > size {
			t.Fatalf("page of %d rows, limit %d", len(page), size)
		}
		got = append(got, ids(page)...)
		if len(page) < size {
			return got
		}
		last := page[len(page)-1]
		q.BeforeCreatedAt, q.BeforeID = &last.CreatedAt, last.ID
	}
	t.Fatal("paging did not end")
	return nil
}

// testListRequestsFullRecords: listed requests carry every field, as
// GetRequest returns them.
func testListRequestsFullRecords(t *testing.T, s lockbox.Store) {
	want := []*lockbox.AccessRequest{decidedRequest(2), NewRequest(1)}
	MustInsertRequest(t, s, want[1])
	MustInsertRequest(t, s, want[0])
	got := listRequests(t, s, lockbox.RequestQuery{Limit: 10})
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("ListRequests (-want +got):\n%s", diff)
	}
}
