package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAPIKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	c, secret, err := f.svc.IssueCredential(ctx, NewCredential{Kind: KindAPIKey, Name: "practice software", Org: fxPractice})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "molar_ak_") || c.Role != RoleReferrer || !strings.HasPrefix(secret, c.Prefix) {
		t.Errorf("issued %+v with secret prefix %q", c, secret[:12])
	}
	if strings.Contains(dumpDB(t, f.svc), secret) {
		t.Error("the API key is stored in the clear")
	}
	b := f.browser()
	for _, hdr := range [][]string{{HeaderAPIKey, secret}, {"Authorization", "Bearer " + secret}} {
		p := principalOf(t, b.get("/protected", hdr...))
		if p.Via != ViaAPIKey || p.Role != RoleReferrer || p.Org != fxPractice || p.CredentialID != c.ID || p.UserID != "apikey:"+c.ID {
			t.Errorf("principal %+v", p)
		}
	}
	// No CSRF token for header credentials: browsers do not send them on
	// their own.
	principalOf(t, b.post("/protected", nil, HeaderAPIKey, secret))
	if got, _ := f.svc.Credential(ctx, c.ID); !got.LastUsedAt.Equal(f.clock.Now()) {
		t.Errorf("last used %v, want %v", got.LastUsedAt, f.clock.Now())
	}

	if _, err := f.svc.RevokeCredential(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	r := b.get("/protected", HeaderAPIKey, secret)
	want(t, "revoked key", r, http.StatusUnauthorized, "")
	if !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) || !strings.Contains(r.body, "revoked") {
		t.Errorf("revoked key answer: %v %s", r.header, r.body)
	}
	got, _ := f.svc.Credential(ctx, c.ID)
	if !got.Revoked() {
		t.Error("revoked credential not marked revoked")
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	u := f.addUser("consultant", NewUser{Grants: []Grant{{Role: RoleClinician, Org: fxSite}}})
	c, secret, err := f.svc.IssueCredential(ctx, NewCredential{Kind: KindBearer, Name: "hospital PACS", Role: RoleClinician, Org: fxSite, UserID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	b := f.browser()
	p := principalOf(t, b.get("/dicom", "Authorization", "Bearer "+secret))
	if p.Via != ViaBearer || p.UserID != u.ID || p.Email != u.Email || p.Role != RoleClinician || p.CredentialID != c.ID {
		t.Errorf("principal %+v", p)
	}
	f.clock.Advance(5 * time.Minute)
	principalOf(t, b.get("/dicom", "Authorization", "bearer "+secret))
	if got, _ := f.svc.Credential(ctx, c.ID); !got.LastUsedAt.Equal(f.clock.Now()) {
		t.Errorf("last used %v, want %v", got.LastUsedAt, f.clock.Now())
	}
	if _, err := f.svc.RevokeCredential(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	want(t, "revoked token", b.get("/dicom", "Authorization", "Bearer "+secret), http.StatusUnauthorized, "")

	// A token tied to an account dies with it.
	_, secret2, err := f.svc.IssueCredential(ctx, NewCredential{Kind: KindBearer, Name: "viewer", Role: RoleClinician, Org: fxSite, UserID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	principalOf(t, b.get("/dicom", "Authorization", "Bearer "+secret2))
	if err := f.svc.DisableUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	want(t, "token of a disabled account", b.get("/dicom", "Authorization", "Bearer "+secret2), http.StatusUnauthorized, "")
}

func TestCredentialRules(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	dentist := f.dentist()
	tests := []struct {
		name string
		nc   NewCredential
		ok   bool
	}{
		{"API key for a practice", NewCredential{Kind: KindAPIKey, Name: "k", Org: fxPractice}, true},
		{"API key for a provider", NewCredential{Kind: KindAPIKey, Name: "k", Org: fxSite}, false},
		{"API key in another role", NewCredential{Kind: KindAPIKey, Name: "k", Org: fxPractice, Role: RoleReferrerAdmin}, false},
		{"API key without a name", NewCredential{Kind: KindAPIKey, Org: fxPractice}, false},
		{"bearer for a clinician", NewCredential{Kind: KindBearer, Name: "pacs", Role: RoleClinician, Org: fxSite}, true},
		{"bearer for a system administrator", NewCredential{Kind: KindBearer, Name: "x", Role: RoleSysAdmin, Org: fxTrust}, false},
		{"bearer for a role at the wrong kind of organisation", NewCredential{Kind: KindBearer, Name: "x", Role: RoleClinician, Org: fxPractice}, false},
		{"bearer for an unknown organisation", NewCredential{Kind: KindBearer, Name: "x", Role: RoleClinician, Org: "RXX"}, false},
		{"bearer for a user's own grant", NewCredential{Kind: KindBearer, Name: "x", Role: RoleReferrer, Org: fxPractice, UserID: dentist.ID}, true},
		{"bearer for a grant the user lacks", NewCredential{Kind: KindBearer, Name: "x", Role: RoleReferrer, Org: fxPractice2, UserID: dentist.ID}, false},
		{"unknown kind", NewCredential{Kind: "password", Name: "x", Org: fxPractice}, false},
	}
	for _, tc := range tests {
		_, secret, err := f.svc.IssueCredential(ctx, tc.nc)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && secret != "" {
			t.Errorf("%s: a secret with an error", tc.name)
		}
	}
}

func TestUnusableCredentials(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tc := range []struct{ name, hdr, val string }{
		{"unknown bearer", "Authorization", "Bearer molar_bt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"not ours", "Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"},
		{"basic auth", "Authorization", "Basic dXNlcjpwYXNz"},
		{"empty bearer", "Authorization", "Bearer "},
		{"unknown API key", HeaderAPIKey, "molar_ak_nope"},
	} {
		r := f.browser().get("/protected", tc.hdr, tc.val)
		if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d %v", tc.name, r.status, r.header)
		}
	}
}

func TestCheckForAGuard(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, secret, err := f.svc.IssueCredential(ctx, NewCredential{Kind: KindBearer, Name: "booking", Role: RoleBookingManager, Org: fxTrust})
	if err != nil {
		t.Fatal(err)
	}
	req := httptestRequest(http.MethodGet, "/dicom-web/studies?PatientID=9434765919")
	req.Header.Set("Authorization", "Bearer "+secret)
	_, err = f.svc.Check(req, ActionDICOMwebSearch)
	var ae *AccessError
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || ae.Decision == nil || ae.Decision.Allowed || !ae.Decision.Clinical {
		t.Fatalf("booking manager searching DICOMweb: %#v", err)
	}
	if strings.Contains(ae.Message, "9434765919") {
		t.Errorf("refusal repeats the request: %s", ae.Message)
	}
	if _, err := f.svc.Check(req, ActionReferralBook); err != nil {
		t.Errorf("booking manager booking: %v", err)
	}
	if _, err := f.svc.Check(req, Action("dicomweb.everything")); err == nil || errors.As(err, &ae) {
		t.Errorf("unknown action: %v, want a plain error", err)
	}
	req = httptestRequest(http.MethodGet, "/dicom-web/studies")
	_, err = f.svc.Check(req, ActionDICOMwebSearch)
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Challenge != `Bearer realm="molar"` {
		t.Errorf("anonymous: %#v", err)
	}
}

// denialLog is a DenialRecorder that keeps what it hears.
type denialLog struct {
	mu  sync.Mutex
	got []Denial
}

func (l *denialLog) RecordDenial(_ context.Context, d Denial) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, d)
	return nil
}

func (l *denialLog) all() []Denial {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Denial(nil), l.got...)
}

func TestRefusalsRecorded(t *testing.T) {
	t.Parallel()
	denials := &denialLog{}
	f := newFixture(t, func(c *Config) { c.Denials = denials })
	_, secret, err := f.svc.IssueCredential(context.Background(), NewCredential{Kind: KindBearer, Name: "booking", Role: RoleBookingManager, Org: fxTrust})
	if err != nil {
		t.Fatal(err)
	}
	req := httptestRequest(http.MethodGet, "/dicom-web/studies?PatientID=9434765919")
	req.Header.Set("Authorization", "Bearer "+secret)
	req.RemoteAddr = "192.0.2.7:5555"

	// Allowed by the second of two actions: nothing to record.
	if _, err := f.svc.CheckAny(req, ActionReferralView, ActionReferralBook); err != nil {
		t.Fatalf("booking manager, view or book: %v", err)
	}
	if got := denials.all(); len(got) != 0 {
		t.Fatalf("an allowed request was recorded as refused: %+v", got)
	}
	// Refused for both: recorded once, naming both, without the query.
	if _, err := f.svc.CheckAny(req, ActionDICOMwebSearch, ActionReferralView); err == nil {
		t.Fatal("booking manager searching DICOMweb was allowed")
	}
	got := denials.all()
	if len(got) != 1 {
		t.Fatalf("%d refusals recorded, want 1", len(got))
	}
	d := got[0]
	if d.Principal.Role != RoleBookingManager || d.Principal.Org != fxTrust || len(d.Actions) != 2 || d.Reason == "" ||
		d.Method != http.MethodGet || d.Path != "/dicom-web/studies" || d.Client != "192.0.2.7" {
		t.Errorf("refusal: %+v", d)
	}
	// Not signed in is not a refusal by the matrix.
	if _, err := f.svc.Check(httptestRequest(http.MethodGet, "/dicom-web/studies"), ActionDICOMwebSearch); err == nil {
		t.Fatal("anonymous allowed")
	}
	if n := len(denials.all()); n != 1 {
		t.Errorf("anonymous request recorded as a refusal: %d", n)
	}
}
