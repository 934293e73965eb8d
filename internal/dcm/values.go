package dcm

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/molar-pacs/molar/internal/charset"
)

// CharacterSet returns the dataset's Specific Character Set, or inherit when
// the dataset does not declare one (sequence items inherit their parent's).
// An unknown term is reported with a set that still decodes leniently.
func (d *Dataset) CharacterSet(inherit *charset.Set) (*charset.Set, error) {
	e := d.Find(SpecificCharacterSet)
	if e == nil {
		if inherit == nil {
			inherit, _ = charset.Parse(nil)
		}
		return inherit, nil
	}
	var terms []string
	if len(e.Value) > 0 {
		terms = strings.Split(string(e.Value), `\`)
	}
	return charset.Parse(terms)
}

// Strings returns the values of a non-sequence, non-bulk element as text:
// character data decoded to UTF-8 and trimmed of padding, numbers in
// decimal, AT as eight hex digits, PN as "Alphabetic=Ideographic=Phonetic"
// without trailing empty groups. Binary VRs (OB, OW, UN, …) return nil.
func Strings(e *Element, bo binary.ByteOrder, cs *charset.Set) []string {
	if e == nil || e.Value == nil || len(e.Value) == 0 {
		return nil
	}
	if e.VR.IsText() {
		return textValues(e.VR, e.Value, cs)
	}
	switch e.VR {
	case US, SS, UL, SL, FL, FD, SV, UV, AT:
		return numberStrings(e.VR, e.Value, bo)
	}
	return nil
}

func textValues(vr VR, raw []byte, cs *charset.Set) []string {
	var s string
	if vr.UsesCharacterSet() && cs != nil && !(cs.IsUTF8Compatible() && isASCII(raw)) {
		s = cs.Decode(raw, vr == PN)
	} else {
		s = string(raw)
	}
	var parts []string
	if vr.IsSingleValuedText() {
		parts = []string{s}
	} else {
		parts = strings.Split(s, `\`)
	}
	for i, p := range parts {
		parts[i] = trimValue(vr, p)
	}
	if vr == PN {
		for i, p := range parts {
			parts[i] = trimPersonName(p)
		}
	}
	if len(parts) == 1 && parts[0] == "" {
		return nil
	}
	return parts
}

// trimPersonName drops the trailing empty components of each component
// group and then the trailing empty groups, which PS3.5 6.2 lets a writer
// leave out: "Smith^John^^" is "Smith^John", "^^^^" is empty.
func trimPersonName(v string) string {
	groups := strings.Split(v, "=")
	for i, g := range groups {
		groups[i] = strings.TrimRight(g, "^")
	}
	return strings.TrimRight(strings.Join(groups, "="), "=")
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// trimValue removes the padding PS3.5 6.2 declares insignificant for vr.
func trimValue(vr VR, s string) string {
	switch vr {
	case UI:
		return strings.TrimRight(s, "\x00 ")
	case LT, ST, UT:
		return strings.TrimRight(s, " \x00")
	default:
		return strings.Trim(s, " \x00")
	}
}

func numberStrings(vr VR, raw []byte, bo binary.ByteOrder) []string {
	size := vr.FixedSize()
	n := len(raw) / size
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		b := raw[i*size:]
		var s string
		switch vr {
		case US:
			s = strconv.FormatUint(uint64(bo.Uint16(b)), 10)
		case SS:
			s = strconv.FormatInt(int64(int16(bo.Uint16(b))), 10)
		case UL:
			s = strconv.FormatUint(uint64(bo.Uint32(b)), 10)
		case SL:
			s = strconv.FormatInt(int64(int32(bo.Uint32(b))), 10)
		case UV:
			s = strconv.FormatUint(bo.Uint64(b), 10)
		case SV:
			s = strconv.FormatInt(int64(bo.Uint64(b)), 10)
		case FL:
			s = formatFloat(float64(math.Float32frombits(bo.Uint32(b))), 32)
		case FD:
			s = formatFloat(math.Float64frombits(bo.Uint64(b)), 64)
		case AT:
			s = fmt.Sprintf("%04X%04X", bo.Uint16(b), bo.Uint16(b[2:]))
		}
		out = append(out, s)
	}
	return out
}

func formatFloat(f float64, bits int) string {
	return strconv.FormatFloat(f, 'g', -1, bits)
}
