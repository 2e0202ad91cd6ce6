package auditlog_test

import (
	"testing"

	"github.com/lockboxhq/lockbox/auditlog"
)

// TestVerifyMaxEntries: a log larger than MaxEntries gets its signature
// checked only, and says so; one within it is checked entry by entry.
func TestVerifyMaxEntries(t *testing.T) {
	e := newEnv(t)
	e.append(0, 5, "m")
	for _, tt := range []struct {
		max           int64
		signatureOnly bool
	}{{4, true}, {5, false}, {0, false}} {
		r := e.verify(e.service(), nil, auditlog.Options{MaxEntries: tt.max})
		if !r.OK() || r.Size != 5 || r.SignatureOnly != tt.signatureOnly || r.KeyName != "lockbox-log" ||
			(r.State == nil) != tt.signatureOnly {
			t.Errorf("MaxEntries %d: ok=%t size=%d signature only=%t key %q state %v:\n%s",
				tt.max, r.OK(), r.Size, r.SignatureOnly, r.KeyName, r.State != nil, messages(r))
		}
	}
}
