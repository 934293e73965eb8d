package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// MountAdmin registers the administration API on mux, each route behind
// Require. Bodies and answers are JSON; browser sessions send the CSRF
// token in X-CSRF-Token.
//
//	GET  POST /admin/orgs                 org.admin     list, create
//	GET  POST /admin/users                user.admin    list, create
//	     POST /admin/users/{id}/disable   user.admin
//	GET  POST /admin/keys                 apikey.admin  list, issue (the secret is in the answer, once)
//	   DELETE /admin/keys/{id}            apikey.admin  revoke
//
// Administrators other than the system administrator act within their own
// organisation (and its sites): a practice's referrer admin manages the
// practice's users and keys, a provider admin the provider's users.
func (s *Service) MountAdmin(mux *http.ServeMux) {
	orgs, users, keys := s.Require(ActionOrgAdmin), s.Require(ActionUserAdmin), s.Require(ActionAPIKeyAdmin)
	mux.Handle("GET /admin/orgs", orgs(http.HandlerFunc(s.listOrgs)))
	mux.Handle("POST /admin/orgs", orgs(http.HandlerFunc(s.postOrg)))
	mux.Handle("GET /admin/users", users(http.HandlerFunc(s.listUsers)))
	mux.Handle("POST /admin/users", users(http.HandlerFunc(s.postUser)))
	mux.Handle("POST /admin/users/{id}/disable", users(http.HandlerFunc(s.disableUser)))
	mux.Handle("GET /admin/keys", keys(http.HandlerFunc(s.listKeys)))
	mux.Handle("POST /admin/keys", keys(http.HandlerFunc(s.postKey)))
	mux.Handle("DELETE /admin/keys/{id}", keys(http.HandlerFunc(s.revokeKey)))
}

const maxAdminBody = 64 << 10

// readJSON decodes a request body strictly: unknown fields are refused,
// so that a misspelt field does not silently do nothing.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: the body is not the JSON expected: %v", ErrInvalid, err)
	}
	if dec.Decode(&struct{}{}) != io.EOF {
		return fmt.Errorf("%w: the body has more than one JSON value", ErrInvalid)
	}
	return nil
}

// adminError answers an error from the Service with the status it means.
// In a create, something named in the body that does not exist is the
// body's fault: 400, not 404.
func (s *Service) adminError(w http.ResponseWriter, r *http.Request, err error, create bool) {
	status := http.StatusInternalServerError
	msg := err.Error()
	switch {
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrInvalidODS):
		status = http.StatusBadRequest
	case errors.Is(err, ErrExists):
		status = http.StatusConflict
	case errors.Is(err, ErrScope):
		status = http.StatusForbidden
	case errors.Is(err, ErrNotFound) && create:
		status = http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	default:
		s.log.Error("auth: admin request failed", "path", r.URL.Path, "err", err)
		msg = "The request failed on our side. Try again shortly."
	}
	writeError(w, r, status, msg)
}

func principal(r *http.Request) Principal {
	p, _ := PrincipalFrom(r.Context())
	return p
}

func (s *Service) listOrgs(w http.ResponseWriter, r *http.Request) {
	orgs, err := s.Orgs(r.Context())
	if err != nil {
		s.adminError(w, r, err, false)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"organisations": nonNil(orgs)})
}

func (s *Service) postOrg(w http.ResponseWriter, r *http.Request) {
	var o Organisation
	if err := readJSON(w, r, &o); err != nil {
		s.adminError(w, r, err, true)
		return
	}
	o, err := s.CreateOrg(r.Context(), o)
	if err != nil {
		s.adminError(w, r, err, true)
		return
	}
	s.log.Info("auth: admin created organisation", "code", o.Code, "by", principal(r).UserID)
	writeJSON(w, http.StatusCreated, o)
}

// userInScope reports whether every grant of u is within p's scope: an
// administrator may not touch an account that also works elsewhere.
func (s *Service) userInScope(r *http.Request, p Principal, u User) bool {
	for _, g := range u.Grants {
		if !s.inScope(r.Context(), p, g.Org) {
			return false
		}
	}
	return true
}

func (s *Service) listUsers(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	users, err := s.Users(r.Context())
	if err != nil {
		s.adminError(w, r, err, false)
		return
	}
	var out []User
	for _, u := range users {
		for _, g := range u.Grants {
			if s.inScope(r.Context(), p, g.Org) {
				out = append(out, u)
				break
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": nonNil(out)})
}

type createdUser struct {
	User     User     `json:"user"`
	Warnings []string `json:"warnings,omitempty"`
}

func (s *Service) postUser(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	var nu NewUser
	if err := readJSON(w, r, &nu); err != nil {
		s.adminError(w, r, err, true)
		return
	}
	for _, g := range nu.Grants {
		if g.Role == RoleSysAdmin && p.Role != RoleSysAdmin {
			s.adminError(w, r, fmt.Errorf("%w: only a system administrator grants that role", ErrScope), true)
			return
		}
		if !s.inScope(r.Context(), p, NormalizeODS(g.Org)) {
			s.adminError(w, r, fmt.Errorf("%w: you administer users at %s only, not %s", ErrScope, p.Org, NormalizeODS(g.Org)), true)
			return
		}
	}
	u, err := s.createUser(r.Context(), nu, p.UserID)
	if err != nil {
		s.adminError(w, r, err, true)
		return
	}
	out := createdUser{User: u}
	if !IsNHSMail(u.Email) {
		out.Warnings = append(out.Warnings, "not an NHS.net address: NHSmail is preferred where the user has one")
	}
	if !u.HasPassword {
		out.Warnings = append(out.Warnings, "no password set: the user sets one through password reset, with their phone")
	}
	writeJSON(w, http.StatusCreated, out)
}

func (s *Service) disableUser(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	id := r.PathValue("id")
	u, err := s.User(r.Context(), id)
	if err != nil {
		s.adminError(w, r, err, false)
		return
	}
	if id == p.UserID {
		s.adminError(w, r, fmt.Errorf("%w: you cannot disable your own account", ErrInvalid), false)
		return
	}
	if !s.userInScope(r, p, u) {
		s.adminError(w, r, fmt.Errorf("%w: that account also works outside your organisation", ErrScope), false)
		return
	}
	if err := s.DisableUser(r.Context(), id); err != nil {
		s.adminError(w, r, err, false)
		return
	}
	u.Disabled = true
	writeJSON(w, http.StatusOK, u)
}

func (s *Service) listKeys(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	creds, err := s.Credentials(r.Context())
	if err != nil {
		s.adminError(w, r, err, false)
		return
	}
	var out []Credential
	for _, c := range creds {
		if s.inScope(r.Context(), p, c.Org) {
			out = append(out, c)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"credentials": nonNil(out)})
}

type issuedCredential struct {
	Credential Credential `json:"credential"`
	// Secret is shown this once: it is stored only as a hash.
	Secret string `json:"secret"`
}

func (s *Service) postKey(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	var nc NewCredential
	if err := readJSON(w, r, &nc); err != nil {
		s.adminError(w, r, err, true)
		return
	}
	if !s.inScope(r.Context(), p, NormalizeODS(nc.Org)) {
		s.adminError(w, r, fmt.Errorf("%w: you administer keys at %s only", ErrScope, p.Org), true)
		return
	}
	c, secret, err := s.issueCredential(r.Context(), nc, p.UserID)
	if err != nil {
		s.adminError(w, r, err, true)
		return
	}
	writeJSON(w, http.StatusCreated, issuedCredential{Credential: c, Secret: secret})
}

func (s *Service) revokeKey(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	c, err := s.Credential(r.Context(), r.PathValue("id"))
	if err == nil && !s.inScope(r.Context(), p, c.Org) {
		err = fmt.Errorf("%w: that key belongs to %s", ErrScope, c.Org)
	}
	if err == nil {
		c, err = s.revokeCredential(r.Context(), c.ID, p.UserID)
	}
	if err != nil {
		s.adminError(w, r, err, false)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
