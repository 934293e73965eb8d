package dcm

import (
	"strconv"
	"strings"
)

// AppendAttrsJSON appends the DICOM JSON object (PS3.18 F.2) for attributes
// held as text, as the index and query results hold them: person names
// become name-group objects, numbers become JSON numbers, sequences nest.
// Binary values have no text form and are written without a value.
func AppendAttrsJSON(dst []byte, attrs Attrs) []byte {
	dst = append(dst, '{')
	for i, a := range attrs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = appendHex8(dst, uint32(a.Tag))
		dst = append(dst, `":{"vr":"`...)
		dst = append(dst, a.VR.String()...)
		dst = append(dst, '"')
		dst = appendAttrValues(dst, a)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func appendAttrValues(dst []byte, a Attr) []byte {
	if a.VR == SQ {
		if len(a.Items) == 0 {
			return dst
		}
		dst = append(dst, `,"Value":[`...)
		for i, item := range a.Items {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendAttrsJSON(dst, item)
		}
		return append(dst, ']')
	}
	if len(a.Values) == 0 || a.VR.IsBinary() {
		return dst
	}
	dst = append(dst, `,"Value":[`...)
	for i, v := range a.Values {
		if i > 0 {
			dst = append(dst, ',')
		}
		switch a.VR {
		case PN:
			dst = appendPersonName(dst, v)
		case IS, DS:
			dst = appendDecimal(dst, strings.TrimSpace(v), a.VR == IS)
		case US, SS, UL, SL, UV, SV:
			dst = appendDecimal(dst, v, true)
		case FL, FD:
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				dst = appendJSONFloat(dst, f, 64)
			} else {
				dst = append(dst, "null"...)
			}
		default:
			if v == "" {
				dst = append(dst, "null"...)
			} else {
				dst = appendString(dst, v)
			}
		}
	}
	return append(dst, ']')
}
