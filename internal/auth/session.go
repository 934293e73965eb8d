package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Cookie names. The session cookie carries the session ID; the sign-in
// cookie carries the secret of a sign-in or reset in progress.
const (
	SessionCookie = "molar_session"
	signinCookie  = "molar_signin"
)

// touchEvery is how stale a session's last-seen time may get before a
// request writes it again: one synced write a minute per active session,
// not one per request, for an idle expiry measured in tens of minutes.
const touchEvery = time.Minute

// sessionRecord is a session as stored, under the hash of its ID.
type sessionRecord struct {
	UserID    string    `json:"user_id"`
	Grant     Grant     `json:"grant"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
}

// Session is what a signed-in browser can learn about its session.
type Session struct {
	User        User      `json:"user"`
	Grant       Grant     `json:"grant"`
	RoleLabel   string    `json:"role_label"`
	CSRFToken   string    `json:"csrf_token"`
	IdleExpires time.Time `json:"idle_expires"`
	Expires     time.Time `json:"expires"`
	// Actions are what the session's role may do, from the matrix, so
	// pages offer only what the server will allow (it still decides).
	Actions []Action `json:"actions"`
}

var (
	errNoSession      = errors.New("no session")
	errSessionExpired = errors.New("session expired")
	errSessionRevoked = errors.New("session no longer valid")
)

// sessionExpired says why ss is no longer valid at now, or "".
func (s *Service) sessionExpired(ss *sessionRecord, now time.Time) string {
	switch {
	case !now.Before(ss.CreatedAt.Add(s.cfg.SessionAbsolute)):
		return "absolute"
	case !now.Before(ss.LastSeen.Add(s.cfg.SessionIdle)):
		return "idle"
	}
	return ""
}

// createSession starts a session for a user in one of their grants and
// returns its ID, for the cookie. A new ID at every sign-in and role change
// is what stops session fixation.
func (s *Service) createSession(ctx context.Context, userID string, g Grant) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	id, err := newSecret("")
	if err != nil {
		return "", fmt.Errorf("start session: %w", err)
	}
	now := s.now().UTC()
	h := string(secretHash(id))
	b := s.db.batch()
	b.put(key(tSession, h), sessionRecord{UserID: userID, Grant: g, CreatedAt: now, LastSeen: now})
	b.putRaw(key(tUserSession, userID, h), nil)
	if err := b.commit(); err != nil {
		return "", fmt.Errorf("start session: %w", err)
	}
	s.log.Info("auth: session started", "user", userID, "role", g.Role, "org", g.Org)
	return id, nil
}

// session looks up a live session by ID and refreshes its last-seen time.
// The user must still be enabled and still hold the session's grant.
func (s *Service) session(ctx context.Context, id string) (*sessionRecord, *userRecord, error) {
	if id == "" {
		return nil, nil, errNoSession
	}
	h := string(secretHash(id))
	k := key(tSession, h)
	var ss sessionRecord
	ok, err := s.db.get(k, &ss)
	if err != nil {
		return nil, nil, fmt.Errorf("read session: %w", err)
	}
	if !ok {
		return nil, nil, errSessionExpired // or never was; either way: sign in again
	}
	now := s.now()
	if why := s.sessionExpired(&ss, now); why != "" {
		s.log.Info("auth: session expired", "user", ss.UserID, "why", why)
		if err := s.deleteSession(h, ss.UserID); err != nil {
			return nil, nil, err
		}
		return nil, nil, errSessionExpired
	}
	u, err := s.userRecord(ctx, ss.UserID)
	if errors.Is(err, ErrNotFound) || err == nil && (u.Disabled || !u.holds(ss.Grant)) {
		if err := s.deleteSession(h, ss.UserID); err != nil {
			return nil, nil, err
		}
		return nil, nil, errSessionRevoked
	}
	if err != nil {
		return nil, nil, err
	}
	if now.Sub(ss.LastSeen) >= touchEvery {
		if err := s.touchSession(k, now); err != nil {
			return nil, nil, err
		}
		ss.LastSeen = now
	}
	return &ss, u, nil
}

// touchSession moves a session's last-seen time to now, unless it has
// ended meanwhile: a request racing a sign-out must not bring it back.
func (s *Service) touchSession(k []byte, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ss sessionRecord
	ok, err := s.db.get(k, &ss)
	if err != nil || !ok {
		return err
	}
	if now.After(ss.LastSeen) {
		ss.LastSeen = now.UTC()
	}
	b := s.db.batch()
	b.put(k, ss)
	if err := b.commit(); err != nil {
		return fmt.Errorf("refresh session: %w", err)
	}
	return nil
}

func (s *Service) deleteSession(h, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.db.batch()
	b.del(key(tSession, h))
	b.del(key(tUserSession, userID, h))
	if err := b.commit(); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// endSession ends the session with the given ID, if there is one.
func (s *Service) endSession(ctx context.Context, id string) error {
	var ss sessionRecord
	h := string(secretHash(id))
	ok, err := s.db.get(key(tSession, h), &ss)
	if err != nil || !ok {
		return err
	}
	if err := s.deleteSession(h, ss.UserID); err != nil {
		return err
	}
	s.log.Info("auth: signed out", "user", ss.UserID)
	return ctx.Err()
}

// endSessions adds to b the deletion of every session of a user. s.mu
// must be held until b is committed.
func (s *Service) endSessions(b *batch, userID string) error {
	prefix := append(key(tUserSession, userID), 0)
	return s.db.scan(prefix, func(k, _ []byte) (bool, error) {
		b.del(k)
		b.del(key(tSession, string(k[len(prefix):])))
		return true, nil
	})
}

// secure reports whether cookies set in answer to r get the Secure
// attribute.
func (s *Service) secure(r *http.Request) bool {
	switch s.cfg.Cookies {
	case CookieSecureAlways:
		return true
	case CookieSecureNever:
		return false
	}
	return r.TLS != nil
}

// setCookie sets an HttpOnly, SameSite cookie for the whole site. It has
// no expiry of its own (it goes when the browser closes); the server
// enforces the real lifetimes.
func (s *Service) setCookie(w http.ResponseWriter, r *http.Request, name, value string, sameSite http.SameSite) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/",
		Secure: s.secure(r), HttpOnly: true, SameSite: sameSite,
	})
}

func (s *Service) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: "", Path: "/", MaxAge: -1,
		Secure: s.secure(r), HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}
