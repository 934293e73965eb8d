package auth

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/molar-pacs/molar/internal/notify"
	"github.com/molar-pacs/molar/internal/pebbledb"
)

// TestReopen: organisations, accounts, sessions, keys and revocations
// are all still there after a restart.
func TestReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	u := f.dentist()
	b := f.browser()
	b.signIn(u.Email)
	sessionID := b.cookie(SessionCookie)
	_, keep, err := f.svc.IssueCredential(ctx, NewCredential{Kind: KindAPIKey, Name: "kept", Org: fxPractice})
	if err != nil {
		t.Fatal(err)
	}
	gone, goneSecret, err := f.svc.IssueCredential(ctx, NewCredential{Kind: KindAPIKey, Name: "revoked", Org: fxPractice})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RevokeCredential(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Orgs(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}

	svc, err := New(ctx, f.svc.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	orgs, err := svc.Orgs(ctx)
	if err != nil || len(orgs) != 5 {
		t.Fatalf("organisations after reopen: %v %v", orgs, err)
	}
	got, err := svc.UserByEmail(ctx, u.Email)
	if err != nil || got.ID != u.ID || !got.HasPassword || got.Grants[0] != u.Grants[0] {
		t.Fatalf("user after reopen: %+v %v", got, err)
	}
	check := func(what string, hdr ...string) error {
		req := httptestRequest(http.MethodGet, "/protected")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		if len(hdr) == 0 {
			req.AddCookie(&http.Cookie{Name: SessionCookie, Value: sessionID})
		}
		_, err := svc.Check(req, ActionReferralView)
		return err
	}
	if err := check("session"); err != nil {
		t.Errorf("session after reopen: %v", err)
	}
	if err := check("key", HeaderAPIKey, keep); err != nil {
		t.Errorf("API key after reopen: %v", err)
	}
	if err := check("revoked key", HeaderAPIKey, goneSecret); !isStatus(err, http.StatusUnauthorized) {
		t.Errorf("revoked key after reopen: %v", err)
	}
	if _, err := svc.startSignIn(ctx, u.Email, testPassword, "/"); err != nil {
		t.Errorf("password after reopen: %v", err)
	}
}

func TestNewerFormatIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p, err := pebbledb.Open(filepath.Join(dir, "auth"), pebbledb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Set(key(tMeta, "format"), []byte{formatVersion + 1}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	p.Close()
	ob, err := notify.OpenOutbox(filepath.Join(dir, "outbox"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	_, err = New(context.Background(), Config{Dir: filepath.Join(dir, "auth"), Notifier: ob, Argon2: testArgon2})
	if !errors.Is(err, errNewerFormat) {
		t.Fatalf("New on a newer database: %v", err)
	}
}

func TestValueEncoding(t *testing.T) {
	t.Parallel()
	b, err := encode(Organisation{Code: "RH8", Name: "x", Kind: KindProvider})
	if err != nil || b[0] != formatVersion || b[1] != '{' {
		t.Fatalf("encode: %q %v", b, err)
	}
	var o Organisation
	if err := decode(b, &o); err != nil || o.Code != "RH8" {
		t.Errorf("decode: %+v %v", o, err)
	}
	b[0] = formatVersion + 1
	if err := decode(b, &o); !errors.Is(err, errNewerFormat) {
		t.Errorf("newer value: %v", err)
	}
	if err := decode(nil, &o); err == nil {
		t.Error("empty value decoded")
	}
}

func TestSweep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	u := f.dentist()
	b := f.browser()
	b.signIn(u.Email)
	b.password(u.Email, "wrong password") // a failure counter
	f.browser().password(u.Email, testPassword)
	count := func(table byte) int {
		n := 0
		f.svc.db.scan([]byte{table}, func(_, _ []byte) (bool, error) { n++; return true, nil })
		return n
	}
	if count(tSession) != 1 || count(tPending) != 1 || count(tThrottle) != 1 {
		t.Fatalf("before: sessions %d, flows %d, counters %d", count(tSession), count(tPending), count(tThrottle))
	}
	f.clock.Advance(13 * time.Hour)
	if err := f.svc.sweep(ctx); err != nil {
		t.Fatal(err)
	}
	for _, table := range []byte{tSession, tUserSession, tPending, tThrottle} {
		if n := count(table); n != 0 {
			t.Errorf("table %c: %d records left after the sweep", table, n)
		}
	}
	if count(tUser) != 1 {
		t.Error("the sweep deleted an account")
	}
}
