package lockbox

// This file is the one place where Lockbox decides who may do what. The
// workflow services call it for every entry point (API, CLI through the API,
// web UI, workers), so a rule cannot hold in one and be forgotten in another.

// CanSeeRequest reports whether u may know that r exists. Anything u may not
// see answers exactly like a missing request (ENOTFOUND).
func CanSeeRequest(u *User, r *AccessRequest) bool { return VisibleTo(u).Matches(r) }

// RequestScope is the set of requests a user may see, written as data so
// that the one rule reads the same in Go (Matches, for a request in hand)
// and in a store query (Constrain, for a listing). The zero scope matches
// nothing: a scope is granted by VisibleTo, never assumed.
type RequestScope struct {
	granted       bool   // false: no request at all
	tenant        string // only this tenant's requests, when set
	tenantVisible bool   // only requests that have reached the tenant
	requesterID   string // only the requests this user filed, when set
}

// VisibleTo is the scope of u: Lockbox itself sees everything; a tenant
// user sees their tenant's requests once they reached the tenant (after the
// provider's review); support managers and provider admins see every
// request; an operator sees the requests they filed; a service account
// sees none (it checks grants, it does not read requests).
func VisibleTo(u *User) RequestScope {
	switch {
	case u == nil:
		return RequestScope{}
	case u == System:
		return RequestScope{granted: true}
	case u.Tenant != "":
		return RequestScope{granted: true, tenant: u.Tenant, tenantVisible: true}
	case u.ServiceAccount:
		return RequestScope{}
	case u.HasRole(RoleSupportManager, RoleProviderAdmin):
		return RequestScope{granted: true}
	default:
		return RequestScope{granted: true, requesterID: u.ID}
	}
}

// Matches reports whether r is in the scope.
func (s RequestScope) Matches(r *AccessRequest) bool {
	return s.granted &&
		(s.tenant == "" || r.Tenant == s.tenant) &&
		(!s.tenantVisible || r.TenantVisible) &&
		(s.requesterID == "" || r.RequesterID == s.requesterID)
}

// Constrain narrows q to the scope, so a store returns exactly the rows
// Matches accepts. It reports false when q can match nothing in the scope:
// a tenant filter naming another tenant then finds nothing, as if that
// tenant did not exist.
func (s RequestScope) Constrain(q *RequestQuery) bool {
	if !s.granted || (s.tenant != "" && q.Tenant != "" && q.Tenant != s.tenant) ||
		(s.requesterID != "" && q.RequesterID != "" && q.RequesterID != s.requesterID) {
		return false
	}
	if s.tenant != "" {
		q.Tenant = s.tenant
	}
	if s.requesterID != "" {
		q.RequesterID = s.requesterID
	}
	q.TenantVisible = q.TenantVisible || s.tenantVisible
	return true
}

// Sees reports whether the scope holds any request at all.
func (s RequestScope) Sees() bool { return s.granted }

// Tenant is the one tenant the scope is limited to ("" for every tenant).
func (s RequestScope) Tenant() string { return s.tenant }

// OwnOnly reports whether the scope is limited to the user's own requests.
func (s RequestScope) OwnOnly() bool { return s.requesterID != "" }

// AuthorizeEvent checks that u may cause ev on r, which u can see. It
// returns EFORBIDDEN with a reason a person understands. It does not check
// the state: Next does.
func AuthorizeEvent(u *User, r *AccessRequest, ev Event) error {
	requester := u != nil && u.ID == r.RequesterID
	switch ev {
	case EventReviewApprove, EventReviewDeny:
		if !allowed(u, PermReviewRequests, "") {
			return Errorf(EFORBIDDEN, "Only a support manager may review requests.")
		}
		if requester {
			return Errorf(EFORBIDDEN, "You filed this request, so you cannot review it: another support manager must.")
		}
	case EventApprove, EventDeny, EventRevoke, EventExtensionApprove, EventExtensionDeny, EventAcknowledge:
		if !u.IsTenantApprover(r.Tenant) {
			return Errorf(EFORBIDDEN, "Only the tenant's global admins and lockbox approvers may %s requests.", ev)
		}
		// One address may be a provider account and a tenant account
		// (docs/identity.md): the person who filed a request never
		// decides it, whichever of their accounts they use.
		if r.RequestedBy != "" && NormalizeEmail(u.Email) == NormalizeEmail(r.RequestedBy) {
			return Errorf(EFORBIDDEN, "You filed this request, so you cannot decide it: another approver must.")
		}
	case EventCancel:
		if requester {
			return nil
		}
		if !u.IsTenantApprover(r.Tenant) {
			return Errorf(EFORBIDDEN, "Only the requester or the tenant's approvers may cancel a request.")
		}
	case EventComplete:
		if !requester {
			return Errorf(EFORBIDDEN, "Only the operator who filed the request may complete it.")
		}
	case EventExtend:
		if !requester {
			return Errorf(EFORBIDDEN, "Only the operator who filed the request may ask for more time.")
		}
	case EventPolicyApprove, EventPolicyDeny:
		if !u.IsPolicy() || u.Tenant != r.Tenant {
			return Errorf(EFORBIDDEN, "Only the tenant's policy rules may %s requests by themselves.", ev.Verb())
		}
	default:
		if u != System {
			return Errorf(EFORBIDDEN, "Only Lockbox itself may do that.")
		}
	}
	return nil
}

// AuthorizeCreate checks that u may file a request.
func AuthorizeCreate(u *User) error {
	if !allowed(u, PermFileRequests, "") {
		return Errorf(EFORBIDDEN, "Only provider operators may file access requests.")
	}
	return nil
}

// Permission names an action on a tenant-scoped or provider-wide resource.
type Permission int

const (
	PermReadSettings Permission = iota + 1
	PermWriteSettings
	PermReadTenantUsers
	PermWriteTenantUsers
	PermManageWebhooks
	PermReadAudit
	PermManageTenants
	PermManageStaff
	PermReadCatalog
	PermWriteCatalog
	PermCheckAccess
	PermReadProviderAudit
	PermFileRequests   // AuthorizeCreate
	PermReviewRequests // the review events of AuthorizeEvent, on requests others filed
	// PermManageSSO: a tenant's own IdP (SPEC §10.2). Its global admin
	// only: the provider can neither read nor change it after onboarding.
	PermManageSSO
	// PermReadPolicy and PermWritePolicy are a tenant's policy rules
	// (SPEC §11): reading, simulating and changing them.
	PermReadPolicy
	PermWritePolicy
)

// Authorize checks u's permission p on tenant (or the provider, when tenant
// is ""). A tenant user asking about another tenant gets ENOTFOUND, never
// EFORBIDDEN: another tenant looks like one that does not exist.
func Authorize(u *User, p Permission, tenant string) error {
	if err := CheckActive(u); err != nil {
		return err
	}
	if u == System {
		return nil
	}
	if u.Tenant != "" && tenant != "" && u.Tenant != tenant {
		return Errorf(ENOTFOUND, "Tenant %q not found.", tenant)
	}
	if allowed(u, p, tenant) {
		return nil
	}
	return Errorf(EFORBIDDEN, "Your role does not allow this.")
}

// A Call is what a caller is about to do, as far as a session that is not
// fully set up is concerned (CheckActiveFor).
type Call int

const (
	// AnyCall is every call not named below.
	AnyCall Call = iota
	// AccountCall is signing out and changing one's own password: all a
	// one-time password may do (SPEC §10.1).
	AccountCall
	// PasskeyCall is listing and registering one's own passkeys: with
	// AccountCall, all a session that must register a passkey first may
	// do (SPEC §10.3, docs/identity.md).
	PasskeyCall
)

// CheckActive is the rule for every call but those of CheckActiveFor's
// setup steps.
func CheckActive(u *User) error { return CheckActiveFor(u, AnyCall) }

// CheckActiveFor is the one rule of what a signed-in caller may do while
// their account is not set up: with a one-time password only AccountCall
// (choose a new one first); in a session that must register a passkey
// first (PasskeySetupRequired: a passkey is mandatory and the account has
// none) only AccountCall and PasskeyCall. The API's route table, the
// services (actor) and the admin center's pages all ask it.
func CheckActiveFor(u *User, c Call) error {
	if u == nil {
		return Errorf(EUNAUTHENTICATED, "Sign in first.")
	}
	if u.PasswordChangeRequired && c != AccountCall {
		return Errorf(EPASSWORDCHANGE, "You signed in with a one-time password: choose a new password first (POST /v1/me/password, `lockbox passwd`, or the Account page).")
	}
	if u.Disabled {
		return Errorf(EUNAUTHENTICATED, "Your account is disabled.")
	}
	if u.PasskeySetupRequired && c == AnyCall {
		return Errorf(EMFAREQUIRED, "Sign-in to your account must be confirmed with a passkey, and it has none yet: register one first (the Account page of the admin center, or POST /v1/me/passkeys/begin and /finish); until then this session can do nothing else.")
	}
	return nil
}

// Can reports whether Authorize would let u do p on tenant: for pages and
// menus that offer only what the services will accept.
func Can(u *User, p Permission, tenant string) bool { return Authorize(u, p, tenant) == nil }

// allowed is the permission table: which roles hold p on tenant. Lockbox
// itself (System) holds none here; Authorize lets it through first.
func allowed(u *User, p Permission, tenant string) bool {
	if u == nil {
		return false
	}
	tenantUser := u.Tenant != "" && u.Tenant == tenant
	staff := u.IsProvider() && !u.ServiceAccount
	switch p {
	case PermReadSettings, PermWriteSettings, PermManageWebhooks, PermReadPolicy, PermWritePolicy:
		return tenantUser && u.HasRole(RoleGlobalAdmin, RoleLockboxApprover)
	case PermReadTenantUsers:
		return tenantUser && u.HasRole(RoleGlobalAdmin, RoleLockboxApprover)
	case PermWriteTenantUsers, PermManageSSO:
		return tenantUser && u.HasRole(RoleGlobalAdmin)
	case PermReadAudit:
		return tenantUser && u.HasRole(RoleGlobalAdmin, RoleLockboxApprover, RoleAuditReader)
	case PermManageTenants, PermManageStaff, PermWriteCatalog, PermReadProviderAudit:
		return staff && u.HasRole(RoleProviderAdmin)
	case PermReadCatalog:
		return staff
	case PermFileRequests:
		return staff && u.HasRole(RoleOperator)
	case PermReviewRequests:
		return staff && u.HasRole(RoleSupportManager)
	case PermCheckAccess:
		return u.IsProvider() && u.ServiceAccount
	}
	return false
}

// AuthorizeReadLog checks that u may read the audit log named log: a
// tenant's (PermReadAudit on that tenant) or the provider's own
// (PermReadProviderAudit). Naming the provider's log as the tenant makes a
// tenant user's attempt answer ENOTFOUND, like any tenant not theirs.
func AuthorizeReadLog(u *User, log string) error {
	if log == ProviderLog {
		return Authorize(u, PermReadProviderAudit, ProviderLog)
	}
	return Authorize(u, PermReadAudit, log)
}

// AuthorizeGrant checks that u may obtain a grant token for r, which u can
// see: only the operator who filed it (SPEC §6), never a service account.
// It does not check the state: the request must also be active.
func AuthorizeGrant(u *User, r *AccessRequest) error {
	if u == nil || u.ServiceAccount || u.ID != r.RequesterID {
		return Errorf(EFORBIDDEN, "Only the operator who filed request %s may obtain its grant token.", r.Reference)
	}
	return nil
}
