package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// api is a JSON client signed in through a browser session.
type api struct {
	b    *browser
	csrf string
}

func (f *fixture) adminAPI(email string) *api {
	b := f.browser()
	b.signIn(email)
	return &api{b: b, csrf: b.csrf()}
}

func (a *api) call(method, path, body string) resp {
	a.b.t.Helper()
	req, _ := http.NewRequest(method, a.b.f.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set(HeaderCSRF, a.csrf)
	return a.b.do(req)
}

func TestAdminAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.addUser("admin", NewUser{Grants: []Grant{{Role: RoleSysAdmin, Org: fxTrust}}})
	a := f.adminAPI(admin.Email)

	// Organisations.
	r := a.call("POST", "/admin/orgs", `{"code":"v1234","name":"Short Practice","kind":"dental-practice"}`)
	want(t, "bad ODS code", r, http.StatusBadRequest, "")
	if !strings.Contains(r.body, "V followed by 5 or 6 digits") {
		t.Errorf("message: %s", r.body)
	}
	want(t, "unknown field", a.call("POST", "/admin/orgs", `{"code":"V22222","name":"P","kind":"dental-practice","colour":"red"}`), http.StatusBadRequest, "")
	r = a.call("POST", "/admin/orgs", `{"code":" v22222 ","name":"New Practice","kind":"dental-practice"}`)
	want(t, "create practice", r, http.StatusCreated, "")
	var o Organisation
	json.Unmarshal([]byte(r.body), &o)
	if o.Code != "V22222" {
		t.Errorf("created %+v", o)
	}
	want(t, "again", a.call("POST", "/admin/orgs", `{"code":"V22222","name":"New Practice","kind":"dental-practice"}`), http.StatusConflict, "")
	want(t, "site of a missing HQ", a.call("POST", "/admin/orgs", `{"code":"RXX01","name":"S","kind":"provider","parent":"RXX"}`), http.StatusBadRequest, "")
	want(t, "site of another kind", a.call("POST", "/admin/orgs", `{"code":"02P","name":"S","kind":"commissioner","parent":"RH8"}`), http.StatusBadRequest, "")
	want(t, "site of a site", a.call("POST", "/admin/orgs", `{"code":"A1B2C","name":"S","kind":"provider","parent":"RH801"}`), http.StatusBadRequest, "")
	r = a.call("GET", "/admin/orgs", "")
	want(t, "list organisations", r, http.StatusOK, "")
	if !strings.Contains(r.body, `"V22222"`) || !strings.Contains(r.body, `"RH801"`) {
		t.Errorf("list: %s", r.body)
	}

	// Users.
	r = a.call("POST", "/admin/users", `{"email":"new.dentist@gmail.com","name":"New Dentist","gdc_number":"12345",
		"phones":[{"number":"07700 900456"}],"grants":[{"role":"referrer","org":"V22222"}]}`)
	want(t, "create user", r, http.StatusCreated, "")
	var cu createdUser
	json.Unmarshal([]byte(r.body), &cu)
	if cu.User.Email != "new.dentist@gmail.com" || cu.User.HasPassword || len(cu.Warnings) != 2 || strings.Contains(r.body, "argon2") {
		t.Errorf("created %s", r.body)
	}
	for _, tc := range []struct{ name, body string }{
		{"referrer without GDC", `{"email":"a@nhs.net","name":"A","phones":[{"number":"07700 900456"}],"grants":[{"role":"referrer","org":"V22222"}]}`},
		{"bad GDC", `{"email":"a@nhs.net","name":"A","gdc_number":"12AB5","phones":[{"number":"07700 900456"}],"grants":[{"role":"referrer","org":"V22222"}]}`},
		{"no phone", `{"email":"a@nhs.net","name":"A","phones":[],"grants":[{"role":"analyst","org":"QF7"}]}`},
		{"foreign phone", `{"email":"a@nhs.net","name":"A","phones":[{"number":"+1 202 555 0100"}],"grants":[{"role":"analyst","org":"QF7"}]}`},
		{"bad email", `{"email":"not-an-address","name":"A","phones":[{"number":"07700 900456"}],"grants":[{"role":"analyst","org":"QF7"}]}`},
		{"role at the wrong kind", `{"email":"a@nhs.net","name":"A","phones":[{"number":"07700 900456"}],"grants":[{"role":"sp-clinician","org":"V22222"}]}`},
		{"B1115 without a clinician", `{"email":"a@nhs.net","name":"A","phones":[{"number":"07700 900456"}],"grants":[{"role":"sp-clinician-admin","org":"RH801"}]}`},
		{"B1115 for a non-clinician", `{"email":"a@nhs.net","name":"A","phones":[{"number":"07700 900456"}],"grants":[{"role":"sp-clinician-admin","org":"RH801","on_behalf_of":"` + admin.ID + `"}]}`},
		{"on behalf for another role", `{"email":"a@nhs.net","name":"A","phones":[{"number":"07700 900456"}],"grants":[{"role":"analyst","org":"QF7","on_behalf_of":"` + admin.ID + `"}]}`},
		{"unknown role", `{"email":"a@nhs.net","name":"A","phones":[{"number":"07700 900456"}],"grants":[{"role":"god","org":"QF7"}]}`},
		{"short password", `{"email":"a@nhs.net","name":"A","password":"short","phones":[{"number":"07700 900456"}],"grants":[{"role":"analyst","org":"QF7"}]}`},
	} {
		if r := a.call("POST", "/admin/users", tc.body); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", tc.name, r.status, r.body)
		}
	}
	want(t, "same email", a.call("POST", "/admin/users", `{"email":"NEW.dentist@gmail.com","name":"X","phones":[{"number":"07700 900456"}],"grants":[{"role":"analyst","org":"QF7"}]}`), http.StatusConflict, "")
	r = a.call("GET", "/admin/users", "")
	if !strings.Contains(r.body, "new.dentist@gmail.com") || strings.Contains(r.body, "password_hash") {
		t.Errorf("users: %s", r.body)
	}

	// Keys.
	r = a.call("POST", "/admin/keys", `{"kind":"apikey","name":"practice PMS","org":"V22222"}`)
	want(t, "issue key", r, http.StatusCreated, "")
	var ic issuedCredential
	json.Unmarshal([]byte(r.body), &ic)
	if !strings.HasPrefix(ic.Secret, "molar_ak_") {
		t.Fatalf("issued %s", r.body)
	}
	principalOf(t, f.browser().get("/protected", HeaderAPIKey, ic.Secret))
	r = a.call("GET", "/admin/keys", "")
	if !strings.Contains(r.body, ic.Credential.ID) || strings.Contains(r.body, ic.Secret) {
		t.Errorf("key list shows the secret or lacks the key: %s", r.body)
	}
	want(t, "revoke", a.call("DELETE", "/admin/keys/"+ic.Credential.ID, ""), http.StatusOK, "")
	want(t, "revoked key", f.browser().get("/protected", HeaderAPIKey, ic.Secret), http.StatusUnauthorized, "")
	want(t, "revoke unknown", a.call("DELETE", "/admin/keys/ak_nope", ""), http.StatusNotFound, "")

	// Disable.
	want(t, "disable self", a.call("POST", "/admin/users/"+admin.ID+"/disable", ""), http.StatusBadRequest, "")
	want(t, "disable", a.call("POST", "/admin/users/"+cu.User.ID+"/disable", ""), http.StatusOK, "")

	// CSRF applies to the admin API too.
	a.csrf = "wrong"
	want(t, "admin without CSRF", a.call("POST", "/admin/orgs", `{"code":"V33333","name":"P","kind":"dental-practice"}`), http.StatusForbidden, "")
}

func TestAdminWithBootstrapToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.BootstrapToken = "bootstrap-token-for-tests" })
	b := f.browser()
	r := b.post("/admin/orgs", nil, "Authorization", "Bearer bootstrap-token-for-tests")
	want(t, "empty body", r, http.StatusBadRequest, "")
	req, _ := http.NewRequest("POST", f.srv.URL+"/admin/orgs", strings.NewReader(`{"code":"QE1","name":"Another ICB","kind":"commissioner"}`))
	req.Header.Set("Authorization", "Bearer bootstrap-token-for-tests")
	want(t, "create with the bootstrap token", b.do(req), http.StatusCreated, "")
}

// TestAdminScope: administrators below the system administrator act in
// their own organisation only.
func TestAdminScope(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	pm := f.addUser("practice-manager", NewUser{Grants: []Grant{{Role: RoleReferrerAdmin, Org: fxPractice}}})
	other := f.addUser("other-dentist", NewUser{GDCNumber: "99999", Grants: []Grant{{Role: RoleReferrer, Org: fxPractice2}}})
	a := f.adminAPI(pm.Email)

	want(t, "referrer at own practice", a.call("POST", "/admin/users", `{"email":"d2@nhs.net","name":"D2","gdc_number":"11111",
		"phones":[{"number":"07700 900456"}],"grants":[{"role":"referrer","org":"`+fxPractice+`"}]}`), http.StatusCreated, "")
	want(t, "referrer at another practice", a.call("POST", "/admin/users", `{"email":"d3@nhs.net","name":"D3","gdc_number":"11111",
		"phones":[{"number":"07700 900456"}],"grants":[{"role":"referrer","org":"`+fxPractice2+`"}]}`), http.StatusForbidden, "")
	want(t, "granting system administrator", a.call("POST", "/admin/users", `{"email":"d4@nhs.net","name":"D4",
		"phones":[{"number":"07700 900456"}],"grants":[{"role":"sysadmin","org":"`+fxPractice+`"}]}`), http.StatusForbidden, "")
	want(t, "disable at another practice", a.call("POST", "/admin/users/"+other.ID+"/disable", ""), http.StatusForbidden, "")
	r := a.call("GET", "/admin/users", "")
	if strings.Contains(r.body, other.Email) || !strings.Contains(r.body, "d2@nhs.net") {
		t.Errorf("practice manager's user list: %s", r.body)
	}
	want(t, "key for own practice", a.call("POST", "/admin/keys", `{"kind":"apikey","name":"PMS","org":"`+fxPractice+`"}`), http.StatusCreated, "")
	want(t, "key for another practice", a.call("POST", "/admin/keys", `{"kind":"apikey","name":"PMS","org":"`+fxPractice2+`"}`), http.StatusForbidden, "")
	c, _, err := f.svc.IssueCredential(ctx, NewCredential{Kind: KindAPIKey, Name: "theirs", Org: fxPractice2})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "revoke another practice's key", a.call("DELETE", "/admin/keys/"+c.ID, ""), http.StatusForbidden, "")
	want(t, "organisations are the system administrator's", a.call("GET", "/admin/orgs", ""), http.StatusForbidden, "")
}
