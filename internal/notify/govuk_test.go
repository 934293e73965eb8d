package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestGovUKSendAndStatus(t *testing.T) {
	f := newFakeNotify(t)
	c := newTestClient(t, f, nil)
	ctx := context.Background()

	id, err := c.Send(ctx, Message{To: "07700 900456", Channel: SMS, Text: "Your code is 123456", Reference: "login-42"})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if !isUUID(id) {
		t.Errorf("Send returned ID %q, want a UUID", id)
	}
	req := f.lastRequest()
	if req.method != http.MethodPost || req.path != "/v2/notifications/sms" {
		t.Errorf("request %s %s, want POST /v2/notifications/sms", req.method, req.path)
	}
	if req.userAgent != "molar-test" || req.contentType != "application/json" {
		t.Errorf("User-Agent %q, Content-Type %q", req.userAgent, req.contentType)
	}
	var body map[string]any
	if err := json.Unmarshal(req.body, &body); err != nil {
		t.Fatal(err)
	}
	wantBody := map[string]any{
		"phone_number":    "+447700900456",
		"template_id":     f.templateID,
		"personalisation": map[string]any{"body": "Your code is 123456"},
		"reference":       "login-42",
	}
	if got, want := mustJSON(t, body), mustJSON(t, wantBody); got != want {
		t.Errorf("request body\n got %s\nwant %s", got, want)
	}

	if s, err := c.Status(ctx, id); err != nil || s != StatusCreated {
		t.Errorf("Status before delivery = %q, %v; want created", s, err)
	}
	if n := f.settle(); n != 1 {
		t.Fatalf("settled %d notifications, want 1", n)
	}
	n, err := c.Notification(ctx, id)
	if err != nil {
		t.Fatalf("Notification: %v", err)
	}
	if n.Status != StatusDelivered || n.Reference != "login-42" || n.Body != "Your code is 123456" ||
		n.Type != "sms" || n.CompletedAt.IsZero() || n.CreatedAt.IsZero() {
		t.Errorf("Notification = %+v", n)
	}
	if s, err := c.Status(ctx, id); err != nil || s != StatusDelivered {
		t.Errorf("Status = %q, %v; want delivered", s, err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGovUKSendSMSResponse(t *testing.T) {
	f := newFakeNotify(t)
	c := newTestClient(t, f, nil)
	resp, err := c.SendSMS(context.Background(), SMSRequest{
		PhoneNumber: "07700900456", TemplateID: f.templateID,
		Personalisation: map[string]string{"body": "hello"}, Reference: "r-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Reference != "r-1" || resp.Content.Body != "hello" || resp.Content.FromNumber != "MOLAR" ||
		resp.Template.ID != f.templateID || resp.Template.Version != 1 ||
		resp.URI != f.srv.URL+"/v2/notifications/"+resp.ID {
		t.Errorf("SMSResponse = %+v", resp)
	}
}

func TestGovUKSmokeTestNumbers(t *testing.T) {
	f := newFakeNotify(t)
	c := newTestClient(t, f, nil)
	for _, number := range smokeTestNumbers {
		id, err := c.Send(context.Background(), Message{To: number, Channel: SMS, Text: "smoke"})
		if err != nil || !isUUID(id) {
			t.Fatalf("Send to smoke number %s = %q, %v", number, id, err)
		}
		// Notify stores nothing for smoke tests: there is no status to get.
		if _, err := c.Status(context.Background(), id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Status of smoke test notification: %v, want ErrNotFound", err)
		}
	}
	if got := f.settle(); got != 0 {
		t.Errorf("settled %d smoke test notifications, want 0", got)
	}
}

func TestGovUKErrors(t *testing.T) {
	f := newFakeNotify(t)
	good := newTestClient(t, f, nil)
	wrongSecret := newTestClient(t, f, nil, func(c *GovUKConfig) { c.APIKey = mustParseKey(t, f.wrongSecretKey()) })
	wrongService := newTestClient(t, f, nil, func(c *GovUKConfig) {
		c.APIKey = mustParseKey(t, "molar_test-"+newID()+"-"+f.secret)
	})
	slowClock := newTestClient(t, f, nil, func(c *GovUKConfig) {
		c.Clock = func() time.Time { return time.Now().Add(-time.Minute) }
	})
	valid := SMSRequest{PhoneNumber: "07700900456", TemplateID: f.templateID, Personalisation: map[string]string{"body": "hi"}}
	with := func(mod func(*SMSRequest)) SMSRequest {
		r := valid
		mod(&r)
		return r
	}
	tests := []struct {
		name      string
		client    *GovUKClient
		req       SMSRequest
		fail      *fakeFailure
		status    int
		is        error
		text      string
		retryable bool
	}{
		{name: "wrong secret", client: wrongSecret, req: valid, status: 403, is: ErrAuth, text: "AuthError: Invalid token"},
		{name: "wrong service", client: wrongService, req: valid, status: 403, is: ErrAuth, text: "AuthError: Invalid token"},
		{name: "clock skew", client: slowClock, req: valid, status: 403, is: ErrAuth, text: "system clock must be accurate to within 30 seconds"},
		{name: "missing template", client: good, req: with(func(r *SMSRequest) { r.TemplateID = "" }), status: 400, is: ErrBadRequest, text: "ValidationError: template_id is a required property"},
		{name: "unknown template", client: good, req: with(func(r *SMSRequest) { r.TemplateID = newID() }), status: 400, is: ErrBadRequest, text: "BadRequestError: Template not found"},
		{name: "landline", client: good, req: with(func(r *SMSRequest) { r.PhoneNumber = "020 7946 0000" }), status: 400, is: ErrBadRequest, text: "phone_number Not a UK mobile number"},
		{name: "too many digits", client: good, req: with(func(r *SMSRequest) { r.PhoneNumber = "077009004567" }), status: 400, is: ErrBadRequest, text: "phone_number Too many digits"},
		{name: "no body", client: good, req: with(func(r *SMSRequest) { r.Personalisation = nil }), status: 400, is: ErrBadRequest, text: "Missing personalisation: body"},
		{name: "rate limit", client: good, req: valid, fail: &failRateLimit, status: 429, is: ErrRateLimited, text: "RateLimitError", retryable: true},
		{name: "daily limit", client: good, req: valid, fail: &failDailyLimit, status: 429, is: ErrRateLimited, text: "TooManyRequestsError"},
		{name: "server error", client: good, req: valid, fail: &failServer, status: 500, is: ErrProviderDown, text: "Exception: Internal server error", retryable: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fail != nil {
				f.failNextSends(*tc.fail)
			}
			_, err := tc.client.SendSMS(context.Background(), tc.req)
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("SendSMS error = %v, want an *APIError", err)
			}
			if apiErr.StatusCode != tc.status || !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error = %q (HTTP %d), want HTTP %d matching %v and containing %q", err, apiErr.StatusCode, tc.status, tc.is, tc.text)
			}
			if apiErr.Retryable() != tc.retryable || retryableError(err) != tc.retryable {
				t.Errorf("retryable = %v, want %v", apiErr.Retryable(), tc.retryable)
			}
			if strings.Contains(err.Error(), f.secret) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

func TestGovUKRejectsBeforeSending(t *testing.T) {
	f := newFakeNotify(t)
	c := newTestClient(t, f, nil)
	tests := []struct {
		name string
		m    Message
		want error
	}{
		{"voice", Message{To: "07700900456", Channel: Voice, Text: "hi"}, ErrUnsupportedChannel},
		{"landline", Message{To: "020 7946 0000", Channel: SMS, Text: "hi"}, ErrNotMobile},
		{"invalid number", Message{To: "12345", Channel: SMS, Text: "hi"}, ErrInvalidPhone},
		{"empty text", Message{To: "07700900456", Channel: SMS}, ErrInvalidMessage},
	}
	for _, tc := range tests {
		if _, err := c.Send(context.Background(), tc.m); !errors.Is(err, tc.want) {
			t.Errorf("%s: Send error = %v, want %v", tc.name, err, tc.want)
		}
	}
	if n := f.requestCount(); n != 0 {
		t.Errorf("%d requests reached Notify, want 0", n)
	}
	if _, err := c.Status(context.Background(), "not-a-uuid"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Status(not-a-uuid) = %v, want ErrNotFound", err)
	}
}

func TestGovUKTimeoutAndCancel(t *testing.T) {
	released := make(chan struct{})
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices a closed connection only after the body
		select {
		case <-r.Context().Done():
		case <-released:
		}
	}))
	defer stall.Close()
	defer close(released)
	f := newFakeNotify(t)
	c := newTestClient(t, f, nil, func(c *GovUKConfig) {
		c.BaseURL = stall.URL
		c.Timeout = 50 * time.Millisecond
	})
	m := Message{To: "07700900456", Channel: SMS, Text: "hi"}

	start := time.Now()
	_, err := c.Send(context.Background(), m)
	if !errors.Is(err, context.DeadlineExceeded) || !retryableError(err) {
		t.Errorf("Send to a stalled server = %v, want a retryable deadline error", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Send took %v despite a 50ms timeout", elapsed)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Send(ctx, m); !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestNewGovUKClientChecksConfig(t *testing.T) {
	key := mustParseKey(t, docKey)
	tests := []struct {
		name string
		cfg  GovUKConfig
	}{
		{"no key", GovUKConfig{SMSTemplateID: docServiceID}},
		{"no template", GovUKConfig{APIKey: key}},
		{"bad template", GovUKConfig{APIKey: key, SMSTemplateID: "welcome"}},
		{"bad base URL", GovUKConfig{APIKey: key, SMSTemplateID: docServiceID, BaseURL: "ftp://example"}},
	}
	for _, tc := range tests {
		if _, err := NewGovUKClient(tc.cfg); err == nil {
			t.Errorf("%s: NewGovUKClient succeeded, want an error", tc.name)
		}
	}
	c, err := NewGovUKClient(GovUKConfig{APIKey: key, SMSTemplateID: docServiceID})
	if err != nil {
		t.Fatal(err)
	}
	if c.base != DefaultGovUKBaseURL || c.timeout != 10*time.Second || c.placeholder != "body" {
		t.Errorf("defaults: base %q, timeout %v, placeholder %q", c.base, c.timeout, c.placeholder)
	}
}

func TestRouter(t *testing.T) {
	f := newFakeNotify(t)
	c := newTestClient(t, f, nil)
	outbox, err := OpenOutbox(t.TempDir()+"/outbox.jsonl", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer outbox.Close()
	r := &Router{SMS: c, Voice: outbox}
	ctx := context.Background()

	voiceID, err := r.Send(ctx, Message{To: "020 7946 0000", Channel: Voice, Text: "spoken"})
	if err != nil {
		t.Fatalf("voice: %v", err)
	}
	if got, ok := outbox.Latest("020 7946 0000"); !ok || got.ID != voiceID || got.Channel != Voice {
		t.Errorf("outbox latest = %+v, %v; want the voice message", got, ok)
	}
	if _, err := r.Send(ctx, Message{To: "07700900456", Channel: SMS, Text: "texted"}); err != nil {
		t.Fatalf("sms: %v", err)
	}
	if f.acceptedSends() != 1 || len(outbox.Recent(10)) != 1 {
		t.Errorf("Notify got %d sends and the outbox %d messages, want 1 and 1", f.acceptedSends(), len(outbox.Recent(10)))
	}
	if _, err := (&Router{SMS: c}).Send(ctx, Message{To: "07700900456", Channel: Voice, Text: "x"}); !errors.Is(err, ErrUnsupportedChannel) {
		t.Errorf("voice with no voice route: %v, want ErrUnsupportedChannel", err)
	}
}
