package notify

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultGovUKBaseURL is GOV.UK Notify's API.
const DefaultGovUKBaseURL = "https://api.notifications.service.gov.uk"

// GovUKConfig configures a GovUKClient.
type GovUKConfig struct {
	APIKey APIKey
	// SMSTemplateID is the Notify text message template Send uses. Notify
	// sends only templates, so Molar's texts travel as personalisation: the
	// template's content must be just the placeholder, "((body))".
	SMSTemplateID string
	// BodyPlaceholder names that placeholder; the default is "body".
	BodyPlaceholder string
	// SMSSenderID optionally picks one of the service's text senders.
	SMSSenderID string
	// BaseURL defaults to DefaultGovUKBaseURL.
	BaseURL string
	// Timeout bounds each request; the default is 10 seconds.
	Timeout time.Duration
	// HTTPClient defaults to a client with no timeout of its own (each
	// request gets Timeout through its context).
	HTTPClient *http.Client
	// UserAgent defaults to "molar-notify".
	UserAgent string
	Logger    *slog.Logger
	// Clock returns the time put in each token; the default is time.Now.
	Clock func() time.Time
}

// GovUKClient sends text messages through GOV.UK Notify's REST API and
// looks up their status. It implements Notifier and StatusChecker; it does
// not send voice messages, which Notify does not offer. It is safe for
// concurrent use.
type GovUKClient struct {
	key         APIKey
	templateID  string
	placeholder string
	senderID    string
	base        string
	timeout     time.Duration
	http        *http.Client
	userAgent   string
	log         *slog.Logger
	clock       func() time.Time
}

// NewGovUKClient checks cfg and returns a client.
func NewGovUKClient(cfg GovUKConfig) (*GovUKClient, error) {
	if cfg.APIKey.IsZero() {
		return nil, errors.New("new GOV.UK Notify client: no API key")
	}
	if !isUUID(cfg.SMSTemplateID) {
		return nil, errors.New("new GOV.UK Notify client: the SMS template ID is not a UUID")
	}
	c := &GovUKClient{
		key:         cfg.APIKey,
		templateID:  cfg.SMSTemplateID,
		placeholder: cmp.Or(cfg.BodyPlaceholder, "body"),
		senderID:    cfg.SMSSenderID,
		base:        strings.TrimSuffix(cmp.Or(cfg.BaseURL, DefaultGovUKBaseURL), "/"),
		timeout:     cfg.Timeout,
		http:        cfg.HTTPClient,
		userAgent:   cmp.Or(cfg.UserAgent, "molar-notify"),
		log:         cfg.Logger,
		clock:       cfg.Clock,
	}
	if u, err := url.Parse(c.base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("new GOV.UK Notify client: base URL %q is not an http(s) URL", c.base)
	}
	if c.timeout <= 0 {
		c.timeout = 10 * time.Second
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	return c, nil
}

// String describes the client without its secret.
func (c *GovUKClient) String() string {
	return "GOV.UK Notify client " + c.base + " key " + c.key.String()
}

// LogValue logs the client without its secret.
func (c *GovUKClient) LogValue() slog.Value {
	return slog.GroupValue(slog.String("base_url", c.base), slog.Any("api_key", c.key))
}

// SMSRequest is the body of POST /v2/notifications/sms.
type SMSRequest struct {
	PhoneNumber     string            `json:"phone_number"`
	TemplateID      string            `json:"template_id"`
	Personalisation map[string]string `json:"personalisation,omitempty"`
	Reference       string            `json:"reference,omitempty"`
	SMSSenderID     string            `json:"sms_sender_id,omitempty"`
}

// SMSResponse is Notify's 201 response to an SMSRequest.
type SMSResponse struct {
	ID        string `json:"id"`
	Reference string `json:"reference"`
	Content   struct {
		Body       string `json:"body"`
		FromNumber string `json:"from_number"`
	} `json:"content"`
	URI      string `json:"uri"`
	Template struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
		URI     string `json:"uri"`
	} `json:"template"`
}

// Notification is Notify's answer to GET /v2/notifications/{id}, the
// fields a text message has.
type Notification struct {
	ID          string
	Reference   string
	PhoneNumber string
	Type        string // "sms"
	Status      Status
	Body        string
	CreatedAt   time.Time
	SentAt      time.Time // zero until sent
	CompletedAt time.Time // zero until delivered or failed
}

// UnmarshalJSON reads Notify's JSON, whose timestamps may be null.
func (n *Notification) UnmarshalJSON(b []byte) error {
	var w struct {
		ID          string     `json:"id"`
		Reference   string     `json:"reference"`
		PhoneNumber string     `json:"phone_number"`
		Type        string     `json:"type"`
		Status      Status     `json:"status"`
		Body        string     `json:"body"`
		CreatedAt   notifyTime `json:"created_at"`
		SentAt      notifyTime `json:"sent_at"`
		CompletedAt notifyTime `json:"completed_at"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*n = Notification{
		ID: w.ID, Reference: w.Reference, PhoneNumber: w.PhoneNumber, Type: w.Type,
		Status: w.Status, Body: w.Body,
		CreatedAt: w.CreatedAt.Time, SentAt: w.SentAt.Time, CompletedAt: w.CompletedAt.Time,
	}
	return nil
}

// Send sends an SMS through the configured template, with m.Text as its
// body. Voice messages fail with ErrUnsupportedChannel: route them
// elsewhere with a Router.
func (c *GovUKClient) Send(ctx context.Context, m Message) (string, error) {
	if m.Channel != SMS {
		return "", fmt.Errorf("send %q message through GOV.UK Notify: %w (Notify sends text messages only)", m.Channel, ErrUnsupportedChannel)
	}
	m, err := m.normalized()
	if err != nil {
		return "", fmt.Errorf("send text message through GOV.UK Notify: %w", err)
	}
	resp, err := c.SendSMS(ctx, SMSRequest{
		PhoneNumber:     m.To,
		TemplateID:      c.templateID,
		Personalisation: map[string]string{c.placeholder: m.Text},
		Reference:       m.Reference,
		SMSSenderID:     c.senderID,
	})
	if err != nil {
		return "", err
	}
	return resp.ID, nil
}

// SendSMS posts req as it is to /v2/notifications/sms; Notify validates it.
// Errors from Notify are *APIError.
func (c *GovUKClient) SendSMS(ctx context.Context, req SMSRequest) (*SMSResponse, error) {
	var resp SMSResponse
	if err := c.do(ctx, http.MethodPost, "/v2/notifications/sms", req, http.StatusCreated, &resp); err != nil {
		return nil, fmt.Errorf("send text message through GOV.UK Notify: %w", err)
	}
	if resp.ID == "" {
		return nil, errors.New("send text message through GOV.UK Notify: response has no notification ID")
	}
	return &resp, nil
}

// Notification looks up one notification.
func (c *GovUKClient) Notification(ctx context.Context, id string) (*Notification, error) {
	if !isUUID(id) {
		return nil, fmt.Errorf("get GOV.UK Notify notification: ID %q is not a UUID: %w", id, ErrNotFound)
	}
	var n Notification
	if err := c.do(ctx, http.MethodGet, "/v2/notifications/"+id, nil, http.StatusOK, &n); err != nil {
		return nil, fmt.Errorf("get GOV.UK Notify notification %s: %w", id, err)
	}
	return &n, nil
}

// Status returns a notification's delivery status.
func (c *GovUKClient) Status(ctx context.Context, id string) (Status, error) {
	n, err := c.Notification(ctx, id)
	if err != nil {
		return "", err
	}
	if !n.Status.Known() {
		return "", fmt.Errorf("get GOV.UK Notify notification %s: unknown status %q", id, n.Status)
	}
	return n.Status, nil
}

// maxResponse bounds what is read of a response: Notify's are small.
const maxResponse = 1 << 20

func (c *GovUKClient) do(ctx context.Context, method, path string, in any, want int, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key.bearerToken(c.clock()))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return err // *url.Error: method, URL and cause; no headers
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("read response (HTTP %d): %w", resp.StatusCode, err)
	}
	c.log.Debug("notify: GOV.UK Notify request", "method", method, "path", path,
		"status", resp.StatusCode, "duration", time.Since(start))
	if resp.StatusCode != want {
		return newAPIError(resp, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode response (HTTP %d): %w", resp.StatusCode, err)
	}
	return nil
}

// Errors an *APIError matches with errors.Is, by HTTP status.
var (
	ErrBadRequest   = errors.New("notify: GOV.UK Notify refused the request")          // 400
	ErrAuth         = errors.New("notify: GOV.UK Notify refused the API key or token") // 401, 403
	ErrRateLimited  = errors.New("notify: GOV.UK Notify rate or daily limit reached")  // 429
	ErrProviderDown = errors.New("notify: GOV.UK Notify failed")                       // 5xx
)

// APIError is an error response from GOV.UK Notify:
// {"status_code": 403, "errors": [{"error": "AuthError", "message": "…"}]}.
type APIError struct {
	StatusCode int              `json:"status_code"`
	Errors     []APIErrorDetail `json:"errors"`
	// RetryAfter is the response's Retry-After, if it had one.
	RetryAfter time.Duration `json:"-"`
}

// APIErrorDetail is one entry of an APIError.
type APIErrorDetail struct {
	Error   string `json:"error"` // BadRequestError, ValidationError, AuthError, RateLimitError, …
	Message string `json:"message"`
}

func newAPIError(resp *http.Response, raw []byte) *APIError {
	e := &APIError{}
	if err := json.Unmarshal(raw, e); err != nil || len(e.Errors) == 0 {
		// Not Notify's JSON (a proxy's error page, say): keep the status only.
		e.Errors = nil
	}
	e.StatusCode = resp.StatusCode
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	if len(e.Errors) == 0 {
		b.WriteString(" " + http.StatusText(e.StatusCode))
	}
	for i, d := range e.Errors {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %s: %s", d.Error, d.Message)
	}
	return b.String()
}

// Is matches the ErrBadRequest, ErrAuth, ErrRateLimited, ErrNotFound and
// ErrProviderDown sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest
	case ErrAuth:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrProviderDown:
		return e.StatusCode >= 500
	}
	return false
}

// Retryable reports whether sending again later may succeed: on a server
// error, which Notify's documentation says to answer by resending, and on
// its per-minute RateLimitError. Its other 429, TooManyRequestsError, is the
// service's daily limit, which no retry within minutes can get round.
func (e *APIError) Retryable() bool {
	if e.StatusCode >= 500 {
		return true
	}
	if e.StatusCode != http.StatusTooManyRequests {
		return false
	}
	for _, d := range e.Errors {
		if d.Error == "TooManyRequestsError" {
			return false
		}
	}
	return true
}

// notifyTime reads Notify's timestamps ("2017-05-14T12:15:30.000000Z"),
// tolerating a missing zone (taken as UTC) and null.
type notifyTime struct{ time.Time }

func (t *notifyTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("timestamp %q is not RFC 3339", s)
}
