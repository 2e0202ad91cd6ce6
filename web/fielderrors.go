package web

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/lockboxhq/lockbox"
)

// fieldErrors are a form's problems by field, keyed by the field's name in
// the API (lockbox.Error.Field), which the templates look up to show each
// problem next to its input.
type fieldErrors map[string]string

// add shows err next to the field it names, if any, and returns the
// notice for above the form: the message itself when it concerns no one
// field, else a pointer to the marked fields.
func (fe fieldErrors) add(err error) string {
	msg := lockbox.ErrorMessage(err)
	field := lockbox.ErrorField(err)
	if field == "" {
		return msg
	}
	fe[field] = besideField(field, msg)
	return "Some fields need your attention: see the messages next to them."
}

// besideField is msg as shown next to the field's own label: a message
// that opens with the field's API name ("duration_minutes must be between
// 1 and 240") loses it, since the label beside it already says what the
// field is and the API name is not what the person typed into.
func besideField(field, msg string) string {
	rest, ok := strings.CutPrefix(msg, field)
	if !ok || rest == "" || (rest[0] != ' ' && rest[0] != ':') {
		return msg
	}
	rest = strings.TrimLeft(rest, ": ")
	rest = strings.TrimPrefix(rest, "is ") // "reason is required." reads "Required."
	r, n := utf8.DecodeRuneInString(rest)
	return string(unicode.ToUpper(r)) + rest[n:]
}
