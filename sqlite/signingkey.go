package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// PublishKey stores a published public key; a no-op when the same key is
// already stored, ECONFLICT when the kid is stored with other contents.
func (t *tx) PublishKey(ctx context.Context, k *lockbox.PublishedKey) error {
	var kind string
	var pub []byte
	err := t.tx.QueryRowContext(ctx, `SELECT kind, public_key FROM signing_keys WHERE kid = ?`, k.KID).
		Scan(&kind, &pub)
	switch {
	case err == nil:
		if kind != k.Kind || !bytes.Equal(pub, k.PublicKey) {
			return lockbox.Errorf(lockbox.ECONFLICT, "Key %s is already published with a different public key.", k.KID)
		}
		return nil
	case !errors.Is(err, sql.ErrNoRows):
		return wrap("publish key", err)
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO signing_keys (kid, kind, public_key, published_at)
		VALUES (?, ?, ?, ?)`, k.KID, k.Kind, k.PublicKey, micros(k.PublishedAt))
	return wrap("publish key", err)
}

// PublishedKeys lists published keys of kind ("" for all), oldest first.
func (t *tx) PublishedKeys(ctx context.Context, kind string) ([]*lockbox.PublishedKey, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT kid, kind, public_key, published_at FROM signing_keys
		WHERE ? = '' OR kind = ? ORDER BY kid`, kind, kind)
	if err != nil {
		return nil, wrap("published keys", err)
	}
	out, err := sqlrows.Collect(rows, scanPublishedKey)
	return out, wrap("published keys", err)
}

func scanPublishedKey(s scanner) (*lockbox.PublishedKey, error) {
	var k lockbox.PublishedKey
	var at int64
	if err := s.Scan(&k.KID, &k.Kind, &k.PublicKey, &at); err != nil {
		return nil, err
	}
	k.PublishedAt = fromMicros(at)
	return &k, nil
}
