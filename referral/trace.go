package referral

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/molar-pacs/molar/internal/auth"
	"github.com/molar-pacs/molar/internal/demographics"
)

// Demographics traces NHS numbers (internal/demographics: a local table,
// or PDS).
type Demographics interface {
	Lookup(ctx context.Context, nhsNumber string) (demographics.Person, error)
	Search(ctx context.Context, q demographics.Query) ([]demographics.Person, error)
}

// Trace checks the referral's patient against the demographics service:
// with an NHS number, that it belongs to the patient named; without one,
// a search by name, birth date, sex and postcode, whose unique match's
// number is added. A number that does not fit is flagged as a mismatch
// and never overwritten: the referrer decides.
func (s *Service) Trace(ctx context.Context, p auth.Principal, id string, version int) (*Referral, error) {
	if s.opts.Demographics == nil {
		return nil, &StepError{Err: ErrNotAllowedNow, Message: "NHS number tracing is not set up on this server."}
	}
	cur, err := s.db.referral(id)
	if err != nil {
		return nil, err
	}
	if access(p, cur) != FullAccess || !(may(p, auth.ActionReferralCreate) || may(p, auth.ActionReferralTriage)) {
		return nil, ErrNotFound
	}
	t := s.trace(ctx, cur.Patient)
	return s.update(ctx, p, id, version, func(r *Referral, now time.Time) ([]Event, error) {
		t.At = now
		if t.Outcome == "added" && r.Patient.NHSNumber == "" {
			r.Patient.NHSNumber = t.NHSNumber
		}
		r.Trace = &t
		return []Event{{Action: "trace", Comment: t.Outcome + ": " + t.Detail}}, nil
	}, nil)
}

func (s *Service) trace(ctx context.Context, pt Patient) Trace {
	dem := s.opts.Demographics
	if pt.NHSNumber != "" {
		person, err := dem.Lookup(ctx, pt.NHSNumber)
		switch {
		case errors.Is(err, demographics.ErrNotFound), errors.Is(err, demographics.ErrInvalidQuery):
			return Trace{Outcome: "not-found", Detail: "No patient has this NHS number: check it with the patient."}
		case err != nil:
			s.log.Warn("referral: NHS number trace failed", "err", errors.Unwrap(err))
			return Trace{Outcome: "unavailable", Detail: "The trace service did not answer; try again later."}
		}
		if person.Deceased {
			return Trace{Outcome: "mismatch", NHSNumber: person.NHSNumber,
				Detail: "The demographics service records this patient as deceased. Check the NHS number with the patient."}
		}
		if person.Superseded != "" {
			return Trace{Outcome: "mismatch", NHSNumber: person.NHSNumber,
				Detail: fmt.Sprintf("This NHS number has been replaced by %s. Check it with the patient and change it if right.", person.NHSNumber)}
		}
		if diffs := differences(pt, person); len(diffs) > 0 {
			return Trace{Outcome: "mismatch", NHSNumber: person.NHSNumber,
				Detail: "The NHS number belongs to a patient with a different " + strings.Join(diffs, " and ") + ". Check the number and the patient's details."}
		}
		return Trace{Outcome: "matched", NHSNumber: person.NHSNumber, Detail: "The NHS number matches the patient's details."}
	}
	q := demographics.Query{Family: pt.Family, Given: pt.Given, BirthDate: pt.BirthDate, Gender: pt.Sex, Postcode: pt.Postcode}
	found, err := dem.Search(ctx, q)
	switch {
	case errors.Is(err, demographics.ErrInvalidQuery):
		return Trace{Outcome: "not-found", Detail: "Enter the patient's last name and date of birth to trace their NHS number."}
	case errors.Is(err, demographics.ErrNotFound):
		return Trace{Outcome: "not-found", Detail: "No patient matches these details: check the spelling, date of birth and postcode."}
	case errors.Is(err, demographics.ErrTooManyMatches):
		return Trace{Outcome: "ambiguous", Detail: "Several patients match: add the first name and postcode."}
	case err != nil:
		s.log.Warn("referral: NHS number search failed", "err", errors.Unwrap(err))
		return Trace{Outcome: "unavailable", Detail: "The trace service did not answer; try again later."}
	case len(found) > 1:
		return Trace{Outcome: "ambiguous", Detail: fmt.Sprintf("%d patients match: add the first name and postcode.", len(found))}
	}
	return Trace{Outcome: "added", NHSNumber: found[0].NHSNumber, Detail: "The NHS number was found and added."}
}

// differences names the details of the form that the traced person does
// not share: family name, date of birth.
func differences(pt Patient, person demographics.Person) []string {
	var d []string
	// A very restricted record (PDS label V) comes without names: nothing
	// to compare, and no reason to doubt the number.
	if person.Family != "" && !strings.EqualFold(strings.TrimSpace(pt.Family), strings.TrimSpace(person.Family)) {
		d = append(d, "last name")
	}
	if pt.BirthDate != "" && pt.BirthDate != person.BirthDate {
		d = append(d, "date of birth")
	}
	return d
}
