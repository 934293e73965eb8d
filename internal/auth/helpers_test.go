package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/notify"
)

// testArgon2 keeps the tests fast; the parameters are stored in each hash,
// so nothing else changes.
var testArgon2 = Argon2Params{Memory: 1024, Time: 1, Threads: 1}

// fakeClock is a clock the tests move.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixture is a Service with an Outbox, a fake clock, a test HTTP server
// and a few organisations and accounts.
type fixture struct {
	t      *testing.T
	svc    *Service
	outbox *notify.Outbox
	clock  *fakeClock
	srv    *httptest.Server
	dir    string
	logs   *syncBuffer
	users  map[string]User
}

const testPassword = "correct horse battery"

// Fixture organisations: formats per ValidateODS.
const (
	fxPractice     = "V012345"
	fxPractice2    = "V54321"
	fxTrust        = "RH8"
	fxSite         = "RH801"
	fxCommissioner = "QF7"
)

// Fixture phone numbers, from Ofcom's drama ranges.
const (
	fxMobile   = "07700 900123"
	fxLandline = "020 7946 0123"
)

func newFixture(t *testing.T, mods ...func(*Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	ob, err := notify.OpenOutbox(filepath.Join(dir, "outbox.jsonl"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	clock := &fakeClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	logs := &syncBuffer{}
	cfg := Config{
		Dir:      filepath.Join(dir, "auth"),
		Notifier: ob,
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Argon2:   testArgon2,
		Now:      clock.Now,
	}
	for _, m := range mods {
		m(&cfg)
	}
	svc, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Error(err)
		}
	})
	f := &fixture{t: t, svc: svc, outbox: ob, clock: clock, dir: dir, logs: logs, users: map[string]User{}}
	f.seedOrgs()
	mux := http.NewServeMux()
	svc.Mount(mux)
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := PrincipalFrom(r.Context())
		if !ok {
			http.Error(w, "no principal", http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(p)
	})
	mux.Handle("GET /protected", svc.Require(ActionReferralView)(whoami))
	mux.Handle("POST /protected", svc.Require(ActionReferralCreate)(whoami))
	mux.Handle("GET /dicom", svc.Require(ActionDICOMwebRetrieve)(whoami))
	mux.Handle("POST /upload", svc.Require(ActionFilmUpload)(whoami))
	mux.Handle("/any", svc.Require(ActionReferralCreate)(whoami))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) seedOrgs() {
	f.t.Helper()
	for _, o := range []Organisation{
		{Code: fxPractice, Name: "Test Practice", Kind: KindPractice},
		{Code: fxPractice2, Name: "Other Practice", Kind: KindPractice},
		{Code: fxTrust, Name: "Test Trust", Kind: KindProvider},
		{Code: fxSite, Name: "Test Hospital", Kind: KindProvider, Parent: fxTrust},
		{Code: fxCommissioner, Name: "Test ICB", Kind: KindCommissioner},
	} {
		if _, err := f.svc.CreateOrg(context.Background(), o); err != nil {
			f.t.Fatal(err)
		}
	}
}

// addUser creates an account with testPassword.
func (f *fixture) addUser(name string, nu NewUser) User {
	f.t.Helper()
	if nu.Email == "" {
		nu.Email = name + "@nhs.net"
	}
	if nu.Name == "" {
		nu.Name = name
	}
	if nu.Password == "" {
		nu.Password = testPassword
	}
	if nu.Phones == nil {
		nu.Phones = []Phone{{Number: fxMobile, Label: "mobile"}, {Number: fxLandline, Label: "desk"}}
	}
	u, err := f.svc.CreateUser(context.Background(), nu)
	if err != nil {
		f.t.Fatalf("create %s: %v", name, err)
	}
	f.users[name] = u
	return u
}

// dentist is a referrer at the fixture practice.
func (f *fixture) dentist() User {
	return f.addUser("dentist", NewUser{GDCNumber: "123456", Grants: []Grant{{Role: RoleReferrer, Org: fxPractice}}})
}

// browser is an HTTP client with cookies that does not follow redirects,
// so that each step of a flow can be seen.
type browser struct {
	t    *testing.T
	f    *fixture
	c    *http.Client
	base *url.URL
}

func (f *fixture) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		f.t.Fatal(err)
	}
	u, _ := url.Parse(f.srv.URL)
	return &browser{t: f.t, f: f, base: u, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type resp struct {
	status int
	loc    string
	body   string
	header http.Header
}

func (b *browser) do(req *http.Request) resp {
	b.t.Helper()
	r, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	return resp{status: r.StatusCode, loc: r.Header.Get("Location"), body: string(body), header: r.Header}
}

func (b *browser) get(path string, hdr ...string) resp {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.f.srv.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return b.do(req)
}

func (b *browser) post(path string, form url.Values, hdr ...string) resp {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return b.do(req)
}

func (b *browser) cookie(name string) string {
	for _, c := range b.c.Jar.Cookies(b.base) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (b *browser) setCookie(name, value string) {
	b.c.Jar.SetCookies(b.base, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// csrf fetches the session's CSRF token from /auth/session.
func (b *browser) csrf() string {
	b.t.Helper()
	r := b.get("/auth/session")
	if r.status != http.StatusOK {
		b.t.Fatalf("GET /auth/session: %d %s", r.status, r.body)
	}
	var s Session
	if err := json.Unmarshal([]byte(r.body), &s); err != nil {
		b.t.Fatal(err)
	}
	return s.CSRFToken
}

func want(t *testing.T, what string, r resp, status int, loc string) {
	t.Helper()
	if r.status != status || (loc != "" && r.loc != loc) {
		t.Fatalf("%s: got %d %q, want %d %q; body: %s", what, r.status, r.loc, status, loc, r.body)
	}
}

// password posts the first form and expects the factor page next.
func (b *browser) password(email, pw string) resp {
	b.t.Helper()
	return b.post("/login", url.Values{"email": {email}, "password": {pw}, "next": {"/protected"}})
}

// sendCode chooses phone idx and a channel.
func (b *browser) sendCode(idx int, ch notify.Channel) resp {
	b.t.Helper()
	return b.post("/login/factor", url.Values{"phone": {strconv.Itoa(idx)}, "channel": {string(ch)}})
}

func (b *browser) enterCode(code string) resp {
	b.t.Helper()
	return b.post("/login/code", url.Values{"code": {code}})
}

// signIn goes through every step by SMS to the first phone and expects
// to land on /protected.
func (b *browser) signIn(email string) {
	b.t.Helper()
	want(b.t, "password", b.password(email, testPassword), http.StatusSeeOther, "/login/factor")
	want(b.t, "send code", b.sendCode(0, notify.SMS), http.StatusSeeOther, "/login/code")
	want(b.t, "enter code", b.enterCode(b.f.code(fxMobile)), http.StatusSeeOther, "/protected")
}

var (
	smsCode   = regexp.MustCompile(`code is (\d{6})\.`)
	voiceCode = regexp.MustCompile(`code is: (\d(?:, \d){5})\.`)
)

// code reads the latest sign-in code sent to a number from the outbox.
func (f *fixture) code(number string) string {
	f.t.Helper()
	m, ok := f.outbox.Latest(number)
	if !ok {
		f.t.Fatalf("no message to %s in the outbox", number)
	}
	if g := smsCode.FindStringSubmatch(m.Text); g != nil && m.Channel == notify.SMS {
		return g[1]
	}
	if g := voiceCode.FindStringSubmatch(m.Text); g != nil && m.Channel == notify.Voice {
		return strings.ReplaceAll(g[1], ", ", "")
	}
	f.t.Fatalf("no code in the message %q", m.Text)
	return ""
}

// outboxCount counts messages in the outbox.
func (f *fixture) outboxCount() int { return len(f.outbox.Recent(1 << 20)) }

// principalOf decodes the whoami answer.
func principalOf(t *testing.T, r resp) Principal {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("protected request: %d %s", r.status, r.body)
	}
	var p Principal
	if err := json.Unmarshal([]byte(r.body), &p); err != nil {
		t.Fatalf("decode principal %q: %v", r.body, err)
	}
	return p
}

// wrongCode returns a 6-digit code that is not c.
func wrongCode(c string) string {
	if c == "000000" {
		return "111111"
	}
	return "000000"
}

func httptestRequest(method, target string) *http.Request {
	return httptest.NewRequest(method, target, nil)
}

func recordRequest(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// isStatus reports whether err is an *AccessError with the status.
func isStatus(err error, status int) bool {
	var ae *AccessError
	return errors.As(err, &ae) && ae.Status == status
}
