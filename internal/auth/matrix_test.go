package auth

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// The expectations below are written out by hand, independently of
// matrix.go, so that an edit to the matrix has to be made twice to pass.

// handClinical is the list of clinical actions: those that touch
// patient-identifiable data or films.
var handClinical = []Action{
	"referral.create", "referral.view", "referral.triage",
	"film.view", "film.upload",
	"dicomweb.search", "dicomweb.retrieve", "dicomweb.store",
	"audit.read",
}

// handNonClinicalRoles may never perform a clinical action; the system
// administrator only audit.read (audit oversight).
var handNonClinicalRoles = []Role{
	"referrer-admin", "sp-admin", "service-definer", "analyst", "booking-manager", "sysadmin",
}

// handMatrix is the whole matrix, by hand: what each role may do.
var handMatrix = map[Role][]Action{
	"referrer": {"referral.create", "referral.view", "referral.track-public", "film.view", "film.upload",
		"dicomweb.search", "dicomweb.retrieve", "dicomweb.store"},
	"referrer-admin": {"referral.track-public", "user.admin", "apikey.admin"},
	"sp-clinician": {"referral.view", "referral.triage", "referral.track-public", "film.view", "film.upload",
		"dicomweb.search", "dicomweb.retrieve", "dicomweb.store"},
	"sp-clinician-admin": {"referral.view", "referral.triage", "referral.track-public", "film.view", "film.upload",
		"dicomweb.search", "dicomweb.retrieve", "dicomweb.store"},
	"sp-admin":        {"referral.book", "referral.track-public", "user.admin"},
	"service-definer": {"referral.track-public", "directory.edit"},
	"analyst":         {"referral.track-public", "report.aggregate"},
	"booking-manager": {"referral.book", "referral.track-public"},
	"sysadmin": {"referral.track-public", "report.aggregate", "org.admin", "user.admin", "apikey.admin",
		"audit.read", "outbox.read", "film.attach", "forward.admin"},
}

// handActions is every action the brief requires.
var handActions = []Action{
	"referral.create", "referral.view", "referral.triage", "referral.book", "referral.track-public",
	"film.view", "film.upload", "dicomweb.search", "dicomweb.retrieve", "dicomweb.store",
	"report.aggregate", "directory.edit", "org.admin", "user.admin", "audit.read", "outbox.read", "apikey.admin",
	"film.attach", "forward.admin",
}

func TestActionsAndRolesAreTheExpectedOnes(t *testing.T) {
	t.Parallel()
	if got := Actions(); !slices.Equal(got, handActions) {
		t.Errorf("Actions() = %v\nwant %v", got, handActions)
	}
	for _, a := range Actions() {
		if got, want := a.Clinical(), slices.Contains(handClinical, a); got != want {
			t.Errorf("%s: Clinical() = %v, want %v", a, got, want)
		}
	}
	if len(Roles()) != len(handMatrix) {
		t.Errorf("Roles() = %v, want the %d roles of the hand matrix", Roles(), len(handMatrix))
	}
	codes := map[Role]string{"sp-clinician": "B1110", "sp-clinician-admin": "B1115", "sp-admin": "B1120",
		"service-definer": "B1107", "analyst": "B1130", "booking-manager": "B1140"}
	for _, r := range Roles() {
		if r.Code() != codes[r] {
			t.Errorf("%s: e-RS code %q, want %q", r, r.Code(), codes[r])
		}
		if got, want := r.Clinical(), !slices.Contains(handNonClinicalRoles, r); got != want {
			t.Errorf("%s: Clinical() = %v, want %v", r, got, want)
		}
	}
}

// TestClinicalRuleHoldsAgainstAWrongTable gives every role every action
// in a doctored table: Decide's rule must still refuse clinical actions
// to non-clinical roles (the system administrator's audit.read apart).
func TestClinicalRuleHoldsAgainstAWrongTable(t *testing.T) {
	t.Parallel()
	everything := map[Role][]Action{}
	for _, r := range Roles() {
		everything[r] = Actions()
	}
	for _, r := range handNonClinicalRoles {
		for _, a := range handClinical {
			d := decideWith(everything, r, a)
			wantAllowed := r == "sysadmin" && a == "audit.read"
			if d.Allowed != wantAllowed {
				t.Errorf("doctored table: %s %s allowed=%v, want %v (%s)", r, a, d.Allowed, wantAllowed, d.Reason)
			}
		}
	}
	// And the real table never relies on the rule: it never lists a
	// clinical action for a non-clinical role (bar the exception).
	for _, r := range handNonClinicalRoles {
		for _, a := range permissions[r] {
			if slices.Contains(handClinical, a) && !(r == "sysadmin" && a == "audit.read") {
				t.Errorf("the matrix lists clinical %s for non-clinical %s", a, r)
			}
		}
	}
}

// clinicalWords must not appear in a refusal: nothing about patients, no
// identifiers taken from the request. (The action's name, film.view say,
// may: it is what was asked, not what was found.)
var clinicalWords = []string{
	"patient", "clinical", "nhs number", "9434765919", "943 476 5919", "urn", "MOL-2026-0042",
	"1.2.826.0.1.3680043.2.1125.1", "study", "x-ray", "radiograph", "diagnos", "referral letter",
}

// TestMatrixCellByCell sends, for every role and action, a request
// through Require(action) with a session in that role, and checks 200 or
// 403 exactly as the matrix — the generated one and the hand-written one —
// says, and that refusals carry no clinical words.
func TestMatrixCellByCell(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	clin := f.addUser("clinician", NewUser{Grants: []Grant{{Role: RoleClinician, Org: fxSite}}})
	grants := map[Role]Grant{
		RoleReferrer:       {Role: RoleReferrer, Org: fxPractice},
		RoleReferrerAdmin:  {Role: RoleReferrerAdmin, Org: fxPractice},
		RoleClinician:      {Role: RoleClinician, Org: fxSite},
		RoleClinicianAdmin: {Role: RoleClinicianAdmin, Org: fxSite, OnBehalfOf: clin.ID},
		RoleProviderAdmin:  {Role: RoleProviderAdmin, Org: fxSite},
		RoleServiceDefiner: {Role: RoleServiceDefiner, Org: fxTrust},
		RoleAnalyst:        {Role: RoleAnalyst, Org: fxCommissioner},
		RoleBookingManager: {Role: RoleBookingManager, Org: fxTrust},
		RoleSysAdmin:       {Role: RoleSysAdmin, Org: fxTrust},
	}
	sessions := map[Role]string{}
	for _, r := range Roles() {
		g, ok := grants[r]
		if !ok {
			t.Fatalf("no test grant for role %s", r)
		}
		u := clin
		if r != RoleClinician {
			u = f.addUser(string(r), NewUser{GDCNumber: "54321", Grants: []Grant{g}})
		}
		id, err := f.svc.createSession(ctx, u.ID, g)
		if err != nil {
			t.Fatal(err)
		}
		sessions[r] = id
	}

	mux := http.NewServeMux()
	for _, a := range Actions() {
		mux.Handle("/do/"+string(a), f.svc.Require(a)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := PrincipalFrom(r.Context())
			w.Write([]byte("done " + string(p.Role)))
		})))
	}
	cells := 0
	for _, r := range Roles() {
		for _, a := range Actions() {
			cells++
			wantAllowed := slices.Contains(handMatrix[r], a)
			if Allowed(r, a) != wantAllowed {
				t.Errorf("Allowed(%s, %s) = %v, hand matrix says %v", r, a, !wantAllowed, wantAllowed)
			}
			if slices.Contains(handNonClinicalRoles, r) && slices.Contains(handClinical, a) &&
				!(r == "sysadmin" && a == "audit.read") && Allowed(r, a) {
				t.Errorf("non-clinical %s is allowed clinical %s", r, a)
			}
			// State-changing actions go as a POST with the CSRF token, the
			// others as a GET; the URL carries patient identifiers that a
			// refusal must not repeat.
			method := http.MethodGet
			if strings.HasSuffix(string(a), ".create") || strings.HasSuffix(string(a), ".triage") ||
				strings.HasSuffix(string(a), ".book") || strings.HasSuffix(string(a), ".upload") ||
				strings.HasSuffix(string(a), ".store") || strings.HasSuffix(string(a), ".edit") {
				method = http.MethodPost
			}
			req := httptestRequest(method, "/do/"+string(a)+"?nhs=9434765919&urn=MOL-2026-0042&study=1.2.826.0.1.3680043.2.1125.1")
			req.AddCookie(&http.Cookie{Name: SessionCookie, Value: sessions[r]})
			if method == http.MethodPost {
				req.Header.Set(HeaderCSRF, csrfToken(sessions[r]))
			}
			rec := recordRequest(mux, req)
			wantStatus := http.StatusForbidden
			if wantAllowed {
				wantStatus = http.StatusOK
			}
			if rec.Code != wantStatus {
				t.Errorf("%s %s: status %d, want %d; body %q", r, a, rec.Code, wantStatus, rec.Body.String())
				continue
			}
			if !wantAllowed {
				body := strings.ToLower(rec.Body.String())
				for _, w := range clinicalWords {
					if strings.Contains(body, strings.ToLower(w)) {
						t.Errorf("%s %s: refusal %q contains %q", r, a, rec.Body.String(), w)
					}
				}
				if !strings.Contains(rec.Body.String(), r.Label()) || !strings.Contains(rec.Body.String(), string(a)) {
					t.Errorf("%s %s: refusal %q does not say which role and action", r, a, rec.Body.String())
				}
			}
		}
	}
	if want := len(handMatrix) * len(handActions); cells != want {
		t.Errorf("walked %d cells, want %d", cells, want)
	}
}

// TestBootstrapToken: a system administrator; clinical actions only with
// BootstrapFullAccess.
func TestBootstrapToken(t *testing.T) {
	t.Parallel()
	for _, full := range []bool{false, true} {
		f := newFixture(t, func(c *Config) { c.BootstrapToken = "s3cret-bootstrap-token"; c.BootstrapFullAccess = full })
		for _, a := range Actions() {
			req := httptestRequest(http.MethodPost, "/x")
			req.Header.Set("Authorization", "Bearer s3cret-bootstrap-token")
			p, err := f.svc.Check(req, a)
			wantAllowed := full || slices.Contains(handMatrix["sysadmin"], a)
			if (err == nil) != wantAllowed {
				t.Errorf("full=%v %s: err %v, want allowed=%v", full, a, err, wantAllowed)
			}
			if err == nil && (p.Via != ViaBootstrap || p.Role != RoleSysAdmin || p.UserID != "api-token") {
				t.Errorf("bootstrap principal %+v", p)
			}
		}
		req := httptestRequest(http.MethodGet, "/x")
		req.Header.Set("Authorization", "Bearer s3cret-bootstrap-tokeN")
		if _, err := f.svc.Check(req, ActionOrgAdmin); !isStatus(err, http.StatusUnauthorized) {
			t.Errorf("a wrong bootstrap token: %v, want 401", err)
		}
	}
}

func TestWriteMatrix(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if err := WriteMatrix(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2+len(Roles()) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), 2+len(Roles()), b.String())
	}
	for i, r := range Roles() {
		row := lines[2+i]
		if got, want := strings.Count(row, "✓"), len(handMatrix[r]); got != want {
			t.Errorf("%s row has %d ticks, want %d: %s", r, got, want, row)
		}
	}
	if !strings.Contains(lines[0], "film.view*") || strings.Contains(lines[0], "referral.book*") {
		t.Errorf("clinical marks wrong in header %s", lines[0])
	}
}
