package auditlog

import (
	"testing"

	"github.com/lockboxhq/lockbox"
)

// TestNotable: what SPEC §12 says the monitor prints (operator actions,
// blocked attempts, settings, roles, SSO and passkey changes, break-glass,
// and the account changes a rogue passkey would need) is notable; the
// routine steps of a request are not.
func TestNotable(t *testing.T) {
	t.Parallel()
	for op, want := range map[string]bool{
		lockbox.OpOperatorAction:             true,
		lockbox.OpOperatorActionBlocked:      true,
		lockbox.OpSettingsUpdated:            true,
		lockbox.OpRoleAssigned:               true,
		lockbox.OpPasskeyRegistered:          true,
		lockbox.OpSSOConfigured:              true,
		lockbox.OpBreakGlassSignIn:           true,
		lockbox.OpPasswordReset:              true,
		lockbox.OpAccountDisabled:            true,
		lockbox.OpAccountEnabled:             true,
		lockbox.OpAccountRemoved:             true,
		lockbox.OpRequestBreakGlassActivated: true,
		lockbox.OpRequestCreated:             false,
		lockbox.OpRequestApproved:            false,
		lockbox.OpRequestCompleted:           false,
		lockbox.OpPasswordChanged:            false,
	} {
		if got := Notable(op); got != want {
			t.Errorf("Notable(%q) = %v, want %v", op, got, want)
		}
	}
}
