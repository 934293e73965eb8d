package forward

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// Handler is the JSON admin API (routes in the package documentation).
// It does no authorisation: mount it behind cmd/molar's access check.
func (q *Queue) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jobs", q.handleList)
	mux.HandleFunc("GET /jobs/{id}", q.handleJob)
	mux.HandleFunc("POST /jobs/{id}/retry", q.handleAction(q.Retry))
	mux.HandleFunc("POST /jobs/{id}/cancel", q.handleAction(q.Cancel))
	return mux
}

func (q *Queue) handleList(w http.ResponseWriter, r *http.Request) {
	f := Filter{Reference: r.URL.Query().Get("reference")}
	for _, v := range r.URL.Query()["state"] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				f.States = append(f.States, State(s))
			}
		}
	}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			q.writeError(w, r, http.StatusBadRequest, "limit must be a positive number")
			return
		}
		f.Limit = n
	}
	jobs, err := q.Jobs(r.Context(), f)
	if err != nil {
		q.fail(w, r, err)
		return
	}
	q.writeJSON(w, r, http.StatusOK, struct {
		Jobs []JobStatus `json:"jobs"`
	}{jobs})
}

func (q *Queue) handleJob(w http.ResponseWriter, r *http.Request) {
	st, err := q.Job(r.Context(), r.PathValue("id"))
	if err != nil {
		q.fail(w, r, err)
		return
	}
	q.writeJSON(w, r, http.StatusOK, st)
}

// handleAction runs Retry or Cancel and answers with the job as it now is.
func (q *Queue) handleAction(act func(ctx context.Context, id string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := act(r.Context(), id); err != nil {
			q.fail(w, r, err)
			return
		}
		q.handleJob(w, r)
	}
}

func (q *Queue) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	msg := "internal error; see the server log"
	switch {
	case errors.Is(err, ErrNotFound):
		code, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, ErrConflict):
		code, msg = http.StatusConflict, err.Error()
	case errors.Is(err, ErrInvalid):
		code, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, ErrClosed):
		code, msg = http.StatusServiceUnavailable, err.Error()
	default:
		q.log.Error("forward: admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	q.writeError(w, r, code, msg)
}

func (q *Queue) writeError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	q.writeJSON(w, r, code, struct {
		Error string `json:"error"`
	}{msg})
}

func (q *Queue) writeJSON(w http.ResponseWriter, r *http.Request, code int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		q.log.Warn("forward: write admin JSON", "path", r.URL.Path, "err", err)
	}
}
