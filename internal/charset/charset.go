package charset

import (
	"errors"
	"fmt"
	"strings"
)

// scheme says how a Set turns bytes into characters as a whole.
type scheme uint8

const (
	// schemeISO2022 covers the default repertoire, the single-byte sets and
	// every set used with code extensions: bytes are read through the G0
	// (0x21-0x7E) and G1 (0xA1-0xFE) designations of an ISO 2022 state.
	// It is the zero value so that a zero Set is the default repertoire.
	schemeISO2022 scheme = iota
	// schemeUTF8 is ISO_IR 192.
	schemeUTF8
	// schemeGB18030 and schemeGBK are stateless multi-byte encodings whose
	// trail bytes overlap ASCII, so they are decoded as a whole and never
	// split on delimiters byte-wise.
	schemeGB18030
	schemeGBK
)

// Set is a parsed Specific Character Set.
//
// The zero value, like a nil *Set, is the default repertoire. A Set is
// immutable after Parse and safe for concurrent use.
type Set struct {
	scheme scheme
	// initial holds the designations that are active at the start of every
	// value and that PS3.5 6.1.2.5.3 returns to at each delimiter and line.
	initial state
	// extensions is true when code extensions (ISO 2022 escape sequences)
	// are in use, i.e. any term is an "ISO 2022" term or there is more than
	// one value. Without them ESC is just a control character.
	extensions bool
}

// repertoire describes what one Defined Term contributes to the initial
// state. G0 is always ASCII initially (see gDefault and Parse), so only G1
// and the overall scheme vary.
type repertoire struct {
	scheme scheme
	g1     graphic
}

// singleByte lists the Defined Terms of PS3.3 Tables C.12-2 (without code
// extensions) and C.12-3 (with code extensions) by their ISO-IR number; the
// "ISO_IR n" and "ISO 2022 IR n" forms name the same repertoire.
var singleByte = map[string]repertoire{
	"6":   {},
	"100": {g1: g8859_1},
	"101": {g1: g8859_2},
	"109": {g1: g8859_3},
	"110": {g1: g8859_4},
	"144": {g1: g8859_5},
	"127": {g1: g8859_6},
	"126": {g1: g8859_7},
	"138": {g1: g8859_8},
	"148": {g1: g8859_9},
	"203": {g1: g8859_15},
	// ISO-IR 13 puts JIS X 0201 Katakana in G1 and JIS X 0201 Romaji
	// (ISO-IR 14) in G0; Romaji is read as ASCII, see gDefault.
	"13":  {g1: gJISKatakana},
	"166": {g1: gTIS620},
}

// multiByteExt lists PS3.3 Table C.12-4, multi-byte sets that exist only
// with code extensions. The escape sequences that designate them are in
// designate; here only matters what they mean as a (non-conforming) first
// value.
var multiByteExt = map[string]repertoire{
	// G0 sets. Making one the initial G0 would leave the ASCII delimiters
	// unreadable, so as a first value they add nothing.
	"87":  {},
	"159": {},
	// G1 sets. As a first value they are taken as designated from the
	// start: GR bytes cannot be confused with the delimiters.
	"149": {g1: gKSX1001},
	"58":  {g1: gGB2312},
}

// multiByteNoExt lists the multi-byte sets of PS3.3 Table C.12-5, which
// cannot be combined with code extensions.
var multiByteNoExt = map[string]repertoire{
	"ISO_IR 192": {scheme: schemeUTF8},
	"GB18030":    {scheme: schemeGB18030},
	"GBK":        {scheme: schemeGBK},
}

// latin1Fallback is what an unknown term decodes as: ISO-8859-1 never fails
// on a byte, so text stays readable where it was mostly ASCII anyway.
var latin1Fallback = repertoire{g1: g8859_1}

// lookup maps one normalized value of (0008,0005) to its repertoire. ext
// reports whether the term carries the "ISO 2022" prefix.
func lookup(term string) (r repertoire, ext, ok bool) {
	if r, ok := multiByteNoExt[term]; ok {
		return r, false, true
	}
	if n, found := strings.CutPrefix(term, "ISO 2022 IR "); found {
		if r, ok := singleByte[n]; ok {
			return r, true, true
		}
		r, ok := multiByteExt[n]
		return r, true, ok
	}
	if n, found := strings.CutPrefix(term, "ISO_IR "); found {
		r, ok := singleByte[n]
		return r, false, ok
	}
	return repertoire{}, false, false
}

// normalize trims the padding a CS value may carry. Defined Terms are upper
// case; folding case costs nothing and rescues sloppy writers.
func normalize(v string) string {
	return strings.ToUpper(strings.Trim(v, " \x00"))
}

// Parse takes the values of (0008,0005), already split on backslash. Values
// may carry surrounding spaces; with code extensions the first value may be
// empty, meaning the default repertoire (ISO-IR 6). An empty or nil slice is
// the default repertoire: ASCII, with bytes >= 0x80 leniently read as
// ISO-8859-1.
//
// Parse always returns a usable *Set. The error, if any, names every term it
// could not honour; callers are expected to log it and carry on:
//   - an unknown term is decoded as ISO-8859-1 (if it is the first value; an
//     unknown extension term can only be reached through an escape sequence
//     Decode does not know, which falls back the same way);
//   - ISO_IR 192, GB18030 and GBK cannot be combined with other sets
//     (PS3.3 C.12.1.1.2); the first of them wins.
//
// Parse is lenient where the meaning is unambiguous: "ISO_IR n" inside a
// multi-valued set is read as "ISO 2022 IR n", and a multi-byte G0 set given
// as the first value (PS3.3 allows them only from value 2 on) does not
// replace ASCII as the initial G0, because the delimiters must stay readable.
func Parse(values []string) (*Set, error) {
	terms := make([]string, len(values))
	empty := true
	for i, v := range values {
		terms[i] = normalize(v)
		if terms[i] != "" {
			empty = false
		}
	}
	if empty {
		return &Set{}, nil
	}

	var errs []error

	// A stateless multi-byte encoding takes over the whole value: its
	// bytes cannot be mixed with ISO 2022 designations, and a writer that
	// names it almost certainly wrote everything in it.
	for _, t := range terms {
		r, ok := multiByteNoExt[t]
		if !ok {
			continue
		}
		for _, other := range terms {
			if other == "" || other == t {
				continue
			}
			errs = append(errs, fmt.Errorf("charset: Specific Character Set term %q cannot be combined with %q, ignoring %q", other, t, other))
		}
		return &Set{scheme: r.scheme}, errors.Join(errs...)
	}

	s := &Set{extensions: len(terms) > 1}
	for i, t := range terms {
		if t == "" {
			// Only the first value may be empty (it then means ISO-IR 6);
			// an empty later value adds nothing, so ignoring it is harmless.
			continue
		}
		r, ext, ok := lookup(t)
		if ext {
			s.extensions = true
		}
		if !ok {
			errs = append(errs, fmt.Errorf("charset: unknown Specific Character Set term %q, decoding it as ISO-8859-1", t))
			r = latin1Fallback
		}
		if i == 0 {
			// Only value 1 is active initially; the others are reached
			// through escape sequences.
			s.initial.g1 = r.g1
		}
	}
	return s, errors.Join(errs...)
}

// IsUTF8Compatible reports whether raw bytes need no conversion: the set is
// the default repertoire or ISO_IR 192. It is a fast path for callers.
//
// Precisely: Decode(raw) == string(raw) for every conforming raw value of
// such a set, which is 7-bit ASCII for the default repertoire and valid
// UTF-8 for ISO_IR 192. Non-conforming bytes are still repaired by Decode
// (bytes >= 0x80 in the default repertoire are read as ISO-8859-1, invalid
// UTF-8 becomes U+FFFD), so a caller that skips Decode should check that the
// value is ASCII first.
func (s *Set) IsUTF8Compatible() bool {
	if s == nil {
		return true
	}
	switch s.scheme {
	case schemeUTF8:
		return true
	case schemeISO2022:
		// With code extensions even ASCII bytes may hold escape sequences,
		// and a G1 designation reinterprets every byte >= 0x80.
		return !s.extensions && s.initial == state{}
	}
	return false
}
