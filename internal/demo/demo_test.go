package demo

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/auth"
	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/demographics"
	"github.com/molar-pacs/molar/internal/nhsnumber"
	"github.com/molar-pacs/molar/internal/notify"
	"github.com/molar-pacs/molar/referral"
	"github.com/molar-pacs/molar/store"
)

// region is a demo region's collaborators on real storage.
type region struct {
	Region
	dir   string
	store *store.Store
}

func openRegion(t *testing.T, dir string) *region {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Dir: filepath.Join(dir, "archive")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ob, err := notify.OpenOutbox(filepath.Join(dir, "outbox.jsonl"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	acc, err := auth.New(ctx, auth.Config{Dir: filepath.Join(dir, "auth"), Notifier: ob,
		Argon2: auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acc.Close() })
	if _, err := acc.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	clock := &Clock{}
	refs, err := referral.Open(ctx, referral.Options{Dir: filepath.Join(dir, "referral"), Archive: st, Ingester: st,
		URNKey: URNKey, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { refs.Close() })
	return &region{Region: Region{Accounts: acc, Referrals: refs, Archive: st, Clock: clock}, dir: dir, store: st}
}

func TestSeedRegion(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rg := openRegion(t, dir)
	sum, err := SeedRegion(ctx, rg.Region)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Seeded || len(sum.Referrals) != len(stories()) {
		t.Fatalf("summary %+v", sum)
	}
	// The URNs are the ones the README names, and the summary of a
	// seeded region says the same.
	if want := expected(); !slices.Equal(sum.Referrals, want) {
		t.Errorf("seeded %v\nexpected %v", sum.Referrals, want)
	}
	if since := time.Since(rg.Clock.Now()); since < 0 || since > time.Minute {
		t.Errorf("clock left at %v", rg.Clock.Now())
	}

	// Every status a referral rests in is shown by some demo referral.
	seen := map[referral.Status]bool{}
	for _, r := range sum.Referrals {
		seen[r.Status] = true
	}
	for _, st := range referral.Statuses() {
		transient := st == referral.StatusSubmitted || st == referral.StatusAccepted
		if !seen[st] && !transient {
			t.Errorf("no demo referral is %s", st)
		}
	}
	numbers := map[string]int{}
	for i, st := range stories() {
		if !nhsnumber.Valid(st.nhs) || st.nhs[:3] != "999" {
			t.Errorf("story %d: NHS number %s is not a valid never-issued number", i, st.nhs)
		}
		if j, dup := numbers[st.nhs]; dup {
			t.Errorf("stories %d and %d share NHS number %s", j, i, st.nhs)
		}
		numbers[st.nhs] = i
	}
	if _, err := demographics.NewTable(People()); err != nil {
		t.Errorf("the demo register: %v", err)
	}

	boot := auth.Principal{UserID: "test", Via: auth.ViaBootstrap}
	olivia, err := rg.Referrals.ByURN(ctx, boot, URN(0))
	if err != nil {
		t.Fatal(err)
	}
	// Her films are filed, and she has waited since the story says.
	if len(olivia.Films) != 1 {
		t.Errorf("Olivia's films: %+v", olivia.Films)
	}
	if waited := time.Since(olivia.Submitted); waited < 3*day || waited > 4*day {
		t.Errorf("Olivia submitted %v ago, want about 3 days", waited)
	}
	ms, _, err := rg.store.Query(ctx, store.Query{Level: store.InstanceLevel, Keys: []store.Key{{Tag: dcm.AccessionNumber, Value: URN(0)}}})
	if err != nil || len(ms) != 4 {
		t.Errorf("Olivia's instances by URN: %d, %v (want 3 periapicals and an OPG)", len(ms), err)
	}

	// Freddie's films were promised but never sent: the worklist offers
	// him to the practice's imaging software.
	awaiting, err := rg.Referrals.AwaitingImages(ctx)
	if err != nil || len(awaiting) != 1 || awaiting[0].URN != URN(15) {
		t.Errorf("awaiting images: %+v, %v", awaiting, err)
	}
	unmatched, err := rg.Referrals.UnmatchedFilms(ctx)
	if err != nil || len(unmatched) != 1 {
		t.Errorf("unmatched films: %+v, %v", unmatched, err)
	}
	// The community service has free slots to book.
	slots, err := rg.Referrals.Slots(ctx, rg.serviceID(t, "Molar Demo Community Oral Surgery (Level 2)"), time.Now(), true)
	if err != nil || len(slots) < 20 {
		t.Errorf("free slots: %d, %v", len(slots), err)
	}

	// Seeding again finds the region and changes nothing.
	again, err := SeedRegion(ctx, rg.Region)
	if err != nil || again.Seeded || !slices.Equal(again.Referrals, sum.Referrals) {
		t.Errorf("second seeding: %+v, %v", again, err)
	}
	if ms, _, _ := rg.store.Query(ctx, store.Query{Level: store.InstanceLevel}); len(ms) != sum.Instances {
		t.Errorf("%d instances after a second seeding, want %d", len(ms), sum.Instances)
	}
}

func (rg *region) serviceID(t *testing.T, name string) string {
	t.Helper()
	svcs, err := rg.Referrals.Services(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs {
		if s.Name == name {
			return s.ID
		}
	}
	t.Fatalf("no service %q", name)
	return ""
}

func TestURNIsStable(t *testing.T) {
	// The README names the first demo URN; it must not drift.
	if got := URN(0); got != "CJGKBTG22K" {
		t.Errorf("URN(0) = %s; update README.md if the demo key changed on purpose", got)
	}
	if URN(1) == URN(0) {
		t.Error("URNs repeat")
	}
}
