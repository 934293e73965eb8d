package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// NewHandler returns the HTTP interface to l: search, and export as JSON
// lines. It answers GET and HEAD on whatever path it is mounted at; the
// query parameters are
//
//	urn, nhs, user    keys to match (Filter.URN, NHSNumber, User)
//	from, to          RFC 3339 times: from inclusive, to exclusive
//	limit             entries to return: 1 to MaxLimit for search
//	                  (default DefaultLimit); any positive number for export
//	                  (default all)
//	cursor            a previous response's "next"
//	format            "json" (default): one page as {"entries": [...],
//	                  "next": "..."}; "jsonl": every matching entry as
//	                  application/x-ndjson, streamed
//
// Unknown or repeated parameters are refused with 400, so that a misspelt
// key does not widen a search to the whole log.
//
// The handler does no authorisation: the caller must have decided that the
// request may read the audit log (itself clinical data) before passing it
// on.
func NewHandler(l *Log) http.Handler { return &handler{l: l} }

type handler struct{ l *Log }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "The audit log is read with GET.", http.StatusMethodNotAllowed)
		return
	}
	f, export, err := parseQuery(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if export {
		h.export(w, r, f)
	} else {
		h.search(w, r, f)
	}
}

func (h *handler) search(w http.ResponseWriter, r *http.Request, f Filter) {
	page, err := h.l.Search(r.Context(), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodHead {
		return
	}
	if err := json.NewEncoder(w).Encode(page); err != nil {
		h.l.log.Debug("audit search: writing response", "err", err)
	}
}

func (h *handler) export(w http.ResponseWriter, r *http.Request, f Filter) {
	if r.Method == http.MethodHead {
		// Check the filter, but do not walk the log for nothing.
		if _, err := plan(f); err != nil {
			h.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="audit.jsonl"`)
	sw := &startedWriter{w: w}
	err := h.l.Export(r.Context(), f, sw)
	switch {
	case err == nil:
	case !sw.started:
		w.Header().Del("Content-Disposition")
		h.fail(w, r, err)
	case r.Context().Err() != nil:
		// The client went away.
	default:
		// The status is sent; a response that ends normally would pass
		// for a complete export. Abort the connection instead.
		h.l.log.Error("audit export failed part-way", "err", err)
		panic(http.ErrAbortHandler)
	}
}

// fail answers a request whose search could not run.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrBadFilter):
		http.Error(w, err.Error(), http.StatusBadRequest)
	case r.Context().Err() != nil:
		// The client went away; no one reads the answer.
	case errors.Is(err, ErrClosed):
		http.Error(w, "The audit log is closed: the server is shutting down.", http.StatusServiceUnavailable)
	default:
		h.l.log.Error("audit search failed", "err", err)
		http.Error(w, "The audit log could not be read; the error is in the server log.", http.StatusInternalServerError)
	}
}

// startedWriter notes whether anything was written, after which the status
// can no longer change.
type startedWriter struct {
	w       http.ResponseWriter
	started bool
}

func (s *startedWriter) Write(p []byte) (int, error) {
	s.started = true
	return s.w.Write(p)
}

// parseQuery turns query parameters into a filter, and says whether an
// export was asked for. Messages are for the person who wrote the query.
func parseQuery(v url.Values) (f Filter, export bool, err error) {
	for _, name := range slices.Sorted(maps.Keys(v)) {
		vals := v[name]
		switch name {
		case "urn", "nhs", "user", "from", "to", "limit", "cursor", "format":
		default:
			return f, false, fmt.Errorf("unknown parameter %q: want urn, nhs, user, from, to, limit, cursor or format", name)
		}
		if len(vals) > 1 {
			return f, false, fmt.Errorf("parameter %q given %d times: give it once", name, len(vals))
		}
	}
	switch format := v.Get("format"); format {
	case "", "json":
	case "jsonl", "ndjson":
		export = true
	default:
		return f, false, fmt.Errorf("format %q: want json or jsonl", format)
	}
	f.URN, f.NHSNumber, f.User, f.After = v.Get("urn"), v.Get("nhs"), v.Get("user"), v.Get("cursor")
	if f.From, err = parseTime("from", v.Get("from")); err != nil {
		return f, false, err
	}
	if f.To, err = parseTime("to", v.Get("to")); err != nil {
		return f, false, err
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil || n < 1:
			return f, false, fmt.Errorf("limit %q: want a whole number from 1", s)
		case n > MaxLimit && !export:
			return f, false, fmt.Errorf("limit %d: a search returns at most %d entries a page; page with cursor, or export with format=jsonl", n, MaxLimit)
		}
		f.Limit = n
	}
	return f, export, nil
}

func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err == nil {
		return t, nil
	}
	msg := fmt.Sprintf("%s %q: want an RFC 3339 time such as 2025-03-01T09:00:00Z", name, s)
	if strings.Contains(s, " ") {
		// A "+01:00" offset arrives as " 01:00" unless the + is escaped.
		msg += " (write + in an offset as %2B)"
	}
	return time.Time{}, errors.New(msg)
}
