package web_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/web"
)

// alteringAudit serves the log with one record's entry rewritten, as a
// provider quietly editing history would.
type alteringAudit struct{ lockbox.AuditService }

func (a alteringAudit) LogEntries(ctx context.Context, log string, start, end int64) ([]lockbox.LogEntry, error) {
	es, err := a.AuditService.LogEntries(ctx, log, start, end)
	for i := range es {
		es[i].Data = bytes.Replace(es[i].Data, []byte(`"comment":"ok"`), []byte(`"comment":"OK for 4h"`), 1)
	}
	return es, err
}

// TestAuditLogPageCheckpoint: the page verifies the latest checkpoint
// against the log's entries (auditlog.Verify), and says plainly when they
// do not match.
func TestAuditLogPageCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name  string
		alter bool
		want  []string
	}{
		// Seven records of the request, and the auditor's sign-in.
		{"log as written", false, []string{`id="checkpoint-status">Verified`,
			"Signature valid (key lockbox-test-log), and the root hash recomputed from all 8 entries matches."}},
		{"an entry rewritten", true, []string{`id="checkpoint-status">Not verified`,
			"The entries do not hash to the signed checkpoint (size 8): record 5 is the first that differs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *web.Config) {
				if tc.alter {
					c.Audit = alteringAudit{c.Audit}
				}
			})
			if _, err := e.svc.Act(e.as("approver@contoso.test"), e.pending().ID, lockbox.EventApprove, lockbox.Decision{Comment: "ok"}); err != nil {
				t.Fatal(err)
			}
			res := e.signIn("auditor@contoso.test").get("/audit")
			wantStatus(t, res, 200)
			wantBody(t, res, tc.want...)
		})
	}
}

// cosigningAudit serves the checkpoint with cosignature lines appended,
// made by real c2sp.org/tlog-cosignature signers (torchwood's), as a log
// whose witnesses answered would.
type cosigningAudit struct {
	lockbox.AuditService
	t       *testing.T
	signers []note.Signer
}

func (a cosigningAudit) Checkpoint(ctx context.Context, log string) (*lockbox.Checkpoint, error) {
	cp, err := a.AuditService.Checkpoint(ctx, log)
	if err != nil {
		return nil, err
	}
	text, _, _ := strings.Cut(string(cp.Note), "\n\n")
	out := *cp
	for _, s := range a.signers {
		signed, err := note.Sign(&note.Note{Text: text + "\n"}, s)
		if err != nil {
			a.t.Fatal(err)
		}
		_, sig, _ := strings.Cut(string(signed), "\n\n")
		out.Note = append(append([]byte(nil), out.Note...), sig...)
	}
	return &out, nil
}

func cosigner(t *testing.T, name string) (note.Signer, auditlog.Witness) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := torchwood.NewCosignatureSigner(name, priv)
	if err != nil {
		t.Fatal(err)
	}
	w, err := auditlog.ParseWitness(name + " http://127.0.0.1:1 " + s.Verifier().String())
	if err != nil {
		t.Fatal(err)
	}
	return s, w
}

// TestAuditLogPageCosignatures: the checkpoint's cosignatures are checked
// against the configured witnesses' keys and shown, witness by witness,
// with whether the quorum is met; a cosignature line under a witness's
// name made with another key does not count.
func TestAuditLogPageCosignatures(t *testing.T) {
	t.Parallel()
	s1, w1 := cosigner(t, "witness.test/w1")
	s2, w2 := cosigner(t, "witness.test/w2")
	forger, _ := cosigner(t, "witness.test/w2") // w2's name, another key
	for _, tc := range []struct {
		name      string
		witnesses []auditlog.Witness
		quorum    int
		signers   []note.Signer
		want      []string
	}{
		{"no witnesses", nil, 0, nil, []string{`id="checkpoint-witnesses">No witness cosigns`}},
		{"both cosigned", []auditlog.Witness{w1, w2}, 2, []note.Signer{s1, s2}, []string{`id="witness-status">Witness quorum met`,
			"2 of 2 witnesses cosigned this checkpoint; 2 required.",
			`<code>witness.test/w1</code>: <span class="witness-ok">cosigned`, `<code>witness.test/w2</code>: <span class="witness-ok">cosigned`}},
		{"one of two, quorum 1", []auditlog.Witness{w1, w2}, 1, []note.Signer{s1}, []string{`id="witness-status">Witness quorum met`,
			"1 of 2 witnesses cosigned this checkpoint; 1 required.", `<code>witness.test/w2</code>: <span class="witness-missing">no valid cosignature`}},
		{"one of two, quorum all", []auditlog.Witness{w1, w2}, 0, []note.Signer{s1}, []string{`id="witness-status">Witness quorum not met`,
			"1 of 2 witnesses cosigned this checkpoint; 2 required."}},
		{"a forged cosignature", []auditlog.Witness{w1, w2}, 2, []note.Signer{s1, forger}, []string{`id="witness-status">Witness quorum not met`,
			"1 of 2 witnesses cosigned this checkpoint; 2 required.", `<code>witness.test/w2</code>: <span class="witness-missing">no valid cosignature`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *web.Config) {
				c.Audit = cosigningAudit{AuditService: c.Audit, t: t, signers: tc.signers}
				c.Witnesses, c.WitnessQuorum = tc.witnesses, tc.quorum
			})
			res := e.signIn("auditor@contoso.test").get("/audit")
			wantStatus(t, res, 200)
			wantBody(t, res, append(tc.want, `id="checkpoint-status">Verified`)...)
		})
	}
}
