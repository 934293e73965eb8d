package dcm

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// AppendAttrs appends the encoding of a to dst in ts and returns the result.
// Implicit VR Little Endian and Explicit VR Big Endian are honoured; every
// other transfer syntax encodes its dataset as Explicit VR Little Endian,
// and for Deflated Explicit VR Little Endian the caller deflates the result.
//
// Values are text as Strings produces them: UTF-8 for character data,
// decimal for US, SS, UL, SL, UV, SV, FL and FD, eight hex digits
// "GGGGEEEE" for AT. A VR of 0 means the data dictionary's (UN when the tag
// is unknown, SQ when the attribute has Items). Binary VRs (OB, OW, UN, …)
// cannot be given as text: they must have no values and encode as empty.
// Sequences and their items are written with undefined lengths and
// delimiters, which every reader must accept and which an implicit VR reader
// recognises as a sequence even when the tag is private; a sequence without
// items is written with length 0.
//
// Text of the VRs that Specific Character Set applies to is encoded into the
// set (0008,0005) of a (or of an item, which may declare its own) names:
// ISO_IR 192 (UTF-8), the default repertoire (ASCII) or one of the single
// byte sets ISO_IR 100, 101, 109, 110, 144, 127, 126, 138, 148 and 203. Any
// other set only takes ASCII text. Attributes are written in tag order
// whatever the order of a. Any value that cannot be encoded is an error
// naming the attribute; dst is then returned unchanged.
func AppendAttrs(dst []byte, a Attrs, ts TransferSyntax) ([]byte, error) {
	e := encoder{implicit: ts.ImplicitVR, bo: binary.LittleEndian}
	if ts.BigEndian {
		e.bo = binary.BigEndian
	}
	out, err := e.appendDataset(dst, a, asciiText, 0, "")
	if err != nil {
		return dst, err
	}
	return out, nil
}

// EncodableIn reports whether every text value of a, items included, can be
// encoded when Specific Character Set is charset (the value of (0008,0005),
// "" for the default repertoire). A caller answering with data from several
// sources uses it to pick the narrowest set that holds all of it, e.g. ""
// before "ISO_IR 100" before "ISO_IR 192". The charset is applied to items
// too, whatever (0008,0005) they carry.
func EncodableIn(a Attrs, charset string) bool {
	enc, _ := lookupTextEncoding([]string{charset})
	return encodableIn(a, enc, 0)
}

func encodableIn(a Attrs, enc *textEncoding, depth int) bool {
	if depth > maxDepth {
		return false
	}
	for _, at := range a {
		for _, item := range at.Items {
			if !encodableIn(item, enc, depth+1) {
				return false
			}
		}
		vr := at.VR
		if vr == 0 {
			vr = DictionaryVR(at.Tag)
		}
		if !vr.IsText() {
			continue
		}
		te := asciiText
		if vr.UsesCharacterSet() {
			te = enc
		}
		for _, v := range at.Values {
			if _, ok := te.append(nil, v); !ok {
				return false
			}
		}
	}
	return true
}

// textEncoding converts UTF-8 text to the bytes of one Specific Character
// Set. A nil cm with utf8 false is ASCII only.
type textEncoding struct {
	name string // the defined term, for error messages
	utf8 bool
	cm   *charmap.Charmap
}

// asciiText is the default repertoire, and what text of VRs that character
// sets do not apply to must be in.
var asciiText = &textEncoding{name: "default repertoire"}

// singleByteSets maps the ISO-IR numbers of the single-byte Defined Terms
// (PS3.3 C.12.1.1.2) to their tables. "ISO 2022 IR n" names the same set as
// "ISO_IR n" with code extensions enabled; as the only value it designates
// the set from the start, so text in it needs no escape sequences either.
var singleByteSets = map[string]*charmap.Charmap{
	"100": charmap.ISO8859_1,
	"101": charmap.ISO8859_2,
	"109": charmap.ISO8859_3,
	"110": charmap.ISO8859_4,
	"144": charmap.ISO8859_5,
	"127": charmap.ISO8859_6,
	"126": charmap.ISO8859_7,
	"138": charmap.ISO8859_8,
	"148": charmap.ISO8859_9,
	"203": charmap.ISO8859_15,
}

// lookupTextEncoding returns the encoding the values of (0008,0005) name.
// Sets AppendAttrs cannot write (code extensions with several values, the
// multi-byte sets) take ASCII only, which is valid in each of them; ok is
// false for those.
func lookupTextEncoding(values []string) (enc *textEncoding, ok bool) {
	var terms []string
	for _, v := range values {
		terms = append(terms, strings.ToUpper(strings.Trim(v, " \x00")))
	}
	for len(terms) > 0 && terms[len(terms)-1] == "" {
		terms = terms[:len(terms)-1]
	}
	switch {
	case len(terms) == 0:
		return asciiText, true
	case len(terms) > 1:
		return &textEncoding{name: strings.Join(terms, `\`)}, false
	}
	term := terms[0]
	if term == "ISO_IR 192" {
		return &textEncoding{name: term, utf8: true}, true
	}
	n, found := strings.CutPrefix(term, "ISO_IR ")
	if !found {
		n, found = strings.CutPrefix(term, "ISO 2022 IR ")
	}
	if found && n == "6" {
		return asciiText, true
	}
	if cm := singleByteSets[n]; found && cm != nil {
		return &textEncoding{name: term, cm: cm}, true
	}
	return &textEncoding{name: term}, false
}

// append appends s encoded, or reports that s has a character the set does
// not hold (or is not valid UTF-8).
func (t *textEncoding) append(dst []byte, s string) ([]byte, bool) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	switch {
	case ascii:
		return append(dst, s...), true
	case t.utf8:
		return append(dst, s...), utf8.ValidString(s)
	case t.cm == nil:
		return dst, false
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return dst, false
			}
		}
		b, ok := t.cm.EncodeRune(r)
		if !ok {
			return dst, false
		}
		dst = append(dst, b)
	}
	return dst, true
}

// byteOrder reads and appends: binary.LittleEndian and binary.BigEndian.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

type encoder struct {
	implicit bool
	bo       byteOrder
}

// appendDataset encodes one dataset (the top level or an item). text is the
// character set inherited from the enclosing dataset; path names the
// enclosing sequences for error messages.
func (e *encoder) appendDataset(dst []byte, a Attrs, text *textEncoding, depth int, path string) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("encoding %s: sequences nested deeper than %d", path, maxDepth)
	}
	byTag := func(x, y Attr) int { return cmp.Compare(x.Tag, y.Tag) }
	if !slices.IsSortedFunc(a, byTag) {
		a = slices.Clone(a)
		slices.SortStableFunc(a, byTag)
	}
	if at, ok := a.Get(SpecificCharacterSet); ok {
		// An item may name its own set (PS3.5 6.1.2.4 lets it differ from
		// the dataset's); otherwise it inherits.
		text, _ = lookupTextEncoding(at.Values)
	}
	for i, at := range a {
		if i > 0 && a[i-1].Tag == at.Tag {
			return nil, fmt.Errorf("encoding %s%s: attribute given twice", path, at.Tag)
		}
		var err error
		dst, err = e.appendAttr(dst, at, text, depth, path)
		if err != nil {
			return nil, err
		}
	}
	return dst, nil
}

func (e *encoder) appendAttr(dst []byte, at Attr, text *textEncoding, depth int, path string) ([]byte, error) {
	name := path + at.Tag.String()
	vr := at.VR
	if vr == 0 {
		vr = DictionaryVR(at.Tag)
		if vr == UN && at.Items != nil {
			// A private sequence: the dictionary cannot know it.
			vr = SQ
		}
	}
	switch {
	case at.Tag.Group() == 0xFFFE:
		return nil, fmt.Errorf("encoding %s: items and delimiters are not attributes", name)
	case !vr.Known():
		return nil, fmt.Errorf("encoding %s: unknown VR %q", name, vr)
	case vr != SQ && len(at.Items) > 0:
		return nil, fmt.Errorf("encoding %s: %s has items; only SQ does", name, vr)
	}
	if vr == SQ {
		if len(at.Values) > 0 {
			return nil, fmt.Errorf("encoding %s: a sequence has items, not values", name)
		}
		if len(at.Items) == 0 {
			return e.appendHeader(dst, at.Tag, SQ, 0), nil
		}
		dst = e.appendHeader(dst, at.Tag, SQ, UndefinedLength)
		for i, item := range at.Items {
			dst = e.appendItemHeader(dst, Item, UndefinedLength)
			var err error
			dst, err = e.appendDataset(dst, item, text, depth+1, fmt.Sprintf("%s%s[%d].", path, at.Tag, i))
			if err != nil {
				return nil, err
			}
			dst = e.appendItemHeader(dst, ItemDelimitationItem, 0)
		}
		return e.appendItemHeader(dst, SequenceDelimitationItem, 0), nil
	}

	// Write the header with a zero length, encode the value behind it, then
	// patch the length in: no temporary buffer per value.
	start := len(dst)
	dst = e.appendHeader(dst, at.Tag, vr, 0)
	valueAt := len(dst)
	dst, err := e.appendValue(dst, vr, at.Values, text)
	if err != nil {
		return nil, fmt.Errorf("encoding %s (%s): %w", name, vr, err)
	}
	n := len(dst) - valueAt
	switch {
	case e.implicit:
		e.bo.PutUint32(dst[start+4:], uint32(n))
	case vr.HasLongLength():
		e.bo.PutUint32(dst[start+8:], uint32(n))
	case n > 0xFFFF:
		return nil, fmt.Errorf("encoding %s (%s): %d bytes do not fit the 16-bit length of explicit VR", name, vr, n)
	default:
		e.bo.PutUint16(dst[start+6:], uint16(n))
	}
	return dst, nil
}

// appendHeader appends an element header (PS3.5 7.1).
func (e *encoder) appendHeader(dst []byte, t Tag, vr VR, length uint32) []byte {
	dst = e.bo.AppendUint16(dst, t.Group())
	dst = e.bo.AppendUint16(dst, t.Element())
	switch {
	case e.implicit:
		return e.bo.AppendUint32(dst, length)
	case vr.HasLongLength():
		dst = append(dst, byte(vr>>8), byte(vr), 0, 0)
		return e.bo.AppendUint32(dst, length)
	}
	dst = append(dst, byte(vr>>8), byte(vr))
	return e.bo.AppendUint16(dst, uint16(length))
}

// appendItemHeader appends an item or delimiter, which has no VR in any
// transfer syntax.
func (e *encoder) appendItemHeader(dst []byte, t Tag, length uint32) []byte {
	dst = e.bo.AppendUint16(dst, t.Group())
	dst = e.bo.AppendUint16(dst, t.Element())
	return e.bo.AppendUint32(dst, length)
}

// appendValue appends the value field, padded to even length.
func (e *encoder) appendValue(dst []byte, vr VR, values []string, text *textEncoding) ([]byte, error) {
	if len(values) == 0 || len(values) == 1 && values[0] == "" {
		return dst, nil
	}
	if vr.IsBinary() {
		return nil, fmt.Errorf("binary values cannot be given as text")
	}
	if vr.IsText() {
		return appendText(dst, vr, values, text)
	}
	for i, v := range values {
		var err error
		dst, err = e.appendNumber(dst, vr, strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("value %d: %w", i+1, err)
		}
	}
	return dst, nil
}

func appendText(dst []byte, vr VR, values []string, text *textEncoding) ([]byte, error) {
	if vr.IsSingleValuedText() && len(values) > 1 {
		return nil, fmt.Errorf("%d values for a single-valued VR", len(values))
	}
	if !vr.UsesCharacterSet() {
		text = asciiText
	}
	start := len(dst)
	for i, v := range values {
		if i > 0 {
			dst = append(dst, '\\')
		}
		if !vr.IsSingleValuedText() && strings.Contains(v, `\`) {
			// It would read back as two values.
			return nil, fmt.Errorf("value %d %q contains the value delimiter '\\'", i+1, v)
		}
		var ok bool
		dst, ok = text.append(dst, v)
		if !ok {
			return nil, fmt.Errorf("value %d %q cannot be encoded in %s", i+1, v, text.name)
		}
	}
	if (len(dst)-start)%2 == 1 {
		pad := byte(' ')
		if vr == UI {
			pad = 0
		}
		dst = append(dst, pad)
	}
	return dst, nil
}

func (e *encoder) appendNumber(dst []byte, vr VR, v string) ([]byte, error) {
	var err error
	switch vr {
	case US, SS, UL, SL, UV, SV:
		var u uint64
		if vr == US || vr == UL || vr == UV {
			u, err = strconv.ParseUint(v, 10, vr.FixedSize()*8)
		} else {
			var i int64
			i, err = strconv.ParseInt(v, 10, vr.FixedSize()*8)
			u = uint64(i)
		}
		if err != nil {
			break
		}
		switch vr.FixedSize() {
		case 2:
			return e.bo.AppendUint16(dst, uint16(u)), nil
		case 4:
			return e.bo.AppendUint32(dst, uint32(u)), nil
		}
		return e.bo.AppendUint64(dst, u), nil
	case FL:
		var f float64
		if f, err = strconv.ParseFloat(v, 32); err == nil {
			return e.bo.AppendUint32(dst, math.Float32bits(float32(f))), nil
		}
	case FD:
		var f float64
		if f, err = strconv.ParseFloat(v, 64); err == nil {
			return e.bo.AppendUint64(dst, math.Float64bits(f)), nil
		}
	case AT:
		if len(v) != 8 {
			return nil, fmt.Errorf("attribute tag %q is not eight hex digits", v)
		}
		var t uint64
		if t, err = strconv.ParseUint(v, 16, 32); err == nil {
			// A tag is two 16-bit numbers, each in the dataset's byte order.
			dst = e.bo.AppendUint16(dst, uint16(t>>16))
			return e.bo.AppendUint16(dst, uint16(t)), nil
		}
	default:
		return nil, fmt.Errorf("no text form for VR %s", vr)
	}
	return nil, fmt.Errorf("%q is not a %s value: %w", v, vr, err)
}
