package httpcode

import "github.com/lockboxhq/lockbox"

// Problem is the JSON API's error document (RFC 9457) with Lockbox's stable
// code and, for an error about one input, that input's API name
// (lockbox.Error.Field). The server writes it and the client reads it, so
// its members are spelled here once; openapi.json describes it.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Field  string `json:"field,omitempty"`
	// Passkey, with code passkey_required, is the second step of the
	// sign-in (lockbox.Error.SignIn).
	Passkey *lockbox.SignInChallenge `json:"passkey,omitempty"`
}
