package server

import (
	stdjson "encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

// accessCheckBodies are the seeds of the access check's decoder tests:
// the plain shapes the shortcut takes, and every class DecodeStrict must
// decide on its own (SPEC §14).
var accessCheckBodies = []struct {
	body string
	fast bool // scanAccessCheck takes it
}{
	{`{"token":"t.o.k","operation":"Get-MailboxStatistics","resource":"mailbox:alice"}`, true},
	{" \t\r\n{ \"token\" : \"t\" ,\n\"operation\":\"op\" } \n", true},
	{`{"token":"t","operation":"op","resource":"","service":"exchange","client_ip":"198.51.100.7"}`, true},
	{`{"client_ip":"::1","service":"s","resource":"r","operation":"o","token":"t"}`, true},
	{`{}`, true},
	{`{"token":"~ !#$%&'()*+,-./:;<=>?@[]^_{|}` + "\x7f" + `"}`, true},
	// Duplicate, case-differing and unknown names.
	{`{"token":"a","token":"b"}`, false},
	{`{"token":"a","operation":"x","operation":"x"}`, false},
	{`{"Token":"a","operation":"x"}`, false},
	{`{"token":"a","scope":"x"}`, false},
	{`{"token ":"a"}`, false},
	{`{"tok\u0065n":"a"}`, false},
	// Values that are not plain strings.
	{`{"token":null}`, false},
	{`{"token":1}`, false},
	{`{"token":true}`, false},
	{`{"token":["a"]}`, false},
	{`{"token":{"a":"b"}}`, false},
	{`{"token":"a\"b"}`, false},
	{`{"token":"\u0041"}`, false},
	{`{"token":"a\nb"}`, false},
	{"{\"token\":\"a\nb\"}", false},
	{"{\"token\":\"a\tb\"}", false},
	{"{\"token\":\"\u00e9\"}", false},
	{"{\"token\":\"\xff\"}", false},
	{"{\"token\":\"\xc3\x28\"}", false},
	{`{"token":"\ud800"}`, false},
	// Not one object.
	{``, false},
	{`   `, false},
	{`null`, false},
	{`[]`, false},
	{`"token"`, false},
	{`{}{}`, false},
	{`{} x`, false},
	{`{"token":"a"},`, false},
	{`{"token":"a",}`, false},
	{`{,"token":"a"}`, false},
	{`{"token":"a" "operation":"b"}`, false},
	{`{"token" "a"}`, false},
	{`{"token":"a"`, false},
	{`{"token":"a`, false},
	{`{"token`, false},
	{`{`, false},
	{"\ufeff{}", false},
	{"{}\f", false},
	{"\v{}", false},
}

// TestScanAccessCheckAgrees: the shortcut takes the plain bodies, and what
// it takes DecodeStrict accepts with the same values; every body decodes
// through decodeAccessCheck to exactly what DecodeStrict gives, refusals
// (code and message) included.
func TestScanAccessCheckAgrees(t *testing.T) {
	for _, tc := range accessCheckBodies {
		var in lockbox.AccessCheck
		if got := scanAccessCheck([]byte(tc.body), &in); got != tc.fast {
			t.Errorf("scanAccessCheck(%q) = %v, want %v", tc.body, got, tc.fast)
		}
		checkAccessCheckAgrees(t, []byte(tc.body))
	}
}

func FuzzScanAccessCheck(f *testing.F) {
	for _, tc := range accessCheckBodies {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(checkAccessCheckAgrees)
}

func checkAccessCheckAgrees(t *testing.T, b []byte) {
	t.Helper()
	var fast, strict, both lockbox.AccessCheck
	strictErr := DecodeStrict(b, &strict)
	if scanAccessCheck(b, &fast) {
		if strictErr != nil {
			t.Fatalf("%q: the shortcut took a body DecodeStrict refuses: %v", b, strictErr)
		}
		if diff := cmp.Diff(strict, fast); diff != "" {
			t.Fatalf("%q: the shortcut decoded other values (-strict +shortcut):\n%s", b, diff)
		}
	}
	err := decodeAccessCheck(b, &both)
	if lockbox.ErrorCode(err) != lockbox.ErrorCode(strictErr) || lockbox.ErrorMessage(err) != lockbox.ErrorMessage(strictErr) ||
		lockbox.ErrorField(err) != lockbox.ErrorField(strictErr) {
		t.Fatalf("%q: decodeAccessCheck: %v; DecodeStrict: %v", b, err, strictErr)
	}
	if diff := cmp.Diff(strict, both); strictErr == nil && diff != "" {
		t.Fatalf("%q: decodeAccessCheck decoded other values (-strict +decodeAccessCheck):\n%s", b, diff)
	}
}

// TestAppendDecisionAgrees: what appendDecision writes is byte for byte
// what encoding/json writes, and it leaves to encoding/json every string
// it would escape and every time it would refuse.
func TestAppendDecisionAgrees(t *testing.T) {
	id := "9f6c1c2e-9d2b-4b7e-8d7a-0c6b8f3e2a11"
	end := time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC)
	frac := time.Date(2026, 12, 6, 9, 30, 0, 120_000_000, time.UTC)
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	neg := time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		d    decisionResponse
		fast bool
	}{
		{decisionResponse{Allowed: true, Reason: "Operation Get-Mailbox is approved by request LBX-1 until 2026-12-06T09:30:00Z.", RequestID: &id, AccessEndsAt: &end}, true},
		{decisionResponse{Reason: "The grant's signature does not verify."}, true},
		{decisionResponse{Reason: `Operation "x" is not approved by request LBX-1 (approved: [Get-Mailbox]).`, RequestID: &id, AccessEndsAt: &frac}, false},
		{decisionResponse{Reason: "Operation is not approved.", RequestID: &id, AccessEndsAt: &frac}, true},
		{decisionResponse{Reason: "a<b"}, false},
		{decisionResponse{Reason: "a>b"}, false},
		{decisionResponse{Reason: "a&b"}, false},
		{decisionResponse{Reason: `a\b`}, false},
		{decisionResponse{Reason: "a\nb"}, false},
		{decisionResponse{Reason: "caf\u00e9"}, false},
		{decisionResponse{Reason: "\u2028"}, false},
		{decisionResponse{Reason: "\xff"}, false},
		{decisionResponse{Reason: "ok", RequestID: new("a<b")}, false},
		{decisionResponse{Reason: "ok", AccessEndsAt: &far}, false},
		{decisionResponse{Reason: "ok", AccessEndsAt: &neg}, false},
	} {
		if ok := checkDecisionAgrees(t, tc.d); ok != tc.fast {
			t.Errorf("%+v: appendDecision took it: %v, want %v", tc.d, ok, tc.fast)
		}
	}
}

func FuzzAppendDecision(f *testing.F) {
	f.Add(true, "Operation Get-Mailbox is approved.", "id-1", true, int64(1796548200), int64(0), true)
	f.Add(false, `a<b&"c"`, "", false, int64(-62167219200), int64(5), true)
	f.Fuzz(func(t *testing.T, allowed bool, reason, id string, hasID bool, sec, nsec int64, hasTime bool) {
		d := decisionResponse{Allowed: allowed, Reason: reason}
		if hasID {
			d.RequestID = &id
		}
		if hasTime {
			at := time.Unix(sec, nsec).UTC()
			d.AccessEndsAt = &at
		}
		checkDecisionAgrees(t, d)
	})
}

// checkDecisionAgrees compares appendDecision with encoding/json and
// reports whether appendDecision took d.
func checkDecisionAgrees(t *testing.T, d decisionResponse) bool {
	t.Helper()
	want, werr := stdjson.Marshal(d)
	got, ok := appendDecision([]byte("prefix"), d)
	if ok && (werr != nil || string(got) != "prefix"+string(want)) {
		t.Fatalf("%+v:\n appendDecision %s\n encoding/json  %s (%v)", d, strings.TrimPrefix(string(got), "prefix"), want, werr)
	}
	return ok
}
