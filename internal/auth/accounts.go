package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// CreateOrg adds an organisation, or a site or location below one.
func (s *Service) CreateOrg(ctx context.Context, o Organisation) (Organisation, error) {
	if err := ctx.Err(); err != nil {
		return Organisation{}, err
	}
	if err := o.validate(); err != nil {
		return Organisation{}, fmt.Errorf("create organisation: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.Parent != "" {
		parent, err := s.Org(ctx, o.Parent)
		if err != nil {
			return Organisation{}, fmt.Errorf("create organisation %s: parent: %w", o.Code, err)
		}
		if parent.Kind != o.Kind {
			return Organisation{}, fmt.Errorf("create organisation %s: %w: parent %s is a %s, not a %s", o.Code, ErrInvalid, parent.Code, parent.Kind, o.Kind)
		}
		if parent.Parent != "" {
			return Organisation{}, fmt.Errorf("create organisation %s: %w: %s is itself a site of %s; sites have no sites", o.Code, ErrInvalid, parent.Code, parent.Parent)
		}
	}
	var existing Organisation
	if ok, err := s.db.get(key(tOrg, o.Code), &existing); err != nil {
		return Organisation{}, fmt.Errorf("create organisation %s: %w", o.Code, err)
	} else if ok {
		return Organisation{}, fmt.Errorf("create organisation %s: %w", o.Code, ErrExists)
	}
	o.CreatedAt = s.now().UTC()
	b := s.db.batch()
	b.put(key(tOrg, o.Code), o)
	if err := b.commit(); err != nil {
		return Organisation{}, fmt.Errorf("create organisation %s: %w", o.Code, err)
	}
	s.log.Info("auth: organisation created", "code", o.Code, "kind", o.Kind, "parent", o.Parent)
	return o, nil
}

// Org returns the organisation with the given ODS code.
func (s *Service) Org(ctx context.Context, code string) (Organisation, error) {
	if err := ctx.Err(); err != nil {
		return Organisation{}, err
	}
	code = NormalizeODS(code)
	var o Organisation
	ok, err := s.db.get(key(tOrg, code), &o)
	if err != nil {
		return Organisation{}, fmt.Errorf("read organisation %s: %w", code, err)
	}
	if !ok {
		return Organisation{}, fmt.Errorf("organisation %s: %w", code, ErrNotFound)
	}
	return o, nil
}

// Orgs returns every organisation, by code.
func (s *Service) Orgs(ctx context.Context) ([]Organisation, error) {
	var out []Organisation
	err := s.db.scan([]byte{tOrg}, func(_, v []byte) (bool, error) {
		var o Organisation
		if err := decode(v, &o); err != nil {
			return false, err
		}
		out = append(out, o)
		return ctx.Err() == nil, nil
	})
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("list organisations: %w", err)
	}
	return out, nil
}

// CreateUser adds an account. It checks every field and every grant
// (role at a kind of organisation that has it, GDC number for referrers,
// a clinician for a clinician admin) but not who asks: the admin handlers
// do that.
func (s *Service) CreateUser(ctx context.Context, nu NewUser) (User, error) {
	return s.createUser(ctx, nu, "")
}

// Limits on what one account holds.
const (
	maxPhones = 5
	maxGrants = 20
)

func (s *Service) createUser(ctx context.Context, nu NewUser, by string) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, err
	}
	u, err := s.checkNewUser(ctx, nu)
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	rec := userRecord{User: u}
	if nu.Password != "" {
		if err := checkPassword(nu.Password, u.Email); err != nil {
			return User{}, fmt.Errorf("create user: %w", err)
		}
		if rec.PasswordHash, err = s.newPasswordHash(ctx, nu.Password); err != nil {
			return User{}, fmt.Errorf("create user: %w", err)
		}
	}
	if rec.ID, err = newID("u_"); err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	rec.CreatedBy = by
	rec.CreatedAt = s.now().UTC()
	rec.PasswordChangedAt = rec.CreatedAt

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok, err := s.db.getRaw(key(tEmail, rec.Email)); err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	} else if ok {
		return User{}, fmt.Errorf("create user %s: %w", rec.Email, ErrExists)
	}
	// A clinician admin's clinician must still hold the role now that the
	// lock is held (checkNewUser looked without it).
	if err := s.checkOnBehalf(ctx, rec.Grants); err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	b := s.db.batch()
	b.put(key(tUser, rec.ID), rec)
	b.putRaw(key(tEmail, rec.Email), []byte(rec.ID))
	if err := b.commit(); err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	s.log.Info("auth: user created", "user", rec.ID, "grants", len(rec.Grants), "by", by)
	return rec.public(), nil
}

// checkNewUser validates and normalises nu.
func (s *Service) checkNewUser(ctx context.Context, nu NewUser) (User, error) {
	var u User
	var err error
	if u.Email, err = NormalizeEmail(nu.Email); err != nil {
		return User{}, err
	}
	u.Name = strings.TrimSpace(nu.Name)
	if u.Name == "" || len(u.Name) > 200 {
		return User{}, fmt.Errorf("%w: a user needs a name of 1 to 200 characters", ErrInvalid)
	}
	if nu.GDCNumber != "" {
		if u.GDCNumber, err = ValidateGDC(nu.GDCNumber); err != nil {
			return User{}, err
		}
	}
	if len(nu.Phones) == 0 || len(nu.Phones) > maxPhones {
		return User{}, fmt.Errorf("%w: a user needs 1 to %d phone numbers, for sign-in codes", ErrInvalid, maxPhones)
	}
	for i, p := range nu.Phones {
		n, err := NormalizePhone(p.Number)
		if err != nil {
			return User{}, fmt.Errorf("phone %d: %w", i+1, err)
		}
		if slices.ContainsFunc(u.Phones, func(q Phone) bool { return q.Number == n }) {
			return User{}, fmt.Errorf("%w: phone %d is given twice", ErrInvalid, i+1)
		}
		u.Phones = append(u.Phones, Phone{Number: n, Label: strings.TrimSpace(p.Label)})
	}
	if len(nu.Grants) == 0 || len(nu.Grants) > maxGrants {
		return User{}, fmt.Errorf("%w: a user needs 1 to %d role grants", ErrInvalid, maxGrants)
	}
	for i, g := range nu.Grants {
		g.Org = NormalizeODS(g.Org)
		g.OnBehalfOf = strings.TrimSpace(g.OnBehalfOf)
		if err := s.checkGrant(ctx, g, u.GDCNumber != ""); err != nil {
			return User{}, fmt.Errorf("grant %d: %w", i+1, err)
		}
		if u.holds(g) {
			return User{}, fmt.Errorf("%w: grant %d is given twice", ErrInvalid, i+1)
		}
		u.Grants = append(u.Grants, g)
	}
	return u, nil
}

// checkGrant checks one grant, for a holder with or without a GDC number.
func (s *Service) checkGrant(ctx context.Context, g Grant, hasGDC bool) error {
	ri, ok := lookupRole(g.Role)
	if !ok {
		return fmt.Errorf("%w: unknown role %q", ErrInvalid, g.Role)
	}
	o, err := s.Org(ctx, g.Org)
	if err != nil {
		return err
	}
	if !g.Role.AllowedAt(o.Kind) {
		return fmt.Errorf("%w: the role %s is not held at a %s (%s)", ErrInvalid, g.Role.Label(), o.Kind, o.Code)
	}
	if ri.needsGDC && !hasGDC {
		return fmt.Errorf("%w: a %s needs a GDC registration number", ErrInvalid, g.Role.Title())
	}
	if ri.onBehalf != (g.OnBehalfOf != "") {
		if ri.onBehalf {
			return fmt.Errorf("%w: a %s acts on behalf of a named clinician: give their user ID", ErrInvalid, g.Role.Label())
		}
		return fmt.Errorf("%w: only a %s acts on behalf of someone", ErrInvalid, RoleClinicianAdmin.Label())
	}
	return s.checkOnBehalf(ctx, []Grant{g})
}

// checkOnBehalf checks that each clinician admin grant names a user who
// is a service provider clinician (B1110) at the same organisation.
func (s *Service) checkOnBehalf(ctx context.Context, grants []Grant) error {
	for _, g := range grants {
		if g.OnBehalfOf == "" {
			continue
		}
		c, err := s.userRecord(ctx, g.OnBehalfOf)
		if err != nil {
			return fmt.Errorf("clinician %s: %w", g.OnBehalfOf, err)
		}
		if c.Disabled || !c.holds(Grant{Role: RoleClinician, Org: g.Org}) {
			return fmt.Errorf("%w: user %s is not a %s at %s", ErrInvalid, g.OnBehalfOf, RoleClinician.Label(), g.Org)
		}
	}
	return nil
}

// User returns the account with the given ID.
func (s *Service) User(ctx context.Context, id string) (User, error) {
	rec, err := s.userRecord(ctx, id)
	if err != nil {
		return User{}, err
	}
	return rec.public(), nil
}

func (s *Service) userRecord(ctx context.Context, id string) (*userRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var rec userRecord
	ok, err := s.db.get(key(tUser, id), &rec)
	if err != nil {
		return nil, fmt.Errorf("read user %s: %w", id, err)
	}
	if !ok || id == "" {
		return nil, fmt.Errorf("user %s: %w", id, ErrNotFound)
	}
	return &rec, nil
}

// userByEmail returns the account with a normalised email address, or nil.
func (s *Service) userByEmail(ctx context.Context, email string) (*userRecord, error) {
	id, ok, err := s.db.getRaw(key(tEmail, email))
	if err != nil || !ok {
		return nil, err
	}
	return s.userRecord(ctx, string(id))
}

// UserByEmail returns the account with the given email address.
func (s *Service) UserByEmail(ctx context.Context, email string) (User, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	rec, err := s.userByEmail(ctx, e)
	if err != nil {
		return User{}, err
	}
	if rec == nil {
		return User{}, fmt.Errorf("user: %w", ErrNotFound)
	}
	return rec.public(), nil
}

// Users returns every account, by ID.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	var out []User
	err := s.db.scan([]byte{tUser}, func(_, v []byte) (bool, error) {
		var rec userRecord
		if err := decode(v, &rec); err != nil {
			return false, err
		}
		out = append(out, rec.public())
		return ctx.Err() == nil, nil
	})
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// DisableUser stops an account: its sessions end now, its bearer tokens
// stop working, and it can no longer sign in.
func (s *Service) DisableUser(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.userRecord(ctx, id)
	if err != nil {
		return fmt.Errorf("disable user: %w", err)
	}
	rec.Disabled = true
	b := s.db.batch()
	b.put(key(tUser, rec.ID), rec)
	if err := s.endSessions(b, rec.ID); err != nil {
		b.discard()
		return fmt.Errorf("disable user %s: %w", id, err)
	}
	if err := b.commit(); err != nil {
		return fmt.Errorf("disable user %s: %w", id, err)
	}
	s.log.Info("auth: user disabled", "user", id)
	return nil
}

// SetPassword replaces a user's password and ends their sessions.
func (s *Service) SetPassword(ctx context.Context, id, password string) error {
	rec, err := s.userRecord(ctx, id)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if err := checkPassword(password, rec.Email); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	h, err := s.newPasswordHash(ctx, password)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.storePassword(ctx, id, h)
}

// storePassword writes a new hash and ends the user's sessions. s.mu held.
func (s *Service) storePassword(ctx context.Context, id, hash string) error {
	rec, err := s.userRecord(ctx, id)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	rec.PasswordHash = hash
	rec.PasswordChangedAt = s.now().UTC()
	b := s.db.batch()
	b.put(key(tUser, id), rec)
	if err := s.endSessions(b, id); err != nil {
		b.discard()
		return fmt.Errorf("set password for %s: %w", id, err)
	}
	if err := b.commit(); err != nil {
		return fmt.Errorf("set password for %s: %w", id, err)
	}
	s.log.Info("auth: password changed; sessions ended", "user", id)
	return nil
}

// inScope reports whether p may administer org: a system administrator
// (or the bootstrap token) anywhere, others at their own organisation and
// its sites.
func (s *Service) inScope(ctx context.Context, p Principal, org string) bool {
	if p.Role == RoleSysAdmin {
		return true
	}
	if org == p.Org {
		return true
	}
	o, err := s.Org(ctx, org)
	return err == nil && o.Parent != "" && o.Parent == p.Org
}
