package web

import "github.com/lockboxhq/lockbox"

// fieldErrors are a form's problems by field, keyed by the field's name in
// the API (lockbox.Error.Field), which the templates look up to show each
// problem next to its input.
type fieldErrors map[string]string

// add shows err next to the field it names, if any, and returns its message
// for the notice above the form.
func (fe fieldErrors) add(err error) string {
	msg := lockbox.ErrorMessage(err)
	if field := lockbox.ErrorField(err); field != "" {
		fe[field] = msg
	}
	return msg
}
