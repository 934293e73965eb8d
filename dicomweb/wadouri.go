package dicomweb

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/molar-pacs/molar/internal/dcm"
)

// wadoURI serves WADO-URI (PS3.18 9): one object by its UIDs, as DICOM
// (contentType=application/dicom, optionally transferSyntax=) or rendered
// (image/jpeg, the default for images, or image/png).
func (s *Service) wadoURI(w http.ResponseWriter, r *http.Request, caller Caller) {
	q := r.URL.Query()
	if q.Get("requestType") != "WADO" {
		httpError(w, http.StatusBadRequest, "requestType=WADO is required")
		return
	}
	study, series, sop := q.Get("studyUID"), q.Get("seriesUID"), q.Get("objectUID")
	if study == "" || series == "" || sop == "" {
		httpError(w, http.StatusBadRequest, "studyUID, seriesUID and objectUID are required")
		return
	}
	contentType := "image/jpeg"
	if ct := q.Get("contentType"); ct != "" {
		// A list of types in order of preference: take the first we make.
		contentType = ""
		for _, c := range strings.Split(ct, ",") {
			c = strings.TrimSpace(strings.SplitN(c, ";", 2)[0])
			if c == "application/dicom" || c == "image/jpeg" || c == "image/png" || c == "*/*" || c == "image/*" {
				contentType = c
				break
			}
		}
		if contentType == "" {
			httpError(w, http.StatusNotAcceptable, fmt.Sprintf("contentType %q: Molar answers application/dicom, image/jpeg or image/png", ct))
			return
		}
		if contentType == "*/*" || contentType == "image/*" {
			contentType = "image/jpeg"
		}
	}
	if contentType != "application/dicom" {
		s.renderWADOURI(w, r, caller, study, series, sop, contentType)
		return
	}
	for _, p := range []string{"rows", "columns", "region", "windowCenter", "windowWidth", "frameNumber", "imageQuality", "annotation", "presentationUID"} {
		if q.Has(p) {
			httpError(w, http.StatusBadRequest, p+" applies to rendered images, not to contentType=application/dicom")
			return
		}
	}
	in, err := s.openInstance(r, study, series, sop)
	if err != nil {
		s.archiveError(w, r, "object", err)
		return
	}
	defer in.Close()
	stored, _ := dcm.LookupTransferSyntax(in.TransferSyntax)
	to := stored
	if ts := q.Get("transferSyntax"); ts != "" && ts != stored.UID {
		want, known := dcm.LookupTransferSyntax(ts)
		if !known || !dcm.CanTranscode(stored, want) {
			httpError(w, http.StatusNotAcceptable, fmt.Sprintf("the object is stored as %s and cannot be sent as %s", stored.Name, ts))
			return
		}
		to = want
	}
	if !s.record(w, r, s.studyEvent(r.Context(), caller, ActionRetrieve, study, series, sop)) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/dicom")
	h.Set("Cache-Control", cacheImmutable)
	h.Set("Content-Disposition", `attachment; filename="`+sop+`.dcm"`)
	buf := make([]byte, copyBuf)
	if to.UID == stored.UID {
		h.Set("Content-Length", fmt.Sprint(in.Size))
		if _, err := copyBuffer(w, in.Reader(), buf); err != nil {
			panic(http.ErrAbortHandler)
		}
		return
	}
	if err := writeConverted(w, in, to); err != nil {
		if r.Context().Err() == nil {
			s.log.Error("dicomweb: WADO-URI conversion", "err", err, "sop", sop)
		}
		panic(http.ErrAbortHandler)
	}
}
