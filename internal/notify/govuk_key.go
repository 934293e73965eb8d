package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidAPIKey is returned by ParseAPIKey. Its messages describe the
// key's shape, never its content.
var ErrInvalidAPIKey = errors.New("notify: invalid GOV.UK Notify API key")

// APIKey is a GOV.UK Notify API key, "{key_name}-{service-id}-{secret}",
// where the service ID and the secret are the last two UUIDs.
//
// The secret never leaves the value except as an HMAC key: String,
// GoString, LogValue and MarshalText redact it, and it is held behind a
// pointer so that even fmt's reflection over a struct that embeds an
// APIKey prints an address rather than the secret.
type APIKey struct {
	name      string
	serviceID string
	secret    *[]byte
}

const uuidLen = 36

// ParseAPIKey parses a GOV.UK Notify API key.
func ParseAPIKey(s string) (APIKey, error) {
	s = strings.TrimSpace(s)
	// name (at least one character), '-', service ID, '-', secret
	if len(s) < 1+1+uuidLen+1+uuidLen {
		return APIKey{}, fmt.Errorf("%w: %d characters, want {key_name}-{service-id}-{secret}, at least %d", ErrInvalidAPIKey, len(s), 1+2*(uuidLen+1))
	}
	secret := s[len(s)-uuidLen:]
	rest := s[:len(s)-uuidLen]
	if !strings.HasSuffix(rest, "-") {
		return APIKey{}, fmt.Errorf("%w: no '-' before the secret (the last 36 characters)", ErrInvalidAPIKey)
	}
	rest = rest[:len(rest)-1]
	serviceID := rest[len(rest)-uuidLen:]
	name := rest[:len(rest)-uuidLen]
	if !strings.HasSuffix(name, "-") {
		return APIKey{}, fmt.Errorf("%w: no '-' between the key name and the service ID", ErrInvalidAPIKey)
	}
	name = name[:len(name)-1]
	switch {
	case !isUUID(serviceID):
		return APIKey{}, fmt.Errorf("%w: the service ID is not a UUID", ErrInvalidAPIKey)
	case !isUUID(secret):
		return APIKey{}, fmt.Errorf("%w: the secret is not a UUID", ErrInvalidAPIKey)
	}
	b := []byte(secret)
	return APIKey{name: name, serviceID: serviceID, secret: &b}, nil
}

// Name is the name the key was given in GOV.UK Notify.
func (k APIKey) Name() string { return k.name }

// ServiceID is the Notify service the key belongs to, the JWT issuer.
func (k APIKey) ServiceID() string { return k.serviceID }

// IsZero reports whether k is the zero APIKey (not parsed from anything).
func (k APIKey) IsZero() bool { return k.secret == nil }

// String returns the key with its secret redacted.
func (k APIKey) String() string {
	if k.IsZero() {
		return "<no API key>"
	}
	return k.name + "-" + k.serviceID + "-[REDACTED]"
}

// GoString redacts the secret from %#v too.
func (k APIKey) GoString() string { return "notify.APIKey(" + strconv.Quote(k.String()) + ")" }

// LogValue logs the key's name and service ID only.
func (k APIKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", k.name), slog.String("service_id", k.serviceID))
}

// MarshalText redacts the secret from JSON and any other text encoding.
func (k APIKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// bearerToken returns the JWT GOV.UK Notify wants in the Authorization
// header: HS256 over header {"typ":"JWT","alg":"HS256"} and claims
// {"iss": service ID, "iat": now in Unix seconds}, keyed with the secret.
// Notify refuses a token whose iat is more than 30 seconds from its clock,
// so each request gets a fresh one.
func (k APIKey) bearerToken(now time.Time) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"typ":"JWT","alg":"HS256"}`))
	// The service ID is a validated UUID, so it needs no JSON escaping.
	claims := enc.EncodeToString([]byte(`{"iss":"` + k.serviceID + `","iat":` + strconv.FormatInt(now.Unix(), 10) + `}`))
	signingInput := header + "." + claims
	mac := hmac.New(sha256.New, *k.secret)
	mac.Write([]byte(signingInput))
	return signingInput + "." + enc.EncodeToString(mac.Sum(nil))
}
