package notify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Numbers GOV.UK Notify documents for testing (notifications-tech-docs,
// source/documentation/_api_keys.md "Test" and _testing.md "Smoke
// testing"; the same tables are on docs.notifications.service.gov.uk).
//
// With a test API key, 07700900003 ends in temporary-failure, 07700900002
// in permanent-failure, and any other valid number in delivered. The smoke
// test numbers are validated and answered with a fake notification ID, but
// nothing is stored, so their status cannot be looked up and no receipt
// comes.
const (
	testNumberTemporaryFailure = "07700900003"
	testNumberPermanentFailure = "07700900002"
	testNumberDelivered        = "07700900456" // "any other valid number"
)

var smokeTestNumbers = []string{"07700900000", "07700900111", "07700900222"}

// fakeNotify is a local server speaking GOV.UK Notify's documented REST API,
// as a service using a test API key sees it: POST /v2/notifications/sms and
// GET /v2/notifications/{id}, JWT checks, validation errors, the test and
// smoke numbers above, and delivery receipts POSTed to a callback URL.
//
// Notifications stay "created" until settle, which moves them to their
// final status and sends the receipts, so tests decide when delivery
// happens.
type fakeNotify struct {
	t          *testing.T
	srv        *httptest.Server
	serviceID  string
	secret     string
	templateID string

	mu            sync.Mutex
	notifications map[string]*fakeNotification
	failures      []fakeFailure       // answers for the next sends, before any validation
	outcomes      map[string][]Status // by national number: final statuses of the next sends
	callbackURL   string
	callbackToken string
	requests      []fakeRequest
	accepted      int   // sends answered 201, smoke tests included
	receiptCodes  []int // our callback handler's answers
}

type fakeNotification struct {
	id, reference, phone, body string
	status, final              Status
	createdAt, completedAt     time.Time
}

type fakeFailure struct {
	status    int
	errorType string
	message   string
}

var (
	failRateLimit  = fakeFailure{429, "RateLimitError", "Exceeded rate limit for key type TEST of 3000 requests per 60 seconds"}
	failDailyLimit = fakeFailure{429, "TooManyRequestsError", "Exceeded send limits (250000) for today"}
	failServer     = fakeFailure{500, "Exception", "Internal server error"}
)

type fakeRequest struct {
	method, path, userAgent, contentType string
	body                                 []byte
}

func newFakeNotify(t *testing.T) *fakeNotify {
	t.Helper()
	f := &fakeNotify{
		t:             t,
		serviceID:     newID(),
		secret:        newID(),
		templateID:    newID(),
		notifications: make(map[string]*fakeNotification),
		outcomes:      make(map[string][]Status),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/notifications/sms", f.handleSend)
	mux.HandleFunc("GET /v2/notifications/{id}", f.handleGet)
	f.srv = httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(f.srv.Close)
	return f
}

// apiKey is a key the fake accepts; wrongSecretKey one it refuses.
func (f *fakeNotify) apiKey() string { return "molar_test-" + f.serviceID + "-" + f.secret }

func (f *fakeNotify) wrongSecretKey() string { return "molar_test-" + f.serviceID + "-" + newID() }

func (f *fakeNotify) setCallback(url, token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.callbackURL, f.callbackToken = url, token
}

// failNextSends makes the next sends fail with these answers, in order.
func (f *fakeNotify) failNextSends(fs ...fakeFailure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, fs...)
}

// script sets the final statuses of the next sends to a national number,
// overriding the documented test numbers.
func (f *fakeNotify) script(national string, statuses ...Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.outcomes[national] = append(f.outcomes[national], statuses...)
}

func (f *fakeNotify) acceptedSends() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.accepted
}

func (f *fakeNotify) requestCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func (f *fakeNotify) lastRequest() fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		f.t.Fatal("fake Notify: no request received")
	}
	return f.requests[len(f.requests)-1]
}

func writeNotifyError(w http.ResponseWriter, status int, errorType, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"status_code": status,
		"errors":      []map[string]string{{"error": errorType, "message": message}},
	})
}

// authenticate checks the JWT as Notify documents it: HS256 with the
// secret of the service named by iss, and iat within 30 seconds of now.
func (f *fakeNotify) authenticate(w http.ResponseWriter, r *http.Request) bool {
	const invalid = "Invalid token: signature, API token not found"
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		writeNotifyError(w, http.StatusUnauthorized, "AuthError", "Unauthorized: authentication token must be provided")
		return false
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		writeNotifyError(w, http.StatusForbidden, "AuthError", "Invalid token: not a JWT")
		return false
	}
	var header struct{ Typ, Alg string }
	var claims struct {
		Iss string `json:"iss"`
		Iat *int64 `json:"iat"`
	}
	if !decodeJWTPart(parts[0], &header) || !decodeJWTPart(parts[1], &claims) ||
		header.Typ != "JWT" || header.Alg != "HS256" || claims.Iss != f.serviceID || claims.Iat == nil {
		writeNotifyError(w, http.StatusForbidden, "AuthError", invalid)
		return false
	}
	mac := hmac.New(sha256.New, []byte(f.secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		writeNotifyError(w, http.StatusForbidden, "AuthError", invalid)
		return false
	}
	if skew := time.Now().Unix() - *claims.Iat; skew > 30 || skew < -30 {
		writeNotifyError(w, http.StatusForbidden, "AuthError", "Error: Your system clock must be accurate to within 30 seconds")
		return false
	}
	return true
}

func decodeJWTPart(part string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(part)
	return err == nil && json.Unmarshal(b, v) == nil
}

func (f *fakeNotify) record(r *http.Request) []byte {
	var body bytes.Buffer
	body.ReadFrom(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, fakeRequest{
		method: r.Method, path: r.URL.Path, userAgent: r.UserAgent(),
		contentType: r.Header.Get("Content-Type"), body: body.Bytes(),
	})
	return body.Bytes()
}

// fakeUKMobile checks a number as Notify does for UK mobiles, returning it
// in national form or Notify's error message. It is written apart from
// NormalizeUKPhone so the two check each other.
func fakeUKMobile(s string) (string, string) {
	s = strings.NewReplacer(" ", "", "-", "", "(", "", ")", "").Replace(s)
	s = strings.TrimPrefix(s, "+")
	if strings.Trim(s, "0123456789") != "" {
		return "", "phone_number Must not contain letters or symbols"
	}
	switch {
	case strings.HasPrefix(s, "0044"):
		s = "0" + s[4:]
	case strings.HasPrefix(s, "44"):
		s = "0" + s[2:]
	}
	switch {
	case !strings.HasPrefix(s, "07"):
		return "", "phone_number Not a UK mobile number"
	case len(s) > 11:
		return "", "phone_number Too many digits"
	case len(s) < 11:
		return "", "phone_number Not enough digits"
	}
	return s, ""
}

func (f *fakeNotify) handleSend(w http.ResponseWriter, r *http.Request) {
	raw := f.record(r)
	if !f.authenticate(w, r) {
		return
	}
	f.mu.Lock()
	var fail *fakeFailure
	if len(f.failures) > 0 {
		fail = &f.failures[0]
		f.failures = f.failures[1:]
	}
	f.mu.Unlock()
	if fail != nil {
		writeNotifyError(w, fail.status, fail.errorType, fail.message)
		return
	}

	var req struct {
		PhoneNumber     *string        `json:"phone_number"`
		TemplateID      *string        `json:"template_id"`
		Personalisation map[string]any `json:"personalisation"`
		Reference       string         `json:"reference"`
		SMSSenderID     string         `json:"sms_sender_id"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeNotifyError(w, http.StatusBadRequest, "ValidationError", "Invalid JSON: "+err.Error())
		return
	}
	switch {
	case req.PhoneNumber == nil:
		writeNotifyError(w, http.StatusBadRequest, "ValidationError", "phone_number is a required property")
		return
	case req.TemplateID == nil || *req.TemplateID == "":
		writeNotifyError(w, http.StatusBadRequest, "ValidationError", "template_id is a required property")
		return
	case *req.TemplateID != f.templateID:
		writeNotifyError(w, http.StatusBadRequest, "BadRequestError", "Template not found")
		return
	}
	national, problem := fakeUKMobile(*req.PhoneNumber)
	if problem != "" {
		writeNotifyError(w, http.StatusBadRequest, "ValidationError", problem)
		return
	}
	body, ok := req.Personalisation["body"].(string)
	if !ok {
		writeNotifyError(w, http.StatusBadRequest, "BadRequestError", "Missing personalisation: body")
		return
	}

	id := newID()
	smoke := false
	for _, n := range smokeTestNumbers {
		smoke = smoke || n == national
	}
	f.mu.Lock()
	f.accepted++
	if !smoke {
		final := StatusDelivered
		switch national {
		case testNumberTemporaryFailure:
			final = StatusTemporaryFailure
		case testNumberPermanentFailure:
			final = StatusPermanentFailure
		}
		if q := f.outcomes[national]; len(q) > 0 {
			final, f.outcomes[national] = q[0], q[1:]
		}
		f.notifications[id] = &fakeNotification{
			id: id, reference: req.Reference, phone: *req.PhoneNumber, body: body,
			status: StatusCreated, final: final, createdAt: time.Now().UTC(),
		}
	}
	f.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{
		"id":        id,
		"reference": nullable(req.Reference),
		"content":   map[string]any{"body": body, "from_number": "MOLAR"},
		"uri":       f.srv.URL + "/v2/notifications/" + id,
		"template": map[string]any{
			"id": f.templateID, "version": 1,
			"uri": f.srv.URL + "/services/" + f.serviceID + "/templates/" + f.templateID,
		},
	})
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func notifyTimestamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

func (f *fakeNotify) handleGet(w http.ResponseWriter, r *http.Request) {
	f.record(r)
	if !f.authenticate(w, r) {
		return
	}
	id := r.PathValue("id")
	if !isUUID(id) {
		writeNotifyError(w, http.StatusBadRequest, "ValidationError", "id is not a valid UUID")
		return
	}
	f.mu.Lock()
	n, ok := f.notifications[id]
	var resp map[string]any
	if ok {
		resp = map[string]any{
			"id": n.id, "reference": nullable(n.reference), "phone_number": n.phone,
			"email_address": nil, "type": "sms", "status": n.status, "body": n.body, "subject": nil,
			"template":     map[string]any{"id": f.templateID, "version": 1, "uri": "/v2/template/" + f.templateID + "/1"},
			"created_at":   notifyTimestamp(n.createdAt),
			"sent_at":      notifyTimestamp(n.createdAt),
			"completed_at": notifyTimestamp(n.completedAt),
		}
	}
	f.mu.Unlock()
	if !ok {
		writeNotifyError(w, http.StatusNotFound, "NoResultFound", "No result found")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

// settle moves every notification still in progress to its final status
// and, if a callback is set, POSTs its receipt there, returning how many
// it settled.
func (f *fakeNotify) settle() int {
	f.t.Helper()
	f.mu.Lock()
	var receipts []map[string]any
	now := time.Now().UTC()
	for _, n := range f.notifications {
		if n.status.Final() {
			continue
		}
		n.status, n.completedAt = n.final, now
		receipts = append(receipts, map[string]any{
			"id": n.id, "reference": nullable(n.reference), "to": n.phone, "status": n.status,
			"created_at": notifyTimestamp(n.createdAt), "completed_at": notifyTimestamp(now),
			"sent_at": notifyTimestamp(n.createdAt), "notification_type": "sms",
			"template_id": f.templateID, "template_version": 1,
		})
	}
	url, token := f.callbackURL, f.callbackToken
	f.mu.Unlock()
	if url != "" {
		for _, rc := range receipts {
			code := postReceipt(f.t, url, "Bearer "+token, rc)
			f.mu.Lock()
			f.receiptCodes = append(f.receiptCodes, code)
			f.mu.Unlock()
			if code != http.StatusNoContent {
				f.t.Errorf("fake Notify: callback answered %d, want 204", code)
			}
		}
	}
	return len(receipts)
}

// postReceipt POSTs a receipt (any JSON value, or raw bytes) to url with
// the given Authorization header and returns the status code.
func postReceipt(t *testing.T, url, authorization string, body any) int {
	t.Helper()
	b, ok := body.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post receipt: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
