package approval

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Passkeys (SPEC §10.3). Every method acts on the caller's own account
// only: there is no way to name another account, so a provider admin
// cannot add a passkey to a tenant user. Ceremony state lives in the
// store, so any replica finishes what another began, and each challenge
// is used once.

// MaxPasskeyNameLen bounds a passkey's name.
const MaxPasskeyNameLen = 64

func (s *Service) relyingParty() (lockbox.PasskeyRelyingParty, error) {
	if s.opts.Passkeys == nil {
		return nil, lockbox.Errorf(lockbox.EUNAVAILABLE, "Passkeys are not configured on this server (it needs --external-url).")
	}
	return s.opts.Passkeys, nil
}

// passkeyOwner is the caller, if they may hold passkeys: a person, not a
// service account. Listing and registering (call lockbox.PasskeyCall) is
// also open to a session that must register a passkey first.
func passkeyOwner(ctx context.Context, call lockbox.Call) (*lockbox.User, error) {
	u := lockbox.UserFromContext(ctx)
	if err := lockbox.CheckActiveFor(u, call); err != nil {
		return nil, err
	}
	if u.ServiceAccount {
		return nil, lockbox.Errorf(lockbox.EFORBIDDEN, "Service accounts cannot have passkeys.")
	}
	return u, nil
}

// ListPasskeys lists the caller's passkeys.
func (s *Service) ListPasskeys(ctx context.Context) ([]*lockbox.Passkey, error) {
	u, err := passkeyOwner(ctx, lockbox.PasskeyCall)
	if err != nil {
		return nil, err
	}
	var out []*lockbox.Passkey
	err = s.store.View(ctx, func(tx lockbox.Tx) error {
		out, err = tx.ListPasskeys(ctx, u.ID)
		return err
	})
	return out, err
}

// BeginPasskey starts registering a passkey for the caller.
func (s *Service) BeginPasskey(ctx context.Context) (*lockbox.PasskeyBegin, error) {
	u, err := passkeyOwner(ctx, lockbox.PasskeyCall)
	if err != nil {
		return nil, err
	}
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	var out *lockbox.PasskeyBegin
	err = s.store.Update(ctx, func(tx lockbox.Tx) error {
		keys, err := tx.ListPasskeys(ctx, u.ID)
		if err != nil {
			return err
		}
		options, state, err := rp.BeginRegistration(u, keys)
		if err != nil {
			return err
		}
		now := s.now()
		c := &lockbox.Challenge{ID: randomSecret("", 24), UserID: u.ID, Kind: lockbox.ChallengeRegistration,
			Data: state, ExpiresAt: now.Add(lockbox.CeremonyTTL)}
		out = &lockbox.PasskeyBegin{Options: options}
		return tx.InsertChallenge(ctx, c, now)
	})
	return out, err
}

// FinishPasskey registers the passkey of the browser's answer: stored,
// audited with its public key in the caller's log, and announced by email
// to the admins of the caller's population, in one transaction.
func (s *Service) FinishPasskey(ctx context.Context, name string, response json.RawMessage) (*lockbox.Passkey, error) {
	u, err := passkeyOwner(ctx, lockbox.PasskeyCall)
	if err != nil {
		return nil, err
	}
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "Passkey"
	}
	if err := lockbox.ValidText("name", name, MaxPasskeyNameLen, true); err != nil {
		return nil, err
	}
	if len(response) == 0 {
		return nil, lockbox.FieldErrorf(lockbox.EINVALID, "credential", "credential (the browser's PublicKeyCredential) is required.")
	}
	var out *lockbox.Passkey
	err = s.store.Update(ctx, func(tx lockbox.Tx) error {
		now := s.now()
		if _, err := tx.LockUser(ctx, u.ID, false); err != nil {
			return err
		}
		p, used, err := finishRegistration(ctx, tx, rp, u, response, now)
		if err != nil {
			return err
		}
		if err := tx.DeleteChallenge(ctx, used); err != nil {
			return err
		}
		p.Name, p.CreatedAt = name, now
		if err := tx.InsertPasskey(ctx, p); err != nil {
			return err
		}
		if err := appendAudit(ctx, tx, passkeyRecord(ctx, u, p, rp.RPID(), lockbox.OpPasskeyRegistered, now)); err != nil {
			return err
		}
		out = p
		return s.announcePasskey(ctx, tx, u, p, now)
	})
	return out, err
}

// finishRegistration checks response against the caller's open
// registration ceremonies and returns the passkey and the challenge used.
func finishRegistration(ctx context.Context, tx lockbox.Tx, rp lockbox.PasskeyRelyingParty, u *lockbox.User, response []byte, now time.Time) (*lockbox.Passkey, string, error) {
	open, err := tx.Challenges(ctx, u.ID, lockbox.ChallengeRegistration, "", now)
	if err != nil {
		return nil, "", err
	}
	if len(open) == 0 {
		return nil, "", lockbox.Errorf(lockbox.ECONFLICT, "No passkey registration is under way (it may have taken more than 5 minutes); start again.")
	}
	var last error
	for i := len(open) - 1; i >= 0; i-- { // the newest ceremony first
		p, err := rp.FinishRegistration(u, open[i].Data, response)
		if err == nil {
			return p, open[i].ID, nil
		}
		last = err
	}
	return nil, "", last
}

// passkeyRecord is the audit record of op on passkey p of u: the
// credential id and its COSE public key (base64), which is all anyone
// needs to check u's signed decisions from the log alone.
func passkeyRecord(ctx context.Context, u *lockbox.User, p *lockbox.Passkey, rpID, op string, now time.Time) *lockbox.AuditRecord {
	rec := accountRecord(ctx, u, u, op, now)
	rec.AuditData["credential_id"] = p.ID
	rec.AuditData["name"] = p.Name
	if op == lockbox.OpPasskeyRegistered {
		rec.AuditData["public_key"] = base64.StdEncoding.EncodeToString(p.PublicKey)
		rec.AuditData["rp_id"] = rpID
	}
	return rec
}

// announcePasskey emails the admins of u's population (the tenant's
// global admins; for staff, the provider admins) that u gained a passkey.
func (s *Service) announcePasskey(ctx context.Context, tx lockbox.Tx, u *lockbox.User, p *lockbox.Passkey, now time.Time) error {
	admin := lockbox.RoleGlobalAdmin
	if u.Tenant == "" {
		admin = lockbox.RoleProviderAdmin
	}
	users, err := tx.ListUsers(ctx, u.Tenant)
	if err != nil {
		return fmt.Errorf("admins of %q: %w", u.Tenant, err)
	}
	data := lockbox.NoticeData{Tenant: u.Tenant, Actor: u.Email,
		Passkey: &lockbox.PasskeyNotice{Account: u.Email, CredentialID: p.ID, Name: p.Name}}
	var to []string
	for _, a := range users {
		if a.HasRole(admin) && !a.Disabled {
			to = append(to, a.Email)
		}
	}
	return enqueueEmails(ctx, tx, to, lockbox.NoticePasskeyAdded, data, now)
}

// RemovePasskey removes one of the caller's passkeys, audited.
func (s *Service) RemovePasskey(ctx context.Context, id string) error {
	u, err := passkeyOwner(ctx, lockbox.AnyCall)
	if err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx lockbox.Tx) error {
		keys, err := tx.ListPasskeys(ctx, u.ID)
		if err != nil {
			return err
		}
		var p *lockbox.Passkey
		for _, k := range keys {
			if k.ID == id {
				p = k
			}
		}
		if p == nil {
			return lockbox.Errorf(lockbox.ENOTFOUND, "Passkey %q not found.", id)
		}
		if err := tx.DeletePasskey(ctx, u.ID, id); err != nil {
			return err
		}
		return appendAudit(ctx, tx, passkeyRecord(ctx, u, p, "", lockbox.OpPasskeyRemoved, s.now()))
	})
}
