package audit

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func serve(h http.Handler, method, query string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, "/audit?"+query, nil))
	return w
}

func decodePage(t *testing.T, w *httptest.ResponseRecorder) Page {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q: the audit log must not be cached", cc)
	}
	var p Page
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("response %q: %v", w.Body, err)
	}
	return p
}

func TestHandlerSearch(t *testing.T) {
	l := openLog(t, "")
	stored := record(t, l, fixture())
	h := NewHandler(l)
	for _, tc := range []struct{ query, want string }{
		{"", "e5 e4 e3 e6 e2 e1"},
		{"urn=R-1", "e5 e6 e1"},
		{"nhs=943+476+5919", "e5 e2 e1"},
		{"nhs=943-476-5919", "e5 e2 e1"},
		{"user=alice%40nhs.net", "e5 e3 e1"},
		{"from=2025-03-01T09:03:00Z", "e5 e4 e3"},
		{"to=2025-03-01T09:03:00Z", "e6 e2 e1"},
		{"from=2025-03-01T10:02:00%2B01:00&to=2025-03-01T09:04:00.000Z", "e3 e6 e2"},
		{"urn=R-1&user=bob%40nhs.net&format=json", "e6"},
		{"urn=R-404", ""},
	} {
		p := decodePage(t, serve(h, http.MethodGet, tc.query))
		if got := resources(p.Entries); got != tc.want || p.Next != "" {
			t.Errorf("?%s: got %q next %q, want %q", tc.query, got, p.Next, tc.want)
		}
	}
	// Entries come back whole.
	p := decodePage(t, serve(h, http.MethodGet, "urn=R-2&user=alice%40nhs.net"))
	if len(p.Entries) != 1 || p.Entries[0] != stored[2] {
		t.Errorf("got %+v, want %+v", p.Entries, stored[2])
	}
	// An empty result is an empty list, not null.
	if w := serve(h, http.MethodGet, "urn=R-404"); !strings.Contains(w.Body.String(), `"entries":[]`) {
		t.Errorf("empty result %s", w.Body)
	}
}

func TestHandlerPaging(t *testing.T) {
	l := openLog(t, "")
	record(t, l, fixture())
	h := NewHandler(l)
	var got []string
	query := "limit=2"
	for range 10 {
		p := decodePage(t, serve(h, http.MethodGet, query))
		got = append(got, resources(p.Entries))
		if p.Next == "" {
			break
		}
		query = "limit=2&cursor=" + url.QueryEscape(p.Next)
	}
	if strings.Join(got, "|") != "e5 e4|e3 e6|e2 e1" {
		t.Errorf("pages %q", got)
	}
}

func TestHandlerExport(t *testing.T) {
	l := openLog(t, "")
	stored := record(t, l, fixture())
	h := NewHandler(l)
	w := serve(h, http.MethodGet, "format=jsonl&nhs=9434765919")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type %q", ct)
	}
	got := readJSONLines(t, w.Body.Bytes())
	if want := model(stored, Filter{NHSNumber: "9434765919"}); resources(got) != resources(want) || got[0] != want[0] {
		t.Errorf("export %+v, want %+v", got, want)
	}
	// Export has no page limit, but honours one given.
	if w := serve(h, http.MethodGet, "format=jsonl&limit=5000"); len(readJSONLines(t, w.Body.Bytes())) != len(stored) {
		t.Errorf("export with a large limit: %s", w.Body)
	}
	if w := serve(h, http.MethodGet, "format=ndjson&limit=2"); resources(readJSONLines(t, w.Body.Bytes())) != "e5 e4" {
		t.Errorf("export with limit 2: %s", w.Body)
	}
}

func TestHandlerHead(t *testing.T) {
	l := openLog(t, "")
	record(t, l, fixture())
	h := NewHandler(l)
	for _, q := range []string{"", "format=jsonl"} {
		w := serve(h, http.MethodHead, q)
		if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Type") == "" {
			t.Errorf("HEAD ?%s: status %d, %d bytes, Content-Type %q", q, w.Code, w.Body.Len(), w.Header().Get("Content-Type"))
		}
	}
	if w := serve(h, http.MethodHead, "format=jsonl&cursor=x"); w.Code != http.StatusBadRequest {
		t.Errorf("HEAD with a bad cursor: status %d", w.Code)
	}
}

func TestHandlerBadParams(t *testing.T) {
	l := openLog(t, "")
	record(t, l, fixture())
	h := NewHandler(l)
	for _, tc := range []struct{ query, says string }{
		{"from=yesterday", "from \"yesterday\": want an RFC 3339 time"},
		{"to=2025-03-01", "to \"2025-03-01\": want an RFC 3339 time"},
		{"from=2025-03-01T09:00:00+01:00", "%2B"},
		{"from=2025-03-02T00:00:00Z&to=2025-03-01T00:00:00Z", "is after to"},
		{"limit=0", "limit \"0\""},
		{"limit=-3", "limit \"-3\""},
		{"limit=ten", "limit \"ten\""},
		{"limit=1001", "at most 1000"},
		{"cursor=not-ours", "cursor \"not-ours\""},
		{"cursor=not-ours&format=jsonl", "cursor \"not-ours\""},
		{"format=xml", "format \"xml\""},
		{"nhs_number=9434765919", "unknown parameter \"nhs_number\""},
		{"urn=R-1&urn=R-2", "\"urn\" given 2 times"},
	} {
		w := serve(h, http.MethodGet, tc.query)
		if w.Code != http.StatusBadRequest {
			t.Errorf("?%s: status %d, want 400", tc.query, w.Code)
			continue
		}
		if !strings.Contains(w.Body.String(), tc.says) {
			t.Errorf("?%s: message %q does not say %q", tc.query, w.Body, tc.says)
		}
	}
}

func TestHandlerMethods(t *testing.T) {
	h := NewHandler(openLog(t, ""))
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		w := serve(h, m, "")
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: status %d, Allow %q", m, w.Code, w.Header().Get("Allow"))
		}
	}
}

func TestHandlerClosedLog(t *testing.T) {
	l := openLog(t, "")
	h := NewHandler(l)
	l.Close()
	for _, q := range []string{"", "format=jsonl"} {
		if w := serve(h, http.MethodGet, q); w.Code != http.StatusServiceUnavailable {
			t.Errorf("?%s on a closed log: status %d", q, w.Code)
		}
	}
}
