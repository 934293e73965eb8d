package dcm

// VR is a DICOM value representation, stored as its two ASCII letters.
type VR uint16

func vr(s string) VR { return VR(uint16(s[0])<<8 | uint16(s[1])) }

// The value representations of PS3.5 Table 6.2-1.
var (
	AE = vr("AE")
	AS = vr("AS")
	AT = vr("AT")
	CS = vr("CS")
	DA = vr("DA")
	DS = vr("DS")
	DT = vr("DT")
	FD = vr("FD")
	FL = vr("FL")
	IS = vr("IS")
	LO = vr("LO")
	LT = vr("LT")
	OB = vr("OB")
	OD = vr("OD")
	OF = vr("OF")
	OL = vr("OL")
	OV = vr("OV")
	OW = vr("OW")
	PN = vr("PN")
	SH = vr("SH")
	SL = vr("SL")
	SQ = vr("SQ")
	SS = vr("SS")
	ST = vr("ST")
	SV = vr("SV")
	TM = vr("TM")
	UC = vr("UC")
	UI = vr("UI")
	UL = vr("UL")
	UN = vr("UN")
	UR = vr("UR")
	US = vr("US")
	UT = vr("UT")
	UV = vr("UV")
)

var knownVRs = map[VR]bool{
	AE: true, AS: true, AT: true, CS: true, DA: true, DS: true, DT: true, FD: true, FL: true,
	IS: true, LO: true, LT: true, OB: true, OD: true, OF: true, OL: true, OV: true, OW: true,
	PN: true, SH: true, SL: true, SQ: true, SS: true, ST: true, SV: true, TM: true, UC: true,
	UI: true, UL: true, UN: true, UR: true, US: true, UT: true, UV: true,
}

// ParseVR returns the VR named by s, and whether it is one PS3.5 defines.
// Dictionary entries such as "US or SS" resolve to their first VR.
func ParseVR(s string) (VR, bool) {
	if len(s) < 2 {
		return UN, false
	}
	v := vr(s[:2])
	return v, knownVRs[v]
}

// String returns the VR's two letters.
func (v VR) String() string { return string([]byte{byte(v >> 8), byte(v)}) }

// Known reports whether PS3.5 defines the VR.
func (v VR) Known() bool { return knownVRs[v] }

// HasLongLength reports whether explicit VR encoding gives this VR a 2-byte
// reserved field and a 4-byte length (PS3.5 7.1.2).
func (v VR) HasLongLength() bool {
	switch v {
	case OB, OD, OF, OL, OV, OW, SQ, SV, UC, UN, UR, UT, UV:
		return true
	}
	return false
}

// IsBinary reports whether values of this VR are raw bytes (bulk data candidates).
func (v VR) IsBinary() bool {
	switch v {
	case OB, OD, OF, OL, OV, OW, UN:
		return true
	}
	return false
}

// IsText reports whether values are character strings.
func (v VR) IsText() bool {
	switch v {
	case AE, AS, CS, DA, DS, DT, IS, LO, LT, PN, SH, ST, TM, UC, UI, UR, UT:
		return true
	}
	return false
}

// IsSingleValuedText reports whether a backslash in the value is data, not a
// value separator (PS3.5 6.4).
func (v VR) IsSingleValuedText() bool {
	switch v {
	case LT, ST, UT, UR:
		return true
	}
	return false
}

// UsesCharacterSet reports whether Specific Character Set applies to the VR
// (PS3.5 6.1.2.3); the others are always the default repertoire.
func (v VR) UsesCharacterSet() bool {
	switch v {
	case SH, LO, ST, LT, UT, PN, UC:
		return true
	}
	return false
}

// FixedSize returns the size in bytes of one value of a binary numeric VR, or 0.
func (v VR) FixedSize() int {
	switch v {
	case US, SS:
		return 2
	case UL, SL, FL, AT:
		return 4
	case FD, SV, UV:
		return 8
	}
	return 0
}
