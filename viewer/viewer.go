package viewer

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/store"
)

// Archive is what the viewer needs of the store.
type Archive interface {
	Query(ctx context.Context, q store.Query) ([]store.Match, bool, error)
	OpenInstance(ctx context.Context, sop string) (*store.Instance, error)
	Study(ctx context.Context, uid string) (dcm.Attrs, error)
}

// Guard decides who may see patient data in the browser. It returns who
// is asking, for the audit log, and http.StatusOK, or 401 (not signed in)
// or 403 (signed in, but not in a role that sees films).
type Guard interface {
	Viewer(r *http.Request) (Person, int)
}

// Person is who looks, as the audit log records them.
type Person struct {
	User, Role, Org string
	OnBehalfOf      string // the clinician a clinician admin acts for
}

// Access is the simplest Guard, for tests and tools: anyone in demo mode,
// otherwise the holder of the bootstrap API token.
type Access struct {
	Demo     bool
	APIToken string
}

// Viewer implements Guard.
func (a Access) Viewer(r *http.Request) (Person, int) {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok && a.APIToken != "" && subtle.ConstantTimeCompare([]byte(got), []byte(a.APIToken)) == 1 {
		return Person{User: "api-token", Role: "sysadmin"}, http.StatusOK
	}
	if a.Demo {
		return Person{User: "anonymous", Role: "demo"}, http.StatusOK
	}
	return Person{}, http.StatusUnauthorized
}

// View is one look at patient data in the archive browser.
type View struct {
	Person
	Client           string
	Action, Resource string
	// The study's referral URN and NHS number, when one study is shown.
	URN, NHSNumber string
}

// Recorder writes views to the audit log. A view that cannot be recorded
// is not shown.
type Recorder interface {
	RecordView(ctx context.Context, v View) error
}

//go:embed templates/*.html
var templates embed.FS

// Handler serves the archive browser under /archive/.
type Handler struct {
	archive Archive
	access  Guard
	rec     Recorder
	log     *slog.Logger
	pages   *template.Template
	mux     *http.ServeMux
}

// New returns the archive browser.
func New(a Archive, access Guard, rec Recorder, log *slog.Logger) *Handler {
	h := &Handler{
		archive: a, access: access, rec: rec, log: log,
		pages: template.Must(template.New("").Funcs(template.FuncMap{
			"first": func(attrs dcm.Attrs, t dcm.Tag) string { return attrs.First(t) },
			"join":  func(attrs dcm.Attrs, t dcm.Tag) string { return strings.Join(attrs.Values(t), ", ") },
			"name":  personName,
			"date":  formatDate,
		}).ParseFS(templates, "templates/*.html")),
		mux: http.NewServeMux(),
	}
	h.mux.HandleFunc("GET /archive/{$}", h.studies)
	h.mux.HandleFunc("GET /archive/studies/{study}", h.study)
	h.mux.HandleFunc("GET /archive/instances/{sop}", h.download)
	return h
}

// ServeHTTP checks access once for every route: all of them show patient data.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch _, status := h.access.Viewer(r); status {
	case http.StatusOK:
	case http.StatusForbidden:
		h.log.Warn("archive browser: refused", "path", r.URL.Path, "client", r.RemoteAddr, "status", status)
		http.Error(w, "Your role does not show films. Switch to a clinical role, or ask your administrator.", http.StatusForbidden)
		return
	case http.StatusUnauthorized:
		h.log.Warn("archive browser: refused", "path", r.URL.Path, "client", r.RemoteAddr, "status", status)
		if r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html") {
			// A person at a browser: to the sign-in page, and back here after.
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="molar"`)
		http.Error(w, "Sign-in required: sign in at /login, or send a bearer token.", http.StatusUnauthorized)
		return
	default:
		h.log.Error("archive browser: the access check failed", "status", status)
		http.Error(w, "The access check failed; the error is in the server log.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
	h.mux.ServeHTTP(w, r)
}

// audit records a view of patient data before it is shown. When it
// cannot, it answers 503 and returns false.
func (h *Handler) audit(w http.ResponseWriter, r *http.Request, action, resource string, study dcm.Attrs) bool {
	who, _ := h.access.Viewer(r)
	v := View{Person: who, Client: r.RemoteAddr, Action: action, Resource: resource,
		URN: study.First(dcm.AccessionNumber), NHSNumber: study.First(dcm.PatientID)}
	if err := h.rec.RecordView(r.Context(), v); err != nil {
		h.log.Error("archive browser: audit record failed; view refused", "err", err)
		http.Error(w, "The audit log is unavailable, so patient data cannot be shown.", http.StatusServiceUnavailable)
		return false
	}
	return true
}

const pageSize = 50

func (h *Handler) studies(w http.ResponseWriter, r *http.Request) {
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	q := store.Query{Level: store.StudyLevel, Limit: pageSize, Offset: max(offset, 0)}
	if v := strings.TrimSpace(r.URL.Query().Get("q")); v != "" {
		// One box for what reception staff have to hand: a URN, an NHS
		// number or the start of a surname.
		switch {
		case isDigits(v):
			q.Keys = []store.Key{{Tag: dcm.PatientID, Value: v}}
		case looksLikeURN(v):
			q.Keys = []store.Key{{Tag: dcm.AccessionNumber, Value: strings.ToUpper(v)}}
		default:
			q.Keys = []store.Key{{Tag: dcm.PatientName, Value: v + "*"}}
		}
	}
	ms, more, err := h.archive.Query(r.Context(), q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !h.audit(w, r, "archive.list", r.URL.RequestURI(), nil) {
		return
	}
	h.render(w, "studies.html", map[string]any{
		"Studies": ms, "Search": r.URL.Query().Get("q"), "More": more,
		"Next": q.Offset + pageSize, "Prev": max(q.Offset-pageSize, 0), "HasPrev": q.Offset > 0,
		"Tags": tags,
	})
}

func (h *Handler) study(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("study")
	// Instance matches carry their study's attributes; a study without
	// instances does not exist.
	instances, _, err := h.archive.Query(r.Context(), store.Query{Level: store.InstanceLevel, Keys: []store.Key{{Tag: dcm.StudyInstanceUID, Value: uid}}})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(instances) == 0 {
		http.NotFound(w, r)
		return
	}
	if !h.audit(w, r, "archive.view", uid, instances[0].Attrs) {
		return
	}
	h.render(w, "study.html", map[string]any{"Study": instances[0], "Instances": instances, "Tags": tags})
}

func (h *Handler) download(w http.ResponseWriter, r *http.Request) {
	sop := r.PathValue("sop")
	in, err := h.archive.OpenInstance(r.Context(), sop)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer in.Close()
	study, err := h.archive.Study(r.Context(), in.StudyUID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !h.audit(w, r, "archive.download", sop, study) {
		return
	}
	w.Header().Set("Content-Type", "application/dicom")
	w.Header().Set("Content-Disposition", `attachment; filename="`+sop+`.dcm"`)
	w.Header().Set("Content-Length", strconv.FormatInt(in.Size, 10))
	if _, err := io.Copy(w, in.Reader()); err != nil {
		h.log.Warn("archive browser: download interrupted", "sop", sop, "err", err)
	}
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var qe *store.QueryError
	switch {
	case errors.Is(err, store.ErrNotFound):
		http.NotFound(w, r)
	case errors.As(err, &qe):
		http.Error(w, "Search not understood: "+qe.Error(), http.StatusBadRequest)
	default:
		h.log.Error("archive browser", "path", r.URL.Path, "err", err)
		http.Error(w, "The archive could not answer; the error is in the server log.", http.StatusInternalServerError)
	}
}

func (h *Handler) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := h.pages.ExecuteTemplate(w, name, data); err != nil {
		h.log.Error("archive browser: render", "page", name, "err", err)
	}
}

// tags lets templates name attributes.
var tags = map[string]dcm.Tag{
	"PatientName": dcm.PatientName, "PatientID": dcm.PatientID, "PatientBirthDate": dcm.PatientBirthDate,
	"PatientSex": dcm.PatientSex, "AccessionNumber": dcm.AccessionNumber, "StudyDate": dcm.StudyDate,
	"StudyDescription": dcm.StudyDescription, "ModalitiesInStudy": dcm.ModalitiesInStudy,
	"NumberOfStudyRelatedSeries": dcm.NumberOfStudyRelatedSeries, "NumberOfStudyRelatedInstances": dcm.NumberOfStudyRelatedInstances,
	"Modality": dcm.Modality, "SeriesNumber": dcm.SeriesNumber, "InstanceNumber": dcm.InstanceNumber,
	"Rows": dcm.Rows, "Columns": dcm.Columns, "AvailableTransferSyntaxUID": dcm.AvailableTransferSyntaxUID,
	"SOPInstanceUID": dcm.SOPInstanceUID, "SeriesDescription": dcm.SeriesDescription,
}

// personName shows "SMITH^OLIVIA" as "SMITH, Olivia".
func personName(attrs dcm.Attrs, t dcm.Tag) string {
	pn, _, _ := strings.Cut(attrs.First(t), "=")
	parts := strings.Split(pn, "^")
	if len(parts) < 2 || parts[1] == "" {
		return parts[0]
	}
	given := strings.ToLower(parts[1])
	if r := []rune(given); len(r) > 0 {
		given = strings.ToUpper(string(r[0])) + string(r[1:])
	}
	return parts[0] + ", " + given
}

// formatDate shows DICOM DA as an unambiguous UK date, 02-Nov-2026.
func formatDate(attrs dcm.Attrs, t dcm.Tag) string {
	d := attrs.First(t)
	if len(d) != 8 || !isDigits(d) {
		return d
	}
	months := [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	m, _ := strconv.Atoi(d[4:6])
	if m < 1 || m > 12 {
		return d
	}
	return d[6:8] + "-" + months[m-1] + "-" + d[0:4]
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// looksLikeURN: referral URNs are ten letters and digits with at least
// one digit; surnames have none.
func looksLikeURN(s string) bool {
	if len(s) != 10 {
		return false
	}
	digit := false
	for _, c := range strings.ToUpper(s) {
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'A' && c <= 'Z':
		default:
			return false
		}
	}
	return digit
}
