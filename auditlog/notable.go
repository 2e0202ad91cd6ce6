package auditlog

import "github.com/lockboxhq/lockbox"

// notable are the operations a customer watching their log wants to see as
// they happen (SPEC §12, the monitor): what the provider did or tried to
// do inside the tenant, and changes to who may decide and how.
var notable = map[string]bool{
	lockbox.OpOperatorAction:         true,
	lockbox.OpOperatorActionBlocked:  true,
	lockbox.OpRequestDecisionRefused: true,
	lockbox.OpSettingsUpdated:        true,
	lockbox.OpPolicyUpdated:          true,
	lockbox.OpRoleAssigned:           true,
	lockbox.OpRoleRemoved:            true,
	lockbox.OpWebhookCreated:         true,
	lockbox.OpWebhookDeleted:         true,
	lockbox.OpWebhookSecretRotated:   true,
	lockbox.OpWebhookUpdated:         true,
	// A passkey signs decisions (SPEC §10.3): one added that its owner did
	// not add is how a provider would sign in an approver's name.
	lockbox.OpPasskeyRegistered: true,
	lockbox.OpPasskeyRemoved:    true,
	// Who may sign in, and how (SPEC §10): the tenant's IdP set or removed
	// (sso.configured, "removed": true), a password sign-in past enforced
	// SSO, a password reset (a reset password is how a rogue passkey would
	// be registered), accounts taken away or given back.
	lockbox.OpSSOConfigured:    true,
	lockbox.OpBreakGlassSignIn: true,
	lockbox.OpPasswordReset:    true,
	lockbox.OpAccountDisabled:  true,
	lockbox.OpAccountEnabled:   true,
	lockbox.OpAccountRemoved:   true,
	// Access that started without approval (SPEC §11).
	lockbox.OpRequestBreakGlassActivated: true,
}

// Notable reports whether records of operation op are worth a customer's
// attention as they happen (`lockbox audit monitor` prints them). New
// operations for sign-in, passkeys or break-glass belong here too.
func Notable(op string) bool { return notable[op] }
