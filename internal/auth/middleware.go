package auth

import (
	"context"
	"crypto/hmac"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Via says how a request was authenticated.
type Via string

// The ways in.
const (
	ViaSession   Via = "session"   // browser, session cookie
	ViaAPIKey    Via = "apikey"    // practice software, API key
	ViaBearer    Via = "bearer"    // DICOMweb client, bearer token
	ViaBootstrap Via = "bootstrap" // the --api-token
)

// Principal is who made a request and in which role: what handlers use
// to scope data (Org) and what they write to the audit log.
type Principal struct {
	// UserID is the account's ID; for a credential not tied to an account
	// "apikey:<id>" or "bearer:<id>"; for the bootstrap token "api-token".
	UserID string `json:"user_id"`
	Email  string `json:"email,omitempty"`
	// Name is the person's name (sessions), for histories people read.
	Name string `json:"name,omitempty"`
	Role Role   `json:"role"`
	Org  string `json:"org,omitempty"` // ODS code
	// OnBehalfOf is the user ID of the clinician a clinician admin (B1115)
	// acts for; audit entries must carry it.
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	Via        Via    `json:"via"`
	// CredentialID is the API key or bearer token used, if one was.
	CredentialID string `json:"credential_id,omitempty"`
	// CSRFToken is the session's CSRF token (sessions only), for pages
	// that render forms: put it in a csrf_token field or X-CSRF-Token.
	CSRFToken string `json:"-"`
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the Principal Require put in ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// AccessError refuses a request: Status 401 (who are you?) or 403 (not
// you, or not without a CSRF token). Message is shown to the client and
// never carries patient data; Challenge is the WWW-Authenticate value of a
// 401. Status, Message and Challenge map one for one onto
// dicomweb.AccessError.
type AccessError struct {
	Status    int
	Message   string
	Challenge string
	// Decision is the matrix's refusal, for a 403 from it.
	Decision *Decision
}

func (e *AccessError) Error() string { return e.Message }

// challenge is the WWW-Authenticate of every 401 (RFC 6750).
const challenge = `Bearer realm="molar"`

// Header and field names for credentials and CSRF tokens.
const (
	HeaderAPIKey = "X-API-Key"
	HeaderCSRF   = "X-CSRF-Token"
	FieldCSRF    = "csrf_token"
)

func unauthorized(msg string) *AccessError {
	return &AccessError{Status: http.StatusUnauthorized, Message: msg, Challenge: challenge}
}

func invalidToken(msg string) *AccessError {
	return &AccessError{Status: http.StatusUnauthorized, Message: msg, Challenge: challenge + `, error="invalid_token"`}
}

// Check authenticates r, enforces CSRF for cookie sessions on
// state-changing methods, and decides whether the caller may perform a.
// It returns an *AccessError to refuse; any other error is a failure of
// the check itself (storage), to be answered with 500. It writes no
// response: Require does, and other callers (the DICOMweb guard) answer in
// their own way.
func (s *Service) Check(r *http.Request, a Action) (Principal, error) {
	return s.CheckAny(r, a)
}

// CheckAny is Check for a request that any one of several actions
// permits (a referral's history: a referrer's or a clinician's). A
// refusal is recorded once, naming every action asked for.
func (s *Service) CheckAny(r *http.Request, actions ...Action) (Principal, error) {
	if len(actions) == 0 {
		return Principal{}, errors.New("auth check: no action")
	}
	for _, a := range actions {
		if !a.Valid() {
			return Principal{}, fmt.Errorf("auth check: unknown action %q", a)
		}
	}
	p, err := s.authenticate(r)
	if err != nil {
		return Principal{}, err
	}
	if p.Via == ViaSession && stateChanging(r.Method) {
		if err := checkCSRF(r, p.CSRFToken); err != nil {
			s.log.Info("auth: refused: CSRF token", "user", p.UserID, "method", r.Method, "path", r.URL.Path, "why", err.Message)
			return Principal{}, err
		}
	}
	var d Decision
	for _, a := range actions {
		if d = decideFor(p, a, s.cfg.BootstrapFullAccess); d.Allowed {
			return p, nil
		}
	}
	s.log.Info("auth: refused", "user", p.UserID, "role", p.Role, "org", p.Org, "via", p.Via, "actions", actions, "why", d.Reason)
	s.recordDenial(r, p, actions, d.Reason)
	return Principal{}, &AccessError{Status: http.StatusForbidden, Decision: &d,
		Message: fmt.Sprintf("Forbidden: as %s you may not do this (%s). If you need to, ask your administrator.", p.Role.Label(), actions[0])}
}

// Denial is a request the permission matrix refused.
type Denial struct {
	Principal Principal
	Actions   []Action
	Reason    string
	Method    string
	Path      string // without the query, which may hold an NHS number
	Client    string // the client's address
}

// DenialRecorder records refused requests (the audit log).
type DenialRecorder interface {
	RecordDenial(ctx context.Context, d Denial) error
}

func (s *Service) recordDenial(r *http.Request, p Principal, actions []Action, reason string) {
	if s.cfg.Denials == nil {
		return
	}
	client := r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		client = host
	}
	d := Denial{Principal: p, Actions: actions, Reason: reason, Method: r.Method, Path: r.URL.Path, Client: client}
	// The refusal stands whatever happens here; a client that went away
	// is still recorded.
	if err := s.cfg.Denials.RecordDenial(context.WithoutCancel(r.Context()), d); err != nil {
		s.log.Error("auth: recording a refusal failed", "user", p.UserID, "path", r.URL.Path, "err", err)
	}
}

// Require returns middleware that lets a request through to next only if
// Check allows it, with the Principal in its context (PrincipalFrom).
// Otherwise it answers 401 — a redirect to the sign-in page for a browser
// asking for a page — or 403, with a message and no patient data. It
// panics on an unknown action, a programming error best found at start-up.
func (s *Service) Require(a Action) func(http.Handler) http.Handler {
	if !a.Valid() {
		panic(fmt.Sprintf("auth.Require: unknown action %q", a))
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := s.Check(r, a)
			if err != nil {
				s.refuse(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		})
	}
}

// refuse answers a failed Check.
func (s *Service) refuse(w http.ResponseWriter, r *http.Request, err error) {
	var ae *AccessError
	if !errors.As(err, &ae) {
		s.log.Error("auth: check failed", "path", r.URL.Path, "err", err)
		writeError(w, r, http.StatusInternalServerError, "The server could not check your access. Try again shortly.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if ae.Status == http.StatusUnauthorized {
		if browserPage(r) {
			if cookieValue(r, SessionCookie) != "" {
				s.clearCookie(w, r, SessionCookie)
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if ae.Challenge != "" {
			w.Header().Set("WWW-Authenticate", ae.Challenge)
		}
	}
	writeError(w, r, ae.Status, ae.Message)
}

// browserPage reports whether r is a browser asking for a page (and not
// an API client, which gets a 401 with a challenge instead of a redirect).
func browserPage(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if strings.EqualFold(scheme, "Bearer") || r.Header.Get(HeaderAPIKey) != "" {
		return false
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// writeError writes msg as JSON ({"error": msg}) to clients that ask for
// JSON, as plain text otherwise.
func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if acceptsJSON(r) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return
	}
	http.Error(w, msg, status)
}

func acceptsJSON(r *http.Request) bool {
	a := r.Header.Get("Accept")
	return strings.Contains(a, "application/json") && !strings.Contains(a, "text/html")
}

// stateChanging reports whether a method changes state, and so needs a
// CSRF token from a cookie session. Unknown methods count as changing.
func stateChanging(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// checkCSRF looks for want in the X-CSRF-Token header or, for a
// URL-encoded form, the csrf_token field, and compares in constant time.
func checkCSRF(r *http.Request, want string) *AccessError {
	got := r.Header.Get(HeaderCSRF)
	if got == "" {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct == "application/x-www-form-urlencoded" {
			got = r.PostFormValue(FieldCSRF)
		}
	}
	refuse := func(why string) *AccessError {
		return &AccessError{Status: http.StatusForbidden,
			Message: "Forbidden: " + why + " Reload the page and try again; if this keeps happening, sign out and in again."}
	}
	if got == "" {
		return refuse("this request needs a CSRF token (the X-CSRF-Token header or the csrf_token form field), and it has none.")
	}
	if want == "" || !hmac.Equal([]byte(got), []byte(want)) {
		return refuse("the CSRF token does not match this session.")
	}
	return nil
}

// HasCredentials reports whether r tries to identify itself at all (an
// Authorization header, an API key or a session cookie), good or not: what
// a demo's anonymous access must tell apart from a wrong token. It reads
// the same places authenticate does.
func HasCredentials(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || strings.TrimSpace(r.Header.Get(HeaderAPIKey)) != "" ||
		cookieValue(r, SessionCookie) != ""
}

// authenticate finds who made r: bearer token, API key or session cookie,
// in that order.
func (s *Service) authenticate(r *http.Request) (Principal, error) {
	ctx := r.Context()
	// Other schemes (Basic, from a proxy in front of Molar, say) are not
	// ours: they are ignored rather than refused, so that a browser
	// session behind such a proxy still works.
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	otherScheme := scheme != "" && !strings.EqualFold(scheme, "Bearer")
	if strings.EqualFold(scheme, "Bearer") {
		token = strings.TrimSpace(token)
		if token == "" {
			return Principal{}, invalidToken("The bearer token is empty.")
		}
		if s.bootstrapHash != nil && subtle.ConstantTimeCompare(secretHash(token), s.bootstrapHash) == 1 {
			return Principal{UserID: "api-token", Role: RoleSysAdmin, Via: ViaBootstrap}, nil
		}
		return s.credentialPrincipal(ctx, token)
	}
	if k := strings.TrimSpace(r.Header.Get(HeaderAPIKey)); k != "" {
		return s.credentialPrincipal(ctx, k)
	}
	id := cookieValue(r, SessionCookie)
	if id == "" {
		if otherScheme {
			return Principal{}, unauthorized("Unsupported Authorization scheme: send \"Authorization: Bearer <token>\".")
		}
		return Principal{}, unauthorized("Sign in to continue: this needs a session, an API key or a bearer token.")
	}
	ss, u, err := s.session(ctx, id)
	switch {
	case errors.Is(err, errSessionExpired):
		return Principal{}, unauthorized("Your session has ended. Sign in again.")
	case errors.Is(err, errSessionRevoked):
		return Principal{}, unauthorized("Your session is no longer valid: your account or role has changed. Sign in again.")
	case err != nil:
		return Principal{}, err
	}
	return Principal{
		UserID: u.ID, Email: u.Email, Name: u.Name, Role: ss.Grant.Role, Org: ss.Grant.Org, OnBehalfOf: ss.Grant.OnBehalfOf,
		Via: ViaSession, CSRFToken: csrfToken(id),
	}, nil
}
