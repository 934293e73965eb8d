package demographics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/molar-pacs/molar/internal/match"
)

// Person is one patient's demographic details, as a trace returns them.
type Person struct {
	NHSNumber  string   // 10 digits
	Family     string   // family name (surname)
	Given      []string // given names, first name first
	BirthDate  string   // YYYY-MM-DD
	Gender     string   // male, female, other or unknown (FHIR administrative gender); "" if not recorded
	Postcode   string   // of the home address
	Address    []string // lines of the home address, without the postcode
	Phone      string   // a phone number, a mobile one when there is one
	GPPractice string   // ODS code of the registered GP practice
	// Restricted is set for a patient whose record carries a PDS security
	// label R (restricted), V (very restricted) or REDACTED: where they live
	// must not be shown. Postcode, Address, Phone and GPPractice are then
	// always empty.
	Restricted bool
	Deceased   bool
	// Superseded is the NHS number that was asked for when PDS answered with
	// the record that replaced it (NHSNumber is then the new number).
	Superseded string
	// Score is how well a search matched, from PDS's search score: 1 for an
	// exact match, less for a partial one. 0 for Lookup.
	Score float64
}

// Query is a search for patients by their details. Family and BirthDate are
// required; empty fields are not used.
type Query struct {
	Family    string
	Given     string
	BirthDate string // YYYY-MM-DD
	Gender    string // male, female, other or unknown
	Postcode  string
}

// Errors of both sources, matched with errors.Is.
var (
	// ErrNotFound: no patient has this NHS number, or matches the query.
	ErrNotFound = errors.New("demographics: no patient found")
	// ErrTooManyMatches: the query matches too many patients to list; a
	// narrower query (given name, postcode) may find one.
	ErrTooManyMatches = errors.New("demographics: too many matching patients")
	// ErrInvalidQuery: a malformed NHS number, a query without the required
	// fields, or one PDS refused as invalid.
	ErrInvalidQuery = errors.New("demographics: invalid query")
)

// Genders are the FHIR administrative gender codes PDS uses.
var genders = []string{"male", "female", "other", "unknown"}

// validate checks a query as PDS would, and returns it trimmed, with the
// gender in lower case.
func (q Query) validate() (Query, error) {
	q.Family = strings.TrimSpace(q.Family)
	q.Given = strings.TrimSpace(q.Given)
	q.BirthDate = strings.TrimSpace(q.BirthDate)
	q.Gender = strings.ToLower(strings.TrimSpace(q.Gender))
	q.Postcode = strings.TrimSpace(q.Postcode)
	if q.Family == "" {
		return q, fmt.Errorf("%w: a family name is required", ErrInvalidQuery)
	}
	if q.BirthDate == "" {
		return q, fmt.Errorf("%w: a date of birth is required", ErrInvalidQuery)
	}
	if err := checkDate(q.BirthDate); err != nil {
		return q, fmt.Errorf("%w: date of birth: %w", ErrInvalidQuery, err)
	}
	if q.Gender != "" && !validGender(q.Gender) {
		return q, fmt.Errorf("%w: gender %q is not one of male, female, other or unknown", ErrInvalidQuery, q.Gender)
	}
	for _, f := range []struct{ name, value string }{{"family name", q.Family}, {"given name", q.Given}, {"postcode", q.Postcode}} {
		if i := strings.IndexByte(f.value, '*'); i >= 0 && len([]rune(f.value[:i])) < 2 {
			return q, fmt.Errorf("%w: %s: a wildcard (*) must follow at least two characters", ErrInvalidQuery, f.name)
		}
	}
	return q, nil
}

func validGender(g string) bool {
	for _, v := range genders {
		if g == v {
			return true
		}
	}
	return false
}

// checkDate checks a YYYY-MM-DD date.
func checkDate(s string) error {
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return fmt.Errorf("%q is not a date written YYYY-MM-DD", s)
	}
	return nil
}

// fold is the form names and postcodes are compared in: accents removed and
// upper case (internal/match's name normalisation), without spaces,
// hyphens, apostrophes or full stops. "O'Brien-Smith" and "obrien smith"
// fold alike.
func fold(s string) string {
	s = match.NormalizeName(strings.NewReplacer("^", " ", "=", " ").Replace(s))
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '\'', '’', '.', '\u2010', '\u2011', '\u2013':
			return -1
		}
		return r
	}, s)
}

// globMatch reports whether the folded value matches the folded pattern, in
// which '*' stands for any run of characters.
func globMatch(pattern, value string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == value
	}
	if !strings.HasPrefix(value, parts[0]) {
		return false
	}
	value = value[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(value, p)
		if i < 0 {
			return false
		}
		value = value[i+len(p):]
	}
	return strings.HasSuffix(value, last)
}

// withheld returns p without the details a restricted patient's record
// must not show.
func withheld(p Person) Person {
	if p.Restricted {
		p.Postcode, p.Address, p.Phone, p.GPPractice = "", nil, "", ""
	}
	return p
}

// ctxErr returns the context's error, wrapped, if it is done.
func ctxErr(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("demographics: %s: %w", op, err)
	}
	return nil
}
