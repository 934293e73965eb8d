package dimse

import (
	"context"
	"errors"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/match"
	"github.com/molar-pacs/molar/store"
)

// WorklistItem is one scheduled procedure step: a referral awaiting
// images. The referral package fills these (through cmd/molar); dimse only
// matches and encodes them.
type WorklistItem struct {
	PatientName       string // DICOM PN, e.g. "SMITH^JANE"
	PatientID         string // NHS number
	IssuerOfPatientID string
	PatientBirthDate  string
	PatientSex        string
	// AccessionNumber is the referral's URN, which films must carry.
	AccessionNumber               string
	StudyInstanceUID              string
	ReferringPhysicianName        string
	RequestedProcedureID          string
	RequestedProcedureDescription string
	// The scheduled procedure step.
	Modality                  string // IO, PX, …
	ScheduledStationAETitle   string
	ScheduledStartDate        string // YYYYMMDD
	ScheduledStartTime        string // HHMMSS
	ScheduledStepID           string
	ScheduledStepDescription  string
	ScheduledPerformingDoctor string
}

// Worklist lists the scheduled procedure steps.
type Worklist interface {
	ScheduledItems(ctx context.Context) ([]WorklistItem, error)
}

// Worklist tags (PS3.4 K.6.1.2.2).
const (
	tagScheduledProcedureStepSequence = dcm.Tag(0x00400100)
	tagScheduledStationAETitle        = dcm.Tag(0x00400001)
	tagSPSStartDate                   = dcm.Tag(0x00400002)
	tagSPSStartTime                   = dcm.Tag(0x00400003)
	tagScheduledPerformingPhysician   = dcm.Tag(0x00400006)
	tagSPSDescription                 = dcm.Tag(0x00400007)
	tagSPSID                          = dcm.Tag(0x00400009)
	tagRequestedProcedureID           = dcm.Tag(0x00401001)
	tagRequestedProcedureDescription  = dcm.Tag(0x00321060)
)

func (it *WorklistItem) attrs() dcm.Attrs {
	var a dcm.Attrs
	set := func(t dcm.Tag, vr dcm.VR, v string) {
		if v != "" {
			a.Set(t, vr, v)
		}
	}
	set(dcm.AccessionNumber, dcm.SH, it.AccessionNumber)
	set(dcm.ReferringPhysicianName, dcm.PN, it.ReferringPhysicianName)
	set(dcm.PatientName, dcm.PN, it.PatientName)
	set(dcm.PatientID, dcm.LO, it.PatientID)
	set(dcm.IssuerOfPatientID, dcm.LO, it.IssuerOfPatientID)
	set(dcm.PatientBirthDate, dcm.DA, it.PatientBirthDate)
	set(dcm.PatientSex, dcm.CS, it.PatientSex)
	set(dcm.StudyInstanceUID, dcm.UI, it.StudyInstanceUID)
	set(tagRequestedProcedureDescription, dcm.LO, it.RequestedProcedureDescription)
	set(tagRequestedProcedureID, dcm.SH, it.RequestedProcedureID)
	var sps dcm.Attrs
	spsSet := func(t dcm.Tag, vr dcm.VR, v string) {
		if v != "" {
			sps.Set(t, vr, v)
		}
	}
	spsSet(dcm.Modality, dcm.CS, it.Modality)
	spsSet(tagScheduledStationAETitle, dcm.AE, it.ScheduledStationAETitle)
	spsSet(tagSPSStartDate, dcm.DA, it.ScheduledStartDate)
	spsSet(tagSPSStartTime, dcm.TM, it.ScheduledStartTime)
	spsSet(tagScheduledPerformingPhysician, dcm.PN, it.ScheduledPerformingDoctor)
	spsSet(tagSPSDescription, dcm.LO, it.ScheduledStepDescription)
	spsSet(tagSPSID, dcm.SH, it.ScheduledStepID)
	a.SetSequence(tagScheduledProcedureStepSequence, sps)
	return a
}

// worklistMatcher is a compiled MWL identifier: top-level keys and the
// keys inside the Scheduled Procedure Step Sequence item.
type worklistMatcher struct {
	top, nested []compiledAttr
}

type compiledAttr struct {
	tag dcm.Tag
	m   *match.Matcher
}

func compileAttrs(keys dcm.Attrs) ([]compiledAttr, *compileError) {
	var out []compiledAttr
	for _, k := range keys {
		if k.VR == dcm.SQ || len(k.Values) == 0 {
			continue
		}
		m, err := match.Compile(k.VR, joinValues(k.Values), false)
		if err != nil {
			return nil, &compileError{k.Tag, err}
		}
		if !m.Universal() {
			out = append(out, compiledAttr{k.Tag, m})
		}
	}
	return out, nil
}

type compileError struct {
	tag dcm.Tag
	err error
}

func (e *compileError) Error() string { return e.tag.String() + ": " + e.err.Error() }

func matchAll(keys []compiledAttr, a dcm.Attrs) bool {
	for _, k := range keys {
		if !k.m.Match(a.Values(k.tag)) {
			return false
		}
	}
	return true
}

// project returns the requested keys filled from item, nested included.
func project(keys, item dcm.Attrs) dcm.Attrs {
	out := make(dcm.Attrs, 0, len(keys))
	for _, k := range keys {
		v, ok := item.Get(k.Tag)
		switch {
		case k.VR == dcm.SQ:
			x := dcm.Attr{Tag: k.Tag, VR: dcm.SQ, Items: []dcm.Attrs{}}
			if ok {
				for _, it := range v.Items {
					var sub dcm.Attrs
					if len(k.Items) > 0 {
						sub = project(k.Items[0], it)
					}
					x.Items = append(x.Items, sub)
				}
			}
			out = append(out, x)
		case ok:
			out = append(out, dcm.Attr{Tag: k.Tag, VR: v.VR, Values: v.Values})
		default:
			out = append(out, dcm.Attr{Tag: k.Tag, VR: k.VR})
		}
	}
	return out
}

// handleWorklist serves Modality Worklist C-FIND (PS3.4 K).
func (s *Server) handleWorklist(ctx context.Context, a *Assoc, msg *Message) error {
	r := findResponder{a, msg}
	id, err := r.identifier()
	if id == nil {
		return err
	}
	var wm worklistMatcher
	var cerr *compileError
	wm.top, cerr = compileAttrs(id.keys)
	if cerr == nil {
		if sq, ok := id.keys.Get(tagScheduledProcedureStepSequence); ok && len(sq.Items) > 0 {
			wm.nested, cerr = compileAttrs(sq.Items[0])
		}
	}
	if cerr != nil {
		return r.final(StatusDataSetMismatch, cerr.Error(), cerr.tag)
	}
	// The worklist shows patients' names and NHS numbers: a read like any
	// other, recorded first.
	var keys []store.Key
	for _, k := range id.keys {
		if k.VR != dcm.SQ {
			keys = append(keys, store.Key{Tag: k.Tag, Value: joinValues(k.Values)})
		}
	}
	if err := s.auditQuery(ctx, a, "MWL C-FIND", keys); err != nil {
		a.log.Error("worklist C-FIND refused: the access cannot be recorded", "err", err)
		return r.final(StatusOutOfResources, "audit log unavailable")
	}
	var items []WorklistItem
	if s.Worklist != nil {
		if items, err = s.Worklist.ScheduledItems(ctx); err != nil {
			a.log.Error("worklist", "err", err)
			return r.final(StatusCannotUnderstand, "worklist unavailable; see the server log")
		}
	}
	matches := 0
	for i := range items {
		if ctx.Err() != nil {
			break
		}
		attrs := items[i].attrs()
		if !matchAll(wm.top, attrs) {
			continue
		}
		if len(wm.nested) > 0 {
			sq, _ := attrs.Get(tagScheduledProcedureStepSequence)
			ok := false
			for _, step := range sq.Items {
				ok = ok || matchAll(wm.nested, step)
			}
			if !ok {
				continue
			}
		}
		matches++
		if err := r.pending(StatusPending, project(id.keys, attrs), id.charset); err != nil {
			return err
		}
	}
	if ctx.Err() != nil && !isDone(a) {
		return r.final(StatusCancel, "")
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	a.log.Debug("worklist C-FIND done", "items", len(items), "matches", matches)
	return r.final(StatusSuccess, "")
}
