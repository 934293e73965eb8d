package dcm

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/molar-pacs/molar/internal/charset"
)

// BulkPath names a bulk value inside a dataset: the tag path from the top,
// with item indices for nested values, e.g. "7FE00010" or
// "00540016/0/00181072". It is the last part of a BulkDataURI.
type BulkPath string

// JSONWriter renders datasets as DICOM JSON (PS3.18 Annex F).
type JSONWriter struct {
	// BulkURI returns the BulkDataURI for a value that was not kept in
	// memory (and for all pixel data). It is called with the value's path.
	BulkURI func(path BulkPath) string
	// Skip, when set, drops elements it returns true for (at any depth).
	Skip func(Tag) bool
}

// Append appends the JSON object for ds to dst. Group lengths and Data Set
// Trailing Padding are omitted, text is converted to UTF-8 per Specific
// Character Set, and of repeated tags only the first is written.
func (w *JSONWriter) Append(dst []byte, ds *Dataset) []byte {
	return w.appendDataset(dst, ds, nil, "")
}

func (w *JSONWriter) appendDataset(dst []byte, ds *Dataset, inherit *charset.Set, prefix string) []byte {
	cs, _ := ds.CharacterSet(inherit)
	bo := ds.ByteOrder()
	dst = append(dst, '{')
	first := true
	for i, e := range ds.Elements {
		if e.Tag.IsGroupLength() || e.Tag == dataSetTrailingPadding || (w.Skip != nil && w.Skip(e.Tag)) {
			continue
		}
		if i > 0 && ds.Elements[i-1].Tag == e.Tag {
			// A repeated tag would repeat a JSON member name (RFC 8259
			// 4: names should be unique). Elements are sorted, so
			// repeats are neighbours; keep the first, as Find does.
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = appendHex8(dst, uint32(e.Tag))
		dst = append(dst, `":{"vr":"`...)
		dst = append(dst, e.VR.String()...)
		dst = append(dst, '"')
		dst = w.appendValue(dst, e, bo, cs, prefix)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func (w *JSONWriter) appendValue(dst []byte, e *Element, bo binary.ByteOrder, cs *charset.Set, prefix string) []byte {
	path := prefix + e.Tag.Hex()
	switch {
	case e.VR == SQ:
		if len(e.Items) == 0 {
			return dst
		}
		dst = append(dst, `,"Value":[`...)
		for i, item := range e.Items {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = w.appendDataset(dst, item, cs, path+"/"+strconv.Itoa(i)+"/")
		}
		return append(dst, ']')
	case e.Encapsulated || e.Bulk() || (e.Tag == PixelData && e.Length > 0):
		if w.BulkURI == nil {
			return dst
		}
		dst = append(dst, `,"BulkDataURI":`...)
		return appendString(dst, w.BulkURI(BulkPath(path)))
	case len(e.Value) == 0:
		return dst
	case e.VR.IsBinary():
		dst = append(dst, `,"InlineBinary":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, littleEndianValue(e, bo))
		return append(dst, '"')
	case e.VR == PN:
		vals := textValues(PN, e.Value, cs)
		if len(vals) == 0 {
			return dst
		}
		dst = append(dst, `,"Value":[`...)
		for i, v := range vals {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendPersonName(dst, v)
		}
		return append(dst, ']')
	case e.VR == DS || e.VR == IS:
		vals := textValues(e.VR, e.Value, cs)
		if len(vals) == 0 {
			return dst
		}
		dst = append(dst, `,"Value":[`...)
		for i, v := range vals {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendDecimal(dst, v, e.VR == IS)
		}
		return append(dst, ']')
	case e.VR.IsText():
		vals := textValues(e.VR, e.Value, cs)
		if len(vals) == 0 {
			return dst
		}
		dst = append(dst, `,"Value":[`...)
		for i, v := range vals {
			if i > 0 {
				dst = append(dst, ',')
			}
			if v == "" {
				dst = append(dst, "null"...)
			} else {
				dst = appendString(dst, v)
			}
		}
		return append(dst, ']')
	default:
		return w.appendBinaryNumbers(dst, e, bo)
	}
}

// dataSetTrailingPadding (FFFC,FFFC) pads a file and has no meaning
// (PS3.10 7.2); it is not an attribute a client should see.
const dataSetTrailingPadding Tag = 0xFFFCFFFC

// littleEndianValue returns a binary value in little endian byte order.
// InlineBinary is encoded in the transfer syntax of the JSON
// (application/dicom+json's transfer-syntax parameter, PS3.18 F.2.7),
// which we never set, so it is the default Explicit VR Little Endian:
// the words of OW, OF, OL, OD and OV from a big endian dataset are swapped.
// OB and UN are bytes and stay as they are.
func littleEndianValue(e *Element, bo binary.ByteOrder) []byte {
	var size int
	switch e.VR {
	case OW:
		size = 2
	case OF, OL:
		size = 4
	case OD, OV:
		size = 8
	}
	if size == 0 || bo != binary.BigEndian {
		return e.Value
	}
	out := make([]byte, len(e.Value))
	copy(out, e.Value)
	for i := 0; i+size <= len(out); i += size {
		slices.Reverse(out[i : i+size])
	}
	return out
}

func (w *JSONWriter) appendBinaryNumbers(dst []byte, e *Element, bo binary.ByteOrder) []byte {
	size := e.VR.FixedSize()
	if size == 0 || len(e.Value) < size {
		return dst
	}
	dst = append(dst, `,"Value":[`...)
	for i := 0; i+size <= len(e.Value); i += size {
		if i > 0 {
			dst = append(dst, ',')
		}
		b := e.Value[i:]
		switch e.VR {
		case US:
			dst = strconv.AppendUint(dst, uint64(bo.Uint16(b)), 10)
		case SS:
			dst = strconv.AppendInt(dst, int64(int16(bo.Uint16(b))), 10)
		case UL:
			dst = strconv.AppendUint(dst, uint64(bo.Uint32(b)), 10)
		case SL:
			dst = strconv.AppendInt(dst, int64(int32(bo.Uint32(b))), 10)
		case UV:
			dst = strconv.AppendUint(dst, bo.Uint64(b), 10)
		case SV:
			dst = strconv.AppendInt(dst, int64(bo.Uint64(b)), 10)
		case FL:
			dst = appendJSONFloat(dst, float64(math.Float32frombits(bo.Uint32(b))), 32)
		case FD:
			dst = appendJSONFloat(dst, math.Float64frombits(bo.Uint64(b)), 64)
		case AT:
			dst = append(dst, '"')
			dst = appendHex4(dst, bo.Uint16(b))
			dst = appendHex4(dst, bo.Uint16(b[2:]))
			dst = append(dst, '"')
		}
	}
	return append(dst, ']')
}

// appendJSONFloat writes NaN and infinities as null: JSON has no spelling
// for them.
func appendJSONFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// appendDecimal writes an IS or DS value as a JSON number. Text that is not
// a number is kept as a JSON string rather than lost.
func appendDecimal(dst []byte, v string, integer bool) []byte {
	if v == "" {
		return append(dst, "null"...)
	}
	if integer {
		if n, err := strconv.ParseInt(strings.TrimPrefix(v, "+"), 10, 64); err == nil {
			return strconv.AppendInt(dst, n, 10)
		}
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	}
	return appendString(dst, v)
}

func appendPersonName(dst []byte, v string) []byte {
	if v == "" {
		return append(dst, "null"...)
	}
	groups := strings.SplitN(v, "=", 3)
	names := [...]string{"Alphabetic", "Ideographic", "Phonetic"}
	dst = append(dst, '{')
	first := true
	for i, g := range groups {
		if g == "" {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, names[i]...)
		dst = append(dst, `":`...)
		dst = appendString(dst, g)
	}
	return append(dst, '}')
}

const hexDigits = "0123456789ABCDEF"

func appendHex4(dst []byte, v uint16) []byte {
	return append(dst, hexDigits[v>>12], hexDigits[v>>8&0xF], hexDigits[v>>4&0xF], hexDigits[v&0xF])
}

func appendHex8(dst []byte, v uint32) []byte {
	return appendHex4(appendHex4(dst, uint16(v>>16)), uint16(v))
}

// appendString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
