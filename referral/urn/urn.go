package urn

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// Alphabet is the characters a URN is written with, in the order that
	// gives their values 0…28 for the check character.
	Alphabet = "23456789ABCDEFGHJKMNPQRSTVWXY"
	// Length is the number of characters of a URN, check character
	// included, without the display hyphens.
	Length = 10

	radix      = 29 // len(Alphabet), prime
	firstDigit = 8  // Alphabet[8:] are the 21 letters
	letters    = radix - firstDigit
	pow8       = 29 * 29 * 29 * 29 * 29 * 29 * 29 * 29

	// Domain is the number of distinct URNs: 21 letters for the first
	// character times 29 values for each of the next eight.
	Domain uint64 = letters * pow8

	inv10 = 3 // 10 · 3 = 30 ≡ 1 (mod 29)
)

// value[c] is the alphabet value of byte c, or -1 when c is not in the
// alphabet.
var value = func() (v [256]int8) {
	for i := range v {
		v[i] = -1
	}
	for i := 0; i < len(Alphabet); i++ {
		v[Alphabet[i]] = int8(i)
	}
	return v
}()

// checkChar returns the check character for the first nine characters, all
// in the alphabet.
func checkChar(nine []byte) byte {
	sum := 0
	for i, c := range nine {
		sum += (i + 1) * int(value[c])
	}
	return Alphabet[(radix-sum%radix)%radix*inv10%radix]
}

// checksum returns the weighted sum of all ten characters mod 29; a URN is
// well formed when it is 0.
func checksum(urn []byte) int {
	sum := 0
	for i, c := range urn {
		sum += (i + 1) * int(value[c])
	}
	return sum % radix
}

// encode writes v (< Domain) as the ten characters of a URN.
func encode(v uint64) string {
	var b [Length]byte
	b[0] = Alphabet[firstDigit+v/pow8]
	v %= pow8
	for i := 8; i >= 1; i-- {
		b[i] = Alphabet[v%radix]
		v /= radix
	}
	b[9] = checkChar(b[:9])
	return string(b[:])
}

// decode returns the payload of a normalised, checked URN.
func decode(urn string) uint64 {
	v := uint64(value[urn[0]] - firstDigit)
	for i := 1; i < 9; i++ {
		v = v*radix + uint64(value[urn[i]])
	}
	return v
}

// The errors Normalize and Check return match one of these with errors.Is.
// The sentinels' text is for logs; the returned error's text is for the
// person who typed the reference.
var (
	ErrLength    = errors.New("urn: not 10 characters")
	ErrStart     = errors.New("urn: does not start with a letter")
	ErrCharacter = errors.New("urn: character not in the URN alphabet")
	ErrCheck     = errors.New("urn: check character does not match")
)

// Error is a reference Normalize or Check refuses. Its text is a
// plain-English sentence that can be shown to the person who typed it; it
// unwraps to ErrLength, ErrStart, ErrCharacter or ErrCheck.
type Error struct {
	// Pos is the 1-based position of the offending character, counted
	// without spaces and hyphens, for ErrStart and ErrCharacter; 0 otherwise.
	Pos int
	// Char is that character.
	Char rune

	msg  string
	kind error
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the sentinel the error matches.
func (e *Error) Unwrap() error { return e.kind }

// Normalize returns the stored form of a URN as typed or displayed
// ("vch-k3p-j6dk", "VCH K3P J6DK"): upper case, without spaces or hyphens
// (any Unicode space or dash). It returns an *Error when the result is not a
// well-formed URN: the wrong number of characters, a first character that is
// not a letter, a character never used in URNs, or a check character that
// does not fit, tested in that order.
func Normalize(s string) (string, error) {
	chars := make([]rune, 0, Length)
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) {
			continue
		}
		chars = append(chars, unicode.ToUpper(r))
	}
	if len(chars) != Length {
		noun := "characters"
		if len(chars) == 1 {
			noun = "character"
		}
		return "", &Error{msg: fmt.Sprintf("A reference has 10 characters; this has %d %s.", len(chars), noun), kind: ErrLength}
	}
	if r := chars[0]; r >= '0' && r <= '9' {
		return "", &Error{Pos: 1, Char: r, kind: ErrStart,
			msg: fmt.Sprintf("A reference starts with a letter; this one starts with the number %c.", r)}
	}
	b := make([]byte, Length)
	for i, r := range chars {
		if r >= utf8.RuneSelf || value[r] < 0 {
			return "", badChar(i+1, r)
		}
		b[i] = byte(r)
	}
	if checksum(b) != 0 {
		return "", &Error{msg: "This reference has a mistake in it: please check it against the text message.", kind: ErrCheck}
	}
	return string(b), nil
}

// badChar explains a character that is never used, with a hint for the ones
// left out because they are confused with others.
func badChar(pos int, r rune) *Error {
	var what string
	switch {
	case r == utf8.RuneError:
		what = "a character that cannot be read"
	case r >= '0' && r <= '9':
		what = fmt.Sprintf("the number %c", r)
	case r >= 'A' && r <= 'Z':
		what = fmt.Sprintf("the letter %c", r)
	default:
		what = fmt.Sprintf("%q", r)
	}
	msg := fmt.Sprintf("The %s character, %s, is never used in a reference.", ordinal(pos), what)
	switch r {
	case 'O', '0':
		msg += " References leave out O and 0 because they look alike: please look at the text message again. It may be a D or a Q."
	case 'I', 'L', '1':
		msg += " References leave out 1, I and L because they look alike: please look at the text message again. It may be a J, a T or a 7."
	case 'U':
		msg += " References leave out U because it looks like V: it may be a V."
	case 'Z':
		msg += " References leave out Z because it looks like 2: it may be a 2."
	}
	return &Error{Pos: pos, Char: r, msg: msg, kind: ErrCharacter}
}

func ordinal(n int) string {
	switch n {
	case 1:
		return "1st"
	case 2:
		return "2nd"
	case 3:
		return "3rd"
	}
	return fmt.Sprintf("%dth", n)
}

// Check returns nil when s is a well-formed URN as Normalize accepts it, and
// Normalize's error otherwise. A well-formed URN may still never have been
// issued: Issuer.Counter and the referral store tell.
func Check(s string) error {
	_, err := Normalize(s)
	return err
}

// Format returns a URN for display, in groups of 3, 3 and 4 characters
// joined by hyphens: "VCH-K3P-J6DK". Anything Normalize refuses is returned
// unchanged, so a display never hides what was typed.
func Format(s string) string {
	n, err := Normalize(s)
	if err != nil {
		return s
	}
	var b strings.Builder
	b.Grow(Length + 2)
	b.WriteString(n[:3])
	b.WriteByte('-')
	b.WriteString(n[3:6])
	b.WriteByte('-')
	b.WriteString(n[6:])
	return b.String()
}
