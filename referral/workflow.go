package referral

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/molar-pacs/molar/internal/auth"
)

// Step is something done to a referral that may change its status.
type Step string

// The steps. Each rule below says from which statuses a step may be
// taken, where it leads, and who may take it.
const (
	StepSubmit            Step = "submit"
	StepRequestInfo       Step = "request-info"
	StepProvideInfo       Step = "provide-info"
	StepAccept            Step = "accept"
	StepReturn            Step = "return"
	StepRedirect          Step = "redirect"
	StepResubmit          Step = "resubmit"
	StepProviderAccept    Step = "provider-accept"
	StepContact           Step = "contact"
	StepBook              Step = "book"
	StepCancelAppointment Step = "cancel-appointment"
	StepTreat             Step = "treat"
	StepDischarge         Step = "discharge"
	StepDNA               Step = "dna"
	StepNoContact         Step = "no-contact"
	StepCancel            Step = "cancel"
)

// side says whose step it is, which fixes the organisation the actor
// must belong to.
type side int

const (
	sideReferrer side = iota + 1 // the referring practice
	sideTriage                   // the triage service's organisation
	sideProvider                 // the treating service's organisation
)

type rule struct {
	step    Step
	from    []Status
	to      Status
	sides   []side
	actions []auth.Action // any one suffices, at the side's organisation
	// reasons is the closed list of reason codes; nil: none asked for.
	reasons []string
	// comment: a comment is required (the advice, the question, the
	// justification).
	comment string
}

// Reason codes.
var (
	// ReturnReasons include the radiograph problems triagers meet most.
	ReturnReasons = []string{"radiograph-missing", "radiograph-non-diagnostic", "radiograph-wrong-view",
		"treat-in-practice", "insufficient-information", "outside-criteria", "duplicate", "other"}
	InfoReasons     = []string{"radiograph-missing", "radiograph-non-diagnostic", "radiograph-wrong-view", "medical-history", "clinical-detail", "other"}
	RedirectReasons = []string{"another-provider", "secondary-care"}
	CancelReasons   = []string{"patient-request", "referred-in-error", "duplicate", "treated-elsewhere", "patient-died", "other"}
	DischargeReason = []string{"treated", "dna", "no-contact", "patient-request", "other"}
)

var (
	referrerActs = []auth.Action{auth.ActionReferralCreate}
	triageActs   = []auth.Action{auth.ActionReferralTriage}
	providerActs = []auth.Action{auth.ActionReferralTriage, auth.ActionReferralBook}
	bookActs     = []auth.Action{auth.ActionReferralBook, auth.ActionReferralTriage}
)

// rules is the state machine. A status not listed as a step's "from"
// cannot take that step.
var rules = []rule{
	{step: StepSubmit, from: []Status{StatusDraft}, to: StatusSubmitted, sides: []side{sideReferrer}, actions: referrerActs},
	{step: StepRequestInfo, from: []Status{StatusAwaitingTriage}, to: StatusInfoRequested, sides: []side{sideTriage}, actions: triageActs,
		reasons: InfoReasons, comment: "Say what information you need from the referrer."},
	{step: StepProvideInfo, from: []Status{StatusInfoRequested}, to: StatusAwaitingTriage, sides: []side{sideReferrer}, actions: referrerActs,
		comment: "Answer the triager's question."},
	{step: StepAccept, from: []Status{StatusAwaitingTriage, StatusInfoRequested}, to: StatusAccepted, sides: []side{sideTriage}, actions: triageActs},
	{step: StepReturn, from: []Status{StatusAwaitingTriage, StatusInfoRequested}, to: StatusReturned, sides: []side{sideTriage}, actions: triageActs,
		reasons: ReturnReasons, comment: "Give the referrer your advice."},
	{step: StepRedirect, from: []Status{StatusAwaitingTriage, StatusInfoRequested, StatusSentToProvider}, to: StatusRedirected,
		sides: []side{sideTriage, sideProvider}, actions: triageActs,
		reasons: RedirectReasons, comment: "Explain why the referral is redirected."},
	{step: StepResubmit, from: []Status{StatusReturned}, to: StatusAwaitingTriage, sides: []side{sideReferrer}, actions: referrerActs,
		comment: "Say what has changed since the referral was returned."},
	{step: StepProviderAccept, from: []Status{StatusSentToProvider}, to: StatusProviderAccepted, sides: []side{sideProvider}, actions: triageActs},
	{step: StepContact, from: []Status{StatusProviderAccepted, StatusNoContact}, to: StatusContacted, sides: []side{sideProvider}, actions: bookActs},
	{step: StepBook, from: []Status{StatusProviderAccepted, StatusContacted, StatusDNA, StatusBooked}, to: StatusBooked, sides: []side{sideProvider}, actions: bookActs},
	{step: StepCancelAppointment, from: []Status{StatusBooked}, to: StatusContacted, sides: []side{sideProvider}, actions: bookActs,
		reasons: []string{"patient-request", "provider-request", "other"}},
	{step: StepTreat, from: []Status{StatusBooked}, to: StatusTreated, sides: []side{sideProvider}, actions: triageActs},
	{step: StepDNA, from: []Status{StatusBooked}, to: StatusDNA, sides: []side{sideProvider}, actions: bookActs},
	{step: StepNoContact, from: []Status{StatusProviderAccepted, StatusContacted}, to: StatusNoContact, sides: []side{sideProvider}, actions: bookActs},
	{step: StepDischarge, from: []Status{StatusProviderAccepted, StatusContacted, StatusBooked, StatusTreated, StatusDNA, StatusNoContact},
		to: StatusDischarged, sides: []side{sideProvider}, actions: providerActs, reasons: DischargeReason},
	{step: StepCancel, from: []Status{StatusDraft, StatusSubmitted, StatusAwaitingTriage, StatusInfoRequested}, to: StatusCancelled,
		sides: []side{sideReferrer, sideTriage}, actions: []auth.Action{auth.ActionReferralCreate, auth.ActionReferralTriage}, reasons: CancelReasons},
	{step: StepCancel, from: []Status{StatusSentToProvider, StatusProviderAccepted, StatusContacted, StatusBooked, StatusDNA, StatusNoContact},
		to: StatusCancelled, sides: []side{sideProvider}, actions: providerActs, reasons: CancelReasons},
}

// Steps lists every step, in the order of the rules.
func Steps() []Step {
	var out []Step
	for _, r := range rules {
		if !slices.Contains(out, r.step) {
			out = append(out, r.step)
		}
	}
	return out
}

// StepRequest is a step with what it needs.
type StepRequest struct {
	Step    Step   `json:"step"`
	Reason  string `json:"reason,omitempty"`
	Comment string `json:"comment,omitempty"`
	// Decision: accept.
	Decision *Decision `json:"decision,omitempty"`
	// ServiceID: redirect to another provider's service.
	ServiceID string `json:"service_id,omitempty"`
	// Appointment: book (an IBS service's appointment, or a DBS slot by
	// SlotID).
	Appointment *Appointment `json:"appointment,omitempty"`
}

// Errors of steps. Handlers map them to HTTP statuses.
var (
	// ErrNotAllowedNow: the step cannot be taken from the current status.
	ErrNotAllowedNow = errors.New("not allowed in the referral's current status")
	// ErrForbidden: the actor's role or organisation may not take it.
	ErrForbidden = errors.New("forbidden")
	// ErrConflict: the referral changed since the version the caller saw.
	ErrConflict = errors.New("the referral was changed by someone else")
	// ErrNotFound: no such referral (or not one the caller may see).
	ErrNotFound = errors.New("not found")
)

// StepError explains a refused step in words for the person.
type StepError struct {
	Err     error // one of the errors above, or FieldErrors
	Message string
}

func (e *StepError) Error() string { return e.Message }
func (e *StepError) Unwrap() error { return e.Err }

func findRule(step Step, from Status) (rule, bool) {
	for _, r := range rules {
		if r.step == step && slices.Contains(r.from, from) {
			return r, true
		}
	}
	return rule{}, false
}

func knownStep(step Step) bool { return slices.Contains(Steps(), step) }

// orgOf is the organisation a side stands for on this referral.
func (r *Referral) orgOf(s side) string {
	switch s {
	case sideReferrer:
		return r.Referrer.PracticeODS
	case sideTriage:
		return r.TriageOrg
	case sideProvider:
		return r.ProviderOrg
	}
	return ""
}

// permitted reports whether p may take rule ru on r: a role the matrix
// allows one of the rule's actions, at the organisation of one of its
// sides. The bootstrap token is not bound to an organisation.
func permitted(p auth.Principal, r *Referral, ru rule) bool {
	roleOK := false
	for _, a := range ru.actions {
		if auth.Allowed(p.Role, a) || p.Via == auth.ViaBootstrap {
			roleOK = true
		}
	}
	if !roleOK {
		return false
	}
	if p.Via == auth.ViaBootstrap {
		return true
	}
	for _, s := range ru.sides {
		if org := r.orgOf(s); org != "" && org == p.Org && sideRoleFits(s, p.Role) {
			return true
		}
	}
	return false
}

// sideRoleFits keeps a role to its own side: a referrer never triages
// even at an organisation that happens to be both.
func sideRoleFits(s side, role auth.Role) bool {
	switch s {
	case sideReferrer:
		return auth.Allowed(role, auth.ActionReferralCreate)
	case sideTriage:
		return auth.Allowed(role, auth.ActionReferralTriage)
	case sideProvider:
		return auth.Allowed(role, auth.ActionReferralTriage) || auth.Allowed(role, auth.ActionReferralBook)
	}
	return false
}

// directory is what a step needs of the Directory of Services: a service
// by ID, and the triage service for a specialty (nil when none).
type directory interface {
	service(id string) (*HealthcareService, error)
	triageService(specialty string) (*HealthcareService, error)
}

// plan applies req to r (a copy the caller owns) and returns the events
// to record, automatic follow-ons included (SUBMITTED → AWAITING_TRIAGE,
// ACCEPTED → SENT_TO_PROVIDER). It checks status, permission and payload;
// it does not check the version, store anything or notify anyone.
func plan(r *Referral, p auth.Principal, req StepRequest, dir directory, now time.Time) ([]Event, error) {
	if !knownStep(req.Step) {
		return nil, &StepError{Err: ErrNotAllowedNow, Message: fmt.Sprintf("%q is not a step Molar knows", req.Step)}
	}
	ru, ok := findRule(req.Step, r.Status)
	if !ok {
		return nil, &StepError{Err: ErrNotAllowedNow,
			Message: fmt.Sprintf("A referral that is %q cannot be %s.", r.Status.Label(), stepVerb(req.Step))}
	}
	if !permitted(p, r, ru) {
		return nil, &StepError{Err: ErrForbidden,
			Message: fmt.Sprintf("As %s at %s you may not %s this referral.", p.Role.Label(), orDash(p.Org), req.Step)}
	}
	var errs FieldErrors
	req.Comment = strings.TrimSpace(req.Comment)
	if ru.reasons != nil && !slices.Contains(ru.reasons, req.Reason) {
		errs.add("reason", fmt.Sprintf("Choose a reason: %s.", strings.Join(ru.reasons, ", ")))
	}
	if ru.comment != "" && req.Comment == "" {
		errs.add("comment", ru.comment)
	}
	ev := func(action string, from, to Status) Event {
		return Event{At: now, Action: action, From: from, To: to, User: p.UserID, Name: p.Name, Role: string(p.Role), Org: p.Org,
			OnBehalfOf: p.OnBehalfOf, Reason: req.Reason, Comment: req.Comment}
	}
	system := func(from, to Status, comment string) Event {
		return Event{At: now, Action: "system", From: from, To: to, User: "molar", Comment: comment}
	}
	from := r.Status
	events := []Event{ev(string(req.Step), from, ru.to)}

	switch req.Step {
	case StepSubmit:
		errs = append(errs, r.validateComplete(now)...)
		if len(errs) == 0 {
			triage, err := findTriage(dir, r.Specialty)
			if err != nil {
				return nil, err
			}
			r.TriageService, r.TriageOrg = triage.ID, triage.OrgODS
			r.Submitted = now
			events = append(events, system(StatusSubmitted, StatusAwaitingTriage, "sent to "+triage.Name))
		}
	case StepResubmit:
		errs = append(errs, r.validateComplete(now)...)
	case StepAccept:
		d := req.Decision
		if d == nil {
			errs.add("decision", "Choose the tier, the service and the priority.")
			break
		}
		if !validTier(d.Tier) {
			errs.add("decision.tier", "Choose the tier: L1, L2, L3a or L3b.")
		}
		switch d.Priority {
		case "routine", "soon", "urgent", "two-week-wait":
		default:
			errs.add("decision.priority", "Choose the priority: routine, soon, urgent or two-week-wait.")
		}
		svc, msg := receivingService(dir, d.ServiceID, d.Tier)
		if msg != "" {
			errs.add("decision.service_id", msg)
		}
		if len(errs) == 0 {
			dc := *d
			r.Decision = &dc
			r.ProviderService, r.ProviderOrg = svc.ID, svc.OrgODS
			events = append(events, system(StatusAccepted, StatusSentToProvider, "sent to "+svc.Name))
		}
	case StepRedirect:
		if req.Reason == "another-provider" {
			svc, msg := receivingService(dir, req.ServiceID, "")
			if msg != "" {
				errs.add("service_id", msg)
			} else if len(errs) == 0 {
				r.ProviderService, r.ProviderOrg = svc.ID, svc.OrgODS
				r.Appointment = nil
				events = append(events, system(StatusRedirected, StatusSentToProvider, "sent to "+svc.Name))
			}
		}
	case StepReturn:
		r.ReturnReason = req.Reason
	case StepBook:
		a := req.Appointment
		if a == nil || a.Start.IsZero() {
			errs.add("appointment.start", "Enter the date and time of the appointment.")
		} else if a.Start.Before(now.Add(-24 * time.Hour)) {
			errs.add("appointment.start", "The appointment cannot be in the past.")
		}
		if len(errs) == 0 {
			ap := *a
			r.Appointment = &ap
			if from == StatusBooked {
				events[0].Action = "rearrange"
			}
		}
	case StepCancelAppointment:
		r.Appointment = nil
	}
	if len(errs) > 0 {
		return nil, &StepError{Err: errs, Message: errs.Error()}
	}
	last := events[len(events)-1]
	r.Status = last.To
	r.StatusSince = now
	r.Updated = now
	return events, nil
}

func findTriage(dir directory, specialty string) (*HealthcareService, error) {
	svc, err := dir.triageService(specialty)
	if err != nil {
		return nil, err
	}
	if svc == nil {
		return nil, &StepError{Err: ErrNotAllowedNow,
			Message: "No triage service is set up to receive these referrals yet: ask your administrator."}
	}
	return svc, nil
}

// receivingService checks that a service can receive a referral at tier
// (any tier when ""): it exists, is commissioned and treats patients.
func receivingService(dir directory, id string, tier Tier) (*HealthcareService, string) {
	if id == "" {
		return nil, "Choose the service the referral goes to."
	}
	svc, err := dir.service(id)
	if err != nil || svc == nil {
		return nil, "That service is not in the Directory of Services."
	}
	if !svc.Commissioned {
		return nil, fmt.Sprintf("%s is not commissioned, so it cannot receive referrals.", svc.Name)
	}
	if svc.Triage() {
		return nil, fmt.Sprintf("%s triages referrals; choose a service that treats patients.", svc.Name)
	}
	if tier != "" && !svc.TakesTier(tier) {
		return nil, fmt.Sprintf("%s does not treat at tier %s.", svc.Name, tier)
	}
	return svc, ""
}

func stepVerb(s Step) string {
	switch s {
	case StepSubmit:
		return "submitted"
	case StepRequestInfo:
		return "sent back with a question"
	case StepProvideInfo:
		return "answered"
	case StepAccept:
		return "accepted"
	case StepReturn:
		return "returned"
	case StepRedirect:
		return "redirected"
	case StepResubmit:
		return "resubmitted"
	case StepProviderAccept:
		return "accepted by the provider"
	case StepContact:
		return "marked as contacted"
	case StepBook:
		return "booked"
	case StepCancelAppointment:
		return "have its appointment cancelled"
	case StepTreat:
		return "marked as treated"
	case StepDischarge:
		return "discharged"
	case StepDNA:
		return "marked as did not attend"
	case StepNoContact:
		return "marked as not contactable"
	case StepCancel:
		return "cancelled"
	}
	return string(s)
}

func orDash(s string) string {
	if s == "" {
		return "no organisation"
	}
	return s
}
