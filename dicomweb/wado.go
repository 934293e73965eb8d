package dicomweb

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/render"
	"github.com/molar-pacs/molar/store"
)

// Cache-Control values. Instances are immutable (a SOP Instance UID names
// one object forever) but they are patient data, so private; aggregates
// (a study, a series, their metadata) grow as instances arrive, so they
// are revalidated with their ETag.
const (
	cacheImmutable = "private, max-age=31536000, immutable"
	cacheRevalid   = "private, no-cache"
)

// copyBuf is the buffer size for streaming instances: big enough that a
// film goes out in few system calls.
const copyBuf = 256 << 10

// newBoundary returns a multipart boundary no DICOM body will contain by
// chance.
func newBoundary() string {
	var b [16]byte
	rand.Read(b[:])
	return "molar-" + hex.EncodeToString(b[:])
}

// multipartBody writes a multipart/related response whose parts are of
// media type partType.
type multipartBody struct {
	mw *multipart.Writer
}

func startMultipart(w http.ResponseWriter, partType, cacheControl string) *multipartBody {
	mw := multipart.NewWriter(w)
	mw.SetBoundary(newBoundary())
	h := w.Header()
	h.Set("Content-Type", fmt.Sprintf(`multipart/related; type=%q; boundary=%s`, partType, mw.Boundary()))
	h.Set("Cache-Control", cacheControl)
	w.WriteHeader(http.StatusOK)
	return &multipartBody{mw: mw}
}

// part starts a part with its Content-Type (carrying transfer-syntax when
// ts is set) and, optionally, a Content-Location.
func (m *multipartBody) part(mediaType, ts, location string) (io.Writer, error) {
	h := textproto.MIMEHeader{}
	ct := mediaType
	if ts != "" {
		ct += "; transfer-syntax=" + ts
	}
	h.Set("Content-Type", ct)
	if location != "" {
		h.Set("Content-Location", location)
	}
	return m.mw.CreatePart(h)
}

func (m *multipartBody) close() error { return m.mw.Close() }

// retrieveChoice is how one instance will be sent.
type retrieveChoice struct {
	ref store.InstanceRef
	to  dcm.TransferSyntax // the syntax sent
}

// chooseSyntax picks the syntax an instance stored in stored is sent in,
// from the client's ranges in order of preference: as stored for "*" or no
// transfer-syntax (Molar's default, so nothing is converted unasked),
// else the named syntax when the instance is in it or converts to it.
func chooseSyntax(ranges []mediaRange, partType string, stored dcm.TransferSyntax) (dcm.TransferSyntax, bool) {
	for _, r := range ranges {
		ts, ok := r.acceptsPart(partType)
		if !ok {
			continue
		}
		if ts == "" || ts == "*" || ts == stored.UID {
			return stored, true
		}
		to, known := dcm.LookupTransferSyntax(ts)
		if known && dcm.CanTranscode(stored, to) {
			return to, true
		}
	}
	return dcm.TransferSyntax{}, false
}

// retrieve serves WADO-RS study, series and instance retrieval as
// multipart/related application/dicom.
func (s *Service) retrieve(w http.ResponseWriter, r *http.Request, caller Caller) {
	ctx := r.Context()
	study, series, sop := r.PathValue("study"), r.PathValue("series"), r.PathValue("instance")
	ranges := parseAccept(r.Header.Get("Accept"))
	var refs []store.InstanceRef
	var one *store.Instance // the instance a single-instance retrieval opened
	if sop != "" {
		in, err := s.openInstance(r, study, series, sop)
		if err != nil {
			s.archiveError(w, r, "instance", err)
			return
		}
		defer in.Close()
		one = in
		refs = append(refs, store.InstanceRef{StudyUID: in.StudyUID, SeriesUID: in.SeriesUID, SOPInstanceUID: in.SOPInstanceUID,
			SOPClassUID: in.SOPClassUID, TransferSyntax: in.TransferSyntax, Size: in.Size})
	} else {
		err := s.archive.ListInstances(ctx, study, series, func(ref store.InstanceRef) error {
			refs = append(refs, ref)
			return nil
		})
		if err != nil {
			s.archiveError(w, r, "study", err)
			return
		}
		if len(refs) == 0 {
			what := "study"
			if series != "" {
				what = "series"
			}
			httpError(w, http.StatusNotFound, what+" not found")
			return
		}
	}
	// Every instance must be sendable before the 200 goes out.
	choices := make([]retrieveChoice, len(refs))
	for i, ref := range refs {
		stored, _ := dcm.LookupTransferSyntax(ref.TransferSyntax)
		to, ok := chooseSyntax(ranges, "application/dicom", stored)
		if !ok {
			httpError(w, http.StatusNotAcceptable, fmt.Sprintf(
				"instance %s is stored as %s and cannot be sent in any transfer syntax accepted; accept multipart/related; type=\"application/dicom\"; transfer-syntax=*",
				ref.SOPInstanceUID, stored.Name))
			return
		}
		choices[i] = retrieveChoice{ref: ref, to: to}
	}
	if !s.record(w, r, s.studyEvent(ctx, caller, ActionRetrieve, study, series, sop)) {
		return
	}
	cache := cacheRevalid
	if sop != "" {
		cache = cacheImmutable
	}
	body := startMultipart(w, "application/dicom", cache)
	buf := make([]byte, copyBuf)
	for _, c := range choices {
		if err := s.writeInstance(r, body, c, one, buf); err != nil {
			// The status is sent: all we can do is cut the body short,
			// which the client sees as a missing closing boundary.
			if ctx.Err() == nil {
				s.log.Error("dicomweb: retrieve", "err", err, "sop", c.ref.SOPInstanceUID)
			}
			panic(http.ErrAbortHandler)
		}
	}
	body.close()
}

// writeInstance writes one instance part, converting when asked. in is
// the instance when the caller has it open already, else nil.
func (s *Service) writeInstance(r *http.Request, body *multipartBody, c retrieveChoice, in *store.Instance, buf []byte) error {
	if in == nil {
		var err error
		if in, err = s.archive.OpenInstance(r.Context(), c.ref.SOPInstanceUID); err != nil {
			return err
		}
		defer in.Close()
	}
	pw, err := body.part("application/dicom", c.to.UID, "")
	if err != nil {
		return err
	}
	if c.to.UID == in.TransferSyntax {
		_, err = copyBuffer(pw, in.Reader(), buf)
		return err
	}
	return writeConverted(pw, in, c.to)
}

// copyBuffer is io.CopyBuffer without the ReaderFrom/WriterTo shortcuts,
// which would bypass buf with small buffers of their own.
func copyBuffer(w io.Writer, r io.Reader, buf []byte) (int64, error) {
	return io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{r}, buf)
}

// writeConverted writes an instance as Part 10 in another transfer syntax:
// new file meta information, then the dataset converted as it streams.
func writeConverted(w io.Writer, in *store.Instance, to dcm.TransferSyntax) error {
	meta, err := dcm.EncodeFileMeta(dcm.FileMeta{SOPClassUID: in.SOPClassUID, SOPInstanceUID: in.SOPInstanceUID,
		TransferSyntax: to.UID, ImplementationClassUID: dcm.MolarImplementationClassUID,
		ImplementationVersion: dcm.MolarImplementationVersion})
	if err != nil {
		return err
	}
	if _, err := w.Write(meta); err != nil {
		return err
	}
	from, _ := dcm.LookupTransferSyntax(in.TransferSyntax)
	return dcm.Transcode(w, in.DatasetReader(), from, to)
}

// openInstance opens an instance named by a URL and checks it belongs to
// the study and series the URL names.
func (s *Service) openInstance(r *http.Request, study, series, sop string) (*store.Instance, error) {
	in, err := s.archive.OpenInstance(r.Context(), sop)
	if err != nil {
		return nil, err
	}
	if in.StudyUID != study || in.SeriesUID != series {
		in.Close()
		return nil, fmt.Errorf("instance %s is not in series %s of study %s: %w", sop, series, study, store.ErrNotFound)
	}
	return in, nil
}

// metadata serves WADO-RS /metadata from the JSON computed at ingest.
func (s *Service) metadata(w http.ResponseWriter, r *http.Request, caller Caller) {
	ranges := parseAccept(r.Header.Get("Accept"))
	if !acceptsSingle(ranges, "application/dicom+json") && !acceptsSingle(ranges, "application/json") {
		httpError(w, http.StatusNotAcceptable, "metadata is application/dicom+json (or application/json)")
		return
	}
	ctx := r.Context()
	study, series, sop := r.PathValue("study"), r.PathValue("series"), r.PathValue("instance")
	var buf bytes.Buffer
	if _, err := s.archive.Metadata(ctx, study, series, sop, s.baseURL(r), &buf); err != nil {
		s.archiveError(w, r, "metadata", err)
		return
	}
	sum := sha256.Sum256(buf.Bytes())
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", cacheRevalid)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		// Still a read of patient data: the client shows what it cached.
		if s.record(w, r, s.studyEvent(ctx, caller, ActionRetrieve, study, series, sop)) {
			w.WriteHeader(http.StatusNotModified)
		}
		return
	}
	if !s.record(w, r, s.studyEvent(ctx, caller, ActionRetrieve, study, series, sop)) {
		return
	}
	h.Set("Content-Type", "application/dicom+json")
	zw := s.compressed(w, r)
	if _, isGzip := zw.(*pooledGzip); !isGzip {
		h.Set("Content-Length", strconv.Itoa(buf.Len()))
	}
	zw.Write(buf.Bytes())
	zw.Close()
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// parseFrames reads "1,3,5" into frame numbers.
func parseFrames(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("frame list %q: want frame numbers from 1, separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// frameMedia is how a frame goes out.
type frameMedia struct {
	mediaType string
	ts        string
	swap16    bool // big endian 16-bit native: swap to little endian
	decode    bool // encapsulated: decompress to native little endian
}

// chooseFrameMedia negotiates the media type of an instance's frames.
// Native pixel data goes as application/octet-stream in explicit VR little
// endian; encapsulated pixel data goes as stored, in its own media type
// (image/jpeg, image/jls, image/jp2, image/dicom-rle), when the client
// accepts that type, or accepts octet-stream with transfer-syntax=*.
//
// A client that accepts only uncompressed frames gets frames Molar can
// decompress (RLE, JPEG baseline; canDecode) as native little endian.
func chooseFrameMedia(ranges []mediaRange, stored dcm.TransferSyntax, bitsAllocated int, canDecode bool) (frameMedia, error) {
	if !stored.Encapsulated {
		native := frameMedia{mediaType: "application/octet-stream", ts: dcm.ExplicitVRLittleEndian,
			swap16: stored.BigEndian && bitsAllocated == 16}
		for _, r := range ranges {
			ts, ok := r.acceptsPart(native.mediaType)
			if !ok && r.mediaType == "application/octet-stream" {
				ts, ok = r.transferSyntax, true
			}
			if ok && (ts == "" || ts == "*" || ts == dcm.ExplicitVRLittleEndian) {
				return native, nil
			}
		}
		return frameMedia{}, errors.New("frames of this instance are uncompressed: accept multipart/related; type=\"application/octet-stream\"")
	}
	own := frameMedia{mediaType: stored.MediaType, ts: stored.UID}
	for _, r := range ranges {
		if ts, ok := r.acceptsPart(own.mediaType); ok && r.partType != "" && r.partType != "*/*" && (ts == "" || ts == "*" || ts == stored.UID) {
			return own, nil
		}
		if ts, ok := r.acceptsPart("application/octet-stream"); ok && (ts == "*" || ts == stored.UID) {
			return own, nil
		}
		if r.mediaType == "*/*" || (r.mediaType == "multipart/related" && (r.partType == "" || r.partType == "*/*")) {
			return own, nil
		}
		if ts, ok := r.acceptsPart("application/octet-stream"); ok && canDecode && (ts == "" || ts == dcm.ExplicitVRLittleEndian) {
			return frameMedia{mediaType: "application/octet-stream", ts: dcm.ExplicitVRLittleEndian, decode: true}, nil
		}
	}
	return frameMedia{}, fmt.Errorf("frames of this instance are stored as %s (%s) and are not decompressed here: accept multipart/related; type=%q, or type=\"application/octet-stream\"; transfer-syntax=*",
		stored.Name, stored.UID, stored.MediaType)
}

// frames serves WADO-RS /frames/{list}.
func (s *Service) frames(w http.ResponseWriter, r *http.Request, caller Caller) {
	list, err := parseFrames(r.PathValue("frames"))
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	study, series, sop := r.PathValue("study"), r.PathValue("series"), r.PathValue("instance")
	in, err := s.openInstance(r, study, series, sop)
	if err != nil {
		s.archiveError(w, r, "instance", err)
		return
	}
	defer in.Close()
	if in.Frames == 0 {
		httpError(w, http.StatusNotFound, "instance has no frames that can be served")
		return
	}
	for _, n := range list {
		if n > in.Frames {
			httpError(w, http.StatusNotFound, fmt.Sprintf("frame %d: the instance has %d", n, in.Frames))
			return
		}
	}
	stored, _ := dcm.LookupTransferSyntax(in.TransferSyntax)
	bits, _ := strconv.Atoi(in.Attrs().First(dcm.BitsAllocated))
	_, canDecode := render.Builtin()[stored.UID]
	media, err := chooseFrameMedia(parseAccept(r.Header.Get("Accept")), stored, bits, canDecode)
	if err != nil {
		httpError(w, http.StatusNotAcceptable, err.Error())
		return
	}
	var info render.Info
	if media.decode {
		if info, err = imageInfo(in); err != nil {
			s.renderError(w, r, sop, err)
			return
		}
	}
	if !s.record(w, r, s.studyEvent(r.Context(), caller, ActionRetrieve, study, series, sop)) {
		return
	}
	etag := fmt.Sprintf(`"%s-%s"`, in.Version, r.PathValue("frames"))
	w.Header().Set("ETag", etag)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.Header().Set("Cache-Control", cacheImmutable)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := startMultipart(w, media.mediaType, cacheImmutable)
	buf := make([]byte, copyBuf)
	for _, n := range list {
		if err := writeFrame(body, in, n, media, info, buf); err != nil {
			if r.Context().Err() == nil {
				s.log.Error("dicomweb: frames", "err", err, "sop", sop, "frame", n)
			}
			panic(http.ErrAbortHandler)
		}
	}
	body.close()
}

func writeFrame(body *multipartBody, in *store.Instance, n int, media frameMedia, info render.Info, buf []byte) error {
	fr, size, err := in.Frame(n)
	if err != nil {
		return err
	}
	if media.decode {
		data := make([]byte, size)
		if _, err := io.ReadFull(fr, data); err != nil {
			return err
		}
		native, err := decodeFrame(data, info)
		if err != nil {
			return err
		}
		pw, err := body.part(media.mediaType, media.ts, "")
		if err == nil {
			_, err = pw.Write(native)
		}
		return err
	}
	pw, err := body.part(media.mediaType, media.ts, "")
	if err != nil {
		return err
	}
	if media.swap16 {
		pw = &swap16Writer{w: pw}
	}
	_, err = copyBuffer(pw, fr, buf)
	return err
}

// decodeFrame decompresses an encapsulated frame to native little endian
// samples: one byte each for 8-bit data, two for more.
func decodeFrame(data []byte, info render.Info) ([]byte, error) {
	f, err := render.Decode(data, info)
	if err != nil {
		return nil, err
	}
	if f.RGB != nil {
		return f.RGB, nil
	}
	if f.Info.BitsAllocated == 8 {
		out := make([]byte, len(f.Gray))
		for i, v := range f.Gray {
			out[i] = byte(v)
		}
		return out, nil
	}
	out := make([]byte, 2*len(f.Gray))
	for i, v := range f.Gray {
		binary.LittleEndian.PutUint16(out[2*i:], v)
	}
	return out, nil
}

// swap16Writer swaps the bytes of each 16-bit word written through it,
// carrying an odd byte between writes.
type swap16Writer struct {
	w       io.Writer
	odd     byte
	hasOdd  bool
	scratch []byte
}

func (s *swap16Writer) Write(p []byte) (int, error) {
	n := len(p)
	out := s.scratch[:0]
	if s.hasOdd && len(p) > 0 {
		out = append(out, p[0], s.odd)
		p = p[1:]
		s.hasOdd = false
	}
	for len(p) >= 2 {
		out = binary.LittleEndian.AppendUint16(out, binary.BigEndian.Uint16(p))
		p = p[2:]
	}
	if len(p) == 1 {
		s.odd, s.hasOdd = p[0], true
	}
	s.scratch = out
	if _, err := s.w.Write(out); err != nil {
		return 0, err
	}
	return n, nil
}

// bulk serves a BulkDataURI: application/octet-stream with Range support,
// or a one-part multipart/related when the client asks for that first.
func (s *Service) bulk(w http.ResponseWriter, r *http.Request, caller Caller) {
	study, series, sop := r.PathValue("study"), r.PathValue("series"), r.PathValue("instance")
	in, err := s.openInstance(r, study, series, sop)
	if err != nil {
		s.archiveError(w, r, "instance", err)
		return
	}
	defer in.Close()
	path := strings.ToUpper(r.PathValue("path"))
	rd, size, err := in.Bulk(path)
	if err != nil {
		s.archiveError(w, r, "bulk data "+path, err)
		return
	}
	ranges := parseAccept(r.Header.Get("Accept"))
	multi := wantsMultipart(ranges)
	if !multi && !acceptsSingle(ranges, "application/octet-stream") {
		if _, ok := findPartRange(ranges, "application/octet-stream"); !ok {
			httpError(w, http.StatusNotAcceptable, "bulk data is application/octet-stream")
			return
		}
		multi = true
	}
	if !s.record(w, r, s.studyEvent(r.Context(), caller, ActionRetrieve, study, series, sop)) {
		return
	}
	etag := `"` + in.Version + "-" + path + `"`
	if multi {
		w.Header().Set("ETag", etag)
		body := startMultipart(w, "application/octet-stream", cacheImmutable)
		pw, err := body.part("application/octet-stream", "", "")
		if err == nil {
			_, err = copyBuffer(pw, rd, make([]byte, copyBuf))
		}
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		body.close()
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Cache-Control", cacheImmutable)
	h.Set("ETag", etag)
	if rs, ok := rd.(io.ReadSeeker); ok {
		// ServeContent answers Range and If-None-Match.
		http.ServeContent(w, r, "", time.Time{}, rs)
		return
	}
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	copyBuffer(w, rd, make([]byte, copyBuf))
}

func findPartRange(ranges []mediaRange, part string) (mediaRange, bool) {
	for _, r := range ranges {
		if _, ok := r.acceptsPart(part); ok {
			return r, true
		}
	}
	return mediaRange{}, false
}
