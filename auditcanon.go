package lockbox

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CanonicalHead is what a verifier needs of a leaf: who it claims to be and
// where, decoded.
type CanonicalHead struct {
	// ID and Tenant are decoded; they share b's memory when they had no
	// escapes (the usual case), so checking a leaf allocates nothing.
	ID     []byte
	Index  int64
	Tenant []byte
	// Time is as written (AuditTimeFormat); RecordType, Operation and
	// UserID are decoded like ID: what an export's columns show.
	Time                        []byte
	RecordType, Operation, User []byte
	// IndexStart and IndexEnd locate the index digits in the leaf bytes, so
	// a record can be compared with itself at another place without
	// decoding it.
	IndexStart, IndexEnd int
}

// CheckCanonical reports whether b is exactly what Canonical makes of the
// record it encodes — b == ParseAuditRecord(b).Canonical() — in one pass
// over the bytes and without building the record: the fixed fields in
// their order, strings escaped as encoding/json escapes them (and nothing
// else escaped), the time in AuditTimeFormat, audit_data an object whose
// keys are sorted and unique at every depth, no whitespace, nothing after.
// The verifier checks every leaf of a log with it, so it must cost less
// than hashing the leaf (audit_test.go fuzzes it against the definition).
func CheckCanonical(b []byte) (CanonicalHead, error) {
	var h CanonicalHead
	s := canonScanner{b: b}
	s.lit(`{"id":`)
	h.ID = s.str()
	s.lit(`,"index":`)
	h.IndexStart = s.i
	h.Index = s.index()
	h.IndexEnd = s.i
	s.lit(`,"time":`)
	if s.time(); s.err == nil {
		h.Time = b[s.i-len(AuditTimeFormat)-1 : s.i-1]
	}
	s.lit(`,"tenant":`)
	h.Tenant = s.str()
	s.lit(`,"record_type":`)
	h.RecordType = s.str()
	s.lit(`,"operation":`)
	h.Operation = s.str()
	s.lit(`,"user_id":`)
	h.User = s.str()
	for _, key := range [...]string{`,"actor_type":`, `,"client_ip":`, `,"request_id":`, `,"result":`} {
		s.lit(key)
		s.skipStr()
	}
	s.lit(`,"audit_data":`)
	if s.err == nil && (s.i >= len(b) || b[s.i] != '{') {
		s.fail("audit_data is not an object")
	}
	s.value(0)
	s.lit(`}`)
	if s.err == nil && s.i != len(b) {
		s.fail("bytes after the record")
	}
	return h, s.err
}

// maxCanonicalDepth bounds nesting in audit_data, as encoding/json does.
const maxCanonicalDepth = 1000

type canonScanner struct {
	b   []byte
	i   int
	err error
}

func (s *canonScanner) fail(msg string) {
	if s.err == nil {
		s.err = errors.New("not canonical at byte " + strconv.Itoa(s.i) + ": " + msg)
	}
}

func (s *canonScanner) lit(want string) {
	if s.err != nil {
		return
	}
	if !bytes.HasPrefix(s.b[s.i:], []byte(want)) {
		s.fail("want " + want)
		return
	}
	s.i += len(want)
}

// index reads a canonical int64: 0, or an optional minus and digits
// without a leading zero, that fits.
func (s *canonScanner) index() int64 {
	if s.err != nil {
		return 0
	}
	j := s.i
	if j < len(s.b) && s.b[j] == '-' {
		j++
	}
	k := j
	for k < len(s.b) && s.b[k] >= '0' && s.b[k] <= '9' {
		k++
	}
	if k == j || (s.b[j] == '0' && (k-j > 1 || j > s.i)) {
		s.fail("index is not a canonical integer")
		return 0
	}
	if k-j > 18 { // rare: let strconv decide whether it fits
		n, err := strconv.ParseInt(string(s.b[s.i:k]), 10, 64)
		if err != nil {
			s.fail("index out of range")
			return 0
		}
		s.i = k
		return n
	}
	var n int64
	for _, c := range s.b[j:k] {
		n = n*10 + int64(c-'0')
	}
	if j > s.i {
		n = -n
	}
	s.i = k
	return n
}

// time reads "YYYY-MM-DDTHH:MM:SS.mmmZ" with every field in range: a
// fixed width, so such a value formats back to the same bytes (fuzzed
// against time.Parse and Format).
func (s *canonScanner) time() {
	const n = len(AuditTimeFormat) + 2
	if s.err != nil {
		return
	}
	b := s.b[s.i:]
	if len(b) < n || b[0] != '"' || b[n-1] != '"' || b[5] != '-' || b[8] != '-' || b[11] != 'T' ||
		b[14] != ':' || b[17] != ':' || b[20] != '.' || b[24] != 'Z' {
		s.fail("time is not in " + AuditTimeFormat)
		return
	}
	num := func(from, to int) int {
		v := 0
		for _, c := range b[from:to] {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day := num(1, 5), num(6, 8), num(9, 11)
	if year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		!inRange(num(12, 14), 23) || !inRange(num(15, 17), 59) || !inRange(num(18, 20), 59) || num(21, 24) < 0 {
		s.fail("time is not in " + AuditTimeFormat)
		return
	}
	s.i += n
}

func inRange(v, hi int) bool { return v >= 0 && v <= hi }

func daysIn(month, year int) int {
	if month == 2 {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 30 + (month+month/8)%2
}

// str reads a canonical string and returns it decoded.
func (s *canonScanner) str() []byte {
	start := s.i
	esc := s.skipStr()
	if s.err != nil {
		return nil
	}
	raw := s.b[start+1 : s.i-1]
	if !esc {
		return raw
	}
	return []byte(unescapeCanonical(raw))
}

// skipStr reads a canonical string: valid UTF-8, no raw control character,
// U+2028 or U+2029, and only the escapes encoding/json writes (without HTML
// escaping). It reports whether the string had escapes.
func (s *canonScanner) skipStr() (escaped bool) {
	if s.err != nil {
		return false
	}
	b := s.b
	if s.i >= len(b) || b[s.i] != '"' {
		s.fail("want a string")
		return false
	}
	i := s.i + 1
	for i < len(b) {
		for i < len(b) && plainJSON[b[i]] {
			i++
		}
		if i == len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			s.i = i + 1
			return escaped
		case c == '\\':
			n := canonEscapeLen(b[i:])
			if n == 0 {
				s.i = i
				s.fail("escape encoding/json would not write")
				return false
			}
			escaped = true
			i += n
		case c < 0x20:
			s.i = i
			s.fail("raw control character")
			return false
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
				s.i = i
				s.fail("invalid UTF-8 or raw line separator")
				return false
			}
			i += n
		}
	}
	s.fail("unterminated string")
	return false
}

// plainJSON marks the bytes encoding/json writes as they are: printable
// ASCII but the quote and the backslash.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// canonEscapeLen is the length of the escape at the start of b when it is
// one encoding/json writes, else 0.
func canonEscapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '"', '\\', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if len(b) < 6 {
			return 0
		}
		u := string(b[2:6])
		if u == "2028" || u == "2029" {
			return 6
		}
		const hex = "0123456789abcdef"
		if u[0] != '0' || u[1] != '0' || (u[2] != '0' && u[2] != '1') || strings.IndexByte(hex, u[3]) < 0 {
			return 0
		}
		switch v := (u[2]-'0')<<4 | byte(strings.IndexByte(hex, u[3])); v {
		case '\b', '\f', '\n', '\r', '\t':
			return 0 // these have short forms
		}
		return 6
	}
	return 0
}

func unescapeCanonical(raw []byte) string {
	var out strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			out.WriteByte(raw[i])
			continue
		}
		switch raw[i+1] {
		case 'b':
			out.WriteByte('\b')
		case 'f':
			out.WriteByte('\f')
		case 'n':
			out.WriteByte('\n')
		case 'r':
			out.WriteByte('\r')
		case 't':
			out.WriteByte('\t')
		case 'u':
			v, _ := strconv.ParseUint(string(raw[i+2:i+6]), 16, 32)
			out.WriteRune(rune(v))
			i += 4
		default: // '"' and '\\'
			out.WriteByte(raw[i+1])
		}
		i++
	}
	return out.String()
}

// value reads one canonical JSON value of audit_data.
func (s *canonScanner) value(depth int) {
	if s.err != nil {
		return
	}
	if depth > maxCanonicalDepth {
		s.fail("nested too deep")
		return
	}
	if s.i >= len(s.b) {
		s.fail("want a value")
		return
	}
	switch c := s.b[s.i]; {
	case c == '{':
		s.object(depth)
	case c == '[':
		s.i++
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return
		}
		for s.err == nil {
			s.value(depth + 1)
			if s.err != nil || s.i >= len(s.b) {
				s.fail("unterminated array")
				return
			}
			if s.b[s.i] == ']' {
				s.i++
				return
			}
			s.lit(",")
		}
	case c == '"':
		s.skipStr()
	case c == 't':
		s.lit("true")
	case c == 'f':
		s.lit("false")
	case c == 'n':
		s.lit("null")
	default:
		s.number()
	}
}

// object reads an object whose keys are unique and sorted as encoding/json
// sorts a map's keys (by their decoded bytes).
func (s *canonScanner) object(depth int) {
	s.i++ // '{'
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return
	}
	var prev []byte
	first := true
	for s.err == nil {
		start := s.i
		escaped := s.skipStr()
		if s.err != nil {
			return
		}
		key := s.b[start+1 : s.i-1]
		if escaped { // rare: keys sort by their decoded bytes
			key = []byte(unescapeCanonical(key))
		}
		if !first && bytes.Compare(key, prev) <= 0 {
			s.fail("object keys not sorted or repeated")
			return
		}
		prev, first = key, false
		s.lit(":")
		s.value(depth + 1)
		if s.err != nil || s.i >= len(s.b) {
			s.fail("unterminated object")
			return
		}
		if s.b[s.i] == '}' {
			s.i++
			return
		}
		s.lit(",")
	}
}

// number reads a JSON number literal: encoding/json decodes audit_data
// numbers as json.Number and writes them back as they were, so any valid
// literal is canonical.
func (s *canonScanner) number() {
	b, i := s.b, s.i
	digits := func() int {
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i - j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		s.fail("want a value")
		return
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			s.fail("bad number")
			return
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			s.fail("bad number")
			return
		}
	}
	s.i = i
}
