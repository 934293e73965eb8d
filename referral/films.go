package referral

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/molar-pacs/molar/internal/auth"
	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/nhsnumber"
	"github.com/molar-pacs/molar/referral/urn"
	"github.com/molar-pacs/molar/store"
)

// Archive is what filing films needs of the store: its change feed, and
// a study's attributes.
type Archive interface {
	Changes(ctx context.Context, after uint64, limit int) ([]store.Change, error)
	Changed() <-chan struct{}
	Study(ctx context.Context, uid string) (dcm.Attrs, error)
}

// Forwarder queues a referral's films for a provider's DICOM node
// (package forward, through cmd/molar).
type Forwarder interface {
	Forward(ctx context.Context, reference string, studies []string, node DICOMNode) error
}

// system is the server acting on its own: filing films, follow-on steps.
var system = auth.Principal{UserID: "molar", Via: auth.ViaBootstrap}

// Unmatched is a study that arrived with no URN Molar knows and could not
// be matched by NHS number: an administrator files it by hand.
type Unmatched struct {
	StudyUID        string    `json:"study_uid"`
	At              time.Time `json:"at"`
	AccessionNumber string    `json:"accession_number,omitempty"`
	PatientID       string    `json:"patient_id,omitempty"`
	PatientName     string    `json:"patient_name,omitempty"`
	BirthDate       string    `json:"birth_date,omitempty"`
	StudyDate       string    `json:"study_date,omitempty"`
	Modalities      string    `json:"modalities,omitempty"`
	// Why says why it was not filed, in words for the administrator.
	Why string `json:"why"`
}

// matchWindow is how long before a referral's creation its films may have
// been taken and still be matched by NHS number.
const matchWindow = 180 * 24 * time.Hour

// Start runs the background work until ctx ends or the service closes:
// Run, and the reminders of the chase list every hour.
func (s *Service) Start(ctx context.Context) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.runReminders(ctx, time.Hour)
	}()
	if s.opts.Archive == nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.Run(ctx); err != nil {
			s.log.Error("film filer stopped", "err", err)
		}
	}()
}

// Run files the films the archive receives until ctx ends or the service
// closes: by URN in AccessionNumber, else by NHS number when exactly one
// open referral fits, else into the unmatched list. It resumes from where
// it stopped, so every stored instance is considered once.
func (s *Service) Run(ctx context.Context) error {
	if s.opts.Archive == nil {
		return nil
	}
	cursor, err := s.db.counter("feed-cursor")
	if err != nil {
		return fmt.Errorf("film filer: %w", err)
	}
	backoff := time.Second
	for {
		wake := s.opts.Archive.Changed()
		next, n, err := s.fileChanges(ctx, cursor)
		if err != nil {
			s.log.Error("film filer: will retry", "after", cursor, "err", err)
			if !s.pause(ctx, backoff) {
				return nil
			}
			backoff = min(2*backoff, time.Minute)
			continue
		}
		backoff = time.Second
		cursor = next
		if n > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.stop:
			return nil
		case <-wake:
			// Films come in bursts (a study, an association): let the
			// burst gather so it is filed in a few batches rather than
			// one lookup and one write per instance while the archive is
			// still receiving.
			if !s.pause(ctx, filingPause) {
				return nil
			}
		case <-time.After(time.Minute): // belt and braces
		}
	}
}

// pause waits for d; false if ctx ended or the service closed first.
func (s *Service) pause(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-s.stop:
		return false
	case <-time.After(d):
		return true
	}
}

// filingPause is how long the filer lets newly stored instances gather
// before it files them: a film shows on its referral this much later.
const filingPause = 100 * time.Millisecond

// fileChanges files the studies of the next batch of changes and moves
// the cursor past them.
func (s *Service) fileChanges(ctx context.Context, cursor uint64) (uint64, int, error) {
	changes, err := s.opts.Archive.Changes(ctx, cursor, 256)
	if err != nil || len(changes) == 0 {
		return cursor, 0, err
	}
	seen := map[string]bool{}
	for _, c := range changes {
		if seen[c.StudyUID] {
			continue
		}
		seen[c.StudyUID] = true
		if err := s.fileStudy(ctx, c.StudyUID, c.Seq); err != nil {
			return cursor, 0, err
		}
	}
	last := changes[len(changes)-1].Seq
	w := s.db.newWriter()
	if err := w.set(pMeta+"feed-cursor", strconv.FormatUint(last, 10)); err != nil {
		return cursor, 0, err
	}
	// Filing a study again is harmless (fileStudy and attach see what is
	// done already), so a cursor lost in a crash only means some changes
	// are looked at twice. Syncing it would add a disk flush per film
	// received, competing with the C-STORE answers that do wait for one.
	if err := w.commitLazily(); err != nil {
		return cursor, 0, fmt.Errorf("save film filer cursor: %w", err)
	}
	return last, len(changes), nil
}

// fileStudy files one study, unless it is filed already.
func (s *Service) fileStudy(ctx context.Context, study string, seq uint64) error {
	if _, err := s.db.getString(pFiled + study); err == nil {
		return s.refreshFilm(ctx, study)
	}
	attrs, err := s.opts.Archive.Study(ctx, study)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted since
	}
	if err != nil {
		return err
	}
	acc := attrs.First(dcm.AccessionNumber)
	if u, err := urn.Normalize(acc); err == nil {
		if id, err := s.db.getString(pURN + u); err == nil {
			return s.attach(ctx, system, id, study, attrs, "urn")
		}
	}
	id, why, err := s.matchByNHSNumber(ctx, attrs)
	if err != nil {
		return err
	}
	if id != "" {
		return s.attach(ctx, system, id, study, attrs, "nhs-number")
	}
	if acc != "" {
		why = fmt.Sprintf("AccessionNumber %q is not a URN Molar issued; %s", acc, why)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.db.getString(pFiled + study); err == nil {
		return nil // filed by hand meanwhile
	}
	u := Unmatched{StudyUID: study, At: s.now(), AccessionNumber: acc, PatientID: attrs.First(dcm.PatientID),
		PatientName: attrs.First(dcm.PatientName), BirthDate: attrs.First(dcm.PatientBirthDate),
		StudyDate: attrs.First(dcm.StudyDate), Modalities: strings.Join(attrs.Values(dcm.ModalitiesInStudy), ","), Why: why}
	var listed Unmatched
	if err := s.db.getJSON(pUnmatched+study, &listed); err == nil {
		// Every instance of an unmatched study passes here: write (and
		// sync) only when what the administrator sees would change.
		u.At = listed.At
		if u == listed {
			return nil
		}
	}
	w := s.db.newWriter()
	if err := w.setJSON(pUnmatched+study, u); err != nil {
		return err
	}
	s.log.Info("film filer: study unmatched", "study", study, "change", seq, "why", why)
	return w.commit()
}

// matchByNHSNumber finds the one open referral for the study's patient
// whose dates fit the study date.
func (s *Service) matchByNHSNumber(ctx context.Context, attrs dcm.Attrs) (string, string, error) {
	nhs, err := nhsnumber.Normalize(attrs.First(dcm.PatientID))
	if err != nil {
		return "", "its PatientID is not an NHS number", nil
	}
	studyDate, dateOK := time.Parse("20060102", attrs.First(dcm.StudyDate))
	var fits []string
	err = s.db.scan(ctx, pNHS+nhs+"/", func(k string, _ []byte) (bool, error) {
		id := k[strings.LastIndexByte(k, '/')+1:]
		r, err := s.db.referral(id)
		if err != nil {
			return false, err
		}
		if !r.Status.Open() {
			return true, nil
		}
		if dateOK == nil && (studyDate.Before(r.Created.Add(-matchWindow).Truncate(24*time.Hour)) || studyDate.After(s.now().Add(24*time.Hour))) {
			return true, nil
		}
		fits = append(fits, id)
		return true, nil
	})
	switch {
	case err != nil:
		return "", "", err
	case len(fits) == 1:
		return fits[0], "", nil
	case len(fits) == 0:
		return "", "no open referral for its NHS number and study date", nil
	}
	return "", fmt.Sprintf("%d open referrals fit its NHS number and study date", len(fits)), nil
}

// attach files study against referral id, by how ("urn", "nhs-number",
// "admin", "upload"), and forwards it if the referral's provider already
// has its films.
func (s *Service) attach(ctx context.Context, p auth.Principal, id, study string, attrs dcm.Attrs, how string) error {
	var wasFiled bool
	r, err := s.update(ctx, system, id, 0, func(r *Referral, now time.Time) ([]Event, error) {
		for _, f := range r.Films {
			if f.StudyUID == study {
				wasFiled = true
				return nil, errNoChange
			}
		}
		n, _ := strconv.Atoi(attrs.First(dcm.NumberOfStudyRelatedInstances))
		r.Films = append(r.Films, Film{StudyUID: study, By: how, At: now, Modality: strings.Join(attrs.Values(dcm.ModalitiesInStudy), ","),
			StudyDate: attrs.First(dcm.StudyDate), Instances: n})
		return []Event{{Action: "film-filed", Comment: fmt.Sprintf("study %s filed by %s", study, how),
			User: p.UserID, Role: string(p.Role), Org: p.Org}}, nil
	}, func(w *writer, r *Referral) error {
		if err := w.set(pFiled+study, r.ID); err != nil {
			return err
		}
		return w.del(pUnmatched + study)
	})
	if err != nil || wasFiled {
		return err
	}
	s.log.Info("film filed", "referral", r.describe(), "study", study, "by", how)
	if forwarded(r.Status) {
		s.forwardStudies(ctx, r, []string{study})
	}
	return nil
}

// refreshFilm updates the instance count of a filed study as more of its
// instances arrive.
func (s *Service) refreshFilm(ctx context.Context, study string) error {
	id, err := s.db.getString(pFiled + study)
	if err != nil {
		return nil
	}
	attrs, err := s.opts.Archive.Study(ctx, study)
	if err != nil {
		return nil
	}
	n, _ := strconv.Atoi(attrs.First(dcm.NumberOfStudyRelatedInstances))
	r, err := s.db.referral(id)
	if err != nil {
		return err
	}
	for _, f := range r.Films {
		if f.StudyUID == study && f.Instances == n {
			return nil
		}
	}
	_, err = s.update(ctx, system, id, 0, func(r *Referral, now time.Time) ([]Event, error) {
		for i := range r.Films {
			if r.Films[i].StudyUID == study {
				r.Films[i].Instances = n
			}
		}
		return nil, nil // no event: the count is not a step
	}, nil)
	if err == nil {
		if r, err := s.db.referral(id); err == nil && forwarded(r.Status) {
			s.forwardStudies(ctx, r, []string{study})
		}
	}
	return err
}

// forwarded: statuses at which the provider has the referral's films.
func forwarded(st Status) bool {
	switch st {
	case StatusProviderAccepted, StatusContacted, StatusBooked, StatusTreated:
		return true
	}
	return false
}

func (s *Service) forward(ctx context.Context, r *Referral) {
	var studies []string
	for _, f := range r.Films {
		studies = append(studies, f.StudyUID)
	}
	s.forwardStudies(ctx, r, studies)
}

func (s *Service) forwardStudies(ctx context.Context, r *Referral, studies []string) {
	if s.opts.Forwarder == nil || len(studies) == 0 || r.ProviderService == "" {
		return
	}
	svc, err := s.db.service(r.ProviderService)
	if err != nil || svc.DICOM == nil {
		return
	}
	if err := s.opts.Forwarder.Forward(ctx, r.URN, studies, *svc.DICOM); err != nil {
		s.log.Error("referral: forwarding films not queued", "referral", r.describe(), "node", svc.DICOM.AETitle, "err", err)
	}
}

// UnmatchedFilms lists the studies waiting to be filed by hand.
func (s *Service) UnmatchedFilms(ctx context.Context) ([]Unmatched, error) {
	var out []Unmatched
	err := s.db.scan(ctx, pUnmatched, func(_ string, v []byte) (bool, error) {
		var u Unmatched
		if err := json.Unmarshal(v, &u); err != nil {
			return false, err
		}
		out = append(out, u)
		return true, nil
	})
	return out, err
}

// AttachFilm files a study by hand against the referral with a URN.
func (s *Service) AttachFilm(ctx context.Context, p auth.Principal, study, u string) (*Referral, error) {
	u, err := urn.Normalize(u)
	if err != nil {
		return nil, &StepError{Err: FieldErrors{{Field: "urn", Message: err.Error()}}, Message: err.Error()}
	}
	id, err := s.db.getString(pURN + u)
	if err != nil {
		return nil, &StepError{Err: ErrNotFound, Message: "No referral has that URN."}
	}
	attrs, err := s.opts.Archive.Study(ctx, study)
	if err != nil {
		return nil, fmt.Errorf("attach study %s: %w", study, err)
	}
	if err := s.attach(ctx, p, id, study, attrs, "admin"); err != nil {
		return nil, err
	}
	return s.db.referral(id)
}

// ImagingRequest is a referral awaiting its films, as the Modality
// Worklist offers it to a practice's imaging software.
type ImagingRequest struct {
	URN          string
	ID           string
	Patient      Patient
	Referrer     string
	PracticeODS  string
	Procedure    string
	ExpectedDate string // YYYY-MM-DD: the exposure date the form gave, or when it was submitted
	Modality     string // IO or PX: what the form's views suggest
}

// AwaitingImages lists open, pre-provider referrals that promised films
// and have none filed yet.
func (s *Service) AwaitingImages(ctx context.Context) ([]ImagingRequest, error) {
	var out []ImagingRequest
	err := s.forEach(ctx, func(r *Referral) error {
		switch r.Status {
		case StatusAwaitingTriage, StatusInfoRequested, StatusSubmitted:
		default:
			return nil
		}
		if len(r.Films) > 0 || (!r.Radiographs.Attached && r.Status != StatusInfoRequested) {
			return nil
		}
		date := r.Radiographs.ExposureDate
		if date == "" {
			date = r.Submitted.Format(time.DateOnly)
		}
		mod := "IO"
		if v := strings.ToUpper(r.Radiographs.Views); strings.Contains(v, "OPG") || strings.Contains(v, "DPT") || strings.Contains(v, "PANORAMIC") {
			mod = "PX"
		}
		out = append(out, ImagingRequest{URN: r.URN, ID: r.ID, Patient: r.Patient, Referrer: r.Referrer.Name,
			PracticeODS: r.Referrer.PracticeODS, Procedure: Procedures[r.Clinical.Procedure], ExpectedDate: date, Modality: mod})
		return nil
	})
	return out, err
}
