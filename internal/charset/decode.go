package charset

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// state is the pair of designations in force while decoding: G0 is invoked
// into GL (0x21-0x7E) and G1 into GR (0xA1-0xFE); DICOM uses no locking
// shifts, so those invocations never change (PS3.5 6.1.2.5).
type state struct {
	g0, g1 graphic
}

const esc = 0x1B

// defaultSet is what a nil *Set means.
var defaultSet Set

// Decode converts one raw value to UTF-8. raw holds the bytes as stored: it
// may contain several values separated by '\', and for PN (isPN true)
// component groups separated by '=' and components separated by '^'. The
// delimiters are kept, so callers split the result exactly as they would
// split raw; padding is kept too, because what is padding depends on the VR.
//
// With code extensions, escape sequences switch the G0/G1 designations and
// are removed from the output. Following PS3.5 6.1.2.5.3, the designations
// return to the initial ones (those of the first value of (0008,0005)) after
// every '\' and every control character such as CR, LF, FF or TAB, and for
// PN also after every '^' and '='. A conforming writer has switched back
// already; doing it here as well keeps one missing escape sequence from
// garbling the rest of the element. While G0 holds a two-byte set, its
// bytes are taken in pairs, so a 0x5C or 0x5E inside a kanji is not
// mistaken for a delimiter. Without code extensions (a single term that is
// not an "ISO 2022" one, or the default repertoire) ESC is an ordinary
// control character and is passed through.
//
// Invalid bytes become U+FFFD, as does every escape sequence Decode does not
// know (which also resets the register it designates to ASCII or
// ISO-8859-1). Decode never panics and always returns valid UTF-8.
func (s *Set) Decode(raw []byte, isPN bool) string {
	if s == nil {
		s = &defaultSet
	}
	switch s.scheme {
	case schemeUTF8:
		return decodeUTF8(raw)
	case schemeGB18030:
		return decodeWith(simplifiedchinese.GB18030, raw)
	case schemeGBK:
		return decodeWith(simplifiedchinese.GBK, raw)
	}
	if s.passesThrough(raw) {
		return string(raw)
	}
	return s.decodeISO2022(raw, isPN)
}

// passesThrough reports whether raw decodes to itself: plain ASCII with no
// escape sequence to interpret. It is the common case for every set, since
// Parse always starts G0 as ASCII.
func (s *Set) passesThrough(raw []byte) bool {
	for _, c := range raw {
		if c >= 0x80 || c == esc && s.extensions {
			return false
		}
	}
	return true
}

// decodeISO2022 is the ISO 2022 state machine. Sets without code extensions
// go through it as well, with escape sequences not interpreted: a single-byte
// set is just ASCII in G0 plus a fixed G1.
func (s *Set) decodeISO2022(raw []byte, isPN bool) string {
	var b strings.Builder
	// Most output characters take at most as many bytes as their input,
	// the exceptions (Latin, Thai, katakana from one byte) add up to 2x.
	b.Grow(len(raw) * 2)
	cur := s.initial
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == esc && s.extensions:
			n, ok := designate(&cur, raw[i:])
			if !ok {
				b.WriteRune(utf8.RuneError)
			}
			i += n

		case c < 0x20:
			// C0 control (CR, LF, FF, TAB, …): the end of a line or
			// similar, after which the initial set is active again.
			b.WriteByte(c)
			cur = s.initial
			i++

		case c == 0x20 || c == 0x7F:
			// SPACE and DELETE are outside every 94-set: they are the
			// same whatever G0 holds.
			b.WriteByte(c)
			i++

		case c < 0x80:
			if cur.g0.multiByte() {
				// Inside a two-byte G0 set '\', '^' and '=' are ordinary
				// byte values of characters, not delimiters.
				if i+1 < len(raw) && isGL(raw[i+1]) {
					b.WriteRune(cur.g0.decodePair(c, raw[i+1]))
					i += 2
				} else {
					// A lone byte: drop it alone, the next may be a
					// delimiter or a control that resynchronises us.
					b.WriteRune(utf8.RuneError)
					i++
				}
				continue
			}
			b.WriteByte(c)
			if c == '\\' || isPN && (c == '^' || c == '=') {
				cur = s.initial
			}
			i++

		default: // c >= 0x80: GR (or C1), read through G1
			if cur.g1.multiByte() {
				if isGR(c) && i+1 < len(raw) && isGR(raw[i+1]) {
					b.WriteRune(cur.g1.decodePair(c&0x7F, raw[i+1]&0x7F))
					i += 2
				} else {
					b.WriteRune(utf8.RuneError)
					i++
				}
				continue
			}
			b.WriteRune(cur.g1.decodeHigh(c))
			i++
		}
	}
	return b.String()
}

// isGL and isGR report whether c is a graphic position of a 94-set invoked
// into GL or GR, the only valid bytes of a two-byte character.
func isGL(c byte) bool { return c >= 0x21 && c <= 0x7E }
func isGR(c byte) bool { return c >= 0xA1 && c <= 0xFE }

// designate interprets the escape sequence at the start of b (b[0] is ESC)
// and updates cur. It returns the number of bytes consumed, at least 1, and
// whether the sequence was one of PS3.3 Tables C.12-3/C.12-4.
//
// ISO 2022 escape sequences are ESC, any number of intermediate bytes
// (0x20-0x2F) and one final byte (0x30-0x7E). A truncated sequence consumes
// only ESC and its intermediates, so the byte that broke it is decoded
// normally.
func designate(cur *state, b []byte) (n int, ok bool) {
	i := 1
	for i < len(b) && b[i] >= 0x20 && b[i] <= 0x2F {
		i++
	}
	if i >= len(b) || b[i] < 0x30 || b[i] > 0x7E {
		return i, false
	}
	n = i + 1
	seq := b[1:n]
	switch string(seq) {
	case "(B", // ISO-IR 6 (ASCII)
		"(J": // ISO-IR 14 (JIS X 0201 Romaji), read as ASCII: see gDefault
		cur.g0 = gDefault
	case "$B":
		cur.g0 = gJISX0208
	case "$(D":
		cur.g0 = gJISX0212
	case ")I":
		cur.g1 = gJISKatakana
	case "-A":
		cur.g1 = g8859_1
	case "-B":
		cur.g1 = g8859_2
	case "-C":
		cur.g1 = g8859_3
	case "-D":
		cur.g1 = g8859_4
	case "-L":
		cur.g1 = g8859_5
	case "-G":
		cur.g1 = g8859_6
	case "-F":
		cur.g1 = g8859_7
	case "-H":
		cur.g1 = g8859_8
	case "-M":
		cur.g1 = g8859_9
	case "-b":
		cur.g1 = g8859_15
	case "-T":
		cur.g1 = gTIS620
	case "$)C":
		cur.g1 = gKSX1001
	case "$)A":
		cur.g1 = gGB2312
	default:
		// An unknown designation: we cannot decode the set, but we know
		// which register it replaces, and leaving the old set there would
		// decode its bytes as something they are not. Fall back as for an
		// unknown term: ASCII in G0, ISO-8859-1 in G1. Other escape
		// sequences (G2/G3, single shifts, …) change nothing DICOM uses.
		switch register(seq) {
		case 0:
			cur.g0 = gDefault
		case 1:
			cur.g1 = gDefault
		}
		return n, false
	}
	return n, true
}

// register returns which of G0 (0) or G1 (1) the designation seq (the bytes
// after ESC) targets, or -1 if it is not a G0/G1 designation. The
// intermediates follow ISO 2022: '(' G0 94-set, ')' G1 94-set, '-' G1 96-set
// (',' would be G0 96-set, which ISO 2022 forbids but costs nothing to
// accept); a leading '$' means a multi-byte set, with "ESC $ F" short for
// G0.
func register(seq []byte) int {
	if len(seq) < 2 {
		return -1 // no intermediate: not a designation
	}
	i := seq[0]
	if i == '$' {
		if len(seq) == 2 {
			return 0
		}
		i = seq[1]
	}
	switch i {
	case '(', ',':
		return 0
	case ')', '-':
		return 1
	}
	return -1
}

// decodeUTF8 returns raw unchanged if it is valid UTF-8, else with every
// invalid byte replaced by U+FFFD.
func decodeUTF8(raw []byte) string {
	if utf8.Valid(raw) {
		return string(raw)
	}
	var b strings.Builder
	b.Grow(len(raw) + 8)
	for len(raw) > 0 {
		r, n := utf8.DecodeRune(raw)
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.Write(raw[:n])
		}
		raw = raw[n:]
	}
	return b.String()
}

// decodeWith decodes a stateless multi-byte encoding as a whole. Splitting
// on delimiters first would be wrong: GBK and GB18030 trail bytes include
// 0x5C ('\') and 0x5E ('^'). Their lead bytes are all >= 0x81, so a decoder
// that is in step sees every real delimiter as ASCII anyway.
func decodeWith(enc encoding.Encoding, raw []byte) string {
	out, err := enc.NewDecoder().Bytes(raw)
	if err != nil {
		// x/text's decoders replace bad input with U+FFFD and do not
		// fail; should that change, still return something valid.
		return strings.ToValidUTF8(string(raw), string(utf8.RuneError))
	}
	return string(out)
}
