package demographics

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// SignedJWTConfig configures a SignedJWTTokenSource: an application's
// credentials for NHS England's API platform, which grants
// application-restricted access (PDS included) to a client that proves
// itself with a JWT signed by its private key ("signed JWT authentication",
// OAuth 2.0 client credentials with a private key JWT).
type SignedJWTConfig struct {
	// TokenURL is the platform's OAuth 2.0 token endpoint, for example
	// https://int.api.service.nhs.uk/oauth2/token (integration) or
	// https://api.service.nhs.uk/oauth2/token (production). The JWT's
	// audience is this URL as written, and the platform compares it
	// exactly. Plain http is accepted only for a loopback address. Required.
	TokenURL string
	// APIKey is the application's API key from the developer portal (its
	// OAuth client ID): the JWT's issuer and subject. Required.
	APIKey string
	// KeyID is the kid under which the application's public key is
	// registered (in its JWKS), so that the platform knows which key to
	// check the signature with. Required.
	KeyID string
	// PrivateKey signs the JWT (RS512); LoadRSAPrivateKey reads one from a
	// PEM file. At least 2048 bits; the platform asks for 4096. Required.
	PrivateKey *rsa.PrivateKey
	// HTTPClient is the client to use; nil means one with a 30-second
	// timeout that does not follow redirects. Deadlines and cancellation
	// come from each call's context.
	HTTPClient *http.Client
	// Now is the clock for the JWT's expiry and the token's; nil means
	// time.Now.
	Now func() time.Time
	// Logger receives a debug-level record of each token request and a
	// warning when a refresh fails while the current token is still
	// usable; never the assertion, the key or the token. Nil means none.
	Logger *slog.Logger
}

// SignedJWTTokenSource gets access tokens from the API platform with the
// signed JWT flow, and keeps the current one until shortly before it
// expires. Its Token method is what PDSConfig.Token wants. It is safe for
// concurrent use.
type SignedJWTTokenSource struct {
	tokenURL string
	apiKey   string
	keyID    string
	key      *rsa.PrivateKey
	http     *http.Client
	now      func() time.Time
	log      *slog.Logger

	// sem, a one-slot semaphore rather than a sync.Mutex, guards the fields
	// below: callers queued behind a slow token request must still be able
	// to give up when their own context ends.
	sem       chan struct{}
	token     string
	expiry    time.Time // when the platform stops accepting token
	refreshAt time.Time // when to ask for the next one
}

const (
	jwtBearerType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// assertionLifetime stays under the platform's five-minute maximum so
	// that a clock a little ahead of the platform's is not refused.
	assertionLifetime = 4 * time.Minute
	// refreshMargin renews a token this long before it expires, so that a
	// request sent with it does not arrive after it has lapsed, and so that
	// a failed renewal still leaves a usable token.
	refreshMargin = 60 * time.Second
	// maxTokenResponse bounds the token endpoint's answer, a few hundred
	// bytes when all is well.
	maxTokenResponse = 64 << 10
	minRSABits       = 2048
)

// NewSignedJWTTokenSource checks cfg and returns a token source for it. It
// sends nothing: the first token is requested by the first Token call.
func NewSignedJWTTokenSource(cfg SignedJWTConfig) (*SignedJWTTokenSource, error) {
	const op = "demographics: new signed JWT token source: "
	u, err := url.Parse(cfg.TokenURL)
	if err != nil || u.Host == "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf(op+"token URL %q is not an absolute http(s) URL", cfg.TokenURL)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		// A local stand-in for the platform: tests, a development proxy.
	default:
		return nil, fmt.Errorf(op+"token URL %q is not https (plain http only for a loopback address)", cfg.TokenURL)
	}
	if strings.TrimSpace(cfg.APIKey) == "" {
		return nil, errors.New(op + "no API key")
	}
	if strings.TrimSpace(cfg.KeyID) == "" {
		return nil, errors.New(op + "no key ID (kid)")
	}
	if cfg.PrivateKey == nil {
		return nil, errors.New(op + "no private key")
	}
	if bits := cfg.PrivateKey.N.BitLen(); bits < minRSABits {
		return nil, fmt.Errorf(op+"the RSA key has %d bits, fewer than %d (the platform asks for 4096)", bits, minRSABits)
	}
	if err := cfg.PrivateKey.Validate(); err != nil {
		return nil, fmt.Errorf(op+"the RSA key is not valid: %w", err)
	}
	s := &SignedJWTTokenSource{
		tokenURL: cfg.TokenURL,
		apiKey:   cfg.APIKey,
		keyID:    cfg.KeyID,
		key:      cfg.PrivateKey,
		http:     cfg.HTTPClient,
		now:      cfg.Now,
		log:      cfg.Logger,
		sem:      make(chan struct{}, 1),
	}
	if s.http == nil {
		s.http = &http.Client{
			Timeout: 30 * time.Second,
			// A redirect would re-send the assertion to wherever it points,
			// and the token endpoint has no reason to redirect.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Token returns a current access token, asking the platform for a new one
// when there is none or the one it has expires within a minute. Concurrent
// callers wait for a single request. If a renewal fails while the current
// token is still valid, that token is returned and the next call tries
// again. Errors from the platform's answer are a *TokenError; a cancelled
// or expired context gives the context's error.
func (s *SignedJWTTokenSource) Token(ctx context.Context) (string, error) {
	if err := ctxErr(ctx, "access token"); err != nil {
		return "", err
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("demographics: access token: waiting for another caller's token request: %w", ctx.Err())
	}
	defer func() { <-s.sem }()

	now := s.now()
	if s.token != "" && now.Before(s.refreshAt) {
		return s.token, nil
	}
	token, lifetime, err := s.fetch(ctx, now)
	if err != nil {
		if s.token != "" && now.Before(s.expiry) && ctx.Err() == nil {
			s.log.Warn("demographics: access token renewal failed; using the current token until it expires",
				"error", err, "expires_in", s.expiry.Sub(now).Round(time.Second))
			return s.token, nil
		}
		return "", err
	}
	margin := refreshMargin
	if lifetime < 2*margin {
		// A short-lived token would otherwise be renewed on every call.
		margin = lifetime / 2
	}
	// The lifetime counts from before the request was sent, so the token
	// is never thought to outlive what the platform granted.
	s.token = token
	s.expiry = now.Add(lifetime)
	s.refreshAt = s.expiry.Add(-margin)
	return token, nil
}

// fetch sends one token request and returns the access token and how long
// it lasts.
func (s *SignedJWTTokenSource) fetch(ctx context.Context, now time.Time) (string, time.Duration, error) {
	const op = "demographics: access token request: "
	assertion, err := s.assertion(now)
	if err != nil {
		return "", 0, fmt.Errorf(op+"%w", err)
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {jwtBearerType},
		"client_assertion":      {assertion},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf(op+"%w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	start := time.Now()
	resp, err := s.http.Do(req)
	if err != nil {
		s.log.Debug("demographics: access token request failed", "duration", time.Since(start))
		if cerr := ctx.Err(); cerr != nil {
			return "", 0, fmt.Errorf(op+"%w", cerr)
		}
		return "", 0, fmt.Errorf(op+"%w", err) // a *url.Error: the URL, which holds no secret
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse+1))
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return "", 0, fmt.Errorf(op+"%w", cerr)
		}
		return "", 0, fmt.Errorf(op+"reading the answer: %w", err)
	}
	s.log.Debug("demographics: access token request", "status", resp.StatusCode, "duration", time.Since(start))
	if len(body) > maxTokenResponse {
		return "", 0, fmt.Errorf(op+"HTTP %d: answer larger than %d bytes", resp.StatusCode, maxTokenResponse)
	}
	if resp.StatusCode != http.StatusOK {
		return "", 0, tokenError(resp.StatusCode, body)
	}

	var tr struct {
		AccessToken string `json:"access_token"`
		// The platform sends expires_in as a string ("599"); RFC 6749 has
		// a number. json.Number takes either.
		ExpiresIn json.Number `json:"expires_in"`
		TokenType string      `json:"token_type"`
	}
	// The body is not quoted in errors: it is the token.
	if err := json.Unmarshal(body, &tr); err != nil {
		return "", 0, fmt.Errorf(op+"the answer is not the expected JSON (%d bytes): %w", len(body), err)
	}
	if tr.AccessToken == "" {
		return "", 0, errors.New(op + "the answer has no access_token")
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "Bearer") {
		return "", 0, fmt.Errorf(op+"token_type %q, not Bearer", tr.TokenType)
	}
	if tr.ExpiresIn == "" {
		return "", 0, errors.New(op + "the answer has no expires_in")
	}
	secs, err := tr.ExpiresIn.Float64()
	if err != nil || secs < 1 || secs > 366*24*3600 {
		return "", 0, fmt.Errorf(op+"expires_in %q is not a plausible number of seconds", tr.ExpiresIn)
	}
	lifetime := time.Duration(secs * float64(time.Second))
	s.log.Debug("demographics: access token received", "expires_in", lifetime)
	return tr.AccessToken, lifetime, nil
}

// assertion builds and signs the client assertion JWT.
func (s *SignedJWTTokenSource) assertion(now time.Time) (string, error) {
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		Kid string `json:"kid"`
	}{"RS512", "JWT", s.keyID})
	if err != nil {
		return "", err
	}
	claims, err := json.Marshal(struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Aud string `json:"aud"`
		Jti string `json:"jti"`
		Exp int64  `json:"exp"`
	}{
		Iss: s.apiKey,
		Sub: s.apiKey,
		Aud: s.tokenURL,
		// The platform refuses a jti it has seen, so every request needs a
		// new one, retries included.
		Jti: newUUID(),
		Exp: now.Add(assertionLifetime).Unix(),
	})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signingInput := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	digest := sha512.Sum512([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA512, digest[:])
	if err != nil {
		return "", fmt.Errorf("signing the JWT: %w", err)
	}
	return signingInput + "." + enc.EncodeToString(sig), nil
}

// TokenError is an error answer from the token endpoint. A 400 or 401
// (invalid_request, invalid_client: a wrong API key, kid, audience or key,
// or a clock far off) will not go away by itself; a 429 or 5xx may.
type TokenError struct {
	Status      int    // HTTP status
	Code        string // OAuth error code: invalid_request, invalid_client, …
	Description string // the platform's error_description
	MessageID   string // the platform's message_id, for its helpdesk
}

func (e *TokenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "demographics: access token request refused: HTTP %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	if e.MessageID != "" {
		b.WriteString(" (message ID " + e.MessageID + ")")
	}
	return b.String()
}

// tokenError maps a non-200 answer. Its body is read only as the OAuth
// error JSON: a proxy's error page is not quoted, only its status.
func tokenError(status int, body []byte) error {
	var eb struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		MessageID   string `json:"message_id"`
	}
	if json.Unmarshal(body, &eb) != nil {
		eb.Error, eb.Description, eb.MessageID = "", "", ""
	}
	return &TokenError{Status: status, Code: eb.Error, Description: eb.Description, MessageID: eb.MessageID}
}

// LoadRSAPrivateKey reads an RSA private key from a PEM file: PKCS #1
// ("RSA PRIVATE KEY", as openssl genrsa -traditional writes) or PKCS #8
// ("PRIVATE KEY", as openssl genpkey writes). Other blocks in the file (a
// certificate, say) are skipped. Encrypted keys are refused: decrypt the
// key (openssl pkey) and protect the file instead.
func LoadRSAPrivateKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("demographics: load RSA private key: %w", err)
	}
	key, err := parseRSAPrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("demographics: load RSA private key %s: %w", path, err)
	}
	return key, nil
}

func parseRSAPrivateKey(data []byte) (*rsa.PrivateKey, error) {
	var seen []string
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
				return nil, errors.New("the key is encrypted (RSA PRIVATE KEY with Proc-Type ENCRYPTED); decrypt it first")
			}
			key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("RSA PRIVATE KEY block (PKCS #1): %w", err)
			}
			return key, nil
		case "PRIVATE KEY":
			key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PRIVATE KEY block (PKCS #8): %w", err)
			}
			rk, ok := key.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("the PRIVATE KEY block holds a %T, not an RSA key (RS512 needs RSA)", key)
			}
			return rk, nil
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("the key is encrypted (ENCRYPTED PRIVATE KEY); decrypt it first")
		}
		seen = append(seen, block.Type)
	}
	if len(seen) == 0 {
		return nil, errors.New("no PEM block found")
	}
	return nil, fmt.Errorf("no private key block, only %s", strings.Join(seen, ", "))
}
