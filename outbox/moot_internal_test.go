package outbox

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// TestDecisionDeadline: the deadline is the notice's own request's
// expires_at, wherever the members around it stand, and never an
// expires_at elsewhere in the notice.
func TestDecisionDeadline(t *testing.T) {
	t.Parallel()
	deadline := time.Date(2026, 12, 8, 14, 0, 0, 0, time.UTC)
	other := `"2030-01-01T00:00:00Z"`
	written, err := json.Marshal(lockbox.Notice{Type: lockbox.NoticePending, Timestamp: deadline.Add(-12 * time.Hour),
		Data: lockbox.NoticeData{Tenant: "contoso", TenantName: "Contoso", Actor: "m@contoso.test", Comment: "expires_at",
			Action: map[string]any{"expires_at": other},
			Request: &lockbox.AccessRequest{ID: "r1", Reason: `"expires_at": ` + other, ExpiresAt: deadline,
				Approvals: []lockbox.Approval{}}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		payload string
		ok      bool
	}{
		{"as approval writes it", string(written), true},
		{"others first, nested decoys", `{"expires_at": ` + other + `, "type": "x", "data": {"report": {"request": {"expires_at": ` + other +
			`}}, "action": {"expires_at": ` + other + `}, "request": {"id": "r1", "approvals": [{"expires_at": ` + other +
			`}], "expires_at": "2026-12-08T14:00:00Z", "rest": [}`, true},
		{"offset", `{"data": {"request": {"expires_at": "2026-12-08T15:00:00+01:00"}}}`, true},
		{"no request", `{"type": "x", "data": {"tenant": "contoso", "report": {"request": {"expires_at": ` + other + `}}}}`, false},
		{"request null", `{"data": {"request": null}}`, false},
		{"no deadline", `{"data": {"request": {"id": "r1", "nested": {"expires_at": ` + other + `}}}}`, false},
		{"data not an object", `{"data": [{"request": {"expires_at": ` + other + `}}]}`, false},
		{"data a string", `{"data": "x", "request": {"expires_at": ` + other + `}}`, false},
		{"not a time", `{"data": {"request": {"expires_at": "soon"}}}`, false},
		{"broken before it", `{"data": {"tenant": , "request": {"expires_at": ` + other + `}}}`, false},
		{"not JSON", `expires_at`, false},
		{"empty", ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := decisionDeadline([]byte(tt.payload))
			if ok != tt.ok || ok && !got.Equal(deadline) {
				t.Errorf("decisionDeadline(%s) = %v, %v; want %v, %v", tt.payload, got, ok, deadline, tt.ok)
			}
		})
	}
	if !strings.Contains(string(written), `"expires_at"`) {
		t.Fatal("the notice holds no expires_at")
	}
}
