package referral

import (
	"context"
	"crypto/subtle"
	"slices"
	"sync"
	"time"

	"github.com/molar-pacs/molar/internal/audit"
	"github.com/molar-pacs/molar/referral/urn"
)

// TrackView is what the public tracker shows: where the referral is and
// who will treat, and nothing clinical: no name, no procedure, no reason,
// no triage outcome beyond the status's plain words.
type TrackView struct {
	URN      string      `json:"urn"`
	Status   Status      `json:"status"`
	Label    string      `json:"label"`
	Since    time.Time   `json:"since"`
	Timeline []TrackStep `json:"timeline"`
	// Service is the Directory of Services entry of the treating service
	// once there is one.
	Service     *PublicService `json:"service,omitempty"`
	Appointment *time.Time     `json:"appointment,omitempty"`
}

// TrackStep is one milestone on the tracker.
type TrackStep struct {
	Label string     `json:"label"`
	At    *time.Time `json:"at,omitempty"` // nil: not reached
}

// milestones are the tracker's steps and the statuses that reach them.
var milestones = []struct {
	label    string
	statuses []Status
}{
	{"Referral received", []Status{StatusSubmitted}},
	{"With the clinical triage team", []Status{StatusAwaitingTriage}},
	{"Triage decision made", []Status{StatusAccepted, StatusReturned, StatusRedirected}},
	{"Sent to the treating service", []Status{StatusSentToProvider}},
	{"Accepted by the treating service", []Status{StatusProviderAccepted}},
	{"Patient contacted or appointment booked", []Status{StatusContacted, StatusBooked}},
}

// ErrTooManyAttempts: the tracker's rate limit was hit.
var ErrTooManyAttempts = errTooMany{}

type errTooMany struct{}

func (errTooMany) Error() string {
	return "Too many attempts. Wait a few minutes and try again."
}

// Tracking limits: per client address, and per URN (so that a date of
// birth cannot be guessed from many addresses either).
const (
	trackPerClient    = 20 // lookups per client per window
	trackFailsPerURN  = 5  // wrong dates of birth per URN per window
	trackLimitWindow  = 15 * time.Minute
	trackLimitEntries = 100000 // bound on the limiter's memory
)

// Track returns the public view of the referral with URN u, if birthDate
// (YYYY-MM-DD) is the patient's. An unknown URN and a wrong date of birth
// give the same ErrNotFound, so the tracker says nothing about which
// URNs exist. Every lookup that names a real referral is audited.
func (s *Service) Track(ctx context.Context, u, birthDate, client string) (*TrackView, error) {
	if !s.limiter.allow("client:"+client, trackPerClient) {
		return nil, ErrTooManyAttempts
	}
	u, err := urn.Normalize(u)
	if err != nil {
		return nil, ErrNotFound
	}
	if s.limiter.count("urn:"+u) >= trackFailsPerURN {
		return nil, ErrTooManyAttempts
	}
	id, err := s.db.getString(pURN + u)
	if err != nil {
		return nil, ErrNotFound
	}
	r, err := s.db.referral(id)
	if err != nil {
		return nil, err
	}
	entry := audit.Entry{User: "public", URN: r.URN, NHSNumber: r.Patient.NHSNumber, Action: "referral.track",
		Resource: "tracker", ClientAddr: client, Outcome: audit.OutcomeOK}
	if subtle.ConstantTimeCompare([]byte(birthDate), []byte(r.Patient.BirthDate)) != 1 {
		s.limiter.allow("urn:"+u, trackFailsPerURN)
		entry.Outcome, entry.Detail = audit.OutcomeDenied, "date of birth did not match"
		if s.opts.Audit != nil {
			if err := s.opts.Audit.Record(ctx, entry); err != nil {
				s.log.Error("tracker: audit failed", "err", err)
			}
		}
		return nil, ErrNotFound
	}
	if s.opts.Audit != nil {
		if err := s.opts.Audit.Record(ctx, entry); err != nil {
			return nil, err
		}
	}
	events, err := s.db.events(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &TrackView{URN: r.URN, Status: r.Status, Label: r.Status.Label(), Since: r.StatusSince}
	for _, m := range milestones {
		step := TrackStep{Label: m.label}
		for _, e := range events {
			if slices.Contains(m.statuses, e.To) {
				at := e.At
				step.At = &at
			}
		}
		v.Timeline = append(v.Timeline, step)
	}
	if r.ProviderService != "" {
		if svc, err := s.db.service(r.ProviderService); err == nil {
			ps := svc.Public()
			v.Service = &ps
		}
	}
	if r.Appointment != nil && r.Status == StatusBooked {
		at := r.Appointment.Start
		v.Appointment = &at
	}
	return v, nil
}

// limiter counts events per key in fixed windows.
type limiter struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*window
}

type window struct {
	start time.Time
	n     int
}

func newLimiter(now func() time.Time) *limiter { return &limiter{now: now, m: map[string]*window{}} }

// allow counts one event for key and reports whether it is within limit.
func (l *limiter) allow(key string, limit int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.m[key]
	if w == nil || now.Sub(w.start) >= trackLimitWindow {
		if len(l.m) >= trackLimitEntries {
			l.sweep(now)
		}
		w = &window{start: now}
		l.m[key] = w
	}
	w.n++
	return w.n <= limit
}

// count is the events counted for key in its current window.
func (l *limiter) count(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.m[key]
	if w == nil || l.now().Sub(w.start) >= trackLimitWindow {
		return 0
	}
	return w.n
}

func (l *limiter) sweep(now time.Time) {
	for k, w := range l.m {
		if now.Sub(w.start) >= trackLimitWindow {
			delete(l.m, k)
		}
	}
}
