package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/lockboxhq/lockbox"
)

// maxBodyBytes bounds every request body (SPEC §8: larger bodies get 413).
const maxBodyBytes = 1 << 20

// decodeJSON reads the request body, which must be exactly one JSON value
// with no fields v does not know.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeBody(w, r, v, false)
}

// decodeOptionalJSON is decodeJSON for a body that may be left empty.
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeBody(w, r, v, true)
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if err == io.EOF && optional {
			return nil
		}
		return bodyError(err)
	}
	switch err := dec.Decode(new(json.RawMessage)); {
	case err == io.EOF:
		return nil
	case isTooLarge(err):
		return bodyError(err)
	default:
		return lockbox.Errorf(lockbox.EINVALID, "The request body has more after its JSON value; send exactly one JSON object.")
	}
}

// bodyError explains why a body did not decode, in words for a person.
func bodyError(err error) error {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		timeErr   *time.ParseError
	)
	switch {
	case isTooLarge(err):
		return lockbox.Errorf(lockbox.ETOOLARGE, "The request body is larger than 1 MiB.")
	case err == io.EOF:
		return lockbox.Errorf(lockbox.EINVALID, "The request body is empty; send a JSON object.")
	case err == io.ErrUnexpectedEOF:
		return lockbox.Errorf(lockbox.EINVALID, "The request body is not valid JSON: it ends in the middle of a value.")
	case errors.As(err, &syntaxErr):
		return lockbox.Errorf(lockbox.EINVALID, "The request body is not valid JSON: %s (at byte %d).", syntaxErr, syntaxErr.Offset)
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return lockbox.Errorf(lockbox.EINVALID, "The request body must be a JSON object, not %s.", typeErr.Value)
	case errors.As(err, &typeErr):
		return lockbox.FieldErrorf(lockbox.EINVALID, typeErr.Field, "Field %q must be %s; got %s.", typeErr.Field, jsonKind(typeErr.Type), typeErr.Value)
	case errors.As(err, &timeErr):
		return lockbox.Errorf(lockbox.EINVALID, "Times must be RFC 3339, like \"2026-11-21T09:00:00Z\"; got %q.", timeErr.Value)
	case strings.HasPrefix(err.Error(), "Time.UnmarshalJSON"):
		return lockbox.Errorf(lockbox.EINVALID, "Times must be RFC 3339 strings, like \"2026-11-21T09:00:00Z\".")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return lockbox.Errorf(lockbox.EINVALID, "Unknown field %s in the request body.", field)
	}
	return fmt.Errorf("reading request body: %w", err)
}

func isTooLarge(err error) bool {
	var tooLarge *http.MaxBytesError
	return errors.As(err, &tooLarge)
}

// jsonKind names the JSON kind a Go type decodes from.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// respond writes v as a JSON response with the given status.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.error(w, r, fmt.Errorf("encoding %T: %w", v, err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
