package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

// keyTests are the conformance cases of lockbox.KeysTx.
var keyTests = []test{
	{"PublishAndList", testKeysPublishAndList},
	{"RepublishIsNoop", testKeysRepublish},
	{"ConflictingKey", testKeysConflict},
	{"RolledBack", testKeysRolledBack},
}

func publicKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// Kids are UUIDv7 strings in real use; these sort the same way.
const (
	kidGrant1 = "019a0000-0000-7000-8000-000000000001"
	kidLog1   = "019a0000-0000-7000-8000-000000000002"
	kidGrant2 = "019a0000-0000-7000-8000-000000000003"
)

func mustPublish(tb testing.TB, s lockbox.Store, k *lockbox.PublishedKey) {
	tb.Helper()
	MustUpdate(tb, s, func(tx lockbox.Tx) error { return tx.PublishKey(tb.Context(), k) })
}

func publishedKeys(tb testing.TB, s lockbox.Store, kind string) []*lockbox.PublishedKey {
	tb.Helper()
	var ks []*lockbox.PublishedKey
	MustView(tb, s, func(tx lockbox.Tx) (err error) {
		ks, err = tx.PublishedKeys(tb.Context(), kind)
		return err
	})
	return ks
}

func testKeysPublishAndList(t *testing.T, s lockbox.Store) {
	if got := publishedKeys(t, s, ""); len(got) != 0 {
		t.Fatalf("new store has published keys: %v", got)
	}
	g2 := &lockbox.PublishedKey{KID: kidGrant2, Kind: lockbox.KeyKindGrant, PublicKey: publicKey(3), PublishedAt: T0.Add(time.Hour)}
	g1 := &lockbox.PublishedKey{KID: kidGrant1, Kind: lockbox.KeyKindGrant, PublicKey: publicKey(1), PublishedAt: T0}
	l1 := &lockbox.PublishedKey{KID: kidLog1, Kind: lockbox.KeyKindLog, PublicKey: publicKey(2), PublishedAt: T0}
	for _, k := range []*lockbox.PublishedKey{g2, l1, g1} { // not in kid order
		mustPublish(t, s, k)
	}
	tests := map[string][]*lockbox.PublishedKey{
		"":                   {g1, l1, g2},
		lockbox.KeyKindGrant: {g1, g2},
		lockbox.KeyKindLog:   {l1},
	}
	for kind, want := range tests {
		if diff := cmp.Diff(want, publishedKeys(t, s, kind)); diff != "" {
			t.Errorf("PublishedKeys(%q) (-want +got):\n%s", kind, diff)
		}
	}
}

func testKeysRepublish(t *testing.T, s lockbox.Store) {
	k := &lockbox.PublishedKey{KID: kidGrant1, Kind: lockbox.KeyKindGrant, PublicKey: publicKey(1), PublishedAt: T0}
	mustPublish(t, s, k)
	again := *k
	again.PublishedAt = T0.Add(time.Hour)
	mustPublish(t, s, &again)
	if diff := cmp.Diff([]*lockbox.PublishedKey{k}, publishedKeys(t, s, "")); diff != "" {
		t.Errorf("republishing changed the key (-want +got):\n%s", diff)
	}
}

func testKeysConflict(t *testing.T, s lockbox.Store) {
	k := &lockbox.PublishedKey{KID: kidGrant1, Kind: lockbox.KeyKindGrant, PublicKey: publicKey(1), PublishedAt: T0}
	mustPublish(t, s, k)
	for name, bad := range map[string]*lockbox.PublishedKey{
		"OtherBytes": {KID: kidGrant1, Kind: lockbox.KeyKindGrant, PublicKey: publicKey(9), PublishedAt: T0},
		"OtherKind":  {KID: kidGrant1, Kind: lockbox.KeyKindLog, PublicKey: publicKey(1), PublishedAt: T0},
	} {
		err := s.Update(t.Context(), func(tx lockbox.Tx) error { return tx.PublishKey(t.Context(), bad) })
		if code := lockbox.ErrorCode(err); code != lockbox.ECONFLICT {
			t.Errorf("%s: PublishKey error = %v (code %q), want %s", name, err, code, lockbox.ECONFLICT)
		}
	}
	if diff := cmp.Diff([]*lockbox.PublishedKey{k}, publishedKeys(t, s, "")); diff != "" {
		t.Errorf("a refused publish changed the keys (-want +got):\n%s", diff)
	}
}

func testKeysRolledBack(t *testing.T, s lockbox.Store) {
	k := &lockbox.PublishedKey{KID: kidGrant1, Kind: lockbox.KeyKindGrant, PublicKey: publicKey(1), PublishedAt: T0}
	_ = s.Update(t.Context(), func(tx lockbox.Tx) error {
		if err := tx.PublishKey(t.Context(), k); err != nil {
			return err
		}
		return lockbox.Errorf(lockbox.ECONFLICT, "roll back")
	})
	if got := publishedKeys(t, s, ""); len(got) != 0 {
		t.Errorf("rolled-back publish left keys: %v", got)
	}
}
