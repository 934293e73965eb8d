package referral

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/molar-pacs/molar/internal/audit"
	"github.com/molar-pacs/molar/internal/auth"
)

// Services lists the Directory of Services.
func (s *Service) Services(ctx context.Context) ([]*HealthcareService, error) {
	return s.db.services(ctx)
}

// HealthcareServiceByID returns one Directory of Services entry.
func (s *Service) HealthcareServiceByID(ctx context.Context, id string) (*HealthcareService, error) {
	return s.db.service(id)
}

// PutService creates (empty ID) or replaces, at version, a Directory of
// Services entry. Service definers maintain their own organisation's
// services.
func (s *Service) PutService(ctx context.Context, p auth.Principal, svc HealthcareService, version int) (*HealthcareService, error) {
	if !may(p, auth.ActionDirectoryEdit) {
		return nil, ErrForbidden
	}
	if errs := svc.validate(); len(errs) > 0 {
		return nil, &StepError{Err: errs, Message: errs.Error()}
	}
	if p.Via != auth.ViaBootstrap && svc.OrgODS != p.Org {
		return nil, &StepError{Err: ErrForbidden, Message: fmt.Sprintf("You maintain the services of %s only.", orDash(p.Org))}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if svc.ID == "" {
		svc.ID = newID()
		svc.Version = 0
	} else {
		old, err := s.db.service(svc.ID)
		switch {
		case err == nil:
			if p.Via != auth.ViaBootstrap && old.OrgODS != p.Org {
				return nil, &StepError{Err: ErrForbidden, Message: "That service belongs to another organisation."}
			}
			if version != 0 && old.Version != version {
				return nil, &StepError{Err: ErrConflict, Message: "The service was changed by someone else since you opened it. Reload it and try again."}
			}
			svc.Version = old.Version
		case err == ErrNotFound:
			svc.Version = 0
		default:
			return nil, err
		}
	}
	svc.Version++
	svc.Updated = s.now()
	w := s.db.newWriter()
	if err := w.setJSON(pService+svc.ID, svc); err != nil {
		return nil, err
	}
	if err := w.commit(); err != nil {
		return nil, fmt.Errorf("save service %s: %w", svc.ID, err)
	}
	s.log.Info("directory of services: saved", "service", svc.ID, "name", svc.Name, "by", p.UserID, "version", svc.Version)
	return &svc, nil
}

// Summary is a referral's line on a worklist.
type Summary struct {
	ID          string       `json:"id"`
	URN         string       `json:"urn,omitempty"`
	Status      Status       `json:"status"`
	StatusLabel string       `json:"status_label"`
	Patient     string       `json:"patient"` // "FAMILY, Given"
	NHSNumber   string       `json:"nhs_number,omitempty"`
	BirthDate   string       `json:"birth_date,omitempty"`
	Urgency     Urgency      `json:"urgency,omitempty"`
	Procedure   string       `json:"procedure,omitempty"`
	Practice    string       `json:"practice,omitempty"`
	Submitted   time.Time    `json:"submitted,omitzero"`
	Updated     time.Time    `json:"updated"` // last saved or changed
	StatusSince time.Time    `json:"status_since"`
	WaitingDays int          `json:"waiting_days"`
	Films       int          `json:"films"`     // studies filed
	Images      int          `json:"images"`    // their instances: the films a person counts
	FilmsDue    bool         `json:"films_due"` // radiographs promised, none filed
	Service     string       `json:"service,omitempty"`
	Appointment *Appointment `json:"appointment,omitempty"`
	// Chase says what is outstanding, on the chase list; Reminders how
	// often the practice was reminded, LastReminded when.
	Chase        string    `json:"chase,omitempty"`
	Reminders    int       `json:"reminders,omitempty"`
	LastReminded time.Time `json:"last_reminded,omitzero"`
}

// worklist names what a list shows: statuses at the caller's
// organisation, and the action the caller needs.
type worklist struct {
	statuses []Status
	needs    []auth.Action
	newest   bool // newest first rather than the triage order
}

var worklists = map[string]worklist{
	"awaiting-triage":    {statuses: []Status{StatusAwaitingTriage}, needs: []auth.Action{auth.ActionReferralTriage}},
	"info-requested":     {statuses: []Status{StatusInfoRequested}, needs: []auth.Action{auth.ActionReferralTriage, auth.ActionReferralCreate}},
	"provider-received":  {statuses: []Status{StatusSentToProvider}, needs: []auth.Action{auth.ActionReferralTriage, auth.ActionReferralBook}},
	"provider-accepted":  {statuses: []Status{StatusProviderAccepted}, needs: []auth.Action{auth.ActionReferralTriage, auth.ActionReferralBook}},
	"provider-contacted": {statuses: []Status{StatusContacted, StatusNoContact}, needs: []auth.Action{auth.ActionReferralTriage, auth.ActionReferralBook}},
	"provider-booked":    {statuses: []Status{StatusBooked, StatusDNA}, needs: []auth.Action{auth.ActionReferralTriage, auth.ActionReferralBook}},
	"provider-treated":   {statuses: []Status{StatusTreated}, needs: []auth.Action{auth.ActionReferralTriage, auth.ActionReferralBook}},
	"drafts":             {statuses: []Status{StatusDraft}, needs: []auth.Action{auth.ActionReferralCreate}, newest: true},
	"practice":           {needs: []auth.Action{auth.ActionReferralCreate}, newest: true},
	"chase":              {statuses: []Status{StatusAwaitingTriage, StatusInfoRequested, StatusTreated}, needs: []auth.Action{auth.ActionReferralTriage, auth.ActionReferralCreate}},
}

// Worklists names the lists Worklist knows.
func Worklists() []string {
	var names []string
	for n := range worklists {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// When something outstanding goes on the chase list, and how often the
// practice is reminded of it after that.
const (
	chaseFilmsAfter  = 3 * 24 * time.Hour  // promised films not arrived
	chaseInfoAfter   = 7 * 24 * time.Hour  // question unanswered
	chaseLetterAfter = 14 * 24 * time.Hour // treated, no discharge letter
	remindEvery      = 3 * 24 * time.Hour
)

// Worklist returns the named list for the caller's organisation, in
// order: triage lists by urgency then longest waiting, practice lists
// newest first. limit 0 is no limit.
func (s *Service) Worklist(ctx context.Context, p auth.Principal, name string, limit int) ([]Summary, error) {
	wl, ok := worklists[name]
	if !ok {
		return nil, &StepError{Err: ErrNotFound, Message: fmt.Sprintf("There is no worklist %q; there are: %s.", name, strings.Join(Worklists(), ", "))}
	}
	allowed := false
	for _, a := range wl.needs {
		allowed = allowed || may(p, a)
	}
	if !allowed || p.Org == "" {
		return nil, ErrForbidden
	}
	clinical := may(p, auth.ActionReferralView) || may(p, auth.ActionReferralCreate)
	now := s.now()
	var out []Summary
	collect := func(prefix string) error {
		scan := s.db.scan
		if wl.newest {
			scan = s.db.scanReverse
		}
		return scan(ctx, prefix, func(k string, _ []byte) (bool, error) {
			id := k[strings.LastIndexByte(k, '/')+1:]
			r, err := s.db.referral(id)
			if err != nil {
				return false, err
			}
			if access(p, r) == NoAccess {
				return true, nil
			}
			sum := summarize(r, now, clinical)
			if name == "chase" {
				if sum.Chase = chase(r, now); sum.Chase == "" || !chasedBy(r, p.Org) {
					return true, nil
				}
			}
			out = append(out, sum)
			return limit == 0 || len(out) < limit, nil
		})
	}
	if wl.statuses == nil {
		if err := collect(pOrg + p.Org + "/"); err != nil {
			return nil, err
		}
		slices.SortStableFunc(out, func(a, b Summary) int { return b.StatusSince.Compare(a.StatusSince) })
	} else {
		for _, st := range wl.statuses {
			if err := collect(pOrg + p.Org + "/" + string(st) + "/"); err != nil {
				return nil, err
			}
		}
	}
	if clinical && s.opts.Audit != nil && len(out) > 0 {
		if err := s.opts.Audit.Record(ctx, audit.Entry{User: p.UserID, Role: string(p.Role), Org: p.Org, OnBehalfOf: p.OnBehalfOf,
			Action: "referral.worklist", Resource: fmt.Sprintf("worklist %s (%d referrals)", name, len(out)), Outcome: audit.OutcomeOK}); err != nil {
			return nil, fmt.Errorf("audit worklist: %w", err)
		}
	}
	return out, nil
}

func summarize(r *Referral, now time.Time, clinical bool) Summary {
	since := r.Submitted
	if since.IsZero() {
		since = r.Created
	}
	sum := Summary{ID: r.ID, URN: r.URN, Status: r.Status, StatusLabel: r.Status.Label(),
		Patient: strings.ToUpper(r.Patient.Family) + ", " + r.Patient.Given, NHSNumber: r.Patient.NHSNumber, BirthDate: r.Patient.BirthDate,
		Urgency: r.Clinical.Urgency, Practice: r.Referrer.PracticeName, Submitted: r.Submitted, Updated: r.Updated, StatusSince: r.StatusSince,
		WaitingDays: int(now.Sub(since) / (24 * time.Hour)), Films: len(r.Films), Images: images(r.Films), FilmsDue: r.Radiographs.Attached && len(r.Films) == 0,
		Service: r.ProviderService, Appointment: r.Appointment, Reminders: r.Reminders, LastReminded: r.LastReminded}
	if clinical {
		sum.Procedure = Procedures[r.Clinical.Procedure]
	}
	return sum
}

// chasedBy reports whether org has a part in what is outstanding on r:
// the practice and the triage service in the films and answers asked for
// before triage, the practice and the provider in a discharge letter (the
// triage hub has no part in that unless it is also the provider).
func chasedBy(r *Referral, org string) bool {
	if r.Status == StatusTreated {
		return org == r.Referrer.PracticeODS || org == r.ProviderOrg
	}
	return true
}

// images counts the instances of the studies filed.
func images(films []Film) int {
	n := 0
	for _, f := range films {
		n += f.Instances
	}
	return n
}

// chase says what is outstanding on a referral, once it is overdue: the
// practice's films or answer while it waits for triage, the provider's
// discharge letter once the patient is treated.
func chase(r *Referral, now time.Time) string {
	switch {
	case r.Status == StatusInfoRequested && now.Sub(r.StatusSince) >= chaseInfoAfter:
		return fmt.Sprintf("question to the referrer unanswered for %d days", int(now.Sub(r.StatusSince)/(24*time.Hour)))
	case r.Status == StatusTreated && now.Sub(r.StatusSince) >= chaseLetterAfter:
		return fmt.Sprintf("treated %d days ago, the discharge letter to the practice not yet sent", int(now.Sub(r.StatusSince)/(24*time.Hour)))
	case (r.Status == StatusAwaitingTriage || r.Status == StatusInfoRequested) && r.Radiographs.Attached && len(r.Films) == 0 &&
		!r.Submitted.IsZero() && now.Sub(r.Submitted) >= chaseFilmsAfter:
		return fmt.Sprintf("radiographs promised, none received after %d days", int(now.Sub(r.Submitted)/(24*time.Hour)))
	}
	return ""
}

// forEach calls fn with every referral (reports, the worklist of MWL).
func (s *Service) forEach(ctx context.Context, fn func(r *Referral) error) error {
	return s.db.scan(ctx, pReferral, func(_ string, v []byte) (bool, error) {
		var r Referral
		if err := json.Unmarshal(v, &r); err != nil {
			return false, err
		}
		return true, fn(&r)
	})
}
