package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/molar-pacs/molar/internal/auth"
	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
	"github.com/molar-pacs/molar/referral"
	"github.com/molar-pacs/molar/store"
)

// Accounts is what seeding needs of the accounts: the demo users, so
// that each step of a demo referral is taken by the person whose job it
// is (auth.Service.SeedDemo makes them).
type Accounts interface {
	UserByEmail(ctx context.Context, email string) (auth.User, error)
}

// Archive is what seeding needs of the store.
type Archive interface {
	Ingest(ctx context.Context, r io.Reader) (*store.Result, error)
}

// Region is what SeedRegion works on. Referrals must have been opened
// with Clock.Now as its clock, URNKey as its URN key, and Archive as its
// archive, and must not have started its film filer: SeedRegion starts it.
type Region struct {
	Accounts  Accounts
	Referrals *referral.Service
	Archive   Archive
	Clock     *Clock
}

// Summary says what SeedRegion found or made.
type Summary struct {
	// Seeded is false when the region was there already.
	Seeded    bool
	Referrals []Seeded
	Instances int // films stored
}

// Seeded is one demo referral.
type Seeded struct {
	URN       string // "" for the draft
	Patient   string
	BirthDate string // YYYY-MM-DD: with the URN, what the tracker asks for
	Status    referral.Status
}

// HubName is the demo triage hub's name; finding it means the region is
// seeded already.
const HubName = "Molar Demo Oral Surgery Triage Hub"

// SeedRegion creates the demo region unless it exists. It is meant for a
// fresh data directory; on one that has the region already it changes
// nothing.
func SeedRegion(ctx context.Context, rg Region) (Summary, error) {
	defer rg.Clock.reset()
	boot := auth.Principal{UserID: "molar-demo", Via: auth.ViaBootstrap}
	services, err := rg.Referrals.Services(ctx)
	if err != nil {
		return Summary{}, fmt.Errorf("seed demo region: %w", err)
	}
	for _, s := range services {
		if s.Name == HubName {
			return Summary{Referrals: expected()}, nil
		}
	}
	s := &seeder{Region: rg, now: time.Now().UTC().Truncate(time.Hour), people: map[string]auth.Principal{}, services: map[string]string{}}
	for who, email := range map[string]string{"referrer": "referrer@demo.molar.test", "clinician": "clinician@demo.molar.test",
		"provider-admin": "provider-admin@demo.molar.test", "booking": "booking@demo.molar.test"} {
		u, err := rg.Accounts.UserByEmail(ctx, email)
		if err != nil {
			return Summary{}, fmt.Errorf("seed demo region: demo user %s (seed the demo accounts first): %w", email, err)
		}
		g := u.Grants[0]
		s.people[who] = auth.Principal{UserID: u.ID, Email: u.Email, Name: u.Name, Role: g.Role, Org: g.Org, OnBehalfOf: g.OnBehalfOf, Via: auth.ViaSession}
	}
	// The services were defined a season ago.
	rg.Clock.set(s.now.AddDate(0, -3, 0))
	for _, ds := range directory() {
		out, err := rg.Referrals.PutService(ctx, boot, ds.service, 0)
		if err != nil {
			return Summary{}, fmt.Errorf("seed demo service %q: %w", ds.service.Name, err)
		}
		s.services[ds.key] = out.ID
	}
	rg.Referrals.Start(ctx)
	sum := Summary{Seeded: true}
	for i, st := range stories() {
		seeded, n, err := s.tell(ctx, st)
		if err != nil {
			return sum, fmt.Errorf("seed demo referral %d (%s %s): %w", i, st.given, st.family, err)
		}
		sum.Referrals = append(sum.Referrals, seeded)
		sum.Instances += n
	}
	rg.Clock.reset()
	if err := s.freeSlots(ctx, boot); err != nil {
		return sum, err
	}
	n, err := s.unmatched(ctx)
	sum.Instances += n
	return sum, err
}

// expected is what the region holds when it was seeded before: the URNs
// follow from the fixed key and the fixed order.
func expected() []Seeded {
	var out []Seeded
	n := 0
	for _, st := range stories() {
		sd := Seeded{Patient: st.given + " " + st.family, BirthDate: st.dob, Status: st.status}
		if st.status != referral.StatusDraft {
			sd.URN = URN(n)
			n++
		}
		out = append(out, sd)
	}
	return out
}

type seeder struct {
	Region
	now      time.Time
	people   map[string]auth.Principal
	services map[string]string // directory key → service ID
}

// tell plays one story: the referral drafted and submitted on its day,
// its films arriving, and each later step taken by its person.
func (s *seeder) tell(ctx context.Context, st story) (Seeded, int, error) {
	at := s.now.Add(-st.ago)
	s.Clock.set(at)
	ref := s.people["referrer"]
	r, _, err := s.Referrals.CreateDraft(ctx, ref, st.form())
	if err != nil {
		return Seeded{}, 0, err
	}
	out := Seeded{Patient: st.given + " " + st.family, BirthDate: st.dob, Status: r.Status}
	if st.status == referral.StatusDraft {
		return out, 0, nil
	}
	s.Clock.set(at.Add(4 * time.Minute))
	if r, err = s.Referrals.Take(ctx, ref, r.ID, r.Version, referral.StepRequest{Step: referral.StepSubmit}); err != nil {
		return out, 0, err
	}
	out.URN = r.URN
	films := 0
	if st.io > 0 || st.opg {
		if films, err = s.films(ctx, st, r); err != nil {
			return out, films, err
		}
		if err := s.waitFiled(ctx, r.ID); err != nil {
			return out, films, err
		}
	}
	for _, a := range st.acts {
		at = at.Add(a.after)
		s.Clock.set(at)
		req := a.req
		if req.Decision != nil {
			d := *req.Decision
			d.ServiceID = s.services[d.ServiceID]
			req.Decision = &d
		}
		if req.ServiceID != "" {
			req.ServiceID = s.services[req.ServiceID]
		}
		if a.slotIn != 0 {
			clinic := at.Add(a.slotIn).Truncate(day).Add(10 * time.Hour) // a morning clinic
			if req.Appointment, err = s.slot(ctx, r, clinic); err != nil {
				return out, films, err
			}
		}
		if r, err = s.take(ctx, s.people[a.who], r.ID, req); err != nil {
			return out, films, fmt.Errorf("%s: %w", req.Step, err)
		}
	}
	if r.Status != st.status {
		return out, films, fmt.Errorf("ended %s, want %s", r.Status, st.status)
	}
	out.Status = r.Status
	return out, films, nil
}

// take takes a step on the referral as it is now. The film filer may
// have just updated it (a late series), so a stale version is retried as
// a person would: reload, and do it again.
func (s *seeder) take(ctx context.Context, p auth.Principal, id string, req referral.StepRequest) (*referral.Referral, error) {
	var err error
	for range 10 {
		var cur, r *referral.Referral
		if cur, err = s.Referrals.Get(ctx, p, id); err != nil {
			return nil, err
		}
		r, err = s.Referrals.Take(ctx, p, id, cur.Version, req)
		if !errors.Is(err, referral.ErrConflict) {
			return r, err
		}
	}
	return nil, err
}

// slot publishes a slot of the referral's directly bookable service and
// returns the appointment in it.
func (s *seeder) slot(ctx context.Context, r *referral.Referral, start time.Time) (*referral.Appointment, error) {
	sl, err := s.Referrals.AddSlots(ctx, s.people["booking"], r.ProviderService,
		[]referral.Slot{{Start: start, Minutes: 30}})
	if err != nil {
		return nil, fmt.Errorf("publish slot: %w", err)
	}
	return &referral.Appointment{SlotID: sl[0].ID}, nil
}

// freeSlots publishes the community service's clinics for the next two
// weeks, so a booking manager has something to book.
func (s *seeder) freeSlots(ctx context.Context, boot auth.Principal) error {
	var slots []referral.Slot
	day := time.Now().UTC().Truncate(24 * time.Hour)
	for d := 1; d <= 14; d++ {
		date := day.AddDate(0, 0, d)
		if wd := date.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		for _, h := range []int{9, 10, 11, 14, 15} {
			slots = append(slots, referral.Slot{Start: date.Add(time.Duration(h) * time.Hour), Minutes: 30})
		}
	}
	if _, err := s.Referrals.AddSlots(ctx, boot, s.services["community"], slots); err != nil {
		return fmt.Errorf("seed demo slots: %w", err)
	}
	return nil
}

// films stores the story's radiographs the way a practice's imaging
// software would send them: the URN in AccessionNumber, the NHS number as
// Patient ID.
func (s *seeder) films(ctx context.Context, st story, r *referral.Referral) (int, error) {
	exposed := s.now.Add(-st.ago).AddDate(0, 0, -2).Format("20060102")
	study := dcm.NameUID("demo/study/" + r.URN)
	var specs []synth.Spec
	teeth := strings.Split(st.views, ",")
	for i := 1; i <= st.io; i++ {
		lat := "L"
		if i%2 == 0 {
			lat = "R"
		}
		specs = append(specs, synth.Spec{
			SeriesUID: dcm.NameUID("demo/series/io/" + r.URN), SOPInstanceUID: dcm.NameUID(fmt.Sprintf("demo/io/%s/%d", r.URN, i)),
			SeriesNumber: 1, InstanceNumber: i, Rows: 1300, Columns: 1000, Picture: synth.Periapical, Seed: int64(i + 7*len(st.family)),
			Extra: map[dcm.Tag]synth.Value{
				dcm.ImagerPixelSpacing:     {VR: dcm.DS, Value: `0.0185\0.0185`},
				dcm.ImageLaterality:        {VR: dcm.CS, Value: lat},
				dcm.SeriesDescription:      {VR: dcm.LO, Value: "Periapical"},
				dcm.AcquisitionDate:        {VR: dcm.DA, Value: exposed},
				dcm.WindowCenter:           {VR: dcm.DS, Value: "2048"},
				dcm.WindowWidth:            {VR: dcm.DS, Value: "4096"},
				dcm.DerivationDescription:  {VR: dcm.ST, Value: "Synthetic demo film: not a patient's"},
				dcm.ImageComments:          {VR: dcm.LT, Value: "Periapical " + strings.TrimSpace(teeth[(i-1)%len(teeth)])},
				dcm.PresentationIntentType: {VR: dcm.CS, Value: "FOR PRESENTATION"},
			},
		})
	}
	if st.opg {
		specs = append(specs, synth.Spec{
			SOPClassUID: synth.DXForPresentation, Modality: "PX",
			SeriesUID: dcm.NameUID("demo/series/px/" + r.URN), SOPInstanceUID: dcm.NameUID("demo/px/" + r.URN),
			SeriesNumber: 2, InstanceNumber: 1, Rows: 1400, Columns: 2900, Picture: synth.Panoramic, Seed: int64(len(st.given)),
			Extra: map[dcm.Tag]synth.Value{
				dcm.ImagerPixelSpacing:     {VR: dcm.DS, Value: `0.1\0.1`},
				dcm.ImageLaterality:        {VR: dcm.CS, Value: "B"},
				dcm.SeriesDescription:      {VR: dcm.LO, Value: "Dental panoramic tomogram (OPG)"},
				dcm.AcquisitionDate:        {VR: dcm.DA, Value: exposed},
				dcm.WindowCenter:           {VR: dcm.DS, Value: "2048"},
				dcm.WindowWidth:            {VR: dcm.DS, Value: "4096"},
				dcm.DerivationDescription:  {VR: dcm.ST, Value: "Synthetic demo film: not a patient's"},
				dcm.PresentationIntentType: {VR: dcm.CS, Value: "FOR PRESENTATION"},
			},
		})
	}
	stored := 0
	for _, sp := range specs {
		sp.StudyUID = study
		sp.PatientName = strings.ToUpper(st.family) + "^" + strings.ToUpper(st.given)
		sp.PatientID, sp.PatientBirthDate, sp.PatientSex = st.nhs, strings.ReplaceAll(st.dob, "-", ""), strings.ToUpper(st.sex[:1])
		sp.AccessionNumber, sp.StudyDate, sp.StudyTime = r.URN, exposed, "101500"
		sp.StudyDescription = "Oral surgery referral radiographs"
		b, err := synth.Bytes(sp)
		if err != nil {
			return stored, err
		}
		res, err := s.Archive.Ingest(ctx, bytes.NewReader(b))
		if err != nil {
			return stored, fmt.Errorf("store demo film: %w", err)
		}
		if res.Outcome == store.Stored {
			stored++
		}
	}
	return stored, nil
}

// waitFiled waits for the film filer to file the referral's films, so
// that later steps (forwarding) see them as a real referral would.
func (s *seeder) waitFiled(ctx context.Context, id string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r, err := s.Referrals.Get(ctx, s.people["referrer"], id)
		if err != nil {
			return err
		}
		if len(r.Films) > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return errors.New("films not filed within 30 s")
}

// unmatched stores a study that names no URN and a patient no referral
// has: what an administrator meets on the unmatched films list.
func (s *seeder) unmatched(ctx context.Context) (int, error) {
	b, err := synth.Bytes(synth.Spec{
		StudyUID: dcm.NameUID("demo/study/unmatched"), SeriesUID: dcm.NameUID("demo/series/unmatched"),
		SOPInstanceUID: dcm.NameUID("demo/unmatched/1"), Rows: 1300, Columns: 1000, Picture: synth.Periapical, Seed: 5,
		PatientName: "UNKNOWN^PATIENT", PatientID: "PRAC-00417", PatientBirthDate: "19770101", PatientSex: "O",
		AccessionNumber: "ACC417", StudyDate: s.now.AddDate(0, 0, -1).Format("20060102"), StudyTime: "113000",
		StudyDescription: "Bitewing (sent without a referral)",
	})
	if err != nil {
		return 0, err
	}
	res, err := s.Archive.Ingest(ctx, bytes.NewReader(b))
	if err != nil {
		return 0, fmt.Errorf("store demo unmatched film: %w", err)
	}
	// Wait for the filer to give up on it, so the region is whole when
	// seeding returns.
	study := dcm.NameUID("demo/study/unmatched")
	for deadline := time.Now().Add(30 * time.Second); ; {
		list, err := s.Referrals.UnmatchedFilms(ctx)
		if err != nil {
			return 0, err
		}
		if slices.ContainsFunc(list, func(u referral.Unmatched) bool { return u.StudyUID == study }) {
			break
		}
		if time.Now().After(deadline) {
			return 0, errors.New("the unmatched demo film was not listed within 30 s")
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	if res.Outcome == store.Stored {
		return 1, nil
	}
	return 0, nil
}
