package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters for new password hashes.
// Stored hashes carry their own parameters, so raising these takes effect
// for each user at their next sign-in.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
}

// DefaultArgon2 returns the parameters used when Config.Argon2 is zero:
// 64 MiB, 2 passes, 2 lanes, about 0.1 s on a current server core, above OWASP's Password Storage Cheat Sheet minimum
// (19 MiB, 2 passes, 1 lane) and close to RFC 9106's second recommended
// option (64 MiB, 3 passes, 4 lanes), which costs too much memory per
// concurrent sign-in for a small server. Config.MaxConcurrentHashes bounds
// that memory.
func DefaultArgon2() Argon2Params { return Argon2Params{Memory: 64 * 1024, Time: 2, Threads: 2} }

// owaspMinimum is the least New accepts without a warning.
var owaspMinimum = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16 // RFC 9106: 16 bytes suffice for all applications
	keyLen  = 32
)

var b64 = base64.RawStdEncoding

// hashPassword returns pw hashed with p, in the PHC string format:
// $argon2id$v=19$m=65536,t=2,p=2$<salt>$<hash>.
func hashPassword(pw string, p Argon2Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("stored password hash is not an argon2id PHC string")

// parseHash reads a PHC string written by hashPassword.
func parseHash(s string) (p Argon2Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil ||
		p.Memory == 0 || p.Time == 0 || p.Threads == 0 {
		return p, nil, nil, errBadHash
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, errBadHash
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 {
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

// verifyPassword reports whether pw matches the stored hash, comparing in
// constant time. Bounded by the hashing semaphore, so that a burst of
// sign-ins cannot take all the server's memory.
func (s *Service) verifyPassword(ctx context.Context, stored, pw string) (bool, error) {
	p, salt, key, err := parseHash(stored)
	if err != nil {
		return false, err
	}
	if err := s.acquireHash(ctx); err != nil {
		return false, err
	}
	defer s.releaseHash()
	s.hashes.Add(1)
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// newPasswordHash hashes pw with the configured parameters, under the
// semaphore.
func (s *Service) newPasswordHash(ctx context.Context, pw string) (string, error) {
	if err := s.acquireHash(ctx); err != nil {
		return "", err
	}
	defer s.releaseHash()
	s.hashes.Add(1)
	return hashPassword(pw, s.cfg.Argon2)
}

// outdated reports whether a stored hash was made with other parameters
// than the configured ones, and should be replaced at sign-in.
func (s *Service) outdated(stored string) bool {
	p, _, _, err := parseHash(stored)
	return err == nil && p != s.cfg.Argon2
}

func (s *Service) acquireHash(ctx context.Context) error {
	select {
	case s.hashSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting to hash a password: %w", ctx.Err())
	}
}

func (s *Service) releaseHash() { <-s.hashSem }
