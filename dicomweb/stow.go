package dicomweb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/store"
)

// Failure and warning reasons of a STOW-RS response (PS3.18 10.5.3, with
// the status codes of PS3.4 B.2.3 and PS3.7 C).
const (
	reasonProcessingFailure = 0x0110
	reasonDuplicate         = 0x0111 // same SOP Instance UID, different bytes
	reasonOutOfResources    = 0xA700
	reasonDataSetMismatch   = 0xA900 // missing or invalid attributes, or another study than the URL's
	reasonCannotUnderstand  = 0xC000
	warnCoercion            = 0xB000
	warnDataSetMismatch     = 0xB007
)

// Tags of the Store Instances Response Module (PS3.18 Table 10.5.3-3).
const (
	tagReferencedSOPClassUID    dcm.Tag = 0x00081150
	tagReferencedSOPInstanceUID dcm.Tag = 0x00081155
	tagFailureReason            dcm.Tag = 0x00081197
	tagFailedSOPSequence        dcm.Tag = 0x00081198
	tagReferencedSOPSequence    dcm.Tag = 0x00081199
	tagWarningReason            dcm.Tag = 0x00081196
)

// stowOutcome is what happened to one part.
type stowOutcome struct {
	class, sop, study, series string
	failure                   uint16 // 0: stored
	warning                   uint16
	detail                    string
}

// stow serves STOW-RS: each part of a multipart/related body is streamed
// into the archive as it arrives, so a body of any size needs no more
// memory than one part's buffer.
func (s *Service) stow(w http.ResponseWriter, r *http.Request, caller Caller) {
	if ranges := parseAccept(r.Header.Get("Accept")); !acceptsSingle(ranges, "application/dicom+json") && !acceptsSingle(ranges, "application/json") {
		httpError(w, http.StatusNotAcceptable, "the store response is application/dicom+json (or application/json)")
		return
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		// type=application/dicom unquoted, as some clients send it.
		mt, params, err = parseMediaTypeLenient(r.Header.Get("Content-Type"))
	}
	if err != nil {
		httpError(w, http.StatusUnsupportedMediaType, `send multipart/related; type="application/dicom" with a boundary`)
		return
	}
	study := r.PathValue("study")
	var outcomes []stowOutcome
	switch {
	case mt == "application/dicom":
		// Not in PS3.18, but a single instance sent bare is unambiguous.
		outcomes = append(outcomes, s.stowPart(r.Context(), study, r.Body))
	case mt == "multipart/related":
		if t := strings.ToLower(params["type"]); t != "" && t != "application/dicom" {
			httpError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("type=%q is not supported: send the instances as application/dicom parts", t))
			return
		}
		if params["boundary"] == "" {
			httpError(w, http.StatusBadRequest, "multipart/related without a boundary")
			return
		}
		// One large buffer (partsReader) saves system calls, and parts
		// are scanned and handed on in pieces as large as it holds.
		mr := newPartsReader(r.Body, params["boundary"], stowBuffer)
		var cut bool
		if outcomes, cut = s.stowMultipart(r.Context(), study, mr); cut {
			s.log.Warn("dicomweb: STOW cut short by the client", "stored", countStored(outcomes))
			return
		}
	default:
		httpError(w, http.StatusUnsupportedMediaType, fmt.Sprintf(`%s is not supported: send multipart/related; type="application/dicom"`, mt))
		return
	}
	if len(outcomes) == 0 {
		httpError(w, http.StatusBadRequest, "the request holds no instances")
		return
	}
	ev := Event{Caller: caller, Action: ActionStore, StudyUID: study}
	if !s.record(w, r, ev) {
		return
	}
	s.writeStowResponse(w, r, study, outcomes)
}

// Parts up to stowSmallPart bytes are read whole and stored concurrently,
// up to stowParallel at a time, so their commits share fsyncs (the store's
// group commit) rather than queue one behind another; a larger part
// streams into the archive as it arrives. Memory in flight stays below
// (stowParallel+1) × stowSmallPart.
const (
	stowSmallPart = 1 << 20
	stowParallel  = 8
	// stowBuffer is the size of the buffer a body is read through.
	stowBuffer = 256 << 10
)

// headBufs holds buffers of stowSmallPart+1 bytes, which a request reads
// the start of each part into to tell a small part from a large one.
var headBufs = sync.Pool{New: func() any { return new([stowSmallPart + 1]byte) }}

// errPartDone tells the feeding loop its part's ingest has finished.
var errPartDone = errors.New("part stored")

// stowMultipart stores each part of a multipart/related body and returns
// the outcomes in the order of the parts; cut reports a client that went
// away part-way.
func (s *Service) stowMultipart(ctx context.Context, study string, mr *partsReader) (outcomes []stowOutcome, cut bool) {
	var results []*stowOutcome
	var wg sync.WaitGroup
	sem := make(chan struct{}, stowParallel)
	// headBuf is only ever read by this goroutine and, for a large part,
	// by its ingest through the pipe while this goroutine waits in Write.
	headBuf := headBufs.Get().(*[stowSmallPart + 1]byte)
	defer func() {
		wg.Wait()
		headBufs.Put(headBuf)
		for _, o := range results {
			outcomes = append(outcomes, *o)
		}
	}()
	for {
		part, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			return nil, false
		}
		if errors.Is(err, errCutBeforeBoundary) && ctx.Err() == nil {
			// Not a single boundary line: the request holds no instances
			// (400), rather than one that failed.
			return nil, false
		}
		o := &stowOutcome{}
		results = append(results, o)
		if err != nil {
			if ctx.Err() != nil {
				return nil, true
			}
			*o = stowOutcome{failure: reasonCannotUnderstand, detail: "malformed multipart body: " + err.Error()}
			return nil, false
		}
		if ct := part.Header.Get("Content-Type"); ct != "" {
			if pt, _, _ := mime.ParseMediaType(ct); pt != "application/dicom" {
				*o = stowOutcome{failure: reasonCannotUnderstand, detail: fmt.Sprintf("part of type %q: only application/dicom parts are stored", pt)}
				continue
			}
		}
		head, err := readHead(part, headBuf[:])
		if err != nil {
			if ctx.Err() != nil {
				return nil, true
			}
			*o = stowOutcome{failure: reasonCannotUnderstand, detail: "reading the part: " + err.Error()}
			return nil, false
		}
		if len(head) > stowSmallPart {
			// A large part streams to its ingest through a pipe, so that
			// once its last byte is read the next part can start coming in
			// while this one's fsync and commit finish.
			pr, pw := io.Pipe()
			sem <- struct{}{}
			wg.Go(func() {
				defer func() {
					<-sem
					if v := recover(); v != nil {
						s.log.Error("dicomweb: panic storing a STOW part", "panic", v, "stack", string(debug.Stack()))
						*o = stowOutcome{failure: reasonProcessingFailure, detail: "archive error"}
					}
					// Whatever was not read, the feeding loop must not
					// wait for: it moves on to the next part.
					pr.CloseWithError(errPartDone)
				}()
				*o = s.stowPart(ctx, study, pr)
			})
			_, err := pw.Write(head)
			if err == nil {
				// Straight from the body's buffer into the pipe.
				_, err = part.WriteTo(pw)
			}
			pw.CloseWithError(err)
			if err != nil && !errors.Is(err, errPartDone) && ctx.Err() != nil {
				return nil, true
			}
			continue
		}
		// The part's own copy: headBuf is reused for the next part.
		small := bytes.Clone(head)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() {
				<-sem
				// Off the request's goroutine, net/http's recovery does
				// not reach: a panic here would end the server.
				if v := recover(); v != nil {
					s.log.Error("dicomweb: panic storing a STOW part", "panic", v, "stack", string(debug.Stack()))
					*o = stowOutcome{failure: reasonProcessingFailure, detail: "archive error"}
				}
			}()
			*o = s.stowPart(ctx, study, bytes.NewReader(small))
		})
	}
}

// stowPart stores one instance.
func (s *Service) stowPart(ctx context.Context, study string, body io.Reader) stowOutcome {
	var res *store.Result
	var err error
	if study != "" {
		res, err = s.archive.IngestInStudy(ctx, study, body)
	} else {
		res, err = s.archive.Ingest(ctx, body)
	}
	if err == nil {
		o := stowOutcome{class: res.SOPClassUID, sop: res.SOPInstanceUID, study: res.StudyUID, series: res.SeriesUID}
		for _, w := range res.Warnings {
			o.warning, o.detail = warnDataSetMismatch, w
			if strings.HasPrefix(w, "Specific Character Set") {
				o.warning = warnCoercion
				break
			}
		}
		return o
	}
	// Drain what is left of a refused part, so the next one can be read.
	io.Copy(io.Discard, body)
	if rej, ok := store.IsReject(err); ok {
		o := stowOutcome{class: rej.SOPClassUID, sop: rej.SOPInstanceUID, detail: rej.Error()}
		switch rej.Reason {
		case store.ReasonMissingAttribute, store.ReasonInvalidAttribute, store.ReasonWrongStudy:
			o.failure = reasonDataSetMismatch
		case store.ReasonConflict:
			o.failure = reasonDuplicate
		default:
			o.failure = reasonCannotUnderstand
		}
		s.log.Info("dicomweb: STOW instance refused", "sop", rej.SOPInstanceUID, "reason", rej.Reason.String(), "detail", rej.Detail)
		return o
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		s.log.Error("dicomweb: STOW: archive disk full", "err", err)
		return stowOutcome{failure: reasonOutOfResources, detail: "archive disk full"}
	}
	if ctx.Err() == nil {
		s.log.Error("dicomweb: STOW failed", "err", err)
	}
	return stowOutcome{failure: reasonProcessingFailure, detail: "archive error"}
}

// readHead reads the part into buf until buf is full or the part ends:
// io.ReadFull's io.ErrUnexpectedEOF would hide a body cut short, which
// the part reports as that.
func readHead(part io.Reader, buf []byte) ([]byte, error) {
	n := 0
	var err error
	for n < len(buf) && err == nil {
		var m int
		m, err = part.Read(buf[n:])
		n += m
	}
	if err == io.EOF {
		err = nil
	}
	return buf[:n], err
}

func countStored(outcomes []stowOutcome) int {
	n := 0
	for _, o := range outcomes {
		if o.failure == 0 {
			n++
		}
	}
	return n
}

// writeStowResponse answers with the Store Instances Response Module:
// 200 when every instance was stored without warnings, 202 when some were
// stored and others failed or warned, 409 when none was stored.
func (s *Service) writeStowResponse(w http.ResponseWriter, r *http.Request, study string, outcomes []stowOutcome) {
	base := s.baseURL(r)
	var refs, failed []dcm.Attrs
	studies := map[string]bool{}
	warned, serverSide := false, 0
	for _, o := range outcomes {
		var item dcm.Attrs
		if o.class != "" {
			item.Set(tagReferencedSOPClassUID, dcm.UI, o.class)
		}
		if o.sop != "" {
			item.Set(tagReferencedSOPInstanceUID, dcm.UI, o.sop)
		}
		if o.failure != 0 {
			item.Set(tagFailureReason, dcm.US, strconv.Itoa(int(o.failure)))
			failed = append(failed, item)
			if o.failure == reasonProcessingFailure || o.failure == reasonOutOfResources {
				serverSide++
			}
			continue
		}
		studies[o.study] = true
		item.Set(dcm.RetrieveURL, dcm.UR, base+"/studies/"+o.study+"/series/"+o.series+"/instances/"+o.sop)
		if o.warning != 0 {
			warned = true
			item.Set(tagWarningReason, dcm.US, strconv.Itoa(int(o.warning)))
		}
		refs = append(refs, item)
	}
	var resp dcm.Attrs
	if study == "" && len(studies) == 1 {
		for st := range studies {
			study = st
		}
	}
	if study != "" && len(refs) > 0 {
		resp.Set(dcm.RetrieveURL, dcm.UR, base+"/studies/"+study)
	}
	if len(failed) > 0 {
		resp.SetSequence(tagFailedSOPSequence, failed...)
	}
	if len(refs) > 0 {
		resp.SetSequence(tagReferencedSOPSequence, refs...)
	}
	status := http.StatusOK
	switch {
	case len(refs) == 0 && serverSide == len(failed):
		status = http.StatusInternalServerError
	case len(refs) == 0:
		status = http.StatusConflict
	case len(failed) > 0 || warned:
		status = http.StatusAccepted
	}
	for _, o := range outcomes {
		if o.failure != 0 {
			w.Header().Add("Warning", fmt.Sprintf("299 molar %q", truncate(o.detail, 200)))
		}
	}
	w.Header().Set("Content-Type", "application/dicom+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(dcm.AppendAttrsJSON(nil, resp))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
