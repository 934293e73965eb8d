package auth

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Action is something a request does, named noun.verb. Handlers name the
// action they perform with Service.Require; the matrix says which roles
// may perform it.
type Action string

// The actions. Clinical ones touch patient-identifiable data or films.
const (
	ActionReferralCreate      Action = "referral.create"       // clinical: write a referral, drafts included
	ActionReferralView        Action = "referral.view"         // clinical: read a referral
	ActionReferralTriage      Action = "referral.triage"       // clinical: accept, return, redirect, ask for more
	ActionReferralBook        Action = "referral.book"         // not clinical: book by URN, service and dates only
	ActionReferralTrackPublic Action = "referral.track-public" // not clinical: a referral's status by URN
	ActionFilmView            Action = "film.view"             // clinical: view films in the viewer
	ActionFilmUpload          Action = "film.upload"           // clinical: upload films through the browser
	ActionDICOMwebSearch      Action = "dicomweb.search"       // clinical: QIDO-RS
	ActionDICOMwebRetrieve    Action = "dicomweb.retrieve"     // clinical: WADO-RS, WADO-URI
	ActionDICOMwebStore       Action = "dicomweb.store"        // clinical: STOW-RS
	ActionReportAggregate     Action = "report.aggregate"      // not clinical: counts and times, no patient rows
	ActionDirectoryEdit       Action = "directory.edit"        // not clinical: the Directory of Services
	ActionOrgAdmin            Action = "org.admin"             // not clinical: organisations
	ActionUserAdmin           Action = "user.admin"            // not clinical: accounts and role grants
	ActionAuditRead           Action = "audit.read"            // clinical: the audit log holds URNs and NHS numbers
	ActionOutboxRead          Action = "outbox.read"           // not clinical: message texts carry none; holds sign-in codes
	ActionAPIKeyAdmin         Action = "apikey.admin"          // not clinical: API keys and bearer tokens
	ActionFilmAttach          Action = "film.attach"           // not clinical: file an unmatched study by its identifiers, images unseen
	ActionForwardAdmin        Action = "forward.admin"         // not clinical: the film forwarding queue (URNs, AE titles, counts)
)

type actionInfo struct {
	action   Action
	clinical bool
}

// actionTable lists every action, in display order.
var actionTable = []actionInfo{
	{ActionReferralCreate, true},
	{ActionReferralView, true},
	{ActionReferralTriage, true},
	{ActionReferralBook, false},
	{ActionReferralTrackPublic, false},
	{ActionFilmView, true},
	{ActionFilmUpload, true},
	{ActionDICOMwebSearch, true},
	{ActionDICOMwebRetrieve, true},
	{ActionDICOMwebStore, true},
	{ActionReportAggregate, false},
	{ActionDirectoryEdit, false},
	{ActionOrgAdmin, false},
	{ActionUserAdmin, false},
	{ActionAuditRead, true},
	{ActionOutboxRead, false},
	{ActionAPIKeyAdmin, false},
	{ActionFilmAttach, false},
	{ActionForwardAdmin, false},
}

// permissions is the permission matrix: what each role may do. Anything
// not listed is refused. Organisation scope (own practice, own provider)
// is applied by the package that owns the data, with Principal.Org.
var permissions = map[Role][]Action{
	RoleReferrer: {
		ActionReferralCreate, ActionReferralView, ActionReferralTrackPublic,
		ActionFilmView, ActionFilmUpload,
		ActionDICOMwebSearch, ActionDICOMwebRetrieve, ActionDICOMwebStore,
	},
	RoleReferrerAdmin: {
		ActionReferralTrackPublic, ActionUserAdmin, ActionAPIKeyAdmin,
	},
	RoleClinician: {
		ActionReferralView, ActionReferralTriage, ActionReferralTrackPublic,
		ActionFilmView, ActionFilmUpload,
		ActionDICOMwebSearch, ActionDICOMwebRetrieve, ActionDICOMwebStore,
	},
	// e-RS: "has the same access but must be linked to a service provider
	// clinician"; the link is Principal.OnBehalfOf.
	RoleClinicianAdmin: {
		ActionReferralView, ActionReferralTriage, ActionReferralTrackPublic,
		ActionFilmView, ActionFilmUpload,
		ActionDICOMwebSearch, ActionDICOMwebRetrieve, ActionDICOMwebStore,
	},
	RoleProviderAdmin: {
		ActionReferralBook, ActionReferralTrackPublic, ActionUserAdmin,
	},
	RoleServiceDefiner: {
		ActionReferralTrackPublic, ActionDirectoryEdit,
	},
	RoleAnalyst: {
		ActionReferralTrackPublic, ActionReportAggregate,
	},
	RoleBookingManager: {
		ActionReferralBook, ActionReferralTrackPublic,
	},
	RoleSysAdmin: {
		ActionReferralTrackPublic, ActionReportAggregate,
		ActionOrgAdmin, ActionUserAdmin, ActionAPIKeyAdmin,
		ActionAuditRead, ActionOutboxRead, ActionFilmAttach, ActionForwardAdmin,
	},
}

// clinicalExceptions are the clinical actions a non-clinical role may
// still perform, each with its reason. Keep this list short.
var clinicalExceptions = map[Role]map[Action]string{
	RoleSysAdmin: {
		// The audit log holds who looked at which URN and NHS number, not
		// clinical content; information governance needs someone to read
		// it, and it is the system administrator in Molar.
		ActionAuditRead: "audit oversight",
	},
}

func lookupAction(a Action) (actionInfo, bool) {
	for _, ai := range actionTable {
		if ai.action == a {
			return ai, true
		}
	}
	return actionInfo{}, false
}

// Actions returns every action, in display order.
func Actions() []Action {
	out := make([]Action, len(actionTable))
	for i, ai := range actionTable {
		out[i] = ai.action
	}
	return out
}

// Valid reports whether a is one of the actions above.
func (a Action) Valid() bool {
	_, ok := lookupAction(a)
	return ok
}

// Clinical reports whether a touches patient-identifiable data or films.
func (a Action) Clinical() bool {
	ai, _ := lookupAction(a)
	return ai.clinical
}

// Decision is the matrix's answer for one role and action, with why.
type Decision struct {
	Allowed  bool
	Role     Role
	Action   Action
	Clinical bool // the action is clinical
	// Reason says why, for logs. It names the role and the action and
	// nothing else: no patient data ever reaches a Decision.
	Reason string
}

// Allowed reports whether role r may perform action a.
func Allowed(r Role, a Action) bool { return Decide(r, a).Allowed }

// Decide looks r and a up in the permission matrix. The rule that a
// non-clinical role never performs a clinical action (bar the listed
// exceptions) is applied on top of the table, so that it holds even if the
// table is edited wrongly.
func Decide(r Role, a Action) Decision { return decideWith(permissions, r, a) }

// decideWith decides with a given table, so that tests can check that the
// clinical rule holds against a wrong one.
func decideWith(table map[Role][]Action, r Role, a Action) Decision {
	d := Decision{Role: r, Action: a, Clinical: a.Clinical()}
	switch {
	case !r.Valid():
		d.Reason = fmt.Sprintf("unknown role %q", r)
	case !a.Valid():
		d.Reason = fmt.Sprintf("unknown action %q", a)
	case !slices.Contains(table[r], a):
		d.Reason = fmt.Sprintf("%s may not %s", r.Label(), a)
	case d.Clinical && !r.Clinical():
		why, ok := clinicalExceptions[r][a]
		if !ok {
			d.Reason = fmt.Sprintf("%s is a non-clinical role and %s is a clinical action", r.Label(), a)
			break
		}
		d.Allowed = true
		d.Reason = fmt.Sprintf("%s may %s (%s)", r.Label(), a, why)
	default:
		d.Allowed = true
		d.Reason = fmt.Sprintf("%s may %s", r.Label(), a)
	}
	return d
}

// decideFor decides for a principal: the matrix for its role, except that
// the bootstrap token has every right when the deployment asks for it
// (Config.BootstrapFullAccess; see the package documentation).
func decideFor(p Principal, a Action, bootstrapFull bool) Decision {
	if p.Via == ViaBootstrap && bootstrapFull && a.Valid() {
		return Decision{Allowed: true, Role: p.Role, Action: a, Clinical: a.Clinical(),
			Reason: fmt.Sprintf("bootstrap token has full rights, %s included", a)}
	}
	return Decide(p.Role, a)
}

// WriteMatrix writes the permission matrix as a Markdown table: a row per
// role, a column per action, "✓" where allowed; clinical actions are
// marked with "*".
func WriteMatrix(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| role |")
	for _, a := range Actions() {
		if a.Clinical() {
			fmt.Fprintf(&b, " %s* |", a)
		} else {
			fmt.Fprintf(&b, " %s |", a)
		}
	}
	b.WriteString("\n|---|")
	for range Actions() {
		b.WriteString(":-:|")
	}
	b.WriteString("\n")
	for _, r := range Roles() {
		fmt.Fprintf(&b, "| %s |", r.Label())
		for _, a := range Actions() {
			if Allowed(r, a) {
				b.WriteString(" ✓ |")
			} else {
				b.WriteString("  |")
			}
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
