package viewer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/synth"
	"github.com/molar-pacs/molar/store"
)

func testArchive(t *testing.T) (*store.Store, []byte) {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var first []byte
	for i, p := range []struct{ name, id, urn string }{
		{"SMITH^OLIVIA", "9990000018", "AB12CD34EF"},
		{"MÜLLER^JOSÉ", "9990000026", "ZX98YW76VU"},
	} {
		b, err := synth.Bytes(synth.Spec{SOPInstanceUID: "1.2.3." + string(rune('1'+i)), PatientName: p.name, PatientID: p.id,
			AccessionNumber: p.urn, StudyDate: "20261102", PatientBirthDate: "19840312"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Ingest(context.Background(), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b
		}
	}
	return s, first
}

func TestAccess(t *testing.T) {
	s, _ := testArchive(t)
	for _, tc := range []struct {
		name   string
		access Access
		auth   string
		want   int
	}{
		{"demo, anonymous", Access{Demo: true}, "", 200},
		{"no token configured, anonymous", Access{}, "", 401},
		{"token configured, anonymous", Access{APIToken: "tok"}, "", 401},
		{"token configured, wrong token", Access{APIToken: "tok"}, "Bearer nope", 401},
		{"token configured, not bearer", Access{APIToken: "tok"}, "Basic dG9r", 401},
		{"token configured, right token", Access{APIToken: "tok"}, "Bearer tok", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := New(s, tc.access, &views{}, slog.New(slog.DiscardHandler))
			for _, path := range []string{"/archive/", "/archive/instances/1.2.3.1"} {
				req := httptest.NewRequest("GET", path, nil)
				if tc.auth != "" {
					req.Header.Set("Authorization", tc.auth)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != tc.want {
					t.Errorf("%s: %d, want %d", path, rec.Code, tc.want)
				}
				if rec.Code == 401 && strings.Contains(rec.Body.String(), "SMITH") {
					t.Errorf("%s: refusal leaks patient data", path)
				}
			}
		})
	}
}

func TestPages(t *testing.T) {
	s, first := testArchive(t)
	seen := &views{}
	h := New(s, Access{Demo: true}, seen, slog.New(slog.DiscardHandler))
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	for _, tc := range []struct {
		path       string
		code       int
		want, omit []string
	}{
		{"/archive/", 200, []string{"SMITH, Olivia", "MÜLLER, José", "AB12CD34EF", "02-Nov-2026", "12-Mar-1984"}, nil},
		{"/archive/?q=AB12CD34EF", 200, []string{"SMITH, Olivia"}, []string{"MÜLLER"}},
		{"/archive/?q=ab12cd34ef", 200, []string{"SMITH, Olivia"}, []string{"MÜLLER"}},
		{"/archive/?q=9990000026", 200, []string{"MÜLLER, José"}, []string{"SMITH"}},
		{"/archive/?q=muller", 200, []string{"MÜLLER, José"}, []string{"SMITH"}},
		{"/archive/?q=nobody", 200, []string{"No studies match"}, []string{"SMITH", "MÜLLER"}},
		{"/archive/?q=%3Cscript%3E", 200, []string{"&lt;script&gt;"}, []string{"<script>"}},
		{"/archive/studies/no.such.study", 404, nil, nil},
		{"/archive/instances/no.such.sop", 404, nil, nil},
	} {
		code, body := get(tc.path)
		if code != tc.code {
			t.Errorf("%s: %d, want %d", tc.path, code, tc.code)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: page lacks %q", tc.path, w)
			}
		}
		for _, w := range tc.omit {
			if strings.Contains(body, w) {
				t.Errorf("%s: page shows %q", tc.path, w)
			}
		}
	}

	// From the list to the study to the film, by the page's own links.
	ms, _, _ := s.Query(context.Background(), store.Query{Level: store.StudyLevel})
	code, body := get("/archive/studies/" + ms[0].StudyUID)
	if code != 200 || !strings.Contains(body, "/archive/instances/") || !strings.Contains(body, "64 × 64") {
		t.Fatalf("study page: %d\n%s", code, body)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/archive/instances/1.2.3.1", nil))
	got, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/dicom" || !bytes.Equal(got, first) {
		t.Errorf("download: %d %s, %d bytes, identical=%v", rec.Code, rec.Header().Get("Content-Type"), len(got), bytes.Equal(got, first))
	}
	// One audit record per page of patient data served, none for the 404s,
	// with the URN and NHS number of a study shown.
	if n := len(seen.got); n != 9 {
		t.Errorf("%d views recorded, want 9: %+v", n, seen.got)
	}
	if v := seen.got[len(seen.got)-1]; v.Action != "archive.download" || v.URN == "" || v.NHSNumber == "" || v.User != "anonymous" {
		t.Errorf("download view: %+v", v)
	}
	// With the audit log down, nothing is shown.
	seen.fail = true
	if code, body := get("/archive/"); code != 503 || strings.Contains(body, "SMITH") {
		t.Errorf("audit log down: %d %.200s", code, body)
	}
}

// views is a Recorder that keeps what it is given.
type views struct {
	got  []View
	fail bool
}

func (v *views) RecordView(_ context.Context, view View) error {
	if v.fail {
		return errors.New("audit log down")
	}
	v.got = append(v.got, view)
	return nil
}

func TestHeaders(t *testing.T) {
	s, _ := testArchive(t)
	h := New(s, Access{Demo: true}, &views{}, slog.New(slog.DiscardHandler))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/archive/", nil))
	for k, v := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"} {
		if rec.Header().Get(k) != v {
			t.Errorf("%s: %q, want %q", k, rec.Header().Get(k), v)
		}
	}
	if rec.Code != http.StatusOK {
		t.Errorf("status %d", rec.Code)
	}
}

// fixedGuard answers every request with one status.
type fixedGuard int

func (g fixedGuard) Viewer(*http.Request) (Person, int) { return Person{User: "someone"}, int(g) }

func TestRefusals(t *testing.T) {
	s, _ := testArchive(t)
	for _, tc := range []struct {
		name     string
		guard    Guard
		accept   string
		want     int
		location string
	}{
		{"browser not signed in: to the sign-in page", fixedGuard(http.StatusUnauthorized), "text/html,application/xhtml+xml", http.StatusSeeOther, "/login?next=%2Farchive%2F%3Fq%3DSMITH"},
		{"client not signed in", fixedGuard(http.StatusUnauthorized), "", http.StatusUnauthorized, ""},
		{"role without films", fixedGuard(http.StatusForbidden), "text/html", http.StatusForbidden, ""},
		{"guard failed", fixedGuard(http.StatusInternalServerError), "text/html", http.StatusInternalServerError, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := &views{}
			h := New(s, tc.guard, seen, slog.New(slog.DiscardHandler))
			req := httptest.NewRequest("GET", "/archive/?q=SMITH", nil)
			req.Header.Set("Accept", tc.accept)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want || rec.Header().Get("Location") != tc.location {
				t.Errorf("%d Location %q, want %d %q", rec.Code, rec.Header().Get("Location"), tc.want, tc.location)
			}
			if strings.Contains(rec.Body.String(), "SMITH, Olivia") || len(seen.got) != 0 {
				t.Errorf("a refused request saw patient data or was recorded as a view")
			}
		})
	}
}
