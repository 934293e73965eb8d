package dicomweb

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/store"
)

// Default return attributes of a search at each level: PS3.18 Tables
// 10.6.3-3 to -5, plus what OHIF's study list and viewer read
// (StudyDescription, NumberOfStudyRelatedInstances, ModalitiesInStudy,
// NumberOfSeriesRelatedInstances) and the UIDs of the parents, without
// which an instance result cannot be retrieved.
var (
	studyReturn = []dcm.Tag{dcm.StudyDate, dcm.StudyTime, dcm.AccessionNumber, dcm.InstanceAvailability,
		dcm.ModalitiesInStudy, dcm.ReferringPhysicianName, dcm.TimezoneOffsetFromUTC, dcm.StudyDescription,
		dcm.RetrieveURL, dcm.PatientName, dcm.PatientID, dcm.PatientBirthDate, dcm.PatientSex,
		dcm.StudyInstanceUID, dcm.StudyID, dcm.NumberOfStudyRelatedSeries, dcm.NumberOfStudyRelatedInstances}
	seriesReturn = []dcm.Tag{dcm.Modality, dcm.TimezoneOffsetFromUTC, dcm.SeriesDescription, dcm.RetrieveURL,
		dcm.StudyInstanceUID, dcm.SeriesInstanceUID, dcm.SeriesNumber, dcm.NumberOfSeriesRelatedInstances,
		dcm.PerformedProcedureStepStartDate, dcm.PerformedProcedureStepStartTime}
	instanceReturn = []dcm.Tag{dcm.SOPClassUID, dcm.SOPInstanceUID, dcm.InstanceAvailability,
		dcm.TimezoneOffsetFromUTC, dcm.RetrieveURL, dcm.StudyInstanceUID, dcm.SeriesInstanceUID,
		dcm.InstanceNumber, dcm.Rows, dcm.Columns, dcm.BitsAllocated, dcm.NumberOfFrames}
)

// qidoRequest is a parsed search.
type qidoRequest struct {
	query store.Query
	// ret are the attributes to return, besides the keys matched on.
	ret        []dcm.Tag
	all        bool
	ignored    []string // matching keys the index cannot match on
	limited    bool     // the limit was lowered to MaxResults
	accession  string   // for the audit event
	patientID  string
	userLimit  int
	userOffset int
}

// parseQIDO reads a search's query parameters (PS3.18 8.3.4). Errors are
// for the client to read.
func (s *Service) parseQIDO(r *http.Request, level store.Level) (*qidoRequest, error) {
	req := &qidoRequest{query: store.Query{Level: level}}
	study, series := r.PathValue("study"), r.PathValue("series")
	switch level {
	case store.StudyLevel:
		req.ret = studyReturn
	case store.SeriesLevel:
		req.ret = seriesReturn
		if study == "" {
			req.ret = append(append([]dcm.Tag{}, studyReturn...), seriesReturn...)
		}
	case store.InstanceLevel:
		req.ret = instanceReturn
		switch {
		case study == "":
			req.ret = append(append(append([]dcm.Tag{}, studyReturn...), seriesReturn...), instanceReturn...)
		case series == "":
			req.ret = append(append([]dcm.Tag{}, seriesReturn...), instanceReturn...)
		}
	}
	if study != "" {
		req.query.Keys = append(req.query.Keys, store.Key{Tag: dcm.StudyInstanceUID, Value: study})
	}
	if series != "" {
		req.query.Keys = append(req.query.Keys, store.Key{Tag: dcm.SeriesInstanceUID, Value: series})
	}
	for name, values := range r.URL.Query() {
		switch strings.ToLower(name) {
		case "limit", "offset":
			if len(values) != 1 {
				return nil, fmt.Errorf("%s given %d times", name, len(values))
			}
			n, err := strconv.Atoi(values[0])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%s=%q: want a whole number, 0 or more", name, values[0])
			}
			if strings.EqualFold(name, "limit") {
				req.userLimit = n
			} else {
				req.userOffset = n
			}
		case "fuzzymatching":
			v, err := strconv.ParseBool(values[0])
			if err != nil || len(values) != 1 {
				return nil, fmt.Errorf("fuzzymatching=%q: want true or false", strings.Join(values, ","))
			}
			req.query.FuzzyNames = v
		case "includefield":
			for _, v := range values {
				for _, f := range strings.Split(v, ",") {
					f = strings.TrimSpace(f)
					if f == "" {
						continue
					}
					if f == "all" {
						req.all = true
						continue
					}
					t, err := parseAttribute(f)
					if err != nil {
						return nil, fmt.Errorf("includefield: %w", err)
					}
					req.ret = append(req.ret, t)
				}
			}
		default:
			if err := req.addKey(name, values, level); err != nil {
				return nil, err
			}
		}
	}
	req.query.Offset = req.userOffset
	req.query.Limit = req.userLimit
	if req.query.Limit == 0 || req.query.Limit > s.opts.MaxResults {
		req.query.Limit = s.opts.MaxResults
		req.limited = true
	}
	return req, nil
}

// parseAttribute reads an attribute ID: a keyword or eight hex digits.
// Sequence paths (a.b) are refused: the index does not match inside
// sequences.
func parseAttribute(s string) (dcm.Tag, error) {
	if strings.Contains(s, ".") {
		return 0, fmt.Errorf("%q: attributes inside sequences cannot be searched", s)
	}
	t, err := dcm.ParseTag(s)
	if err != nil || strings.ContainsAny(s, "(), ") {
		return 0, fmt.Errorf("unknown attribute %q (use a DICOM keyword such as PatientName, or eight hex digits such as 00100010)", s)
	}
	return t, nil
}

func (req *qidoRequest) addKey(name string, values []string, level store.Level) error {
	t, err := parseAttribute(name)
	if err != nil {
		return err
	}
	if len(values) > 1 {
		return fmt.Errorf("%s given %d times; for a list of UIDs separate them with commas", name, len(values))
	}
	value := values[0]
	vr := dcm.DictionaryVR(t)
	if vr == dcm.UI {
		// PS3.18 8.3.4.1: a UID list is comma-separated in a URL, where
		// DICOM separates values with backslashes.
		value = strings.ReplaceAll(value, ",", `\`)
	}
	l, indexed := store.AttributeLevel(t)
	if indexed && l > level {
		return fmt.Errorf("%s is a %s attribute and cannot be matched in a %s search", name, strings.ToLower(l.String()), strings.ToLower(level.String()))
	}
	if !indexed {
		req.ignored = append(req.ignored, name)
		return nil
	}
	switch t {
	case dcm.AccessionNumber:
		req.accession = value
	case dcm.PatientID:
		req.patientID = value
	}
	req.query.Keys = append(req.query.Keys, store.Key{Tag: t, Value: value})
	req.ret = append(req.ret, t)
	return nil
}

// search serves QIDO-RS at one level.
func (s *Service) search(level store.Level) func(http.ResponseWriter, *http.Request, Caller) {
	return func(w http.ResponseWriter, r *http.Request, caller Caller) {
		ranges := parseAccept(r.Header.Get("Accept"))
		if !acceptsSingle(ranges, "application/dicom+json") && !acceptsSingle(ranges, "application/json") {
			httpError(w, http.StatusNotAcceptable, "search results are application/dicom+json (or application/json)")
			return
		}
		req, err := s.parseQIDO(r, level)
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		base := s.baseURL(r)
		var body []byte
		n := 0
		more, err := s.archive.QueryFunc(r.Context(), req.query, func(m store.Match) error {
			if n == 0 {
				body = append(body, '[')
			} else {
				body = append(body, ',')
			}
			n++
			body = dcm.AppendAttrsJSON(body, req.result(m, base))
			return nil
		})
		var qe *store.QueryError
		switch {
		case errors.As(err, &qe):
			httpError(w, http.StatusBadRequest, qe.Error())
			return
		case err != nil:
			s.archiveError(w, r, "search", err)
			return
		}
		if n == 0 {
			body = append(body, '[')
		}
		body = append(body, ']')
		if !s.record(w, r, Event{Caller: caller, Action: ActionSearch, StudyUID: r.PathValue("study"),
			SeriesUID: r.PathValue("series"), AccessionNumber: req.accession, PatientID: req.patientID}) {
			return
		}
		h := w.Header()
		if len(req.ignored) > 0 {
			h.Add("Warning", fmt.Sprintf(`299 molar "These attributes cannot be matched and were ignored: %s"`, strings.Join(req.ignored, ", ")))
		}
		if more {
			msg := "There are additional results that can be requested"
			if req.limited {
				msg = fmt.Sprintf("Results were cut at %d; use limit and offset to page through the rest", req.query.Limit)
			}
			h.Add("Warning", fmt.Sprintf(`299 molar %q`, msg))
		}
		h.Set("Content-Type", "application/dicom+json")
		h.Set("Cache-Control", "private, no-cache")
		zw := s.compressed(w, r)
		zw.Write(body)
		zw.Close()
	}
}

// result picks the attributes a match returns, in tag order.
func (req *qidoRequest) result(m store.Match, base string) dcm.Attrs {
	var out dcm.Attrs
	if req.all {
		out = append(out, m.Attrs...)
	}
	for _, t := range req.ret {
		if _, ok := out.Get(t); ok {
			continue
		}
		switch t {
		case dcm.RetrieveURL:
			out.Set(t, dcm.UR, retrieveURL(base, m))
		case dcm.InstanceAvailability:
			out.Set(t, dcm.CS, "ONLINE")
		default:
			if a, ok := m.Attrs.Get(t); ok {
				out.Set(t, a.VR, a.Values...)
			} else if l, _ := store.AttributeLevel(t); l <= m.Level {
				out.Set(t, dcm.DictionaryVR(t))
			}
		}
	}
	if req.all {
		if _, ok := out.Get(dcm.RetrieveURL); !ok {
			out.Set(dcm.RetrieveURL, dcm.UR, retrieveURL(base, m))
		}
	}
	return out
}

func retrieveURL(base string, m store.Match) string {
	u := base + "/studies/" + m.StudyUID
	if m.Level >= store.SeriesLevel {
		u += "/series/" + m.SeriesUID
	}
	if m.Level >= store.InstanceLevel {
		u += "/instances/" + m.SOPInstanceUID
	}
	return u
}
