package demographics

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKey is shared by the tests: generating an RSA key takes a while.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

const (
	testAPIKey = "Xz8qTestApplicationKey00000000000"
	testKID    = "molar-int-1"
	tokenPath  = "/oauth2/token"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 5, 11, 9, 0, 0, 0, time.UTC)}
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

// fakeTokenServer is the API platform's token endpoint: it checks each
// request as the signed JWT authentication guide describes it and answers
// as the platform does.
type fakeTokenServer struct {
	t     *testing.T
	pub   *rsa.PublicKey
	clock *fakeClock
	url   string // the token URL, which must be the JWT's audience
	// expiresIn is sent as expires_in; the platform sends a string.
	expiresIn any
	// respond, when set, may answer request n (from 1) itself: it returns
	// false to leave the answer to the fake. It runs after the checks.
	respond func(w http.ResponseWriter, r *http.Request, n int) bool

	mu         sync.Mutex
	jtis       map[string]bool
	assertions []string
	n          int
}

func (f *fakeTokenServer) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func (f *fakeTokenServer) seenAssertions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.assertions...)
}

func (f *fakeTokenServer) refuse(w http.ResponseWriter, status int, code, format string, args ...any) {
	f.t.Helper()
	desc := fmt.Sprintf(format, args...)
	f.t.Errorf("token endpoint: %s", desc)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc, "message_id": "rrt-test"})
}

func (f *fakeTokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()

	if r.Method != http.MethodPost || r.URL.Path != tokenPath {
		f.refuse(w, 404, "invalid_request", "%s %s", r.Method, r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		f.refuse(w, 400, "invalid_request", "Content-Type %q", ct)
		return
	}
	if err := r.ParseForm(); err != nil {
		f.refuse(w, 400, "invalid_request", "form: %v", err)
		return
	}
	form := r.PostForm
	if len(r.URL.Query()) != 0 {
		f.refuse(w, 400, "invalid_request", "parameters in the URL: %v", r.URL.RawQuery)
		return
	}
	if len(form) != 3 {
		f.refuse(w, 400, "invalid_request", "form has %d fields, want 3", len(form))
		return
	}
	if got := form.Get("grant_type"); got != "client_credentials" {
		f.refuse(w, 400, "unsupported_grant_type", "grant_type must be 'client_credentials', not %q", got)
		return
	}
	if got := form.Get("client_assertion_type"); got != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		f.refuse(w, 400, "invalid_request", "Missing or invalid client_assertion_type: %q", got)
		return
	}
	assertion := form.Get("client_assertion")
	f.mu.Lock()
	f.assertions = append(f.assertions, assertion)
	f.mu.Unlock()
	if err := f.check(assertion); err != nil {
		f.refuse(w, 401, "invalid_request", "client_assertion: %v", err)
		return
	}
	if f.respond != nil && f.respond(w, r, n) {
		return
	}
	exp := f.expiresIn
	if exp == nil {
		exp = "599"
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": fmt.Sprintf("access-%d", n),
		"expires_in":   exp,
		"token_type":   "Bearer",
		"issued_at":    fmt.Sprint(f.clock.Now().UnixMilli()),
	})
}

// check verifies a client assertion: an RS512 JWT from our application,
// for this endpoint, unexpired, expiring within 5 minutes, never seen before.
func (f *fakeTokenServer) check(jwt string) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return fmt.Errorf("%d parts, want 3", len(parts))
	}
	var raw [3][]byte
	for i, p := range parts {
		b, err := base64.RawURLEncoding.Strict().DecodeString(p)
		if err != nil {
			return fmt.Errorf("part %d is not unpadded base64url: %v", i, err)
		}
		raw[i] = b
	}
	digest := sha512.Sum512([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(f.pub, crypto.SHA512, digest[:], raw[2]); err != nil {
		return fmt.Errorf("signature: %v", err)
	}

	var header map[string]any
	if err := json.Unmarshal(raw[0], &header); err != nil {
		return fmt.Errorf("header: %v", err)
	}
	wantHeader := map[string]any{"alg": "RS512", "typ": "JWT", "kid": testKID}
	if fmt.Sprint(header) != fmt.Sprint(wantHeader) {
		return fmt.Errorf("header %v, want %v", header, wantHeader)
	}

	dec := json.NewDecoder(bytes.NewReader(raw[1]))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return fmt.Errorf("claims: %v", err)
	}
	for _, c := range []string{"iss", "sub"} {
		if claims[c] != testAPIKey {
			return fmt.Errorf("%s %v, want the API key", c, claims[c])
		}
	}
	if claims["aud"] != f.url {
		return fmt.Errorf("aud %v, want %s", claims["aud"], f.url)
	}
	jti, _ := claims["jti"].(string)
	if !uuidV4.MatchString(jti) {
		return fmt.Errorf("jti %q is not a UUID", jti)
	}
	f.mu.Lock()
	seen := f.jtis[jti]
	f.jtis[jti] = true
	f.mu.Unlock()
	if seen {
		return fmt.Errorf("jti %s used before", jti)
	}
	num, ok := claims["exp"].(json.Number)
	if !ok {
		return fmt.Errorf("exp %v is not a number", claims["exp"])
	}
	exp, err := num.Int64()
	if err != nil {
		return fmt.Errorf("exp %v is not whole seconds", num)
	}
	now := f.clock.Now().Unix()
	if exp <= now || exp > now+300 {
		return fmt.Errorf("exp is %d s from now, want within 5 minutes", exp-now)
	}
	if len(claims) != 5 {
		return fmt.Errorf("claims %v, want only iss, sub, aud, jti, exp", claims)
	}
	return nil
}

// startTokenServer starts the fake token endpoint and returns it with a
// token source for it, on the fake's clock; edit changes the configuration.
func startTokenServer(t *testing.T, edit func(*fakeTokenServer, *SignedJWTConfig)) (*fakeTokenServer, *SignedJWTTokenSource) {
	t.Helper()
	fake := &fakeTokenServer{t: t, pub: &testKey().PublicKey, clock: newFakeClock(), jtis: map[string]bool{}}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	fake.url = srv.URL + tokenPath
	cfg := SignedJWTConfig{
		TokenURL:   fake.url,
		APIKey:     testAPIKey,
		KeyID:      testKID,
		PrivateKey: testKey(),
		Now:        fake.clock.Now,
	}
	if edit != nil {
		edit(fake, &cfg)
	}
	src, err := NewSignedJWTTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fake, src
}

func wantToken(t *testing.T, src *SignedJWTTokenSource, want string) {
	t.Helper()
	got, err := src.Token(context.Background())
	if err != nil || got != want {
		t.Fatalf("Token() = %q, %v; want %q", got, err, want)
	}
}

func TestSignedJWTTokenCachedAndRefreshed(t *testing.T) {
	tests := []struct {
		name      string
		expiresIn any
		lifetime  time.Duration
		margin    time.Duration // renewed this long before expiry
	}{
		{"platform's string", "599", 599 * time.Second, time.Minute},
		{"RFC 6749 number", 599, 599 * time.Second, time.Minute},
		{"an hour", "3600", time.Hour, time.Minute},
		{"short-lived", "60", time.Minute, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, src := startTokenServer(t, func(f *fakeTokenServer, _ *SignedJWTConfig) { f.expiresIn = tt.expiresIn })
			wantToken(t, src, "access-1")
			wantToken(t, src, "access-1")
			if n := fake.requests(); n != 1 {
				t.Fatalf("%d token requests for two calls, want 1", n)
			}

			fake.clock.Advance(tt.lifetime - tt.margin - time.Second)
			wantToken(t, src, "access-1")
			fake.clock.Advance(2 * time.Second) // within the margin
			wantToken(t, src, "access-2")
			wantToken(t, src, "access-2")

			fake.clock.Advance(tt.lifetime + time.Second) // long expired
			wantToken(t, src, "access-3")
			if n := fake.requests(); n != 3 {
				t.Errorf("%d token requests, want 3", n)
			}
		})
	}
}

func TestSignedJWTTokenErrors(t *testing.T) {
	const leak = "leaky-access-token-value"
	tests := []struct {
		name   string
		status int
		body   string
		want   []string    // in the error text
		tokErr *TokenError // the *TokenError it must be, if one
	}{
		{
			name:   "invalid request",
			status: 400,
			body:   `{"error":"invalid_request","error_description":"Invalid exp claim in JWT - more than 5 minutes in future","message_id":"rrt-8405-1"}`,
			want:   []string{"HTTP 400", "invalid_request", "Invalid exp claim in JWT - more than 5 minutes in future", "rrt-8405-1"},
			tokErr: &TokenError{Status: 400, Code: "invalid_request", Description: "Invalid exp claim in JWT - more than 5 minutes in future", MessageID: "rrt-8405-1"},
		},
		{
			name:   "invalid client",
			status: 401,
			body:   `{"error":"invalid_client","error_description":"Invalid 'kid' header in client_assertion JWT - no matching public key"}`,
			want:   []string{"HTTP 401", "invalid_client", "no matching public key"},
			tokErr: &TokenError{Status: 401, Code: "invalid_client", Description: "Invalid 'kid' header in client_assertion JWT - no matching public key"},
		},
		{
			name:   "proxy error page",
			status: 502,
			body:   `<html><body>Bad Gateway</body></html>`,
			want:   []string{"HTTP 502"},
			tokErr: &TokenError{Status: 502},
		},
		{
			name:   "malformed JSON",
			status: 200,
			body:   `{"access_token":"` + leak + `","expires_in":"599",`,
			want:   []string{"not the expected JSON"},
		},
		{
			name:   "no access token",
			status: 200,
			body:   `{"expires_in":"599","token_type":"Bearer"}`,
			want:   []string{"no access_token"},
		},
		{
			name:   "no expiry",
			status: 200,
			body:   `{"access_token":"` + leak + `","token_type":"Bearer"}`,
			want:   []string{"no expires_in"},
		},
		{
			name:   "expiry not a number",
			status: 200,
			body:   `{"access_token":"` + leak + `","expires_in":"ten minutes","token_type":"Bearer"}`,
			want:   []string{"not the expected JSON"},
		},
		{
			name:   "expiry zero",
			status: 200,
			body:   `{"access_token":"` + leak + `","expires_in":"0","token_type":"Bearer"}`,
			want:   []string{"expires_in \"0\""},
		},
		{
			name:   "not a bearer token",
			status: 200,
			body:   `{"access_token":"` + leak + `","expires_in":"599","token_type":"mac"}`,
			want:   []string{`token_type "mac"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, src := startTokenServer(t, func(f *fakeTokenServer, _ *SignedJWTConfig) {
				f.respond = func(w http.ResponseWriter, _ *http.Request, _ int) bool {
					w.WriteHeader(tt.status)
					fmt.Fprint(w, tt.body)
					return true
				}
			})
			tok, err := src.Token(context.Background())
			if err == nil {
				t.Fatalf("Token() = %q, want an error", tok)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			var te *TokenError
			if errors.As(err, &te) != (tt.tokErr != nil) {
				t.Errorf("error %#v: *TokenError is %v, want %v", err, errors.As(err, &te), tt.tokErr != nil)
			} else if tt.tokErr != nil && *te != *tt.tokErr {
				t.Errorf("TokenError %+v, want %+v", *te, *tt.tokErr)
			}
			leaks := append([]string{leak, "<html>", "PRIVATE"}, fake.seenAssertions()...)
			for _, l := range leaks {
				if strings.Contains(msg, l) {
					t.Errorf("error %q holds %q", msg, l)
				}
			}
			// A failure is not remembered: the next call asks again.
			src.Token(context.Background())
			if n := fake.requests(); n != 2 {
				t.Errorf("%d token requests after two failing calls, want 2", n)
			}
		})
	}
}

func TestSignedJWTTokenRenewalFails(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	fake, src := startTokenServer(t, func(f *fakeTokenServer, cfg *SignedJWTConfig) {
		cfg.Logger = logger
		f.respond = func(w http.ResponseWriter, _ *http.Request, n int) bool {
			if n == 1 {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(503)
			fmt.Fprint(w, `{"error":"server_error","error_description":"Service unavailable"}`)
			return true
		}
	})
	wantToken(t, src, "access-1")

	// In the last minute the renewal fails, but the token still works.
	fake.clock.Advance(550 * time.Second)
	wantToken(t, src, "access-1")
	fake.clock.Advance(30 * time.Second)
	wantToken(t, src, "access-1")
	if n := fake.requests(); n != 3 {
		t.Errorf("%d token requests, want 3 (each call in the margin tries again)", n)
	}
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "Service unavailable") {
		t.Errorf("no warning of the failed renewal:\n%s", buf.String())
	}
	if strings.Contains(buf.String(), "access-1") {
		t.Errorf("log holds the token:\n%s", buf.String())
	}

	// Once it has expired, the failure is the caller's.
	fake.clock.Advance(20 * time.Second)
	_, err := src.Token(context.Background())
	var te *TokenError
	if !errors.As(err, &te) || te.Status != 503 {
		t.Fatalf("Token() after expiry: %v, want a 503 TokenError", err)
	}
}

func TestSignedJWTTokenConcurrent(t *testing.T) {
	fake, src := startTokenServer(t, func(f *fakeTokenServer, _ *SignedJWTConfig) {
		f.respond = func(http.ResponseWriter, *http.Request, int) bool {
			time.Sleep(50 * time.Millisecond) // let the other callers queue up
			return false
		}
	})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if tok, err := src.Token(context.Background()); err != nil || tok != "access-1" {
				t.Errorf("Token() = %q, %v", tok, err)
			}
		})
	}
	wg.Wait()
	if n := fake.requests(); n != 1 {
		t.Errorf("%d token requests for 16 concurrent callers, want 1", n)
	}
}

func TestSignedJWTTokenContext(t *testing.T) {
	t.Run("cancelled", func(t *testing.T) {
		fake, src := startTokenServer(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := src.Token(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Token(cancelled) = %v", err)
		}
		if n := fake.requests(); n != 0 {
			t.Errorf("%d token requests with a cancelled context", n)
		}
	})

	t.Run("deadline while the endpoint is silent", func(t *testing.T) {
		_, src := startTokenServer(t, func(f *fakeTokenServer, _ *SignedJWTConfig) {
			f.respond = func(_ http.ResponseWriter, r *http.Request, _ int) bool {
				<-r.Context().Done()
				return true
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := src.Token(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Token past its deadline: %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Token returned %v after its deadline", d)
		}
	})

	t.Run("deadline while another caller's request is under way", func(t *testing.T) {
		entered, release := make(chan struct{}), make(chan struct{})
		var enterOnce, releaseOnce sync.Once
		// Released however the test ends, so that closing the server,
		// which waits for its handlers, does not hang.
		releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
		defer releaseAll()
		_, src := startTokenServer(t, func(f *fakeTokenServer, _ *SignedJWTConfig) {
			f.respond = func(http.ResponseWriter, *http.Request, int) bool {
				enterOnce.Do(func() { close(entered) })
				<-release
				return false
			}
		})
		first := make(chan error, 1)
		go func() {
			_, err := src.Token(context.Background())
			first <- err
		}()
		select {
		case <-entered:
		case err := <-first:
			t.Fatalf("first caller: %v before its request was answered", err)
		case <-time.After(10 * time.Second):
			t.Fatal("the first caller's request never reached the endpoint")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, err := src.Token(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("waiting caller past its deadline: %v", err)
		}
		releaseAll()
		if err := <-first; err != nil {
			t.Errorf("first caller: %v", err)
		}
		wantToken(t, src, "access-1")
	})
}

func TestSignedJWTTokenLogs(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fake, src := startTokenServer(t, func(_ *fakeTokenServer, cfg *SignedJWTConfig) { cfg.Logger = logger })
	wantToken(t, src, "access-1")
	out := buf.String()
	if !strings.Contains(out, "status=200") {
		t.Errorf("debug log lacks the status:\n%s", out)
	}
	// "eyJ" starts any JWT: base64url of `{"`.
	for _, l := range append([]string{"access-1", "eyJ", "PRIVATE"}, fake.seenAssertions()...) {
		if strings.Contains(out, l) {
			t.Errorf("log holds %q:\n%s", l, out)
		}
	}
}

// TestSignedJWTWithPDSClient wires the token source into the PDS client:
// PDS gets the platform's token, and asks for it once for two lookups.
func TestSignedJWTWithPDSClient(t *testing.T) {
	tokens, src := startTokenServer(t, nil)
	pds, c, _ := startPDS(t, PDSConfig{Token: src.Token})
	for range 2 {
		if _, err := c.Lookup(context.Background(), "9992345675"); err != nil {
			t.Fatal(err)
		}
	}
	reqs := pds.recorded()
	if len(reqs) != 2 {
		t.Fatalf("%d PDS requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		if got := r.Header.Get("Authorization"); got != "Bearer access-1" {
			t.Errorf("PDS request %d: Authorization %q, want the fetched token", i, got)
		}
	}
	if n := tokens.requests(); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
}

func TestNewSignedJWTTokenSource(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ok := SignedJWTConfig{
		TokenURL:   "https://int.api.service.nhs.uk/oauth2/token",
		APIKey:     testAPIKey,
		KeyID:      testKID,
		PrivateKey: testKey(),
	}
	tests := []struct {
		name string
		edit func(*SignedJWTConfig)
		ok   bool
	}{
		{"ok", func(*SignedJWTConfig) {}, true},
		{"http on localhost", func(c *SignedJWTConfig) { c.TokenURL = "http://localhost:8080/oauth2/token" }, true},
		{"http on 127.0.0.1", func(c *SignedJWTConfig) { c.TokenURL = "http://127.0.0.1:8080/oauth2/token" }, true},
		{"http on ::1", func(c *SignedJWTConfig) { c.TokenURL = "http://[::1]:8080/oauth2/token" }, true},
		{"http elsewhere", func(c *SignedJWTConfig) { c.TokenURL = "http://int.api.service.nhs.uk/oauth2/token" }, false},
		{"no token URL", func(c *SignedJWTConfig) { c.TokenURL = "" }, false},
		{"relative token URL", func(c *SignedJWTConfig) { c.TokenURL = "/oauth2/token" }, false},
		{"ftp", func(c *SignedJWTConfig) { c.TokenURL = "ftp://example.org/token" }, false},
		{"no API key", func(c *SignedJWTConfig) { c.APIKey = " " }, false},
		{"no key ID", func(c *SignedJWTConfig) { c.KeyID = "" }, false},
		{"no key", func(c *SignedJWTConfig) { c.PrivateKey = nil }, false},
		{"1024-bit key", func(c *SignedJWTConfig) { c.PrivateKey = small }, false},
	}
	for _, tt := range tests {
		cfg := ok
		tt.edit(&cfg)
		_, err := NewSignedJWTTokenSource(cfg)
		if (err == nil) != tt.ok {
			t.Errorf("%s: NewSignedJWTTokenSource: %v", tt.name, err)
		}
	}
}

func TestLoadRSAPrivateKey(t *testing.T) {
	key := testKey()
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPKCS8, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	block := func(typ string, b []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}))
	}
	tests := []struct {
		name string
		file string
		want string // in the error; "" for success
	}{
		{"PKCS #1", block("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key)), ""},
		{"PKCS #8", block("PRIVATE KEY", pkcs8), ""},
		{"certificate before the key", block("CERTIFICATE", []byte("not parsed")) + block("PRIVATE KEY", pkcs8), ""},
		{"public key", block("PUBLIC KEY", pub), "only PUBLIC KEY"},
		{"certificate", block("CERTIFICATE", []byte("not parsed")), "only CERTIFICATE"},
		{"EC key", block("PRIVATE KEY", ecPKCS8), "not an RSA key"},
		{"PKCS #8 labelled PKCS #1", block("RSA PRIVATE KEY", pkcs8), "PKCS #1"},
		{"encrypted PKCS #8", block("ENCRYPTED PRIVATE KEY", []byte("ciphertext")), "encrypted"},
		{"encrypted PKCS #1", string(pem.EncodeToMemory(&pem.Block{
			Type:    "RSA PRIVATE KEY",
			Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"},
			Bytes:   []byte("ciphertext"),
		})), "encrypted"},
		{"not PEM", "just some text\n", "no PEM block"},
		{"empty", "", "no PEM block"},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("key%d.pem", i))
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadRSAPrivateKey(path)
			if tt.want == "" {
				if err != nil || !got.Equal(key) {
					t.Fatalf("LoadRSAPrivateKey = %v, %v; want the key", got != nil, err)
				}
				return
			}
			if err == nil {
				t.Fatal("LoadRSAPrivateKey succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not say %q and name the file", err, tt.want)
			}
			if strings.Contains(err.Error(), "MII") { // DER keys begin so in base64
				t.Errorf("error %q quotes the file", err)
			}
		})
	}

	_, err = LoadRSAPrivateKey(filepath.Join(dir, "missing.pem"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestFakeTokenServerChecks shows that the fake endpoint refuses what the
// platform refuses, so that the tests above passing means something.
func TestFakeTokenServerChecks(t *testing.T) {
	fake, src := startTokenServer(t, nil)
	now := fake.clock.Now()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// sign makes an assertion like ours, changed by the edit functions.
	sign := func(key *rsa.PrivateKey, editHeader, editClaims func(map[string]any)) string {
		header := map[string]any{"alg": "RS512", "typ": "JWT", "kid": testKID}
		claims := map[string]any{"iss": testAPIKey, "sub": testAPIKey, "aud": fake.url, "jti": newUUID(), "exp": now.Add(4 * time.Minute).Unix()}
		if editHeader != nil {
			editHeader(header)
		}
		if editClaims != nil {
			editClaims(claims)
		}
		h, _ := json.Marshal(header)
		c, _ := json.Marshal(claims)
		in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
		d := sha512.Sum512([]byte(in))
		sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA512, d[:])
		if err != nil {
			t.Fatal(err)
		}
		return in + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	set := func(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
	ours, err := src.assertion(now)
	if err != nil {
		t.Fatal(err)
	}
	const jti = "0b7c3a52-6a0e-4d8e-9d0c-6f1b2f0c1e11"
	unpadded := strings.SplitN(sign(testKey(), nil, nil), ".", 2)

	tests := []struct {
		name string
		jwt  string
		ok   bool
	}{
		{"ours", ours, true},
		{"hand-made", sign(testKey(), nil, nil), true},
		{"jti first use", sign(testKey(), nil, set("jti", jti)), true},
		{"jti reused", sign(testKey(), nil, set("jti", jti)), false},
		{"other key", sign(other, nil, nil), false},
		{"RS256 label", sign(testKey(), set("alg", "RS256"), nil), false},
		{"other kid", sign(testKey(), set("kid", "x"), nil), false},
		{"no typ", sign(testKey(), func(h map[string]any) { delete(h, "typ") }, nil), false},
		{"other iss", sign(testKey(), nil, set("iss", "x")), false},
		{"other sub", sign(testKey(), nil, set("sub", "x")), false},
		{"other aud", sign(testKey(), nil, set("aud", "https://example.org/oauth2/token")), false},
		{"exp beyond 5 min", sign(testKey(), nil, set("exp", now.Unix()+301)), false},
		{"exp past", sign(testKey(), nil, set("exp", now.Unix()-1)), false},
		{"jti not a UUID", sign(testKey(), nil, set("jti", "1")), false},
		{"extra claim", sign(testKey(), nil, set("iat", now.Unix())), false},
		{"padded", unpadded[0] + "=." + unpadded[1], false},
		{"two parts", "a.b", false},
	}
	for _, tt := range tests {
		if err := fake.check(tt.jwt); (err == nil) != tt.ok {
			t.Errorf("%s: check = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
