package auth

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/molar-pacs/molar/internal/notify"
)

// Errors the Service's calls wrap, to be tested with errors.Is.
var (
	ErrInvalid  = errors.New("invalid")        // a request that breaks a rule; the message says which
	ErrNotFound = errors.New("not found")      // no such organisation, user or credential
	ErrExists   = errors.New("already exists") // a code or email address already taken
	ErrScope    = errors.New("outside your organisation")
	ErrClosed   = errors.New("auth: closed")
)

// Grant is one role a user holds, at one organisation.
type Grant struct {
	Role Role   `json:"role"`
	Org  string `json:"org"` // ODS code
	// OnBehalfOf is the user ID of the clinician (B1110) a clinician admin
	// (B1115) acts for; empty for every other role.
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
}

// Phone is a registered phone number, to which sign-in codes go.
type Phone struct {
	Number string `json:"number"`          // E.164, +44…
	Label  string `json:"label,omitempty"` // "mobile", "work", …
}

// Mobile reports whether the number can receive text messages.
func (p Phone) Mobile() bool { return notify.IsUKMobile(p.Number) }

// Masked shows the last three digits only, for pages that must tell
// numbers apart without showing them: "07••• •••123".
func (p Phone) Masked() string { return maskPhone(p.Number) }

func maskPhone(e164 string) string {
	if len(e164) < 6 {
		return "•••"
	}
	lead := "0" + e164[3:4] // +447… → 07
	return lead + "••• •••" + e164[len(e164)-3:]
}

// User is an account, without its secrets.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"` // normalised: lower case
	Name  string `json:"name"`
	// GDCNumber is the General Dental Council registration number;
	// required for referrers.
	GDCNumber string    `json:"gdc_number,omitempty"`
	Phones    []Phone   `json:"phones"`
	Grants    []Grant   `json:"grants"`
	Disabled  bool      `json:"disabled,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	// HasPassword is false until a password is set (by an administrator or
	// through reset).
	HasPassword bool `json:"has_password"`
}

// NewUser is what an administrator gives to create an account.
type NewUser struct {
	Email     string  `json:"email"`
	Name      string  `json:"name"`
	GDCNumber string  `json:"gdc_number,omitempty"`
	Phones    []Phone `json:"phones"`
	Grants    []Grant `json:"grants"`
	// Password is optional: without one, the user sets it through
	// password reset, with their phone.
	Password string `json:"password,omitempty"`
}

// userRecord is a User as stored, with its password hash.
type userRecord struct {
	User
	PasswordHash      string    `json:"password_hash,omitempty"`
	PasswordChangedAt time.Time `json:"password_changed_at,omitzero"`
}

func (u *userRecord) public() User {
	v := u.User
	v.HasPassword = u.PasswordHash != ""
	v.Phones = append([]Phone(nil), u.Phones...)
	v.Grants = append([]Grant(nil), u.Grants...)
	return v
}

// holds reports whether u holds g.
func (u *User) holds(g Grant) bool {
	for _, h := range u.Grants {
		if h == g {
			return true
		}
	}
	return false
}

// NormalizeEmail checks an email address and returns it in lower case.
// It takes a bare address only ("a.smith@nhs.net", not "A Smith <…>").
func NormalizeEmail(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", fmt.Errorf("%w: email address is empty", ErrInvalid)
	}
	if len(s) > 254 {
		return "", fmt.Errorf("%w: email address is longer than 254 characters", ErrInvalid)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", fmt.Errorf("%w: %q is not an email address of the form name@example.nhs.net", ErrInvalid, s)
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, "[") {
		return "", fmt.Errorf("%w: the email address %q needs a domain name such as nhs.net", ErrInvalid, s)
	}
	return strings.ToLower(s), nil
}

// IsNHSMail reports whether a normalised address is an NHSmail one
// (@nhs.net), which Molar prefers: it is the NHS's secure, assured email.
func IsNHSMail(email string) bool { return strings.HasSuffix(email, "@nhs.net") }

// ValidateGDC checks a General Dental Council registration number: 5 or
// 6 digits (spaces ignored). It returns the digits.
func ValidateGDC(raw string) (string, error) {
	s := strings.ReplaceAll(strings.TrimSpace(raw), " ", "")
	if !isDigits(s) || len(s) < 5 || len(s) > 6 {
		return "", fmt.Errorf("%w: a GDC registration number is 5 or 6 digits", ErrInvalid)
	}
	return s, nil
}

// NormalizePhone checks a UK phone number for registration and returns it
// in E.164 form. Landlines are allowed (codes can be read out by voice
// call); SMS is offered only to mobiles.
func NormalizePhone(raw string) (string, error) {
	n, err := notify.NormalizeUKPhone(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return n, nil
}

// Password rules: long enough to resist guessing with the lockout in
// front of it, short enough that hashing it is not a denial of service.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 256
)

// checkPassword applies the password rules.
func checkPassword(pw, email string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinPasswordLen:
		return fmt.Errorf("%w: a password needs at least %d characters", ErrInvalid, MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return fmt.Errorf("%w: a password may have at most %d bytes", ErrInvalid, MaxPasswordLen)
	case !utf8.ValidString(pw):
		return fmt.Errorf("%w: the password is not valid text", ErrInvalid)
	case email != "" && strings.EqualFold(pw, email):
		return fmt.Errorf("%w: the password must not be the email address", ErrInvalid)
	}
	return nil
}
