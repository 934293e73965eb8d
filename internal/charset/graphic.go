package charset

import (
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// graphic identifies a graphic character set that can be designated to G0
// or G1 (PS3.5 6.1.2.5, PS3.3 Tables C.12-3 and C.12-4).
type graphic uint8

const (
	// gDefault is the zero value. In G0 it is ISO-IR 6 (ASCII); JIS X 0201
	// Romaji (ESC ( J) is read the same way, because its only differences
	// (YEN SIGN at 0x5C, OVERLINE at 0x7E) would turn the DICOM value
	// delimiter into a yen sign. In G1 it means "nothing designated", and
	// bytes >= 0x80 are read as ISO-8859-1, like DCMTK's lenient mode.
	gDefault graphic = iota
	g8859_1
	g8859_2
	g8859_3
	g8859_4
	g8859_5
	g8859_6
	g8859_7
	g8859_8
	g8859_9
	g8859_15
	gJISKatakana // JIS X 0201 Katakana, ISO-IR 13, a 94-set used in G1
	gTIS620      // TIS 620-2533, ISO-IR 166
	gJISX0208    // JIS X 0208, ISO-IR 87, two bytes in G0
	gJISX0212    // JIS X 0212, ISO-IR 159, two bytes in G0
	gKSX1001     // KS X 1001, ISO-IR 149, two bytes in G1
	gGB2312      // GB 2312, ISO-IR 58, two bytes in G1
)

// charmaps holds the ISO 8859 parts, of which G1 uses the right-hand half.
// An array, not a map: it is consulted for every non-ASCII byte.
var charmaps = [...]*charmap.Charmap{
	g8859_1:  charmap.ISO8859_1,
	g8859_2:  charmap.ISO8859_2,
	g8859_3:  charmap.ISO8859_3,
	g8859_4:  charmap.ISO8859_4,
	g8859_5:  charmap.ISO8859_5,
	g8859_6:  charmap.ISO8859_6,
	g8859_7:  charmap.ISO8859_7,
	g8859_8:  charmap.ISO8859_8,
	g8859_9:  charmap.ISO8859_9,
	g8859_15: charmap.ISO8859_15,
}

// multiByte reports whether characters of g take two bytes.
func (g graphic) multiByte() bool {
	return g >= gJISX0208
}

// decodeHigh decodes one byte >= 0x80 through a single-byte G1 set.
func (g graphic) decodeHigh(b byte) rune {
	switch g {
	case gDefault:
		return rune(b) // ISO-8859-1 is the first 256 code points
	case gJISKatakana:
		// The 94-set occupies 0x21-0x5F, i.e. 0xA1-0xDF in GR, and maps
		// in order onto the half-width katakana block U+FF61-U+FF9F.
		if b >= 0xA1 && b <= 0xDF {
			return 0xFF61 + rune(b-0xA1)
		}
		return utf8.RuneError
	case gTIS620:
		// TIS 620 maps in order onto the Thai block at U+0E00+(b-0xA0),
		// with holes at 0xDB-0xDE and 0xFC-0xFF. 0x80-0xA0 are read as in
		// ISO 8859-11 (C1 controls and NO-BREAK SPACE), its superset.
		switch {
		case b <= 0xA0:
			return rune(b)
		case b <= 0xDA, b >= 0xDF && b <= 0xFB:
			return 0x0E00 + rune(b-0xA0)
		}
		return utf8.RuneError
	}
	if int(g) < len(charmaps) && charmaps[g] != nil {
		// x/text reports unassigned positions (e.g. in ISO 8859-6/-8)
		// as U+FFFD already.
		return charmaps[g].DecodeByte(b)
	}
	return utf8.RuneError
}

// decodePair decodes a two-byte character of a multi-byte set. b1 and b2
// are given without the high bit (0x21-0x7E), whichever of G0 or G1 they
// came through.
func (g graphic) decodePair(b1, b2 byte) rune {
	if int(g) >= len(pairTables) || pairTables[g] == nil {
		return utf8.RuneError
	}
	return pairTables[g].lookup(b1, b2)
}
