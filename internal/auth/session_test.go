package auth

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		steps []time.Duration // wait, then request
		last  int             // status of the last request; those before are 200
	}{
		{"used within the idle time", []time.Duration{29 * time.Minute, 29 * time.Minute, 29 * time.Minute}, http.StatusOK},
		{"idle for 30 minutes", []time.Duration{10 * time.Minute, 30 * time.Minute}, http.StatusUnauthorized},
		{"idle just under 30 minutes", []time.Duration{30*time.Minute - time.Second}, http.StatusOK},
		{"busy but past 12 hours", func() []time.Duration {
			var s []time.Duration
			for range 12 * 60 / 20 { // a request every 20 minutes for 12 hours
				s = append(s, 20*time.Minute)
			}
			return s
		}(), http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			u := f.dentist()
			b := f.browser()
			b.signIn(u.Email)
			for i, d := range tc.steps {
				f.clock.Advance(d)
				r := b.get("/protected")
				wantStatus := http.StatusOK
				if i == len(tc.steps)-1 {
					wantStatus = tc.last
				}
				if r.status != wantStatus {
					t.Fatalf("request %d after %v: %d %s, want %d", i+1, d, r.status, r.body, wantStatus)
				}
				if r.status == http.StatusUnauthorized && !strings.Contains(r.body, "Your session has ended") {
					t.Errorf("message: %s", r.body)
				}
			}
		})
	}
}

func TestBrowserIsSentToSignIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	b := f.browser()
	r := b.get("/protected?x=1", "Accept", "text/html,application/xhtml+xml")
	want(t, "browser page", r, http.StatusSeeOther, "/login?next=%2Fprotected%3Fx%3D1")
	r = b.get("/protected", "Accept", "application/json")
	want(t, "API client", r, http.StatusUnauthorized, "")
	if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="molar"` {
		t.Errorf("WWW-Authenticate %q", got)
	}
	if !strings.Contains(r.body, `"error"`) {
		t.Errorf("JSON client got %s", r.body)
	}
	r = b.post("/protected", nil, "Accept", "text/html")
	want(t, "browser POST", r, http.StatusUnauthorized, "")
}

func TestLogout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.dentist()
	b := f.browser()
	b.signIn(u.Email)
	id := b.cookie(SessionCookie)
	token := b.csrf()

	want(t, "logout without token", b.post("/logout", nil), http.StatusForbidden, "")
	want(t, "logout with a wrong token", b.post("/logout", url.Values{FieldCSRF: {token + "x"}}), http.StatusForbidden, "")
	principalOf(t, b.get("/protected"))
	want(t, "logout", b.post("/logout", url.Values{FieldCSRF: {token}}), http.StatusSeeOther, "/login?signed-out")
	if b.cookie(SessionCookie) != "" {
		t.Error("session cookie kept after logout")
	}
	want(t, "after logout", b.get("/protected"), http.StatusUnauthorized, "")
	c := f.browser()
	c.setCookie(SessionCookie, id)
	want(t, "replayed cookie after logout", c.get("/protected"), http.StatusUnauthorized, "")
	if r := b.get("/login?signed-out"); !strings.Contains(r.body, "You have signed out") {
		t.Errorf("login page after logout: %s", r.body)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.dentist()
	b := f.browser()
	b.signIn(u.Email)
	token := b.csrf()
	other := f.browser()
	other.signIn(u.Email)
	otherToken := other.csrf()
	if otherToken == token {
		t.Fatal("two sessions share a CSRF token")
	}

	tests := []struct {
		name   string
		form   url.Values
		hdr    []string
		status int
	}{
		{"no token", nil, nil, http.StatusForbidden},
		{"wrong token", nil, []string{HeaderCSRF, "not-the-token"}, http.StatusForbidden},
		{"another session's token", nil, []string{HeaderCSRF, otherToken}, http.StatusForbidden},
		{"empty form field", url.Values{FieldCSRF: {""}}, nil, http.StatusForbidden},
		{"token in the header", nil, []string{HeaderCSRF, token}, http.StatusOK},
		{"token in the form", url.Values{FieldCSRF: {token}}, nil, http.StatusOK},
	}
	for _, tc := range tests {
		r := b.post("/protected", tc.form, tc.hdr...)
		if r.status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, r.status, r.body, tc.status)
		}
		if tc.status == http.StatusForbidden && !strings.Contains(r.body, "CSRF token") {
			t.Errorf("%s: message %q does not say what is missing", tc.name, r.body)
		}
	}
	for _, m := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete, "PROPFIND"} {
		req, _ := http.NewRequest(m, f.srv.URL+"/any", nil)
		want(t, m+" without a token", b.do(req), http.StatusForbidden, "")
		req, _ = http.NewRequest(m, f.srv.URL+"/any", nil)
		req.Header.Set(HeaderCSRF, token)
		want(t, m+" with the token", b.do(req), http.StatusOK, "")
	}
	// A multipart body is not read for the token: the header is needed.
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/upload", strings.NewReader("--x\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n"+token+"\r\n--x--\r\n"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	want(t, "multipart with the token in a field", b.do(req), http.StatusForbidden, "")
	// GET needs none.
	principalOf(t, b.get("/protected"))
}

func TestCookieAttributes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		policy     CookieSecurity
		tls        bool
		wantSecure bool
	}{
		{"auto over http", CookieSecureAuto, false, false},
		{"auto over https", CookieSecureAuto, true, true},
		{"always", CookieSecureAlways, false, true},
		{"never over https", CookieSecureNever, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, func(c *Config) { c.Cookies = tc.policy })
			u := f.dentist()
			// Sign in by hand to see the Set-Cookie header.
			secret, err := f.svc.startSignIn(t.Context(), u.Email, testPassword, "/")
			if err != nil {
				t.Fatal(err)
			}
			if err := f.svc.sendCode(t.Context(), secret, 0, "sms"); err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/login/code", strings.NewReader("code="+f.code(fxMobile)))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: signinCookie, Value: secret})
			if tc.tls {
				req.TLS = &tls.ConnectionState{}
			}
			rec := httptest.NewRecorder()
			f.svc.postCode(rec, req)
			var sc *http.Cookie
			for _, c := range rec.Result().Cookies() {
				if c.Name == SessionCookie {
					sc = c
				}
			}
			if sc == nil {
				t.Fatalf("no session cookie: %d %v", rec.Code, rec.Header())
			}
			if sc.Secure != tc.wantSecure || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" {
				t.Errorf("cookie %+v: want Secure=%v, HttpOnly, SameSite=Lax, Path=/", sc, tc.wantSecure)
			}
			if len(sc.Value) != 43 { // 32 bytes, unpadded base64url
				t.Errorf("session ID %d characters, want 43 (256 bits)", len(sc.Value))
			}
		})
	}
}

// TestSessionIDsAreStoredHashed: the database holds no session ID, no
// sign-in secret and no code.
func TestSessionIDsAreStoredHashed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.dentist()
	b := f.browser()
	want(t, "password", b.password(u.Email, testPassword), http.StatusSeeOther, "/login/factor")
	want(t, "send", b.sendCode(0, "sms"), http.StatusSeeOther, "/login/code")
	secret, code := b.cookie(signinCookie), f.code(fxMobile)
	if strings.Contains(dumpDB(t, f.svc), secret) || strings.Contains(dumpDB(t, f.svc), code) {
		t.Error("the sign-in secret or the code is stored in the clear")
	}
	want(t, "code", b.enterCode(code), http.StatusSeeOther, "/protected")
	id := b.cookie(SessionCookie)
	dump := dumpDB(t, f.svc)
	if strings.Contains(dump, id) || strings.Contains(dump, csrfToken(id)) {
		t.Error("the session ID or CSRF token is stored in the clear")
	}
}

// dumpDB returns every key and value in the database, as text.
func dumpDB(t *testing.T, s *Service) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []byte{tMeta, tOrg, tUser, tEmail, tSession, tUserSession, tPending, tThrottle, tCredential, tSecretHash} {
		err := s.db.scan([]byte{table}, func(k, v []byte) (bool, error) {
			b.Write(k)
			b.WriteByte(' ')
			b.Write(v)
			b.WriteByte('\n')
			return true, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func TestSessionBehindABasicAuthProxy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.dentist()
	b := f.browser()
	b.signIn(u.Email)
	principalOf(t, b.get("/protected", "Authorization", "Basic cHJveHk6cGFzcw=="))
	c := f.browser()
	want(t, "no session, Basic only", c.get("/protected", "Authorization", "Basic cHJveHk6cGFzcw==", "Accept", "text/html"),
		http.StatusSeeOther, "/login?next=%2Fprotected")
}

func TestSigningInEndsTheBrowsersPreviousSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.dentist()
	v := f.addUser("colleague", NewUser{GDCNumber: "22222", Phones: []Phone{{Number: "07700 900777"}},
		Grants: []Grant{{Role: RoleReferrer, Org: fxPractice}}})
	b := f.browser()
	b.signIn(u.Email)
	first := b.cookie(SessionCookie)
	want(t, "password", b.password(v.Email, testPassword), http.StatusSeeOther, "/login/factor")
	want(t, "send", b.sendCode(0, "sms"), http.StatusSeeOther, "/login/code")
	want(t, "code", b.enterCode(f.code("07700 900777")), http.StatusSeeOther, "/protected")
	if p := principalOf(t, b.get("/protected")); p.UserID != v.ID {
		t.Errorf("signed in as %s, want %s", p.UserID, v.ID)
	}
	c := f.browser()
	c.setCookie(SessionCookie, first)
	want(t, "the first session", c.get("/protected"), http.StatusUnauthorized, "")
}

func TestHasCredentials(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(r *http.Request)
		wants bool
	}{
		{"nothing", func(*http.Request) {}, false},
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") }, true},
		{"other scheme", func(r *http.Request) { r.Header.Set("Authorization", "Basic eA==") }, true},
		{"api key", func(r *http.Request) { r.Header.Set(HeaderAPIKey, "k") }, true},
		{"session cookie", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: SessionCookie, Value: "s"}) }, true},
		{"another cookie", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "theme", Value: "dark"}) }, false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		tc.set(r)
		if got := HasCredentials(r); got != tc.wants {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.wants)
		}
	}
}

// The session tells the pages what its role may do: exactly the matrix's
// answer, so a page never offers what the server refuses.
func TestSessionListsTheRolesActions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	b := f.browser()
	b.signIn(f.dentist().Email)
	r := b.get("/auth/session")
	var s Session
	if err := json.Unmarshal([]byte(r.body), &s); err != nil || r.status != http.StatusOK {
		t.Fatalf("session: %d %v", r.status, err)
	}
	for _, a := range Actions() {
		if got, want := slices.Contains(s.Actions, a), Allowed(s.Grant.Role, a); got != want {
			t.Errorf("%s: listed %v, the matrix says %v", a, got, want)
		}
	}
	if !slices.Contains(s.Actions, ActionReferralCreate) || slices.Contains(s.Actions, ActionAuditRead) {
		t.Errorf("a referrer's actions: %v", s.Actions)
	}
}
