package auth

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// OrgKind is what an organisation is to Molar.
type OrgKind string

// The kinds of organisation.
const (
	KindPractice     OrgKind = "dental-practice" // refers patients
	KindProvider     OrgKind = "provider"        // NHS trust or independent provider: triages and treats
	KindCommissioner OrgKind = "commissioner"    // ICB (or Welsh health board): commissions the service
)

// Valid reports whether k is one of the kinds above.
func (k OrgKind) Valid() bool {
	return k == KindPractice || k == KindProvider || k == KindCommissioner
}

// Organisation is a practice, provider or commissioner, or a site
// (location) of one, known by its ODS code.
type Organisation struct {
	Code string  `json:"code"`
	Name string  `json:"name"`
	Kind OrgKind `json:"kind"`
	// Parent is the HQ code a site or location belongs to; empty for an
	// organisation.
	Parent    string    `json:"parent,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// ErrInvalidODS is wrapped by the errors of codes that are not ODS codes
// of the kind they are said to be.
var ErrInvalidODS = errors.New("invalid ODS code")

// NormalizeODS trims spaces and upper-cases a code as people type it.
func NormalizeODS(code string) string {
	return strings.ToUpper(strings.TrimSpace(code))
}

// The ODS code formats Molar accepts. ODS codes are 3 to 9 upper-case
// letters and digits whose shape says what they identify ("coding
// frames", NHS Data Model and Dictionary: Organisation Coding Frames and
// Organisation Site Coding Frames). Sources, and what was taken from them:
//
//   - Dental practices: "V" and 5 digits, as ODS publishes them (e.g.
//     V03462, digital.nhs.uk "Organisations and services"); since February
//     2021 new NHS practices get 7-character codes, "V" and 6 digits (ODS
//     reference data catalogue, "General Dental Practices"). NHS BSA's own
//     data puts a "0" after the V of the older codes; ODS publishes them
//     without it, and both forms pass here.
//   - NHS trusts: "R" and 2 letters or digits (e.g. RH8); their sites add 2
//     more (RH802, the site coding frames' example).
//   - Independent sector healthcare providers: "N" and 2 (sites NV701 of
//     NV7, the site coding frames' C frame), or the older non-NHS
//     independent provider frame, "8" and 4 (e.g. 8HA03).
//   - Welsh local health boards, providers and commissioners both: "7A"
//     and a digit (7A1; sites 7A101).
//   - Commissioners: integrated care boards, "Q" and 2 (QF7, QNQ); their
//     sub-ICB locations keep the old CCG codes, 2 digits and a letter (02P,
//     99E).
//   - Since 1 October 2020 (ISN0090) new organisation and site codes are
//     letter-digit-letter-digit-letter (e.g. D4U1Y), allocated at random,
//     so their shape says nothing of their parent: accepted for providers,
//     provider sites and commissioner locations.
//
// Practices have no sites in Molar (ODS gives each practice location its
// own V code), and sites have no sites below them.

// ValidateODS checks that code (already normalised) is an ODS code for an
// organisation of kind k: an HQ when parent is empty, otherwise a site or
// location below parent. It does not check that parent exists.
func ValidateODS(code string, k OrgKind, parent string) error {
	bad := func(rule string) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidODS, code, rule)
	}
	if code == "" {
		return fmt.Errorf("%w: the code is empty", ErrInvalidODS)
	}
	if !isAlnumUpper(code) {
		return bad("ODS codes are upper-case letters and digits only")
	}
	switch k {
	case KindPractice:
		if parent != "" {
			return bad("a dental practice has no parent in Molar: each practice location has its own V code")
		}
		if code[0] == 'V' && isDigits(code[1:]) && (len(code) == 6 || len(code) == 7) {
			return nil
		}
		return bad("a dental practice code is V followed by 5 or 6 digits (e.g. V03462 or V012345)")
	case KindProvider:
		if parent == "" {
			if isProviderHQ(code) {
				return nil
			}
			return bad("a provider's code is R and 2 letters or digits (NHS trust, e.g. RH8), " +
				"N and 2 (independent sector provider, e.g. NV7), 7A and a digit (Welsh health board, e.g. 7A1), " +
				"8 and 4 (independent provider, e.g. 8HA03), or letter-digit-letter-digit-letter (codes issued since October 2020, e.g. A1B2C)")
		}
		if len(parent) == 3 && len(code) == 5 && strings.HasPrefix(code, parent) {
			return nil
		}
		if isANANA(code) {
			return nil
		}
		if len(parent) == 3 {
			return bad(fmt.Sprintf("a site of %s is %s and 2 letters or digits (e.g. %s01), or letter-digit-letter-digit-letter", parent, parent, parent))
		}
		return bad(fmt.Sprintf("a site of %s is letter-digit-letter-digit-letter (e.g. A1B2C)", parent))
	case KindCommissioner:
		if parent == "" {
			if len(code) == 3 && (code[0] == 'Q' || strings.HasPrefix(code, "7A") && isDigits(code[2:])) {
				return nil
			}
			return bad("a commissioner's code is Q and 2 letters or digits (integrated care board, e.g. QF7) or 7A and a digit (Welsh health board, e.g. 7A1)")
		}
		if len(code) == 3 && isDigits(code[:2]) && isUpper(code[2]) || isANANA(code) {
			return nil
		}
		return bad("a commissioner's location (sub-ICB location) is 2 digits and a letter (e.g. 02P) or letter-digit-letter-digit-letter (e.g. D4U1Y)")
	}
	return fmt.Errorf("%w %q: unknown kind of organisation %q", ErrInvalidODS, code, k)
}

func isProviderHQ(code string) bool {
	switch {
	case len(code) == 3 && (code[0] == 'R' || code[0] == 'N'):
		return true
	case len(code) == 3 && strings.HasPrefix(code, "7A") && isDigits(code[2:]):
		return true
	case len(code) == 5 && code[0] == '8':
		return true
	}
	return isANANA(code)
}

// isANANA reports whether code is in the ISN0090 letter-digit-letter-
// digit-letter format.
func isANANA(code string) bool {
	if len(code) != 5 {
		return false
	}
	for i := range 5 {
		if i%2 == 0 && !isUpper(code[i]) || i%2 == 1 && !isDigit(code[i]) {
			return false
		}
	}
	return true
}

func isAlnumUpper(s string) bool {
	for i := range len(s) {
		if !isUpper(s[i]) && !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := range len(s) {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

// validate checks o's own fields; the parent's existence and kind are
// checked against the store.
func (o *Organisation) validate() error {
	o.Code = NormalizeODS(o.Code)
	o.Parent = NormalizeODS(o.Parent)
	o.Name = strings.TrimSpace(o.Name)
	if !o.Kind.Valid() {
		return fmt.Errorf("%w: kind of organisation %q: use %s, %s or %s", ErrInvalid, o.Kind, KindPractice, KindProvider, KindCommissioner)
	}
	if o.Name == "" || len(o.Name) > 200 {
		return fmt.Errorf("%w: an organisation needs a name of 1 to 200 characters", ErrInvalid)
	}
	if err := ValidateODS(o.Code, o.Kind, o.Parent); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}
