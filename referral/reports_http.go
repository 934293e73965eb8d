package referral

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	"github.com/molar-pacs/molar/internal/auth"
)

// The reports hold no patient data, so reading them is not audited (the
// audit log is for who saw which patient).

// ReportCSVFilename is the name the CSV report downloads as.
const ReportCSVFilename = "molar-referrals-report.csv"

// reportSummary: GET /api/reports/summary?from=&to=&period= → the Report
// as JSON.
func (h *api) reportSummary(w http.ResponseWriter, r *http.Request) {
	p, ctx, ok := h.check(w, r, auth.ActionReportAggregate)
	if !ok {
		return
	}
	q, ok := reportQuery(w, r)
	if !ok {
		return
	}
	rep, err := h.s.Report(ctx, p, q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// reportCSV: GET /api/reports/referrals.csv?from=&to=&period= → the
// Report as tidy CSV, as a download.
func (h *api) reportCSV(w http.ResponseWriter, r *http.Request) {
	p, ctx, ok := h.check(w, r, auth.ActionReportAggregate)
	if !ok {
		return
	}
	q, ok := reportQuery(w, r)
	if !ok {
		return
	}
	rep, err := h.s.Report(ctx, p, q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// Written whole before the status, so that a failure is a clean 500
	// rather than a truncated file that looks complete.
	var buf bytes.Buffer
	if err := WriteReportCSV(&buf, rep); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8; header=present")
	w.Header().Set("Content-Disposition", `attachment; filename="`+ReportCSVFilename+`"`)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

// reportQuery reads from and to (YYYY-MM-DD, UTC days; to is the first
// day not counted, as in ReportQuery) and period (month or week). It
// writes a 400 naming the parameter and returns false for a bad one.
func reportQuery(w http.ResponseWriter, r *http.Request) (ReportQuery, bool) {
	v := r.URL.Query()
	var q ReportQuery
	for _, d := range []struct {
		name, example string
		t             *time.Time
	}{
		{"from", "from must be a date like 2026-11-01 (the first day counted)", &q.From},
		{"to", "to must be a date like 2026-12-01 (the day after the last one counted)", &q.To},
	} {
		s := v.Get(d.name)
		if s == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, problem{Message: d.example + "; got " + quoteShort(s) + "."})
			return q, false
		}
		*d.t = t
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		writeJSON(w, http.StatusBadRequest, problem{Message: "to must be after from: to is the day after the last one counted."})
		return q, false
	}
	switch q.Period = v.Get("period"); q.Period {
	case "", PeriodMonth, PeriodWeek:
	default:
		writeJSON(w, http.StatusBadRequest, problem{Message: "period must be month or week; got " + quoteShort(q.Period) + "."})
		return q, false
	}
	return q, true
}

// quoteShort quotes a parameter for an error message, cut to a length a
// person reads.
func quoteShort(s string) string {
	if r := []rune(s); len(r) > 40 {
		s = string(r[:40]) + "…"
	}
	return strconv.Quote(s)
}
