package auth

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/molar-pacs/molar/internal/notify"
)

//go:embed templates/*.html
var templateFS embed.FS

func parseTemplates() (*template.Template, error) {
	return template.ParseFS(templateFS, "templates/*.html")
}

// Mount registers the sign-in pages and the account API on mux:
//
//	GET  POST /login                   email and password
//	GET  POST /login/factor            choose a phone and SMS or voice
//	GET  POST /login/code              enter the code
//	GET  POST /login/role              choose a role (several grants)
//	GET  POST /login/reset             password reset: email and phone
//	GET  POST /login/reset/password    password reset: the new password
//	     POST /logout                  end the session (CSRF token needed)
//	GET       /auth/session            the session as JSON, with its CSRF token
//	     POST /auth/role               switch to another of one's grants
//
// and the administration API (see MountAdmin).
func (s *Service) Mount(mux *http.ServeMux) {
	// The forms before a session exists have no CSRF token to carry; the
	// browser's Sec-Fetch-Site and Origin headers keep other sites from
	// posting them (Go's CrossOriginProtection), and the sign-in cookie
	// is SameSite=Strict.
	pre := func(h http.HandlerFunc) http.Handler { return s.cop.Handler(noStore(h)) }
	mux.Handle("GET /login", noStore(s.getLogin))
	mux.Handle("POST /login", pre(s.postLogin))
	mux.Handle("GET /login/factor", noStore(s.getFactor))
	mux.Handle("POST /login/factor", pre(s.postFactor))
	mux.Handle("GET /login/code", noStore(s.getCode))
	mux.Handle("POST /login/code", pre(s.postCode))
	mux.Handle("GET /login/role", noStore(s.getRole))
	mux.Handle("POST /login/role", pre(s.postRole))
	mux.Handle("GET /login/reset", noStore(s.getReset))
	mux.Handle("POST /login/reset", pre(s.postReset))
	mux.Handle("GET /login/reset/password", noStore(s.getNewPassword))
	mux.Handle("POST /login/reset/password", pre(s.postNewPassword))
	mux.Handle("POST /logout", pre(s.postLogout))
	mux.Handle("GET /auth/session", noStore(s.getSession))
	mux.Handle("POST /auth/role", pre(s.postSwitchRole))
	s.MountAdmin(mux)
}

// noStore keeps pages with codes, tokens and account details out of
// caches.
func noStore(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h(w, r)
	})
}

type phoneChoice struct {
	Index         int
	Masked, Label string
	Mobile        bool
}

type grantChoice struct {
	Index int
	Label string
}

type pageData struct {
	Title, Step   string
	Error, Notice string
	Next          string
	Phones        []phoneChoice
	Grants        []grantChoice
	SentTo        string
	Channel       notify.Channel
	CodeMinutes   int
	Reset         bool
	MinPassword   int
}

func (s *Service) render(w http.ResponseWriter, r *http.Request, status int, d pageData) {
	d.MinPassword = MinPasswordLen
	d.CodeMinutes = int(s.cfg.CodeTTL / time.Minute)
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, "page", d); err != nil {
		s.log.Error("auth: rendering page", "step", d.Step, "err", err)
		http.Error(w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// failPage shows err on the page of step, with the status its kind calls
// for; a flow that is gone sends the user back to the start.
func (s *Service) failPage(w http.ResponseWriter, r *http.Request, d pageData, err error) {
	fe, ok := errorsAsFlow(err)
	if !ok {
		s.log.Error("auth: sign-in step failed", "step", d.Step, "err", err)
		d.Error = "Something went wrong on our side. Try again in a moment."
		s.render(w, r, http.StatusInternalServerError, d)
		return
	}
	d.Error = fe.msg
	status := http.StatusBadRequest
	switch fe.kind {
	case errKindBadCreds:
		status = http.StatusUnauthorized
	case errKindLocked, errKindRateLimited:
		status = http.StatusTooManyRequests
		if secs := int(fe.until.Sub(s.now()).Seconds()); secs > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		}
	case errKindSendFailed:
		status = http.StatusBadGateway
	case errKindRestart:
		status = http.StatusUnauthorized
		// A flow that is gone takes its cookie with it; one that is only
		// at another step (a page opened out of turn) keeps it.
		if _, err := s.flow(cookieValue(r, signinCookie)); err != nil {
			s.clearCookie(w, r, signinCookie)
		}
		d = pageData{Title: "Sign in", Step: "login", Error: fe.msg}
	}
	if fe.kind == errKindLocked && d.Step != "reset" {
		// The flow is over; the page offers a fresh start.
		s.clearCookie(w, r, signinCookie)
		d = pageData{Title: "Sign in", Step: "login", Error: fe.msg}
	}
	s.render(w, r, status, d)
}

// safeNext keeps a post-sign-in destination on this site: a path, not
// "//host" or "/\host" (which browsers treat as another host).
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}

func (s *Service) getLogin(w http.ResponseWriter, r *http.Request) {
	d := pageData{Title: "Sign in", Step: "login", Next: safeNext(r.URL.Query().Get("next"))}
	switch {
	case r.URL.Query().Has("signed-out"):
		d.Notice = "You have signed out."
	case r.URL.Query().Has("password-changed"):
		d.Notice = "Your password has been changed. Sign in with it."
	}
	s.render(w, r, http.StatusOK, d)
}

func (s *Service) postLogin(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.PostFormValue("next"))
	secret, err := s.startSignIn(r.Context(), r.PostFormValue("email"), r.PostFormValue("password"), next)
	if err != nil {
		s.failPage(w, r, pageData{Title: "Sign in", Step: "login", Next: next}, err)
		return
	}
	s.setCookie(w, r, signinCookie, secret, http.SameSiteStrictMode)
	http.Redirect(w, r, "/login/factor", http.StatusSeeOther)
}

// factorPage lists the flow's user's phones.
func (s *Service) factorPage(r *http.Request) (pageData, error) {
	d := pageData{Title: "Get a sign-in code", Step: "factor"}
	f, err := s.flow(cookieValue(r, signinCookie))
	if err != nil {
		return d, err
	}
	if f.Purpose != flowSignIn || (f.Stage != stageFactor && f.Stage != stageCode) {
		return d, errRestart
	}
	u, err := s.userRecord(r.Context(), f.UserID)
	if err != nil {
		return d, err
	}
	for i, p := range u.Phones {
		d.Phones = append(d.Phones, phoneChoice{Index: i, Masked: p.Masked(), Label: p.Label, Mobile: p.Mobile()})
	}
	return d, nil
}

func (s *Service) getFactor(w http.ResponseWriter, r *http.Request) {
	d, err := s.factorPage(r)
	if err != nil {
		s.failPage(w, r, d, err)
		return
	}
	s.render(w, r, http.StatusOK, d)
}

func (s *Service) postFactor(w http.ResponseWriter, r *http.Request) {
	d, err := s.factorPage(r)
	if err == nil {
		idx, convErr := strconv.Atoi(r.PostFormValue("phone"))
		if convErr != nil {
			idx = -1
		}
		err = s.sendCode(r.Context(), cookieValue(r, signinCookie), idx, notify.Channel(r.PostFormValue("channel")))
	}
	if err != nil {
		s.failPage(w, r, d, err)
		return
	}
	http.Redirect(w, r, "/login/code", http.StatusSeeOther)
}

func (s *Service) codePage(r *http.Request) (pageData, error) {
	d := pageData{Title: "Enter your code", Step: "code"}
	f, err := s.flow(cookieValue(r, signinCookie))
	if err != nil {
		return d, err
	}
	if f.Stage != stageCode {
		return d, errRestart
	}
	d.SentTo, d.Channel, d.Reset = f.SentTo, f.Channel, f.Purpose == flowReset
	if d.Reset {
		d.Notice = "If these details match an account, we have sent a code."
		d.SentTo = ""
	}
	return d, nil
}

func (s *Service) getCode(w http.ResponseWriter, r *http.Request) {
	d, err := s.codePage(r)
	if err != nil {
		s.failPage(w, r, d, err)
		return
	}
	s.render(w, r, http.StatusOK, d)
}

func (s *Service) postCode(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	secret := cookieValue(r, signinCookie)
	d, err := s.codePage(r)
	d.Notice = ""
	var f *flowRecord
	if err == nil {
		f, err = s.checkCode(ctx, secret, r.PostFormValue("code"))
	}
	if err != nil {
		s.failPage(w, r, d, err)
		return
	}
	if f.Purpose == flowReset {
		http.Redirect(w, r, "/login/reset/password", http.StatusSeeOther)
		return
	}
	u, err := s.userRecord(ctx, f.UserID)
	if err != nil {
		s.failPage(w, r, d, err)
		return
	}
	if len(u.Grants) > 1 {
		http.Redirect(w, r, "/login/role", http.StatusSeeOther)
		return
	}
	s.signedIn(w, r, secret, 0)
}

// signedIn finishes a sign-in in grant idx and sends the browser on.
func (s *Service) signedIn(w http.ResponseWriter, r *http.Request, secret string, idx int) {
	id, next, err := s.finishSignIn(r.Context(), secret, idx)
	if err != nil {
		d, _ := s.rolePage(r)
		s.failPage(w, r, d, err)
		return
	}
	// A session this browser had (someone else's, perhaps) ends here.
	if old := cookieValue(r, SessionCookie); old != "" {
		if err := s.endSession(r.Context(), old); err != nil {
			s.log.Warn("auth: ending the previous session", "err", err)
		}
	}
	s.clearCookie(w, r, signinCookie)
	s.setCookie(w, r, SessionCookie, id, http.SameSiteLaxMode)
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

func (s *Service) rolePage(r *http.Request) (pageData, error) {
	d := pageData{Title: "Choose your role", Step: "role"}
	f, err := s.flow(cookieValue(r, signinCookie))
	if err != nil {
		return d, err
	}
	if f.Purpose != flowSignIn || f.Stage != stageRole {
		return d, errRestart
	}
	u, err := s.userRecord(r.Context(), f.UserID)
	if err != nil {
		return d, err
	}
	d.Grants = s.grantChoices(r, u)
	return d, nil
}

func (s *Service) grantChoices(r *http.Request, u *userRecord) []grantChoice {
	var out []grantChoice
	for i, g := range u.Grants {
		label := g.Role.Label() + " at " + g.Org
		if o, err := s.Org(r.Context(), g.Org); err == nil {
			label = g.Role.Label() + " at " + o.Name + " (" + o.Code + ")"
		}
		if g.OnBehalfOf != "" {
			if c, err := s.userRecord(r.Context(), g.OnBehalfOf); err == nil {
				label += ", for " + c.Name
			}
		}
		out = append(out, grantChoice{Index: i, Label: label})
	}
	return out
}

func (s *Service) getRole(w http.ResponseWriter, r *http.Request) {
	d, err := s.rolePage(r)
	if err != nil {
		s.failPage(w, r, d, err)
		return
	}
	s.render(w, r, http.StatusOK, d)
}

func (s *Service) postRole(w http.ResponseWriter, r *http.Request) {
	idx, err := strconv.Atoi(r.PostFormValue("grant"))
	if err != nil {
		idx = -1
	}
	s.signedIn(w, r, cookieValue(r, signinCookie), idx)
}

func (s *Service) getReset(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, pageData{Title: "Reset your password", Step: "reset"})
}

func (s *Service) postReset(w http.ResponseWriter, r *http.Request) {
	secret, err := s.startReset(r.Context(), r.PostFormValue("email"), r.PostFormValue("phone"), notify.Channel(r.PostFormValue("channel")))
	if err != nil {
		s.failPage(w, r, pageData{Title: "Reset your password", Step: "reset"}, err)
		return
	}
	s.setCookie(w, r, signinCookie, secret, http.SameSiteStrictMode)
	http.Redirect(w, r, "/login/code", http.StatusSeeOther)
}

func (s *Service) newPasswordPage(r *http.Request) (pageData, error) {
	d := pageData{Title: "Choose a new password", Step: "password"}
	f, err := s.flow(cookieValue(r, signinCookie))
	if err != nil {
		return d, err
	}
	if f.Purpose != flowReset || f.Stage != stagePassword {
		return d, errRestart
	}
	return d, nil
}

func (s *Service) getNewPassword(w http.ResponseWriter, r *http.Request) {
	d, err := s.newPasswordPage(r)
	if err != nil {
		s.failPage(w, r, d, err)
		return
	}
	s.render(w, r, http.StatusOK, d)
}

func (s *Service) postNewPassword(w http.ResponseWriter, r *http.Request) {
	d, err := s.newPasswordPage(r)
	if err == nil {
		err = s.finishReset(r.Context(), cookieValue(r, signinCookie), r.PostFormValue("password"), r.PostFormValue("again"))
	}
	if err != nil {
		s.failPage(w, r, d, err)
		return
	}
	s.clearCookie(w, r, signinCookie)
	s.clearCookie(w, r, SessionCookie)
	http.Redirect(w, r, "/login?password-changed", http.StatusSeeOther)
}

// postLogout ends the session. It needs the CSRF token, so that another
// site cannot sign people out.
func (s *Service) postLogout(w http.ResponseWriter, r *http.Request) {
	id := cookieValue(r, SessionCookie)
	if id != "" {
		if ae := checkCSRF(r, csrfToken(id)); ae != nil {
			writeError(w, r, ae.Status, ae.Message)
			return
		}
		if err := s.endSession(r.Context(), id); err != nil {
			s.log.Error("auth: signing out", "err", err)
			writeError(w, r, http.StatusInternalServerError, "Signing out failed. Try again.")
			return
		}
	}
	s.clearCookie(w, r, SessionCookie)
	if acceptsJSON(r) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, "/login?signed-out", http.StatusSeeOther)
}

// sessionOf authenticates r by its session cookie only.
func (s *Service) sessionOf(r *http.Request) (string, *sessionRecord, *userRecord, error) {
	id := cookieValue(r, SessionCookie)
	ss, u, err := s.session(r.Context(), id)
	switch {
	case errors.Is(err, errNoSession), errors.Is(err, errSessionExpired), errors.Is(err, errSessionRevoked):
		return "", nil, nil, unauthorized("Sign in to continue.")
	case err != nil:
		return "", nil, nil, err
	}
	return id, ss, u, nil
}

// getSession answers who the session is, and its CSRF token, for the
// browser application.
func (s *Service) getSession(w http.ResponseWriter, r *http.Request) {
	id, ss, u, err := s.sessionOf(r)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, Session{
		User: u.public(), Grant: ss.Grant, RoleLabel: ss.Grant.Role.Label(), CSRFToken: csrfToken(id),
		IdleExpires: ss.LastSeen.Add(s.cfg.SessionIdle).UTC(), Expires: ss.CreatedAt.Add(s.cfg.SessionAbsolute).UTC(),
		Actions: allowedActions(ss.Grant.Role),
	})
}

// allowedActions lists what role may do, in the matrix's order.
func allowedActions(role Role) []Action {
	out := []Action{}
	for _, a := range Actions() {
		if Allowed(role, a) {
			out = append(out, a)
		}
	}
	return out
}

// postSwitchRole moves the session to another of the user's grants, with
// a new session ID (a change of privilege).
func (s *Service) postSwitchRole(w http.ResponseWriter, r *http.Request) {
	id, _, u, err := s.sessionOf(r)
	if err == nil {
		if ae := checkCSRF(r, csrfToken(id)); ae != nil {
			err = ae
		}
	}
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	idx, convErr := strconv.Atoi(r.FormValue("grant"))
	if convErr != nil || idx < 0 || idx >= len(u.Grants) {
		writeError(w, r, http.StatusBadRequest, "Choose one of your roles by its number (grant=0, 1, …).")
		return
	}
	newID, err := s.createSession(r.Context(), u.ID, u.Grants[idx])
	if err == nil {
		err = s.endSession(r.Context(), id)
	}
	if err != nil {
		s.log.Error("auth: switching role", "user", u.ID, "err", err)
		writeError(w, r, http.StatusInternalServerError, "Switching role failed. Try again.")
		return
	}
	s.setCookie(w, r, SessionCookie, newID, http.SameSiteLaxMode)
	writeJSON(w, http.StatusOK, map[string]any{"grant": u.Grants[idx], "role_label": u.Grants[idx].Role.Label(), "csrf_token": csrfToken(newID)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
