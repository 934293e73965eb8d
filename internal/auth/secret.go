package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
)

// Secrets are 32 random bytes (256 bits; OWASP asks at least 64 for
// session IDs), written in unpadded base64url, with a prefix naming what
// they are so that a leaked one is recognised by secret scanners and by
// people.
const (
	secretBytes  = 32
	prefixAPIKey = "molar_ak_"
	prefixBearer = "molar_bt_"
)

// newSecret returns a fresh secret with the given prefix.
func newSecret(prefix string) (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// secretHash is what is stored of a secret. A plain SHA-256 is enough: the
// secret has 256 bits of entropy, so there is nothing to brute-force.
func secretHash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// newID returns a random identifier for records that are not secrets
// (users, credentials): 128 bits in hex, with a prefix.
func newID(prefix string) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random ID: %w", err)
	}
	return prefix + hex.EncodeToString(b), nil
}

// newCode returns a uniformly random 6-digit one-time code.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("random code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// codeMAC is what is stored of a one-time code: an HMAC keyed by the
// sign-in's secret, which only the user's browser holds (its cookie). A
// 6-digit code hashed alone would fall to a million guesses offline.
func codeMAC(flowSecret, code string) []byte {
	m := hmac.New(sha256.New, []byte(flowSecret))
	m.Write([]byte("molar sign-in code v1\x00"))
	m.Write([]byte(code))
	return m.Sum(nil)
}

// csrfToken derives a session's CSRF token from its ID, so that nothing
// more is stored and a copy of the database (which holds only hashes of
// session IDs) cannot produce one.
func csrfToken(sessionID string) string {
	m := hmac.New(sha256.New, []byte(sessionID))
	m.Write([]byte("molar csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
