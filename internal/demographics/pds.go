package demographics

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/molar-pacs/molar/internal/nhsnumber"
)

// PDSConfig configures a PDSClient.
type PDSConfig struct {
	// BaseURL is the FHIR R4 root of the API, for example
	// https://int.api.service.nhs.uk/personal-demographics/FHIR/R4
	// (integration) or https://api.service.nhs.uk/personal-demographics/FHIR/R4
	// (production). Required.
	BaseURL string
	// Token returns the OAuth 2.0 access token to send; it is called for
	// every request, so it should cache and refresh the token itself.
	// Required.
	Token func(ctx context.Context) (string, error)
	// RoleID, when set, is sent as NHSD-Session-URID: the user's role
	// profile ID, which healthcare-worker (user-restricted) access requires.
	RoleID string
	// FuzzyMatch asks PDS for a fuzzy search (homophones, transposed names,
	// history). PDS then also requires the given name, or gender and
	// postcode, and refuses wildcards; it advises a non-fuzzy search first.
	FuzzyMatch bool
	// MaxResults, 1 to 50, is sent as _max-results; 0 leaves PDS's default.
	// Application-restricted access allows only 1.
	MaxResults int
	// HTTPClient is the client to use; nil means one with a 30-second
	// timeout. Deadlines and cancellation come from each call's context.
	HTTPClient *http.Client
	// Logger receives debug-level records of requests (never tokens or
	// patient data); nil means none.
	Logger *slog.Logger
}

// PDSClient looks patients up in the Personal Demographics Service FHIR
// API. It is safe for concurrent use.
type PDSClient struct {
	base       string // without a trailing slash
	token      func(context.Context) (string, error)
	roleID     string
	fuzzy      bool
	maxResults int
	http       *http.Client
	log        *slog.Logger
	now        func() time.Time
}

// NewPDSClient returns a client for the PDS FHIR API described by cfg.
func NewPDSClient(cfg PDSConfig) (*PDSClient, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("demographics: new PDS client: base URL %q is not an http(s) URL without a query", cfg.BaseURL)
	}
	if cfg.Token == nil {
		return nil, errors.New("demographics: new PDS client: no token function")
	}
	if cfg.MaxResults < 0 || cfg.MaxResults > 50 {
		return nil, fmt.Errorf("demographics: new PDS client: MaxResults %d is not between 1 and 50", cfg.MaxResults)
	}
	if cfg.RoleID != "" && strings.Trim(cfg.RoleID, "0123456789") != "" {
		return nil, errors.New("demographics: new PDS client: the role ID (NHSD-Session-URID) is not a number")
	}
	c := &PDSClient{
		base:       strings.TrimRight(cfg.BaseURL, "/"),
		token:      cfg.Token,
		roleID:     cfg.RoleID,
		fuzzy:      cfg.FuzzyMatch,
		maxResults: cfg.MaxResults,
		http:       cfg.HTTPClient,
		log:        cfg.Logger,
		now:        time.Now,
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

type ctxKey int

const (
	requestIDKey ctxKey = iota
	correlationIDKey
)

// WithRequestID returns a context whose PDS request is sent with this
// X-Request-ID (a UUID) instead of a new one. PDS uses it to recognise a
// re-sent request: retry a request that failed with a *RetryableError
// under the RequestID that error reports.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// WithCorrelationID returns a context whose PDS requests carry this
// X-Correlation-ID, to follow one piece of work across systems. Without
// it, each request's X-Request-ID is sent.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationIDKey, id)
}

// Lookup returns the patient with an NHS number ("retrieve patient"). When
// PDS answers with the record that superseded the number, the Person has
// the new number and Superseded holds the one asked for.
func (c *PDSClient) Lookup(ctx context.Context, nhsNumber string) (Person, error) {
	n, err := nhsnumber.Normalize(nhsNumber)
	if err != nil {
		return Person{}, fmt.Errorf("%w: %w", ErrInvalidQuery, err)
	}
	body, err := c.get(ctx, "read", "/Patient/"+n, nil)
	if err != nil {
		return Person{}, err
	}
	var fp fhirPatient
	if err := json.Unmarshal(body, &fp); err != nil || fp.ResourceType != "Patient" {
		return Person{}, fmt.Errorf("demographics: PDS read: the response is not a FHIR Patient (%s)", describe(body, err))
	}
	p := fp.person(c.today())
	if p.NHSNumber != n {
		p.Superseded = n
	}
	return p, nil
}

// Search runs a patient search ("search patient"): family name and birth
// date (exact), and given name, gender and postcode when set. Results come
// best match first, each with its PDS score.
func (c *PDSClient) Search(ctx context.Context, q Query) ([]Person, error) {
	q, err := q.validate()
	if err != nil {
		return nil, err
	}
	v := url.Values{}
	v.Set("family", q.Family)
	if q.Given != "" {
		v.Set("given", q.Given)
	}
	v.Set("birthdate", "eq"+q.BirthDate)
	if q.Gender != "" {
		v.Set("gender", q.Gender)
	}
	if q.Postcode != "" {
		v.Set("address-postalcode", q.Postcode)
	}
	if c.fuzzy {
		v.Set("_fuzzy-match", "true")
	}
	if c.maxResults > 0 {
		v.Set("_max-results", strconv.Itoa(c.maxResults))
	}
	body, err := c.get(ctx, "search", "/Patient", v)
	if err != nil {
		return nil, err
	}
	var res fhirResource
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, fmt.Errorf("demographics: PDS search: the response is not FHIR JSON (%s)", describe(body, err))
	}
	switch res.ResourceType {
	case "Bundle":
	case "OperationOutcome":
		// PDS answers TOO_MANY_MATCHES with HTTP 200 and an
		// OperationOutcome, not a Bundle.
		return nil, outcomeError(http.StatusOK, body, "", "")
	default:
		return nil, fmt.Errorf("demographics: PDS search: the response is a %q, not a Bundle", res.ResourceType)
	}
	var b fhirBundle
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("demographics: PDS search: the response is not a FHIR Bundle (%s)", describe(body, err))
	}
	today := c.today()
	var out []Person
	for _, e := range b.Entry {
		var r fhirResource
		if err := json.Unmarshal(e.Resource, &r); err != nil {
			return nil, fmt.Errorf("demographics: PDS search: bundle entry: %w", err)
		}
		switch r.ResourceType {
		case "Patient":
			var fp fhirPatient
			if err := json.Unmarshal(e.Resource, &fp); err != nil {
				return nil, fmt.Errorf("demographics: PDS search: bundle entry: %w", err)
			}
			p := fp.person(today)
			p.Score = 1
			if e.Search.Score != nil {
				p.Score = *e.Search.Score
			}
			out = append(out, p)
		case "OperationOutcome":
			var o fhirOutcome
			if json.Unmarshal(e.Resource, &o) == nil && o.tooManyMatches() {
				return nil, ErrTooManyMatches
			}
		}
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	slices.SortStableFunc(out, func(a, b Person) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	return out, nil
}

func (c *PDSClient) today() string { return c.now().Format(time.DateOnly) }

// maxResponse bounds a response body: a Bundle of 50 patients is far
// smaller.
const maxResponse = 4 << 20

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// get sends one GET and returns the body of a 200 response, or the error
// the response or its failure maps to. op names the interaction in errors
// and logs, which never contain the path or query: they hold patient data.
func (c *PDSClient) get(ctx context.Context, op, path string, query url.Values) ([]byte, error) {
	if err := ctxErr(ctx, "PDS "+op); err != nil {
		return nil, err
	}
	requestID, _ := ctx.Value(requestIDKey).(string)
	if requestID == "" {
		requestID = newUUID()
	} else if !uuidPattern.MatchString(requestID) {
		return nil, fmt.Errorf("demographics: PDS %s: the request ID is not a UUID", op)
	}
	correlationID, _ := ctx.Value(correlationIDKey).(string)
	if correlationID == "" {
		correlationID = requestID
	}
	token, err := c.token(ctx)
	if err != nil {
		return nil, fmt.Errorf("demographics: PDS %s: access token: %w", op, err)
	}
	if token == "" {
		return nil, fmt.Errorf("demographics: PDS %s: access token: the token function returned none", op)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("demographics: PDS %s: cannot make the request", op) // err holds the URL
	}
	req.Header.Set("Accept", "application/fhir+json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Request-ID", requestID)
	req.Header.Set("X-Correlation-ID", correlationID)
	if c.roleID != "" {
		req.Header.Set("NHSD-Session-URID", c.roleID)
	}

	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.log.Debug("demographics: PDS request failed", "op", op, "request_id", requestID, "duration", time.Since(start))
		return nil, transportError(ctx, op, requestID, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, transportError(ctx, op, requestID, err)
	}
	c.log.Debug("demographics: PDS request", "op", op, "status", resp.StatusCode,
		"request_id", requestID, "duration", time.Since(start))
	if len(body) > maxResponse {
		return nil, fmt.Errorf("demographics: PDS %s: response larger than %d bytes (request ID %s)", op, maxResponse, requestID)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, outcomeError(resp.StatusCode, body, resp.Header.Get("Retry-After"), requestID)
	}
	return body, nil
}

// transportError maps a failed exchange: the context's error when it is
// done, else a RetryableError. The *url.Error is unwrapped, because its text
// holds the URL and so the NHS number or the query.
func transportError(ctx context.Context, op, requestID string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("demographics: PDS %s: %w", op, cerr)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return &RetryableError{RequestID: requestID, Err: err}
}

// describe says briefly what a body that failed to decode was, without
// quoting it.
func describe(body []byte, err error) string {
	if err != nil {
		return fmt.Sprintf("%d bytes: %v", len(body), err)
	}
	return fmt.Sprintf("%d bytes", len(body))
}

// PDSError is an error answer from PDS that a retry will not cure. It
// matches ErrNotFound, ErrInvalidQuery or ErrTooManyMatches with errors.Is
// when it is one of those; others (401 and 403 ACCESS_DENIED, for
// instance) are configuration or permission problems.
type PDSError struct {
	Status      int    // HTTP status
	Code        string // Spine error code: RESOURCE_NOT_FOUND, INVALID_SEARCH_DATA, …
	Diagnostics string // PDS's explanation; it may quote the query
	RequestID   string // X-Request-ID, for PDS's helpdesk
	kind        error
}

func (e *PDSError) Error() string {
	var b strings.Builder
	b.WriteString("demographics: PDS: ")
	if e.kind != nil {
		b.WriteString(strings.TrimPrefix(e.kind.Error(), "demographics: "))
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Diagnostics != "" {
		b.WriteString(": " + e.Diagnostics)
	}
	if e.RequestID != "" {
		b.WriteString(" (request ID " + e.RequestID + ")")
	}
	return b.String()
}

// Unwrap returns the sentinel the error matches, if any.
func (e *PDSError) Unwrap() error { return e.kind }

// RetryableError is a PDS failure that the same request may get past later:
// HTTP 408 (PDS's downstream timeout), 429 (rate limit) or 5xx, or no
// answer at all (Status 0, Err says why). Re-send under RequestID
// (WithRequestID), after RetryAfter when PDS gave one.
type RetryableError struct {
	Status      int
	Code        string
	Diagnostics string
	RequestID   string
	RetryAfter  time.Duration
	Err         error // the transport error, when Status is 0
}

func (e *RetryableError) Error() string {
	var b strings.Builder
	b.WriteString("demographics: PDS unavailable, try again later: ")
	if e.Status == 0 {
		fmt.Fprintf(&b, "no response: %v", e.Err)
	} else {
		fmt.Fprintf(&b, "HTTP %d", e.Status)
		if e.Code != "" {
			b.WriteString(" " + e.Code)
		}
		if e.Diagnostics != "" {
			b.WriteString(": " + e.Diagnostics)
		}
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %v)", e.RetryAfter)
	}
	if e.RequestID != "" {
		b.WriteString(" (request ID " + e.RequestID + ")")
	}
	return b.String()
}

// Unwrap returns the transport error, if any.
func (e *RetryableError) Unwrap() error { return e.Err }

// outcomeError maps an answer other than a usable 200 to an error, from its
// status and its OperationOutcome (when it has one: a proxy's error page
// leaves only the status).
func outcomeError(status int, body []byte, retryAfter, requestID string) error {
	var o fhirOutcome
	if json.Unmarshal(body, &o) != nil || o.ResourceType != "OperationOutcome" {
		o = fhirOutcome{}
	}
	spine, issue, diag := o.summary()
	if o.tooManyMatches() {
		return &PDSError{Status: status, Code: spine, Diagnostics: diag, RequestID: requestID, kind: ErrTooManyMatches}
	}
	if status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500 {
		if spine == "" {
			spine = issue
		}
		return &RetryableError{Status: status, Code: spine, Diagnostics: diag, RequestID: requestID, RetryAfter: parseRetryAfter(retryAfter)}
	}
	e := &PDSError{Status: status, Code: spine, Diagnostics: diag, RequestID: requestID}
	switch {
	case status == http.StatusNotFound:
		// RESOURCE_NOT_FOUND; INVALIDATED_RESOURCE (a record marked invalid
		// and not superseded).
		e.kind = ErrNotFound
	case spine == "INVALID_RESOURCE_ID":
		// HTTP 400: PDS does not accept the number. It passed our Modulus 11
		// check, so for a trace it is a number no patient has.
		e.kind = ErrNotFound
	case status == http.StatusBadRequest:
		e.kind = ErrInvalidQuery
	}
	if e.Code == "" {
		e.Code = issue
	}
	return e
}

// parseRetryAfter reads a Retry-After header: seconds (what PDS sends) or an
// HTTP date.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
