package approval

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Signed decisions (SPEC §10.3). A decider asks for a nonce bound to them
// and the request, signs the decision statement's SHA-256 with a passkey,
// and sends the assertion with the decision. The workflow rebuilds the
// statement from the decision it is about to apply, so an assertion over
// anything else (another request, another decision, wider changes) does
// not verify. Grants check the stored assertions again (grantSigned).

// DecisionChallenge issues a single-use nonce (5 minutes) for the
// caller's decision on a request, and the statement to sign.
func (s *Service) DecisionChallenge(ctx context.Context, idOrRef string, in lockbox.DecisionIntent) (*lockbox.DecisionChallenge, error) {
	u, err := actor(ctx) // a service account sees no request to decide
	if err != nil {
		return nil, err
	}
	ev := lockbox.Event(in.Decision)
	if !slices.Contains(lockbox.SignedEvents, ev) {
		return nil, lockbox.FieldErrorf(lockbox.EINVALID, "decision", `decision must be "approve", "deny", "extension_approve" or "extension_deny"; got %q.`, in.Decision)
	}
	if ev != lockbox.EventApprove && !in.Changes.Empty() {
		return nil, lockbox.Errorf(lockbox.EINVALID, "Only an approval may change the duration, operations or start time of a request.")
	}
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	var out *lockbox.DecisionChallenge
	err = s.store.Update(ctx, func(tx lockbox.Tx) error {
		now := s.now()
		r, err := tx.GetRequest(ctx, idOrRef)
		if lockbox.ErrorCode(err) == lockbox.ENOTFOUND || (err == nil && !lockbox.CanSeeRequest(u, r)) {
			return notFound(idOrRef)
		} else if err != nil {
			return err
		}
		if err := lockbox.AuthorizeEvent(u, r, ev); err != nil {
			return err
		}
		if err := r.Settle(now); err != nil {
			return err
		}
		if err := r.Check(ev); err != nil {
			return lockbox.Errorf(lockbox.ECONFLICT, "%s", refusalMessage(r, ev, err))
		}
		keys, err := tx.ListPasskeys(ctx, u.ID)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return lockbox.Errorf(lockbox.ECONFLICT, "You have no passkey: register one on your Account page first.")
		}
		nonce := randomSecret("", 24)
		canon := lockbox.NewDecisionStatement(r, ev, u.Email, in.Changes, nonce).Canonical()
		ch := lockbox.StatementChallenge(canon)
		options, err := rp.AssertionOptions(ch, keys)
		if err != nil {
			return err
		}
		c := &lockbox.Challenge{ID: nonce, UserID: u.ID, Kind: lockbox.ChallengeDecision, Subject: r.ID,
			Data: []byte{}, ExpiresAt: now.Add(lockbox.DecisionChallengeTTL)}
		out = &lockbox.DecisionChallenge{Nonce: nonce, Statement: canon, Challenge: base64.RawURLEncoding.EncodeToString(ch),
			ExpiresAt: c.ExpiresAt, Options: options}
		return tx.InsertChallenge(ctx, c, now)
	})
	return out, err
}

// checkSigned verifies d's assertion, when it has one or the tenant
// requires one, and sets d.Signed: the statement of this very decision
// with one of the caller's live nonces for r, signed by one of the
// caller's passkeys. The nonce is used up in the decision's transaction.
func (s *Service) checkSigned(ctx context.Context, tx lockbox.Tx, u *lockbox.User, r *lockbox.AccessRequest, ev lockbox.Event, d *lockbox.Decision, now time.Time) error {
	if !slices.Contains(lockbox.SignedEvents, ev) {
		if d.Passkey != nil {
			return lockbox.FieldErrorf(lockbox.EINVALID, "passkey", "Only approvals and denials are signed; leave passkey out.")
		}
		return nil
	}
	if d.Passkey == nil {
		settings, err := tx.GetSettings(ctx, r.Tenant)
		if err != nil {
			return err
		}
		if settings.RequireSignedDecisions {
			return lockbox.Errorf(lockbox.ESIGNATUREREQUIRED, "Tenant %s requires decisions signed with a passkey: ask for a decision challenge (POST /v1/requests/%s/decision-challenge), sign it, and send the assertion as passkey.", r.Tenant, r.ID)
		}
		return nil
	}
	rp, err := s.relyingParty()
	if err != nil {
		return err
	}
	key, err := ownPasskey(ctx, tx, u.ID, d.Passkey.CredentialID)
	if err != nil {
		return err
	}
	signed, err := clientChallenge(*d.Passkey)
	if err != nil {
		return err
	}
	nonces, err := tx.Challenges(ctx, u.ID, lockbox.ChallengeDecision, r.ID, now)
	if err != nil {
		return err
	}
	for _, n := range nonces {
		canon := lockbox.NewDecisionStatement(r, ev, u.Email, d.Changes, n.ID).Canonical()
		if string(lockbox.StatementChallenge(canon)) != string(signed) {
			continue
		}
		count, err := rp.VerifyAssertion(key, signed, *d.Passkey)
		if err != nil {
			return err
		}
		if err := tx.DeleteChallenge(ctx, n.ID); lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
			return lockbox.Errorf(lockbox.ECONFLICT, "This decision challenge was used by another call at the same moment; ask for a new one.")
		} else if err != nil {
			return err
		}
		if err := tx.TouchPasskey(ctx, key.ID, count, now); err != nil {
			return err
		}
		a := *d.Passkey
		a.CredentialID = key.ID
		d.Signed = &lockbox.SignedDecision{Statement: canon, Assertion: a}
		return nil
	}
	return lockbox.FieldErrorf(lockbox.EINVALID, "passkey", "The assertion does not sign this decision with a live challenge of yours for request %s (a challenge lasts 5 minutes, is used once, and names the decision and its changes exactly): ask for a new one.", r.Reference)
}

// ownPasskey is the user's passkey with credential id id (any base64).
func ownPasskey(ctx context.Context, tx lockbox.Tx, userID, id string) (*lockbox.Passkey, error) {
	raw, err := lockbox.DecodeB64(id)
	if err != nil {
		return nil, lockbox.FieldErrorf(lockbox.EINVALID, "passkey.credential_id", "passkey.credential_id must be base64url.")
	}
	id = base64.RawURLEncoding.EncodeToString(raw)
	keys, err := tx.ListPasskeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.ID == id {
			return k, nil
		}
	}
	return nil, lockbox.FieldErrorf(lockbox.EINVALID, "passkey.credential_id", "That passkey is not registered to your account.")
}

// clientChallenge is the challenge the client data of a says was signed.
func clientChallenge(a lockbox.PasskeyAssertion) ([]byte, error) {
	raw, err := lockbox.DecodeB64(a.ClientDataJSON)
	var cd struct {
		Challenge string `json:"challenge"`
	}
	if err == nil {
		err = json.Unmarshal(raw, &cd)
	}
	var ch []byte
	if err == nil {
		ch, err = lockbox.DecodeB64(cd.Challenge)
	}
	if err != nil || len(ch) == 0 {
		return nil, lockbox.FieldErrorf(lockbox.EINVALID, "passkey.client_data_json", "passkey.client_data_json is not WebAuthn client data.")
	}
	return ch, nil
}

// grantSigned refuses (ECONFLICT) a grant for r when its tenant requires
// signed decisions and r lacks a quorum of approvals whose stored
// assertions verify, now, against the approvers' registered passkeys and
// cover what r grants; the same for every approved extension. So an
// approval written into the database without the approver's
// authenticator gets no grant, whatever status the row says. The one
// exception is the rule's (lockbox.UnsignedDecisionAllowed): a break-glass
// activation, within the tenant's max_minutes, while the tenant enables
// break-glass — the provider could start one for real, so one written into
// the database gains it nothing.
func (s *Service) grantSigned(ctx context.Context, tx lockbox.Tx, r *lockbox.AccessRequest) error {
	settings, err := tx.GetSettings(ctx, r.Tenant)
	if err != nil || !settings.RequireSignedDecisions {
		return err
	}
	rp, err := s.relyingParty()
	if err != nil {
		return err
	}
	breakGlass := r.BreakGlass && r.DecidedBy != nil && *r.DecidedBy == lockbox.System.Email && len(r.Approvals) == 0 &&
		r.DurationMinutes <= settings.BreakGlass.MaxMinutes && lockbox.UnsignedDecisionAllowed(lockbox.EventBreakGlass, settings)
	if n := s.validApprovals(ctx, tx, rp, r, r.Approvals, lockbox.EventApprove); n < r.Quorum() && !breakGlass {
		return lockbox.Errorf(lockbox.ECONFLICT, "Tenant %s requires decisions signed with a passkey, and request %s has %d validly signed approval(s) of the %d it needs: no grant is issued.", r.Tenant, r.Reference, n, r.Quorum())
	}
	for _, x := range r.Extensions {
		if x.Status == lockbox.ExtensionApproved && s.validApprovals(ctx, tx, rp, r, x.Approvals, lockbox.EventExtensionApprove) < r.Quorum() {
			return lockbox.Errorf(lockbox.ECONFLICT, "Tenant %s requires decisions signed with a passkey, and an extension of request %s lacks validly signed approvals: no grant is issued.", r.Tenant, r.Reference)
		}
	}
	return nil
}

// validApprovals counts the approvals, by distinct approvers, whose signed
// decision verifies and covers r.
func (s *Service) validApprovals(ctx context.Context, tx lockbox.Tx, rp lockbox.PasskeyRelyingParty, r *lockbox.AccessRequest, as []lockbox.Approval, ev lockbox.Event) int {
	seen := map[string]bool{}
	for _, a := range as {
		if seen[a.UserID] || a.Signed == nil {
			continue
		}
		if err := checkApproval(ctx, tx, rp, r, a, ev); err != nil {
			s.opts.Logger.WarnContext(ctx, "signed approval does not verify", "request_id", r.ID, "by", a.By, "err", err)
			continue
		}
		seen[a.UserID] = true
	}
	return len(seen)
}

func checkApproval(ctx context.Context, tx lockbox.Tx, rp lockbox.PasskeyRelyingParty, r *lockbox.AccessRequest, a lockbox.Approval, ev lockbox.Event) error {
	var st lockbox.DecisionStatement
	if err := json.Unmarshal([]byte(a.Signed.Statement), &st); err != nil {
		return err
	}
	if err := st.Covers(r, ev, a.By); err != nil {
		return err
	}
	key, err := ownPasskey(ctx, tx, a.UserID, a.Signed.Assertion.CredentialID)
	if err != nil {
		return err
	}
	return rp.CheckSignature(key, lockbox.StatementChallenge(a.Signed.Statement), a.Signed.Assertion)
}
