package web

import "testing"

func TestBesideField(t *testing.T) {
	t.Parallel()
	tests := []struct{ field, msg, want string }{
		{"duration_minutes", "duration_minutes must be between 1 and 240; got 300.", "Must be between 1 and 240; got 300."},
		{"reason", "reason is required.", "Required."},
		{"notify_emails", `notify_emails: "x" is not an email address.`, `"x" is not an email address.`},
		{"email", `"x" is not an email address.`, `"x" is not an email address.`},
		{"name", "names must be unique.", "names must be unique."}, // another word that starts alike
		{"tenant", "tenant", "tenant"},
	}
	for _, tt := range tests {
		if got := besideField(tt.field, tt.msg); got != tt.want {
			t.Errorf("besideField(%q, %q) = %q, want %q", tt.field, tt.msg, got, tt.want)
		}
	}
}
