package referral

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/molar-pacs/molar/internal/auth"
)

// Guard decides who a request is and whether its role may perform any
// one of the actions (internal/auth's Service, which also records
// refusals in the audit log).
type Guard interface {
	CheckAny(r *http.Request, actions ...auth.Action) (auth.Principal, error)
}

// Handler returns the JSON API (api/openapi.yaml), mounted at /api/.
func (s *Service) Handler(g Guard) http.Handler {
	h := &api{s: s, g: g, log: s.log}
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.HandleFunc(rt.pattern, rt.handler(h))
	}
	return mux
}

// routes are the API's routes; api/openapi.yaml describes each, and a
// test holds the two to each other.
var routes = []struct {
	pattern string
	handler func(*api) http.HandlerFunc
}{
	{"GET /api/services", func(h *api) http.HandlerFunc { return h.listServices }},
	{"GET /api/services/{id}", func(h *api) http.HandlerFunc { return h.getService }},
	{"POST /api/services", func(h *api) http.HandlerFunc { return h.putService }},
	{"PUT /api/services/{id}", func(h *api) http.HandlerFunc { return h.putService }},
	{"GET /api/services/{id}/slots", func(h *api) http.HandlerFunc { return h.listSlots }},
	{"POST /api/services/{id}/slots", func(h *api) http.HandlerFunc { return h.addSlots }},
	{"POST /api/referrals", func(h *api) http.HandlerFunc { return h.createDraft }},
	{"GET /api/referrals", func(h *api) http.HandlerFunc { return h.findReferral }},
	{"GET /api/referrals/{id}", func(h *api) http.HandlerFunc { return h.getReferral }},
	{"PUT /api/referrals/{id}", func(h *api) http.HandlerFunc { return h.saveForm }},
	{"POST /api/referrals/{id}/steps", func(h *api) http.HandlerFunc { return h.takeStep }},
	{"POST /api/referrals/{id}/reminders", func(h *api) http.HandlerFunc { return h.remind }},
	{"GET /api/referrals/{id}/history", func(h *api) http.HandlerFunc { return h.history }},
	{"POST /api/referrals/{id}/trace", func(h *api) http.HandlerFunc { return h.trace }},
	{"POST /api/referrals/{id}/uploads", func(h *api) http.HandlerFunc { return h.upload }},
	{"POST /api/prepared", func(h *api) http.HandlerFunc { return h.prepared }},
	{"GET /api/worklists/{name}", func(h *api) http.HandlerFunc { return h.worklist }},
	{"GET /api/films/unmatched", func(h *api) http.HandlerFunc { return h.unmatched }},
	{"POST /api/films/unmatched/{study}/attach", func(h *api) http.HandlerFunc { return h.attachFilm }},
	{"GET /api/track", func(h *api) http.HandlerFunc { return h.track }},
	{"GET /api/reports/summary", func(h *api) http.HandlerFunc { return h.reportSummary }},
	{"GET /api/reports/referrals.csv", func(h *api) http.HandlerFunc { return h.reportCSV }},
}

type api struct {
	s   *Service
	g   Guard
	log *slog.Logger
}

// check asks the guard for any one of actions; it writes the refusal and
// returns false when none is allowed.
func (h *api) check(w http.ResponseWriter, r *http.Request, actions ...auth.Action) (auth.Principal, context.Context, bool) {
	p, err := h.g.CheckAny(r, actions...)
	if err == nil {
		return p, withClient(r.Context(), clientAddr(r)), true
	}
	var ae *auth.AccessError
	if errors.As(err, &ae) {
		if ae.Challenge != "" {
			w.Header().Set("WWW-Authenticate", ae.Challenge)
		}
		writeJSON(w, ae.Status, problem{Message: ae.Message})
		return auth.Principal{}, nil, false
	}
	h.log.Error("referral api: access check failed", "err", err)
	writeJSON(w, http.StatusInternalServerError, problem{Message: "The server could not check your access."})
	return auth.Principal{}, nil, false
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// problem is every error body: a message for the person, and the fields
// at fault for a form.
type problem struct {
	Message string      `json:"message"`
	Errors  FieldErrors `json:"errors,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// fail maps the service's errors to statuses.
func (h *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	var fe FieldErrors
	var se *StepError
	msg := err.Error()
	if errors.As(err, &se) {
		msg = se.Message
	}
	switch {
	case errors.As(err, &fe):
		writeJSON(w, http.StatusUnprocessableEntity, problem{Message: "Some answers need checking.", Errors: fe})
	case errors.Is(err, ErrNotFound):
		if se == nil {
			msg = "There is no such referral, or it is not one you can see."
		}
		writeJSON(w, http.StatusNotFound, problem{Message: msg})
	case errors.Is(err, ErrForbidden):
		if se == nil {
			msg = "You may not do this."
		}
		writeJSON(w, http.StatusForbidden, problem{Message: msg})
	case errors.Is(err, ErrConflict):
		writeJSON(w, http.StatusPreconditionFailed, problem{Message: msg})
	case errors.Is(err, ErrNotAllowedNow):
		writeJSON(w, http.StatusConflict, problem{Message: msg})
	case errors.Is(err, ErrTooManyAttempts):
		w.Header().Set("Retry-After", strconv.Itoa(int(trackLimitWindow/time.Second)))
		writeJSON(w, http.StatusTooManyRequests, problem{Message: msg})
	case errors.Is(err, context.Canceled):
		writeJSON(w, http.StatusServiceUnavailable, problem{Message: "The request was cancelled."})
	default:
		h.log.Error("referral api", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, problem{Message: "Something went wrong on the server; nothing was changed. Try again."})
	}
}

// decode reads a JSON body of at most 1 MiB.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, problem{Message: "The request body is not the JSON expected: " + err.Error()})
		return false
	}
	return true
}

func etag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// ifMatch reads the version the client last saw. PUT and steps require
// it (428 without), so no edit can overwrite one the client never saw.
func ifMatch(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	v = strings.TrimPrefix(v, "W/")
	v = strings.Trim(v, `"`)
	n, err := strconv.Atoi(v)
	if v == "" || err != nil || n < 1 {
		writeJSON(w, http.StatusPreconditionRequired, problem{
			Message: "Send the referral's version in If-Match (its ETag), so that changes made meanwhile are not overwritten."})
		return 0, false
	}
	return n, true
}

// decodeForm reads a referral form. What a GET answered may come back
// whole: its read-only additions are accepted and ignored, while a
// misspelt field is still refused.
func decodeForm(w http.ResponseWriter, r *http.Request) (Referral, bool) {
	var in struct {
		Referral
		StatusLabel string          `json:"status_label"`
		Problems    json.RawMessage `json:"problems"`
	}
	ok := decode(w, r, &in)
	return in.Referral, ok
}

// writeReferral answers with the referral, its status in words (so pages
// say what the tracker says), and the form's problems when there are any.
func writeReferral(w http.ResponseWriter, status int, r *Referral, problems FieldErrors) {
	w.Header().Set("ETag", etag(r.Version))
	writeJSON(w, status, struct {
		*Referral
		StatusLabel string      `json:"status_label"`
		Problems    FieldErrors `json:"problems,omitempty"`
	}{r, r.Status.Label(), problems})
}

func (h *api) listServices(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := h.check(w, r, auth.ActionReferralTrackPublic); !ok {
		return
	}
	list, err := h.s.Services(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if list == nil {
		list = []*HealthcareService{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (h *api) getService(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := h.check(w, r, auth.ActionReferralTrackPublic); !ok {
		return
	}
	svc, err := h.s.HealthcareServiceByID(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, &StepError{Err: err, Message: "There is no such service."})
		return
	}
	w.Header().Set("ETag", etag(svc.Version))
	writeJSON(w, http.StatusOK, svc)
}

func (h *api) putService(w http.ResponseWriter, r *http.Request) {
	p, ctx, ok := h.check(w, r, auth.ActionDirectoryEdit)
	if !ok {
		return
	}
	var svc HealthcareService
	if !decode(w, r, &svc) {
		return
	}
	version, status := 0, http.StatusCreated
	if id := r.PathValue("id"); id != "" {
		if version, ok = ifMatch(w, r); !ok {
			return
		}
		svc.ID, status = id, http.StatusOK
	} else {
		svc.ID = ""
	}
	out, err := h.s.PutService(ctx, p, svc, version)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(out.Version))
	if status == http.StatusCreated {
		w.Header().Set("Location", "/api/services/"+out.ID)
	}
	writeJSON(w, status, out)
}

func (h *api) listSlots(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := h.check(w, r, auth.ActionReferralBook, auth.ActionReferralTriage); !ok {
		return
	}
	from := h.s.now()
	if v := r.URL.Query().Get("from"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, problem{Message: "from must be a time like 2026-12-01T09:00:00Z"})
			return
		}
		from = t
	}
	slots, err := h.s.Slots(r.Context(), r.PathValue("id"), from, r.URL.Query().Get("free") != "false")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if slots == nil {
		slots = []Slot{}
	}
	writeJSON(w, http.StatusOK, slots)
}

func (h *api) addSlots(w http.ResponseWriter, r *http.Request) {
	p, ctx, ok := h.check(w, r, auth.ActionReferralBook)
	if !ok {
		return
	}
	var slots []Slot
	if !decode(w, r, &slots) {
		return
	}
	out, err := h.s.AddSlots(ctx, p, r.PathValue("id"), slots)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h *api) createDraft(w http.ResponseWriter, r *http.Request) {
	p, ctx, ok := h.check(w, r, auth.ActionReferralCreate)
	if !ok {
		return
	}
	form, ok := decodeForm(w, r)
	if !ok {
		return
	}
	out, problems, err := h.s.CreateDraft(ctx, p, form)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/referrals/"+out.ID)
	writeReferral(w, http.StatusCreated, out, problems)
}

var viewActions = []auth.Action{auth.ActionReferralView, auth.ActionReferralCreate, auth.ActionReferralBook}

func (h *api) getReferral(w http.ResponseWriter, r *http.Request) {
	p, ctx, ok := h.check(w, r, viewActions...)
	if !ok {
		return
	}
	out, err := h.s.Get(ctx, p, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeReferral(w, http.StatusOK, out, nil)
}

// findReferral: GET /api/referrals?urn=…
func (h *api) findReferral(w http.ResponseWriter, r *http.Request) {
	p, ctx, ok := h.check(w, r, viewActions...)
	if !ok {
		return
	}
	u := r.URL.Query().Get("urn")
	if u == "" {
		writeJSON(w, http.StatusBadRequest, problem{Message: "Give the referral's URN: /api/referrals?urn=… (lists are under /api/worklists/)."})
		return
	}
	out, err := h.s.ByURN(ctx, p, u)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeReferral(w, http.StatusOK, out, nil)
}

func (h *api) saveForm(w http.ResponseWriter, r *http.Request) {
	p, ctx, ok := h.check(w, r, auth.ActionReferralCreate)
	if !ok {
		return
	}
	version, ok := ifMatch(w, r)
	if !ok {
		return
	}
	form, ok := decodeForm(w, r)
	if !ok {
		return
	}
	out, problems, err := h.s.SaveForm(ctx, p, r.PathValue("id"), version, form)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeReferral(w, http.StatusOK, out, problems)
}

// stepActions is every action that may take step (for the guard).
func stepActions(step Step) []auth.Action {
	var out []auth.Action
	for _, ru := range rules {
		if ru.step != step {
			continue
		}
		for _, a := range ru.actions {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

func (h *api) takeStep(w http.ResponseWriter, r *http.Request) {
	var req StepRequest
	if !decode(w, r, &req) {
		return
	}
	acts := stepActions(req.Step)
	if len(acts) == 0 {
		writeJSON(w, http.StatusBadRequest, problem{Message: fmt.Sprintf("%q is not a step Molar knows.", req.Step)})
		return
	}
	p, ctx, ok := h.check(w, r, acts...)
	if !ok {
		return
	}
	version, ok := ifMatch(w, r)
	if !ok {
		return
	}
	out, err := h.s.Take(ctx, p, r.PathValue("id"), version, req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeReferral(w, http.StatusOK, out, nil)
}

func (h *api) remind(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Comment string `json:"comment"`
	}
	if !decode(w, r, &req) {
		return
	}
	// Which side may remind depends on what is outstanding: Remind decides.
	p, ctx, ok := h.check(w, r, auth.ActionReferralTriage, auth.ActionReferralCreate)
	if !ok {
		return
	}
	version, ok := ifMatch(w, r)
	if !ok {
		return
	}
	out, err := h.s.Remind(ctx, p, r.PathValue("id"), version, req.Comment)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeReferral(w, http.StatusOK, out, nil)
}

func (h *api) history(w http.ResponseWriter, r *http.Request) {
	p, _, ok := h.check(w, r, auth.ActionReferralView, auth.ActionReferralCreate)
	if !ok {
		return
	}
	events, err := h.s.History(r.Context(), p, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, events)
}

func (h *api) trace(w http.ResponseWriter, r *http.Request) {
	p, ctx, ok := h.check(w, r, auth.ActionReferralCreate, auth.ActionReferralTriage)
	if !ok {
		return
	}
	version, ok := ifMatch(w, r)
	if !ok {
		return
	}
	out, err := h.s.Trace(ctx, p, r.PathValue("id"), version)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeReferral(w, http.StatusOK, out, nil)
}

// upload takes one film as multipart/form-data (fields file, description,
// exposure_date), streamed to disk, never whole in memory.
func (h *api) upload(w http.ResponseWriter, r *http.Request) {
	p, ctx, ok := h.check(w, r, auth.ActionFilmUpload)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxDICOMUpload+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		writeJSON(w, http.StatusBadRequest, problem{Message: "Send the film as multipart/form-data with a file field."})
		return
	}
	fields := map[string]string{}
	for {
		part, err := mr.NextPart()
		if err != nil {
			writeJSON(w, http.StatusBadRequest, problem{Message: "No file field in the upload."})
			return
		}
		if part.FormName() != "file" {
			b, err := io.ReadAll(io.LimitReader(part, 1024))
			if err != nil {
				writeJSON(w, http.StatusBadRequest, problem{Message: "The upload was cut short."})
				return
			}
			fields[part.FormName()] = strings.TrimSpace(string(b))
			continue
		}
		up, err := h.s.AddUpload(ctx, p, r.PathValue("id"), part.FileName(), fields["description"], fields["exposure_date"], part)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		// The upload is recorded on the referral, which moves its version
		// on: give the page the new one so its next save is not refused
		// as stale.
		if v, err := h.s.version(r.PathValue("id")); err == nil {
			w.Header().Set("ETag", etag(v))
		}
		writeJSON(w, http.StatusCreated, up)
		return
	}
}

// prepared: practice software posts the demographics it holds and gets a
// link to a pre-filled draft.
func (h *api) prepared(w http.ResponseWriter, r *http.Request) {
	p, ctx, ok := h.check(w, r, auth.ActionReferralCreate)
	if !ok {
		return
	}
	var in struct {
		Patient  Patient  `json:"patient"`
		Referrer Referrer `json:"referrer"`
		GP       GP       `json:"gp"`
	}
	if !decode(w, r, &in) {
		return
	}
	out, problems, err := h.s.CreateDraft(ctx, p, Referral{Patient: in.Patient, Referrer: in.Referrer, GP: in.GP})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	link := h.s.opts.PublicURL + "/referrals/" + out.ID
	w.Header().Set("Location", "/api/referrals/"+out.ID)
	writeJSON(w, http.StatusCreated, struct {
		ID       string      `json:"id"`
		Link     string      `json:"link"`
		Version  int         `json:"version"`
		Problems FieldErrors `json:"problems,omitempty"`
	}{out.ID, link, out.Version, problems})
}

func (h *api) worklist(w http.ResponseWriter, r *http.Request) {
	p, ctx, ok := h.check(w, r, auth.ActionReferralView, auth.ActionReferralCreate, auth.ActionReferralBook)
	if !ok {
		return
	}
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeJSON(w, http.StatusBadRequest, problem{Message: "limit must be a whole number"})
			return
		}
		limit = n
	}
	list, err := h.s.Worklist(ctx, p, r.PathValue("name"), limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if list == nil {
		list = []Summary{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (h *api) unmatched(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := h.check(w, r, auth.ActionFilmAttach); !ok {
		return
	}
	list, err := h.s.UnmatchedFilms(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if list == nil {
		list = []Unmatched{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (h *api) attachFilm(w http.ResponseWriter, r *http.Request) {
	p, ctx, ok := h.check(w, r, auth.ActionFilmAttach)
	if !ok {
		return
	}
	var in struct {
		URN string `json:"urn"`
	}
	if !decode(w, r, &in) {
		return
	}
	out, err := h.s.AttachFilm(ctx, p, r.PathValue("study"), in.URN)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		URN   string `json:"urn"`
		Films int    `json:"films"`
	}{out.URN, len(out.Films)})
}

// track is public: no sign-in, rate-limited, audited.
func (h *api) track(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v, err := h.s.Track(r.Context(), q.Get("urn"), q.Get("dob"), clientAddr(r))
	if errors.Is(err, ErrNotFound) {
		writeJSON(w, http.StatusNotFound, problem{Message: "We could not find a referral with that reference and date of birth. Check both and try again."})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
