package referral

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/molar-pacs/molar/internal/auth"
	"github.com/molar-pacs/molar/internal/sc"
	"github.com/molar-pacs/molar/store"
)

// Ingester stores an instance in the archive (the store).
type Ingester interface {
	Ingest(ctx context.Context, r io.Reader) (*store.Result, error)
}

// Upload is a film uploaded through the referral form: a JPEG or PNG
// (wrapped as Secondary Capture) or a DICOM file.
type Upload struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Kind         string    `json:"kind"` // jpeg, png, dicom
	Size         int64     `json:"size"`
	At           time.Time `json:"at"`
	Description  string    `json:"description,omitempty"`
	ExposureDate string    `json:"exposure_date,omitempty"` // YYYY-MM-DD
	// State: pending (kept until the referral is submitted and has its
	// URN), stored, failed.
	State    string `json:"state"`
	StudyUID string `json:"study_uid,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Upload limits. Dental films are small; a CBCT volume does not come
// through a browser form.
const (
	maxImageUpload = 64 << 20
	maxDICOMUpload = 512 << 20
)

// IssuerOfURN is the namespace written in films' Issuer of Accession
// Number Sequence.
const IssuerOfURN = "MOLAR"

// sniff says what an upload is, from its first bytes.
func sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return "jpeg"
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case len(head) >= 132 && string(head[128:132]) == "DICM":
		return "dicom"
	}
	return ""
}

func (s *Service) uploadPath(id, upload string) string {
	return filepath.Join(s.opts.Dir, "uploads", id, upload)
}

// AddUpload takes a film for a referral the caller may edit or add films
// to. Before submission it is kept beside the draft; once the referral
// has its URN it is stored in the archive at once.
func (s *Service) AddUpload(ctx context.Context, p auth.Principal, id, name, description, exposureDate string, body io.Reader) (*Upload, error) {
	if !may(p, auth.ActionFilmUpload) {
		return nil, ErrForbidden
	}
	r, err := s.db.referral(id)
	if err != nil {
		return nil, err
	}
	if access(p, r) != FullAccess {
		return nil, ErrNotFound
	}
	if !r.Status.Open() && r.Status != StatusDraft {
		return nil, &StepError{Err: ErrNotAllowedNow, Message: fmt.Sprintf("A referral that is %q takes no more films.", r.Status.Label())}
	}
	if exposureDate == "" {
		exposureDate = r.Radiographs.ExposureDate
	}
	if exposureDate != "" {
		if d, ok := checkDate(exposureDate); !ok || d.After(s.now()) {
			return nil, &StepError{Err: FieldErrors{{Field: "exposure_date", Message: "Enter the date the film was taken, not in the future."}}, Message: "bad exposure date"}
		}
	}
	up := &Upload{ID: newID(), Name: filepath.Base(strings.TrimSpace(name)), Description: strings.TrimSpace(description),
		ExposureDate: exposureDate, At: s.now(), State: "pending"}
	path := s.uploadPath(id, up.ID)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("keep upload: %w", err)
	}
	if err := s.saveUpload(path, body, up); err != nil {
		os.Remove(path)
		return nil, err
	}
	if r.URN != "" {
		if err := s.storeUpload(ctx, r, up); err != nil {
			os.Remove(path)
			return nil, err
		}
	}
	_, err = s.update(ctx, system, id, 0, func(r *Referral, now time.Time) ([]Event, error) {
		r.Uploads = append(r.Uploads, *up)
		return []Event{{Action: "film-uploaded", Comment: fmt.Sprintf("%s (%s, %d bytes)", up.Name, up.Kind, up.Size),
			User: p.UserID, Name: p.Name, Role: string(p.Role), Org: p.Org, OnBehalfOf: p.OnBehalfOf}}, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	if up.State == "stored" {
		os.Remove(path)
		s.fileUpload(ctx, p, id, up.StudyUID)
	}
	return up, nil
}

// saveUpload writes body to path, checking its kind and size, and that a
// JPEG or PNG can be wrapped (so that a bad file is refused now, not at
// submission).
func (s *Service) saveUpload(path string, body io.Reader, up *Upload) error {
	br := bufio.NewReaderSize(body, 4096)
	head, _ := br.Peek(132)
	up.Kind = sniff(head)
	limit := int64(maxImageUpload)
	switch up.Kind {
	case "":
		return &StepError{Err: FieldErrors{{Field: "file", Message: "Upload a JPEG, PNG or DICOM file."}}, Message: "not a JPEG, PNG or DICOM file"}
	case "dicom":
		limit = maxDICOMUpload
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("keep upload: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(br, limit+1))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("keep upload: %w", err)
	}
	if n > limit {
		return &StepError{Err: FieldErrors{{Field: "file", Message: fmt.Sprintf("The file is larger than %d MB.", limit>>20)}}, Message: "upload too large"}
	}
	up.Size = n
	if up.Kind != "dicom" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = sc.Wrap(io.Discard, f, "", sc.Request{AccessionNumber: "CHECK", Patient: sc.Patient{ID: "CHECK"}, Now: s.now()})
		if err != nil {
			return &StepError{Err: FieldErrors{{Field: "file", Message: "This image cannot be read: " + err.Error()}}, Message: err.Error()}
		}
	}
	return nil
}

// storeUpload puts an upload in the archive: a DICOM file as it is, an
// image wrapped as Secondary Capture with the referral's patient and URN.
func (s *Service) storeUpload(ctx context.Context, r *Referral, up *Upload) error {
	if s.opts.Ingester == nil {
		return errors.New("store upload: no archive")
	}
	f, err := os.Open(s.uploadPath(r.ID, up.ID))
	if err != nil {
		return fmt.Errorf("store upload: %w", err)
	}
	defer f.Close()
	var src io.Reader = f
	if up.Kind != "dicom" {
		var buf bytes.Buffer
		pt := r.Patient
		id, issuer := pt.NHSNumber, "NHS"
		if id == "" {
			id, issuer = r.URN, IssuerOfURN // the patient does not know their NHS number yet
		}
		_, err := sc.Wrap(&buf, f, "", sc.Request{
			Patient:         sc.Patient{Name: pt.DICOMName(), ID: id, IssuerOfID: issuer, BirthDate: strings.ReplaceAll(pt.BirthDate, "-", ""), Sex: pt.DICOMSex()},
			AccessionNumber: r.URN, IssuerOfAccessionNumber: IssuerOfURN,
			ExposureDate: strings.ReplaceAll(up.ExposureDate, "-", ""), Description: up.Description,
			ReferringPhysicianName: dicomName(r.Referrer.Name, ""), InstitutionName: r.Referrer.PracticeName,
			Now: s.now(),
		})
		if err != nil {
			up.State, up.Error = "failed", err.Error()
			return &StepError{Err: FieldErrors{{Field: "file", Message: "This image cannot be stored: " + err.Error()}}, Message: err.Error()}
		}
		src = &buf
	}
	res, err := s.opts.Ingester.Ingest(ctx, src)
	if err != nil {
		up.State, up.Error = "failed", err.Error()
		if _, ok := store.IsReject(err); ok {
			return &StepError{Err: FieldErrors{{Field: "file", Message: "The archive refused this file: " + err.Error()}}, Message: err.Error()}
		}
		return fmt.Errorf("store upload %s: %w", up.ID, err)
	}
	up.State, up.StudyUID = "stored", res.StudyUID
	return nil
}

// fileUpload files an uploaded study against its referral directly: the
// uploader said which referral it belongs to.
func (s *Service) fileUpload(ctx context.Context, p auth.Principal, id, study string) {
	if s.opts.Archive == nil {
		return
	}
	attrs, err := s.opts.Archive.Study(ctx, study)
	if err != nil {
		s.log.Error("referral: uploaded study not found", "study", study, "err", err)
		return
	}
	if err := s.attach(ctx, p, id, study, attrs, "upload"); err != nil {
		s.log.Error("referral: filing uploaded study", "study", study, "err", err)
	}
}

// storePendingUploads stores a newly submitted referral's uploads, now
// that it has a URN.
func (s *Service) storePendingUploads(ctx context.Context, r *Referral) {
	var done []Upload
	for _, up := range r.Uploads {
		if up.State != "pending" {
			continue
		}
		u := up
		if err := s.storeUpload(ctx, r, &u); err != nil {
			s.log.Error("referral: storing an upload at submission", "referral", r.describe(), "upload", u.ID, "err", err)
		}
		done = append(done, u)
	}
	if len(done) == 0 {
		return
	}
	_, err := s.update(ctx, system, r.ID, 0, func(r *Referral, now time.Time) ([]Event, error) {
		for i := range r.Uploads {
			for _, d := range done {
				if r.Uploads[i].ID == d.ID {
					r.Uploads[i] = d
				}
			}
		}
		return nil, nil
	}, nil)
	if err != nil {
		s.log.Error("referral: recording stored uploads", "referral", r.describe(), "err", err)
		return
	}
	for _, d := range done {
		if d.State == "stored" {
			os.Remove(s.uploadPath(r.ID, d.ID))
			s.fileUpload(ctx, system, r.ID, d.StudyUID)
		}
	}
}

// dicomName is a DICOM person name from family and given names.
func dicomName(family, given string) string {
	n := strings.ToUpper(strings.TrimSpace(family))
	if g := strings.TrimSpace(given); g != "" {
		n += "^" + strings.ToUpper(g)
	}
	return n
}

// StudyUID is the Study Instance UID offered for a referral's films (by
// the Modality Worklist) and given to its wrapped uploads, so that they
// form one study.
func StudyUID(u string) string { return sc.StudyUID(IssuerOfURN, u) }
