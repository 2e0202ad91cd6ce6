package server

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/lockboxhq/lockbox"
)

// maxBodyBytes bounds every request body (SPEC §8: larger bodies get 413).
const maxBodyBytes = 1 << 20

// decodeJSON reads the request body, which must be exactly one JSON value
// with no fields v does not know (SPEC §14).
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeBody(w, r, v, false)
}

// decodeOptionalJSON is decodeJSON for a body that may be left empty.
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeBody(w, r, v, true)
}

// decodeBody reads the whole body (at most 1 MiB, withBody) and hands it
// to DecodeStrict.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	return withBody(w, r, optional, func(b []byte) error { return DecodeStrict(b, v) })
}

// bodyBuffers holds the buffers request bodies are read into: the access
// check reads a body per call, and growing a fresh slice for each was a
// good part of its allocations. Decoders copy what they keep, so a buffer
// is reused once decode returns.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody is the largest buffer put back: a rare large body should
// not pin a megabyte in the pool.
const maxPooledBody = 64 << 10

// withBody is the one reader of JSON request bodies. It reads the body (at
// most 1 MiB), checks that it is there (unless optional) and says it is
// JSON, and hands it to decode, which must not keep b (DecodeStrict and
// decodeAccessCheck copy what they decode, and their errors hold no part
// of b). An empty optional body is not decoded.
func withBody(w http.ResponseWriter, r *http.Request, optional bool, decode func(b []byte) error) error {
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBody {
			buf.Reset()
			bodyBuffers.Put(buf)
		}
	}()
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	b := buf.Bytes()
	switch {
	case err != nil && isTooLarge(err):
		return lockbox.Errorf(lockbox.ETOOLARGE, "The request body is larger than 1 MiB.")
	case err != nil:
		return fmt.Errorf("reading request body: %w", err)
	case len(bytes.TrimSpace(b)) == 0 && optional:
		return nil
	case len(bytes.TrimSpace(b)) == 0:
		return lockbox.Errorf(lockbox.EINVALID, "The request body is empty; send a JSON object.")
	}
	if err := checkJSONMediaType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	return decode(b)
}

// checkJSONMediaType refuses a body that does not say it is JSON: a form
// post or text/plain body is not silently read as JSON (SPEC §14).
func checkJSONMediaType(ct string) error {
	if ct == "application/json" { // what nearly every client sends: no parsing needed
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return lockbox.Errorf(lockbox.EUNSUPPORTEDMEDIA, "Send the request body as JSON with the header Content-Type: application/json; got %q.", ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return lockbox.Errorf(lockbox.EUNSUPPORTEDMEDIA, "JSON bodies are UTF-8; charset %q is not supported.", cs)
	}
	return nil
}

// strictOptions are the JSON v2 semantics every body is read with: member
// names match exactly (a key differing only in case is unknown), unknown
// members, duplicate names and invalid UTF-8 are errors, and numbers must
// fit their Go type.
var strictOptions = json.JoinOptions(json.DefaultOptionsV2(), json.RejectUnknownMembers(true))

// DecodeStrict decodes b, which must be exactly one JSON value, into v with
// strictOptions, and explains a refusal in words for a person. It is the
// one JSON body decoder of the API; FuzzDecodeStrict runs it.
func DecodeStrict(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return lockbox.Errorf(lockbox.EINVALID, "The request body is empty; send a JSON object.")
	}
	if !utf8.Valid(b) {
		return lockbox.Errorf(lockbox.EINVALID, "The request body is not valid UTF-8; JSON text must be UTF-8.")
	}
	if err := json.Unmarshal(b, v, strictOptions); err != nil {
		return bodyError(err)
	}
	return nil
}

// bodyError explains why a body did not decode, in words for a person.
func bodyError(err error) error {
	var (
		syntaxErr *jsontext.SyntacticError
		semErr    *json.SemanticError
	)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return lockbox.Errorf(lockbox.EINVALID, "The request body is not valid JSON: it ends in the middle of a value.")
	case errors.As(err, &syntaxErr) && syntaxErr.Err == jsontext.ErrDuplicateName:
		return lockbox.FieldErrorf(lockbox.EINVALID, fieldOf(syntaxErr.JSONPointer), "The request body names the field %q twice; send each field once.", syntaxErr.JSONPointer.LastToken())
	case errors.As(err, &syntaxErr) && strings.Contains(syntaxErr.Err.Error(), "after top-level value"):
		return lockbox.Errorf(lockbox.EINVALID, "The request body has more after its JSON value; send exactly one JSON object.")
	case errors.As(err, &syntaxErr):
		return lockbox.Errorf(lockbox.EINVALID, "The request body is not valid JSON: %s.", strings.TrimPrefix(syntaxErr.Error(), "jsontext: "))
	case errors.As(err, &semErr) && semErr.Err == json.ErrUnknownName:
		return lockbox.Errorf(lockbox.EINVALID, "Unknown field %q in the request body (field names are case-sensitive).", semErr.JSONPointer.LastToken())
	case errors.As(err, &semErr) && semErr.JSONPointer == "" && semErr.GoType != nil && semErr.JSONKind != '{':
		return lockbox.Errorf(lockbox.EINVALID, "The request body must be a JSON object, not %s.", kindName(semErr.JSONKind))
	case errors.As(err, &semErr) && semErr.GoType != nil:
		return semanticError(semErr)
	}
	return lockbox.Errorf(lockbox.EINVALID, "The request body could not be read as JSON.")
}

// semanticError explains a value of the wrong kind or out of range.
func semanticError(e *json.SemanticError) error {
	field := fieldOf(e.JSONPointer)
	name := string(e.JSONPointer)
	if field != "" {
		name = field
	}
	t := e.GoType
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[time.Time]() {
		return lockbox.FieldErrorf(lockbox.EINVALID, field, "Field %q must be an RFC 3339 time, like \"2026-11-21T09:00:00Z\".", name)
	}
	if e.JSONKind == '0' && isNumberKind(t.Kind()) {
		if jsonKind(t) == "an integer" && strings.ContainsAny(string(e.JSONValue), ".eE") {
			return lockbox.FieldErrorf(lockbox.EINVALID, field, "Field %q must be an integer; got %s.", name, e.JSONValue)
		}
		return lockbox.FieldErrorf(lockbox.EINVALID, field, "Field %q is %s, which is out of range.", name, e.JSONValue)
	}
	return lockbox.FieldErrorf(lockbox.EINVALID, field, "Field %q must be %s; got %s.", name, jsonKind(t), kindName(e.JSONKind))
}

// fieldOf is the top-level member a JSON pointer is inside, the name an
// error's Field carries ("" for the whole body).
func fieldOf(p jsontext.Pointer) string {
	for tok := range p.Tokens() {
		return tok
	}
	return ""
}

func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 'f', 't':
		return "a boolean"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "a value"
}

func isNumberKind(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

func isTooLarge(err error) bool {
	var tooLarge *http.MaxBytesError
	return errors.As(err, &tooLarge)
}

// jsonKind names the JSON kind a Go type decodes from.
func jsonKind(t reflect.Type) string {
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
	b, err := stdjson.Marshal(v)
	if err != nil {
		s.error(w, r, fmt.Errorf("encoding %T: %w", v, err))
		return
	}
	writeJSON(w, status, append(b, '\n'))
}

// writeJSON writes b, a JSON document and its newline, as the response.
func writeJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
