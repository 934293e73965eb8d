package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/molar-pacs/molar/internal/notify"
)

// A flow is a sign-in or a password reset in progress, from the first
// form to the session (or the new password). Its secret is in the
// browser's sign-in cookie; the database keeps only its hash.
type flowPurpose string

const (
	flowSignIn flowPurpose = "signin"
	flowReset  flowPurpose = "reset"
)

type flowStage string

const (
	stageFactor   flowStage = "factor"   // choose a phone and a channel
	stageCode     flowStage = "code"     // enter the code
	stageRole     flowStage = "role"     // choose a role (several grants)
	stagePassword flowStage = "password" // choose a new password (reset)
)

type flowRecord struct {
	Purpose flowPurpose `json:"purpose"`
	Stage   flowStage   `json:"stage"`
	// UserID is empty for a reset whose details matched no account: the
	// flow goes on as if they had, so that the answer reveals nothing.
	UserID      string `json:"user_id,omitempty"`
	ThrottleKey []byte `json:"throttle_key"`
	Next        string `json:"next,omitempty"`

	CodeMAC       []byte         `json:"code_mac,omitempty"`
	CodeExpiresAt time.Time      `json:"code_expires_at,omitzero"`
	CodeAttempts  int            `json:"code_attempts,omitempty"`
	SentTo        string         `json:"sent_to,omitempty"` // masked
	Channel       notify.Channel `json:"channel,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// throttleRecord counts what happens to one email address, whether or not
// it has an account: failed passwords and codes, lockout, codes sent.
type throttleRecord struct {
	Failures     int         `json:"failures,omitempty"`
	FirstFailure time.Time   `json:"first_failure,omitzero"`
	LockedUntil  time.Time   `json:"locked_until,omitzero"`
	Sends        []time.Time `json:"sends,omitempty"`
}

// sendWindow is the window of Config.MaxCodeSendsPerHour.
const sendWindow = time.Hour

// prune forgets failures older than the window and sends older than an
// hour.
func (t *throttleRecord) prune(now time.Time, window time.Duration) {
	if t.Failures > 0 && !now.Before(t.FirstFailure.Add(window)) {
		t.Failures, t.FirstFailure = 0, time.Time{}
	}
	kept := t.Sends[:0]
	for _, at := range t.Sends {
		if now.Before(at.Add(sendWindow)) {
			kept = append(kept, at)
		}
	}
	t.Sends = kept
}

// idle reports whether the record has nothing left to say at now.
func (t *throttleRecord) idle(now time.Time, window time.Duration) bool {
	c := *t
	c.Sends = append([]time.Time(nil), t.Sends...)
	c.prune(now, window)
	return c.Failures == 0 && len(c.Sends) == 0 && !now.Before(c.LockedUntil)
}

func throttleKey(email string) []byte {
	h := sha256.Sum256([]byte("molar throttle v1\x00" + email))
	return h[:]
}

// flowError is a refusal the sign-in pages show as it is: it says what
// went wrong and what to do, and nothing about whether an account exists.
type flowError struct {
	msg string
	// kind sets the HTTP status and what the page offers next.
	kind flowErrorKind
	// until is when a lockout or a send limit ends.
	until time.Time
}

type flowErrorKind int

const (
	errKindBadInput    flowErrorKind = iota // 400: fix the form
	errKindBadCreds                         // 401: wrong password or code
	errKindLocked                           // 429: locked out
	errKindRateLimited                      // 429: too many codes sent
	errKindRestart                          // the flow is gone: start again
	errKindSendFailed                       // 502: the code could not be sent
)

func (e *flowError) Error() string { return e.msg }

func badInput(format string, args ...any) *flowError {
	return &flowError{msg: fmt.Sprintf(format, args...), kind: errKindBadInput}
}

var (
	errBadPassword = &flowError{kind: errKindBadCreds,
		msg: "The email address or password is not right. Check them and try again."}
	errRestart = &flowError{kind: errKindRestart,
		msg: "That sign-in has timed out or has already finished. Start again."}
)

// lockedError says until when an address is locked, in the user's time.
func (s *Service) lockedError(until time.Time) *flowError {
	mins := int(until.Sub(s.now()).Round(time.Minute) / time.Minute)
	in := fmt.Sprintf("in about %d minutes", mins)
	if mins <= 1 {
		in = "in about a minute"
	}
	return &flowError{kind: errKindLocked, until: until, msg: fmt.Sprintf(
		"Too many failed attempts: signing in to this account is paused until %s (%s). "+
			"Try again then. If you have forgotten your password, reset it after that time, or ask your administrator.",
		until.In(s.cfg.Location).Format("15:04 MST"), in)}
}

func (s *Service) sendLimitError(until time.Time) *flowError {
	return &flowError{kind: errKindRateLimited, until: until, msg: fmt.Sprintf(
		"Too many codes have been sent for this account in the last hour. You can ask for another at %s.",
		until.In(s.cfg.Location).Format("15:04 MST"))}
}

// throttle reads the counters for an address. s.mu held.
func (s *Service) throttle(k []byte, now time.Time) (throttleRecord, error) {
	var t throttleRecord
	if _, err := s.db.get(key(tThrottle, string(k)), &t); err != nil {
		return t, fmt.Errorf("read sign-in counters: %w", err)
	}
	t.prune(now, s.cfg.FailureWindow)
	return t, nil
}

// locked returns the end of a lockout in force at now, or zero.
func (s *Service) locked(k []byte, now time.Time) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.throttle(k, now)
	if err != nil || !now.Before(t.LockedUntil) {
		return time.Time{}, err
	}
	return t.LockedUntil, nil
}

// fail counts a failed password or code against an address, into b; it
// returns the end of the lockout if this failure starts one. s.mu held.
func (s *Service) fail(b *batch, k []byte, now time.Time) (time.Time, error) {
	t, err := s.throttle(k, now)
	if err != nil {
		return time.Time{}, err
	}
	if t.Failures == 0 {
		t.FirstFailure = now.UTC()
	}
	t.Failures++
	var until time.Time
	if t.Failures >= s.cfg.MaxFailures {
		until = now.Add(s.cfg.LockoutDuration).UTC()
		t.LockedUntil, t.Failures, t.FirstFailure = until, 0, time.Time{}
	}
	b.put(key(tThrottle, string(k)), t)
	return until, nil
}

// clearFailures forgets failures and lockout once both factors have been
// given, keeping the count of codes sent. s.mu held.
func (s *Service) clearFailures(b *batch, k []byte, now time.Time) error {
	t, err := s.throttle(k, now)
	if err != nil {
		return err
	}
	t.Failures, t.FirstFailure, t.LockedUntil = 0, time.Time{}, time.Time{}
	b.put(key(tThrottle, string(k)), t)
	return nil
}

// countSend counts a code sent for an address, into b, or returns the
// time another may be sent if the limit is reached. s.mu held.
func (s *Service) countSend(b *batch, k []byte, now time.Time) (time.Time, error) {
	t, err := s.throttle(k, now)
	if err != nil {
		return time.Time{}, err
	}
	if len(t.Sends) >= s.cfg.MaxCodeSendsPerHour {
		return t.Sends[0].Add(sendWindow), nil
	}
	t.Sends = append(t.Sends, now.UTC())
	b.put(key(tThrottle, string(k)), t)
	return time.Time{}, nil
}

// startSignIn checks an email address and password and, if they are
// right, starts a sign-in flow whose secret it returns for the cookie.
func (s *Service) startSignIn(ctx context.Context, email, password, next string) (string, error) {
	now := s.now()
	addr, err := NormalizeEmail(email)
	if err != nil {
		// Not an address: nobody has it, but it costs the same.
		addr = strings.ToLower(strings.TrimSpace(email))
	}
	tk := throttleKey(addr)
	if until, err := s.locked(tk, now); err != nil {
		return "", err
	} else if !until.IsZero() {
		s.log.Info("auth: sign-in refused: locked", "until", until)
		return "", s.lockedError(until)
	}
	var u *userRecord
	if addr != "" {
		if u, err = s.userByEmail(ctx, addr); err != nil {
			return "", err
		}
	}
	hash := s.dummyHash
	if u != nil && u.PasswordHash != "" {
		hash = u.PasswordHash
	}
	if len(password) > MaxPasswordLen {
		password = password[:MaxPasswordLen] // refused below either way; bounded work
	}
	ok, err := s.verifyPassword(ctx, hash, password)
	if err != nil {
		return "", fmt.Errorf("sign in: %w", err)
	}
	ok = ok && u != nil && u.PasswordHash != "" && !u.Disabled && len(u.Grants) > 0
	if !ok {
		s.mu.Lock()
		defer s.mu.Unlock()
		b := s.db.batch()
		until, err := s.fail(b, tk, now)
		if err == nil {
			err = b.commit()
		} else {
			b.discard()
		}
		if err != nil {
			return "", fmt.Errorf("sign in: %w", err)
		}
		if u != nil {
			s.log.Info("auth: sign-in refused: password", "user", u.ID, "disabled", u.Disabled)
		} else {
			s.log.Info("auth: sign-in refused: unknown address")
		}
		if !until.IsZero() {
			return "", s.lockedError(until)
		}
		return "", errBadPassword
	}
	if s.outdated(u.PasswordHash) {
		// Raise the stored hash to the configured cost while the password
		// is at hand.
		if h, err := s.newPasswordHash(ctx, password); err == nil {
			s.mu.Lock()
			err = s.rehash(ctx, u.ID, u.PasswordHash, h)
			s.mu.Unlock()
			if err != nil {
				s.log.Warn("auth: upgrading password hash", "user", u.ID, "err", err)
			}
		}
	}
	secret, err := s.newFlow(&flowRecord{Purpose: flowSignIn, Stage: stageFactor, UserID: u.ID, ThrottleKey: tk, Next: next})
	if err != nil {
		return "", fmt.Errorf("sign in: %w", err)
	}
	s.log.Info("auth: password accepted; second factor next", "user", u.ID)
	return secret, nil
}

// rehash replaces the hash old by h without ending sessions, unless the
// password has changed meanwhile (a reset must not be undone). s.mu held.
func (s *Service) rehash(ctx context.Context, id, old, h string) error {
	rec, err := s.userRecord(ctx, id)
	if err != nil || rec.PasswordHash != old {
		return err
	}
	rec.PasswordHash = h
	b := s.db.batch()
	b.put(key(tUser, id), rec)
	return b.commit()
}

func (s *Service) newFlow(f *flowRecord) (string, error) {
	secret, err := newSecret("")
	if err != nil {
		return "", err
	}
	now := s.now().UTC()
	f.CreatedAt, f.ExpiresAt = now, now.Add(s.cfg.FlowTTL)
	b := s.db.batch()
	b.put(key(tPending, string(secretHash(secret))), f)
	if err := b.commit(); err != nil {
		return "", fmt.Errorf("start flow: %w", err)
	}
	return secret, nil
}

// flow returns the live flow with the given secret.
func (s *Service) flow(secret string) (*flowRecord, error) {
	if secret == "" {
		return nil, errRestart
	}
	var f flowRecord
	ok, err := s.db.get(key(tPending, string(secretHash(secret))), &f)
	if err != nil {
		return nil, fmt.Errorf("read sign-in: %w", err)
	}
	if !ok || !s.now().Before(f.ExpiresAt) {
		return nil, errRestart
	}
	return &f, nil
}

func (s *Service) putFlow(b *batch, secret string, f *flowRecord) {
	b.put(key(tPending, string(secretHash(secret))), f)
}

func (s *Service) deleteFlow(b *batch, secret string) {
	b.del(key(tPending, string(secretHash(secret))))
}

// sendCode sends a sign-in flow's code to the user's phone number idx by
// channel ch. A new code replaces any earlier one.
func (s *Service) sendCode(ctx context.Context, secret string, idx int, ch notify.Channel) error {
	f, err := s.flow(secret)
	if err != nil {
		return err
	}
	if f.Purpose != flowSignIn || (f.Stage != stageFactor && f.Stage != stageCode) {
		return errRestart
	}
	u, err := s.userRecord(ctx, f.UserID)
	if err != nil {
		return fmt.Errorf("send code: %w", err)
	}
	if idx < 0 || idx >= len(u.Phones) {
		return badInput("Choose one of your phone numbers.")
	}
	if ch != notify.SMS && ch != notify.Voice {
		return badInput("Choose a text message or a voice call.")
	}
	phone := u.Phones[idx]
	if ch == notify.SMS && !phone.Mobile() {
		return badInput("That number cannot receive text messages. Choose a voice call, or another number.")
	}
	return s.issueCode(ctx, secret, phone, ch)
}

// issueCode makes a new code for the flow with the given secret, records
// it and, if phone is set, sends it. With no phone (a reset whose details
// matched nothing) it records a code nobody has, so that the next step
// behaves the same.
func (s *Service) issueCode(ctx context.Context, secret string, phone Phone, ch notify.Channel) error {
	code, err := newCode()
	if err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	// Read the flow again under the lock: a code entered meanwhile may
	// have moved it on, and a new code must not bring it back.
	f, err := s.flow(secret)
	if err != nil || f.Stage != stageFactor && f.Stage != stageCode {
		s.mu.Unlock()
		if err != nil {
			return err
		}
		return errRestart
	}
	b := s.db.batch()
	retry, err := s.countSend(b, f.ThrottleKey, now)
	if err != nil || !retry.IsZero() {
		s.mu.Unlock()
		b.discard()
		if err != nil {
			return fmt.Errorf("send code: %w", err)
		}
		return s.sendLimitError(retry)
	}
	f.Stage = stageCode
	f.CodeMAC = codeMAC(secret, code)
	f.CodeExpiresAt = now.Add(s.cfg.CodeTTL).UTC()
	f.CodeAttempts = 0
	f.Channel = ch
	f.SentTo = phone.Masked()
	s.putFlow(b, secret, f)
	err = b.commit()
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("send code: %w", err)
	}
	if phone.Number == "" {
		return nil
	}
	text, err := notify.LoginCodeText(ch, code, s.cfg.CodeTTL)
	if err != nil {
		return fmt.Errorf("send code: %w", err)
	}
	msg := notify.Message{To: phone.Number, Channel: ch, Text: text, Reference: "molar-signin", ExpiresAt: f.CodeExpiresAt}
	if _, err := s.cfg.Notifier.Send(ctx, msg); err != nil {
		s.log.Warn("auth: sending sign-in code failed", "user", f.UserID, "channel", ch, "err", err)
		return &flowError{kind: errKindSendFailed,
			msg: "The code could not be sent. Try again, or choose another number or a voice call."}
	}
	s.log.Info("auth: sign-in code sent", "user", f.UserID, "channel", ch, "to", phone.Masked(), "purpose", f.Purpose)
	return nil
}

// checkCode checks a code against a flow. On success the code is spent
// and the flow moves on: to a role (sign-in) or a new password (reset).
func (s *Service) checkCode(ctx context.Context, secret, code string) (*flowRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	code = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, code)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.flow(secret)
	if err != nil {
		return nil, err
	}
	if f.Stage != stageCode {
		return nil, errRestart
	}
	b := s.db.batch()
	defer b.discard()
	t, err := s.throttle(f.ThrottleKey, now)
	if err != nil {
		return nil, err
	}
	if now.Before(t.LockedUntil) {
		s.deleteFlow(b, secret)
		if err := b.commit(); err != nil {
			return nil, err
		}
		return nil, s.lockedError(t.LockedUntil)
	}
	switch {
	case f.CodeMAC == nil && f.CodeAttempts >= s.cfg.MaxCodeAttempts:
		return nil, &flowError{kind: errKindBadCreds, msg: "That code has been tried too many times. Ask for a new code."}
	case f.CodeMAC == nil:
		return nil, badInput("Ask for a code first.")
	case !now.Before(f.CodeExpiresAt):
		return nil, &flowError{kind: errKindBadCreds, msg: "That code has expired. Ask for a new one."}
	}
	if len(code) != 6 || !isDigits(code) || !hmac.Equal(codeMAC(secret, code), f.CodeMAC) || f.UserID == "" {
		f.CodeAttempts++
		left := s.cfg.MaxCodeAttempts - f.CodeAttempts
		if left <= 0 {
			f.CodeMAC = nil // spent: no more guesses at this one
		}
		until, err := s.fail(b, f.ThrottleKey, now)
		if err != nil {
			return nil, err
		}
		if !until.IsZero() {
			s.deleteFlow(b, secret)
		} else {
			s.putFlow(b, secret, f)
		}
		if err := b.commit(); err != nil {
			return nil, err
		}
		s.log.Info("auth: wrong sign-in code", "user", f.UserID, "purpose", f.Purpose, "attempts", f.CodeAttempts)
		switch {
		case !until.IsZero():
			return nil, s.lockedError(until)
		case left <= 0:
			return nil, &flowError{kind: errKindBadCreds, msg: "That code is not right, and it has now been tried too many times. Ask for a new code."}
		case left == 1:
			return nil, &flowError{kind: errKindBadCreds, msg: "That code is not right. You have 1 more try with this code."}
		}
		return nil, &flowError{kind: errKindBadCreds, msg: fmt.Sprintf("That code is not right. You have %d more tries with this code.", left)}
	}
	// Right: spend the code, forget the failures, move on.
	f.CodeMAC = nil
	f.Stage = stageRole
	if f.Purpose == flowReset {
		f.Stage = stagePassword
	}
	if err := s.clearFailures(b, f.ThrottleKey, now); err != nil {
		return nil, err
	}
	s.putFlow(b, secret, f)
	if err := b.commit(); err != nil {
		return nil, err
	}
	s.log.Info("auth: sign-in code accepted", "user", f.UserID, "purpose", f.Purpose)
	return f, nil
}

// finishSignIn starts a session in the user's grant number idx and ends
// the flow. It returns the session ID and where to go next.
func (s *Service) finishSignIn(ctx context.Context, secret string, idx int) (string, string, error) {
	f, err := s.flow(secret)
	if err != nil {
		return "", "", err
	}
	if f.Purpose != flowSignIn || f.Stage != stageRole {
		return "", "", errRestart
	}
	u, err := s.userRecord(ctx, f.UserID)
	if err != nil {
		return "", "", fmt.Errorf("sign in: %w", err)
	}
	if u.Disabled {
		return "", "", errRestart
	}
	if idx < 0 || idx >= len(u.Grants) {
		return "", "", badInput("Choose one of your roles.")
	}
	// End the flow first: a flow must give at most one session.
	s.mu.Lock()
	if _, err := s.flow(secret); err != nil {
		s.mu.Unlock()
		return "", "", err
	}
	b := s.db.batch()
	s.deleteFlow(b, secret)
	err = b.commit()
	s.mu.Unlock()
	if err != nil {
		return "", "", fmt.Errorf("sign in: %w", err)
	}
	id, err := s.createSession(ctx, u.ID, u.Grants[idx])
	if err != nil {
		return "", "", err
	}
	return id, f.Next, nil
}

// startReset starts a password reset for an address and a registered
// phone number, sending a code by ch if they match an account. It returns
// the flow's secret whether they match or not.
func (s *Service) startReset(ctx context.Context, email, phone string, ch notify.Channel) (string, error) {
	addr, err := NormalizeEmail(email)
	if err != nil {
		return "", badInput("Enter your email address, as name@example.nhs.net.")
	}
	number, err := NormalizePhone(phone)
	if err != nil {
		return "", badInput("Enter your phone number as a UK number, such as 07700 900123.")
	}
	if ch != notify.SMS && ch != notify.Voice {
		return "", badInput("Choose a text message or a voice call.")
	}
	if ch == notify.SMS && !notify.IsUKMobile(number) {
		return "", badInput("That number cannot receive text messages. Choose a voice call.")
	}
	tk := throttleKey(addr)
	now := s.now()
	if until, err := s.locked(tk, now); err != nil {
		return "", err
	} else if !until.IsZero() {
		return "", s.lockedError(until)
	}
	u, err := s.userByEmail(ctx, addr)
	if err != nil {
		return "", err
	}
	f := flowRecord{Purpose: flowReset, Stage: stageCode, ThrottleKey: tk}
	var to Phone
	if u != nil && !u.Disabled {
		for _, p := range u.Phones {
			if p.Number == number {
				f.UserID, to = u.ID, p
			}
		}
	}
	secret, err := s.newFlow(&f)
	if err != nil {
		return "", fmt.Errorf("reset: %w", err)
	}
	if err := s.issueCode(ctx, secret, to, ch); err != nil {
		return "", err
	}
	if f.UserID == "" {
		s.log.Info("auth: password reset asked for details that match no account")
	}
	return secret, nil
}

// finishReset sets the new password of a reset flow whose code was right,
// ends the user's sessions and the flow.
func (s *Service) finishReset(ctx context.Context, secret, pw, again string) error {
	f, err := s.flow(secret)
	if err != nil {
		return err
	}
	if f.Purpose != flowReset || f.Stage != stagePassword || f.UserID == "" {
		return errRestart
	}
	u, err := s.userRecord(ctx, f.UserID)
	if err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	if pw != again {
		return badInput("The two passwords are not the same.")
	}
	if err := checkPassword(pw, u.Email); err != nil {
		return badInput("%s", strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
	}
	h, err := s.newPasswordHash(ctx, pw)
	if err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.flow(secret); err != nil {
		return err
	}
	b := s.db.batch()
	s.deleteFlow(b, secret)
	if err := b.commit(); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	return s.storePassword(ctx, u.ID, h)
}

// errorsAsFlow unwraps a *flowError.
func errorsAsFlow(err error) (*flowError, bool) {
	var fe *flowError
	ok := errors.As(err, &fe)
	return fe, ok
}
