package lockbox_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/lockboxhq/lockbox"
)

// TestErrorAccessors: code, message and field are found anywhere in a
// chain; anything that is not an *Error is internal and says nothing.
func TestErrorAccessors(t *testing.T) {
	field := lockbox.FieldErrorf(lockbox.EINVALID, "request_ttl_minutes", "request_ttl_minutes must be between %d and %d.", 60, 10080)
	tests := []struct {
		name                   string
		err                    error
		code, message, inField string
	}{
		{"Nil", nil, "", "", ""},
		{"Plain", errors.New("disk on fire"), lockbox.EINTERNAL, "Internal error.", ""},
		{"NoField", lockbox.Errorf(lockbox.ECONFLICT, "Too late."), lockbox.ECONFLICT, "Too late.", ""},
		{"Field", field, lockbox.EINVALID, "request_ttl_minutes must be between 60 and 10080.", "request_ttl_minutes"},
		{"WrappedField", fmt.Errorf("update settings: %w", field), lockbox.EINVALID,
			"request_ttl_minutes must be between 60 and 10080.", "request_ttl_minutes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lockbox.ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
			if got := lockbox.ErrorMessage(tt.err); got != tt.message {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.message)
			}
			if got := lockbox.ErrorField(tt.err); got != tt.inField {
				t.Errorf("ErrorField = %q, want %q", got, tt.inField)
			}
		})
	}
}

// TestErrorCause: an *Error caused by a canceled call is still
// context.Canceled to errors.Is, and its message does not show the cause.
func TestErrorCause(t *testing.T) {
	err := fmt.Errorf("me: %w", &lockbox.Error{Code: lockbox.EUNAVAILABLE, Message: "Cannot reach the server.", Err: context.Canceled})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("%v is not context.Canceled", err)
	}
	if got := lockbox.ErrorMessage(err); got != "Cannot reach the server." {
		t.Errorf("ErrorMessage = %q", got)
	}
	if lockbox.ErrorCode(err) != lockbox.EUNAVAILABLE {
		t.Errorf("ErrorCode = %q", lockbox.ErrorCode(err))
	}
}
