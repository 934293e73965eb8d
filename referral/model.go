package referral

import (
	"slices"
	"time"
)

// Status is where a referral is in its journey.
type Status string

// The statuses, in journey order.
const (
	StatusDraft            Status = "DRAFT"
	StatusSubmitted        Status = "SUBMITTED"
	StatusAwaitingTriage   Status = "AWAITING_TRIAGE"
	StatusInfoRequested    Status = "INFO_REQUESTED"
	StatusAccepted         Status = "ACCEPTED"
	StatusReturned         Status = "RETURNED_TO_REFERRER"
	StatusRedirected       Status = "REDIRECTED"
	StatusSentToProvider   Status = "SENT_TO_PROVIDER"
	StatusProviderAccepted Status = "PROVIDER_ACCEPTED"
	StatusContacted        Status = "CONTACTED"
	StatusBooked           Status = "BOOKED"
	StatusTreated          Status = "TREATED"
	StatusDischarged       Status = "DISCHARGED"
	StatusDNA              Status = "DNA"
	StatusNoContact        Status = "NO_CONTACT"
	StatusCancelled        Status = "CANCELLED"
)

// Statuses lists every status in journey order.
func Statuses() []Status {
	return []Status{StatusDraft, StatusSubmitted, StatusAwaitingTriage, StatusInfoRequested, StatusAccepted,
		StatusReturned, StatusRedirected, StatusSentToProvider, StatusProviderAccepted, StatusContacted,
		StatusBooked, StatusTreated, StatusDischarged, StatusDNA, StatusNoContact, StatusCancelled}
}

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool { return slices.Contains(Statuses(), s) }

// Open reports whether a referral in s is still being worked: not a draft
// and not at an end.
func (s Status) Open() bool {
	switch s {
	case StatusDraft, StatusDischarged, StatusCancelled, StatusReturned:
		return false
	}
	return true
}

// Label is the status in plain English, for pages and the tracker.
func (s Status) Label() string {
	switch s {
	case StatusDraft:
		return "Draft"
	case StatusSubmitted:
		return "Received"
	case StatusAwaitingTriage:
		return "Waiting for clinical triage"
	case StatusInfoRequested:
		return "More information asked of the referrer"
	case StatusAccepted:
		return "Accepted"
	case StatusReturned:
		return "Returned to the referring dentist"
	case StatusRedirected:
		return "Redirected"
	case StatusSentToProvider:
		return "Sent to the treating service"
	case StatusProviderAccepted:
		return "Accepted by the treating service"
	case StatusContacted:
		return "Patient contacted"
	case StatusBooked:
		return "Appointment booked"
	case StatusTreated:
		return "Treated"
	case StatusDischarged:
		return "Discharged"
	case StatusDNA:
		return "Did not attend"
	case StatusNoContact:
		return "Could not contact the patient"
	case StatusCancelled:
		return "Cancelled"
	}
	return string(s)
}

// Urgency is the referrer's view of how soon the patient must be seen.
type Urgency string

// The urgencies, most urgent first.
const (
	UrgencyCancer  Urgency = "suspected-cancer" // two-week wait
	UrgencyUrgent  Urgency = "urgent"
	UrgencyRoutine Urgency = "routine"
)

// rank orders worklists: suspected cancer first.
func (u Urgency) rank() int {
	switch u {
	case UrgencyCancer:
		return 0
	case UrgencyUrgent:
		return 1
	}
	return 2
}

// Tier is the complexity level of NHS England's oral surgery commissioning
// guide: Level 1 (a general dental practitioner's competence), Level 2
// (enhanced skills, in a practice), Level 3a (specialist) and 3b
// (consultant-led).
type Tier string

// The tiers.
const (
	TierL1  Tier = "L1"
	TierL2  Tier = "L2"
	TierL3a Tier = "L3a"
	TierL3b Tier = "L3b"
)

// Patient is who the referral is for.
type Patient struct {
	NHSNumber string   `json:"nhs_number,omitempty"`
	Title     string   `json:"title,omitempty"`
	Given     string   `json:"given,omitempty"`
	Family    string   `json:"family,omitempty"`
	BirthDate string   `json:"birth_date,omitempty"` // YYYY-MM-DD
	Sex       string   `json:"sex,omitempty"`        // female, male, other, unknown
	Address   []string `json:"address,omitempty"`
	Postcode  string   `json:"postcode,omitempty"`
	Phone     string   `json:"phone,omitempty"` // mobile, for the SMS
	// SMSConsent: the patient agreed to be texted the URN and updates.
	SMSConsent bool `json:"sms_consent"`
	// Interpreter names a language when the patient needs one.
	Interpreter string `json:"interpreter,omitempty"`
}

// DICOMName is the patient's name as DICOM writes it: "FAMILY^GIVEN".
func (p Patient) DICOMName() string { return dicomName(p.Family, p.Given) }

// DICOMSex is the patient's sex as DICOM codes it (M, F, O), or "".
func (p Patient) DICOMSex() string {
	return map[string]string{"female": "F", "male": "M", "other": "O"}[p.Sex]
}

// Referrer is the dentist who refers, at their practice.
type Referrer struct {
	Name          string `json:"name,omitempty"`
	GDCNumber     string `json:"gdc_number,omitempty"`
	Email         string `json:"email,omitempty"`
	PracticeODS   string `json:"practice_ods,omitempty"`
	PracticeName  string `json:"practice_name,omitempty"`
	PracticePhone string `json:"practice_phone,omitempty"`
}

// GP is the patient's general medical practice.
type GP struct {
	PracticeODS  string `json:"practice_ods,omitempty"`
	PracticeName string `json:"practice_name,omitempty"`
}

// Medical is the medical history oral surgeons ask for.
type Medical struct {
	BleedingDisorder string `json:"bleeding_disorder,omitempty"` // "" or what it is
	// Anticoagulant: none, warfarin, doac, antiplatelet, other.
	Anticoagulant string `json:"anticoagulant,omitempty"`
	INR           string `json:"inr,omitempty"`      // latest INR, for warfarin
	INRDate       string `json:"inr_date,omitempty"` // YYYY-MM-DD
	Cardiac       string `json:"cardiac,omitempty"`
	Respiratory   string `json:"respiratory,omitempty"`
	Allergies     string `json:"allergies,omitempty"`
	Medications   string `json:"medications,omitempty"`
	Other         string `json:"other,omitempty"` // e.g. bisphosphonates, radiotherapy to the head and neck
	// NoneDeclared: the referrer confirms the patient has no relevant
	// medical history (instead of leaving every field empty by mistake).
	NoneDeclared bool `json:"none_declared"`
}

// Social is the social history.
type Social struct {
	Smoking string `json:"smoking,omitempty"` // never, former, current
	Alcohol string `json:"alcohol,omitempty"` // units a week, free text
	Other   string `json:"other,omitempty"`   // carer, access needs
}

// Clinical is why the patient is referred.
type Clinical struct {
	Reason    string `json:"reason,omitempty"`
	Diagnosis string `json:"diagnosis,omitempty"`
	// Procedure: one of the Procedures keys.
	Procedure string `json:"procedure,omitempty"`
	Teeth     string `json:"teeth,omitempty"` // FDI notation, e.g. "38, 48"
	// Complexity is the referrer's view of the tier.
	Complexity  Tier    `json:"complexity,omitempty"`
	Anaesthesia string  `json:"anaesthesia,omitempty"` // la, iv-sedation, inhalation-sedation, ga
	Urgency     Urgency `json:"urgency,omitempty"`
	// AnaesthesiaReason: why more than local anaesthesia.
	AnaesthesiaReason string `json:"anaesthesia_reason,omitempty"`
}

// Radiographs says what films come with the referral.
type Radiographs struct {
	// Attached: films are (or will be) sent with the referral.
	Attached     bool   `json:"attached"`
	ExposureDate string `json:"exposure_date,omitempty"` // YYYY-MM-DD
	Views        string `json:"views,omitempty"`         // e.g. "OPG, periapical 48"
	// NoneReason says why there are none (e.g. "patient pregnant",
	// "not clinically indicated").
	NoneReason string `json:"none_reason,omitempty"`
}

// Decision is the triager's decision when accepting.
type Decision struct {
	Tier      Tier   `json:"tier"`
	ServiceID string `json:"service_id"`
	Priority  string `json:"priority"` // routine, soon, urgent, two-week-wait
	// SeeAndTreat: the films are enough to treat the patient at their
	// first appointment; otherwise an assessment comes first.
	SeeAndTreat bool   `json:"see_and_treat"`
	Advice      string `json:"advice,omitempty"`
}

// Appointment is a booked appointment: a slot of a directly bookable
// service, or the appointment an indirectly bookable one recorded.
type Appointment struct {
	Start    time.Time `json:"start"`
	Minutes  int       `json:"minutes,omitempty"`
	SlotID   string    `json:"slot_id,omitempty"`
	Location string    `json:"location,omitempty"`
	Note     string    `json:"note,omitempty"`
}

// Film is a study filed against the referral.
type Film struct {
	StudyUID  string    `json:"study_uid"`
	By        string    `json:"by"` // urn, nhs-number, admin, upload
	At        time.Time `json:"at"`
	Modality  string    `json:"modality,omitempty"`
	StudyDate string    `json:"study_date,omitempty"`
	Instances int       `json:"instances"`
}

// Trace is the outcome of an NHS number trace.
type Trace struct {
	At        time.Time `json:"at"`
	NHSNumber string    `json:"nhs_number,omitempty"` // what the trace found
	// Outcome: matched (the number given is the patient's), added (the
	// referral had none and the traced one was added), mismatch (the
	// number given differs from the traced one: flagged, kept as given),
	// not-found, ambiguous.
	Outcome string `json:"outcome"`
	Detail  string `json:"detail,omitempty"`
}

// Referral is one referral, draft to discharge.
type Referral struct {
	ID      string `json:"id"`
	URN     string `json:"urn,omitempty"`
	Version int    `json:"version"`
	Status  Status `json:"status"`

	Specialty string `json:"specialty"`

	Patient     Patient     `json:"patient"`
	Referrer    Referrer    `json:"referrer"`
	GP          GP          `json:"gp"`
	Medical     Medical     `json:"medical"`
	Social      Social      `json:"social"`
	Clinical    Clinical    `json:"clinical"`
	Radiographs Radiographs `json:"radiographs"`

	// TriageService is the clinical assessment service that triages it;
	// TriageOrg its organisation.
	TriageService string `json:"triage_service,omitempty"`
	TriageOrg     string `json:"triage_org,omitempty"`
	// Decision is set on acceptance.
	Decision *Decision `json:"decision,omitempty"`
	// ProviderService is the service that treats (after acceptance or a
	// redirection); ProviderOrg its organisation.
	ProviderService string       `json:"provider_service,omitempty"`
	ProviderOrg     string       `json:"provider_org,omitempty"`
	Appointment     *Appointment `json:"appointment,omitempty"`

	Films   []Film   `json:"films,omitempty"`
	Uploads []Upload `json:"uploads,omitempty"`
	Trace   *Trace   `json:"trace,omitempty"`

	// ReturnReason / RedirectReason: the code of the last return or
	// redirection, for reports.
	ReturnReason string `json:"return_reason,omitempty"`

	// Reminders counts the reminders the practice was sent about what
	// is outstanding (films, an answer); LastReminded is the latest.
	Reminders    int       `json:"reminders,omitempty"`
	LastReminded time.Time `json:"last_reminded,omitzero"`

	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	Submitted time.Time `json:"submitted,omitzero"`
	// StatusSince is when the current status began.
	StatusSince time.Time `json:"status_since"`
	// CreatedBy is the user who started the draft.
	CreatedBy string `json:"created_by,omitempty"`
}

// Event is one step in a referral's history: a transition, or an edit
// that changed no status (a draft saved, a film filed, a trace).
type Event struct {
	Seq        int       `json:"seq"`
	At         time.Time `json:"at"`
	Action     string    `json:"action"`
	From       Status    `json:"from,omitempty"`
	To         Status    `json:"to,omitempty"`
	User       string    `json:"user,omitempty"`
	Name       string    `json:"name,omitempty"` // the user's name then, for people reading the history
	Role       string    `json:"role,omitempty"`
	Org        string    `json:"org,omitempty"`
	OnBehalfOf string    `json:"on_behalf_of,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Comment    string    `json:"comment,omitempty"`
	// Version is the referral's version after the event.
	Version int `json:"version"`
}
