package auditlog_test

import (
	"testing"

	"github.com/lockboxhq/lockbox/auditlog"
)

// TestVerifyGlance: a glance (RootOnly, MaxEntries) checks the signature,
// and the root unless the log is larger than MaxEntries, keeps no state,
// and refuses an earlier state it would not compare with.
func TestVerifyGlance(t *testing.T) {
	e := newEnv(t)
	e.append(0, 5, "m")
	for _, tt := range []struct {
		name          string
		opts          auditlog.Options
		signatureOnly bool
		state         bool
	}{
		{"full", auditlog.Options{}, false, true},
		{"root only", auditlog.Options{RootOnly: true}, false, false},
		{"within the bound", auditlog.Options{RootOnly: true, MaxEntries: 5}, false, false},
		{"beyond the bound", auditlog.Options{RootOnly: true, MaxEntries: 4}, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.verify(e.service(), nil, tt.opts)
			if !r.OK() || r.Size != 5 || r.SignatureOnly != tt.signatureOnly || r.KeyName != "lockbox-log" || (r.State != nil) != tt.state {
				t.Errorf("ok=%t size=%d signature only=%t key %q state %t:\n%s",
					r.OK(), r.Size, r.SignatureOnly, r.KeyName, r.State != nil, messages(r))
			}
		})
	}
	state := e.verify(e.service(), nil, auditlog.Options{}).State
	if _, err := auditlog.Verify(e.ctx(), e.service(), "contoso", state, auditlog.Options{RootOnly: true}); err == nil {
		t.Error("a glance accepted an earlier state it does not compare with")
	}
	// A rewritten record still fails a root-only glance.
	e.exec(`UPDATE audit_records SET canonical = CAST(replace(canonical, '"ok 3"', '"OK 3"') AS BLOB) WHERE log = 'contoso'`)
	if r := e.verify(e.service(), nil, auditlog.Options{RootOnly: true}); r.OK() {
		t.Error("a root-only glance passed a rewritten record")
	}
}
