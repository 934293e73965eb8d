package referral

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/audit"
	"github.com/molar-pacs/molar/internal/auth"
	"github.com/molar-pacs/molar/internal/notify"
)

// Organisations of the test region.
const (
	practiceODS = "V012345"
	otherPrac   = "V054321"
	hubODS      = "RZZ01" // the triage hub
	trustODS    = "RYY02" // a treating provider
)

var (
	referrer    = auth.Principal{UserID: "u-referrer", Email: "dentist@practice.test", Role: auth.RoleReferrer, Org: practiceODS, Via: auth.ViaSession}
	otherRef    = auth.Principal{UserID: "u-other", Role: auth.RoleReferrer, Org: otherPrac, Via: auth.ViaSession}
	triager     = auth.Principal{UserID: "u-triager", Role: auth.RoleClinician, Org: hubODS, Via: auth.ViaSession}
	triager2    = auth.Principal{UserID: "u-triager2", Role: auth.RoleClinician, Org: hubODS, Via: auth.ViaSession}
	provClin    = auth.Principal{UserID: "u-provclin", Role: auth.RoleClinician, Org: trustODS, Via: auth.ViaSession}
	provAdmin   = auth.Principal{UserID: "u-provadmin", Role: auth.RoleProviderAdmin, Org: trustODS, Via: auth.ViaSession}
	booker      = auth.Principal{UserID: "u-booker", Role: auth.RoleBookingManager, Org: trustODS, Via: auth.ViaSession}
	definer     = auth.Principal{UserID: "u-definer", Role: auth.RoleServiceDefiner, Org: trustODS, Via: auth.ViaSession}
	analyst     = auth.Principal{UserID: "u-analyst", Role: auth.RoleAnalyst, Org: hubODS, Via: auth.ViaSession}
	sysadmin    = auth.Principal{UserID: "u-admin", Role: auth.RoleSysAdmin, Via: auth.ViaSession}
	bootstrapPr = auth.Principal{UserID: "api-token", Via: auth.ViaBootstrap}
)

type memAudit struct {
	mu      sync.Mutex
	entries []audit.Entry
}

func (m *memAudit) Record(_ context.Context, e audit.Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = append(m.entries, e)
	return nil
}

type memNotifier struct {
	mu   sync.Mutex
	sent []notify.Message
}

func (m *memNotifier) Send(_ context.Context, msg notify.Message) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return "id", nil
}

func (m *memNotifier) messages() []notify.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]notify.Message(nil), m.sent...)
}

// fixture is a referral service with a small region: one triage hub, a
// commissioned IBS service at L2/L3a, a commissioned DBS service, and an
// uncommissioned one.
type fixture struct {
	t     *testing.T
	svc   *Service
	audit *memAudit
	texts *memNotifier
	clock *clock
	hub   *HealthcareService
	ibs   *HealthcareService
	dbs   *HealthcareService
	unc   *HealthcareService
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	f := &fixture{t: t, audit: &memAudit{}, texts: &memNotifier{}, clock: &clock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	opts.Audit, opts.Notifier, opts.Now = f.audit, f.texts, f.clock.now
	opts.PublicURL = "https://refer.example.nhs.uk"
	svc, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	f.svc = svc
	put := func(s HealthcareService) *HealthcareService {
		out, err := svc.PutService(context.Background(), bootstrapPr, s, 0)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	f.hub = put(HealthcareService{Name: "Region Oral Surgery Triage", OrgODS: hubODS, Specialty: "triage", Commissioned: true})
	f.ibs = put(HealthcareService{Name: "City Dental Hospital Oral Surgery", OrgODS: trustODS, Specialty: "oral-surgery",
		Tiers: []Tier{TierL2, TierL3a}, BookingModel: BookingIndirect, Commissioned: true, Phone: "0113 000 0000",
		BookingInstructions: "The hospital will phone you within two weeks."})
	f.dbs = put(HealthcareService{Name: "Northside Level 2 Practice", OrgODS: trustODS, Specialty: "oral-surgery",
		Tiers: []Tier{TierL2}, BookingModel: BookingDirect, Commissioned: true, Address: "1 High Street"})
	f.unc = put(HealthcareService{Name: "Decommissioned Clinic", OrgODS: trustODS, Specialty: "oral-surgery",
		Tiers: []Tier{TierL2}, Commissioned: false})
	return f
}

// completeForm is a referral form that passes submission.
func completeForm() Referral {
	return Referral{
		Patient: Patient{NHSNumber: "943 476 5919", Given: "Olivia", Family: "Smith", BirthDate: "1984-03-12", Sex: "female",
			Address: []string{"1 Park Row", "Leeds"}, Postcode: "ls1 5ab", Phone: "07700 900123", SMSConsent: true},
		Referrer:    Referrer{Name: "Dr A Dentist", GDCNumber: "123456", PracticeName: "Park Row Dental"},
		GP:          GP{PracticeODS: "B82005", PracticeName: "Park Row Surgery"},
		Medical:     Medical{Anticoagulant: "none", Allergies: "penicillin"},
		Clinical:    Clinical{Reason: "Recurrent pericoronitis 38", Diagnosis: "Partially erupted 38", Procedure: "third-molars", Teeth: "38", Complexity: TierL2, Anaesthesia: "la", Urgency: UrgencyRoutine},
		Radiographs: Radiographs{Attached: true, ExposureDate: "2026-10-30", Views: "OPG"},
	}
}

// submitted creates and submits a referral, returning it.
func (f *fixture) submitted() *Referral {
	f.t.Helper()
	ctx := context.Background()
	r, problems, err := f.svc.CreateDraft(ctx, referrer, completeForm())
	if err != nil || len(problems) > 0 {
		f.t.Fatalf("CreateDraft: %v %v", problems, err)
	}
	r, err = f.svc.Take(ctx, referrer, r.ID, r.Version, StepRequest{Step: StepSubmit})
	if err != nil {
		f.t.Fatalf("submit: %v", err)
	}
	return r
}

func (f *fixture) take(p auth.Principal, r *Referral, req StepRequest) *Referral {
	f.t.Helper()
	out, err := f.svc.Take(context.Background(), p, r.ID, r.Version, req)
	if err != nil {
		f.t.Fatalf("%s: %v", req.Step, err)
	}
	return out
}

func (f *fixture) accept(r *Referral, svc *HealthcareService) *Referral {
	return f.take(triager, r, StepRequest{Step: StepAccept, Decision: &Decision{Tier: TierL2, ServiceID: svc.ID, Priority: "routine", SeeAndTreat: true}})
}
