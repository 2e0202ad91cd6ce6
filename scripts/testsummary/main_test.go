package main

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	t.Parallel()
	const pgSkip = `{"Action":"output","Package":"p","Test":"TestPG","Output":"    pgtest.go:54: no PostgreSQL to test against: set LOCKBOX_TEST_POSTGRES\n"}
{"Action":"output","Package":"p","Test":"TestPG","Output":"--- SKIP: TestPG (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestPG"}
`
	for _, tc := range []struct {
		name, in       string
		wantOut        []string
		wantErr        []string
		unwantedOutErr []string
	}{
		{"a PostgreSQL skip in a passing package is named once, with how to enable it",
			pgSkip + strings.ReplaceAll(pgSkip, "TestPG", "TestPG2") + `{"Action":"output","Package":"p","Output":"PASS\n"}
{"Action":"output","Package":"p","Output":"ok  \tp\t0.1s\n"}
{"Action":"pass","Package":"p"}
`, []string{"ok  \tp\t0.1s\n"}, []string{"note: 2 test(s) skipped", "2 × no PostgreSQL to test against: set LOCKBOX_TEST_POSTGRES\n"}, []string{"PASS\n", "--- SKIP"}},
		{"a skip by choice (-short) is not a gap: no line",
			`{"Action":"output","Package":"p","Test":"TestLong","Output":"    x_test.go:3: builds lockbox\n"}
{"Action":"skip","Package":"p","Test":"TestLong"}
{"Action":"output","Package":"p","Output":"ok  \tp\t0.1s\n"}
{"Action":"pass","Package":"p"}
`, []string{"ok  \tp\t0.1s\n"}, nil, []string{"note:"}},
		{"a failed test's output is shown, a passing one's is not",
			`{"Action":"output","Package":"p","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"p","Test":"TestOK","Output":"    x_test.go:3: fine\n"}
{"Action":"pass","Package":"p","Test":"TestOK"}
{"Action":"output","Package":"p","Test":"TestBad","Output":"=== RUN   TestBad\n"}
{"Action":"output","Package":"p","Test":"TestBad","Output":"    x_test.go:9: got 1, want 2\n"}
{"Action":"output","Package":"p","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}
{"Action":"fail","Package":"p","Test":"TestBad"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t0.1s\n"}
{"Action":"fail","Package":"p"}
`, []string{"    x_test.go:9: got 1, want 2\n--- FAIL: TestBad (0.00s)\nFAIL\tp\t0.1s\n"}, nil, []string{"fine", "=== RUN"}},
		{"build errors go to stderr",
			`{"ImportPath":"p","Action":"build-output","Output":"p/x.go:1: syntax error\n"}
`, nil, []string{"p/x.go:1: syntax error\n"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut strings.Builder
			if err := summarize(strings.NewReader(tc.in), &out, &errOut); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout %q lacks %q", out.String(), w)
				}
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr %q lacks %q", errOut.String(), w)
				}
			}
			for _, w := range tc.unwantedOutErr {
				if strings.Contains(out.String()+errOut.String(), w) {
					t.Errorf("output %q %q has %q", out.String(), errOut.String(), w)
				}
			}
		})
	}
}
