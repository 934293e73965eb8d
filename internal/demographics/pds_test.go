package demographics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const basePath = "/personal-demographics/FHIR/R4"

// fakePDS answers like PDS, from the fixtures in testdata/pds, and records
// the requests it gets.
type fakePDS struct {
	t        *testing.T
	mu       sync.Mutex
	requests []*http.Request
}

type fixture struct {
	file   string
	status int
	header map[string]string
}

var reads = map[string]fixture{
	"9992345675": {file: "patient.json", status: 200},
	"9994691341": {file: "patient_superseded.json", status: 200},
	"9999382681": {file: "patient_restricted.json", status: 200},
	"9994074024": {file: "patient_minimal.json", status: 200},
	"9998765366": {file: "outcome_not_found.json", status: 404},
	"9991111034": {file: "outcome_invalid_resource_id.json", status: 400},
	"9993456705": {file: "outcome_too_many_requests.json", status: 429},
	"9998148049": {file: "outcome_service_unavailable.json", status: 503, header: map[string]string{"Retry-After": "5"}},
}

var searches = map[string]fixture{
	"featherstone": {file: "search_unique.json", status: 200},
	"ashworth":     {file: "search_two.json", status: 200},
	"nobody":       {file: "search_none.json", status: 200},
	"smith":        {file: "outcome_too_many_matches.json", status: 200},
	"invalid":      {file: "outcome_invalid_search.json", status: 400},
}

const (
	blockingNumber = "9996913406" // never answers
	brokenNumber   = "9995802376" // a proxy's 500 page
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func (f *fakePDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Clone(context.Background()))
	f.mu.Unlock()

	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		serveOutcome(w, 401, "ACCESS_DENIED", "Missing Authorization header")
		return
	}
	if !uuidPattern.MatchString(r.Header.Get("X-Request-ID")) {
		serveOutcome(w, 400, "INVALID_VALUE", "Invalid value - '"+r.Header.Get("X-Request-ID")+"' in header 'X-Request-ID'")
		return
	}
	if r.Method != http.MethodGet {
		serveOutcome(w, 405, "UNSUPPORTED_SERVICE", "method")
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, basePath+"/Patient")
	if !ok {
		serveOutcome(w, 404, "UNSUPPORTED_SERVICE", "no such path")
		return
	}
	var fx fixture
	switch {
	case path == "":
		q := r.URL.Query()
		if q.Get("family") == "" || !strings.HasPrefix(q.Get("birthdate"), "eq") {
			serveOutcome(w, 400, "INVALID_SEARCH_DATA", "Too few search parameters")
			return
		}
		fx, ok = searches[strings.ToLower(q.Get("family"))]
		if !ok {
			fx = searches["nobody"]
		}
	case path == "/"+blockingNumber:
		<-r.Context().Done()
		return
	case path == "/"+brokenNumber:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(500)
		fmt.Fprint(w, "<html><body>Internal Server Error</body></html>")
		return
	default:
		fx, ok = reads[strings.TrimPrefix(path, "/")]
		if !ok {
			serveOutcome(w, 404, "RESOURCE_NOT_FOUND", "")
			return
		}
	}
	body, err := os.ReadFile(filepath.Join("testdata", "pds", fx.file))
	if err != nil {
		f.t.Errorf("fixture: %v", err)
		w.WriteHeader(500)
		return
	}
	for k, v := range fx.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.Header().Set("X-Request-ID", r.Header.Get("X-Request-ID"))
	w.Header().Set("X-Correlation-ID", r.Header.Get("X-Correlation-ID"))
	w.WriteHeader(fx.status)
	w.Write(body)
}

func serveOutcome(w http.ResponseWriter, status int, code, diagnostics string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"value","details":{"coding":[{"system":"https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode","version":"1","code":%q}]},"diagnostics":%q}]}`, code, diagnostics)
}

func (f *fakePDS) recorded() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.requests...)
}

// startPDS starts the fake on 127.0.0.1 and returns it with a client for it
// whose token function hands out "token-1", "token-2", ….
func startPDS(t *testing.T, cfg PDSConfig) (*fakePDS, *PDSClient, *httptest.Server) {
	t.Helper()
	fake := &fakePDS{t: t}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(fake)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL + basePath + "/"
	if cfg.Token == nil {
		var mu sync.Mutex
		n := 0
		cfg.Token = func(context.Context) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			n++
			return fmt.Sprintf("token-%d", n), nil
		}
	}
	c, err := NewPDSClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return time.Date(2026, 5, 11, 9, 0, 0, 0, time.UTC) }
	return fake, c, srv
}

func TestPDSLookup(t *testing.T) {
	fake, c, _ := startPDS(t, PDSConfig{})
	tests := []struct {
		name   string
		number string
		want   Person
	}{
		{"full record", "9992345675", Person{
			NHSNumber:  "9992345675",
			Family:     "Featherstone", // the usual name, not the old one or the nickname
			Given:      []string{"Marnie", "Elspeth"},
			BirthDate:  "1987-03-14",
			Gender:     "female",
			Postcode:   "LS5 3QX", // the current home address, not the old one or the temporary one
			Address:    []string{"14 Larkspur Row", "Kirkstall", "Leeds", "West Yorkshire"},
			Phone:      "07700900123", // the current mobile
			GPPractice: "Y12345",
		}},
		{"superseded", "999 469 1341", Person{
			NHSNumber:  "9997037014",
			Superseded: "9994691341",
			Family:     "Wrenfield",
			Given:      []string{"Tobias"},
			BirthDate:  "2001-02-03",
			Gender:     "male",
			Postcode:   "YO21 9QQ",
			Address:    []string{"Flat 2", "9 Gannet Court", "Whitby"},
			Phone:      "07700900456",
			GPPractice: "Y34567",
		}},
		{"restricted and deceased", "9999382681", Person{
			NHSNumber:  "9999382681",
			Family:     "Thistlewood",
			Given:      []string{"Rowena"},
			BirthDate:  "1975-11-30",
			Gender:     "female",
			Restricted: true,
			Deceased:   true,
		}},
		{"minimal", "9994074024", Person{
			NHSNumber: "9994074024",
			Family:    "Pennyworth",
			BirthDate: "1940-01-01",
			Gender:    "unknown",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Lookup(context.Background(), tt.number)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Lookup(%s):\n got %+v\nwant %+v", tt.number, got, tt.want)
			}
		})
	}
	reqs := fake.recorded()
	if len(reqs) != len(tests) {
		t.Fatalf("%d requests, want %d", len(reqs), len(tests))
	}
	if p := reqs[1].URL.Path; p != basePath+"/Patient/9994691341" {
		t.Errorf("path %q: want the normalised number under the base", p)
	}
}

func TestPDSLookupErrors(t *testing.T) {
	fake, c, _ := startPDS(t, PDSConfig{})
	tests := []struct {
		name       string
		number     string
		is         error
		status     int
		code       string
		retryable  bool
		retryAfter time.Duration
		noRequest  bool
	}{
		{name: "not found", number: "9998765366", is: ErrNotFound, status: 404, code: "RESOURCE_NOT_FOUND"},
		{name: "invalid resource id", number: "9991111034", is: ErrNotFound, status: 400, code: "INVALID_RESOURCE_ID"},
		{name: "malformed number", number: "999876536", is: ErrInvalidQuery, noRequest: true},
		{name: "check digit", number: "9998765367", is: ErrInvalidQuery, noRequest: true},
		{name: "rate limited", number: "9993456705", status: 429, code: "TOO_MANY_REQUESTS", retryable: true},
		{name: "unavailable", number: "9998148049", status: 503, code: "SERVICE_UNAVAILABLE", retryable: true, retryAfter: 5 * time.Second},
		{name: "proxy error page", number: brokenNumber, status: 500, retryable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(fake.recorded())
			p, err := c.Lookup(context.Background(), tt.number)
			if err == nil {
				t.Fatalf("Lookup(%s) = %+v; want an error", tt.number, p)
			}
			if sent := len(fake.recorded()) - before; (sent == 0) != tt.noRequest {
				t.Errorf("%d requests sent", sent)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not match %v", err, tt.is)
			}
			for _, s := range []error{ErrNotFound, ErrInvalidQuery, ErrTooManyMatches} {
				if s != tt.is && errors.Is(err, s) {
					t.Errorf("error %v also matches %v", err, s)
				}
			}
			var rerr *RetryableError
			if errors.As(err, &rerr) != tt.retryable {
				t.Fatalf("error %#v: retryable %v, want %v", err, !tt.retryable, tt.retryable)
			}
			if tt.retryable {
				if rerr.Status != tt.status || rerr.Code != tt.code || rerr.RetryAfter != tt.retryAfter || !uuidV4.MatchString(rerr.RequestID) {
					t.Errorf("RetryableError %+v", rerr)
				}
				return
			}
			var perr *PDSError
			if tt.status != 0 && (!errors.As(err, &perr) || perr.Status != tt.status || perr.Code != tt.code || perr.RequestID == "") {
				t.Errorf("error %#v: want a PDSError %d %s with the request ID", err, tt.status, tt.code)
			}
		})
	}
}

func TestPDSSearch(t *testing.T) {
	fake, c, _ := startPDS(t, PDSConfig{})
	ctx := context.Background()

	got, err := c.Search(ctx, Query{Family: "Featherstone", Given: "Marnie", BirthDate: "1987-03-14", Gender: "Female", Postcode: "LS5 3QX"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Person{{
		NHSNumber:  "9992345675",
		Family:     "Featherstone",
		Given:      []string{"Marnie", "Elspeth"},
		BirthDate:  "1987-03-14",
		Gender:     "female",
		Postcode:   "LS5 3QX",
		Address:    []string{"14 Larkspur Row", "Kirkstall", "Leeds", "West Yorkshire"},
		Phone:      "07700900123",
		GPPractice: "Y12345",
		Score:      1,
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("unique search:\n got %+v\nwant %+v", got, want)
	}
	r := fake.recorded()[0]
	if r.URL.Path != basePath+"/Patient" {
		t.Errorf("search path %q", r.URL.Path)
	}
	q := r.URL.Query()
	wantQuery := map[string]string{"family": "Featherstone", "given": "Marnie", "birthdate": "eq1987-03-14", "gender": "female", "address-postalcode": "LS5 3QX"}
	for k, v := range wantQuery {
		if q.Get(k) != v {
			t.Errorf("query %s = %q, want %q", k, q.Get(k), v)
		}
	}
	if len(q) != len(wantQuery) {
		t.Errorf("query %v: want only %v", q, wantQuery)
	}

	// Two matches, best first: the very restricted patient (no name, no
	// address) scores 1, the other 0.8343.
	got, err = c.Search(ctx, Query{Family: "Ashworth", BirthDate: "1962-07-19"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].NHSNumber != "9992839384" || got[0].Score != 1 || !got[0].Restricted || got[0].Family != "" ||
		got[1].NHSNumber != "9995185059" || got[1].Score != 0.8343 || got[1].Postcode != "LS21 9QQ" {
		t.Errorf("two matches: %+v", got)
	}

	errTests := []struct {
		name      string
		q         Query
		is        error
		msg       string
		noRequest bool
	}{
		{name: "none", q: Query{Family: "Nobody", BirthDate: "2000-01-01"}, is: ErrNotFound},
		{name: "too many", q: Query{Family: "Smith", BirthDate: "2000-01-01"}, is: ErrTooManyMatches},
		{name: "refused", q: Query{Family: "Invalid", BirthDate: "2000-01-01"}, is: ErrInvalidQuery, msg: "Too few search parameters"},
		{name: "no birth date", q: Query{Family: "Smith"}, is: ErrInvalidQuery, noRequest: true},
		{name: "no family", q: Query{BirthDate: "2000-01-01"}, is: ErrInvalidQuery, noRequest: true},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(fake.recorded())
			got, err := c.Search(ctx, tt.q)
			if !errors.Is(err, tt.is) || got != nil {
				t.Fatalf("Search = %+v, %v; want %v", got, err, tt.is)
			}
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not carry PDS's diagnostics %q", err, tt.msg)
			}
			if sent := len(fake.recorded()) - before; (sent == 0) != tt.noRequest {
				t.Errorf("%d requests sent", sent)
			}
		})
	}
}

func TestPDSSearchOptions(t *testing.T) {
	fake, c, _ := startPDS(t, PDSConfig{FuzzyMatch: true, MaxResults: 10})
	if _, err := c.Search(context.Background(), Query{Family: "Feather*", Given: "Mar*", BirthDate: "1987-03-14"}); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	r := fake.recorded()[0]
	q := r.URL.Query()
	if q.Get("_fuzzy-match") != "true" || q.Get("_max-results") != "10" || q.Get("family") != "Feather*" {
		t.Errorf("query %v", q)
	}
	// PDS asks for wildcards to be encoded.
	if !strings.Contains(r.URL.RawQuery, "family=Feather%2A") {
		t.Errorf("raw query %q: want the wildcard encoded as %%2A", r.URL.RawQuery)
	}
}

func TestPDSHeaders(t *testing.T) {
	fake, c, _ := startPDS(t, PDSConfig{RoleID: "555021935107"})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := c.Lookup(ctx, "9992345675"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Search(ctx, Query{Family: "Featherstone", BirthDate: "1987-03-14"}); err != nil {
		t.Fatal(err)
	}
	const corr = "11C46F5F-CDEF-4865-94B2-0EE0EDCC26DA"
	if _, err := c.Lookup(WithCorrelationID(ctx, corr), "9992345675"); err != nil {
		t.Fatal(err)
	}
	const reqID = "60e0b220-8136-4ca5-ae46-1d97ef59d068"
	if _, err := c.Lookup(WithRequestID(ctx, reqID), "9992345675"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lookup(WithRequestID(ctx, "not-a-uuid"), "9992345675"); err == nil {
		t.Error("a request ID that is not a UUID was sent")
	}

	reqs := fake.recorded()
	if len(reqs) != 6 {
		t.Fatalf("%d requests, want 6", len(reqs))
	}
	seen := map[string]bool{}
	for i, r := range reqs[:5] {
		id := r.Header.Get("X-Request-ID")
		if !uuidV4.MatchString(id) {
			t.Errorf("request %d: X-Request-ID %q is not a version 4 UUID", i, id)
		}
		if seen[id] {
			t.Errorf("request %d: X-Request-ID %q repeated", i, id)
		}
		seen[id] = true
		if got, want := r.Header.Get("Authorization"), fmt.Sprintf("Bearer token-%d", i+1); got != want {
			t.Errorf("request %d: Authorization %q, want %q (a token asked for per request)", i, got, want)
		}
		if got := r.Header.Get("Accept"); got != "application/fhir+json" {
			t.Errorf("request %d: Accept %q", i, got)
		}
		if got := r.Header.Get("NHSD-Session-URID"); got != "555021935107" {
			t.Errorf("request %d: NHSD-Session-URID %q", i, got)
		}
		wantCorr := id
		if i == 4 {
			wantCorr = corr
		}
		if got := r.Header.Get("X-Correlation-ID"); got != wantCorr {
			t.Errorf("request %d: X-Correlation-ID %q, want %q", i, got, wantCorr)
		}
	}
	if got := reqs[5].Header.Get("X-Request-ID"); got != reqID {
		t.Errorf("WithRequestID: X-Request-ID %q, want %q", got, reqID)
	}

	// Without a role, no NHSD-Session-URID.
	fake2, c2, _ := startPDS(t, PDSConfig{})
	c2.Lookup(ctx, "9992345675")
	if h := fake2.recorded()[0].Header; h.Get("NHSD-Session-URID") != "" || len(h.Values("NHSD-Session-URID")) != 0 {
		t.Errorf("NHSD-Session-URID sent without a role: %q", h.Get("NHSD-Session-URID"))
	}
}

func TestPDSToken(t *testing.T) {
	const secret = "s3cr3t-token-value"
	tokenErr := errors.New("identity service down")
	tests := []struct {
		name  string
		token func(context.Context) (string, error)
		is    error
	}{
		{"error", func(context.Context) (string, error) { return "", tokenErr }, tokenErr},
		{"empty", func(context.Context) (string, error) { return "", nil }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c, _ := startPDS(t, PDSConfig{Token: tt.token})
			_, err := c.Lookup(context.Background(), "9992345675")
			if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Fatalf("Lookup: %v", err)
			}
			if n := len(fake.recorded()); n != 0 {
				t.Errorf("%d requests sent without a token", n)
			}
		})
	}
	// The token never appears in errors.
	_, c, _ := startPDS(t, PDSConfig{Token: func(context.Context) (string, error) { return secret, nil }})
	for _, n := range []string{"9998765366", "9993456705", "9991111034"} {
		if _, err := c.Lookup(context.Background(), n); err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("Lookup(%s): %v", n, err)
		}
	}
}

func TestPDSContext(t *testing.T) {
	_, c, _ := startPDS(t, PDSConfig{})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Lookup(ctx, blockingNumber)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lookup past its deadline: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Lookup returned %v after its deadline", d)
	}
	var rerr *RetryableError
	if errors.As(err, &rerr) {
		t.Errorf("a deadline is not a retryable PDS failure: %v", err)
	}
	if strings.Contains(err.Error(), blockingNumber) {
		t.Errorf("error %q holds the NHS number", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := c.Lookup(ctx, blockingNumber); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lookup cancelled: %v", err)
	}
	if _, err := c.Search(ctx, Query{Family: "Featherstone", BirthDate: "1987-03-14"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Search with a cancelled context: %v", err)
	}
}

func TestPDSTransportError(t *testing.T) {
	_, c, srv := startPDS(t, PDSConfig{})
	srv.Close()
	_, err := c.Search(context.Background(), Query{Family: "Featherstone", Given: "Marnie", BirthDate: "1987-03-14"})
	var rerr *RetryableError
	if !errors.As(err, &rerr) || rerr.Status != 0 || rerr.Err == nil {
		t.Fatalf("server down: %#v; want a RetryableError without a status", err)
	}
	for _, leak := range []string{"Featherstone", "Marnie", "1987-03-14"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q holds the query (%s)", err, leak)
		}
	}
}

func TestPDSLogs(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, c, _ := startPDS(t, PDSConfig{Logger: logger, Token: func(context.Context) (string, error) { return "s3cr3t", nil }})
	ctx := context.Background()
	c.Lookup(ctx, "9992345675")
	c.Lookup(ctx, "9998765366")
	c.Search(ctx, Query{Family: "Featherstone", Given: "Marnie", BirthDate: "1987-03-14", Postcode: "LS5 3QX"})
	out := buf.String()
	if !strings.Contains(out, "status=200") || !strings.Contains(out, "request_id=") {
		t.Errorf("debug log lacks status or request ID:\n%s", out)
	}
	for _, leak := range []string{"s3cr3t", "9992345675", "999234", "9998765366", "Featherstone", "Marnie", "1987-03-14", "LS5", "Larkspur", "07700"} {
		if strings.Contains(out, leak) {
			t.Errorf("log holds %q:\n%s", leak, out)
		}
	}
	// Nothing at all above debug level.
	buf.Reset()
	_, c, _ = startPDS(t, PDSConfig{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	c.Lookup(ctx, "9992345675")
	c.Lookup(ctx, "9993456705")
	if buf.Len() != 0 {
		t.Errorf("logged at info level or above:\n%s", buf.String())
	}
}

func TestNewPDSClient(t *testing.T) {
	tok := func(context.Context) (string, error) { return "t", nil }
	tests := []struct {
		name string
		cfg  PDSConfig
		ok   bool
	}{
		{"ok", PDSConfig{BaseURL: "https://int.api.service.nhs.uk/personal-demographics/FHIR/R4", Token: tok}, true},
		{"no base", PDSConfig{Token: tok}, false},
		{"relative base", PDSConfig{BaseURL: "/FHIR/R4", Token: tok}, false},
		{"ftp", PDSConfig{BaseURL: "ftp://example.org/", Token: tok}, false},
		{"query in base", PDSConfig{BaseURL: "https://example.org/?x=1", Token: tok}, false},
		{"no token", PDSConfig{BaseURL: "https://example.org/"}, false},
		{"max results", PDSConfig{BaseURL: "https://example.org/", Token: tok, MaxResults: 51}, false},
		{"role ID", PDSConfig{BaseURL: "https://example.org/", Token: tok, RoleID: "R8000"}, false},
	}
	for _, tt := range tests {
		_, err := NewPDSClient(tt.cfg)
		if (err == nil) != tt.ok {
			t.Errorf("%s: NewPDSClient: %v", tt.name, err)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	if d := parseRetryAfter("5"); d != 5*time.Second {
		t.Errorf("5: %v", d)
	}
	if d := parseRetryAfter(""); d != 0 {
		t.Errorf("empty: %v", d)
	}
	if d := parseRetryAfter("soon"); d != 0 {
		t.Errorf("soon: %v", d)
	}
	if d := parseRetryAfter(time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)); d < 50*time.Second || d > 61*time.Second {
		t.Errorf("HTTP date a minute ahead: %v", d)
	}
}

func TestNewUUID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		u := newUUID()
		if !uuidV4.MatchString(u) || seen[u] {
			t.Fatalf("newUUID() = %q", u)
		}
		seen[u] = true
	}
}

// TestSources checks that both sources satisfy the interface a consuming
// package declares for itself.
func TestSources(t *testing.T) {
	type source interface {
		Lookup(ctx context.Context, nhsNumber string) (Person, error)
		Search(ctx context.Context, q Query) ([]Person, error)
	}
	_, c, _ := startPDS(t, PDSConfig{})
	tab := loadPeople(t)
	for name, s := range map[string]source{"table": tab, "pds": c} {
		p, err := s.Lookup(context.Background(), "999 234 5675")
		if err != nil || p.Family != "Featherstone" || p.Postcode != "LS5 3QX" {
			t.Errorf("%s: Lookup = %+v, %v", name, p, err)
		}
		ps, err := s.Search(context.Background(), Query{Family: "featherstone", Given: "Marnie", BirthDate: "1987-03-14", Postcode: "LS5 3QX"})
		if err != nil || len(ps) != 1 || ps[0].NHSNumber != "9992345675" {
			t.Errorf("%s: Search = %+v, %v", name, ps, err)
		}
		if _, err := s.Lookup(context.Background(), "9998765366"); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: Lookup of an unknown number: %v", name, err)
		}
	}
}
