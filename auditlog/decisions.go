package auditlog

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/passkey"
)

// Signed decisions, checked offline (SPEC §10.3): every decision record
// that carries audit_data.signed_decision must verify with a passkey
// registered earlier in the same log by the same user and not removed
// since, over a statement that names this very decision; and in a tenant
// that required signed decisions when it was made, a decision without one
// is listed unless the server's own rule lets it stand unsigned
// (lockbox.UnsignedDecisionAllowed), whatever actor the record claims. So
// an approval the provider wrote into its own database (and its log)
// without the approver's authenticator is caught by whoever holds the log,
// with no server and no database — also one written as the system's or a
// policy's. Turning the setting off is a settings change the provider
// could write too, so the report notes every time it was turned off, and
// by whom (NoteSigningTurnedOff).

// Problem kinds of signed decisions.
const (
	ProblemUnsignedDecision  = "unsigned_decision" // a decision without a signature where one was required
	ProblemBadSignedDecision = "bad_signed_decision"
)

// Note kinds of signed decisions (Report.Notes): changes that weaken the
// check and that a legitimate admin may make, so they do not fail it.
const (
	// NoteSigningTurnedOff: require_signed_decisions went from on to off.
	NoteSigningTurnedOff = "signed_decisions_turned_off"
	// NoteBreakGlassEnabled: break-glass was enabled while signed decisions
	// were required, which lets break-glass activations stand unsigned.
	NoteBreakGlassEnabled = "break_glass_enabled"
)

// Decisions is what the check keeps between runs: the passkeys registered
// so far in the log, and the settings the signing rule depends on as the
// log last changed them.
type Decisions struct {
	// Keys by credential id.
	Keys          map[string]RegisteredKey `json:"keys"`
	RequireSigned bool                     `json:"require_signed"`
	BreakGlass    bool                     `json:"break_glass,omitempty"`
}

// settings are the tenant's settings as far as the signing rule reads them.
func (d *Decisions) settings() *lockbox.Settings {
	return &lockbox.Settings{RequireSignedDecisions: d.RequireSigned, BreakGlass: lockbox.BreakGlassSettings{Enabled: d.BreakGlass}}
}

// RegisteredKey is a passkey as its passkey.registered record gave it.
type RegisteredKey struct {
	User      string `json:"user"`
	PublicKey []byte `json:"public_key"`
	RPID      string `json:"rp_id"`
}

// decisionOps are the operations of a person's decision and the statement
// decisions each may carry.
var decisionOps = map[string][]string{
	lockbox.OpRequestApproved:          {string(lockbox.EventApprove)},
	lockbox.OpRequestApprovalRecorded:  {string(lockbox.EventApprove), string(lockbox.EventExtensionApprove)},
	lockbox.OpRequestDenied:            {string(lockbox.EventDeny)},
	lockbox.OpRequestExtensionApproved: {string(lockbox.EventExtensionApprove)},
	lockbox.OpRequestExtensionDenied:   {string(lockbox.EventExtensionDeny)},
	// The system's decision: never signed, allowed unsigned only while
	// the tenant enables break-glass (recordEvent).
	lockbox.OpRequestBreakGlassActivated: nil,
}

// recordEvent is the event a decision record claims to be, as far as the
// signing rule (lockbox.UnsignedDecisionAllowed) tells them apart: a
// break-glass activation, a policy's denial, or else a decision that must
// be signed (a person's, or an approval by anyone).
func recordEvent(rec *lockbox.AuditRecord) lockbox.Event {
	switch {
	case rec.Operation == lockbox.OpRequestBreakGlassActivated:
		return lockbox.EventBreakGlass
	case rec.Operation == lockbox.OpRequestDenied && rec.ActorType == lockbox.ActorPolicy:
		return lockbox.EventPolicyDeny
	}
	return lockbox.Event(decisionOps[rec.Operation][0])
}

func (d *Decisions) clone() *Decisions {
	out := &Decisions{Keys: map[string]RegisteredKey{}}
	if d != nil {
		out.RequireSigned, out.BreakGlass = d.RequireSigned, d.BreakGlass
		for k, v := range d.Keys {
			out.Keys[k] = v
		}
	}
	return out
}

// check takes the next record of the log, in order, and reports what is
// wrong with it as a signed decision.
func (d *Decisions) check(r *Report, index int64, leaf []byte) {
	h, err := lockbox.CheckCanonical(leaf)
	if err != nil {
		return // checkLeaf reports it
	}
	d.checkOp(r, index, h.Operation, leaf)
}

// learn are the records, besides decisions (decisionOps), that change what
// the check knows: passkeys, the accounts they belong to, the settings.
// One table, so the operations passed over unparsed (checkOp) are exactly
// those that matter to nothing here.
var learn = map[string]func(d *Decisions, r *Report, index int64, rec *lockbox.AuditRecord){
	lockbox.OpPasskeyRegistered: func(d *Decisions, _ *Report, _ int64, rec *lockbox.AuditRecord) {
		data := rec.AuditData
		key, err := base64.StdEncoding.DecodeString(str(data["public_key"]))
		if err == nil && rec.Result == lockbox.ResultSucceeded {
			d.Keys[str(data["credential_id"])] = RegisteredKey{User: rec.UserID, PublicKey: key, RPID: str(data["rp_id"])}
		}
	},
	lockbox.OpPasskeyRemoved: func(d *Decisions, _ *Report, _ int64, rec *lockbox.AuditRecord) {
		delete(d.Keys, str(rec.AuditData["credential_id"]))
	},
	lockbox.OpAccountRemoved: func(d *Decisions, _ *Report, _ int64, rec *lockbox.AuditRecord) { // its passkeys went with it
		for id, k := range d.Keys {
			if k.User == str(rec.AuditData["target_user"]) {
				delete(d.Keys, id)
			}
		}
	},
	lockbox.OpSettingsUpdated: func(d *Decisions, r *Report, index int64, rec *lockbox.AuditRecord) {
		changes, _ := rec.AuditData["changes"].(map[string]any) // a record may lack it: never panic on a log
		if c, ok := changes["require_signed_decisions"].(map[string]any); ok {
			was := d.RequireSigned
			d.RequireSigned, _ = c["new"].(bool)
			if was && !d.RequireSigned {
				// Not a problem: an admin may turn it off. But the provider
				// could write this record too, and every decision after it
				// goes unchecked, so whoever verifies must see it.
				r.note(NoteSigningTurnedOff, index, "Record %d: require_signed_decisions was turned OFF on %s by %s (%s); decisions after it are not checked for signatures until it is turned on again. If nobody in your organisation did this, treat it as an incident.",
					index, rec.Time.UTC().Format(time.RFC3339), rec.UserID, rec.ActorType)
			}
		}
		if c, ok := changes["break_glass"].(map[string]any); ok {
			was := d.BreakGlass
			n, _ := c["new"].(map[string]any)
			d.BreakGlass, _ = n["enabled"].(bool)
			if !was && d.BreakGlass && d.RequireSigned {
				r.note(NoteBreakGlassEnabled, index, "Record %d: break-glass was enabled on %s by %s (%s) while signed decisions are required: from now on a break-glass activation stands without a signature. If nobody in your organisation did this, treat it as an incident.",
					index, rec.Time.UTC().Format(time.RFC3339), rec.UserID, rec.ActorType)
			}
		}
	},
}

// checkOp is check of a record whose operation the caller has read
// (Verify's canonical check): every other record is passed over without
// being parsed, so the check costs nothing on the operator actions and
// transitions that make up nearly all of a log.
func (d *Decisions) checkOp(r *Report, index int64, op, leaf []byte) {
	f, learns := learn[string(op)]
	kinds, decision := decisionOps[string(op)]
	if !learns && !decision {
		return
	}
	rec, err := lockbox.ParseAuditRecord(leaf)
	if err != nil {
		return // checkLeaf reports it
	}
	if learns {
		f(d, r, index, rec)
		return
	}
	if rec.Result != lockbox.ResultSucceeded {
		return
	}
	// Whatever actor the record claims: the provider writes actor_type as
	// easily as anything else, so only the rule's exceptions pass unsigned.
	sd, signed := rec.AuditData["signed_decision"].(map[string]any)
	if !signed {
		if !lockbox.UnsignedDecisionAllowed(recordEvent(rec), d.settings()) {
			r.add(ProblemUnsignedDecision, index, "Record %d: %s of request %s by %s (%s) carries no signed decision, and the tenant required one: it was not made with an approver's passkey.",
				index, rec.Operation, rec.RequestID, rec.UserID, rec.ActorType)
		}
		return
	}
	if msg := d.verify(rec, sd, kinds); msg != "" {
		r.add(ProblemBadSignedDecision, index, "Record %d: the signed decision of %s on request %s does not verify: %s.", index, rec.UserID, rec.RequestID, msg)
	}
}

// verify checks one signed decision; "" when it holds.
func (d *Decisions) verify(rec *lockbox.AuditRecord, sd map[string]any, kinds []string) string {
	statement := str(sd["statement"])
	var st lockbox.DecisionStatement
	if err := json.Unmarshal([]byte(statement), &st); err != nil {
		return "its statement is not JSON"
	}
	switch {
	case st.V != 1 || st.Tenant != rec.Tenant || st.RequestID != rec.RequestID:
		return "its statement is about another request"
	case st.DecidedBy != rec.UserID:
		return fmt.Sprintf("its statement was made by %s", st.DecidedBy)
	case !slices.Contains(kinds, st.Decision):
		return fmt.Sprintf("its statement says %q, the record %s", st.Decision, rec.Operation)
	case st.Canonical() != statement:
		return "its statement is not in canonical form"
	}
	a, _ := sd["assertion"].(map[string]any)
	as := lockbox.PasskeyAssertion{CredentialID: str(a["credential_id"]), AuthenticatorData: str(a["authenticator_data"]),
		ClientDataJSON: str(a["client_data_json"]), Signature: str(a["signature"])}
	key, ok := d.Keys[as.CredentialID]
	switch {
	case !ok:
		return fmt.Sprintf("passkey %s was not registered earlier in this log, or was removed", as.CredentialID)
	case key.User != rec.UserID:
		return fmt.Sprintf("passkey %s is %s's, not %s's", as.CredentialID, key.User, rec.UserID)
	}
	if err := passkey.VerifyOffline(key.PublicKey, key.RPID, lockbox.StatementChallenge(statement), as); err != nil {
		return lockbox.ErrorMessage(err)
	}
	return ""
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
