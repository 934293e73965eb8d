package auth

import "slices"

// Role is what a user does in Molar, after the NHS e-Referral Service
// business functions (RBAC activity codes B1107, B1110, …). A user holds
// one or more Grants and acts in one of them per session.
type Role string

// The roles. The e-RS codes and descriptions are those NHS England
// publishes for e-RS ("Common roles in e-RS and how they're used",
// digital.nhs.uk, path-to-live environments common issues).
const (
	// RoleReferrer is a dentist at a practice who refers patients: creates
	// referrals, attaches films, follows them. Needs a GDC number.
	RoleReferrer Role = "referrer"
	// RoleReferrerAdmin administers a practice: its users and its API
	// keys. After e-RS's referring admin it sees no clinical data.
	RoleReferrerAdmin Role = "referrer-admin"
	// RoleClinician (B1110, "manage inbound referrals") triages:
	// accepts, returns with advice, redirects.
	RoleClinician Role = "sp-clinician"
	// RoleClinicianAdmin (B1115, "proxy manage inbound referrals") has a
	// clinician's access, on behalf of one named clinician.
	RoleClinicianAdmin Role = "sp-clinician-admin"
	// RoleProviderAdmin (B1120, "manage inbound appointments") manages
	// appointments and the provider's users; no clinical data.
	RoleProviderAdmin Role = "sp-admin"
	// RoleServiceDefiner (B1107, "maintain service configurations")
	// maintains the Directory of Services; no clinical data.
	RoleServiceDefiner Role = "service-definer"
	// RoleAnalyst (B1130) sees aggregate reports only.
	RoleAnalyst Role = "analyst"
	// RoleBookingManager (B1140) books appointments by referral
	// reference; no clinical data.
	RoleBookingManager Role = "booking-manager"
	// RoleSysAdmin administers Molar: organisations, users, keys, the
	// audit log. Like e-RS administrators it does not read clinical data.
	RoleSysAdmin Role = "sysadmin"
)

type roleInfo struct {
	role  Role
	title string
	code  string // e-RS RBAC activity code, if the role has one
	// clinical: the role may be allowed clinical actions at all.
	clinical bool
	// kinds of organisation a grant of this role may be at; nil: any.
	kinds []OrgKind
	// needsGDC: the user must have a GDC registration number.
	needsGDC bool
	// onBehalf: a grant names the clinician (B1110) it acts for.
	onBehalf bool
}

// roleTable is the one description of every role, in display order.
var roleTable = []roleInfo{
	{role: RoleReferrer, title: "Referrer (dentist)", clinical: true, kinds: []OrgKind{KindPractice}, needsGDC: true},
	{role: RoleReferrerAdmin, title: "Referrer admin", kinds: []OrgKind{KindPractice}},
	{role: RoleClinician, title: "Service provider clinician", code: "B1110", clinical: true, kinds: []OrgKind{KindProvider}},
	{role: RoleClinicianAdmin, title: "Service provider clinician admin", code: "B1115", clinical: true, kinds: []OrgKind{KindProvider}, onBehalf: true},
	{role: RoleProviderAdmin, title: "Service provider admin", code: "B1120", kinds: []OrgKind{KindProvider}},
	{role: RoleServiceDefiner, title: "Service definer", code: "B1107", kinds: []OrgKind{KindProvider}},
	{role: RoleAnalyst, title: "Information analyst", code: "B1130", kinds: []OrgKind{KindProvider, KindCommissioner}},
	{role: RoleBookingManager, title: "Booking manager", code: "B1140", kinds: []OrgKind{KindProvider, KindCommissioner}},
	{role: RoleSysAdmin, title: "System administrator"},
}

func lookupRole(r Role) (roleInfo, bool) {
	for _, ri := range roleTable {
		if ri.role == r {
			return ri, true
		}
	}
	return roleInfo{}, false
}

// Roles returns every role, in display order.
func Roles() []Role {
	out := make([]Role, len(roleTable))
	for i, ri := range roleTable {
		out[i] = ri.role
	}
	return out
}

// Valid reports whether r is one of the roles above.
func (r Role) Valid() bool {
	_, ok := lookupRole(r)
	return ok
}

// Title is the role's name for people ("Service provider clinician").
func (r Role) Title() string {
	if ri, ok := lookupRole(r); ok {
		return ri.title
	}
	return string(r)
}

// Code is the role's e-RS RBAC activity code ("B1110"), or "".
func (r Role) Code() string {
	ri, _ := lookupRole(r)
	return ri.code
}

// Clinical reports whether the role may be allowed clinical actions at
// all. A non-clinical role never is, whatever the matrix says.
func (r Role) Clinical() bool {
	ri, _ := lookupRole(r)
	return ri.clinical
}

// Label is Title with the e-RS code, for pages and messages:
// "Service provider clinician (B1110)".
func (r Role) Label() string {
	if c := r.Code(); c != "" {
		return r.Title() + " (" + c + ")"
	}
	return r.Title()
}

// AllowedAt reports whether r may be granted at an organisation of kind k.
func (r Role) AllowedAt(k OrgKind) bool {
	ri, ok := lookupRole(r)
	return ok && (ri.kinds == nil || slices.Contains(ri.kinds, k))
}
