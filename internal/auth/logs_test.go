package auth

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/notify"
)

// TestSecretsNeverLogged signs in (with a wrong code and a wrong password
// on the way), resets a password, uses an API key, a bearer token and the
// bootstrap token, and checks that the log — which must say what happened
// — holds none of the secrets.
func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	const bootstrap = "bootstrap-secret-value-42"
	f := newFixture(t, func(c *Config) { c.BootstrapToken = bootstrap })
	ctx := context.Background()
	u := f.dentist()
	var secrets []string

	b := f.browser()
	b.password(u.Email, "the wrong password 1")
	want(t, "password", b.password(u.Email, testPassword), http.StatusSeeOther, "/login/factor")
	secrets = append(secrets, b.cookie(signinCookie))
	want(t, "send", b.sendCode(0, notify.SMS), http.StatusSeeOther, "/login/code")
	code := f.code(fxMobile)
	secrets = append(secrets, code)
	b.enterCode(wrongCode(code))
	want(t, "code", b.enterCode(code), http.StatusSeeOther, "/protected")
	secrets = append(secrets, b.cookie(SessionCookie), b.csrf())
	principalOf(t, b.post("/protected", url.Values{FieldCSRF: {b.csrf()}}))

	r := f.browser()
	want(t, "reset", r.post("/login/reset", url.Values{"email": {u.Email}, "phone": {fxMobile}, "channel": {"voice"}}), http.StatusSeeOther, "/login/code")
	secrets = append(secrets, r.cookie(signinCookie))
	resetCode := f.code(fxMobile)
	secrets = append(secrets, resetCode)
	want(t, "reset code", r.enterCode(resetCode), http.StatusSeeOther, "/login/reset/password")
	const newPassword = "another long passphrase"
	want(t, "new password", r.post("/login/reset/password", url.Values{"password": {newPassword}, "again": {newPassword}}), http.StatusSeeOther, "")

	_, key, err := f.svc.IssueCredential(ctx, NewCredential{Kind: KindAPIKey, Name: "pms", Org: fxPractice})
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := f.svc.IssueCredential(ctx, NewCredential{Kind: KindBearer, Name: "pacs", Role: RoleClinician, Org: fxSite})
	if err != nil {
		t.Fatal(err)
	}
	principalOf(t, f.browser().get("/protected", HeaderAPIKey, key))
	principalOf(t, f.browser().get("/dicom", "Authorization", "Bearer "+token))
	f.browser().get("/protected", "Authorization", "Bearer "+bootstrap) // refused: sysadmin
	f.browser().get("/protected", HeaderAPIKey, key+"x")

	logs := f.logs.String()
	for _, s := range append(secrets, testPassword, "the wrong password 1", newPassword, key, token, bootstrap, key+"x") {
		if s == "" {
			t.Fatal("a secret was not captured")
		}
		// Whole words: a 6-digit code may turn up inside a hex ID by chance.
		if regexp.MustCompile(`(^|[^0-9A-Za-z_-])` + regexp.QuoteMeta(s) + `($|[^0-9A-Za-z_-])`).MatchString(logs) {
			t.Errorf("the log contains the secret %q", s)
		}
	}
	for _, phone := range []string{"900123", "07700 900123"} {
		if strings.Contains(logs, phone) {
			t.Errorf("the log contains the phone number %q", phone)
		}
	}
	// It does say what happened.
	for _, event := range []string{"sign-in refused: password", "sign-in code sent", "wrong sign-in code", "session started",
		"password changed", "credential issued", "refused"} {
		if !strings.Contains(logs, event) {
			t.Errorf("the log lacks %q:\n%s", event, logs)
		}
	}
}
