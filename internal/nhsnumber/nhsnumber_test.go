package nhsnumber

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Published NHS numbers with valid check digits.
var published = []struct {
	number, source string
}{
	{"9434765919", "NHS Data Dictionary, NHS Number: the worked Modulus 11 example"},
	{"9000000009", "PDS FHIR API sandbox: patient exists"},
	{"9000000017", "PDS FHIR API sandbox: patient with related people"},
	{"9000000025", "PDS FHIR API sandbox: restricted (sensitive) patient"},
	{"9000000033", "PDS FHIR API sandbox: patient with minimal data"},
	{"9111231130", "PDS FHIR API sandbox: valid number, patient does not exist"},
	{"9449305552", "PDS FHIR API integration test data pack"},
	{"9449306613", "PDS FHIR API integration test data pack"},
}

func TestNormalize(t *testing.T) {
	for _, p := range published {
		t.Run(p.number, func(t *testing.T) {
			got, err := Normalize(p.number)
			if err != nil || got != p.number {
				t.Fatalf("Normalize(%q) (%s) = %q, %v; want it valid", p.number, p.source, got, err)
			}
		})
	}
	tests := []struct {
		in      string
		want    string
		wantErr error
		msg     string
	}{
		{in: "943 476 5919", want: "9434765919"},
		{in: "943-476-5919", want: "9434765919"},
		{in: "  943 476 5919\t", want: "9434765919"},
		{in: "943\u00a0476\u00a05919", want: "9434765919"}, // pasted from a document
		{in: "9-4-3-4-7-6-5-9-1-9", want: "9434765919"},
		{in: "943 476 591", wantErr: ErrLength, msg: "An NHS number has 10 digits; this has 9."},
		{in: "943 476 59199", wantErr: ErrLength, msg: "An NHS number has 10 digits; this has 11."},
		{in: "", wantErr: ErrLength, msg: "An NHS number has 10 digits; this has 0."},
		{in: " - ", wantErr: ErrLength, msg: "An NHS number has 10 digits; this has 0."},
		{in: "943 476 5918", wantErr: ErrCheckDigit, msg: "This is not a valid NHS number: please check the digits."},
		// PDS sandbox: "Invalid NHS number: 9000000000".
		{in: "9000000000", wantErr: ErrCheckDigit},
		// Modulus 11 gives 10 for 999000000: no check digit can fit.
		{in: "9990000000", wantErr: ErrCheckDigit},
		{in: "9990000001", wantErr: ErrCheckDigit},
		{in: "9990000009", wantErr: ErrCheckDigit},
		{in: "943 476 591O", wantErr: ErrNotDigits, msg: `An NHS number has only digits; this has 'O' (is it a zero?).`},
		{in: "943 476 59l9", wantErr: ErrNotDigits, msg: `An NHS number has only digits; this has 'l' (is it a one?).`},
		{in: "943.476.5919", wantErr: ErrNotDigits, msg: `An NHS number has only digits; this has '.'.`},
		{in: "９４３４７６５９１９", wantErr: ErrNotDigits}, // fullwidth digits are not accepted
		{in: "943476591\xff", wantErr: ErrNotDigits, msg: "An NHS number has only digits; this has a character that cannot be read."},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Normalize(tt.in)
			if tt.wantErr == nil {
				if err != nil || got != tt.want {
					t.Fatalf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Normalize(%q) = %q, %v; want an error matching %v", tt.in, got, err, tt.wantErr)
			}
			if got != "" {
				t.Errorf("Normalize(%q) returned %q with its error", tt.in, got)
			}
			for _, other := range []error{ErrLength, ErrNotDigits, ErrCheckDigit} {
				if other != tt.wantErr && errors.Is(err, other) {
					t.Errorf("error %v also matches %v", err, other)
				}
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("message %q, want %q", err.Error(), tt.msg)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("%v is not an *Error", err)
			}
		})
	}
}

func TestValidAndFormat(t *testing.T) {
	tests := []struct {
		in     string
		valid  bool
		format string
	}{
		{"9434765919", true, "943 476 5919"},
		{"943-476-5919", true, "943 476 5919"},
		{"943 476 5919", true, "943 476 5919"},
		{"9434765918", false, "9434765918"},
		{"12345", false, "12345"},
		{"not a number", false, "not a number"},
	}
	for _, tt := range tests {
		if got := Valid(tt.in); got != tt.valid {
			t.Errorf("Valid(%q) = %v, want %v", tt.in, got, tt.valid)
		}
		if got := Format(tt.in); got != tt.format {
			t.Errorf("Format(%q) = %q, want %q", tt.in, got, tt.format)
		}
	}
}

func TestCheckDigit(t *testing.T) {
	for _, p := range published {
		c, ok := CheckDigit(p.number[:9])
		if !ok || c != p.number[9] {
			t.Errorf("CheckDigit(%q) = %q, %v; want %q", p.number[:9], c, ok, p.number[9])
		}
	}
	for _, bad := range []string{"999000000", "12345678", "1234567890", "12345678x"} {
		if c, ok := CheckDigit(bad); ok {
			t.Errorf("CheckDigit(%q) = %q, true; want false", bad, c)
		}
	}
}

// TestSingleErrorsDetected checks what Modulus 11 guarantees, over every
// valid number of a large sample: each single-digit substitution and each
// transposition of two neighbouring (different) digits gives a number that
// is not valid.
func TestSingleErrorsDetected(t *testing.T) {
	numbers := validSample(t, 20000)
	for _, p := range published {
		numbers = append(numbers, p.number)
	}
	subs, swaps := 0, 0
	for _, n := range numbers {
		b := []byte(n)
		for i := 0; i < Length; i++ {
			orig := b[i]
			for d := byte('0'); d <= '9'; d++ {
				if d == orig {
					continue
				}
				b[i] = d
				if Valid(string(b)) {
					t.Fatalf("%s with digit %d changed to %c is still valid: %s", n, i+1, d, b)
				}
				subs++
			}
			b[i] = orig
		}
		for i := 0; i+1 < Length; i++ {
			if b[i] == b[i+1] {
				continue
			}
			b[i], b[i+1] = b[i+1], b[i]
			if Valid(string(b)) {
				t.Fatalf("%s with digits %d and %d swapped is still valid: %s", n, i+1, i+2, b)
			}
			b[i], b[i+1] = b[i+1], b[i]
			swaps++
		}
	}
	t.Logf("%d valid numbers: %d substitutions and %d transpositions, all rejected", len(numbers), subs, swaps)
}

// TestCheckDigitExhaustive checks the definition over every nine-digit
// prefix of a block: exactly one check digit fits, or none when Modulus 11
// gives 10 (one prefix in 11).
func TestCheckDigitExhaustive(t *testing.T) {
	none := 0
	const block = 100000
	for p := 0; p < block; p++ {
		nine := fmt.Sprintf("9%03d%05d", p%1000, p)
		fits := 0
		for d := byte('0'); d <= '9'; d++ {
			if Valid(nine + string(d)) {
				fits++
			}
		}
		c, ok := CheckDigit(nine)
		switch {
		case ok && fits == 1 && Valid(nine+string(c)):
		case !ok && fits == 0:
			none++
		default:
			t.Fatalf("prefix %s: CheckDigit = %q, %v; %d check digits fit", nine, c, ok, fits)
		}
	}
	// Weighted sums are spread evenly over the residues mod 11.
	if none < block/11-block/100 || none > block/11+block/100 {
		t.Errorf("%d of %d prefixes have no check digit; want about 1 in 11", none, block)
	}
}

// validSample returns up to n valid numbers spread over the whole range.
func validSample(t *testing.T, n int) []string {
	t.Helper()
	out := make([]string, 0, n)
	for x := uint64(0); len(out) < n; x++ {
		nine := fmt.Sprintf("%09d", (x*2654435761)%1000000000)
		if c, ok := CheckDigit(nine); ok {
			out = append(out, nine+string(c))
		}
	}
	return out
}

func FuzzNormalize(f *testing.F) {
	for _, p := range published {
		f.Add(p.number)
		f.Add(Format(p.number))
	}
	for _, s := range []string{"", "943 476 591O", "9990000000", "----------", "\xff\xfe", "９４３"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Normalize(s)
		if err != nil {
			if n != "" {
				t.Fatalf("Normalize(%q) = %q with error %v", s, n, err)
			}
			if !errors.Is(err, ErrLength) && !errors.Is(err, ErrNotDigits) && !errors.Is(err, ErrCheckDigit) {
				t.Fatalf("Normalize(%q): error %v matches no sentinel", s, err)
			}
			if Format(s) != s {
				t.Fatalf("Format(%q) = %q; want it unchanged", s, Format(s))
			}
			return
		}
		if len(n) != Length || strings.Trim(n, "0123456789") != "" {
			t.Fatalf("Normalize(%q) = %q: not 10 digits", s, n)
		}
		back, err := Normalize(Format(n))
		if err != nil || back != n {
			t.Fatalf("Normalize(Format(%q)) = %q, %v", n, back, err)
		}
		if again, err := Normalize(n); err != nil || again != n {
			t.Fatalf("Normalize is not idempotent on %q: %q, %v", n, again, err)
		}
	})
}

func ExampleNormalize() {
	n, err := Normalize("943 476 5919")
	fmt.Println(n, err)
	_, err = Normalize("943 476 591")
	fmt.Println(err)
	_, err = Normalize("943 476 5918")
	fmt.Println(err, errors.Is(err, ErrCheckDigit))
	fmt.Println(Format(n))
	// Output:
	// 9434765919 <nil>
	// An NHS number has 10 digits; this has 9.
	// This is not a valid NHS number: please check the digits. true
	// 943 476 5919
}
