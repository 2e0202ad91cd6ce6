package postgres

import (
	"bytes"
	"context"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// PublishKey stores a published public key; a no-op when the same key is
// already stored, ECONFLICT when the kid is stored with other contents.
// Replicas starting at once may publish the same key concurrently: the
// insert skips a kid another transaction stored (waiting for it to commit)
// and the stored row is then compared.
func (t *tx) PublishKey(ctx context.Context, k *lockbox.PublishedKey) error {
	ok, err := t.insert(ctx, "publish key", `INSERT INTO signing_keys (kid, kind, public_key, published_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, k.KID, k.Kind, k.PublicKey, ts(k.PublishedAt))
	if err != nil || ok {
		return err
	}
	var kind string
	var pub []byte
	err = t.tx.QueryRowContext(ctx, `SELECT kind, public_key FROM signing_keys WHERE kid = $1`, k.KID).
		Scan(&kind, &pub)
	if err != nil {
		return wrap("publish key", err)
	}
	if kind != k.Kind || !bytes.Equal(pub, k.PublicKey) {
		return lockbox.Errorf(lockbox.ECONFLICT, "Key %s is already published with a different public key.", k.KID)
	}
	return nil
}

// PublishedKeys lists published keys of kind ("" for all), oldest first.
func (t *tx) PublishedKeys(ctx context.Context, kind string) ([]*lockbox.PublishedKey, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT kid, kind, public_key, published_at FROM signing_keys
		WHERE $1::text = '' OR kind = $1 ORDER BY kid`, kind)
	if err != nil {
		return nil, wrap("published keys", err)
	}
	out, err := sqlrows.Collect(rows, scanPublishedKey)
	return out, wrap("published keys", err)
}

func scanPublishedKey(s scanner) (*lockbox.PublishedKey, error) {
	var k lockbox.PublishedKey
	var at time.Time
	if err := s.Scan(&k.KID, &k.Kind, &k.PublicKey, &at); err != nil {
		return nil, err
	}
	k.PublishedAt = at.UTC()
	return &k, nil
}
