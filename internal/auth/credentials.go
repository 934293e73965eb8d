package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// CredentialKind says what a credential is for.
type CredentialKind string

// The kinds of credential.
const (
	// KindAPIKey is a practice's key for its practice software (referrals,
	// film upload): sent as X-API-Key or as a bearer token.
	KindAPIKey CredentialKind = "apikey"
	// KindBearer is a bearer token for a DICOMweb client (a hospital PACS,
	// a viewer), in any role but system administrator.
	KindBearer CredentialKind = "bearer"
)

// Credential is an API key or bearer token, without its secret, which is
// shown once, when issued, and stored only as a SHA-256 hash.
type Credential struct {
	ID   string         `json:"id"`
	Kind CredentialKind `json:"kind"`
	Name string         `json:"name"`
	// Prefix is the start of the secret, enough for people to tell keys
	// apart and match a leaked one, not enough to use.
	Prefix string `json:"prefix"`
	Grant
	// UserID, if set, ties the credential to an account: it stops working
	// when the account is disabled or loses the grant.
	UserID     string    `json:"user_id,omitempty"`
	CreatedBy  string    `json:"created_by,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	RevokedBy  string    `json:"revoked_by,omitempty"`
}

// Revoked reports whether the credential has been revoked.
func (c *Credential) Revoked() bool { return !c.RevokedAt.IsZero() }

// NewCredential is what an administrator gives to issue a credential.
type NewCredential struct {
	Kind       CredentialKind `json:"kind"`
	Name       string         `json:"name"`
	Role       Role           `json:"role"`
	Org        string         `json:"org"`
	OnBehalfOf string         `json:"on_behalf_of,omitempty"`
	UserID     string         `json:"user_id,omitempty"`
}

// IssueCredential creates an API key or bearer token and returns it with
// its secret, which is not kept and cannot be shown again.
//
// An API key belongs to a dental practice and acts as its referrer (what
// practice software does: referrals, films). A bearer token may hold any
// role but system administrator (the bootstrap token is that), and if it
// names a user, the user must hold the grant.
func (s *Service) IssueCredential(ctx context.Context, nc NewCredential) (Credential, string, error) {
	return s.issueCredential(ctx, nc, "")
}

func (s *Service) issueCredential(ctx context.Context, nc NewCredential, by string) (Credential, string, error) {
	c, err := s.checkNewCredential(ctx, nc)
	if err != nil {
		return Credential{}, "", fmt.Errorf("issue credential: %w", err)
	}
	prefix := prefixAPIKey
	if c.Kind == KindBearer {
		prefix = prefixBearer
	}
	secret, err := newSecret(prefix)
	if err != nil {
		return Credential{}, "", fmt.Errorf("issue credential: %w", err)
	}
	if c.ID, err = newID(string(c.Kind[:1]) + "k_"); err != nil {
		return Credential{}, "", fmt.Errorf("issue credential: %w", err)
	}
	c.Prefix = secret[:len(prefix)+6]
	c.CreatedBy = by
	c.CreatedAt = s.now().UTC()
	b := s.db.batch()
	b.put(key(tCredential, c.ID), c)
	b.putRaw(key(tSecretHash, string(secretHash(secret))), []byte(c.ID))
	if err := b.commit(); err != nil {
		return Credential{}, "", fmt.Errorf("issue credential: %w", err)
	}
	s.log.Info("auth: credential issued", "id", c.ID, "kind", c.Kind, "role", c.Role, "org", c.Org, "by", by)
	return c, secret, nil
}

func (s *Service) checkNewCredential(ctx context.Context, nc NewCredential) (Credential, error) {
	c := Credential{
		Kind: nc.Kind, Name: strings.TrimSpace(nc.Name), UserID: strings.TrimSpace(nc.UserID),
		Grant: Grant{Role: nc.Role, Org: NormalizeODS(nc.Org), OnBehalfOf: strings.TrimSpace(nc.OnBehalfOf)},
	}
	if c.Name == "" || len(c.Name) > 100 {
		return c, fmt.Errorf("%w: a credential needs a name of 1 to 100 characters, to recognise it by", ErrInvalid)
	}
	switch c.Kind {
	case KindAPIKey:
		if c.Role == "" {
			c.Role = RoleReferrer
		}
		if c.Role != RoleReferrer {
			return c, fmt.Errorf("%w: an API key acts as its practice's %s", ErrInvalid, RoleReferrer.Title())
		}
	case KindBearer:
		if c.Role == RoleSysAdmin {
			return c, fmt.Errorf("%w: bearer tokens are not issued for the %s role", ErrInvalid, RoleSysAdmin.Title())
		}
	default:
		return c, fmt.Errorf("%w: kind of credential %q: use %s or %s", ErrInvalid, c.Kind, KindAPIKey, KindBearer)
	}
	if c.UserID == "" {
		// Not tied to an account: the grant is checked as it would be for
		// one, except for the GDC number: the practice refers, through its
		// software, not a person.
		if err := s.checkGrant(ctx, c.Grant, true); err != nil {
			return c, err
		}
		return c, nil
	}
	u, err := s.userRecord(ctx, c.UserID)
	if err != nil {
		return c, err
	}
	if u.Disabled || !u.holds(c.Grant) {
		return c, fmt.Errorf("%w: user %s does not hold the role %s at %s", ErrInvalid, c.UserID, c.Role.Label(), c.Org)
	}
	return c, nil
}

// Credential returns a credential by ID.
func (s *Service) Credential(ctx context.Context, id string) (Credential, error) {
	if err := ctx.Err(); err != nil {
		return Credential{}, err
	}
	var c Credential
	ok, err := s.db.get(key(tCredential, id), &c)
	if err != nil {
		return Credential{}, fmt.Errorf("read credential %s: %w", id, err)
	}
	if !ok || id == "" {
		return Credential{}, fmt.Errorf("credential %s: %w", id, ErrNotFound)
	}
	return c, nil
}

// Credentials returns every credential, revoked ones included, by ID.
func (s *Service) Credentials(ctx context.Context) ([]Credential, error) {
	var out []Credential
	err := s.db.scan([]byte{tCredential}, func(_, v []byte) (bool, error) {
		var c Credential
		if err := decode(v, &c); err != nil {
			return false, err
		}
		out = append(out, c)
		return ctx.Err() == nil, nil
	})
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	return out, nil
}

// RevokeCredential revokes a credential at once. It stays listed, marked
// revoked; its hash is deleted, so the secret matches nothing.
func (s *Service) RevokeCredential(ctx context.Context, id string) (Credential, error) {
	return s.revokeCredential(ctx, id, "")
}

func (s *Service) revokeCredential(ctx context.Context, id, by string) (Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.Credential(ctx, id)
	if err != nil {
		return Credential{}, fmt.Errorf("revoke: %w", err)
	}
	if c.Revoked() {
		return c, nil
	}
	c.RevokedAt = s.now().UTC()
	c.RevokedBy = by
	b := s.db.batch()
	b.put(key(tCredential, id), c)
	// The hash index entry is found by scanning: revocation is rare and
	// the index small, which spares keeping the hash twice.
	err = s.db.scan([]byte{tSecretHash}, func(k, v []byte) (bool, error) {
		if string(v) == id {
			b.del(k)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		b.discard()
		return Credential{}, fmt.Errorf("revoke %s: %w", id, err)
	}
	if err := b.commit(); err != nil {
		return Credential{}, fmt.Errorf("revoke %s: %w", id, err)
	}
	s.log.Info("auth: credential revoked", "id", id, "by", by)
	return c, nil
}

// credentialPrincipal authenticates an API key or bearer token.
func (s *Service) credentialPrincipal(ctx context.Context, secret string) (Principal, error) {
	if !strings.HasPrefix(secret, prefixAPIKey) && !strings.HasPrefix(secret, prefixBearer) {
		return Principal{}, invalidToken("The token is not valid.")
	}
	id, ok, err := s.db.getRaw(key(tSecretHash, string(secretHash(secret))))
	if err != nil {
		return Principal{}, fmt.Errorf("look up credential: %w", err)
	}
	if !ok {
		return Principal{}, invalidToken("The token or API key is not valid or has been revoked.")
	}
	c, err := s.Credential(ctx, string(id))
	if errors.Is(err, ErrNotFound) {
		return Principal{}, invalidToken("The token or API key is not valid or has been revoked.")
	}
	if err != nil {
		return Principal{}, err
	}
	if c.Revoked() {
		return Principal{}, invalidToken("The token or API key is not valid or has been revoked.")
	}
	p := Principal{Role: c.Role, Org: c.Org, OnBehalfOf: c.OnBehalfOf, CredentialID: c.ID,
		UserID: string(c.Kind) + ":" + c.ID, Via: ViaAPIKey}
	if c.Kind == KindBearer {
		p.Via = ViaBearer
	}
	if c.UserID != "" {
		u, err := s.userRecord(ctx, c.UserID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return Principal{}, err
		}
		if err != nil || u.Disabled || !u.holds(c.Grant) {
			return Principal{}, invalidToken("The token's account is disabled or no longer holds its role.")
		}
		p.UserID, p.Email = u.ID, u.Email
	}
	if now := s.now(); now.Sub(c.LastUsedAt) >= touchEvery {
		if err := s.touchCredential(c.ID, now); err != nil {
			return Principal{}, err
		}
	}
	return p, nil
}

// touchCredential records when a credential was last used, to the minute.
func (s *Service) touchCredential(id string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var c Credential
	ok, err := s.db.get(key(tCredential, id), &c)
	if err != nil || !ok || c.Revoked() {
		return err
	}
	c.LastUsedAt = now.UTC()
	b := s.db.batch()
	b.put(key(tCredential, id), c)
	if err := b.commit(); err != nil {
		return fmt.Errorf("record credential use: %w", err)
	}
	return nil
}
