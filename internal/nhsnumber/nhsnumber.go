package nhsnumber

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Length is the number of digits in an NHS number.
const Length = 10

// The errors Normalize returns match one of these with errors.Is. The
// sentinels' own text is for logs; the returned error's text is for the
// person who typed the number.
var (
	// ErrLength: not 10 digits once spaces and hyphens are removed.
	ErrLength = errors.New("nhsnumber: not 10 digits")
	// ErrNotDigits: something other than a digit, a space or a hyphen.
	ErrNotDigits = errors.New("nhsnumber: not a digit")
	// ErrCheckDigit: 10 digits, but the check digit does not fit the others.
	ErrCheckDigit = errors.New("nhsnumber: check digit does not match")
)

// Error is what Normalize returns for a number it refuses. Its text is a
// plain-English sentence a receptionist can be shown as it is ("An NHS
// number has 10 digits; this has 9."); it unwraps to the sentinel it
// matches.
type Error struct {
	msg  string
	kind error
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns ErrLength, ErrNotDigits or ErrCheckDigit.
func (e *Error) Unwrap() error { return e.kind }

// Normalize returns the 10 digits of s, an NHS number as typed or printed
// ("943 476 5919", "943-476-5919", " 9434765919 "), after checking that
// there are ten and that the check digit fits.
func Normalize(s string) (string, error) {
	var digits [Length]byte
	n := 0
	for i, r := range s {
		switch {
		case r == '-' || unicode.IsSpace(r):
			continue
		case r >= '0' && r <= '9':
			if n < Length {
				digits[n] = byte(r)
			}
			n++
		default:
			return "", notDigit(s, i, r)
		}
	}
	if n != Length {
		return "", &Error{msg: fmt.Sprintf("An NHS number has 10 digits; this has %d.", n), kind: ErrLength}
	}
	if check(digits[:9]) != int(digits[9]-'0') {
		return "", &Error{msg: "This is not a valid NHS number: please check the digits.", kind: ErrCheckDigit}
	}
	return string(digits[:]), nil
}

func notDigit(s string, i int, r rune) error {
	if r == utf8.RuneError {
		if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
			return &Error{msg: "An NHS number has only digits; this has a character that cannot be read.", kind: ErrNotDigits}
		}
	}
	hint := ""
	switch r {
	case 'O', 'o':
		hint = " (is it a zero?)"
	case 'I', 'l', '|':
		hint = " (is it a one?)"
	}
	return &Error{msg: fmt.Sprintf("An NHS number has only digits; this has %q%s.", r, hint), kind: ErrNotDigits}
}

// check returns the check digit the first nine digits (ASCII) call for, or
// 10 when no check digit can make them an NHS number.
func check(nine []byte) int {
	sum := 0
	for i, d := range nine {
		sum += int(d-'0') * (10 - i)
	}
	c := 11 - sum%11
	if c == 11 {
		c = 0
	}
	return c
}

// CheckDigit returns the check digit for the first nine digits of an NHS
// number, and false when those nine digits can never be an NHS number (the
// Modulus 11 result is 10) or are not nine digits. Test-data generators use
// it; to check a number, use Normalize or Valid.
func CheckDigit(nine string) (byte, bool) {
	if len(nine) != 9 {
		return 0, false
	}
	for i := 0; i < 9; i++ {
		if nine[i] < '0' || nine[i] > '9' {
			return 0, false
		}
	}
	c := check([]byte(nine))
	if c == 10 {
		return 0, false
	}
	return byte('0' + c), true
}

// Valid reports whether s is an NHS number, spaces and hyphens allowed.
func Valid(s string) bool {
	_, err := Normalize(s)
	return err == nil
}

// Format returns s the way NHS numbers are printed and read out, in groups of
// 3, 3 and 4 digits: "943 476 5919". Anything that is not a valid NHS number
// is returned unchanged, so Format never hides what was typed.
func Format(s string) string {
	n, err := Normalize(s)
	if err != nil {
		return s
	}
	var b strings.Builder
	b.Grow(Length + 2)
	b.WriteString(n[:3])
	b.WriteByte(' ')
	b.WriteString(n[3:6])
	b.WriteByte(' ')
	b.WriteString(n[6:])
	return b.String()
}
