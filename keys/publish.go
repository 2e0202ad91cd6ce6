package keys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/lockboxhq/lockbox"
)

// ErrMismatch is wrapped by the errors of Open and Publish when the key
// directory does not hold the keys the database has published: the server
// was given another replica's database with a different key directory.
var ErrMismatch = errors.New("key directory does not match the published keys")

// Open prepares the keys of a starting server: it creates the key
// directory and its first keys when the directory has none and the
// database has published none, loads the directory, and publishes it
// (see Publish). It returns the ring and every published key.
//
// A directory without keys for a database that has published keys is
// refused, not filled with new keys: the keys of that database exist on
// another machine and must be copied here.
func Open(ctx context.Context, dir string, st lockbox.Store, now time.Time) (*Ring, []*lockbox.PublishedKey, error) {
	empty, err := isEmpty(dir)
	if err != nil {
		return nil, nil, err
	}
	if empty {
		published, err := publishedKeys(ctx, st)
		if err != nil {
			return nil, nil, err
		}
		if len(published) > 0 {
			return nil, nil, fmt.Errorf("%w: %s has no keys, but the database has published %d signing keys: "+
				"copy the key directory of the server that created them to %s (every replica of one database needs the same key directory)",
				ErrMismatch, dir, len(published), dir)
		}
	}
	r, err := Generate(dir)
	if err != nil {
		return nil, nil, err
	}
	published, err := Publish(ctx, st, r, now)
	if err != nil {
		return nil, nil, err
	}
	return r, published, nil
}

// Publish stores the public half of every key of r that the database has
// not published yet (after a rotation: the new key) and returns every
// published key, oldest first. All in one transaction, so replicas starting
// together agree.
//
// It refuses (ErrMismatch) when a published key is missing from r or has
// other bytes there: then this server would sign with keys the others do
// not know, or could not sign what they expect. Keys are never unpublished.
func Publish(ctx context.Context, st lockbox.Store, r *Ring, now time.Time) ([]*lockbox.PublishedKey, error) {
	var out []*lockbox.PublishedKey
	err := st.Update(ctx, func(tx lockbox.Tx) error {
		published, err := tx.PublishedKeys(ctx, "")
		if err != nil {
			return err
		}
		if err := checkMatches(r, published); err != nil {
			return err
		}
		for _, k := range append(r.Keys(KindGrant), r.Keys(KindLog)...) {
			pk := &lockbox.PublishedKey{KID: k.KID, Kind: string(k.Kind), PublicKey: k.Public(), PublishedAt: now}
			if err := tx.PublishKey(ctx, pk); err != nil {
				return fmt.Errorf("publish key %s: %w", k.KID, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Check again after the commit: two servers with different key
	// directories starting at the same moment may both have passed the
	// check above before either committed; now at least the later one
	// sees the other's keys and refuses.
	out, err = publishedKeys(ctx, st)
	if err != nil {
		return nil, err
	}
	if err := checkMatches(r, out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkMatches reports, for the operator, the first published key the ring
// lacks or holds with other bytes.
func checkMatches(r *Ring, published []*lockbox.PublishedKey) error {
	have := map[string]*Key{}
	for _, k := range append(r.Keys(KindGrant), r.Keys(KindLog)...) {
		have[k.KID] = k
	}
	for _, p := range published {
		k, ok := have[p.KID]
		switch {
		case !ok:
			return fmt.Errorf("%w: the database has published %s key %s, which %s lacks. "+
				"Every replica of one database must use the same key directory: copy the directory of the server that created "+
				"that key here (create keys once with `lockbox keys generate --key-dir DIR` and share DIR)",
				ErrMismatch, p.Kind, p.KID, r.dir)
		case string(k.Kind) != p.Kind || !bytes.Equal(k.Public(), p.PublicKey):
			return fmt.Errorf("%w: %s holds key %s with different contents from the published one; "+
				"restore the original key file or use the key directory of the other replicas", ErrMismatch, r.dir, p.KID)
		}
	}
	return nil
}

func publishedKeys(ctx context.Context, st lockbox.Store) ([]*lockbox.PublishedKey, error) {
	var ks []*lockbox.PublishedKey
	err := st.View(ctx, func(tx lockbox.Tx) (err error) {
		ks, err = tx.PublishedKeys(ctx, "")
		return err
	})
	return ks, err
}

// isEmpty reports whether dir is missing or holds no key files.
func isEmpty(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	} else if err != nil {
		return false, fmt.Errorf("read key directory: %w", err)
	}
	for _, e := range entries {
		if _, _, ok := parseName(e.Name()); ok {
			return false, nil
		}
	}
	return true, nil
}
