package lockbox

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. They are part of the external contract (SPEC §8): clients
// match on them, so they never change once published.
const (
	EINVALID         = "invalid"
	EUNAUTHENTICATED = "unauthenticated"
	EFORBIDDEN       = "forbidden"
	ENOTFOUND        = "not_found"
	ECONFLICT        = "conflict"
	ETOOLARGE        = "too_large"
	// EUNSUPPORTEDMEDIA is a request body that is not application/json
	// (SPEC §14).
	EUNSUPPORTEDMEDIA = "unsupported_media_type"
	ERATELIMITED      = "rate_limited"
	EUNAVAILABLE      = "unavailable"
	EINTERNAL         = "internal"
	// EPASSWORDCHANGE: the caller signed in with a one-time password and
	// may do nothing but change it (SPEC §10.1).
	EPASSWORDCHANGE = "password_change_required"
	// ESIGNATUREREQUIRED: the tenant requires signed decisions and the
	// decision came without a passkey assertion (SPEC §10.3).
	ESIGNATUREREQUIRED = "signed_decision_required"
	// EPASSKEYREQUIRED: the password was right, and the account has a
	// passkey: sign-in finishes with an assertion over the challenge the
	// error carries (Error.SignIn; SPEC §10.3).
	EPASSKEYREQUIRED = "passkey_required"
	// EMFAREQUIRED: a passkey is required at sign-in (lockbox serve
	// --require-mfa for staff, the tenant setting require_mfa for its
	// users) and the account has none: its session may only register one
	// (CheckActiveFor).
	EMFAREQUIRED = "mfa_required"
)

// Error is an application error a person can act on. Code is stable and
// machine-readable; Message is written for the person who caused it.
// Any error that is not an *Error is an internal error, and its text is
// never shown to a client.
type Error struct {
	Code    string
	Message string
	// Field is the input the error is about, by its name in the API (a
	// JSON member such as "request_ttl_minutes", or a query parameter);
	// "" when it is about no single input. Forms show the message next to
	// that field, so nobody has to guess it from the English text.
	Field string
	// RetryAfter, for ERATELIMITED, is how long the caller should wait
	// before trying again (the API's Retry-After header); 0 when unknown.
	RetryAfter time.Duration
	// SignIn, for EPASSKEYREQUIRED, is the second step of the sign-in:
	// the challenge to sign with one of the account's passkeys.
	SignIn *SignInChallenge
	// Err is the cause, kept for errors.Is and errors.As (a transport error
	// the client met, say). Its text is never shown to a client.
	Err error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("lockbox error: code=%s message=%s", e.Code, e.Message)
	if e.Field != "" {
		s += " field=" + e.Field
	}
	if e.Err != nil {
		s += " cause=" + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause, so errors.Is(err, context.Canceled) holds for
// an *Error caused by a canceled call.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an *Error about one input field, named as in the API.
func FieldErrorf(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Field: field}
}

// ErrorCode returns the code of the *Error in err's chain, EINTERNAL for any
// other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	} else if e, ok := errors.AsType[*Error](err); ok { // AsType: no target escaping to the heap on every call
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the *Error in err's chain, or a generic
// message for internal errors so that their details never leak to a client.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	} else if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return "Internal error."
}

// ErrorField returns the field of the *Error in err's chain, or "" when err
// is about no single field (or is not an *Error).
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// ErrorRetryAfter returns the RetryAfter of the *Error in err's chain, or 0.
func ErrorRetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// ErrorSignIn returns the sign-in challenge of the *Error in err's chain
// (EPASSKEYREQUIRED), or nil.
func ErrorSignIn(err error) *SignInChallenge {
	var e *Error
	if errors.As(err, &e) {
		return e.SignIn
	}
	return nil
}
