package referral

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/molar-pacs/molar/internal/audit"
	"github.com/molar-pacs/molar/internal/auth"
	"github.com/molar-pacs/molar/internal/notify"
	"github.com/molar-pacs/molar/internal/pebbledb"
	"github.com/molar-pacs/molar/referral/urn"
)

// Notifier sends the patient's text messages (internal/notify).
type Notifier interface {
	Send(ctx context.Context, m notify.Message) (string, error)
}

// Recorder writes the audit log (internal/audit).
type Recorder interface {
	Record(ctx context.Context, e audit.Entry) error
}

// Options configure the referral service. Only Dir is required; a nil
// collaborator turns its feature off (no texts, no audit, no filing).
type Options struct {
	Dir          string
	Archive      Archive
	Notifier     Notifier
	Audit        Recorder
	Demographics Demographics
	Forwarder    Forwarder
	Ingester     Ingester
	// PublicURL is the server's address as patients reach it, for the
	// tracking link in texts (e.g. https://refer.example.nhs.uk).
	PublicURL string
	// URNKey keys the URN permutation of a new index; nil: a random key.
	// A demo region sets a fixed one so that its URNs are the same on
	// every machine. Once an index has a key, this is ignored.
	URNKey []byte
	Logger *slog.Logger
	Now    func() time.Time
}

// Service is the referral system. It is safe for concurrent use.
type Service struct {
	opts Options
	db   db
	log  *slog.Logger
	urns *urn.Issuer

	// mu serialises every read-modify-write of the index: a referral's
	// version check and its update happen under it, so concurrent edits
	// are refused, never lost.
	mu sync.Mutex

	limiter  *limiter
	wg       sync.WaitGroup
	stop     chan struct{}
	once     sync.Once
	closeErr error
}

// Open opens (creating) the referral index in opts.Dir.
func Open(ctx context.Context, opts Options) (*Service, error) {
	if opts.Dir == "" {
		return nil, errors.New("open referrals: no directory")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	pdb, err := pebbledb.Open(filepath.Join(opts.Dir, "index"), pebbledb.Options{Name: "referral", Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("open referrals: %w", err)
	}
	s := &Service{opts: opts, db: db{pdb}, log: opts.Logger, stop: make(chan struct{}), limiter: newLimiter(opts.Now)}
	key, err := s.urnKey()
	if err == nil {
		s.urns, err = urn.NewIssuer(key)
	}
	if err != nil {
		pdb.Close()
		return nil, fmt.Errorf("open referrals: URN key: %w", err)
	}
	return s, nil
}

// urnKey reads the key of the URN permutation, making one on first use.
// It never changes afterwards: URNs already issued depend on it.
func (s *Service) urnKey() ([]byte, error) {
	v, err := s.db.getString(pMeta + "urn-key")
	if err == nil {
		return hex.DecodeString(v)
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	key := s.opts.URNKey
	if key == nil {
		key = urn.NewKey()
	}
	w := s.db.newWriter()
	if err := w.set(pMeta+"urn-key", hex.EncodeToString(key)); err != nil {
		return nil, err
	}
	return key, w.commit()
}

// Close stops the background work and closes the index.
func (s *Service) Close() error {
	s.once.Do(func() {
		close(s.stop)
		s.wg.Wait()
		s.closeErr = s.db.pdb.Close()
	})
	return s.closeErr
}

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// may reports whether p's role may perform a (the bootstrap token may do
// anything).
func may(p auth.Principal, a auth.Action) bool {
	return p.Via == auth.ViaBootstrap || auth.Allowed(p.Role, a)
}

// Access is how much of a referral a caller sees.
type Access int

const (
	NoAccess      Access = iota
	BookingAccess        // booking roles: demographics and status, nothing clinical
	FullAccess           // the referrer's practice, the triagers, the treating clinicians
)

// access decides what p sees of r, by role and organisation.
func access(p auth.Principal, r *Referral) Access {
	if p.Via == auth.ViaBootstrap {
		return FullAccess
	}
	org := p.Org
	if org == "" {
		return NoAccess
	}
	if may(p, auth.ActionReferralView) || may(p, auth.ActionReferralCreate) {
		switch {
		case org == r.Referrer.PracticeODS && may(p, auth.ActionReferralCreate):
			return FullAccess
		case r.Status != StatusDraft && (org == r.TriageOrg || org == r.ProviderOrg) && may(p, auth.ActionReferralView):
			return FullAccess
		}
	}
	if may(p, auth.ActionReferralBook) && org == r.ProviderOrg && r.ProviderOrg != "" {
		return BookingAccess
	}
	return NoAccess
}

// bookingView strips what booking roles must not see.
func bookingView(r *Referral) *Referral {
	v := &Referral{ID: r.ID, URN: r.URN, Version: r.Version, Status: r.Status, Specialty: r.Specialty,
		ProviderService: r.ProviderService, ProviderOrg: r.ProviderOrg, Appointment: r.Appointment,
		Created: r.Created, Updated: r.Updated, Submitted: r.Submitted, StatusSince: r.StatusSince}
	v.Patient = Patient{NHSNumber: r.Patient.NHSNumber, Title: r.Patient.Title, Given: r.Patient.Given, Family: r.Patient.Family,
		BirthDate: r.Patient.BirthDate, Address: r.Patient.Address, Postcode: r.Patient.Postcode, Phone: r.Patient.Phone,
		SMSConsent: r.Patient.SMSConsent, Interpreter: r.Patient.Interpreter}
	v.Clinical.Urgency = r.Clinical.Urgency
	if r.Decision != nil {
		v.Decision = &Decision{Priority: r.Decision.Priority, ServiceID: r.Decision.ServiceID}
	}
	return v
}

// audit records a read or change of a referral. A failure to record a
// read refuses the read: clinical data is never shown unaudited.
func (s *Service) audit(ctx context.Context, p auth.Principal, r *Referral, action, resource string) error {
	if s.opts.Audit == nil {
		return nil
	}
	e := audit.Entry{User: p.UserID, Role: string(p.Role), Org: p.Org, OnBehalfOf: p.OnBehalfOf,
		URN: r.URN, NHSNumber: r.Patient.NHSNumber, Action: action, Resource: resource, Outcome: audit.OutcomeOK}
	if c, ok := clientFrom(ctx); ok {
		e.ClientAddr = c
	}
	if err := s.opts.Audit.Record(ctx, e); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

type clientKey struct{}

// denied records a refused attempt on a referral: the matrix let the
// role through, but the referral is another organisation's or the step
// is not the caller's to take. Nothing clinical was served; the entry
// names the referral so its owners can see who tried.
func (s *Service) denied(ctx context.Context, p auth.Principal, r *Referral, action, why string) {
	if s.opts.Audit == nil || p.Via == auth.ViaBootstrap {
		return
	}
	e := audit.Entry{User: p.UserID, Role: string(p.Role), Org: p.Org, OnBehalfOf: p.OnBehalfOf,
		URN: r.URN, Action: action, Resource: "referral " + r.ID, Outcome: audit.OutcomeDenied, Detail: why}
	if c, ok := clientFrom(ctx); ok {
		e.ClientAddr = c
	}
	if err := s.opts.Audit.Record(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("referral: recording a refusal failed", "referral", r.describe(), "err", err)
	}
}

// withClient puts the remote address in ctx for audit entries.
func withClient(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientKey{}, addr)
}

func clientFrom(ctx context.Context) (string, bool) {
	v, ok := ctx.Value(clientKey{}).(string)
	return v, ok
}

// CreateDraft starts a referral from what the form holds so far. A
// referrer's draft belongs to their practice.
func (s *Service) CreateDraft(ctx context.Context, p auth.Principal, form Referral) (*Referral, FieldErrors, error) {
	if !may(p, auth.ActionReferralCreate) {
		return nil, nil, ErrForbidden
	}
	now := s.now()
	r := &Referral{}
	r.setForm(&form)
	if p.Via != auth.ViaBootstrap {
		r.Referrer.PracticeODS = p.Org
	}
	if r.Referrer.Email == "" {
		r.Referrer.Email = p.Email
	}
	r.normalize()
	r.ID, r.Status, r.Version = newID(), StatusDraft, 1
	r.Created, r.Updated, r.StatusSince, r.CreatedBy = now, now, now, p.UserID
	problems := r.validateFormat(now)
	ev := Event{Seq: 1, At: now, Action: "draft", To: StatusDraft, User: p.UserID, Name: p.Name, Role: string(p.Role), Org: p.Org, OnBehalfOf: p.OnBehalfOf, Version: 1}
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.db.newWriter()
	if err := w.putReferral(nil, r, []Event{ev}); err != nil {
		return nil, nil, err
	}
	if err := w.commit(); err != nil {
		return nil, nil, fmt.Errorf("save %s: %w", r.describe(), err)
	}
	return r, problems, nil
}

// setForm copies the fields a referrer fills in, and nothing the
// workflow owns.
func (r *Referral) setForm(f *Referral) {
	r.Patient, r.Referrer, r.GP, r.Medical, r.Social, r.Clinical, r.Radiographs = f.Patient, f.Referrer, f.GP, f.Medical, f.Social, f.Clinical, f.Radiographs
	if f.Specialty != "" {
		r.Specialty = f.Specialty
	}
}

// editable: the referrer may change the form while drafting, and when
// asked for more or returned (before answering or resubmitting).
func editable(st Status) bool {
	return st == StatusDraft || st == StatusInfoRequested || st == StatusReturned
}

// SaveForm replaces the form of a referral the referrer may still edit,
// if it is still at version. Format problems are returned, not refused:
// a draft may be saved half-right.
func (s *Service) SaveForm(ctx context.Context, p auth.Principal, id string, version int, form Referral) (*Referral, FieldErrors, error) {
	var problems FieldErrors
	r, err := s.update(ctx, p, id, version, func(r *Referral, now time.Time) ([]Event, error) {
		if access(p, r) != FullAccess || !may(p, auth.ActionReferralCreate) {
			return nil, ErrForbidden
		}
		if !editable(r.Status) {
			return nil, &StepError{Err: ErrNotAllowedNow, Message: fmt.Sprintf("A referral that is %q can no longer be changed.", r.Status.Label())}
		}
		practice := r.Referrer.PracticeODS
		oldNHS := r.Patient.NHSNumber
		r.setForm(&form)
		if p.Via != auth.ViaBootstrap || r.Referrer.PracticeODS == "" {
			r.Referrer.PracticeODS = practice
		}
		r.normalize()
		if r.Patient.NHSNumber != oldNHS && r.Trace != nil {
			r.Trace = nil // a trace of another number no longer holds
		}
		problems = r.validateFormat(now)
		return []Event{{Action: "edit"}}, nil
	}, nil)
	return r, problems, err
}

// errNoChange from an update's fn: nothing to write.
var errNoChange = errors.New("no change")

// update runs fn on the current referral under the write lock, checks
// the version (0: no check, for the server's own updates), stores the
// result with fn's events stamped, and returns it.
//
// A refusal (another organisation's referral, a step not the caller's to
// take) is audited after the lock is released: the audit log's fsync must
// not hold up everyone else's changes.
func (s *Service) update(ctx context.Context, p auth.Principal, id string, version int,
	fn func(r *Referral, now time.Time) ([]Event, error), also func(w *writer, r *Referral) error) (*Referral, error) {
	s.mu.Lock()
	r, refused, err := s.updateLocked(ctx, p, id, version, fn, also)
	s.mu.Unlock()
	if refused != nil {
		why := "not a referral of the caller's organisation"
		if errors.Is(err, ErrForbidden) {
			why = err.Error()
		}
		s.denied(ctx, p, refused, "referral.change", why)
	}
	return r, err
}

// updateLocked is update under s.mu; refused is the referral a refused
// caller tried to change.
func (s *Service) updateLocked(ctx context.Context, p auth.Principal, id string, version int,
	fn func(r *Referral, now time.Time) ([]Event, error), also func(w *writer, r *Referral) error) (_ *Referral, refused *Referral, _ error) {
	old, err := s.db.referral(id)
	if err != nil {
		return nil, nil, err
	}
	if access(p, old) == NoAccess {
		return nil, old, ErrNotFound
	}
	if version != 0 && old.Version != version {
		return nil, nil, &StepError{Err: ErrConflict, Message: fmt.Sprintf(
			"This referral was changed by someone else since you opened it (version %d, now %d). Reload it and try again.", version, old.Version)}
	}
	cp := *old
	r := &cp
	now := s.now()
	events, err := fn(r, now)
	if errors.Is(err, errNoChange) {
		return old, nil, nil
	}
	if errors.Is(err, ErrForbidden) {
		return nil, old, err
	}
	if err != nil {
		return nil, nil, err
	}
	last, err := s.lastEventSeq(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	r.Version = old.Version + 1
	r.Updated = now
	for i := range events {
		e := &events[i]
		last++
		e.Seq, e.Version = last, r.Version
		if e.At.IsZero() {
			e.At = now
		}
		if e.User == "" {
			e.User, e.Name, e.Role, e.Org, e.OnBehalfOf = p.UserID, p.Name, string(p.Role), p.Org, p.OnBehalfOf
		}
	}
	w := s.db.newWriter()
	if r.URN == "" && r.Status != StatusDraft {
		if err := s.issueURN(w, r); err != nil {
			return nil, nil, err
		}
	}
	if err := w.putReferral(old, r, events); err != nil {
		return nil, nil, err
	}
	if also != nil {
		if err := also(w, r); err != nil {
			return nil, nil, err
		}
	}
	if err := w.commit(); err != nil {
		return nil, nil, fmt.Errorf("save %s: %w", r.describe(), err)
	}
	return r, nil, nil
}

func (s *Service) lastEventSeq(ctx context.Context, id string) (int, error) {
	last := 0
	err := s.db.scanReverse(ctx, pEvent+id+"/", func(k string, _ []byte) (bool, error) {
		n, err := strconv.Atoi(k[len(k)-8:])
		last = n
		return false, err
	})
	return last, err
}

// issueURN gives r the next URN, in the same batch as r: the counter and
// the referral are durable together. Called under s.mu.
func (s *Service) issueURN(w *writer, r *Referral) error {
	n, err := s.db.counter("urn-counter")
	if err != nil {
		return err
	}
	u, err := s.urns.URN(n)
	if err != nil {
		return fmt.Errorf("issue URN %d: %w", n, err)
	}
	if _, err := s.db.getString(pURN + u); err == nil {
		return fmt.Errorf("issue URN: %s already issued (URN key or counter damaged)", u)
	}
	r.URN = u
	return w.set(pMeta+"urn-counter", strconv.FormatUint(n+1, 10))
}

// Get returns the referral as p may see it, and records the view.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (*Referral, error) {
	r, err := s.db.referral(id)
	if err != nil {
		return nil, err
	}
	return s.shown(ctx, p, r)
}

// version is the referral's current version, for an answer's ETag after
// a change made on the caller's behalf; it reads nothing clinical.
func (s *Service) version(id string) (int, error) {
	r, err := s.db.referral(id)
	if err != nil {
		return 0, err
	}
	return r.Version, nil
}

// ByURN is Get by URN.
func (s *Service) ByURN(ctx context.Context, p auth.Principal, u string) (*Referral, error) {
	u, err := urn.Normalize(u)
	if err != nil {
		return nil, ErrNotFound
	}
	id, err := s.db.getString(pURN + u)
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, p, id)
}

func (s *Service) shown(ctx context.Context, p auth.Principal, r *Referral) (*Referral, error) {
	switch access(p, r) {
	case FullAccess:
		if err := s.audit(ctx, p, r, audit.ActionReferralView, "referral "+r.ID); err != nil {
			return nil, err
		}
		return r, nil
	case BookingAccess:
		if err := s.audit(ctx, p, r, "referral.view-booking", "referral "+r.ID); err != nil {
			return nil, err
		}
		return bookingView(r), nil
	}
	s.denied(ctx, p, r, audit.ActionReferralView, "not a referral of the caller's organisation")
	return nil, ErrNotFound
}

// History returns a referral's events for someone who may see it.
func (s *Service) History(ctx context.Context, p auth.Principal, id string) ([]Event, error) {
	r, err := s.db.referral(id)
	if err != nil {
		return nil, err
	}
	if access(p, r) != FullAccess {
		s.denied(ctx, p, r, "referral.history", "not a referral of the caller's organisation")
		return nil, ErrNotFound
	}
	// The history holds triagers' advice and questions: clinical, so read
	// only once recorded.
	if err := s.audit(ctx, p, r, "referral.history", "referral "+r.ID); err != nil {
		return nil, err
	}
	return s.db.events(ctx, id)
}

// Take applies a step to the referral at version (If-Match), then sends
// the texts and forwards the films the new status calls for.
func (s *Service) Take(ctx context.Context, p auth.Principal, id string, version int, req StepRequest) (*Referral, error) {
	var from Status
	var oldAppointment *Appointment
	r, err := s.update(ctx, p, id, version, func(r *Referral, now time.Time) ([]Event, error) {
		from, oldAppointment = r.Status, r.Appointment
		if req.Step == StepBook && req.Appointment != nil {
			if req.Appointment.SlotID != "" {
				if err := s.claimSlot(r, req.Appointment); err != nil {
					return nil, err
				}
			} else if svc, err := s.db.service(r.ProviderService); err == nil && svc.BookingModel == BookingDirect {
				return nil, &StepError{Err: FieldErrors{{Field: "appointment.slot_id", Message: "This service is directly bookable: choose one of its slots."}},
					Message: svc.Name + " is directly bookable: choose a slot"}
			}
		}
		return plan(r, p, req, s.db, now)
	}, func(w *writer, r *Referral) error { return s.slotWrites(oldAppointment)(w, r) })
	if err != nil {
		return nil, err
	}
	if err := s.audit(ctx, p, r, "referral."+string(req.Step), "referral "+r.ID); err != nil {
		s.log.Error("referral: audit of a step failed", "referral", r.describe(), "err", err)
	}
	s.afterStep(ctx, from, r)
	return r, nil
}

// afterStep does what a new status calls for beyond the index: the
// patient's text, forwarding films. Failures are logged, not returned:
// the step has happened.
func (s *Service) afterStep(ctx context.Context, from Status, r *Referral) {
	if from == r.Status && r.Status != StatusBooked { // a rearranged appointment is news
		return
	}
	if from == StatusDraft {
		s.storePendingUploads(ctx, r)
		s.text(ctx, r, true)
	} else if notifiable(r.Status) {
		s.text(ctx, r, false)
	}
	if r.Status == StatusProviderAccepted {
		s.forward(ctx, r)
	}
}

// notifiable are the main status changes the patient is told of.
func notifiable(st Status) bool {
	switch st {
	case StatusSentToProvider, StatusProviderAccepted, StatusBooked, StatusReturned, StatusRedirected, StatusCancelled:
		return true
	}
	return false
}

// text sends the patient the URN (first) or "there is news" with the
// tracking link, if they consented. Texts carry nothing clinical.
func (s *Service) text(ctx context.Context, r *Referral, first bool) {
	if s.opts.Notifier == nil || !r.Patient.SMSConsent || r.Patient.Phone == "" || r.URN == "" {
		return
	}
	link := s.trackURL(r.URN)
	var body string
	var err error
	if first {
		body, err = notify.ReferralURNText(r.URN, link)
	} else {
		body, err = notify.ReferralUpdateText(r.URN, link)
	}
	if err == nil {
		_, err = s.opts.Notifier.Send(ctx, notify.Message{To: r.Patient.Phone, Channel: notify.SMS, Text: body, Reference: "referral-" + r.ID})
	}
	if err != nil {
		s.log.Warn("referral: patient text not sent", "referral", r.describe(), "err", err)
	}
}

func (s *Service) trackURL(u string) string {
	base := s.opts.PublicURL
	if base == "" {
		base = "http://localhost:8080"
	}
	return base + "/track?urn=" + url.QueryEscape(u)
}
