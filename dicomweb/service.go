package dicomweb

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/store"
)

// Archive is what DICOMweb needs of the store.
type Archive interface {
	QueryFunc(ctx context.Context, q store.Query, fn func(store.Match) error) (bool, error)
	Metadata(ctx context.Context, study, series, sop, bulkBase string, w io.Writer) (int, error)
	ListInstances(ctx context.Context, study, series string, fn func(store.InstanceRef) error) error
	OpenInstance(ctx context.Context, sop string) (*store.Instance, error)
	Study(ctx context.Context, uid string) (dcm.Attrs, error)
	Ingest(ctx context.Context, r io.Reader) (*store.Result, error)
	IngestInStudy(ctx context.Context, study string, r io.Reader) (*store.Result, error)
}

// Action is what a request does, for the Guard to decide on.
type Action int

// Actions of DICOMweb requests.
const (
	ActionSearch   Action = iota + 1 // QIDO-RS
	ActionRetrieve                   // WADO-RS, WADO-URI: instances, metadata, frames, renderings
	ActionStore                      // STOW-RS
)

func (a Action) String() string {
	switch a {
	case ActionSearch:
		return "search"
	case ActionRetrieve:
		return "retrieve"
	case ActionStore:
		return "store"
	}
	return "unknown"
}

// Caller is who made a request, as the Guard established it.
type Caller struct {
	User, Role, Org string
	// OnBehalfOf names the clinician a clinician admin acts for.
	OnBehalfOf string
}

// Guard decides whether a request may perform an action. It returns an
// *AccessError to refuse; any other error is a failure of the check itself.
type Guard interface {
	Check(r *http.Request, a Action) (Caller, error)
}

// AccessError refuses a request: Status 401 (who are you?) or 403 (not
// you). Message is shown to the client, so it must not carry patient data.
type AccessError struct {
	Status  int
	Message string
	// Challenge is the WWW-Authenticate value sent with a 401.
	Challenge string
}

func (e *AccessError) Error() string { return e.Message }

// Event is one access to clinical data, for the audit log.
type Event struct {
	Caller                              Caller
	Action                              Action
	Resource                            string // the request URI
	Client                              string // the client's address
	StudyUID, SeriesUID, SOPInstanceUID string
	// AccessionNumber (the referral URN) and PatientID (the NHS number) of
	// the study read, when the request names one study or matched on them.
	AccessionNumber, PatientID string
}

// Recorder writes events to the audit log. A request whose event cannot
// be recorded is refused: an unrecorded read of patient data is worse than
// a failed one.
type Recorder interface {
	Record(ctx context.Context, ev Event) error
}

// Options configure a Service.
type Options struct {
	// Root is the path the services live under; default "/dicom-web".
	Root string
	// BaseURL, when set, is the public URL of Root (e.g.
	// "https://pacs.example.nhs.uk/dicom-web") for RetrieveURL and
	// BulkDataURI; otherwise they are built from each request's host.
	BaseURL  string
	Guard    Guard    // required
	Recorder Recorder // required
	// CORSOrigins lists origins allowed to call from a browser ("*" for
	// any), so OHIF can be served from elsewhere.
	CORSOrigins []string
	// MaxResults caps a QIDO response when the request sets no lower
	// limit; default 1000.
	MaxResults int
	Log        *slog.Logger
}

// Service is the DICOMweb HTTP handler.
type Service struct {
	archive Archive
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	gzips   sync.Pool
}

// New returns the DICOMweb service over an archive.
func New(a Archive, opts Options) (*Service, error) {
	if opts.Guard == nil || opts.Recorder == nil {
		return nil, errors.New("dicomweb: a Guard and a Recorder are required")
	}
	if opts.Root == "" {
		opts.Root = "/dicom-web"
	}
	opts.Root = "/" + strings.Trim(opts.Root, "/")
	opts.BaseURL = strings.TrimSuffix(opts.BaseURL, "/")
	if opts.MaxResults <= 0 {
		opts.MaxResults = 1000
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Service{archive: a, opts: opts, log: opts.Log, mux: http.NewServeMux()}
	s.routes()
	return s, nil
}

// Root returns the path the service is mounted at.
func (s *Service) Root() string { return s.opts.Root }

func (s *Service) routes() {
	root := s.opts.Root
	handle := func(method, path string, a Action, h func(http.ResponseWriter, *http.Request, Caller)) {
		s.mux.Handle(method+" "+root+path, s.guarded(a, h))
	}
	const (
		study    = "/studies/{study}"
		series   = study + "/series/{series}"
		instance = series + "/instances/{instance}"
	)
	// STOW-RS
	handle("POST", "/studies", ActionStore, s.stow)
	handle("POST", study, ActionStore, s.stow)
	// QIDO-RS
	handle("GET", "/studies", ActionSearch, s.search(store.StudyLevel))
	handle("GET", "/series", ActionSearch, s.search(store.SeriesLevel))
	handle("GET", "/instances", ActionSearch, s.search(store.InstanceLevel))
	handle("GET", study+"/series", ActionSearch, s.search(store.SeriesLevel))
	handle("GET", study+"/instances", ActionSearch, s.search(store.InstanceLevel))
	handle("GET", series+"/instances", ActionSearch, s.search(store.InstanceLevel))
	// WADO-RS
	for _, p := range []string{study, series, instance} {
		handle("GET", p, ActionRetrieve, s.retrieve)
		handle("GET", p+"/metadata", ActionRetrieve, s.metadata)
		handle("GET", p+"/rendered", ActionRetrieve, s.rendered(false))
		handle("GET", p+"/thumbnail", ActionRetrieve, s.rendered(true))
	}
	handle("GET", instance+"/frames/{frames}", ActionRetrieve, s.frames)
	handle("GET", instance+"/frames/{frames}/rendered", ActionRetrieve, s.rendered(false))
	handle("GET", instance+"/frames/{frames}/thumbnail", ActionRetrieve, s.rendered(true))
	handle("GET", instance+"/bulk/{path...}", ActionRetrieve, s.bulk)
	handle("GET", instance+"/bulkdata/{path...}", ActionRetrieve, s.bulk)
	// WADO-URI
	handle("GET", "/wado", ActionRetrieve, s.wadoURI)
	s.mux.HandleFunc("OPTIONS "+root+"/", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
}

// ServeHTTP implements http.Handler: CORS, then the route. A panic in one
// request is logged and answered with 500; the server goes on.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("dicomweb: panic", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			http.Error(w, "internal error; see the server log", http.StatusInternalServerError)
		}
	}()
	if s.cors(w, r) && r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// cors sets the CORS headers for an allowed origin and reports whether it
// did.
func (s *Service) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || len(s.opts.CORSOrigins) == 0 {
		return false
	}
	any := slices.Contains(s.opts.CORSOrigins, "*")
	if !any && !slices.Contains(s.opts.CORSOrigins, origin) {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Expose-Headers", "Content-Type, Content-Length, Content-Range, Content-Location, ETag, Warning, Location")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Accept, Content-Type, Range, If-None-Match, X-CSRF-Token")
		h.Set("Access-Control-Max-Age", "600")
	}
	return true
}

// guarded runs the Guard before h.
func (s *Service) guarded(a Action, h func(http.ResponseWriter, *http.Request, Caller)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, err := s.opts.Guard.Check(r, a)
		if err != nil {
			var ae *AccessError
			if errors.As(err, &ae) {
				if ae.Status == http.StatusUnauthorized && ae.Challenge != "" {
					w.Header().Set("WWW-Authenticate", ae.Challenge)
				}
				s.log.Warn("dicomweb: refused", "action", a.String(), "path", r.URL.Path, "status", ae.Status, "client", r.RemoteAddr)
				httpError(w, ae.Status, ae.Message)
				return
			}
			s.log.Error("dicomweb: access check failed", "err", err)
			httpError(w, http.StatusInternalServerError, "access check failed; see the server log")
			return
		}
		h(w, r, caller)
	})
}

// record writes the audit event for a read; on failure it answers 503 and
// returns false, and the caller must send nothing more.
func (s *Service) record(w http.ResponseWriter, r *http.Request, ev Event) bool {
	ev.Resource = r.URL.RequestURI()
	ev.Client = r.RemoteAddr
	if err := s.opts.Recorder.Record(r.Context(), ev); err != nil {
		s.log.Error("dicomweb: audit record failed; request refused", "err", err, "path", r.URL.Path)
		httpError(w, http.StatusServiceUnavailable, "the audit log is unavailable, so patient data cannot be served")
		return false
	}
	return true
}

// studyEvent fills an event with the study's URN and NHS number.
func (s *Service) studyEvent(ctx context.Context, caller Caller, a Action, study, series, sop string) Event {
	ev := Event{Caller: caller, Action: a, StudyUID: study, SeriesUID: series, SOPInstanceUID: sop}
	attrs, err := s.archive.Study(ctx, study)
	if err != nil && ctx.Err() == nil {
		// The event still names the study; its URN is what is missing.
		s.log.Warn("dicomweb: study look-up for the audit event failed", "study", study, "err", err)
	}
	ev.AccessionNumber, ev.PatientID = attrs.First(dcm.AccessionNumber), attrs.First(dcm.PatientID)
	return ev
}

// baseURL is the absolute URL of the service root for this request.
func (s *Service) baseURL(r *http.Request) string {
	if s.opts.BaseURL != "" {
		return s.opts.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + s.opts.Root
}

// httpError answers a readable plain-text error.
func httpError(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Del("Content-Encoding")
	h.Del("ETag")
	h.Set("Cache-Control", "no-store")
	http.Error(w, msg, status)
}

// archiveError answers an archive failure: 404 for what is not there, 500
// (logged) otherwise.
func (s *Service) archiveError(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		httpError(w, http.StatusNotFound, what+" not found")
		return
	}
	if r.Context().Err() != nil {
		return // the client went away
	}
	s.log.Error("dicomweb: archive", "err", err, "path", r.URL.Path)
	httpError(w, http.StatusInternalServerError, fmt.Sprintf("%s: archive error; see the server log", what))
}

// compressed returns a writer for a response body, gzip-compressed when
// the client accepts it. Close it to finish the body.
func (s *Service) compressed(w http.ResponseWriter, r *http.Request) io.WriteCloser {
	w.Header().Add("Vary", "Accept-Encoding")
	if !acceptsGzip(r.Header.Get("Accept-Encoding")) {
		return nopCloser{w}
	}
	w.Header().Set("Content-Encoding", "gzip")
	w.Header().Del("Content-Length")
	zw, _ := s.gzips.Get().(*gzip.Writer)
	if zw == nil {
		zw, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
	} else {
		zw.Reset(w)
	}
	return &pooledGzip{Writer: zw, pool: &s.gzips}
}

type pooledGzip struct {
	*gzip.Writer
	pool *sync.Pool
}

func (p *pooledGzip) Close() error {
	err := p.Writer.Close()
	p.pool.Put(p.Writer)
	return err
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
