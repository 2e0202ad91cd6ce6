package server

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lockboxhq/lockbox"
)

// The access check is the data plane's hot path: a service asks it once
// per operator action. Its body and answer are small and always the same
// shape, so this file reads and writes them without reflection, each as a
// shortcut that only ever takes the plain case and hands everything else
// to the general code. No rule lives here: a body the shortcut does not
// take is decoded, and refused or accepted, by DecodeStrict as before.

// decodeAccessCheck decodes a check's body into in: by scanAccessCheck when
// it can, else by DecodeStrict.
func decodeAccessCheck(b []byte, in *lockbox.AccessCheck) error {
	if scanAccessCheck(b, in) {
		return nil
	}
	var v lockbox.AccessCheck // on the heap, as DecodeStrict takes any: only here
	err := DecodeStrict(b, &v)
	*in = v
	return err
}

// accessCheckFields are the JSON names of lockbox.AccessCheck's fields,
// in the order accessCheckField returns them.
var accessCheckFields = [...]string{"token", "operation", "resource", "service", "client_ip"}

// accessCheckField is in's field number i of accessCheckFields.
func accessCheckField(in *lockbox.AccessCheck, i int) *string {
	switch i {
	case 0:
		return &in.Token
	case 1:
		return &in.Operation
	case 2:
		return &in.Resource
	case 3:
		return &in.Service
	}
	return &in.ClientIP
}

// scanAccessCheck decodes b into in and reports true only when b is a
// JSON object whose members are each one of accessCheckFields, named
// exactly and once, with a string value of printable ASCII without escapes
// — a body DecodeStrict accepts and decodes to the same values
// (TestScanAccessCheckAgrees, FuzzScanAccessCheck). Anything else (an
// escape, a non-ASCII byte, null, another name, a repeated name, anything
// after the object) is false, with in in an undefined state.
func scanAccessCheck(b []byte, in *lockbox.AccessCheck) bool {
	type span struct{ start, end int }
	var (
		vals [len(accessCheckFields)]span
		seen [len(accessCheckFields)]bool
		size int
	)
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			ks, ke, ok := plainString(b, i)
			if !ok {
				return false
			}
			f := -1
			for j, name := range accessCheckFields {
				if string(b[ks:ke]) == name {
					f = j
					break
				}
			}
			if f < 0 || seen[f] {
				return false
			}
			seen[f] = true
			i = skipSpace(b, ke+1)
			if i == len(b) || b[i] != ':' {
				return false
			}
			vs, ve, ok := plainString(b, skipSpace(b, i+1))
			if !ok {
				return false
			}
			vals[f], size = span{vs, ve}, size+ve-vs
			i = skipSpace(b, ve+1)
			if i == len(b) {
				return false
			}
			if b[i] == '}' {
				i++
				break
			}
			if b[i] != ',' {
				return false
			}
			i = skipSpace(b, i+1)
		}
	}
	if skipSpace(b, i) != len(b) {
		return false
	}
	// One allocation for all the values; b is a pooled buffer, not kept.
	var sb strings.Builder
	sb.Grow(size)
	for _, v := range vals {
		sb.Write(b[v.start:v.end])
	}
	all, at := sb.String(), 0
	*in = lockbox.AccessCheck{}
	for j, v := range vals {
		n := v.end - v.start
		*accessCheckField(in, j) = all[at : at+n]
		at += n
	}
	return true
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace (RFC 8259 §2).
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reports the bounds of the contents of a JSON string starting
// at b[i] when that string holds only printable ASCII and no escape: its
// contents are its value, byte for byte. end is the index of the closing
// quote.
func plainString(b []byte, i int) (start, end int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return i + 1, j, true
		case c < 0x20 || c >= 0x80 || c == '\\':
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// respondDecision writes a check's decision as respond would, appending the
// JSON by hand when every string in it needs no escaping and its time is
// one encoding/json writes as RFC 3339 (TestAppendDecisionAgrees,
// FuzzAppendDecision); otherwise by respond itself.
func (s *Server) respondDecision(w http.ResponseWriter, r *http.Request, d decisionResponse) {
	bp := answerBuffers.Get().(*[]byte)
	b, ok := appendDecision((*bp)[:0], d)
	if ok {
		writeJSON(w, http.StatusOK, append(b, '\n'))
	} else {
		s.respond(w, r, http.StatusOK, d)
	}
	if cap(b) <= maxPooledBody {
		*bp = b[:0]
		answerBuffers.Put(bp)
	}
}

// answerBuffers holds the buffers decisions are written into; the
// response writer copies what it is given.
var answerBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendDecision appends d as encoding/json marshals it, or reports false
// when it would take more than plain copying: a string with a byte that
// encoding/json escapes, or a time outside years 0–9999 (which it refuses).
func appendDecision(b []byte, d decisionResponse) ([]byte, bool) {
	b = append(b, `{"allowed":`...)
	if d.Allowed {
		b = append(b, "true"...)
	} else {
		b = append(b, "false"...)
	}
	var ok bool
	b = append(b, `,"reason":`...)
	if b, ok = appendPlainString(b, d.Reason); !ok {
		return b, false
	}
	b = append(b, `,"request_id":`...)
	if d.RequestID == nil {
		b = append(b, "null"...)
	} else if b, ok = appendPlainString(b, *d.RequestID); !ok {
		return b, false
	}
	b = append(b, `,"access_ends_at":`...)
	if t := d.AccessEndsAt; t == nil {
		b = append(b, "null"...)
	} else {
		if y := t.Year(); y < 0 || y > 9999 {
			return b, false
		}
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	return append(b, '}'), true
}

// appendPlainString appends v as a JSON string if encoding/json would
// write it byte for byte: printable ASCII other than ", \, <, > and &
// (which it escapes for HTML).
func appendPlainString(b []byte, v string) ([]byte, bool) {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c < 0x20, c >= 0x80, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"'), true
}
