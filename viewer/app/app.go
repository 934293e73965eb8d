package app

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/molar-pacs/molar/internal/auth"
)

//go:embed assets
var assets embed.FS

// Guard decides who a request is and whether its role may perform any of
// the actions (internal/auth's Service).
type Guard interface {
	CheckAny(r *http.Request, actions ...auth.Action) (auth.Principal, error)
}

// page is one page of the application: its module (assets/<name>.js),
// title, and the actions any one of which lets a role open it. No
// actions: the page is public (the tracker) or decides by itself from
// the session (home).
type page struct {
	name, title string
	actions     []auth.Action
}

// pages are the application's pages, by path under /app/.
var pages = map[string]page{
	"":         {name: "home", title: "Your start page"},
	"refer":    {name: "refer", title: "Refer a patient", actions: []auth.Action{auth.ActionReferralCreate}},
	"drafts":   {name: "drafts", title: "Drafts", actions: []auth.Action{auth.ActionReferralCreate}},
	"practice": {name: "practice", title: "Our referrals", actions: []auth.Action{auth.ActionReferralCreate}},
	"triage":   {name: "triage", title: "Triage worklist", actions: []auth.Action{auth.ActionReferralTriage}},
	"referral": {name: "referral", title: "Referral", actions: []auth.Action{auth.ActionReferralView, auth.ActionReferralCreate}},
	"provider": {name: "provider", title: "Provider worklists", actions: []auth.Action{auth.ActionReferralTriage, auth.ActionReferralBook}},
	"services": {name: "services", title: "Directory of Services", actions: []auth.Action{auth.ActionDirectoryEdit}},
	"admin":    {name: "admin", title: "Administration", actions: []auth.Action{auth.ActionUserAdmin, auth.ActionFilmAttach, auth.ActionOutboxRead, auth.ActionForwardAdmin, auth.ActionAuditRead}},
	"reports":  {name: "reports", title: "Reports", actions: []auth.Action{auth.ActionReportAggregate}},
}

// Handler serves the pages under /app/, their assets under
// /app/assets/, and the public tracker at /track.
type Handler struct {
	guard  Guard
	log    *slog.Logger
	shell  *template.Template
	assets http.Handler
}

// New returns the application's handler.
func New(g Guard, log *slog.Logger) (*Handler, error) {
	shell, err := template.ParseFS(assets, "assets/shell.html")
	if err != nil {
		return nil, fmt.Errorf("app: page shell: %w", err)
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	av, err := newAssetServer(sub)
	if err != nil {
		return nil, err
	}
	return &Handler{guard: g, log: log, shell: shell, assets: av}, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/app/assets/"):
		http.StripPrefix("/app/assets", h.assets).ServeHTTP(w, r)
		return
	case p == "/track" || p == "/track/":
		h.render(w, r, page{name: "track", title: "Track a dental referral"})
		return
	case strings.HasPrefix(p, "/track/"):
		// The link texted to patients: /track/URN opens the tracker with
		// the URN filled in; the date of birth is still asked for.
		http.Redirect(w, r, "/track?urn="+url.QueryEscape(strings.TrimPrefix(p, "/track/")), http.StatusFound)
		return
	}
	pg, ok := pages[strings.Trim(strings.TrimPrefix(p, "/app"), "/")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Pages are only read.", http.StatusMethodNotAllowed)
		return
	}
	if len(pg.actions) > 0 {
		if _, err := h.guard.CheckAny(r, pg.actions...); err != nil {
			h.refuse(w, r, err)
			return
		}
	}
	h.render(w, r, pg)
}

// refuse answers a page the caller may not open: sign-in for someone not
// signed in, a plain refusal for a role without the right.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, err error) {
	var ae *auth.AccessError
	if !errors.As(err, &ae) {
		h.log.Error("app: access check failed", "path", r.URL.Path, "err", err)
		http.Error(w, "The server could not check your access. Try again shortly.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if ae.Status == http.StatusUnauthorized {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	w.WriteHeader(ae.Status)
	h.execute(w, page{name: "refused", title: "You cannot open this page"}, ae.Message)
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, pg page) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		return
	}
	h.execute(w, pg, "")
}

func (h *Handler) execute(w http.ResponseWriter, pg page, message string) {
	var buf bytes.Buffer
	if err := h.shell.Execute(&buf, struct {
		Name, Title, Message string
	}{pg.name, pg.title, message}); err != nil {
		h.log.Error("app: render page", "page", pg.name, "err", err)
		http.Error(w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// assetServer serves the embedded scripts and styles with an ETag of
// their content, so browsers revalidate cheaply and never run stale code
// after an upgrade.
type assetServer struct {
	files map[string][]byte
	etags map[string]string
}

func newAssetServer(fsys fs.FS) (*assetServer, error) {
	a := &assetServer{files: map[string][]byte{}, etags: map[string]string{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".html") {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		a.files["/"+p], a.etags["/"+p] = b, `"`+hex.EncodeToString(sum[:12])+`"`
		return nil
	})
	return a, err
}

func (a *assetServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, ok := a.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	etag := a.etags[r.URL.Path]
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "no-cache")
	ct := mime.TypeByExtension(path.Ext(r.URL.Path))
	if strings.HasSuffix(r.URL.Path, ".js") {
		ct = "text/javascript; charset=utf-8"
	}
	h.Set("Content-Type", ct)
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	w.Write(b)
}
