package referral

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/auth"
	"github.com/molar-pacs/molar/referral/urn"
)

// allowedSteps is the state machine as the issue describes it, written
// out independently of the rules table so that a wrong rule shows.
var allowedSteps = map[Status][]Step{
	StatusDraft:            {StepSubmit, StepCancel},
	StatusSubmitted:        {StepCancel},
	StatusAwaitingTriage:   {StepRequestInfo, StepAccept, StepReturn, StepRedirect, StepCancel},
	StatusInfoRequested:    {StepProvideInfo, StepAccept, StepReturn, StepRedirect, StepCancel},
	StatusAccepted:         {},
	StatusReturned:         {StepResubmit},
	StatusRedirected:       {},
	StatusSentToProvider:   {StepRedirect, StepProviderAccept, StepCancel},
	StatusProviderAccepted: {StepContact, StepBook, StepNoContact, StepDischarge, StepCancel},
	StatusContacted:        {StepBook, StepNoContact, StepDischarge, StepCancel},
	StatusBooked:           {StepBook, StepCancelAppointment, StepTreat, StepDNA, StepDischarge, StepCancel},
	StatusTreated:          {StepDischarge},
	StatusDischarged:       {},
	StatusDNA:              {StepBook, StepDischarge, StepCancel},
	StatusNoContact:        {StepContact, StepDischarge, StepCancel},
	StatusCancelled:        {},
}

// validRequest is a step with everything it needs.
func validRequest(f *fixture, step Step, now time.Time) StepRequest {
	req := StepRequest{Step: step}
	switch step {
	case StepRequestInfo:
		req.Reason, req.Comment = "radiograph-missing", "Please send the OPG."
	case StepProvideInfo:
		req.Comment = "OPG sent today."
	case StepAccept:
		req.Decision = &Decision{Tier: TierL2, ServiceID: f.ibs.ID, Priority: "routine"}
	case StepReturn:
		req.Reason, req.Comment = "treat-in-practice", "Within GDP competence: section and elevate."
	case StepRedirect:
		req.Reason, req.ServiceID, req.Comment = "another-provider", f.ibs.ID, "Closer to home."
	case StepResubmit:
		req.Comment = "Added the radiograph."
	case StepBook:
		req.Appointment = &Appointment{Start: now.Add(7 * 24 * time.Hour), Location: "Clinic 3"}
	case StepCancelAppointment, StepCancel:
		req.Reason = "patient-request"
	case StepDischarge:
		req.Reason = "treated"
	}
	return req
}

// inStatus is a complete referral in status st, at the fixture's orgs.
func inStatus(f *fixture, st Status) *Referral {
	form := completeForm()
	r := &Referral{ID: "r-" + string(st), URN: "", Status: st, Version: 1, Specialty: "oral-surgery"}
	r.setForm(&form)
	r.Referrer.PracticeODS = practiceODS
	r.normalize()
	r.Created = f.clock.now()
	if st != StatusDraft {
		r.TriageService, r.TriageOrg = f.hub.ID, hubODS
		r.ProviderService, r.ProviderOrg = f.ibs.ID, trustODS
	}
	return r
}

// Every status against every step: the steps the issue allows succeed for
// someone, all others are refused as not allowed now, whoever asks.
func TestStateMachineEveryTransition(t *testing.T) {
	f := newFixture(t, Options{})
	now := f.clock.now()
	people := []auth.Principal{referrer, triager, provClin, provAdmin, booker}
	for _, st := range Statuses() {
		want, ok := allowedSteps[st]
		if !ok {
			t.Fatalf("status %s missing from the expected table", st)
		}
		for _, step := range Steps() {
			t.Run(fmt.Sprintf("%s/%s", st, step), func(t *testing.T) {
				succeeded := false
				for _, p := range people {
					r := inStatus(f, st)
					_, err := plan(r, p, validRequest(f, step, now), f.svc.db, now)
					switch {
					case err == nil:
						succeeded = true
					case errors.Is(err, ErrNotAllowedNow):
						if slices.Contains(want, step) {
							t.Errorf("%s refused as not allowed now for %s: %v", step, p.Role, err)
						}
					case errors.Is(err, ErrForbidden):
						if !slices.Contains(want, step) {
							t.Errorf("%s from %s judged on permission before status: %v", step, st, err)
						}
					default:
						t.Errorf("%s by %s: unexpected error %v", step, p.Role, err)
					}
				}
				if succeeded != slices.Contains(want, step) {
					t.Errorf("%s from %s: succeeded=%v, want %v", step, st, succeeded, !succeeded)
				}
			})
		}
	}
}

// Who may take which step, at which organisation.
func TestStepPermissions(t *testing.T) {
	f := newFixture(t, Options{})
	now := f.clock.now()
	tests := []struct {
		status Status
		step   Step
		p      auth.Principal
		ok     bool
	}{
		{StatusDraft, StepSubmit, referrer, true},
		{StatusDraft, StepSubmit, otherRef, false}, // another practice
		{StatusDraft, StepSubmit, triager, false},
		{StatusAwaitingTriage, StepAccept, triager, true},
		{StatusAwaitingTriage, StepAccept, provClin, false}, // a clinician, but not at the triage hub
		{StatusAwaitingTriage, StepAccept, referrer, false},
		{StatusAwaitingTriage, StepAccept, booker, false},
		{StatusAwaitingTriage, StepAccept, analyst, false},
		{StatusAwaitingTriage, StepAccept, sysadmin, false},
		{StatusAwaitingTriage, StepAccept, bootstrapPr, true},
		{StatusAwaitingTriage, StepReturn, triager, true},
		{StatusAwaitingTriage, StepCancel, referrer, true},
		{StatusAwaitingTriage, StepCancel, triager, true},
		{StatusAwaitingTriage, StepCancel, booker, false},
		{StatusInfoRequested, StepProvideInfo, referrer, true},
		{StatusInfoRequested, StepProvideInfo, triager, false},
		{StatusSentToProvider, StepProviderAccept, provClin, true},
		{StatusSentToProvider, StepProviderAccept, provAdmin, false}, // no clinical decision by admins
		{StatusSentToProvider, StepProviderAccept, triager, false},   // the hub is not the provider
		{StatusSentToProvider, StepRedirect, provClin, true},
		{StatusProviderAccepted, StepBook, booker, true},
		{StatusProviderAccepted, StepBook, provAdmin, true},
		{StatusProviderAccepted, StepBook, provClin, true},
		{StatusProviderAccepted, StepBook, referrer, false},
		{StatusProviderAccepted, StepCancel, referrer, false}, // after triage the provider cancels
		{StatusBooked, StepTreat, provClin, true},
		{StatusBooked, StepTreat, booker, false},
		{StatusBooked, StepDNA, booker, true},
		{StatusTreated, StepDischarge, provAdmin, true},
		{StatusReturned, StepResubmit, referrer, true},
		{StatusReturned, StepResubmit, otherRef, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%s/%s", tc.status, tc.step, tc.p.UserID), func(t *testing.T) {
			r := inStatus(f, tc.status)
			_, err := plan(r, tc.p, validRequest(f, tc.step, now), f.svc.db, now)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrForbidden) {
				t.Fatalf("got %v, want ErrForbidden", err)
			}
		})
	}
}

// What each step insists on: reasons from the list, the comment, a
// commissioned service at the right tier.
func TestStepPayloadChecks(t *testing.T) {
	f := newFixture(t, Options{})
	now := f.clock.now()
	tests := []struct {
		name  string
		st    Status
		p     auth.Principal
		req   StepRequest
		field string
	}{
		{"return without reason", StatusAwaitingTriage, triager, StepRequest{Step: StepReturn, Comment: "advice"}, "reason"},
		{"return without advice", StatusAwaitingTriage, triager, StepRequest{Step: StepReturn, Reason: "radiograph-non-diagnostic"}, "comment"},
		{"return with unknown reason", StatusAwaitingTriage, triager, StepRequest{Step: StepReturn, Reason: "bored", Comment: "x"}, "reason"},
		{"accept without decision", StatusAwaitingTriage, triager, StepRequest{Step: StepAccept}, "decision"},
		{"accept to uncommissioned", StatusAwaitingTriage, triager, StepRequest{Step: StepAccept, Decision: &Decision{Tier: TierL2, ServiceID: f.unc.ID, Priority: "routine"}}, "decision.service_id"},
		{"accept at a tier the service lacks", StatusAwaitingTriage, triager, StepRequest{Step: StepAccept, Decision: &Decision{Tier: TierL3b, ServiceID: f.ibs.ID, Priority: "routine"}}, "decision.service_id"},
		{"accept to the triage hub", StatusAwaitingTriage, triager, StepRequest{Step: StepAccept, Decision: &Decision{Tier: TierL2, ServiceID: f.hub.ID, Priority: "routine"}}, "decision.service_id"},
		{"accept without priority", StatusAwaitingTriage, triager, StepRequest{Step: StepAccept, Decision: &Decision{Tier: TierL2, ServiceID: f.ibs.ID}}, "decision.priority"},
		{"redirect without justification", StatusAwaitingTriage, triager, StepRequest{Step: StepRedirect, Reason: "secondary-care"}, "comment"},
		{"request info without question", StatusAwaitingTriage, triager, StepRequest{Step: StepRequestInfo, Reason: "medical-history"}, "comment"},
		{"book without time", StatusProviderAccepted, booker, StepRequest{Step: StepBook}, "appointment.start"},
		{"book in the past", StatusProviderAccepted, booker, StepRequest{Step: StepBook, Appointment: &Appointment{Start: now.Add(-72 * time.Hour)}}, "appointment.start"},
		{"cancel without reason", StatusAwaitingTriage, referrer, StepRequest{Step: StepCancel}, "reason"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := inStatus(f, tc.st)
			_, err := plan(r, tc.p, tc.req, f.svc.db, now)
			var fe FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want field errors", err)
			}
			if !slices.ContainsFunc(fe, func(e FieldError) bool { return e.Field == tc.field }) {
				t.Fatalf("errors %v do not name %s", fe, tc.field)
			}
			if r.Status != tc.st {
				t.Fatalf("a refused step changed the status to %s", r.Status)
			}
		})
	}
}

// A referral from draft to discharge: every step recorded with who, role,
// organisation, reason and comment; the URN issued at submission; texts
// only with consent and carrying the URN and tracking link.
func TestJourneyDraftToDischarge(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	r := f.submitted()
	if r.Status != StatusAwaitingTriage || r.TriageOrg != hubODS || r.Submitted.IsZero() {
		t.Fatalf("after submit: %s at %q", r.Status, r.TriageOrg)
	}
	if err := urn.Check(r.URN); err != nil {
		t.Fatalf("URN %q: %v", r.URN, err)
	}
	texts := f.texts.messages()
	if len(texts) != 1 || texts[0].To != "07700900123" ||
		texts[0].Text != "Your dental referral reference is "+r.URN+". Track it at https://refer.example.nhs.uk/track?urn="+r.URN {
		t.Fatalf("texts after submit: %+v", texts)
	}
	f.clock.add(24 * time.Hour)
	r = f.take(triager, r, StepRequest{Step: StepRequestInfo, Reason: "radiograph-non-diagnostic", Comment: "The OPG is cut off at 38; please send a periapical."})
	r = f.take(referrer, r, StepRequest{Step: StepProvideInfo, Comment: "Periapical sent."})
	r = f.accept(r, f.ibs)
	if r.Status != StatusSentToProvider || r.ProviderOrg != trustODS || r.Decision == nil || !r.Decision.SeeAndTreat {
		t.Fatalf("after accept: %+v", r)
	}
	r = f.take(provClin, r, StepRequest{Step: StepProviderAccept})
	r = f.take(booker, r, StepRequest{Step: StepBook, Appointment: &Appointment{Start: f.clock.now().Add(10 * 24 * time.Hour), Location: "Clinic 3"}})
	r = f.take(booker, r, StepRequest{Step: StepBook, Appointment: &Appointment{Start: f.clock.now().Add(12 * 24 * time.Hour), Location: "Clinic 4"}})
	r = f.take(provClin, r, StepRequest{Step: StepTreat, Comment: "38 removed under LA."})
	r = f.take(provAdmin, r, StepRequest{Step: StepDischarge, Reason: "treated"})
	if r.Status != StatusDischarged {
		t.Fatalf("final status %s", r.Status)
	}

	events, err := f.svc.History(ctx, referrer, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		action   string
		from, to Status
		user     string
	}
	want := []step{
		{"draft", "", StatusDraft, referrer.UserID},
		{"submit", StatusDraft, StatusSubmitted, referrer.UserID},
		{"system", StatusSubmitted, StatusAwaitingTriage, "molar"},
		{"request-info", StatusAwaitingTriage, StatusInfoRequested, triager.UserID},
		{"provide-info", StatusInfoRequested, StatusAwaitingTriage, referrer.UserID},
		{"accept", StatusAwaitingTriage, StatusAccepted, triager.UserID},
		{"system", StatusAccepted, StatusSentToProvider, "molar"},
		{"provider-accept", StatusSentToProvider, StatusProviderAccepted, provClin.UserID},
		{"book", StatusProviderAccepted, StatusBooked, booker.UserID},
		{"rearrange", StatusBooked, StatusBooked, booker.UserID},
		{"treat", StatusBooked, StatusTreated, provClin.UserID},
		{"discharge", StatusTreated, StatusDischarged, provAdmin.UserID},
	}
	if len(events) != len(want) {
		t.Fatalf("history has %d events, want %d: %+v", len(events), len(want), events)
	}
	for i, e := range events {
		w := want[i]
		if e.Action != w.action || e.From != w.from || e.To != w.to || e.User != w.user || e.Seq != i+1 {
			t.Errorf("event %d = %+v, want %+v", i+1, e, w)
		}
	}
	ri := events[3]
	if ri.Role != string(auth.RoleClinician) || ri.Org != hubODS || ri.Reason != "radiograph-non-diagnostic" || ri.Comment == "" {
		t.Errorf("request-info event lacks role, org, reason or comment: %+v", ri)
	}
	// Texts: the URN at submission, then a no-news-in-the-text update at
	// sent-to-provider, provider-accepted and booked (twice).
	texts = f.texts.messages()
	if len(texts) != 5 {
		t.Fatalf("%d texts, want 5: %+v", len(texts), texts)
	}
	for _, m := range texts[1:] {
		if m.Text != "There is an update on your dental referral "+r.URN+". See it at https://refer.example.nhs.uk/track?urn="+r.URN {
			t.Errorf("update text %q", m.Text)
		}
	}
}

// No consent, no texts.
func TestNoTextWithoutConsent(t *testing.T) {
	f := newFixture(t, Options{})
	form := completeForm()
	form.Patient.SMSConsent = false
	r, _, err := f.svc.CreateDraft(context.Background(), referrer, form)
	if err != nil {
		t.Fatal(err)
	}
	r = f.take(referrer, r, StepRequest{Step: StepSubmit})
	f.accept(r, f.ibs)
	if got := f.texts.messages(); len(got) != 0 {
		t.Fatalf("texts sent without consent: %+v", got)
	}
}

// Two triagers decide on one referral at once: one decision lands, the
// other is refused as a conflict, and nothing is lost or doubled.
func TestConcurrentTriage(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	for round := range 20 {
		r := f.submitted()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		reqs := []struct {
			p   auth.Principal
			req StepRequest
		}{
			{triager, StepRequest{Step: StepAccept, Decision: &Decision{Tier: TierL2, ServiceID: f.ibs.ID, Priority: "routine"}}},
			{triager2, StepRequest{Step: StepReturn, Reason: "treat-in-practice", Comment: "GDP can do this."}},
		}
		for i, rq := range reqs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = f.svc.Take(ctx, rq.p, r.ID, r.Version, rq.req)
			}()
		}
		wg.Wait()
		ok, conflicts := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrConflict):
				conflicts++
			default:
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		if ok != 1 || conflicts != 1 {
			t.Fatalf("round %d: %d succeeded, %d conflicts; want 1 and 1", round, ok, conflicts)
		}
		got, err := f.svc.Get(ctx, referrer, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		events, _ := f.svc.History(ctx, referrer, r.ID)
		decisions := 0
		for _, e := range events {
			if e.Action == "accept" || e.Action == "return" {
				decisions++
			}
		}
		if decisions != 1 || got.Version != r.Version+1 {
			t.Fatalf("round %d: %d decisions recorded, version %d → %d", round, decisions, r.Version, got.Version)
		}
	}
}

// Submission lists every missing field of the minimum dataset, in words a
// receptionist understands, and leaves the draft as it was.
func TestSubmitValidation(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	form := Referral{Patient: Patient{NHSNumber: "943 476 5918", Given: "Olivia", BirthDate: "2099-01-01"}}
	r, problems, err := f.svc.CreateDraft(ctx, referrer, form)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]bool{}
	for _, p := range problems {
		fields[p.Field] = true
	}
	if !fields["patient.nhs_number"] || !fields["patient.birth_date"] {
		t.Fatalf("draft problems %v lack the bad NHS number and birth date", problems)
	}
	_, err = f.svc.Take(ctx, referrer, r.ID, r.Version, StepRequest{Step: StepSubmit})
	var fe FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("submit of an empty form: %v", err)
	}
	got := map[string]string{}
	for _, e := range fe {
		got[e.Field] = e.Message
	}
	for _, field := range []string{"patient.family", "patient.sex", "patient.address", "patient.postcode", "referrer.name",
		"referrer.gdc_number", "medical", "clinical.reason", "clinical.procedure", "clinical.anaesthesia", "clinical.urgency",
		"radiographs.none_reason", "gp.practice_name", "patient.nhs_number"} {
		if got[field] == "" {
			t.Errorf("no message for %s (got %v)", field, got)
		}
	}
	if cur, _ := f.svc.Get(ctx, referrer, r.ID); cur.Status != StatusDraft || cur.Version != r.Version {
		t.Errorf("refused submission changed the draft: %s v%d", cur.Status, cur.Version)
	}
}

// Drafts are saved half-filled and resumed; a stale save is refused.
func TestDraftSaveAndResume(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	r, _, err := f.svc.CreateDraft(ctx, referrer, Referral{Patient: Patient{Family: "Smith"}})
	if err != nil {
		t.Fatal(err)
	}
	form := completeForm()
	saved, problems, err := f.svc.SaveForm(ctx, referrer, r.ID, r.Version, form)
	if err != nil || len(problems) != 0 {
		t.Fatalf("save: %v %v", problems, err)
	}
	if saved.Patient.Postcode != "LS1 5AB" || saved.Patient.NHSNumber != "9434765919" || saved.Referrer.PracticeODS != practiceODS {
		t.Errorf("saved form not normalised or lost its practice: %+v %+v", saved.Patient, saved.Referrer)
	}
	if _, _, err := f.svc.SaveForm(ctx, referrer, r.ID, r.Version, form); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale save: %v, want ErrConflict", err)
	}
	if _, _, err := f.svc.SaveForm(ctx, otherRef, r.ID, saved.Version, form); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another practice saving: %v, want ErrNotFound", err)
	}
	drafts, err := f.svc.Worklist(ctx, referrer, "drafts", 0)
	if err != nil || len(drafts) != 1 || drafts[0].ID != r.ID {
		t.Fatalf("drafts list = %+v, %v", drafts, err)
	}
	if other, _ := f.svc.Worklist(ctx, otherRef, "drafts", 0); len(other) != 0 {
		t.Fatalf("another practice sees drafts %+v", other)
	}
}

// A history names the people who acted, as they were called then, beside
// their role and organisation.
func TestHistoryNamesPeople(t *testing.T) {
	f := newFixture(t, Options{})
	named := triager
	named.Name = "Ms Tess Triager"
	r := f.take(named, f.submitted(), StepRequest{Step: StepRequestInfo, Reason: "medical-history", Comment: "Latest INR?"})
	evs, err := f.svc.History(context.Background(), referrer, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last.Action != string(StepRequestInfo) || last.Name != "Ms Tess Triager" || last.User != triager.UserID || last.Org != hubODS {
		t.Errorf("event: %+v", last)
	}
}
