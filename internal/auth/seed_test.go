package auth

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/molar-pacs/molar/internal/notify"
)

func TestSeedDemo(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	accounts, err := f.svc.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.svc.SeedDemo(ctx)
	if err != nil || len(again) != len(accounts) {
		t.Fatalf("seeding twice: %d accounts, %v", len(again), err)
	}
	seen := map[Role]bool{}
	for _, a := range accounts {
		for _, r := range a.Roles {
			seen[r] = true
		}
	}
	for _, r := range Roles() {
		if !seen[r] {
			t.Errorf("no demo account for %s", r.Label())
		}
	}
	clinAdmin, err := f.svc.UserByEmail(ctx, "clinician-admin@demo.molar.test")
	if err != nil {
		t.Fatal(err)
	}
	clin, _ := f.svc.UserByEmail(ctx, "clinician@demo.molar.test")
	if clinAdmin.Grants[0].OnBehalfOf != clin.ID {
		t.Errorf("demo clinician admin acts for %q, want %q", clinAdmin.Grants[0].OnBehalfOf, clin.ID)
	}

	// The demo referrer signs in through the pages, the code read from
	// the outbox.
	b := f.browser()
	r := b.post("/login", url.Values{"email": {"referrer@demo.molar.test"}, "password": {DemoPassword}, "next": {"/protected"}})
	want(t, "demo password", r, http.StatusSeeOther, "/login/factor")
	want(t, "send", b.sendCode(0, notify.SMS), http.StatusSeeOther, "/login/code")
	want(t, "code", b.enterCode(f.code(accounts[0].Phone)), http.StatusSeeOther, "/protected")
	if p := principalOf(t, b.get("/protected")); p.Role != RoleReferrer || p.Org != DemoPractice {
		t.Errorf("demo referrer %+v", p)
	}
}
