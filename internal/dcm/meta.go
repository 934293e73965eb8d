package dcm

import (
	"encoding/binary"
	"fmt"
)

// Molar's implementation identity (PS3.7 D.3.3.2): a UUID-derived UID so no
// registered root is needed.
const (
	MolarImplementationClassUID = "2.25.183223336322571755218094435959183116186"
	MolarImplementationVersion  = "MOLAR_1"
)

// FileMeta is the content of a Part 10 file meta information group.
type FileMeta struct {
	SOPClassUID            string
	SOPInstanceUID         string
	TransferSyntax         string
	ImplementationClassUID string
	ImplementationVersion  string
	SourceAE               string
}

// EncodeFileMeta returns the 128-byte preamble, "DICM" and the file meta
// information group (PS3.10 7.1), ready to be followed by the dataset.
func EncodeFileMeta(m FileMeta) ([]byte, error) {
	if m.SOPClassUID == "" || m.SOPInstanceUID == "" || m.TransferSyntax == "" {
		return nil, fmt.Errorf("file meta information needs SOP Class, SOP Instance and Transfer Syntax UIDs")
	}
	if m.ImplementationClassUID == "" {
		m.ImplementationClassUID = MolarImplementationClassUID
		m.ImplementationVersion = MolarImplementationVersion
	}
	var group []byte
	group = appendExplicitLE(group, NewTag(0x0002, 0x0001), OB, []byte{0, 1})
	group = appendExplicitLE(group, MediaStorageSOPClassUID, UI, padUID(m.SOPClassUID))
	group = appendExplicitLE(group, MediaStorageSOPInstanceUID, UI, padUID(m.SOPInstanceUID))
	group = appendExplicitLE(group, TransferSyntaxUID, UI, padUID(m.TransferSyntax))
	group = appendExplicitLE(group, ImplementationClassUID, UI, padUID(m.ImplementationClassUID))
	if m.ImplementationVersion != "" {
		group = appendExplicitLE(group, ImplementationVersionName, SH, padText(m.ImplementationVersion))
	}
	if m.SourceAE != "" {
		group = appendExplicitLE(group, SourceApplicationEntityTitle, AE, padText(m.SourceAE))
	}
	out := make([]byte, 128, 128+4+12+len(group))
	out = append(out, "DICM"...)
	length := make([]byte, 4)
	binary.LittleEndian.PutUint32(length, uint32(len(group)))
	out = appendExplicitLE(out, FileMetaInformationGroupLength, UL, length)
	return append(out, group...), nil
}

// appendExplicitLE appends one element in explicit VR little endian.
func appendExplicitLE(dst []byte, t Tag, v VR, value []byte) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, t.Group())
	dst = binary.LittleEndian.AppendUint16(dst, t.Element())
	dst = append(dst, byte(v>>8), byte(v))
	if v.HasLongLength() {
		dst = append(dst, 0, 0)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(value)))
	} else {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(value)))
	}
	return append(dst, value...)
}

func padUID(s string) []byte {
	b := []byte(s)
	if len(b)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func padText(s string) []byte {
	b := []byte(s)
	if len(b)%2 == 1 {
		b = append(b, ' ')
	}
	return b
}
