package server_test

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/server"
)

// FuzzDecodeStrict: the one request body decoder never panics, refuses
// only with EINVALID and a message, and accepts only valid UTF-8 JSON
// without duplicate keys. The seeds (SPEC §14's classes) run in the
// normal suite.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{
		`{"tenant":"contoso","service":"exchange","duration_minutes":60,"operations":["Get-Mailbox"]}`,
		`{"Tenant":"contoso"}`, `{"tenant":"a","tenant":"b"}`, "{\"reason\":\"\xff\"}", `{"duration_minutes":1e400}`,
		`{"duration_minutes":-99999999999999999999}`, `{"start_time":"2026-13-01T00:00:00Z"}`, `{"operations":[]}`,
		`{"reason":"\u0000"}`, `[]`, `null`, ``, `{"a":{"b":[`, `{"reason":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var in lockbox.NewRequest
		err := server.DecodeStrict(b, &in)
		if err != nil {
			if lockbox.ErrorCode(err) != lockbox.EINVALID || lockbox.ErrorMessage(err) == "" {
				t.Fatalf("%q: %v, want EINVALID with a message", b, err)
			}
			return
		}
		if !utf8.Valid(b) {
			t.Fatalf("%q: invalid UTF-8 accepted", b)
		}
		v := jsontext.Value(b).Clone()
		if err := v.Canonicalize(); err != nil {
			t.Fatalf("%q accepted but is not valid JSON without duplicate names: %v", b, err)
		}
		// Names match exactly: an accepted key is a field's own name, never
		// one that differs in case (encoding/json v1 would take "Tenant").
		if v.Kind() == '{' {
			dec := jsontext.NewDecoder(bytes.NewReader(v))
			if _, err := dec.ReadToken(); err != nil {
				t.Fatal(err)
			}
			for dec.PeekKind() != '}' {
				name, err := dec.ReadToken()
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(newRequestNames, name.String()) {
					t.Fatalf("%q accepted with the key %q, which is not a field name of %v", b, name.String(), newRequestNames)
				}
				if err := dec.SkipValue(); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// newRequestNames are the JSON names of lockbox.NewRequest's fields, from
// its tags.
var newRequestNames = func() []string {
	var names []string
	rt := reflect.TypeFor[lockbox.NewRequest]()
	for i := range rt.NumField() {
		if name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}()
