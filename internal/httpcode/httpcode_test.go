package httpcode_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/httpcode"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, code := range []string{lockbox.EINVALID, lockbox.EUNAUTHENTICATED, lockbox.EFORBIDDEN, lockbox.ENOTFOUND,
		lockbox.ECONFLICT, lockbox.ETOOLARGE, lockbox.EUNSUPPORTEDMEDIA, lockbox.ERATELIMITED, lockbox.EUNAVAILABLE, lockbox.EINTERNAL} {
		s, known := httpcode.Status(code)
		if !known || httpcode.Code(s) != code {
			t.Errorf("%s → %d (known %v) → %s", code, s, known, httpcode.Code(s))
		}
	}
	if _, known := httpcode.Status("nonsense"); known {
		t.Error("an unknown code is known")
	}
}

func TestStatusOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, http.StatusOK},
		{lockbox.Errorf(lockbox.ECONFLICT, "x"), http.StatusConflict},
		{errors.New("disk on fire"), http.StatusInternalServerError},
	} {
		if got := httpcode.StatusOf(tc.err); got != tc.want {
			t.Errorf("StatusOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestCodeOfProxyStatuses(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]string{
		http.StatusMethodNotAllowed:   lockbox.EINVALID,
		http.StatusPreconditionFailed: lockbox.ECONFLICT, http.StatusBadGateway: lockbox.EUNAVAILABLE,
		http.StatusGatewayTimeout: lockbox.EUNAVAILABLE, http.StatusTeapot: lockbox.EINTERNAL,
	} {
		if got := httpcode.Code(status); got != want {
			t.Errorf("Code(%d) = %s, want %s", status, got, want)
		}
	}
}

// The sign-in codes share statuses with others: a status alone maps back
// to the general code, every time (not whichever the map yields first).
func TestSignInCodes(t *testing.T) {
	t.Parallel()
	if s, _ := httpcode.Status(lockbox.EPASSKEYREQUIRED); s != http.StatusUnauthorized {
		t.Errorf("passkey_required → %d", s)
	}
	if s, _ := httpcode.Status(lockbox.EMFAREQUIRED); s != http.StatusForbidden {
		t.Errorf("mfa_required → %d", s)
	}
	for range 50 {
		if c := httpcode.Code(http.StatusUnauthorized); c != lockbox.EUNAUTHENTICATED {
			t.Fatalf("Code(401) = %s", c)
		}
	}
}
