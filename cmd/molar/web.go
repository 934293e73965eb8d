package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/molar-pacs/molar/dicomweb"
	"github.com/molar-pacs/molar/internal/auth"
	"github.com/molar-pacs/molar/internal/config"
	"github.com/molar-pacs/molar/internal/notify"
	"github.com/molar-pacs/molar/store"
	"github.com/molar-pacs/molar/viewer"
)

// webGuard puts the accounts service's decision in front of DICOMweb and
// the archive browser. In demo mode a request with no credentials at all
// is let through as "anonymous", so a newcomer (or an OHIF pointed at the
// demo) can look around; a signed-in user is still recognised.
type webGuard struct {
	accounts *auth.Service
	demo     bool
}

func (g webGuard) check(r *http.Request, a auth.Action) (auth.Principal, error) {
	p, err := g.accounts.Check(r, a)
	var ae *auth.AccessError
	if g.demo && errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && !auth.HasCredentials(r) {
		return auth.Principal{UserID: "anonymous", Role: "demo"}, nil
	}
	return p, err
}

// Check implements dicomweb.Guard: DICOMweb's actions are the matrix's
// dicomweb.search, dicomweb.retrieve and dicomweb.store.
func (g webGuard) Check(r *http.Request, a dicomweb.Action) (dicomweb.Caller, error) {
	p, err := g.check(r, auth.Action("dicomweb."+a.String()))
	var ae *auth.AccessError
	if errors.As(err, &ae) {
		return dicomweb.Caller{}, &dicomweb.AccessError{Status: ae.Status, Message: ae.Message, Challenge: ae.Challenge}
	}
	if err != nil {
		return dicomweb.Caller{}, err
	}
	return dicomweb.Caller{User: p.UserID, Role: string(p.Role), Org: p.Org, OnBehalfOf: p.OnBehalfOf}, nil
}

// Viewer implements viewer.Guard: the archive browser shows films.
func (g webGuard) Viewer(r *http.Request) (viewer.Person, int) {
	p, err := g.check(r, auth.ActionFilmView)
	var ae *auth.AccessError
	switch {
	case err == nil:
		return viewer.Person{User: p.UserID, Role: string(p.Role), Org: p.Org, OnBehalfOf: p.OnBehalfOf}, http.StatusOK
	case errors.As(err, &ae):
		return viewer.Person{}, ae.Status
	}
	return viewer.Person{}, http.StatusInternalServerError
}

// trackedSender sends sign-in codes through the delivery tracker, so they
// are retried where that helps and failures reach the administrator.
type trackedSender struct{ t *notify.Tracker }

func (s trackedSender) Send(ctx context.Context, m notify.Message) (string, error) {
	d, err := s.t.Send(ctx, m)
	return d.ID, err
}

// require is accounts.Require(a) with the demo's exception: a request
// without credentials passes as "anonymous". The demo's sign-in codes are
// read from the outbox, which must be readable before anyone has signed
// in; a signed-in user is judged by the matrix as ever.
func (g webGuard) require(a auth.Action, h http.Handler) http.Handler {
	if !g.demo {
		return g.accounts.Require(a)(h)
	}
	strict := g.accounts.Require(a)(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth.HasCredentials(r) {
			strict.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func newDICOMweb(cfg *config.Config, archive *store.Store, guard dicomweb.Guard, rec dicomweb.Recorder, log *slog.Logger) (*dicomweb.Service, error) {
	return dicomweb.New(archive, dicomweb.Options{
		Root:        cfg.DICOMweb.Root,
		BaseURL:     cfg.DICOMweb.BaseURL,
		Guard:       guard,
		Recorder:    rec,
		CORSOrigins: cfg.DICOMweb.CORSOrigins,
		MaxResults:  cfg.DICOMweb.MaxResults,
		Log:         log,
	})
}
