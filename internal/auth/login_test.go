package auth

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/notify"
)

func TestSignInBySMS(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.dentist()
	b := f.browser()

	r := b.get("/login?next=/protected")
	want(t, "login page", r, http.StatusOK, "")
	if !strings.Contains(r.body, `name="password"`) || !strings.Contains(r.body, `value="/protected"`) {
		t.Fatalf("login page lacks its form: %s", r.body)
	}
	want(t, "password", b.password(u.Email, testPassword), http.StatusSeeOther, "/login/factor")
	if b.cookie(SessionCookie) != "" {
		t.Fatal("a session after the password alone")
	}
	r = b.get("/login/factor")
	want(t, "factor page", r, http.StatusOK, "")
	if !strings.Contains(r.body, "07••• •••123") || strings.Contains(r.body, "900123") {
		t.Errorf("factor page should show the masked numbers only: %s", r.body)
	}
	want(t, "send", b.sendCode(0, notify.SMS), http.StatusSeeOther, "/login/code")
	msg, _ := f.outbox.Latest(fxMobile)
	if msg.Channel != notify.SMS || !strings.Contains(msg.Text, "expires in 10 minutes") {
		t.Errorf("message %+v", msg)
	}
	r = b.get("/login/code")
	if !strings.Contains(r.body, "by text message to 07••• •••123") {
		t.Errorf("code page does not say where the code went: %s", r.body)
	}
	want(t, "code", b.enterCode(f.code(fxMobile)), http.StatusSeeOther, "/protected")
	if b.cookie(signinCookie) != "" {
		t.Error("the sign-in cookie outlived the sign-in")
	}
	p := principalOf(t, b.get("/protected"))
	if p.UserID != u.ID || p.Email != u.Email || p.Name != u.Name || p.Name == "" || p.Role != RoleReferrer || p.Org != fxPractice || p.Via != ViaSession {
		t.Errorf("principal %+v", p)
	}
}

func TestSignInByVoiceToALandline(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.dentist()
	b := f.browser()
	want(t, "password", b.password(u.Email, testPassword), http.StatusSeeOther, "/login/factor")
	r := b.sendCode(1, notify.SMS)
	want(t, "SMS to a landline", r, http.StatusBadRequest, "")
	if !strings.Contains(r.body, "cannot receive text messages") {
		t.Errorf("message: %s", r.body)
	}
	want(t, "voice", b.sendCode(1, notify.Voice), http.StatusSeeOther, "/login/code")
	msg, _ := f.outbox.Latest(fxLandline)
	if msg.Channel != notify.Voice {
		t.Fatalf("message %+v", msg)
	}
	want(t, "code", b.enterCode(f.code(fxLandline)), http.StatusSeeOther, "/protected")
	principalOf(t, b.get("/protected"))
}

func TestWrongExpiredAndReusedCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(t *testing.T, f *fixture, b *browser)
	}{
		{"wrong then right", func(t *testing.T, f *fixture, b *browser) {
			code := f.code(fxMobile)
			r := b.enterCode(wrongCode(code))
			want(t, "wrong code", r, http.StatusUnauthorized, "")
			if !strings.Contains(r.body, "not right. You have 2 more tries") {
				t.Errorf("message: %s", r.body)
			}
			want(t, "right code", b.enterCode(code[:3]+" "+code[3:]), http.StatusSeeOther, "/protected")
		}},
		{"tried too many times", func(t *testing.T, f *fixture, b *browser) {
			code := f.code(fxMobile)
			for range 2 {
				want(t, "wrong code", b.enterCode(wrongCode(code)), http.StatusUnauthorized, "")
			}
			r := b.enterCode(wrongCode(code))
			if !strings.Contains(r.body, "tried too many times") {
				t.Errorf("third wrong code: %s", r.body)
			}
			r = b.enterCode(code)
			want(t, "the right code, too late", r, http.StatusUnauthorized, "")
			want(t, "new code", b.sendCode(0, notify.SMS), http.StatusSeeOther, "/login/code")
			want(t, "new code entered", b.enterCode(f.code(fxMobile)), http.StatusSeeOther, "/protected")
		}},
		{"expired", func(t *testing.T, f *fixture, b *browser) {
			code := f.code(fxMobile)
			f.clock.Advance(10*time.Minute + time.Second)
			r := b.enterCode(code)
			want(t, "expired code", r, http.StatusUnauthorized, "")
			if !strings.Contains(r.body, "expired") {
				t.Errorf("message: %s", r.body)
			}
			want(t, "new code", b.sendCode(0, notify.SMS), http.StatusSeeOther, "/login/code")
			want(t, "new code entered", b.enterCode(f.code(fxMobile)), http.StatusSeeOther, "/protected")
		}},
		{"just in time", func(t *testing.T, f *fixture, b *browser) {
			f.clock.Advance(10*time.Minute - time.Second)
			want(t, "code", b.enterCode(f.code(fxMobile)), http.StatusSeeOther, "/protected")
		}},
		{"reused", func(t *testing.T, f *fixture, b *browser) {
			secret := b.cookie(signinCookie)
			code := f.code(fxMobile)
			want(t, "code", b.enterCode(code), http.StatusSeeOther, "/protected")
			b.setCookie(signinCookie, secret) // replay the finished sign-in
			r := b.enterCode(code)
			want(t, "code again", r, http.StatusUnauthorized, "")
			if !strings.Contains(r.body, "Start again") {
				t.Errorf("message: %s", r.body)
			}
			c := f.browser()
			c.setCookie(signinCookie, secret)
			want(t, "code again, other browser", c.enterCode(code), http.StatusUnauthorized, "")
			if c.cookie(SessionCookie) != "" {
				t.Error("a reused code gave a session")
			}
		}},
		{"an older code after a new one", func(t *testing.T, f *fixture, b *browser) {
			old := f.code(fxMobile)
			// Two random codes collide once in a million: send until not.
			for f.code(fxMobile) == old {
				want(t, "another send", b.sendCode(0, notify.SMS), http.StatusSeeOther, "/login/code")
			}
			want(t, "old code", b.enterCode(old), http.StatusUnauthorized, "")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			u := f.dentist()
			b := f.browser()
			want(t, "password", b.password(u.Email, testPassword), http.StatusSeeOther, "/login/factor")
			want(t, "send", b.sendCode(0, notify.SMS), http.StatusSeeOther, "/login/code")
			tc.run(t, f, b)
		})
	}
}

func TestLockout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fail func(t *testing.T, f *fixture, b *browser, email string, i int) resp
	}{
		{"wrong passwords", func(t *testing.T, f *fixture, b *browser, email string, i int) resp {
			return b.password(email, "not the password")
		}},
		{"wrong codes", func(t *testing.T, f *fixture, b *browser, email string, i int) resp {
			if i%3 == 0 { // three tries per code: get a fresh one
				want(t, "password", b.password(email, testPassword), http.StatusSeeOther, "/login/factor")
				want(t, "send", b.sendCode(0, notify.SMS), http.StatusSeeOther, "/login/code")
			}
			return b.enterCode(wrongCode(f.code(fxMobile)))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			u := f.dentist()
			b := f.browser()
			for i := range 4 {
				if r := tc.fail(t, f, b, u.Email, i); r.status != http.StatusUnauthorized {
					t.Fatalf("failure %d: %d %s", i+1, r.status, r.body)
				}
			}
			r := tc.fail(t, f, b, u.Email, 4)
			want(t, "fifth failure", r, http.StatusTooManyRequests, "")
			// 09:00 UTC on 2 March is 09:00 in London; locked for 15 minutes.
			if !strings.Contains(r.body, "paused until 09:") || !strings.Contains(r.body, "in about 15 minutes") {
				t.Errorf("lockout message should say until when: %s", r.body)
			}
			if r.header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			// Even the right password is refused while locked, with the same message.
			r = b.password(u.Email, testPassword)
			want(t, "right password while locked", r, http.StatusTooManyRequests, "")
			if !strings.Contains(r.body, "paused until") {
				t.Errorf("message: %s", r.body)
			}
			// So is a reset.
			r = b.post("/login/reset", url.Values{"email": {u.Email}, "phone": {fxMobile}, "channel": {"sms"}})
			want(t, "reset while locked", r, http.StatusTooManyRequests, "")

			f.clock.Advance(15 * time.Minute)
			b.signIn(u.Email)
			principalOf(t, b.get("/protected"))
		})
	}
}

// TestUnknownAddress: an address without an account gets the same answer
// as a wrong password, costs the same argon2id work, and is locked out the
// same way, so that neither reveals who has an account.
func TestUnknownAddress(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.dentist()
	b := f.browser()

	before := f.svc.hashes.Load()
	wrong := b.password(u.Email, "not the password")
	if n := f.svc.hashes.Load() - before; n != 1 {
		t.Errorf("wrong password: %d argon2 evaluations, want 1", n)
	}
	before = f.svc.hashes.Load()
	unknown := b.password("nobody@nhs.net", "not the password")
	if n := f.svc.hashes.Load() - before; n != 1 {
		t.Errorf("unknown address: %d argon2 evaluations, want 1", n)
	}
	if wrong.status != unknown.status || wrong.body != unknown.body {
		t.Errorf("answers differ:\nwrong password: %d %s\nunknown address: %d %s", wrong.status, wrong.body, unknown.status, unknown.body)
	}
	// The dummy hash costs what a real one does.
	p, _, _, err := parseHash(f.svc.dummyHash)
	if err != nil || p != testArgon2 {
		t.Errorf("dummy hash parameters %+v (%v), want %+v", p, err, testArgon2)
	}
	for range 4 {
		b.password("nobody@nhs.net", "x")
	}
	if r := b.password("nobody@nhs.net", "x"); r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "paused until") {
		t.Errorf("unknown address is not locked like a known one: %d %s", r.status, r.body)
	}
}

func TestCodeSendLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.dentist()
	b := f.browser()
	want(t, "password", b.password(u.Email, testPassword), http.StatusSeeOther, "/login/factor")
	for i := range 5 {
		want(t, "send "+strconv.Itoa(i), b.sendCode(0, notify.SMS), http.StatusSeeOther, "/login/code")
	}
	n := f.outboxCount()
	r := b.sendCode(0, notify.SMS)
	want(t, "sixth send", r, http.StatusTooManyRequests, "")
	if !strings.Contains(r.body, "Too many codes") || f.outboxCount() != n {
		t.Errorf("sixth send: %s; outbox %d → %d", r.body, n, f.outboxCount())
	}
	// An hour later, codes can be sent again (the flow itself has expired
	// by then: start again).
	f.clock.Advance(time.Hour)
	b.signIn(u.Email)
}

func TestRoleChoice(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.addUser("twohats", NewUser{Grants: []Grant{{Role: RoleClinician, Org: fxSite}, {Role: RoleAnalyst, Org: fxCommissioner}}})
	b := f.browser()
	want(t, "password", b.password(u.Email, testPassword), http.StatusSeeOther, "/login/factor")
	want(t, "send", b.sendCode(0, notify.SMS), http.StatusSeeOther, "/login/code")
	want(t, "code", b.enterCode(f.code(fxMobile)), http.StatusSeeOther, "/login/role")
	r := b.get("/login/role")
	if !strings.Contains(r.body, "Service provider clinician (B1110) at Test Hospital (RH801)") ||
		!strings.Contains(r.body, "Information analyst (B1130) at Test ICB (QF7)") {
		t.Fatalf("role page: %s", r.body)
	}
	want(t, "bad choice", b.post("/login/role", url.Values{"grant": {"7"}}), http.StatusBadRequest, "")
	want(t, "choose analyst", b.post("/login/role", url.Values{"grant": {"1"}}), http.StatusSeeOther, "/protected")
	want(t, "analyst may not view referrals", b.get("/protected"), http.StatusForbidden, "")

	// Switching role gives a new session ID in the other grant.
	old := b.cookie(SessionCookie)
	r = b.post("/auth/role", url.Values{"grant": {"0"}, FieldCSRF: {b.csrf()}})
	want(t, "switch role", r, http.StatusOK, "")
	if b.cookie(SessionCookie) == old {
		t.Error("switching role kept the session ID")
	}
	if p := principalOf(t, b.get("/protected")); p.Role != RoleClinician || p.Org != fxSite {
		t.Errorf("after switching: %+v", p)
	}
	c := f.browser()
	c.setCookie(SessionCookie, old)
	want(t, "old session after switch", c.get("/protected"), http.StatusUnauthorized, "")
}

func TestClinicianAdminActsOnBehalf(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	clin := f.addUser("consultant", NewUser{Email: "consultant@nhs.net", Phones: []Phone{{Number: "07700 900999"}},
		Grants: []Grant{{Role: RoleClinician, Org: fxSite}}})
	sec := f.addUser("secretary", NewUser{Grants: []Grant{{Role: RoleClinicianAdmin, Org: fxSite, OnBehalfOf: clin.ID}}})
	b := f.browser()
	b.signIn(sec.Email)
	p := principalOf(t, b.get("/protected"))
	if p.Role != RoleClinicianAdmin || p.OnBehalfOf != clin.ID || p.UserID != sec.ID {
		t.Errorf("principal %+v: want B1115 on behalf of %s", p, clin.ID)
	}
}

func TestPasswordReset(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.dentist()
	old := f.browser()
	old.signIn(u.Email)

	b := f.browser()
	want(t, "reset page", b.get("/login/reset"), http.StatusOK, "")
	r := b.post("/login/reset", url.Values{"email": {u.Email}, "phone": {"+44 7700 900123"}, "channel": {"sms"}})
	want(t, "reset", r, http.StatusSeeOther, "/login/code")
	r = b.get("/login/code")
	if !strings.Contains(r.body, "If these details match an account") {
		t.Errorf("code page: %s", r.body)
	}
	want(t, "no password page before the code", b.get("/login/reset/password"), http.StatusUnauthorized, "")
	want(t, "code", b.enterCode(f.code(fxMobile)), http.StatusSeeOther, "/login/reset/password")
	r = b.post("/login/reset/password", url.Values{"password": {"short"}, "again": {"short"}})
	want(t, "short password", r, http.StatusBadRequest, "")
	r = b.post("/login/reset/password", url.Values{"password": {"a new long passphrase"}, "again": {"a different one"}})
	want(t, "mismatch", r, http.StatusBadRequest, "")
	r = b.post("/login/reset/password", url.Values{"password": {"a new long passphrase"}, "again": {"a new long passphrase"}})
	want(t, "new password", r, http.StatusSeeOther, "/login?password-changed")

	want(t, "sessions end with a reset", old.get("/protected"), http.StatusUnauthorized, "")
	c := f.browser()
	want(t, "old password", c.password(u.Email, testPassword), http.StatusUnauthorized, "")
	want(t, "new password", c.password(u.Email, "a new long passphrase"), http.StatusSeeOther, "/login/factor")
	want(t, "reset flow is over", b.post("/login/reset/password",
		url.Values{"password": {"yet another passphrase"}, "again": {"yet another passphrase"}}), http.StatusUnauthorized, "")
}

// TestPasswordResetRevealsNothing: an unknown address, or a number not
// registered, gets the same answers as a real one, and no message is sent.
func TestPasswordResetRevealsNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.dentist()
	for _, tc := range []struct{ name, email, phone string }{
		{"unknown address", "nobody@nhs.net", fxMobile},
		{"unregistered number", u.Email, "07700 900555"},
	} {
		b := f.browser()
		n := f.outboxCount()
		r := b.post("/login/reset", url.Values{"email": {tc.email}, "phone": {tc.phone}, "channel": {"sms"}})
		want(t, tc.name, r, http.StatusSeeOther, "/login/code")
		page := b.get("/login/code")
		if !strings.Contains(page.body, "If these details match an account") {
			t.Errorf("%s: code page %s", tc.name, page.body)
		}
		if f.outboxCount() != n {
			t.Errorf("%s: a message was sent", tc.name)
		}
		r = b.enterCode("123456")
		want(t, tc.name+": any code", r, http.StatusUnauthorized, "")
		if !strings.Contains(r.body, "not right. You have 2 more tries") {
			t.Errorf("%s: %s", tc.name, r.body)
		}
	}
	b := f.browser()
	r := b.post("/login/reset", url.Values{"email": {u.Email}, "phone": {"not a number"}, "channel": {"sms"}})
	want(t, "bad number", r, http.StatusBadRequest, "")
}

func TestNextIsKeptOnSite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"/protected", "/protected"},
		{"/archive/?study=1", "/archive/?study=1"},
		{"", "/"},
		{"https://evil.example/", "/"},
		{"//evil.example/", "/"},
		{"/\\evil.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"/ok\r\nSet-Cookie: x=y", "/"},
	} {
		if got := safeNext(tc.in); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCrossSiteLoginFormIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.dentist()
	b := f.browser()
	r := b.post("/login", url.Values{"email": {u.Email}, "password": {testPassword}}, "Sec-Fetch-Site", "cross-site")
	want(t, "cross-site sign-in post", r, http.StatusForbidden, "")
	r = b.post("/login", url.Values{"email": {u.Email}, "password": {testPassword}}, "Sec-Fetch-Site", "same-origin")
	want(t, "same-origin sign-in post", r, http.StatusSeeOther, "/login/factor")
}

func TestDisabledAccount(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.dentist()
	b := f.browser()
	b.signIn(u.Email)
	if err := f.svc.DisableUser(context.Background(), u.ID); err != nil {
		t.Fatal(err)
	}
	want(t, "session of a disabled account", b.get("/protected"), http.StatusUnauthorized, "")
	r := f.browser().password(u.Email, testPassword)
	want(t, "disabled sign-in", r, http.StatusUnauthorized, "")
	if !strings.Contains(r.body, "email address or password is not right") {
		t.Errorf("message: %s", r.body)
	}
}

func TestOutdatedHashIsUpgraded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.dentist()
	stronger := Argon2Params{Memory: 2048, Time: 1, Threads: 1}
	f.svc.cfg.Argon2 = stronger // before any concurrent use: the server is idle
	want(t, "password", f.browser().password(u.Email, testPassword), http.StatusSeeOther, "/login/factor")
	rec, err := f.svc.userRecord(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p, _, _, err := parseHash(rec.PasswordHash); err != nil || p != stronger {
		t.Errorf("hash parameters after sign-in %+v (%v), want %+v", p, err, stronger)
	}
	want(t, "password again", f.browser().password(u.Email, testPassword), http.StatusSeeOther, "/login/factor")
}

func TestTrustedOrigin(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.TrustedOrigins = []string{"https://molar.example.nhs.uk"} })
	u := f.dentist()
	form := url.Values{"email": {u.Email}, "password": {testPassword}}
	want(t, "trusted origin", f.browser().post("/login", form, "Origin", "https://molar.example.nhs.uk", "Sec-Fetch-Site", "cross-site"),
		http.StatusSeeOther, "/login/factor")
	want(t, "other origin", f.browser().post("/login", form, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"),
		http.StatusForbidden, "")
	_, err := New(context.Background(), Config{Dir: t.TempDir(), Notifier: f.outbox, Argon2: testArgon2, TrustedOrigins: []string{"not a url"}})
	if err == nil {
		t.Error("New took a malformed trusted origin")
	}
}
