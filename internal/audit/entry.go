package audit

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Entry is one access to clinical data or a film.
type Entry struct {
	// Seq is the entry's place in the log: 1 for the first entry, one more
	// for each next. The log assigns it; Record ignores any value given.
	Seq uint64 `json:"seq"`
	// Time is when the access happened. Record sets it to the current time
	// when zero and stores it in UTC.
	Time time.Time `json:"time"`

	User       string `json:"user,omitempty"`         // user ID or email
	Role       string `json:"role,omitempty"`         // role the user acted in
	Org        string `json:"org,omitempty"`          // organisation's ODS code
	OnBehalfOf string `json:"on_behalf_of,omitempty"` // clinician a clinician-admin acts for

	URN       string `json:"urn,omitempty"`        // referral reference
	NHSNumber string `json:"nhs_number,omitempty"` // patient's NHS number

	// Action names what was done, as noun.verb (see the Action constants).
	Action string `json:"action"`
	// Resource is what it was done to: a study UID, a URL path.
	Resource   string `json:"resource,omitempty"`
	ClientAddr string `json:"client_addr,omitempty"` // remote address
	CallingAE  string `json:"calling_ae,omitempty"`  // DIMSE calling AE title

	Outcome Outcome `json:"outcome"`
	// Detail says why an access was denied or failed. It must not hold
	// clinical content.
	Detail string `json:"detail,omitempty"`
}

// Outcome says what became of an access. See the package documentation
// for how denials are recorded.
type Outcome string

const (
	// OutcomeOK: authorised, and the data was served in whole or in part.
	OutcomeOK Outcome = "ok"
	// OutcomeDenied: refused by authorisation; no clinical data was served.
	OutcomeDenied Outcome = "denied"
	// OutcomeFailed: authorised, but nothing was served because the thing
	// asked for does not exist or the server failed.
	OutcomeFailed Outcome = "failed"
)

// Actions Molar records. Others may be recorded; keep to noun.verb.
const (
	ActionReferralView  = "referral.view"
	ActionStudyRetrieve = "study.retrieve" // DICOMweb WADO-RS
	ActionFrameRender   = "frame.render"
	ActionDIMSEMove     = "dimse.move"
	ActionDIMSEGet      = "dimse.get"
	ActionViewerOpen    = "viewer.open"
)

// maxField bounds each string field, so that one entry cannot bloat the log
// or its index keys. A URL path longer than this is not a real request.
const maxField = 2048

// Times outside [minTime, maxTime) do not fit the index's Unix-nanosecond
// keys; no real access happens there.
var (
	minTime = time.Unix(0, 0).UTC()
	maxTime = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

// errInvalid marks an entry Record refuses.
var errInvalid = errors.New("invalid entry")

// prepare returns e as it will be stored: Seq cleared, Time set and in
// UTC, strings valid UTF-8. Invalid bytes are replaced because JSON would
// replace them anyway, and the index keys must agree with the stored entry.
func prepare(e Entry, now time.Time) (Entry, error) {
	e.Seq = 0
	if e.Time.IsZero() {
		e.Time = now
	}
	e.Time = e.Time.UTC() // also drops the monotonic reading
	if e.Time.Before(minTime) || !e.Time.Before(maxTime) {
		return e, fmt.Errorf("%w: time %s out of range", errInvalid, e.Time.Format(time.RFC3339))
	}
	outcome := string(e.Outcome)
	for _, f := range []struct {
		name string
		s    *string
	}{
		{"user", &e.User}, {"role", &e.Role}, {"org", &e.Org}, {"on-behalf-of", &e.OnBehalfOf},
		{"urn", &e.URN}, {"nhs number", &e.NHSNumber}, {"action", &e.Action}, {"resource", &e.Resource},
		{"client address", &e.ClientAddr}, {"calling AE", &e.CallingAE}, {"outcome", &outcome},
		{"detail", &e.Detail},
	} {
		*f.s = strings.ToValidUTF8(*f.s, "\uFFFD")
		if len(*f.s) > maxField {
			return e, fmt.Errorf("%w: %s longer than %d bytes", errInvalid, f.name, maxField)
		}
	}
	e.Outcome = Outcome(outcome)
	if e.Action == "" {
		return e, fmt.Errorf("%w: no action", errInvalid)
	}
	switch e.Outcome {
	case OutcomeOK, OutcomeDenied, OutcomeFailed:
	default:
		return e, fmt.Errorf("%w: outcome %q: want ok, denied or failed", errInvalid, e.Outcome)
	}
	return e, nil
}

// normalNHS is the form NHS numbers are indexed and compared in: people
// write "943 476 5919" and "943-476-5919" for 9434765919.
func normalNHS(s string) string {
	if !strings.ContainsAny(s, " -") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, s)
}
