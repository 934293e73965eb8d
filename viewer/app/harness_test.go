package app

// The pages are tested as people use them: the real molar binary serving
// its demo region, headless Chromium signing in through the sign-in pages
// with the code from the outbox, and the pages driven by clicks and keys.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

var (
	molarBin string // built once by TestMain
	demoOnce sync.Once
	demoSrv  *demoServer
	demoErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "molar-app-test")
	if err != nil {
		log.Fatal(err)
	}
	molarBin = filepath.Join(dir, "molar")
	build := exec.Command("go", "build", "-o", molarBin, "github.com/molar-pacs/molar/cmd/molar")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		log.Fatalf("build molar: %v", err)
	}
	code := m.Run()
	if demoSrv != nil {
		demoSrv.stop()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// demoServer is `molar serve --demo` on loopback ports.
type demoServer struct {
	Base      string // http://127.0.0.1:port
	Token     string // the bootstrap bearer token (--api-token): full rights, for setting up data
	DICOMPort int
	Data      string
	cmd       *exec.Cmd
	stderr    *os.File
	done      chan struct{} // closed when the process has exited
}

// demo returns the package's demo server, started on first use and
// shared by the tests: they work on different demo referrals, or on
// referrals they create.
func demo(t *testing.T) *demoServer {
	t.Helper()
	demoOnce.Do(func() { demoSrv, demoErr = startDemo() })
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	return demoSrv
}

func startDemo() (*demoServer, error) {
	data, err := os.MkdirTemp("", "molar-app-demo")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	stderr, err := os.CreateTemp("", "molar-app-stderr")
	if err != nil {
		return nil, err
	}
	s := &demoServer{Data: data, DICOMPort: port, stderr: stderr, Token: "app-test-bootstrap-token", done: make(chan struct{})}
	s.cmd = exec.Command(molarBin, "serve", "--demo", "--data", data, "--http", "127.0.0.1:0", "--dicom", fmt.Sprintf("127.0.0.1:%d", port),
		"--peer", "STORESCU=127.0.0.1:104", "--api-token", s.Token)
	s.cmd.Stderr = stderr
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	found := make(chan string, 1)
	exited := make(chan error, 1)
	go func() {
		re := regexp.MustCompile(`Browser:\s+(http://[^/\s]+)/`)
		for sc := bufio.NewScanner(out); sc.Scan(); {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		exited <- s.cmd.Wait() // stdout closes when molar exits
		close(s.done)
	}()
	failed := func(why string) (*demoServer, error) {
		b, _ := os.ReadFile(stderr.Name()) // before stop removes it
		s.stop()
		return nil, fmt.Errorf("molar serve --demo %s; its log:\n%s", why, b)
	}
	// The first start seeds the region; on a loaded machine that takes a
	// while, so the limit is generous.
	select {
	case s.Base = <-found:
		return s, nil
	case err := <-exited:
		return failed(fmt.Sprintf("exited (%v) before serving", err))
	case <-time.After(120 * time.Second):
		return failed("did not start within 120 s")
	}
}

func (s *demoServer) stop() {
	s.cmd.Process.Kill()
	select { // the reader goroutine reaps the process
	case <-s.done:
	case <-time.After(5 * time.Second):
	}
	os.RemoveAll(s.Data)
	os.Remove(s.stderr.Name())
}

// demoPhones are the demo accounts' first phone numbers (E.164), where
// their sign-in codes go (internal/auth/seed.go).
var demoPhones = map[string]string{
	"referrer@demo.molar.test": "+447700900101", "practice-admin@demo.molar.test": "+447700900102",
	"clinician@demo.molar.test": "+447700900103", "clinician-admin@demo.molar.test": "+447700900104",
	"provider-admin@demo.molar.test": "+447700900105", "service-definer@demo.molar.test": "+447700900106",
	"analyst@demo.molar.test": "+447700900107", "booking@demo.molar.test": "+447700900108",
	"sysadmin@demo.molar.test": "+447700900109", "two-roles@demo.molar.test": "+447700900110",
}

// code waits for a sign-in code sent to phone after since.
func (s *demoServer) code(t *testing.T, phone string, since time.Time) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.Base + "/admin/outbox?format=json")
		if err != nil {
			t.Fatal(err)
		}
		var outbox struct {
			Messages []struct {
				To     string    `json:"to"`
				Text   string    `json:"text"`
				SentAt time.Time `json:"sent_at"`
			}
		}
		json.NewDecoder(resp.Body).Decode(&outbox)
		resp.Body.Close()
		for _, m := range outbox.Messages { // newest first
			if m.To == phone && !m.SentAt.Before(since) {
				if c := regexp.MustCompile(`\b\d{6}\b`).FindString(m.Text); c != "" {
					return c
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no sign-in code for %s in the outbox", phone)
	return ""
}

// browser is one headless Chromium tab.
type browser struct {
	t   *testing.T
	ctx context.Context
	srv *demoServer
}

// chromium finds the browser. Missing is a failure, not a skip.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is needed for the page tests and was not found (scripts/install-deps.sh installs it)")
	return ""
}

// newBrowser opens a tab of the given size on the demo server.
func newBrowser(t *testing.T, srv *demoServer, width, height int) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.WindowSize(width, height), chromedp.Flag("hide-scrollbars", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to sandbox as root
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	// chromedp's protocol types are older than this Chromium: reports of
	// events they do not know are noise.
	quiet := func(format string, args ...any) {
		if msg := fmt.Sprintf(format, args...); !strings.Contains(msg, "unhandled") && !strings.Contains(msg, "unknown") {
			log.Print(msg)
		}
	}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(quiet), chromedp.WithLogf(quiet))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, ctx: ctx, srv: srv}
}

// run runs actions with a deadline.
func (b *browser) run(actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v (at %s)", err, b.location())
	}
}

func (b *browser) location() string {
	var u string
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	chromedp.Run(ctx, chromedp.Location(&u))
	return u
}

// eval evaluates a JavaScript expression, awaiting a promise.
func (b *browser) eval(expr string, out any) {
	b.t.Helper()
	b.run(chromedp.Evaluate(expr, out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
}

// open loads a path of the server.
func (b *browser) open(path string) {
	b.t.Helper()
	b.run(chromedp.Navigate(b.srv.Base + path))
}

// sessions keeps each account's session cookie once it has signed in:
// an account may be sent only five codes an hour (internal/auth), and the
// tests sign the same people in many times.
var sessions = struct {
	sync.Mutex
	cookies map[string][]*network.CookieParam
}{cookies: map[string][]*network.CookieParam{}}

// signIn signs in as email: the first time for an account through the
// sign-in pages with the code from the outbox, later with the session
// that gave (again through the pages if it has ended). grant picks a role
// when the account has several (-1: the first). It ends on the person's
// start page.
func (b *browser) signIn(email string, grant int) {
	b.t.Helper()
	key := fmt.Sprintf("%s/%d", email, grant)
	sessions.Lock()
	saved := sessions.cookies[key]
	sessions.Unlock()
	if saved != nil {
		b.run(network.SetCookies(saved))
		// Ask whether the session still stands from a page that does not
		// move on by itself, then go to the start page.
		b.open("/track")
		var status int
		b.eval(`fetch("/auth/session", {credentials: "same-origin"}).then((r) => r.status)`, &status)
		if status == http.StatusOK {
			b.open("/app/")
			b.run(chromedp.WaitVisible(".app-header__user", chromedp.ByQuery))
			return
		}
	}
	b.signInWithCode(email, grant)
	var cookies []*network.Cookie
	b.run(chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().Do(ctx)
		return err
	}))
	var params []*network.CookieParam
	for _, c := range cookies {
		params = append(params, &network.CookieParam{Name: c.Name, Value: c.Value, Domain: c.Domain, Path: c.Path,
			Secure: c.Secure, HTTPOnly: c.HTTPOnly, SameSite: c.SameSite})
	}
	sessions.Lock()
	sessions.cookies[key] = params
	sessions.Unlock()
}

// signInWithCode goes through the sign-in pages.
func (b *browser) signInWithCode(email string, grant int) {
	b.t.Helper()
	phone, ok := demoPhones[email]
	if !ok {
		b.t.Fatalf("no demo account %s", email)
	}
	since := time.Now().Add(-time.Second)
	b.open("/login")
	b.run(
		chromedp.SetValue("#email", email, chromedp.ByQuery),
		chromedp.SetValue("#password", "molar-demo-password", chromedp.ByQuery),
		chromedp.Click(`form[action="/login"] button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`form[action="/login/factor"]`, chromedp.ByQuery),
		chromedp.Click(`form[action="/login/factor"] button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible("#code", chromedp.ByQuery),
	)
	code := b.srv.code(b.t, phone, since)
	b.run(
		chromedp.SetValue("#code", code, chromedp.ByQuery),
		chromedp.Click(`form[action="/login/code"] button[type=submit]`, chromedp.ByQuery),
	)
	if grant >= 0 {
		b.run(
			chromedp.WaitVisible(`form[action="/login/role"]`, chromedp.ByQuery),
			chromedp.Click(fmt.Sprintf(`input[name=grant][value="%d"]`, grant), chromedp.ByQuery),
			chromedp.Click(`form[action="/login/role"] button[type=submit]`, chromedp.ByQuery),
		)
	}
	b.run(chromedp.WaitVisible(".app-header__user", chromedp.ByQuery))
}

// screenshot saves the page as a PNG artefact for people to look at:
// $MOLAR_ARTIFACTS/pages/<name>.png, or the test's temporary directory.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("MOLAR_ARTIFACTS")
	if dir == "" {
		dir = b.t.TempDir()
	}
	dir = filepath.Join(dir, "pages")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	var png []byte
	b.run(chromedp.FullScreenshot(&png, 100)) // 100: PNG; below, JPEG
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// text is the visible text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	var s string
	b.run(chromedp.WaitVisible(sel, chromedp.ByQuery), chromedp.Text(sel, &s, chromedp.ByQuery))
	return s
}
