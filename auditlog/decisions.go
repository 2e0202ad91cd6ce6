package auditlog

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/passkey"
)

// Signed decisions, checked offline (SPEC §10.3): every decision record of
// a tenant user that carries audit_data.signed_decision must verify with a
// passkey registered earlier in the same log by the same user and not
// removed since, over a statement that names this very decision; and in a
// tenant that required signed decisions when it was made, a decision
// without one is listed. So an approval the provider wrote into its own
// database (and its log) without the approver's authenticator is caught by
// whoever holds the log, with no server and no database.

// Problem kinds of signed decisions.
const (
	ProblemUnsignedDecision  = "unsigned_decision" // a decision without a signature where one was required
	ProblemBadSignedDecision = "bad_signed_decision"
)

// Decisions is what the check keeps between runs: the passkeys registered
// so far in the log and whether the tenant requires signed decisions.
type Decisions struct {
	// Keys by credential id.
	Keys          map[string]RegisteredKey `json:"keys"`
	RequireSigned bool                     `json:"require_signed"`
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
}

func (d *Decisions) clone() *Decisions {
	out := &Decisions{Keys: map[string]RegisteredKey{}, RequireSigned: d != nil && d.RequireSigned}
	if d != nil {
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
// the check knows: passkeys, the accounts they belong to, the setting. One
// table, so the operations passed over unparsed (checkOp) are exactly
// those that matter to nothing here.
var learn = map[string]func(d *Decisions, rec *lockbox.AuditRecord){
	lockbox.OpPasskeyRegistered: func(d *Decisions, rec *lockbox.AuditRecord) {
		data := rec.AuditData
		key, err := base64.StdEncoding.DecodeString(str(data["public_key"]))
		if err == nil && rec.Result == lockbox.ResultSucceeded {
			d.Keys[str(data["credential_id"])] = RegisteredKey{User: rec.UserID, PublicKey: key, RPID: str(data["rp_id"])}
		}
	},
	lockbox.OpPasskeyRemoved: func(d *Decisions, rec *lockbox.AuditRecord) {
		delete(d.Keys, str(rec.AuditData["credential_id"]))
	},
	lockbox.OpAccountRemoved: func(d *Decisions, rec *lockbox.AuditRecord) { // its passkeys went with it
		for id, k := range d.Keys {
			if k.User == str(rec.AuditData["target_user"]) {
				delete(d.Keys, id)
			}
		}
	},
	lockbox.OpSettingsUpdated: func(d *Decisions, rec *lockbox.AuditRecord) {
		changes, _ := rec.AuditData["changes"].(map[string]any) // a record may lack it: never panic on a log
		if c, ok := changes["require_signed_decisions"].(map[string]any); ok {
			d.RequireSigned, _ = c["new"].(bool)
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
		f(d, rec)
		return
	}
	data := rec.AuditData
	if rec.ActorType != lockbox.ActorTenantUser || rec.Result != lockbox.ResultSucceeded {
		return
	}
	sd, signed := data["signed_decision"].(map[string]any)
	if !signed {
		if d.RequireSigned {
			r.add(ProblemUnsignedDecision, index, "Record %d: %s of request %s by %s carries no signed decision, and the tenant required one: it was not made with the approver's passkey.",
				index, rec.Operation, rec.RequestID, rec.UserID)
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
