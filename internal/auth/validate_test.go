package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateODS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code   string
		kind   OrgKind
		parent string
		ok     bool
		hint   string // in the error
	}{
		// Dental practices: V and 5 digits (published), V and 6 (since 2021).
		{"V03462", KindPractice, "", true, ""},
		{"V012345", KindPractice, "", true, ""},
		{"V1234", KindPractice, "", false, "V followed by 5 or 6 digits"},
		{"V1234567", KindPractice, "", false, "V followed by 5 or 6 digits"},
		{"VA2345", KindPractice, "", false, "V followed by 5 or 6 digits"},
		{"W03462", KindPractice, "", false, "V followed by 5 or 6 digits"},
		{"V03462", KindPractice, "RH8", false, "no parent"},
		// Providers.
		{"RH8", KindProvider, "", true, ""},
		{"R0A", KindProvider, "", true, ""},
		{"NV7", KindProvider, "", true, ""},
		{"7A1", KindProvider, "", true, ""},
		{"8HA03", KindProvider, "", true, ""},
		{"A1B2C", KindProvider, "", true, ""},
		{"RH", KindProvider, "", false, "NHS trust"},
		{"XH8", KindProvider, "", false, "NHS trust"},
		{"RH8A", KindProvider, "", false, "NHS trust"},
		{"V03462", KindProvider, "", false, "NHS trust"},
		// Provider sites.
		{"RH802", KindProvider, "RH8", true, ""},
		{"NV701", KindProvider, "NV7", true, ""},
		{"7A101", KindProvider, "7A1", true, ""},
		{"D4U1Y", KindProvider, "RH8", true, ""},
		{"RJ102", KindProvider, "RH8", false, "a site of RH8 is RH8 and 2"},
		{"RH8021", KindProvider, "RH8", false, "a site of RH8"},
		{"8HA0301", KindProvider, "8HA03", false, "letter-digit-letter-digit-letter"},
		// Commissioners and their locations.
		{"QF7", KindCommissioner, "", true, ""},
		{"QNQ", KindCommissioner, "", true, ""},
		{"7A3", KindCommissioner, "", true, ""},
		{"RH8", KindCommissioner, "", false, "Q and 2"},
		{"Q1", KindCommissioner, "", false, "Q and 2"},
		{"02P", KindCommissioner, "QF7", true, ""},
		{"D4U1Y", KindCommissioner, "QNQ", true, ""},
		{"QF701", KindCommissioner, "QF7", false, "2 digits and a letter"},
		{"P02", KindCommissioner, "QF7", false, "2 digits and a letter"},
		// Anything.
		{"", KindPractice, "", false, "empty"},
		{"rh8", KindProvider, "", false, "upper-case"},
		{"R H8", KindProvider, "", false, "upper-case"},
		{"RH8", "hospital", "", false, "unknown kind"},
	}
	for _, tc := range tests {
		err := ValidateODS(tc.code, tc.kind, tc.parent)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateODS(%q, %s, %q) = %v, want ok=%v", tc.code, tc.kind, tc.parent, err, tc.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidODS) {
				t.Errorf("ValidateODS(%q): %v does not wrap ErrInvalidODS", tc.code, err)
			}
			if !strings.Contains(err.Error(), tc.hint) {
				t.Errorf("ValidateODS(%q, %s, %q) = %q, want it to mention %q", tc.code, tc.kind, tc.parent, err, tc.hint)
			}
		}
	}
	if got := NormalizeODS("  rh802 "); got != "RH802" {
		t.Errorf("NormalizeODS = %q", got)
	}
}

func TestValidateGDC(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"12345", "12345", true},
		{"123456", "123456", true},
		{" 123 456 ", "123456", true},
		{"1234", "", false},
		{"1234567", "", false},
		{"12a45", "", false},
		{"", "", false},
		{"GDC12345", "", false},
	}
	for _, tc := range tests {
		got, err := ValidateGDC(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ValidateGDC(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "5 or 6 digits")) {
			t.Errorf("ValidateGDC(%q) error %q", tc.in, err)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok, nhs  bool
	}{
		{"a.smith@nhs.net", "a.smith@nhs.net", true, true},
		{" A.Smith@NHS.net ", "a.smith@nhs.net", true, true},
		{"dentist@practice.co.uk", "dentist@practice.co.uk", true, false},
		{"someone@nhs.net.evil.example", "someone@nhs.net.evil.example", true, false},
		{"x@notnhs.net", "x@notnhs.net", true, false},
		{"A Smith <a.smith@nhs.net>", "", false, false},
		{"a.smith", "", false, false},
		{"a.smith@localhost", "", false, false},
		{"a@[127.0.0.1]", "", false, false},
		{"", "", false, false},
		{strings.Repeat("a", 250) + "@nhs.net", "", false, false},
	}
	for _, tc := range tests {
		got, err := NormalizeEmail(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok && IsNHSMail(got) != tc.nhs {
			t.Errorf("IsNHSMail(%q) = %v", got, !tc.nhs)
		}
	}
}

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
		mobile   bool
	}{
		{"07700 900123", "+447700900123", true, true},
		{"+44 (0)7700 900123", "+447700900123", true, true},
		{"020 7946 0123", "+442079460123", true, false},
		{"+1 202 555 0100", "", false, false},
		{"09098 790000", "", false, false}, // premium rate: never called
		{"hello", "", false, false},
	}
	for _, tc := range tests {
		got, err := NormalizePhone(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), tc.in) {
			t.Errorf("NormalizePhone(%q): the error repeats the number: %v", tc.in, err)
		}
		if tc.ok && (Phone{Number: got}).Mobile() != tc.mobile {
			t.Errorf("%s: Mobile() = %v", got, !tc.mobile)
		}
	}
	if got := (Phone{Number: "+447700900123"}).Masked(); got != "07••• •••123" {
		t.Errorf("Masked() = %q", got)
	}
}

func TestPasswordRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pw, email string
		ok        bool
	}{
		{"correct horse battery", "a@nhs.net", true},
		{"short", "", false},
		{"123456789", "", false},
		{"ééééééééééé", "", true}, // counted in characters, not bytes
		{strings.Repeat("x", 257), "", false},
		{"someone@nhs.net", "someone@nhs.net", false},
		{"bad\xffutf8-long-enough", "", false},
	}
	for _, tc := range tests {
		if err := checkPassword(tc.pw, tc.email); (err == nil) != tc.ok {
			t.Errorf("checkPassword(%q) = %v, want ok=%v", tc.pw, err, tc.ok)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h, err := hashPassword("correct horse battery", testArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Errorf("hash %q", h)
	}
	h2, _ := hashPassword("correct horse battery", testArgon2)
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	f := newFixture(t)
	for _, tc := range []struct {
		stored, pw string
		want       bool
	}{
		{h, "correct horse battery", true},
		{h, "correct horse batterY", false},
		{h, "", false},
	} {
		got, err := f.svc.verifyPassword(t.Context(), tc.stored, tc.pw)
		if err != nil || got != tc.want {
			t.Errorf("verify %q: %v %v, want %v", tc.pw, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=18$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=0,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		if _, err := f.svc.verifyPassword(t.Context(), bad, "x"); err == nil {
			t.Errorf("verify against %q: no error", bad)
		}
	}
	if d := DefaultArgon2(); d.Memory < 19*1024 || d.Time < 2 || d.Threads < 1 {
		t.Errorf("default parameters %+v below OWASP's minimum", d)
	}
}
