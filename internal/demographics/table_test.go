package demographics

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/nhsnumber"
)

func loadPeople(t *testing.T) *Table {
	t.Helper()
	tab, err := LoadTable(filepath.Join("testdata", "people.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestLoadTable(t *testing.T) {
	tab := loadPeople(t)
	if tab.Len() != 7 {
		t.Fatalf("Len = %d, want 7", tab.Len())
	}
	got, err := tab.Lookup(context.Background(), "999 234 5675")
	if err != nil {
		t.Fatal(err)
	}
	want := Person{
		NHSNumber:  "9992345675",
		Family:     "Featherstone",
		Given:      []string{"Marnie", "Elspeth"},
		BirthDate:  "1987-03-14",
		Gender:     "female",
		Postcode:   "LS5 3QX",
		Address:    []string{"14 Larkspur Row", "Kirkstall", "Leeds, West Yorkshire"},
		Phone:      "07700 900123",
		GPPractice: "Y12345",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Lookup:\n got %+v\nwant %+v", got, want)
	}
	// Upper-cased postcode and ODS code, booleans read.
	p, _ := tab.Lookup(context.Background(), "9997037014")
	if p.Postcode != "YO21 9QQ" || p.GPPractice != "Y34567" || p.Restricted || p.Deceased {
		t.Errorf("Lookup(9997037014) = %+v", p)
	}
	// Restricted: where the patient lives is withheld.
	p, _ = tab.Lookup(context.Background(), "9999382681")
	if !p.Restricted || !p.Deceased || p.Postcode != "" || p.Address != nil || p.Phone != "" || p.GPPractice != "" || p.Family != "Thistlewood" {
		t.Errorf("restricted patient: %+v", p)
	}
	// The copy returned is the caller's.
	p, _ = tab.Lookup(context.Background(), "9992345675")
	p.Given[0] = "Changed"
	p.Address[0] = "Changed"
	if p2, _ := tab.Lookup(context.Background(), "9992345675"); p2.Given[0] != "Marnie" || p2.Address[0] != "14 Larkspur Row" {
		t.Errorf("the table shares slices with its callers: %+v", p2)
	}
}

func TestTableLookupErrors(t *testing.T) {
	tab := loadPeople(t)
	tests := []struct {
		in   string
		want []error
	}{
		{"9998765366", []error{ErrNotFound}},
		{"999 876 536", []error{ErrInvalidQuery, nhsnumber.ErrLength}},
		{"9998765367", []error{ErrInvalidQuery, nhsnumber.ErrCheckDigit}},
		{"", []error{ErrInvalidQuery, nhsnumber.ErrLength}},
	}
	for _, tt := range tests {
		_, err := tab.Lookup(context.Background(), tt.in)
		for _, w := range tt.want {
			if !errors.Is(err, w) {
				t.Errorf("Lookup(%q) = %v; want it to match %v", tt.in, err, w)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tab.Lookup(ctx, "9992345675"); !errors.Is(err, context.Canceled) {
		t.Errorf("Lookup with a cancelled context: %v", err)
	}
	if _, err := tab.Search(ctx, Query{Family: "Featherstone", BirthDate: "1987-03-14"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Search with a cancelled context: %v", err)
	}
}

func numbers(ps []Person) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.NHSNumber)
	}
	return out
}

func TestTableSearch(t *testing.T) {
	tab := loadPeople(t)
	tests := []struct {
		name string
		q    Query
		want []string // NHS numbers, in order
		err  error
	}{
		{"family and birth date", Query{Family: "Featherstone", BirthDate: "1987-03-14"},
			[]string{"9992222069", "9999876390", "9992345675"}, nil}, // Abel, Marnie, Marnie Elspeth
		{"case and spaces", Query{Family: " featherSTONE ", Given: "marnie elspeth", BirthDate: "1987-03-14"},
			[]string{"9992345675"}, nil},
		{"one of the given names", Query{Family: "Featherstone", Given: "Elspeth", BirthDate: "1987-03-14"},
			[]string{"9992345675"}, nil},
		{"given names together", Query{Family: "Featherstone", Given: "MarnieElspeth", BirthDate: "1987-03-14"},
			[]string{"9992345675"}, nil},
		{"gender", Query{Family: "Featherstone", BirthDate: "1987-03-14", Gender: "Male"},
			[]string{"9992222069"}, nil},
		{"postcode without space", Query{Family: "Featherstone", Given: "Marnie", BirthDate: "1987-03-14", Postcode: "ls53qx"},
			[]string{"9992345675"}, nil},
		{"postcode wildcard", Query{Family: "Featherstone", BirthDate: "1987-03-14", Postcode: "LS*"},
			[]string{"9992222069", "9992345675"}, nil},
		{"family wildcard", Query{Family: "Feather*", Given: "Ab*", BirthDate: "1987-03-14"},
			[]string{"9992222069"}, nil},
		{"inner wildcard", Query{Family: "Fe*st*e", Given: "Abel", BirthDate: "1987-03-14"},
			[]string{"9992222069"}, nil},
		{"accents, apostrophes and hyphens", Query{Family: "obrien smith", Given: "Siobhan", BirthDate: "1990-05-05"},
			[]string{"9997530721"}, nil},
		{"restricted found without postcode", Query{Family: "Thistlewood", BirthDate: "1975-11-30"},
			[]string{"9999382681"}, nil},
		{"restricted never matched by postcode", Query{Family: "Thistlewood", BirthDate: "1975-11-30", Postcode: "LS6 9QQ"},
			nil, ErrNotFound},
		{"wrong birth date", Query{Family: "Featherstone", BirthDate: "1987-03-15"}, nil, ErrNotFound},
		{"wrong given name", Query{Family: "Featherstone", Given: "Mar", BirthDate: "1987-03-14"}, nil, ErrNotFound},
		{"no family", Query{BirthDate: "1987-03-14"}, nil, ErrInvalidQuery},
		{"no birth date", Query{Family: "Featherstone"}, nil, ErrInvalidQuery},
		{"birth date format", Query{Family: "Featherstone", BirthDate: "14/03/1987"}, nil, ErrInvalidQuery},
		{"impossible birth date", Query{Family: "Featherstone", BirthDate: "1987-02-30"}, nil, ErrInvalidQuery},
		{"gender code", Query{Family: "Featherstone", BirthDate: "1987-03-14", Gender: "F"}, nil, ErrInvalidQuery},
		{"wildcard too early", Query{Family: "F*", BirthDate: "1987-03-14"}, nil, ErrInvalidQuery},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tab.Search(context.Background(), tt.q)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || got != nil {
					t.Fatalf("Search = %v, %v; want %v", numbers(got), err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(numbers(got), tt.want) {
				t.Fatalf("Search = %v, %v; want %v", numbers(got), err, tt.want)
			}
			for _, p := range got {
				if p.Score != 1 {
					t.Errorf("%s: score %v", p.NHSNumber, p.Score)
				}
				if p.Restricted && (p.Postcode != "" || p.Address != nil || p.Phone != "" || p.GPPractice != "") {
					t.Errorf("restricted %s returned with location details: %+v", p.NHSNumber, p)
				}
			}
		})
	}
}

func TestTableTooManyMatches(t *testing.T) {
	var people []Person
	for i := 0; len(people) <= maxTableMatches; i++ {
		nine := fmt.Sprintf("999%06d", 100000+i)
		c, ok := nhsnumber.CheckDigit(nine)
		if !ok {
			continue
		}
		people = append(people, Person{NHSNumber: nine + string(c), Family: "Smith", BirthDate: "1990-01-01"})
	}
	tab, err := NewTable(people)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Search(context.Background(), Query{Family: "Smith", BirthDate: "1990-01-01"}); !errors.Is(err, ErrTooManyMatches) {
		t.Errorf("%d matches: %v; want ErrTooManyMatches", len(people), err)
	}
	tab, _ = NewTable(people[:maxTableMatches])
	if got, err := tab.Search(context.Background(), Query{Family: "Smith", BirthDate: "1990-01-01"}); err != nil || len(got) != maxTableMatches {
		t.Errorf("%d matches: %d, %v", maxTableMatches, len(got), err)
	}
}

func TestNewTableErrors(t *testing.T) {
	ok := Person{NHSNumber: "9992345675", Family: "A", BirthDate: "2000-01-01"}
	tests := []struct {
		name   string
		people []Person
		want   string
	}{
		{"bad number", []Person{ok, {NHSNumber: "9992345676", Family: "B", BirthDate: "2000-01-01"}}, "person 1: NHS number: This is not a valid NHS number"},
		{"duplicate", []Person{ok, {NHSNumber: "999 234 5675", Family: "B", BirthDate: "2000-01-01"}}, "person 1: NHS number already given for person 0"},
		{"no family", []Person{{NHSNumber: "9992345675", BirthDate: "2000-01-01"}}, "person 0: no family name"},
		{"no birth date", []Person{{NHSNumber: "9992345675", Family: "A"}}, "person 0: no date of birth"},
		{"gender", []Person{{NHSNumber: "9992345675", Family: "A", BirthDate: "2000-01-01", Gender: "f"}}, `person 0: gender "f"`},
	}
	for _, tt := range tests {
		_, err := NewTable(tt.people)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: NewTable: %v; want %q", tt.name, err, tt.want)
		}
	}
	// NewTable keeps its own copy.
	people := []Person{{NHSNumber: "999 234 5675", Family: "A", Given: []string{"X"}, BirthDate: "2000-01-01"}}
	tab, err := NewTable(people)
	if err != nil {
		t.Fatal(err)
	}
	people[0].Given[0] = "Y"
	if p, _ := tab.Lookup(context.Background(), "9992345675"); p.Given[0] != "X" || p.NHSNumber != "9992345675" {
		t.Errorf("Lookup = %+v", p)
	}
}

func TestLoadTableErrors(t *testing.T) {
	const header = "nhs_number,family,given,birth_date\n"
	tests := []struct {
		name, csv, want string
	}{
		{"empty", "", "empty file"},
		{"unknown column", "nhs_number,family,birthdate\n", `line 1: unknown column "birthdate"`},
		{"duplicate column", "nhs_number,family,family,birth_date\n", `line 1: column "family" appears twice`},
		{"missing column", "nhs_number,given,birth_date\n", `line 1: no "family" column`},
		{"comment before header", "# people\n\nnhs_number,family\n", `line 3: no "birth_date" column`},
		{"bad number", header + "9992345675,A,,2000-01-01\n9992345676,B,,2000-01-01\n", "line 3: NHS number: This is not a valid NHS number: please check the digits."},
		{"short number", header + "999234567,A,,2000-01-01\n", "line 2: NHS number: An NHS number has 10 digits; this has 9."},
		{"duplicate number", header + "9992345675,A,,2000-01-01\n# x\n999 234 5675,B,,2000-01-01\n", "line 4: the same NHS number is on line 2"},
		{"no family", header + "9992345675,,,2000-01-01\n", "line 2: no family name"},
		{"bad date", header + "9992345675,A,,01/01/2000\n", `line 2: date of birth: "01/01/2000" is not a date written YYYY-MM-DD`},
		{"field count", header + "9992345675,A,2000-01-01\n", "record on line 2: wrong number of fields"},
		{"quoted line break", header + "9992345675,\"A\nB\",,2000-01-01\n9994691341,C,,2000-13-01\n", "line 4: date of birth"},
		{"bad gender", "nhs_number,family,birth_date,gender\n9992345675,A,2000-01-01,woman\n", `line 2: gender "woman"`},
		{"bad boolean", "nhs_number,family,birth_date,restricted\n9992345675,A,2000-01-01,maybe\n", `line 2: restricted: "maybe" is not yes or no`},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("t%d.csv", i))
			if err := os.WriteFile(path, []byte(tt.csv), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadTable(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("LoadTable: %v; want the file name and %q", err, tt.want)
			}
		})
	}
	if _, err := LoadTable(filepath.Join(dir, "missing.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	// A byte-order mark (spreadsheet exports) and CRLF line ends are fine.
	path := filepath.Join(dir, "bom.csv")
	os.WriteFile(path, []byte("\ufeffNHS_Number,Family,Birth_Date\r\n9992345675,A,2000-01-01\r\n"), 0o600)
	if tab, err := LoadTable(path); err != nil || tab.Len() != 1 {
		t.Errorf("BOM and CRLF: %v", err)
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, value string
		want           bool
	}{
		{"SMITH", "SMITH", true},
		{"SMITH", "SMITHS", false},
		{"SM*", "SMITH", true},
		{"SM*", "SM", true},
		{"SM*", "S", false},
		{"BR*W*", "BROWN", true},
		{"BR*W*", "BROWER", true},
		{"BR*W*", "BRAND", false},
		{"AB*B", "AB", false},
		{"AB*B", "ABB", true},
		{"A*A*A", "AA", false},
		{"A*A*A", "AAA", true},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.value); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v", tt.pattern, tt.value, got)
		}
	}
}

func TestFold(t *testing.T) {
	tests := []struct{ in, want string }{
		{"O'Brien-Smith", "OBRIENSMITH"},
		{"o’brien smith", "OBRIENSMITH"},
		{"Siobhán", "SIOBHAN"},
		{"Müller", "MULLER"},
		{" ls1 6ae ", "LS16AE"},
		{"St. John", "STJOHN"},
		{"A^B=C", "ABC"},
	}
	for _, tt := range tests {
		if got := fold(tt.in); got != tt.want {
			t.Errorf("fold(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
