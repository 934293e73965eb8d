package match

import (
	"strings"
	"unicode/utf8"
)

// pattern is one compiled string value of a key: a literal, a prefix
// ("abc*") or a general wildcard pattern. Runs of '*' are collapsed when it
// is built because they mean the same as one '*' and would only slow
// matching down.
type pattern struct {
	text   string // the value, '*' runs collapsed
	lit    bool   // no wildcards: compare for equality
	prefix bool   // literal followed by a single trailing '*'
}

func literal(s string) pattern { return pattern{text: s, lit: true} }

func newPattern(s string) pattern {
	if !strings.ContainsAny(s, "*?") {
		return literal(s)
	}
	s = collapseStars(s)
	p := pattern{text: s}
	if n := len(s); n > 1 && s[n-1] == '*' && !strings.ContainsAny(s[:n-1], "*?") {
		p.prefix = true
	}
	return p
}

func collapseStars(s string) string {
	if !strings.Contains(s, "**") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '*' && i > 0 && s[i-1] == '*' {
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// literalPrefix returns the text before the trailing '*' of a prefix pattern.
func (p pattern) literalPrefix() string { return p.text[:len(p.text)-1] }

func (p pattern) match(s string) bool {
	switch {
	case p.lit:
		return s == p.text
	case p.prefix:
		return strings.HasPrefix(s, p.literalPrefix())
	}
	return glob(p.text, s)
}

// glob reports whether s matches the wildcard pattern p, where '*' matches
// any run of characters (including none) and '?' exactly one character.
//
// It is the two-pointer algorithm: on a mismatch it retries from the most
// recent '*', letting that star swallow one more character. Earlier stars
// never need revisiting, because whatever they would swallow extra the latest
// star can swallow as well, so the cost is at most len(p)*len(s) steps and
// never exponential, whatever the pattern.
//
// It steps through s one character (UTF-8 sequence) at a time so that '?'
// means one character, not one byte; an invalid byte counts as a character
// of its own. Literal characters are compared as whole encoded sequences so
// that the pattern and the text stay aligned on character boundaries even
// for invalid UTF-8.
func glob(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0 // pattern index just after the last '*'; where s resumes for it
	for si < len(s) {
		if pi < len(p) {
			switch p[pi] {
			case '*':
				pi++
				star, mark = pi, si
				continue
			case '?':
				pi++
				si += charLen(s[si:])
				continue
			default:
				pw, sw := charLen(p[pi:]), charLen(s[si:])
				if p[pi:pi+pw] == s[si:si+sw] {
					pi += pw
					si += sw
					continue
				}
			}
		}
		if star < 0 {
			return false
		}
		mark += charLen(s[mark:])
		pi, si = star, mark
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// charLen is the length in bytes of the first character of a non-empty s.
func charLen(s string) int {
	if s[0] < utf8.RuneSelf {
		return 1
	}
	_, w := utf8.DecodeRuneInString(s)
	return w
}
