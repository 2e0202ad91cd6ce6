package lockbox

// This file is the one place where Lockbox decides who may do what. The
// workflow services call it for every entry point (API, CLI through the API,
// web UI, workers), so a rule cannot hold in one and be forgotten in another.

// CanSeeRequest reports whether u may know that r exists. Anything u may not
// see answers exactly like a missing request (ENOTFOUND).
func CanSeeRequest(u *User, r *AccessRequest) bool {
	switch {
	case u == nil:
		return false
	case u == System:
		return true
	case u.Tenant != "":
		return u.Tenant == r.Tenant && r.TenantVisible
	case u.ServiceAccount:
		return false
	case u.HasRole(RoleSupportManager, RoleProviderAdmin):
		return true
	default:
		return u.ID == r.RequesterID
	}
}

// AuthorizeEvent checks that u may cause ev on r, which u can see. It
// returns EFORBIDDEN with a reason a person understands. It does not check
// the state: Next does.
func AuthorizeEvent(u *User, r *AccessRequest, ev Event) error {
	requester := u != nil && u.ID == r.RequesterID
	switch ev {
	case EventReviewApprove, EventReviewDeny:
		if !u.IsProvider() || !u.HasRole(RoleSupportManager) {
			return Errorf(EFORBIDDEN, "Only a support manager may review requests.")
		}
		if requester {
			return Errorf(EFORBIDDEN, "You filed this request, so you cannot review it: another support manager must.")
		}
	case EventApprove, EventDeny, EventRevoke:
		if !u.IsTenantApprover(r.Tenant) {
			return Errorf(EFORBIDDEN, "Only the tenant's global admins and lockbox approvers may %s requests.", ev)
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
	default:
		if u != System {
			return Errorf(EFORBIDDEN, "Only Lockbox itself may do that.")
		}
	}
	return nil
}

// AuthorizeCreate checks that u may file a request.
func AuthorizeCreate(u *User) error {
	if !u.IsProvider() || !u.HasRole(RoleOperator) || u.ServiceAccount {
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
)

// Authorize checks u's permission p on tenant (or the provider, when tenant
// is ""). A tenant user asking about another tenant gets ENOTFOUND, never
// EFORBIDDEN: another tenant looks like one that does not exist.
func Authorize(u *User, p Permission, tenant string) error {
	if u == nil {
		return Errorf(EUNAUTHENTICATED, "Sign in first.")
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

func allowed(u *User, p Permission, tenant string) bool {
	tenantUser := u.Tenant != "" && u.Tenant == tenant
	staff := u.IsProvider() && !u.ServiceAccount
	switch p {
	case PermReadSettings, PermWriteSettings, PermManageWebhooks:
		return tenantUser && u.HasRole(RoleGlobalAdmin, RoleLockboxApprover)
	case PermReadTenantUsers:
		return tenantUser && u.HasRole(RoleGlobalAdmin, RoleLockboxApprover)
	case PermWriteTenantUsers:
		return tenantUser && u.HasRole(RoleGlobalAdmin)
	case PermReadAudit:
		return tenantUser && u.HasRole(RoleGlobalAdmin, RoleLockboxApprover, RoleAuditReader)
	case PermManageTenants, PermManageStaff, PermWriteCatalog, PermReadProviderAudit:
		return staff && u.HasRole(RoleProviderAdmin)
	case PermReadCatalog:
		return staff
	case PermCheckAccess:
		return u.IsProvider() && u.ServiceAccount
	}
	return false
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
