package auditlog

import (
	"bytes"
	"encoding/csv"
	"testing"
)

// FuzzCSVCell holds appendCSVCell to encoding/csv's Writer over a defused
// cell: the export writes rows from bytes itself, and must write what
// encoding/csv would.
func FuzzCSVCell(f *testing.F) {
	for _, s := range []string{"", "plain", "=1+2", "-x", "@a", "\tx", "\rx", " x", "\u00a0x", "\u2028", `\.`, `a"b`, "a,b", "a\nb", "a\r\nb", `"`, "'", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		cw := csv.NewWriter(&want)
		if err := cw.Write([]string{DefuseCSVCell(s), "x"}); err != nil {
			t.Skip() // invalid UTF-8 and the like: the export never has them (canonical leaves)
		}
		cw.Flush()
		got := append(appendCSVCell(nil, []byte(s)), ",x\n"...)
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("cell %q: got %q, encoding/csv writes %q", s, got, want.Bytes())
		}
	})
}
