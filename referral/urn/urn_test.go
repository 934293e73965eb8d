package urn

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// testKey is a fixed key, so that the golden values below pin the format.
func testKey() []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

func testIssuer(t testing.TB) *Issuer {
	t.Helper()
	is, err := NewIssuer(testKey())
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func TestAlphabet(t *testing.T) {
	if len(Alphabet) != radix {
		t.Fatalf("alphabet has %d characters, want %d", len(Alphabet), radix)
	}
	for p := 2; p*p <= radix; p++ {
		if radix%p == 0 {
			t.Fatalf("radix %d is not prime", radix)
		}
	}
	for i, c := range Alphabet {
		if strings.ContainsRune("01OILUZ", c) {
			t.Errorf("alphabet contains the confusable %c", c)
		}
		if isLetter := unicode.IsLetter(c); isLetter != (i >= firstDigit) {
			t.Errorf("alphabet[%d] = %c: letters must be exactly alphabet[%d:]", i, c, firstDigit)
		}
		if strings.IndexRune(Alphabet, c) != i {
			t.Errorf("%c appears twice", c)
		}
	}
	if letters != 21 || Domain != 21*pow8 || pow8 != 500246412961 {
		t.Errorf("letters %d, pow8 %d, Domain %d", letters, pow8, Domain)
	}
	// 44 is the smallest even width covering the domain.
	if Domain > 1<<bits || Domain <= 1<<(bits-2) {
		t.Errorf("Domain %d is not in (2^%d, 2^%d]", Domain, bits-2, bits)
	}
	if (10*inv10)%radix != 1 {
		t.Errorf("inv10 = %d is not the inverse of 10 mod %d", inv10, radix)
	}
}

// TestWeights checks the two facts the detection proof in doc.go rests on,
// for the weights 1…10 mod 29: none is 0, and neighbours differ by a
// non-zero amount. With 29 prime, a non-zero weight (or weight difference)
// times a non-zero character difference is never 0 mod 29.
func TestWeights(t *testing.T) {
	for w := 1; w <= Length; w++ {
		if w%radix == 0 {
			t.Errorf("weight %d is 0 mod %d", w, radix)
		}
		if w < Length && (w+1-w)%radix == 0 {
			t.Errorf("weights %d and %d are equal mod %d", w, w+1, radix)
		}
		for d := 1; d < radix; d++ {
			if w*d%radix == 0 {
				t.Fatalf("weight %d × difference %d ≡ 0", w, d)
			}
		}
	}
}

// Golden values: the format is the key plus this construction. If these
// change, every URN already texted to a patient would map to another counter
// and new URNs could collide with old ones.
func TestGolden(t *testing.T) {
	is := testIssuer(t)
	want := map[uint64]string{
		0:          "VCHK3PJ6DK",
		1:          "PT3B5TRQ27",
		2:          "MS53XCQEVF",
		3:          "BNFCNNV6SH",
		4:          "BK5QNM2FTT",
		Domain - 1: "H8G9CMRD2K",
	}
	for n, w := range want {
		got, err := is.URN(n)
		if err != nil || got != w {
			t.Errorf("URN(%d) = %q, %v; want %q", n, got, err, w)
		}
	}
}

func TestURNRange(t *testing.T) {
	is := testIssuer(t)
	for _, n := range []uint64{Domain, Domain + 1, 1 << 44, ^uint64(0)} {
		if u, err := is.URN(n); !errors.Is(err, ErrCounterRange) {
			t.Errorf("URN(%d) = %q, %v; want ErrCounterRange", n, u, err)
		}
	}
}

func TestNewIssuer(t *testing.T) {
	for _, n := range []int{0, 1, 15} {
		if _, err := NewIssuer(make([]byte, n)); err == nil {
			t.Errorf("NewIssuer accepted a %d-byte key", n)
		}
	}
	for _, n := range []int{16, 24, 32, 64} {
		if _, err := NewIssuer(bytes.Repeat([]byte{7}, n)); err != nil {
			t.Errorf("NewIssuer(%d bytes): %v", n, err)
		}
	}
	k1, k2 := NewKey(), NewKey()
	if len(k1) != 32 || bytes.Equal(k1, k2) {
		t.Fatalf("NewKey: %x, %x", k1, k2)
	}
	// Different keys give different URNs for (nearly) every counter.
	a, _ := NewIssuer(k1)
	b, _ := NewIssuer(k2)
	same := 0
	for n := uint64(0); n < 1000; n++ {
		ua, _ := a.URN(n)
		ub, _ := b.URN(n)
		if ua == ub {
			same++
		}
	}
	if same > 1 {
		t.Errorf("%d of 1000 counters give the same URN under two random keys", same)
	}
}

// TestUniqueMillion issues one million consecutive counters from 0 (and a
// hundred thousand at the end of the domain) and checks they are distinct,
// well formed and start with a letter.
func TestUniqueMillion(t *testing.T) {
	is := testIssuer(t)
	for _, r := range []struct{ start, count uint64 }{{0, 1_000_000}, {Domain - 100_000, 100_000}} {
		start, count := r.start, int(r.count)
		urns := make([]string, 0, count)
		for n := start; n < start+uint64(count); n++ {
			u, err := is.URN(n)
			if err != nil {
				t.Fatalf("URN(%d): %v", n, err)
			}
			if len(u) != Length || u[0] < 'A' || u[0] > 'Z' {
				t.Fatalf("URN(%d) = %q: want 10 characters starting with a letter", n, u)
			}
			urns = append(urns, u)
		}
		// Spot-check the full validation on a sample; the rest is covered
		// by the check-character tests.
		for i := 0; i < count; i += 997 {
			if err := Check(urns[i]); err != nil {
				t.Fatalf("URN(%d) = %q: %v", start+uint64(i), urns[i], err)
			}
		}
		slices.Sort(urns)
		for i := 1; i < len(urns); i++ {
			if urns[i] == urns[i-1] {
				t.Fatalf("duplicate URN %s among counters %d…%d", urns[i], start, start+uint64(count)-1)
			}
		}
	}
}

// TestUnrelated checks that consecutive counters give unrelated-looking
// URNs: position by position, two URNs agree about as often as two random
// ones would (1 in 29 for the payload, 1 in 21 for the first letter).
func TestUnrelated(t *testing.T) {
	is := testIssuer(t)
	const pairs = 20000
	agree := 0
	prev, _ := is.URN(0)
	for n := uint64(1); n <= pairs; n++ {
		u, _ := is.URN(n)
		for i := 0; i < 9; i++ {
			if u[i] == prev[i] {
				agree++
			}
		}
		prev = u
	}
	mean := float64(agree) / pairs
	want := 1.0/21 + 8.0/29 // ≈ 0.32
	if mean < want*0.8 || mean > want*1.2 {
		t.Errorf("consecutive URNs agree in %.3f payload positions on average; random would be %.3f", mean, want)
	}
}

func TestCounterRoundTrip(t *testing.T) {
	is := testIssuer(t)
	for _, n := range []uint64{0, 1, 2, 12345, 1 << 40, Domain - 2, Domain - 1} {
		u, err := is.URN(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, form := range []string{u, Format(u), strings.ToLower(Format(u))} {
			got, err := is.Counter(form)
			if err != nil || got != n {
				t.Errorf("Counter(%q) = %d, %v; want %d", form, got, err, n)
			}
		}
	}
	if _, err := is.Counter("VCH-K3P-J6DM"); !errors.Is(err, ErrCheck) {
		t.Errorf("Counter of a mistyped URN: %v; want ErrCheck", err)
	}
}

// sampleURNs returns n URNs spread over the domain.
func sampleURNs(t testing.TB, n int) []string {
	is := testIssuer(t)
	out := make([]string, n)
	for i := range out {
		u, err := is.URN(uint64(i) * (Domain / uint64(n)))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = u
	}
	return out
}

// TestSubstitutionsCaught replaces each character of each sample URN with
// every other alphabet character: the check sum always catches it, and so
// Check always refuses it.
func TestSubstitutionsCaught(t *testing.T) {
	total := 0
	for _, u := range sampleURNs(t, 400) {
		b := []byte(u)
		if checksum(b) != 0 {
			t.Fatalf("%s: checksum %d", u, checksum(b))
		}
		for i := range b {
			orig := b[i]
			for j := 0; j < radix; j++ {
				c := Alphabet[j]
				if c == orig {
					continue
				}
				b[i] = c
				if checksum(b) == 0 {
					t.Fatalf("%s with character %d changed to %c passes the check sum", u, i+1, c)
				}
				if err := Check(string(b)); err == nil {
					t.Fatalf("Check(%s) accepted %s with one character changed", string(b), u)
				}
				total++
			}
			b[i] = orig
		}
	}
	t.Logf("%d substitutions, all caught", total)
}

// TestTranspositionsCaught swaps each pair of neighbouring characters of each
// sample URN.
func TestTranspositionsCaught(t *testing.T) {
	total := 0
	for _, u := range sampleURNs(t, 400) {
		b := []byte(u)
		for i := 0; i+1 < len(b); i++ {
			if b[i] == b[i+1] {
				continue
			}
			b[i], b[i+1] = b[i+1], b[i]
			if checksum(b) == 0 {
				t.Fatalf("%s with characters %d and %d swapped passes the check sum", u, i+1, i+2)
			}
			if err := Check(string(b)); err == nil {
				t.Fatalf("Check accepted %s, %s with two characters swapped", string(b), u)
			}
			b[i], b[i+1] = b[i+1], b[i]
			total++
		}
	}
	t.Logf("%d transpositions, all caught", total)
}

func TestNormalizeAndFormat(t *testing.T) {
	tests := []struct{ in, want string }{
		{"VCHK3PJ6DK", "VCHK3PJ6DK"},
		{"VCH-K3P-J6DK", "VCHK3PJ6DK"},
		{"vch-k3p-j6dk", "VCHK3PJ6DK"},
		{" VCH K3P J6DK ", "VCHK3PJ6DK"},
		{"VCH–K3P—J6DK", "VCHK3PJ6DK"}, // en and em dashes, as phones type them
		{"V C H K 3 P J 6 D K", "VCHK3PJ6DK"},
		{"VCHK-3PJ6-DK", "VCHK3PJ6DK"},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if err := Check(tt.in); err != nil {
			t.Errorf("Check(%q): %v", tt.in, err)
		}
		if f := Format(tt.in); f != "VCH-K3P-J6DK" {
			t.Errorf("Format(%q) = %q", tt.in, f)
		}
	}
	for _, u := range sampleURNs(t, 200) {
		f := Format(u)
		if len(f) != Length+2 || f[3] != '-' || f[7] != '-' {
			t.Errorf("Format(%q) = %q: want 3-3-4 groups", u, f)
		}
		if back, err := Normalize(f); err != nil || back != u {
			t.Errorf("Normalize(Format(%q)) = %q, %v", u, back, err)
		}
	}
	if f := Format("not a URN"); f != "not a URN" {
		t.Errorf("Format of an invalid reference = %q; want it unchanged", f)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		in   string
		kind error
		pos  int
		msg  string
	}{
		{"VCH-K3P-J6D", ErrLength, 0, "A reference has 10 characters; this has 9 characters."},
		{"VCH-K3P-J6DKK", ErrLength, 0, "A reference has 10 characters; this has 11 characters."},
		{"", ErrLength, 0, "A reference has 10 characters; this has 0 characters."},
		{"V", ErrLength, 0, "A reference has 10 characters; this has 1 character."},
		{"943 476 5919", ErrStart, 1, "A reference starts with a letter; this one starts with the number 9."},
		{"0CH-K3P-J6DK", ErrStart, 1, "A reference starts with a letter; this one starts with the number 0."},
		{"VCH-K3P-J6OK", ErrCharacter, 9, "The 9th character, the letter O, is never used in a reference. References leave out O and 0 because they look alike: please look at the text message again. It may be a D or a Q."},
		{"VCH-K0P-J6DK", ErrCharacter, 5, "The 5th character, the number 0, is never used in a reference. References leave out O and 0 because they look alike: please look at the text message again. It may be a D or a Q."},
		{"VCH-K3P-16DK", ErrCharacter, 7, "The 7th character, the number 1, is never used in a reference. References leave out 1, I and L because they look alike: please look at the text message again. It may be a J, a T or a 7."},
		{"Vch-k3p-l6dk", ErrCharacter, 7, "The 7th character, the letter L, is never used in a reference. References leave out 1, I and L because they look alike: please look at the text message again. It may be a J, a T or a 7."},
		{"IIH-K3P-J6DK", ErrCharacter, 1, "The 1st character, the letter I, is never used in a reference. References leave out 1, I and L because they look alike: please look at the text message again. It may be a J, a T or a 7."},
		{"VUH-K3P-J6DK", ErrCharacter, 2, "The 2nd character, the letter U, is never used in a reference. References leave out U because it looks like V: it may be a V."},
		{"VCZ-K3P-J6DK", ErrCharacter, 3, "The 3rd character, the letter Z, is never used in a reference. References leave out Z because it looks like 2: it may be a 2."},
		{"VC.K3P.J6D", ErrCharacter, 3, "The 3rd character, '.', is never used in a reference."},
		{"VCH-K3P-J6DÉ", ErrCharacter, 10, "The 10th character, 'É', is never used in a reference."},
		{"VCH-K3P-J6D\xff", ErrCharacter, 10, "The 10th character, a character that cannot be read, is never used in a reference."},
		{"VCH-K3P-J6DL", ErrCharacter, 10, ""},
		{"VCH-K3P-J6DM", ErrCheck, 0, "This reference has a mistake in it: please check it against the text message."},
		{"VCH-K3P-6JDK", ErrCheck, 0, "This reference has a mistake in it: please check it against the text message."},
	}
	all := []error{ErrLength, ErrStart, ErrCharacter, ErrCheck}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Normalize(tt.in)
			if !errors.Is(err, tt.kind) || got != "" {
				t.Fatalf("Normalize(%q) = %q, %v; want an error matching %v", tt.in, got, err, tt.kind)
			}
			for _, other := range all {
				if other != tt.kind && errors.Is(err, other) {
					t.Errorf("%v also matches %v", err, other)
				}
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("message\n %q\nwant\n %q", err.Error(), tt.msg)
			}
			var e *Error
			if !errors.As(err, &e) || e.Pos != tt.pos {
				t.Errorf("%#v: want an *Error with Pos %d", err, tt.pos)
			}
			if cerr := Check(tt.in); cerr == nil || cerr.Error() != err.Error() {
				t.Errorf("Check(%q) = %v; want Normalize's error", tt.in, cerr)
			}
		})
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"VCHK3PJ6DK", "VCH-K3P-J6DK", "vch k3p j6dk", "943 476 5919", "VCH-K3P-J6OK", "", "\xff", "ǅ", "ﬀﬀﬀﬀﬀﬀﬀﬀﬀﬀ", "İİİİİİİİİİ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Normalize(s)
		if cerr := Check(s); (cerr == nil) != (err == nil) {
			t.Fatalf("Check(%q) = %v but Normalize: %v", s, cerr, err)
		}
		if err != nil {
			var e *Error
			if n != "" || !errors.As(err, &e) || e.Error() == "" {
				t.Fatalf("Normalize(%q) = %q, %#v", s, n, err)
			}
			if Format(s) != s {
				t.Fatalf("Format(%q) = %q; want it unchanged", s, Format(s))
			}
			return
		}
		if len(n) != Length || n[0] < 'A' || n[0] > 'Z' || checksum([]byte(n)) != 0 {
			t.Fatalf("Normalize(%q) = %q: not a URN", s, n)
		}
		for i := 0; i < len(n); i++ {
			if value[n[i]] < 0 {
				t.Fatalf("Normalize(%q) = %q: %c not in the alphabet", s, n, n[i])
			}
		}
		if back, err := Normalize(Format(n)); err != nil || back != n {
			t.Fatalf("Normalize(Format(%q)) = %q, %v", n, back, err)
		}
		if again, err := Normalize(n); err != nil || again != n {
			t.Fatalf("Normalize not idempotent on %q: %q, %v", n, again, err)
		}
	})
}

func BenchmarkURN(b *testing.B) {
	is := testIssuer(b)
	b.ReportAllocs()
	var n uint64
	for b.Loop() {
		if _, err := is.URN(n); err != nil {
			b.Fatal(err)
		}
		n++
	}
}

func BenchmarkCounter(b *testing.B) {
	is := testIssuer(b)
	u, _ := is.URN(123456789)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := is.Counter(u); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleIssuer_URN() {
	is, err := NewIssuer(testKey()) // in production: a secret key from NewKey, kept for ever
	if err != nil {
		panic(err)
	}
	u, _ := is.URN(0)
	fmt.Println(u, Format(u))
	fmt.Println(Check("vch k3p j6dk"))
	fmt.Println(Check("VCH-K3P-J6DM"))
	// Output:
	// VCHK3PJ6DK VCH-K3P-J6DK
	// <nil>
	// This reference has a mistake in it: please check it against the text message.
}
