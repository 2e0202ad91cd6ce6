package approval

import (
	"context"

	"github.com/lockboxhq/lockbox"
)

// The secrets the database must keep, a tenant IdP's client secret and a
// webhook's signing secret, are stored sealed (lockbox.SecretBox, keyed by
// the key directory) and opened only to be used: sent to the IdP's token
// endpoint, or to sign a delivery. A copy of the database alone (a backup,
// a dump, a read-only SQL account) holds neither.
//
// Each sealed value is bound to its record (the additional data below): a
// value copied to another tenant's row, another endpoint, or left behind
// when someone edits an IdP's issuer in the database, does not open. The
// kind comes first, so a value of one kind never opens as the other.

// sealedAt names where a sealed secret belongs: what, for logs, and the
// additional data it is bound to.
type sealedAt struct {
	what string
	aad  []byte
}

func ssoSecretOf(c *lockbox.TenantSSO) sealedAt {
	return sealedAt{"the IdP client secret of tenant " + c.Tenant, []byte("sso\x00" + c.Tenant + "\x00" + c.Issuer + "\x00" + c.ClientID)}
}

func webhookSecretOf(tenant, id string) sealedAt {
	return sealedAt{"the signing secret of webhook " + tenant + "/" + id, []byte("webhook\x00" + tenant + "\x00" + id)}
}

// previousWebhookSecretOf is where a webhook's secret goes when a rotation
// with a grace period replaces it: a kind of its own, so the current and
// the previous value cannot be swapped in the database.
func previousWebhookSecretOf(tenant, id string) sealedAt {
	return sealedAt{"the previous signing secret of webhook " + tenant + "/" + id, []byte("webhook-previous\x00" + tenant + "\x00" + id)}
}

func errNoSecrets() error {
	return lockbox.Errorf(lockbox.EUNAVAILABLE, "This server has no key to seal secrets with, so it cannot store tenants' IdP or webhook secrets.")
}

func (s *Service) sealSecret(at sealedAt, secret string) (string, error) {
	if s.opts.Secrets == nil {
		return "", errNoSecrets()
	}
	return s.opts.Secrets.Seal(secret, at.aad)
}

// openSecret opens a stored secret; stale: it should be sealed again (an
// older key, or stored in clear by a version before sealing). A secret
// that does not open is logged with why (which key is missing), never
// with the value; callers tell the person who can fix it.
func (s *Service) openSecret(ctx context.Context, at sealedAt, stored string) (secret string, stale bool, err error) {
	if s.opts.Secrets == nil {
		return "", false, errNoSecrets()
	}
	secret, stale, err = s.opts.Secrets.Open(stored, at.aad)
	if err != nil {
		s.opts.Logger.ErrorContext(ctx, "a stored secret does not open", "secret", at.what, "err", err)
	}
	return secret, stale, err
}

// SealSecrets seals every stored secret that is in clear (stored by a
// version before sealing) or sealed with an older key (a grant key
// rotation), and returns how many it sealed. Run at start-up by every
// replica: each secret is replaced only if it is still the one read, so
// replicas starting together, or an admin saving a configuration
// meanwhile, never lose a newer value. A secret that does not open is
// logged and left as it is: the server must still start, and where it is
// used the error says what to do.
func (s *Service) SealSecrets(ctx context.Context) (int, error) {
	if s.opts.Secrets == nil {
		return 0, nil
	}
	all, err := s.storedSecrets(ctx)
	if err != nil {
		return 0, err
	}
	sealed := 0
	for _, st := range all {
		secret, stale, err := s.openSecret(ctx, st.at, st.value)
		if err != nil || !stale {
			continue
		}
		next, err := s.sealSecret(st.at, secret)
		if err != nil {
			return sealed, err
		}
		err = s.store.Update(ctx, func(tx lockbox.Tx) error { return st.replace(tx, next) })
		if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
			continue // changed or removed meanwhile: whoever did it sealed it
		} else if err != nil {
			return sealed, err
		}
		sealed++
	}
	return sealed, nil
}

// storedSecret is a secret as stored, and how to replace it if it is
// still that value.
type storedSecret struct {
	at      sealedAt
	value   string
	replace func(tx lockbox.Tx, next string) error
}

// storedSecrets reads the stored secrets that may be stale, tenants' IdP
// client secrets and webhooks' signing secrets: those not sealed under the
// active key. A start after the first one reads none.
func (s *Service) storedSecrets(ctx context.Context) ([]storedSecret, error) {
	var all []storedSecret
	err := s.store.View(ctx, func(tx lockbox.Tx) error {
		all = all[:0] // View may run fn again
		current := s.opts.Secrets.Current()
		tenants, err := tx.StaleSSOSecrets(ctx, current)
		if err != nil {
			return err
		}
		for _, tenant := range tenants {
			c, err := tx.GetTenantSSO(ctx, tenant)
			if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
				continue // removed meanwhile
			} else if err != nil {
				return err
			}
			all = append(all, storedSecret{ssoSecretOf(c), c.ClientSecret, func(tx lockbox.Tx, next string) error {
				return tx.ReplaceSSOSecret(ctx, c.Tenant, c.ClientSecret, next)
			}})
		}
		hooks, err := tx.StaleWebhookSecrets(ctx, current)
		for _, w := range hooks {
			all = append(all, storedSecret{webhookSecretOf(w.Tenant, w.ID), w.Secret, func(tx lockbox.Tx, next string) error {
				return tx.ReplaceWebhookSecret(ctx, w.Tenant, w.ID, w.Secret, next)
			}})
		}
		return err
	})
	return all, err
}
