package referral

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/auth"
)

// reportSeed is a region with known answers: eight referrals from two
// practices over November and December 2026, and a draft that must count
// nowhere.
//
//	    practice  urgency           triage          provider  booked  films  decision
//	R1  V012345   routine           accept 2 h      1 d       treated 1      L2  IBS see-and-treat
//	R2  V012345   urgent            accept 4 h      2 d       DNA     0      L3a IBS
//	R3  V012345   routine           return 10 h     -         -       0      returned radiograph-missing
//	R4  V054321   routine           return 30 h,    -         -       0      L2  DBS see-and-treat
//	                                return again,
//	                                accept
//	R5  V054321   suspected-cancer  accept 1 h      3 d       treated 1      L3a IBS
//	R6  V012345   routine           redirect 6 h    -         -       0      redirected secondary-care
//	R7  V054321   urgent            info, then      0.5 d     -       0      L2  IBS see-and-treat
//	                                accept at 48 h
//	R8  V012345   routine           waiting         -         -       0      none promised
//
// R1–R4 are submitted in ISO week 45, R5–R7 in week 49 and R8 in week 50.
type reportSeed struct {
	f     *fixture
	refs  []*Referral // R1..R8
	draft *Referral
}

// repFamilies are the patients' family names, one per referral and the
// draft last: none may appear in a report.
var repFamilies = []string{"Ashdown", "Brackley", "Cotterill", "Dunmore", "Ellery", "Fairweather", "Gathercole", "Hollingworth", "Iverson"}

func seedReport(t *testing.T) *reportSeed {
	t.Helper()
	f := newFixture(t, Options{})
	ctx := context.Background()
	sd := &reportSeed{f: f}
	hours := func(h float64) { f.clock.add(time.Duration(h * float64(time.Hour))) }
	form := func(family string, u Urgency) Referral {
		form := completeForm()
		form.Patient.Family, form.Clinical.Urgency = family, u
		return form
	}
	submit := func(p auth.Principal, form Referral) *Referral {
		t.Helper()
		r, problems, err := f.svc.CreateDraft(ctx, p, form)
		if err != nil || len(problems) > 0 {
			t.Fatalf("CreateDraft: %v %v", problems, err)
		}
		return f.take(p, r, StepRequest{Step: StepSubmit})
	}
	film := func(r *Referral, uid string) {
		t.Helper()
		_, err := f.svc.update(ctx, system, r.ID, 0, func(r *Referral, now time.Time) ([]Event, error) {
			r.Films = append(r.Films, Film{StudyUID: uid, By: "admin", At: now, Modality: "PX", Instances: 1})
			return []Event{{Action: "film-filed", Comment: "study " + uid + " filed by the test"}}, nil
		}, nil)
		if err != nil {
			t.Fatalf("file film: %v", err)
		}
	}
	book := func(r *Referral) *Referral {
		return f.take(booker, r, StepRequest{Step: StepBook, Appointment: &Appointment{Start: f.clock.now().Add(7 * 24 * time.Hour), Location: "Clinic 3"}})
	}
	returnIt := func(r *Referral) *Referral {
		return f.take(triager, r, StepRequest{Step: StepReturn, Reason: "radiograph-missing", Comment: "Please send the OPG."})
	}

	// November.
	r1 := submit(referrer, form(repFamilies[0], UrgencyRoutine))
	hours(2)
	r1 = f.accept(r1, f.ibs)
	hours(24)
	r1 = f.take(provClin, r1, StepRequest{Step: StepProviderAccept})
	r1 = book(r1)
	r1 = f.take(provClin, r1, StepRequest{Step: StepTreat})
	f.take(provAdmin, r1, StepRequest{Step: StepDischarge, Reason: "treated"})
	film(r1, "1.2.826.0.1.3680043.10.1")

	r2 := submit(referrer, form(repFamilies[1], UrgencyUrgent))
	hours(4)
	r2 = f.take(triager, r2, StepRequest{Step: StepAccept, Decision: &Decision{Tier: TierL3a, ServiceID: f.ibs.ID, Priority: "urgent"}})
	hours(48)
	r2 = f.take(provClin, r2, StepRequest{Step: StepProviderAccept})
	r2 = book(r2)
	f.take(booker, r2, StepRequest{Step: StepDNA})

	r3 := submit(referrer, form(repFamilies[2], UrgencyRoutine))
	hours(10)
	returnIt(r3)

	r4 := submit(otherRef, form(repFamilies[3], UrgencyRoutine))
	hours(30)
	r4 = returnIt(r4)
	r4 = f.take(otherRef, r4, StepRequest{Step: StepResubmit, Comment: "OPG sent."})
	hours(3)
	r4 = returnIt(r4) // the same outcome and reason again: still one returned referral
	r4 = f.take(otherRef, r4, StepRequest{Step: StepResubmit, Comment: "OPG sent again."})
	hours(5)
	f.accept(r4, f.dbs)

	// December.
	f.clock.add(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).Sub(f.clock.now()))
	r5 := submit(otherRef, form(repFamilies[4], UrgencyCancer))
	hours(1)
	r5 = f.take(triager, r5, StepRequest{Step: StepAccept, Decision: &Decision{Tier: TierL3a, ServiceID: f.ibs.ID, Priority: "two-week-wait"}})
	hours(72)
	r5 = f.take(provClin, r5, StepRequest{Step: StepProviderAccept})
	r5 = book(r5)
	f.take(provClin, r5, StepRequest{Step: StepTreat})
	film(r5, "1.2.826.0.1.3680043.10.5")

	r6 := submit(referrer, form(repFamilies[5], UrgencyRoutine))
	hours(6)
	f.take(triager, r6, StepRequest{Step: StepRedirect, Reason: "secondary-care", Comment: "Needs the maxillofacial unit."})

	r7 := submit(otherRef, form(repFamilies[6], UrgencyUrgent))
	hours(8)
	r7 = f.take(triager, r7, StepRequest{Step: StepRequestInfo, Reason: "radiograph-non-diagnostic", Comment: "The OPG is cut off at 38."})
	hours(16)
	r7 = f.take(otherRef, r7, StepRequest{Step: StepProvideInfo, Comment: "Periapical sent."})
	hours(24)
	r7 = f.accept(r7, f.ibs)
	hours(12)
	f.take(provClin, r7, StepRequest{Step: StepProviderAccept})

	noFilms := form(repFamilies[7], UrgencyRoutine)
	noFilms.Radiographs = Radiographs{NoneReason: "not clinically indicated"}
	r8 := submit(referrer, noFilms)

	draft, _, err := f.svc.CreateDraft(ctx, referrer, form(repFamilies[8], UrgencyCancer))
	if err != nil {
		t.Fatal(err)
	}
	sd.draft = draft
	sd.refs = []*Referral{r1, r2, r3, r4, r5, r6, r7, r8}
	for _, r := range sd.refs {
		if r.URN == "" {
			t.Fatalf("referral %s has no URN", r.ID)
		}
	}
	return sd
}

func repFig(v float64) *float64 { return &v }

func repRate(n, of int, fraction float64) Rate {
	return Rate{Count: n, Of: of, Fraction: repFig(fraction)}
}

func repSpread(period string, n int, median, p90 float64) Spread {
	return Spread{Period: period, Count: n, Median: repFig(median), P90: repFig(p90)}
}

// wantSeedReport is every figure of the seeded region, by month, worked
// out by hand from the table of reportSeed.
func wantSeedReport(f *fixture) *Report {
	ibs, dbs := f.ibs.Name, f.dbs.Name
	return &Report{
		Query: ReportQuery{Period: PeriodMonth},
		Total: 8,
		Overall: Volume{Period: AllPeriods, Referrals: 8,
			Practice: map[string]int{practiceODS: 5, otherPrac: 3},
			Service:  map[string]int{ibs: 4, dbs: 1, NotAllocated: 3},
			Tier:     map[string]int{"L2": 3, "L3a": 2, NotAccepted: 2, Untriaged: 1},
			Urgency:  map[string]int{"routine": 5, "urgent": 2, "suspected-cancer": 1}},
		Volumes: []Volume{
			{Period: "2026-11", Referrals: 4,
				Practice: map[string]int{practiceODS: 3, otherPrac: 1},
				Service:  map[string]int{ibs: 2, dbs: 1, NotAllocated: 1},
				Tier:     map[string]int{"L2": 2, "L3a": 1, NotAccepted: 1},
				Urgency:  map[string]int{"routine": 3, "urgent": 1}},
			{Period: "2026-12", Referrals: 4,
				Practice: map[string]int{practiceODS: 2, otherPrac: 2},
				Service:  map[string]int{ibs: 2, NotAllocated: 2},
				Tier:     map[string]int{"L2": 1, "L3a": 1, NotAccepted: 1, Untriaged: 1},
				Urgency:  map[string]int{"routine": 2, "urgent": 1, "suspected-cancer": 1}},
		},
		// Hours 1, 2, 4, 6, 10, 30, 48: nearest-rank median is rank
		// ⌈3.5⌉ = 4 → 6, p90 rank ⌈6.3⌉ = 7 → 48. November 2, 4, 10, 30:
		// ranks 2 and 4. December 1, 6, 48: ranks 2 and 3.
		Triage: repSpread(AllPeriods, 7, 6, 48),
		TriageByPeriod: []Spread{
			repSpread("2026-11", 4, 4, 30),
			repSpread("2026-12", 3, 6, 48),
		},
		Returned:   Outcome{Rate: repRate(2, 7, 0.2857), ByReason: map[string]Rate{"radiograph-missing": repRate(2, 7, 0.2857)}},
		Redirected: Outcome{Rate: repRate(1, 7, 0.1429), ByReason: map[string]Rate{"secondary-care": repRate(1, 7, 0.1429)}},
		// Days 0.5, 1, 2, 3: ranks 2 and 4.
		ProviderAcceptance: repSpread(AllPeriods, 4, 1, 3),
		DNA:                repRate(1, 3, 0.3333),
		SeeAndTreat:        repRate(3, 5, 0.6),
		Radiographs:        RadiographCounts{WithFilms: 2, WithoutFilms: 6, PromisedNone: 5},
	}
}

const wantSeedCSV = `section,period,dimension,value_name,value
volume,all,all,referrals,8
volume,all,practice:V012345,referrals,5
volume,all,practice:V054321,referrals,3
volume,all,service:City Dental Hospital Oral Surgery,referrals,4
volume,all,service:Northside Level 2 Practice,referrals,1
volume,all,service:not yet allocated,referrals,3
volume,all,tier:L2,referrals,3
volume,all,tier:L3a,referrals,2
volume,all,tier:not accepted,referrals,2
volume,all,tier:untriaged,referrals,1
volume,all,urgency:routine,referrals,5
volume,all,urgency:suspected-cancer,referrals,1
volume,all,urgency:urgent,referrals,2
volume,2026-11,all,referrals,4
volume,2026-11,practice:V012345,referrals,3
volume,2026-11,practice:V054321,referrals,1
volume,2026-11,service:City Dental Hospital Oral Surgery,referrals,2
volume,2026-11,service:Northside Level 2 Practice,referrals,1
volume,2026-11,service:not yet allocated,referrals,1
volume,2026-11,tier:L2,referrals,2
volume,2026-11,tier:L3a,referrals,1
volume,2026-11,tier:not accepted,referrals,1
volume,2026-11,urgency:routine,referrals,3
volume,2026-11,urgency:urgent,referrals,1
volume,2026-12,all,referrals,4
volume,2026-12,practice:V012345,referrals,2
volume,2026-12,practice:V054321,referrals,2
volume,2026-12,service:City Dental Hospital Oral Surgery,referrals,2
volume,2026-12,service:not yet allocated,referrals,2
volume,2026-12,tier:L2,referrals,1
volume,2026-12,tier:L3a,referrals,1
volume,2026-12,tier:not accepted,referrals,1
volume,2026-12,tier:untriaged,referrals,1
volume,2026-12,urgency:routine,referrals,2
volume,2026-12,urgency:suspected-cancer,referrals,1
volume,2026-12,urgency:urgent,referrals,1
triage_turnaround,all,all,referrals,7
triage_turnaround,all,all,median_hours,6
triage_turnaround,all,all,p90_hours,48
triage_turnaround,2026-11,all,referrals,4
triage_turnaround,2026-11,all,median_hours,4
triage_turnaround,2026-11,all,p90_hours,30
triage_turnaround,2026-12,all,referrals,3
triage_turnaround,2026-12,all,median_hours,6
triage_turnaround,2026-12,all,p90_hours,48
returned,all,all,referrals,2
returned,all,all,triaged,7
returned,all,all,fraction,0.2857
returned,all,reason:radiograph-missing,referrals,2
returned,all,reason:radiograph-missing,triaged,7
returned,all,reason:radiograph-missing,fraction,0.2857
redirected,all,all,referrals,1
redirected,all,all,triaged,7
redirected,all,all,fraction,0.1429
redirected,all,reason:secondary-care,referrals,1
redirected,all,reason:secondary-care,triaged,7
redirected,all,reason:secondary-care,fraction,0.1429
provider_acceptance,all,all,referrals,4
provider_acceptance,all,all,median_days,1
provider_acceptance,all,all,p90_days,3
dna,all,all,referrals,1
dna,all,all,booked,3
dna,all,all,fraction,0.3333
see_and_treat,all,all,referrals,3
see_and_treat,all,all,accepted,5
see_and_treat,all,all,fraction,0.6
radiographs,all,all,with_films,2
radiographs,all,all,without_films,6
radiographs,all,all,promised_none,5
`

// sameReport compares reports, showing both as JSON when they differ.
func sameReport(t *testing.T, got, want *Report) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	t.Fatalf("report differs\ngot:\n%s\nwant:\n%s", g, w)
}

// assertReportAnonymous fails if out holds anything that identifies a
// patient or a referral of the seed.
func assertReportAnonymous(t *testing.T, what string, out []byte, sd *reportSeed) {
	t.Helper()
	form := completeForm()
	secrets := append([]string{"9434765919", form.Patient.NHSNumber, form.Patient.Given, form.Patient.BirthDate,
		"LS1 5AB", "07700900123", "Park Row"}, repFamilies...)
	for _, r := range append(slices.Clone(sd.refs), sd.draft) {
		secrets = append(secrets, r.ID)
		if r.URN != "" {
			secrets = append(secrets, r.URN)
		}
	}
	for _, s := range secrets {
		if bytes.Contains(bytes.ToLower(out), bytes.ToLower([]byte(s))) {
			t.Errorf("%s contains %q, which identifies a patient or referral", what, s)
		}
	}
}

// Every figure of the seeded region, as the Report and as CSV, and no
// patient data in either.
func TestReportFigures(t *testing.T) {
	sd := seedReport(t)
	ctx := context.Background()
	rep, err := sd.f.svc.Report(ctx, analyst, ReportQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Generated.Equal(sd.f.clock.now()) {
		t.Errorf("generated %v, want the clock's %v", rep.Generated, sd.f.clock.now())
	}
	rep.Generated = time.Time{}
	sameReport(t, rep, wantSeedReport(sd.f))

	var buf bytes.Buffer
	if err := WriteReportCSV(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != wantSeedCSV {
		t.Errorf("CSV:\n%s\nwant:\n%s", got, wantSeedCSV)
	}
	rows, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v", err)
	}
	if !slices.Equal(rows[0], ReportCSVHeader) {
		t.Errorf("header row %v", rows[0])
	}
	seen := map[string]bool{}
	for _, row := range rows[1:] {
		key := strings.Join(row[:4], ",")
		if seen[key] {
			t.Errorf("figure %s appears twice", key)
		}
		seen[key] = true
	}
	assertReportAnonymous(t, "CSV", buf.Bytes(), sd)
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	assertReportAnonymous(t, "JSON", js, sd)
}

// The range selects referrals by submission; weeks are ISO weeks; a
// period with no triage decision yet is listed with none.
func TestReportQueries(t *testing.T) {
	sd := seedReport(t)
	dec1 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	noTimes := func(period string) Spread { return Spread{Period: period} }
	tests := []struct {
		name       string
		q          ReportQuery
		total      int
		triage     []Spread
		returned   Rate
		redirected int
	}{
		{"all, by month", ReportQuery{}, 8,
			[]Spread{repSpread("2026-11", 4, 4, 30), repSpread("2026-12", 3, 6, 48)}, repRate(2, 7, 0.2857), 1},
		{"all, by week", ReportQuery{Period: PeriodWeek}, 8,
			[]Spread{repSpread("2026-W45", 4, 4, 30), repSpread("2026-W49", 3, 6, 48), noTimes("2026-W50")}, repRate(2, 7, 0.2857), 1},
		{"November", ReportQuery{To: dec1}, 4,
			[]Spread{repSpread("2026-11", 4, 4, 30)}, repRate(2, 4, 0.5), 0},
		{"from December, by week", ReportQuery{From: dec1, Period: PeriodWeek}, 4,
			[]Spread{repSpread("2026-W49", 3, 6, 48), noTimes("2026-W50")}, repRate(0, 3, 0), 1},
		{"only the last week", ReportQuery{From: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 14, 0, 0, 0, 0, time.UTC), Period: PeriodWeek}, 1,
			[]Spread{noTimes("2026-W50")}, Rate{}, 0},
		{"before any referral", ReportQuery{To: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}, 0,
			[]Spread{}, Rate{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := sd.f.svc.Report(context.Background(), analyst, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Total != tc.total || rep.Overall.Referrals != tc.total {
				t.Errorf("total %d (overall %d), want %d", rep.Total, rep.Overall.Referrals, tc.total)
			}
			if !reflect.DeepEqual(rep.TriageByPeriod, tc.triage) {
				t.Errorf("triage by period %+v, want %+v", rep.TriageByPeriod, tc.triage)
			}
			if len(rep.Volumes) != len(tc.triage) {
				t.Fatalf("%d volume periods, want %d", len(rep.Volumes), len(tc.triage))
			}
			sum := 0
			for i, v := range rep.Volumes {
				sum += v.Referrals
				if v.Period != tc.triage[i].Period {
					t.Errorf("volume period %d is %s, want %s", i, v.Period, tc.triage[i].Period)
				}
			}
			if sum != tc.total {
				t.Errorf("periods add up to %d, want %d", sum, tc.total)
			}
			if !reflect.DeepEqual(rep.Returned.Rate, tc.returned) || rep.Redirected.Count != tc.redirected {
				t.Errorf("returned %+v redirected %d, want %+v and %d", rep.Returned.Rate, rep.Redirected.Count, tc.returned, tc.redirected)
			}
		})
	}
}

// Analysts (and the system administrator, and the bootstrap token) may
// read the reports; clinical and booking roles may not.
func TestReportForbidden(t *testing.T) {
	f := newFixture(t, Options{})
	tests := []struct {
		p  auth.Principal
		ok bool
	}{
		{analyst, true},
		{sysadmin, true},
		{bootstrapPr, true},
		{referrer, false},
		{triager, false},
		{provClin, false},
		{provAdmin, false},
		{booker, false},
		{definer, false},
	}
	for _, tc := range tests {
		t.Run(tc.p.UserID, func(t *testing.T) {
			rep, err := f.svc.Report(context.Background(), tc.p, ReportQuery{})
			switch {
			case tc.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.ok && (rep.Total != 0 || rep.Volumes == nil || rep.Triage.Median != nil || rep.DNA.Fraction != nil):
				t.Fatalf("an empty region's report: %+v", rep)
			case !tc.ok && !errors.Is(err, ErrForbidden):
				t.Fatalf("got %v, want ErrForbidden", err)
			}
		})
	}
}

// A query the service cannot answer is refused with the field at fault.
func TestReportBadQuery(t *testing.T) {
	f := newFixture(t, Options{})
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		q     ReportQuery
		field string
	}{
		{"unknown period", ReportQuery{Period: "fortnight"}, "period"},
		{"empty range", ReportQuery{From: day, To: day}, "to"},
		{"range backwards", ReportQuery{From: day, To: day.AddDate(0, 0, -1)}, "to"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Report(context.Background(), analyst, tc.q)
			var fe FieldErrors
			if !errors.As(err, &fe) || len(fe) != 1 || fe[0].Field != tc.field {
				t.Fatalf("got %v, want a problem with %s", err, tc.field)
			}
		})
	}
}

// The nearest-rank percentile: an observed value at rank ⌈p/100 × n⌉.
func TestReportNearestRank(t *testing.T) {
	seq := func(n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = float64(i + 1)
		}
		return out
	}
	tests := []struct {
		name        string
		sorted      []float64
		median, p90 float64
	}{
		{"one value", []float64{5}, 5, 5},
		{"even count: the lower middle", []float64{2, 4, 10, 30}, 4, 30},
		{"odd count", []float64{1, 6, 48}, 6, 48},
		{"ten values: p90 is the ninth", seq(10), 5, 9},
		{"twenty values", seq(20), 10, 18},
		{"a hundred values", seq(100), 50, 90},
		{"eleven values", seq(11), 6, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := nearestRank(tc.sorted, 50); got != tc.median {
				t.Errorf("median %v, want %v", got, tc.median)
			}
			if got := nearestRank(tc.sorted, 90); got != tc.p90 {
				t.Errorf("p90 %v, want %v", got, tc.p90)
			}
		})
	}
}

// repGuard is a Guard that knows one principal and applies the matrix.
type repGuard struct{ p auth.Principal }

func (g repGuard) CheckAny(_ *http.Request, actions ...auth.Action) (auth.Principal, error) {
	for _, a := range actions {
		if may(g.p, a) {
			return g.p, nil
		}
	}
	return auth.Principal{}, &auth.AccessError{Status: http.StatusForbidden, Message: "Your role may not do this."}
}

func TestReportHTTP(t *testing.T) {
	sd := seedReport(t)
	type handler func(h *api) http.HandlerFunc
	summary := func(h *api) http.HandlerFunc { return h.reportSummary }
	csvFile := func(h *api) http.HandlerFunc { return h.reportCSV }
	jsonReport := func(t *testing.T, rec *httptest.ResponseRecorder) *Report {
		t.Helper()
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q", ct)
		}
		var rep Report
		if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
			t.Fatalf("body is not a report: %v\n%s", err, rec.Body)
		}
		return &rep
	}
	message := func(want string) func(t *testing.T, rec *httptest.ResponseRecorder) {
		return func(t *testing.T, rec *httptest.ResponseRecorder) {
			var pr problem
			if err := json.Unmarshal(rec.Body.Bytes(), &pr); err != nil || !strings.Contains(pr.Message, want) {
				t.Errorf("message %q (%v), want one containing %q", pr.Message, err, want)
			}
		}
	}
	tests := []struct {
		name    string
		p       auth.Principal
		handler handler
		query   string
		status  int
		check   func(t *testing.T, rec *httptest.ResponseRecorder)
	}{
		{"summary", analyst, summary, "", http.StatusOK, func(t *testing.T, rec *httptest.ResponseRecorder) {
			rep := jsonReport(t, rec)
			rep.Generated = time.Time{}
			sameReport(t, rep, wantSeedReport(sd.f))
			assertReportAnonymous(t, "JSON", rec.Body.Bytes(), sd)
		}},
		{"summary of December by week", analyst, summary, "?from=2026-12-01&to=2027-01-01&period=week", http.StatusOK, func(t *testing.T, rec *httptest.ResponseRecorder) {
			rep := jsonReport(t, rec)
			if rep.Total != 4 || len(rep.Volumes) != 2 || rep.Volumes[0].Period != "2026-W49" || rep.Query.Period != PeriodWeek ||
				!rep.Query.From.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) || !rep.Query.To.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("report %+v", rep)
			}
		}},
		{"csv", analyst, csvFile, "", http.StatusOK, func(t *testing.T, rec *httptest.ResponseRecorder) {
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
				t.Errorf("Content-Type %q", ct)
			}
			if cd := rec.Header().Get("Content-Disposition"); cd != `attachment; filename="molar-referrals-report.csv"` {
				t.Errorf("Content-Disposition %q", cd)
			}
			rows, err := csv.NewReader(bytes.NewReader(rec.Body.Bytes())).ReadAll()
			if err != nil || len(rows) < 2 || !slices.Equal(rows[0], ReportCSVHeader) {
				t.Fatalf("CSV %v (%v)", rows, err)
			}
			if rec.Body.String() != wantSeedCSV {
				t.Errorf("CSV:\n%s", rec.Body)
			}
			assertReportAnonymous(t, "CSV", rec.Body.Bytes(), sd)
		}},
		{"csv of November", analyst, csvFile, "?to=2026-12-01", http.StatusOK, func(t *testing.T, rec *httptest.ResponseRecorder) {
			if !strings.Contains(rec.Body.String(), "\nvolume,all,all,referrals,4\n") || strings.Contains(rec.Body.String(), "2026-12") {
				t.Errorf("CSV:\n%s", rec.Body)
			}
		}},
		{"bad from", analyst, summary, "?from=01/11/2026", http.StatusBadRequest, message("from must be a date like 2026-11-01")},
		{"bad from, csv", analyst, csvFile, "?from=2026-13-01", http.StatusBadRequest, message("from must be a date")},
		{"bad to", analyst, summary, "?to=tomorrow", http.StatusBadRequest, message("to must be a date")},
		{"to before from", analyst, summary, "?from=2026-12-01&to=2026-11-01", http.StatusBadRequest, message("to must be after from")},
		{"bad period", analyst, csvFile, "?period=quarter", http.StatusBadRequest, message("period must be month or week")},
		{"forbidden summary", referrer, summary, "", http.StatusForbidden, message("may not")},
		{"forbidden csv", triager, csvFile, "", http.StatusForbidden, message("may not")},
		{"forbidden before a bad query", booker, summary, "?from=nonsense", http.StatusForbidden, message("may not")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &api{s: sd.f.svc, g: repGuard{tc.p}, log: slog.New(slog.DiscardHandler)}
			rec := httptest.NewRecorder()
			tc.handler(h)(rec, httptest.NewRequest(http.MethodGet, "/api/reports/x"+tc.query, nil))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			tc.check(t, rec)
		})
	}
}
