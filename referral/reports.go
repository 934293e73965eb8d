package referral

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/molar-pacs/molar/internal/auth"
)

// Reports for information analysts: counts, rates and times, never a
// patient row. Nothing here emits a name, NHS number, URN, date of birth
// or referral ID; the dimensions are organisations (practice ODS codes),
// Directory of Services entries, tiers, urgencies, reason codes and
// periods.
//
// Small-number suppression (hiding cells below, say, 5) is deliberately
// not applied: the reports go only to information analysts inside the
// NHS, who hold the role for aggregate data and apply the disclosure
// control their publication requires. Suppressing here would make the
// figures not add up for the people reconciling them, and a caller who
// publishes must suppress anyway.
//
// The cohort is the referrals submitted in the query's range: every
// figure (volumes, turnarounds, outcomes, radiographs) is about those
// referrals, whenever their later events happened. Drafts, including
// drafts cancelled before submission, were never referred and count
// nowhere. A referral cancelled after submission was referred and counts.
//
// Times are UTC, as Molar stores them: a referral submitted between
// midnight and 1 am on the first of a month in British Summer Time falls
// in the previous month. Accepted for monthly and weekly figures.

// The report periods.
const (
	PeriodMonth = "month" // "2026-11"
	PeriodWeek  = "week"  // ISO 8601 week, "2026-W45"
)

// ReportQuery selects the referrals a report covers and how it groups
// them in time.
type ReportQuery struct {
	// From and To bound the submission time, From inclusive and To
	// exclusive (so From 2026-11-01 and To 2026-12-01 is November); a
	// zero bound is open.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// Period groups by the month (PeriodMonth, the default) or ISO week
	// (PeriodWeek) of submission.
	Period string `json:"period"`
}

// normalize fills the default period and checks the query.
func (q ReportQuery) normalize() (ReportQuery, error) {
	var errs FieldErrors
	switch q.Period {
	case "":
		q.Period = PeriodMonth
	case PeriodMonth, PeriodWeek:
	default:
		errs.add("period", fmt.Sprintf("Group the report by %s or %s, not %q.", PeriodMonth, PeriodWeek, q.Period))
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		errs.add("to", "The end of the range must be after its start.")
	}
	if len(errs) > 0 {
		return q, &StepError{Err: errs, Message: errs.Error()}
	}
	q.From, q.To = q.From.UTC(), q.To.UTC()
	return q, nil
}

func (q ReportQuery) covers(t time.Time) bool {
	return (q.From.IsZero() || !t.Before(q.From)) && (q.To.IsZero() || t.Before(q.To))
}

// periodOf names the period of t: "2026-11" or "2026-W45".
func (q ReportQuery) periodOf(t time.Time) string {
	t = t.UTC()
	if q.Period == PeriodWeek {
		y, w := t.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	}
	return t.Format("2006-01")
}

// AllPeriods is the period of a figure over the whole range.
const AllPeriods = "all"

// Labels of referrals without a value for a dimension.
const (
	NotAllocated = "not yet allocated" // no treating service yet
	// A tier is set only on acceptance. A referral returned or
	// redirected without being accepted was triaged all the same, so it
	// is NotAccepted rather than Untriaged, which is kept for referrals
	// with no triage decision at all (waiting, or cancelled before one).
	NotAccepted = "not accepted"
	Untriaged   = "untriaged"
)

// Report is the analysts' report: aggregates of the referrals submitted
// in Query's range.
type Report struct {
	Query     ReportQuery `json:"query"`
	Generated time.Time   `json:"generated"`

	// Total is the number of referrals in the range (Overall.Referrals).
	Total int `json:"total"`
	// Overall is the volume over the whole range; Volumes one per period
	// with referrals, oldest first.
	Overall Volume   `json:"overall"`
	Volumes []Volume `json:"volumes"`

	// Triage is the time from first reaching the triage service to the
	// first triage decision (accept, return or redirect), in hours:
	// waiting for the referrer to answer a question counts, because the
	// patient waits too. TriageByPeriod has one entry per period of
	// Volumes, in the same order.
	Triage         Spread   `json:"triage_hours"`
	TriageByPeriod []Spread `json:"triage_hours_by_period"`

	// Returned and Redirected are the referrals ever returned or
	// redirected, as a share of the triaged referrals (those with at least
	// one triage decision). A referral counts once per outcome however
	// many times it was returned, and once per reason code it was given;
	// so the by-reason counts sum to more than the total when one
	// referral was returned for different reasons at different times.
	// Redirections include those by the treating service after
	// acceptance.
	Returned   Outcome `json:"returned"`
	Redirected Outcome `json:"redirected"`

	// ProviderAcceptance is the time from first being sent to a treating
	// service to its first acceptance, in days.
	ProviderAcceptance Spread `json:"provider_acceptance_days"`

	// DNA: referrals whose patient ever did not attend, of those ever
	// booked.
	DNA Rate `json:"dna"`
	// SeeAndTreat: accepted referrals triaged as see-and-treat, of the
	// accepted referrals.
	SeeAndTreat Rate `json:"see_and_treat"`

	Radiographs RadiographCounts `json:"radiographs"`
}

// Volume is the number of referrals in a period, in total and by each
// dimension. Map keys are the dimension's values: practice ODS code,
// Directory of Services entry name (NotAllocated), tier (NotAccepted,
// Untriaged), urgency.
type Volume struct {
	Period    string         `json:"period"` // a period, or AllPeriods
	Referrals int            `json:"referrals"`
	Practice  map[string]int `json:"practice"`
	Service   map[string]int `json:"service"`
	Tier      map[string]int `json:"tier"`
	Urgency   map[string]int `json:"urgency"`
}

// Spread summarises times: how many, the median and the 90th
// percentile, by the nearest-rank method (see nearestRank), rounded to
// 0.01. Median and P90 are nil when Count is 0.
type Spread struct {
	Period string   `json:"period"`
	Count  int      `json:"count"`
	Median *float64 `json:"median"`
	P90    *float64 `json:"p90"`
}

// Rate is Count of Of, and the fraction rounded to 4 places (nil when
// Of is 0).
type Rate struct {
	Count    int      `json:"count"`
	Of       int      `json:"of"`
	Fraction *float64 `json:"fraction"`
}

// Outcome is a rate overall and by reason code.
type Outcome struct {
	Rate
	ByReason map[string]Rate `json:"by_reason"`
}

// RadiographCounts are the referrals with at least one film filed,
// without any, and those among the latter whose referrer said films come
// with the referral (promised but none arrived).
type RadiographCounts struct {
	WithFilms    int `json:"with_films"`
	WithoutFilms int `json:"without_films"`
	PromisedNone int `json:"promised_none"`
}

// noReason labels a return or redirection recorded without a reason code
// (the workflow requires one; older or imported events may lack it).
const noReason = "none given"

// Report builds the analysts' report. It reads every referral and its
// history without holding the write lock: a referral changed while the
// report runs may be counted as it was or as it is, which is immaterial
// to aggregates and keeps triage from waiting on a report.
func (s *Service) Report(ctx context.Context, p auth.Principal, q ReportQuery) (*Report, error) {
	if !may(p, auth.ActionReportAggregate) {
		return nil, ErrForbidden
	}
	q, err := q.normalize()
	if err != nil {
		return nil, err
	}
	b := newTally(q)
	names := map[string]string{} // service ID → Directory of Services name
	err = s.forEach(ctx, func(r *Referral) error {
		if r.Submitted.IsZero() || !q.covers(r.Submitted) {
			return nil // a draft, never referred, or outside the range
		}
		events, err := s.db.events(ctx, r.ID)
		if err != nil {
			// The ID, not the URN: this may reach a log an analyst reads.
			return fmt.Errorf("history of referral %s: %w", r.ID, err)
		}
		svc, err := s.serviceName(r.ProviderService, names)
		if err != nil {
			return err
		}
		b.add(r, svc, journeyOf(events))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	rep := b.report()
	rep.Generated = s.now()
	return rep, nil
}

// serviceName is the Directory of Services name of service id, cached in
// names; the ID itself if the entry has gone.
func (s *Service) serviceName(id string, names map[string]string) (string, error) {
	if id == "" {
		return NotAllocated, nil
	}
	if n, ok := names[id]; ok {
		return n, nil
	}
	n := id
	svc, err := s.db.service(id)
	switch {
	case err == nil:
		n = svc.Name
	case !errors.Is(err, ErrNotFound):
		return "", fmt.Errorf("service %s: %w", id, err)
	}
	names[id] = n
	return n, nil
}

// journey is what the report needs of one referral's history.
type journey struct {
	awaiting, decided      time.Time // first at the triage service; its first triage decision
	sent, providerAccepted time.Time // first sent to a treating service; its first acceptance
	triaged                bool
	returned, redirected   map[string]bool // reason codes given; nil: never
	booked, dna            bool
}

func journeyOf(events []Event) journey {
	var j journey
	for _, e := range events { // in Seq order, as stored
		switch e.To {
		case StatusAwaitingTriage:
			if j.awaiting.IsZero() {
				j.awaiting = e.At
			}
		case StatusSentToProvider:
			if j.sent.IsZero() {
				j.sent = e.At
			}
		case StatusProviderAccepted:
			if j.providerAccepted.IsZero() && !j.sent.IsZero() {
				j.providerAccepted = e.At
			}
		case StatusBooked:
			j.booked = true
		case StatusDNA:
			j.dna = true
		}
		switch Step(e.Action) {
		case StepAccept, StepReturn, StepRedirect:
			j.triaged = true
			if j.decided.IsZero() && !j.awaiting.IsZero() {
				j.decided = e.At
			}
		}
		reason := e.Reason
		if reason == "" {
			reason = noReason
		}
		switch Step(e.Action) {
		case StepReturn:
			j.returned = addReason(j.returned, reason)
		case StepRedirect:
			j.redirected = addReason(j.redirected, reason)
		}
	}
	return j
}

func addReason(m map[string]bool, reason string) map[string]bool {
	if m == nil {
		m = map[string]bool{}
	}
	m[reason] = true
	return m
}

// tally accumulates the report as referrals are read.
type tally struct {
	q                     ReportQuery
	overall               *Volume
	volumes               map[string]*Volume
	triage                []float64
	triageBy              map[string][]float64
	triaged               int
	returned, redirected  outcomeTally
	provider              []float64
	booked, dna           int
	accepted, seeAndTreat int
	radiographs           RadiographCounts
}

type outcomeTally struct {
	n       int
	reasons map[string]int
}

func (o *outcomeTally) add(reasons map[string]bool) {
	if reasons == nil {
		return
	}
	o.n++
	for r := range reasons {
		o.reasons[r]++
	}
}

func newTally(q ReportQuery) *tally {
	return &tally{q: q, overall: newVolume(AllPeriods), volumes: map[string]*Volume{}, triageBy: map[string][]float64{},
		returned: outcomeTally{reasons: map[string]int{}}, redirected: outcomeTally{reasons: map[string]int{}}}
}

func newVolume(period string) *Volume {
	return &Volume{Period: period, Practice: map[string]int{}, Service: map[string]int{}, Tier: map[string]int{}, Urgency: map[string]int{}}
}

func (v *Volume) add(practice, service, tier, urgency string) {
	v.Referrals++
	v.Practice[practice]++
	v.Service[service]++
	v.Tier[tier]++
	v.Urgency[urgency]++
}

func orLabel(s, label string) string {
	if s == "" {
		return label
	}
	return s
}

func (t *tally) add(r *Referral, service string, j journey) {
	period := t.q.periodOf(r.Submitted)
	tier := Untriaged
	switch {
	case r.Decision != nil && r.Decision.Tier != "":
		tier = string(r.Decision.Tier)
	case j.triaged:
		tier = NotAccepted
	}
	practice := orLabel(r.Referrer.PracticeODS, "unknown")
	urgency := orLabel(string(r.Clinical.Urgency), "not stated")
	t.overall.add(practice, service, tier, urgency)
	v := t.volumes[period]
	if v == nil {
		v = newVolume(period)
		t.volumes[period] = v
	}
	v.add(practice, service, tier, urgency)

	if _, ok := t.triageBy[period]; !ok {
		t.triageBy[period] = nil // the period is listed even with no decision yet
	}
	if !j.awaiting.IsZero() && !j.decided.IsZero() {
		h := j.decided.Sub(j.awaiting).Hours()
		t.triage = append(t.triage, h)
		t.triageBy[period] = append(t.triageBy[period], h)
	}
	if j.triaged {
		t.triaged++
	}
	t.returned.add(j.returned)
	t.redirected.add(j.redirected)
	if !j.sent.IsZero() && !j.providerAccepted.IsZero() {
		t.provider = append(t.provider, j.providerAccepted.Sub(j.sent).Hours()/24)
	}
	if j.booked {
		t.booked++
		if j.dna {
			t.dna++
		}
	}
	if r.Decision != nil {
		t.accepted++
		if r.Decision.SeeAndTreat {
			t.seeAndTreat++
		}
	}
	if len(r.Films) > 0 {
		t.radiographs.WithFilms++
	} else {
		t.radiographs.WithoutFilms++
		if r.Radiographs.Attached {
			t.radiographs.PromisedNone++
		}
	}
}

func (t *tally) report() *Report {
	rep := &Report{Query: t.q, Total: t.overall.Referrals, Overall: *t.overall, Volumes: []Volume{}, TriageByPeriod: []Spread{},
		Triage: spread(AllPeriods, t.triage), ProviderAcceptance: spread(AllPeriods, t.provider),
		Returned: t.returned.outcome(t.triaged), Redirected: t.redirected.outcome(t.triaged),
		DNA: rate(t.dna, t.booked), SeeAndTreat: rate(t.seeAndTreat, t.accepted), Radiographs: t.radiographs}
	for _, p := range slices.Sorted(maps.Keys(t.volumes)) { // "2026-11" and "2026-W45" sort in time order
		rep.Volumes = append(rep.Volumes, *t.volumes[p])
		rep.TriageByPeriod = append(rep.TriageByPeriod, spread(p, t.triageBy[p]))
	}
	return rep
}

func (o outcomeTally) outcome(of int) Outcome {
	out := Outcome{Rate: rate(o.n, of), ByReason: map[string]Rate{}}
	for r, n := range o.reasons {
		out.ByReason[r] = rate(n, of)
	}
	return out
}

func rate(n, of int) Rate {
	r := Rate{Count: n, Of: of}
	if of > 0 {
		f := math.Round(float64(n)/float64(of)*1e4) / 1e4
		r.Fraction = &f
	}
	return r
}

func spread(period string, values []float64) Spread {
	s := Spread{Period: period, Count: len(values)}
	if len(values) == 0 {
		return s
	}
	sorted := slices.Sorted(slices.Values(values))
	med, p90 := round2(nearestRank(sorted, 50)), round2(nearestRank(sorted, 90))
	s.Median, s.P90 = &med, &p90
	return s
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// nearestRank is the p-th percentile (1 ≤ p ≤ 100) of sorted, which must
// not be empty, by the nearest-rank method: the value at rank ⌈p/100 ×
// n⌉ (1-based), i.e. the smallest value with at least p% of the values at
// or below it. It is always an observed value, never an interpolation,
// so the median of an even count is the lower middle value (2, 4, 10, 30
// → 4) and the 90th percentile of fewer than 10 values is the largest.
// Integer arithmetic keeps the rank exact (0.9 × 10 is not 9 in floating
// point).
func nearestRank(sorted []float64, p int) float64 {
	rank := (p*len(sorted) + 99) / 100
	rank = max(rank, 1)
	return sorted[rank-1]
}

// ReportCSVHeader is the header row of WriteReportCSV.
var ReportCSVHeader = []string{"section", "period", "dimension", "value_name", "value"}

// WriteReportCSV writes rep as tidy long-format CSV (RFC 4180), one
// figure a row: section, period (a period or "all"), dimension ("all" or
// kind:value, e.g. practice:V012345, reason:radiograph-missing), the
// figure's name and its value. Rows come in a fixed order: the sections
// as in Report, then periods in time order, then dimensions by kind and
// value. A median or percentile of no values is an empty value (NA), not
// 0, which would read as "instant".
func WriteReportCSV(w io.Writer, rep *Report) error {
	cw := csv.NewWriter(w)
	row := func(section, period, dimension, name, value string) {
		cw.Write([]string{section, period, dimension, name, value}) // errors surface in cw.Error
	}
	count := func(section, period, dimension, name string, n int) {
		row(section, period, dimension, name, strconv.Itoa(n))
	}
	row(ReportCSVHeader[0], ReportCSVHeader[1], ReportCSVHeader[2], ReportCSVHeader[3], ReportCSVHeader[4])

	volume := func(v Volume) {
		count("volume", v.Period, "all", "referrals", v.Referrals)
		for _, d := range []struct {
			kind   string
			counts map[string]int
		}{{"practice", v.Practice}, {"service", v.Service}, {"tier", v.Tier}, {"urgency", v.Urgency}} {
			for _, k := range slices.Sorted(maps.Keys(d.counts)) {
				count("volume", v.Period, d.kind+":"+k, "referrals", d.counts[k])
			}
		}
	}
	volume(rep.Overall)
	for _, v := range rep.Volumes {
		volume(v)
	}

	times := func(section, unit string, s Spread) {
		count(section, s.Period, "all", "referrals", s.Count)
		row(section, s.Period, "all", "median_"+unit, formatFigure(s.Median))
		row(section, s.Period, "all", "p90_"+unit, formatFigure(s.P90))
	}
	times("triage_turnaround", "hours", rep.Triage)
	for _, s := range rep.TriageByPeriod {
		times("triage_turnaround", "hours", s)
	}

	share := func(section, dimension, of string, r Rate) {
		count(section, AllPeriods, dimension, "referrals", r.Count)
		count(section, AllPeriods, dimension, of, r.Of)
		row(section, AllPeriods, dimension, "fraction", formatFigure(r.Fraction))
	}
	for _, o := range []struct {
		section string
		Outcome
	}{{"returned", rep.Returned}, {"redirected", rep.Redirected}} {
		share(o.section, "all", "triaged", o.Rate)
		for _, reason := range slices.Sorted(maps.Keys(o.ByReason)) {
			share(o.section, "reason:"+reason, "triaged", o.ByReason[reason])
		}
	}

	times("provider_acceptance", "days", rep.ProviderAcceptance)
	share("dna", "all", "booked", rep.DNA)
	share("see_and_treat", "all", "accepted", rep.SeeAndTreat)
	count("radiographs", AllPeriods, "all", "with_films", rep.Radiographs.WithFilms)
	count("radiographs", AllPeriods, "all", "without_films", rep.Radiographs.WithoutFilms)
	count("radiographs", AllPeriods, "all", "promised_none", rep.Radiographs.PromisedNone)

	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write report CSV: %w", err)
	}
	return nil
}

// formatFigure writes a figure in the fewest digits that read back the
// same (30, 0.5, 0.2857); nil is empty.
func formatFigure(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}
