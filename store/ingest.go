package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/molar-pacs/molar/internal/dcm"
)

// Reason classifies why an instance was refused.
type Reason int

// Reasons an instance is refused.
const (
	ReasonNotDICOM Reason = iota + 1
	ReasonTruncated
	ReasonMalformed
	ReasonMissingAttribute
	ReasonInvalidAttribute
	ReasonConflict // same SOP Instance UID, different bytes, policy reject
	// ReasonWrongStudy: the caller named a study (STOW-RS to
	// /studies/{study}) and the instance belongs to another.
	ReasonWrongStudy
)

func (r Reason) String() string {
	switch r {
	case ReasonNotDICOM:
		return "not DICOM"
	case ReasonTruncated:
		return "truncated"
	case ReasonMalformed:
		return "malformed"
	case ReasonMissingAttribute:
		return "missing attribute"
	case ReasonInvalidAttribute:
		return "invalid attribute"
	case ReasonConflict:
		return "conflict"
	case ReasonWrongStudy:
		return "wrong study"
	}
	return "rejected"
}

// RejectError reports an instance that was refused. Nothing of it is
// stored. Detail is written for the person who sent it.
type RejectError struct {
	Reason Reason
	Detail string
	// SOPClassUID and SOPInstanceUID name the refused instance when it
	// could be read that far, so a STOW-RS response can list it.
	SOPClassUID, SOPInstanceUID string
}

func (e *RejectError) Error() string { return e.Reason.String() + ": " + e.Detail }

// IsReject reports whether err is a RejectError, and returns it.
func IsReject(err error) (*RejectError, bool) {
	var r *RejectError
	ok := errors.As(err, &r)
	return r, ok
}

// Outcome says what an accepted ingest did.
type Outcome int

// Outcomes of an accepted ingest.
const (
	Stored        Outcome = iota + 1 // new instance
	AlreadyStored                    // same SOP Instance UID, identical bytes
	Replaced                         // same SOP Instance UID, different bytes, policy replace
)

func (o Outcome) String() string {
	switch o {
	case Stored:
		return "stored"
	case AlreadyStored:
		return "already stored"
	case Replaced:
		return "replaced"
	}
	return "unknown"
}

// Result describes an accepted instance.
type Result struct {
	Outcome        Outcome
	StudyUID       string
	SeriesUID      string
	SOPInstanceUID string
	SOPClassUID    string
	TransferSyntax string
	Size           int64
	// Warnings are problems that did not stop the instance being stored,
	// such as an unknown character set or frames that cannot be located.
	Warnings []string
}

// Meta is the file meta information DIMSE supplies with a bare dataset.
type Meta struct {
	SOPClassUID            string
	SOPInstanceUID         string
	TransferSyntax         string
	SourceAE               string
	ImplementationClassUID string
	ImplementationVersion  string
}

// Ingest reads one DICOM Part 10 stream to its end, stores its bytes as
// received and indexes it. It returns only once both are durable. A
// refused instance returns a *RejectError and leaves nothing behind.
func (s *Store) Ingest(ctx context.Context, r io.Reader) (*Result, error) {
	return s.ingest(ctx, r, nil, "")
}

// IngestInStudy is Ingest for a sender that names the study the instance
// must belong to: an instance of any other study is refused with
// ReasonWrongStudy, and nothing of it is kept.
func (s *Store) IngestInStudy(ctx context.Context, study string, r io.Reader) (*Result, error) {
	return s.ingest(ctx, r, nil, study)
}

// IngestDataset stores a bare dataset (as C-STORE delivers it) behind file
// meta information built from meta. The dataset bytes are kept as received.
func (s *Store) IngestDataset(ctx context.Context, meta Meta, r io.Reader) (*Result, error) {
	if meta.ImplementationClassUID == "" {
		meta.ImplementationClassUID = dcm.MolarImplementationClassUID
		meta.ImplementationVersion = dcm.MolarImplementationVersion
	}
	header, err := dcm.EncodeFileMeta(dcm.FileMeta{
		SOPClassUID:            meta.SOPClassUID,
		SOPInstanceUID:         meta.SOPInstanceUID,
		TransferSyntax:         meta.TransferSyntax,
		ImplementationClassUID: meta.ImplementationClassUID,
		ImplementationVersion:  meta.ImplementationVersion,
		SourceAE:               meta.SourceAE,
	})
	if err != nil {
		return nil, &RejectError{Reason: ReasonInvalidAttribute, Detail: err.Error()}
	}
	return s.ingest(ctx, io.MultiReader(bytes.NewReader(header), r), &meta, "")
}

func (s *Store) ingest(ctx context.Context, r io.Reader, meta *Meta, wantStudy string) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var id uint64
	err := s.whileOpen(func() (err error) {
		id, err = s.lease.alloc()
		return err
	})
	if err != nil {
		return nil, err
	}
	defer s.lease.release(id)
	w := &intake{s: s, id: id}
	h := digestXXH3.newHash()
	file, err := dcm.ParsePart10(io.TeeReader(r, io.MultiWriter(w, h)), dcm.ParseOptions{})
	if err != nil {
		w.abort()
		err = parseReject(err)
		if _, ok := IsReject(err); ok {
			s.counters.rejected.Add(1)
		}
		return nil, err
	}
	if err := w.commit(); err != nil {
		s.blobs.Remove(id)
		return nil, fmt.Errorf("store blob: %w", err)
	}
	inst, err := describe(file, meta)
	if err == nil && wantStudy != "" && inst.study != wantStudy {
		err = &RejectError{Reason: ReasonWrongStudy, Detail: fmt.Sprintf(
			"instance %s belongs to study %s, not %s", inst.sop, inst.study, wantStudy)}
	}
	if err != nil {
		s.blobs.Remove(id)
		s.counters.rejected.Add(1)
		return nil, nameRejected(err, file.Dataset.String(dcm.SOPClassUID), file.Dataset.String(dcm.SOPInstanceUID))
	}
	inst.rec.BlobID = id
	inst.inline = w.inline()
	inst.rec.Size = file.Size
	inst.rec.Digest = digestXXH3.digest(h)
	inst.rec.Received = time.Now().UnixNano()
	if inst.inline == nil {
		// A small instance is compared by the committer if need be (its
		// bytes are in memory, the stored copy's most likely in the
		// index): no lookup on every small C-STORE for a rare resend.
		inst.sameAs = s.storedCopy(inst)
	}

	res, err := s.commit(ctx, &commitReq{add: inst})
	if err != nil {
		return nil, nameRejected(err, inst.rec.Attrs.First(dcm.SOPClassUID), inst.sop)
	}
	return res, nil
}

// nameRejected fills in the UIDs of a refused instance.
func nameRejected(err error, class, sop string) error {
	if rej, ok := IsReject(err); ok && rej.SOPInstanceUID == "" {
		rej.SOPClassUID, rej.SOPInstanceUID = class, sop
	}
	return err
}

func parseReject(err error) error {
	switch {
	case errors.Is(err, dcm.ErrNotDICOM):
		return &RejectError{Reason: ReasonNotDICOM, Detail: err.Error()}
	case errors.Is(err, dcm.ErrTruncated):
		return &RejectError{Reason: ReasonTruncated, Detail: err.Error()}
	case errors.Is(err, dcm.ErrMalformed):
		return &RejectError{Reason: ReasonMalformed, Detail: err.Error()}
	}
	// Read errors from the sender's stream (a dropped connection) are not
	// the instance's fault; report them as they are.
	return fmt.Errorf("read instance: %w", err)
}

// pendingInstance is everything the committer needs to index an instance.
type pendingInstance struct {
	study, series, sop string
	patientKey         string
	patient            dcm.Attrs
	studyAttrs         dcm.Attrs
	seriesAttrs        dcm.Attrs
	rec                instanceRec
	json               []byte
	warnings           []string
	// inline holds the instance's bytes when they are stored in the index
	// (intake.go); nil when they are in blob file rec.BlobID.
	inline []byte
	// sameAs is the blob of the instance already stored under this SOP
	// Instance UID, when ingest found its bytes identical (0: none).
	sameAs uint64
}

// storedCopy returns the blob of the instance already stored under inst's
// SOP Instance UID if its bytes are identical to inst's, else 0. Comparing
// here, before the committer sees inst, keeps the reading of a resent
// film's old copy out of the group commit that every ingest waits on; the
// committer compares again only if another copy lands in between.
func (s *Store) storedCopy(inst *pendingInstance) uint64 {
	var old *instanceRec
	s.whileOpen(func() error {
		parts, err := s.lookup(tSOP, inst.sop)
		if err == nil && parts != nil {
			old, _ = getRecord(s.view, key(tInstance, parts[0], parts[1], inst.sop), decodeInstance)
		}
		return nil
	})
	if old == nil || !mayBeSame(old, &inst.rec) {
		return 0
	}
	// A failed comparison (the old copy deleted meanwhile) leaves the
	// decision to the committer, which sees the index as it then is.
	if same, err := s.sameBytes(old.BlobID, inst, nil); err == nil && same {
		return old.BlobID
	}
	return 0
}

// Attributes kept at each level of the index: what C-FIND and QIDO-RS
// match on and return (PS3.4 C.6.1.1 / C.6.2.1, PS3.18 Table 10.6.3-x),
// plus what the referral workflow and the viewer list. Each list is in tag
// order (a test checks), so the records built from them are sorted Attrs.
var (
	patientTags = []dcm.Tag{dcm.PatientName, dcm.PatientID, dcm.IssuerOfPatientID,
		dcm.PatientBirthDate, dcm.PatientBirthTime, dcm.PatientSex, dcm.OtherPatientIDs, dcm.PatientComments}
	studyTags = []dcm.Tag{dcm.StudyDate, dcm.StudyTime, dcm.AccessionNumber, dcm.InstitutionName,
		dcm.ReferringPhysicianName, dcm.TimezoneOffsetFromUTC, dcm.StudyDescription,
		dcm.PatientAge, dcm.PatientSize, dcm.PatientWeight, dcm.StudyInstanceUID, dcm.StudyID}
	seriesTags = []dcm.Tag{dcm.SeriesDate, dcm.SeriesTime, dcm.Modality, dcm.Manufacturer,
		dcm.SeriesDescription, dcm.ManufacturerModelName, dcm.BodyPartExamined, dcm.ProtocolName,
		dcm.SeriesInstanceUID, dcm.SeriesNumber, dcm.Laterality,
		dcm.PerformedProcedureStepStartDate, dcm.PerformedProcedureStepStartTime}
	instanceTags = []dcm.Tag{dcm.ImageType, dcm.SOPClassUID, dcm.SOPInstanceUID, dcm.AcquisitionDate,
		dcm.ContentDate, dcm.AcquisitionTime, dcm.ContentTime, dcm.InstanceNumber, dcm.ImageLaterality,
		dcm.SamplesPerPixel, dcm.PhotometricInterpretation, dcm.NumberOfFrames, dcm.Rows, dcm.Columns,
		dcm.BitsAllocated}
)

// describe validates a parsed instance and extracts what the index keeps.
func describe(f *dcm.File, meta *Meta) (*pendingInstance, error) {
	ds := f.Dataset
	inst := &pendingInstance{
		study:  ds.String(dcm.StudyInstanceUID),
		series: ds.String(dcm.SeriesInstanceUID),
		sop:    ds.String(dcm.SOPInstanceUID),
	}
	sopClass := ds.String(dcm.SOPClassUID)
	for _, req := range []struct {
		tag   dcm.Tag
		name  string
		value string
	}{
		{dcm.StudyInstanceUID, "Study Instance UID", inst.study},
		{dcm.SeriesInstanceUID, "Series Instance UID", inst.series},
		{dcm.SOPInstanceUID, "SOP Instance UID", inst.sop},
		{dcm.SOPClassUID, "SOP Class UID", sopClass},
	} {
		if req.value == "" {
			return nil, &RejectError{Reason: ReasonMissingAttribute, Detail: fmt.Sprintf("no %s %s in the dataset", req.name, req.tag)}
		}
		if err := checkUID(req.value); err != nil {
			return nil, &RejectError{Reason: ReasonInvalidAttribute, Detail: fmt.Sprintf("%s %s %q: %v", req.name, req.tag, req.value, err)}
		}
	}
	if meta != nil {
		if meta.SOPInstanceUID != inst.sop {
			return nil, &RejectError{Reason: ReasonInvalidAttribute, Detail: fmt.Sprintf(
				"SOP Instance UID of the request (%s) differs from the dataset's (%s)", meta.SOPInstanceUID, inst.sop)}
		}
		if meta.SOPClassUID != sopClass {
			return nil, &RejectError{Reason: ReasonInvalidAttribute, Detail: fmt.Sprintf(
				"SOP Class UID of the request (%s) differs from the dataset's (%s)", meta.SOPClassUID, sopClass)}
		}
	} else if m := f.Meta.String(dcm.MediaStorageSOPInstanceUID); m != "" && m != inst.sop {
		inst.warnings = append(inst.warnings, fmt.Sprintf("Media Storage SOP Instance UID %s differs from SOP Instance UID %s", m, inst.sop))
	}

	cs, err := ds.CharacterSet(nil)
	if err != nil {
		inst.warnings = append(inst.warnings, "Specific Character Set: "+err.Error())
	}
	bo := ds.ByteOrder()
	extract := func(tags []dcm.Tag) dcm.Attrs {
		out := make(dcm.Attrs, 0, len(tags))
		for _, t := range tags {
			e := ds.Find(t)
			if e == nil {
				continue
			}
			out = append(out, dcm.Attr{Tag: t, VR: e.VR, Values: dcm.Strings(e, bo, cs)})
		}
		return out
	}
	inst.patient = extract(patientTags)
	inst.patientKey = inst.patient.First(dcm.PatientID)
	inst.studyAttrs = extract(studyTags)
	inst.seriesAttrs = extract(seriesTags)
	inst.rec.Attrs = extract(instanceTags)
	inst.rec.TransferSyntax = f.TransferSyntax.UID
	inst.rec.Deflated = f.Deflated
	inst.rec.DatasetOffset = f.DatasetOffset

	frames, err := dcm.Frames(ds)
	if err != nil {
		inst.warnings = append(inst.warnings, "frames: "+err.Error())
	}
	inst.rec.Frames = frames

	base := "studies/" + inst.study + "/series/" + inst.series + "/instances/" + inst.sop + "/bulk/"
	jw := dcm.JSONWriter{BulkURI: func(p dcm.BulkPath) string { return base + string(p) }}
	inst.json = jw.Append(nil, ds)
	inst.rec.Bulk = bulkRefs(ds, "", nil)
	return inst, nil
}

// bulkRefs lists where each value left out of the JSON lies in the blob.
func bulkRefs(ds *dcm.Dataset, prefix string, out []bulkRef) []bulkRef {
	for _, e := range ds.Elements {
		path := prefix + e.Tag.Hex()
		switch {
		case e.VR == dcm.SQ:
			for i, item := range e.Items {
				out = bulkRefs(item, fmt.Sprintf("%s/%d/", path, i), out)
			}
		case e.Encapsulated:
			end := e.Offset
			if n := len(e.Fragments); n > 0 {
				end = e.Fragments[n-1].Offset + int64(e.Fragments[n-1].Length)
			}
			out = append(out, bulkRef{Path: path, Offset: e.Offset, Length: end - e.Offset})
		case e.Bulk() || (e.Tag == dcm.PixelData && e.Length > 0):
			out = append(out, bulkRef{Path: path, Offset: e.Offset, Length: int64(e.Length)})
		}
	}
	return out
}

// checkUID accepts what real devices send: we refuse only what would break
// the index or the URLs built from UIDs, not every departure from PS3.5 9.1.
func checkUID(u string) error {
	if len(u) > 64 {
		return fmt.Errorf("longer than 64 characters")
	}
	if strings.ContainsAny(u, "\\/?#% \x00") {
		return fmt.Errorf("characters not allowed in a UID")
	}
	return nil
}
