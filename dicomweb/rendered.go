package dicomweb

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/render"
	"github.com/molar-pacs/molar/store"
)

// parseRenderParams reads the PS3.18 8.3.5.1 rendering parameters
// (quality, viewport, window) and the accept query parameter.
func parseRenderParams(q url.Values, accept string) (render.Options, error) {
	var opts render.Options
	format, err := chooseImageFormat(q.Get("accept"), accept)
	if err != nil {
		return opts, err
	}
	opts.Format = format
	if v := q.Get("quality"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return opts, fmt.Errorf("quality=%q: want 1 to 100", v)
		}
		opts.Quality = n
	}
	if v := q.Get("viewport"); v != "" {
		parts := strings.Split(v, ",")
		if len(parts) != 2 {
			return opts, fmt.Errorf("viewport=%q: want vw,vh (source regions are not supported)", v)
		}
		for i, p := range parts {
			if p == "" {
				continue // an empty side is unbounded
			}
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 16384 {
				return opts, fmt.Errorf("viewport=%q: want two sizes from 1 to 16384 pixels", v)
			}
			if i == 0 {
				opts.Width = n
			} else {
				opts.Height = n
			}
		}
	}
	if v := q.Get("window"); v != "" {
		parts := strings.Split(v, ",")
		if len(parts) != 3 {
			return opts, fmt.Errorf("window=%q: want center,width,function (function linear, linear-exact or sigmoid)", v)
		}
		c, err1 := strconv.ParseFloat(parts[0], 64)
		wd, err2 := strconv.ParseFloat(parts[1], 64)
		if err1 != nil || err2 != nil || wd <= 0 {
			return opts, fmt.Errorf("window=%q: center and a positive width are numbers", v)
		}
		opts.Window = render.Window{Center: c, Width: wd}
		switch strings.ToLower(parts[2]) {
		case "linear":
			opts.Function = render.Linear
		case "linear-exact":
			opts.Function = render.LinearExact
		case "sigmoid":
			opts.Function = render.Sigmoid
		default:
			return opts, fmt.Errorf("window function %q: want linear, linear-exact or sigmoid", parts[2])
		}
	}
	return opts, nil
}

// errNotAcceptable marks a media type we do not make.
var errNotAcceptable = errors.New("rendered images are image/jpeg or image/png")

// chooseImageFormat picks JPEG or PNG from the accept query parameter
// (which wins, PS3.18 8.3.3.1) or the Accept header.
func chooseImageFormat(param, header string) (render.Format, error) {
	if param != "" {
		header = param
	}
	for _, r := range parseAccept(header) {
		switch {
		case r.matches("image/jpeg"):
			return render.JPEG, nil
		case r.matches("image/png"):
			return render.PNG, nil
		}
	}
	return "", errNotAcceptable
}

// rendered serves /rendered (thumbnail false) and /thumbnail at every
// level. A study or series renders its representative instance: the
// panoramic (the film that shows the whole mouth) if it has one, else its
// first instance. A frame list with more than one frame answers
// multipart/related.
func (s *Service) rendered(thumbnail bool) func(http.ResponseWriter, *http.Request, Caller) {
	return func(w http.ResponseWriter, r *http.Request, caller Caller) {
		opts, err := parseRenderParams(r.URL.Query(), r.Header.Get("Accept"))
		if err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, errNotAcceptable) {
				status = http.StatusNotAcceptable
			}
			httpError(w, status, err.Error())
			return
		}
		if thumbnail && opts.Width == 0 && opts.Height == 0 {
			opts.Width, opts.Height = render.ThumbnailSize, render.ThumbnailSize
		}
		frames := []int{1}
		if f := r.PathValue("frames"); f != "" {
			if frames, err = parseFrames(f); err != nil {
				httpError(w, http.StatusBadRequest, err.Error())
				return
			}
		}
		study, series, sop := r.PathValue("study"), r.PathValue("series"), r.PathValue("instance")
		if sop == "" {
			if sop, series, err = s.representative(r, study, series); err != nil {
				s.archiveError(w, r, "study", err)
				return
			}
		}
		s.renderInstance(w, r, caller, study, series, sop, frames, opts)
	}
}

// representative picks the instance a study or series is drawn by.
func (s *Service) representative(r *http.Request, study, series string) (sop, seriesOut string, err error) {
	q := store.Query{Level: store.InstanceLevel, Keys: []store.Key{{Tag: dcm.StudyInstanceUID, Value: study}, {Tag: dcm.Rows}}}
	if series != "" {
		q.Keys = append(q.Keys, store.Key{Tag: dcm.SeriesInstanceUID, Value: series})
	}
	_, err = s.archive.QueryFunc(r.Context(), q, func(m store.Match) error {
		if m.Attrs.First(dcm.Rows) == "" {
			return nil // not an image
		}
		isPX := m.Attrs.First(dcm.Modality) == "PX"
		if sop == "" || isPX {
			sop, seriesOut = m.SOPInstanceUID, m.SeriesUID
		}
		if isPX {
			return errStopWalk
		}
		return nil
	})
	if errors.Is(err, errStopWalk) {
		err = nil
	}
	if err == nil && sop == "" {
		err = fmt.Errorf("no image in study %s: %w", study, store.ErrNotFound)
	}
	return sop, seriesOut, err
}

var errStopWalk = errors.New("stop")

// renderInstance renders frames of one instance.
func (s *Service) renderInstance(w http.ResponseWriter, r *http.Request, caller Caller, study, series, sop string, frames []int, opts render.Options) {
	in, err := s.openInstance(r, study, series, sop)
	if err != nil {
		s.archiveError(w, r, "instance", err)
		return
	}
	defer in.Close()
	info, err := imageInfo(in)
	if err != nil {
		s.renderError(w, r, sop, err)
		return
	}
	for _, n := range frames {
		if n > in.Frames {
			httpError(w, http.StatusNotFound, fmt.Sprintf("frame %d: the instance has %d", n, in.Frames))
			return
		}
	}
	// Render before answering, so a failure gets its status.
	images := make([][]byte, len(frames))
	for i, n := range frames {
		fr, size, err := in.Frame(n)
		if err != nil {
			s.archiveError(w, r, "frame", err)
			return
		}
		data := make([]byte, size)
		if _, err := io.ReadFull(fr, data); err != nil {
			s.archiveError(w, r, "frame", err)
			return
		}
		var out bytes.Buffer
		if err := render.Render(&out, data, info, opts); err != nil {
			s.renderError(w, r, sop, err)
			return
		}
		images[i] = out.Bytes()
	}
	if !s.record(w, r, s.studyEvent(r.Context(), caller, ActionRetrieve, study, series, sop)) {
		return
	}
	mediaType := string(opts.Format)
	if mediaType == "" {
		mediaType = string(render.JPEG)
	}
	sum := sha256.Sum256([]byte(in.Version + "\x00" + r.URL.RawQuery + r.URL.Path + mediaType))
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", cacheImmutable)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if len(images) == 1 {
		h.Set("Content-Type", mediaType)
		h.Set("Content-Length", strconv.Itoa(len(images[0])))
		w.Write(images[0])
		return
	}
	body := startMultipart(w, mediaType, cacheImmutable)
	for _, img := range images {
		pw, err := body.part(mediaType, "", "")
		if err != nil {
			return
		}
		pw.Write(img)
	}
	body.close()
}

// imageInfo reads the attributes rendering needs from the instance's
// header; parsing stops at Pixel Data, so a film's pixels are read once,
// by Frame, not also here.
func imageInfo(in *store.Instance) (render.Info, error) {
	f, err := dcm.ParsePart10(in.Reader(), dcm.ParseOptions{StopBefore: dcm.PixelData})
	if err != nil {
		return render.Info{}, fmt.Errorf("%w: %v", render.ErrInvalid, err)
	}
	return render.InfoFrom(f.Dataset, f.TransferSyntax)
}

func (s *Service) renderError(w http.ResponseWriter, r *http.Request, sop string, err error) {
	switch {
	case errors.Is(err, render.ErrBadOptions):
		httpError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, render.ErrUnsupported):
		httpError(w, http.StatusNotAcceptable, "this image cannot be rendered here: "+err.Error()+"; retrieve it as DICOM instead")
	case errors.Is(err, render.ErrInvalid):
		s.log.Warn("dicomweb: instance cannot be rendered", "sop", sop, "err", err)
		httpError(w, http.StatusUnprocessableEntity, "the stored image is damaged or inconsistent: "+err.Error())
	default:
		s.archiveError(w, r, "rendering", err)
	}
}

// renderWADOURI serves WADO-URI's rendered content types.
func (s *Service) renderWADOURI(w http.ResponseWriter, r *http.Request, caller Caller, study, series, sop, contentType string) {
	q := r.URL.Query()
	if q.Has("transferSyntax") {
		httpError(w, http.StatusBadRequest, "transferSyntax applies to contentType=application/dicom only")
		return
	}
	if q.Has("region") {
		httpError(w, http.StatusBadRequest, "region is not supported")
		return
	}
	var opts render.Options
	opts.Format = render.Format(contentType)
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"rows", &opts.Height, 16384}, {"columns", &opts.Width, 16384}, {"imageQuality", &opts.Quality, 100}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > p.max {
				httpError(w, http.StatusBadRequest, fmt.Sprintf("%s=%q: want 1 to %d", p.name, v, p.max))
				return
			}
			*p.dst = n
		}
	}
	if c, wd := q.Get("windowCenter"), q.Get("windowWidth"); c != "" || wd != "" {
		cv, err1 := strconv.ParseFloat(c, 64)
		wv, err2 := strconv.ParseFloat(wd, 64)
		if err1 != nil || err2 != nil || wv <= 0 {
			httpError(w, http.StatusBadRequest, "windowCenter and windowWidth go together, and the width is positive")
			return
		}
		opts.Window = render.Window{Center: cv, Width: wv}
	}
	frame := 1
	if v := q.Get("frameNumber"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			httpError(w, http.StatusBadRequest, fmt.Sprintf("frameNumber=%q: want a frame number from 1", v))
			return
		}
		frame = n
	}
	s.renderInstance(w, r, caller, study, series, sop, []int{frame}, opts)
}
