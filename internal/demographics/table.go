package demographics

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/molar-pacs/molar/internal/nhsnumber"
)

// maxTableMatches is the most patients a Table search returns, as PDS
// returns at most 50 in healthcare-worker access.
const maxTableMatches = 50

// Table is a local demographics table held in memory. It is immutable once
// made and safe for concurrent use.
type Table struct {
	people  []Person       // as loaded, NHS numbers normalised
	byNHS   map[string]int // NHS number → index in people
	byBirth map[string][]int
	folded  []foldedPerson // match keys, by index in people
}

// foldedPerson is the match keys of one person.
type foldedPerson struct {
	family   string
	given    []string // each given name, then all of them together
	postcode string
}

// NewTable returns a Table of people. Each must have a valid NHS number
// (normalised in the copy the table keeps), a family name and a birth date
// written YYYY-MM-DD, and no number may appear twice; errors name the
// person by index.
func NewTable(people []Person) (*Table, error) {
	t := &Table{byNHS: make(map[string]int, len(people)), byBirth: make(map[string][]int)}
	for i, p := range people {
		if err := t.add(p); err != nil {
			var dup *duplicateError
			if errors.As(err, &dup) {
				return nil, fmt.Errorf("demographics: new table: person %d: NHS number already given for person %d", i, dup.first)
			}
			return nil, fmt.Errorf("demographics: new table: person %d: %w", i, err)
		}
	}
	return t, nil
}

type duplicateError struct{ first int }

func (e *duplicateError) Error() string { return "duplicate NHS number" }

// add checks p and appends it.
func (t *Table) add(p Person) error {
	n, err := nhsnumber.Normalize(p.NHSNumber)
	if err != nil {
		return fmt.Errorf("NHS number: %w", err)
	}
	p.NHSNumber = n
	if strings.TrimSpace(p.Family) == "" {
		return errors.New("no family name")
	}
	if p.BirthDate == "" {
		return errors.New("no date of birth")
	}
	if err := checkDate(p.BirthDate); err != nil {
		return fmt.Errorf("date of birth: %w", err)
	}
	p.Gender = strings.ToLower(p.Gender)
	if p.Gender != "" && !validGender(p.Gender) {
		return fmt.Errorf("gender %q is not one of male, female, other or unknown", p.Gender)
	}
	if first, ok := t.byNHS[n]; ok {
		return &duplicateError{first: first}
	}
	p.Given = slices.Clone(p.Given)
	p.Address = slices.Clone(p.Address)
	p.Superseded, p.Score = "", 0
	i := len(t.people)
	t.people = append(t.people, p)
	t.byNHS[n] = i
	t.byBirth[p.BirthDate] = append(t.byBirth[p.BirthDate], i)
	f := foldedPerson{family: fold(p.Family), postcode: fold(p.Postcode)}
	for _, g := range p.Given {
		f.given = append(f.given, fold(g))
	}
	if len(p.Given) > 1 {
		f.given = append(f.given, fold(strings.Join(p.Given, "")))
	}
	t.folded = append(t.folded, f)
	return nil
}

// Len returns the number of people in the table.
func (t *Table) Len() int { return len(t.people) }

// The CSV columns LoadTable knows.
var tableColumns = []string{"nhs_number", "family", "given", "birth_date", "gender", "postcode", "address", "phone", "gp_practice", "restricted", "deceased"}

var requiredColumns = []string{"nhs_number", "family", "birth_date"}

// LoadTable reads a Table from a CSV file in the format the package
// documentation describes. Errors name the file and the line.
func LoadTable(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("demographics: load table: %w", err)
	}
	defer f.Close()
	t, err := readTable(f)
	if err != nil {
		return nil, fmt.Errorf("demographics: load table %s: %w", path, err)
	}
	return t, nil
}

// readTable parses the CSV format.
func readTable(r io.Reader) (*Table, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty file: the first line must name the columns")
	}
	if err != nil {
		return nil, err
	}
	headerLine, _ := cr.FieldPos(0)
	col := make(map[string]int, len(header))
	for i, name := range header {
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff")
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if !slices.Contains(tableColumns, name) {
			return nil, fmt.Errorf("line %d: unknown column %q (known: %s)", headerLine, name, strings.Join(tableColumns, ", "))
		}
		if _, dup := col[name]; dup {
			return nil, fmt.Errorf("line %d: column %q appears twice", headerLine, name)
		}
		col[name] = i
	}
	for _, name := range requiredColumns {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("line %d: no %q column", headerLine, name)
		}
	}
	t := &Table{byNHS: make(map[string]int), byBirth: make(map[string][]int)}
	lines := []int{} // line of each person, for duplicate errors
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err // *csv.ParseError names the line
		}
		line, _ := cr.FieldPos(0)
		field := func(name string) string {
			if i, ok := col[name]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		p := Person{
			NHSNumber:  field("nhs_number"),
			Family:     field("family"),
			Given:      strings.Fields(field("given")),
			BirthDate:  field("birth_date"),
			Gender:     field("gender"),
			Postcode:   strings.ToUpper(field("postcode")),
			Phone:      field("phone"),
			GPPractice: strings.ToUpper(field("gp_practice")),
		}
		for _, l := range strings.Split(field("address"), "|") {
			if l = strings.TrimSpace(l); l != "" {
				p.Address = append(p.Address, l)
			}
		}
		for _, b := range []struct {
			name string
			dst  *bool
		}{{"restricted", &p.Restricted}, {"deceased", &p.Deceased}} {
			v, ok := parseBool(field(b.name))
			if !ok {
				return nil, fmt.Errorf("line %d: %s: %q is not yes or no", line, b.name, field(b.name))
			}
			*b.dst = v
		}
		if err := t.add(p); err != nil {
			var dup *duplicateError
			if errors.As(err, &dup) {
				return nil, fmt.Errorf("line %d: the same NHS number is on line %d", line, lines[dup.first])
			}
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		lines = append(lines, line)
	}
	return t, nil
}

func parseBool(s string) (v, ok bool) {
	switch strings.ToLower(s) {
	case "", "false", "no", "n", "0":
		return false, true
	case "true", "yes", "y", "1":
		return true, true
	}
	return false, false
}

// Lookup returns the person with an NHS number (spaces and hyphens
// allowed): ErrNotFound if the table has none, ErrInvalidQuery (and the
// internal/nhsnumber error) if the number is malformed.
func (t *Table) Lookup(ctx context.Context, nhsNumber string) (Person, error) {
	if err := ctxErr(ctx, "lookup"); err != nil {
		return Person{}, err
	}
	n, err := nhsnumber.Normalize(nhsNumber)
	if err != nil {
		return Person{}, fmt.Errorf("%w: %w", ErrInvalidQuery, err)
	}
	i, ok := t.byNHS[n]
	if !ok {
		return Person{}, ErrNotFound
	}
	return t.person(i), nil
}

// person returns a copy of person i that the caller may keep and change.
func (t *Table) person(i int) Person {
	p := t.people[i]
	p.Given = slices.Clone(p.Given)
	p.Address = slices.Clone(p.Address)
	return withheld(p)
}

// Search returns the people matching q, sorted by family name, given names
// and NHS number, each with Score 1. See the package documentation for the
// matching rules.
func (t *Table) Search(ctx context.Context, q Query) ([]Person, error) {
	if err := ctxErr(ctx, "search"); err != nil {
		return nil, err
	}
	q, err := q.validate()
	if err != nil {
		return nil, err
	}
	family, given, postcode := fold(q.Family), fold(q.Given), fold(q.Postcode)
	var found []int
	for _, i := range t.byBirth[q.BirthDate] {
		p, f := &t.people[i], &t.folded[i]
		if !globMatch(family, f.family) {
			continue
		}
		if q.Gender != "" && p.Gender != q.Gender {
			continue
		}
		if given != "" && !slices.ContainsFunc(f.given, func(g string) bool { return globMatch(given, g) }) {
			continue
		}
		if postcode != "" && (p.Restricted || !globMatch(postcode, f.postcode)) {
			continue
		}
		found = append(found, i)
	}
	switch {
	case len(found) == 0:
		return nil, ErrNotFound
	case len(found) > maxTableMatches:
		return nil, fmt.Errorf("%w: %d patients match; add a given name or a postcode", ErrTooManyMatches, len(found))
	}
	out := make([]Person, len(found))
	for k, i := range found {
		out[k] = t.person(i)
		out[k].Score = 1
	}
	slices.SortFunc(out, func(a, b Person) int {
		return cmp.Or(
			strings.Compare(fold(a.Family), fold(b.Family)),
			slices.Compare(a.Given, b.Given),
			strings.Compare(a.NHSNumber, b.NHSNumber))
	})
	return out, nil
}
