package main

import (
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"

	"github.com/molar-pacs/molar/dicomweb"
	"github.com/molar-pacs/molar/internal/config"
	"github.com/molar-pacs/molar/store"
)

// bootstrapGuard admits the holder of the bootstrap API token with full
// rights, and anyone in demo mode; it stands until accounts and roles
// take over, and the token stays as an administrator's afterwards.
type bootstrapGuard struct {
	token string
	demo  bool
}

func (g bootstrapGuard) Check(r *http.Request, _ dicomweb.Action) (dicomweb.Caller, error) {
	if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && g.token != "" &&
		subtle.ConstantTimeCompare([]byte(got), []byte(g.token)) == 1 {
		return dicomweb.Caller{User: "api-token", Role: "system administrator"}, nil
	}
	if g.demo {
		return dicomweb.Caller{User: "anonymous", Role: "demo"}, nil
	}
	return dicomweb.Caller{}, &dicomweb.AccessError{Status: http.StatusUnauthorized,
		Message: "Sign-in required: send a bearer token.", Challenge: `Bearer realm="molar"`}
}

func newDICOMweb(cfg *config.Config, archive *store.Store, rec dicomweb.Recorder, log *slog.Logger) (*dicomweb.Service, error) {
	return dicomweb.New(archive, dicomweb.Options{
		Root:        cfg.DICOMweb.Root,
		BaseURL:     cfg.DICOMweb.BaseURL,
		Guard:       bootstrapGuard{token: cfg.APIToken, demo: cfg.Demo},
		Recorder:    rec,
		CORSOrigins: cfg.DICOMweb.CORSOrigins,
		MaxResults:  cfg.DICOMweb.MaxResults,
		Log:         log,
	})
}
