package synth

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/molar-pacs/molar/internal/dcm"
)

// SOP classes the generator writes.
const (
	IntraOralForPresentation = "1.2.840.10008.5.1.4.1.1.1.3"
	DXForPresentation        = "1.2.840.10008.5.1.4.1.1.1.1"
	SecondaryCapture         = "1.2.840.10008.5.1.4.1.1.7"
)

// Spec describes one instance. Zero fields get plausible defaults.
type Spec struct {
	StudyUID, SeriesUID, SOPInstanceUID string
	SOPClassUID                         string // default intra-oral
	Modality                            string // default IO
	PatientName                         string // DICOM PN, e.g. "SMITH^JOHN"
	PatientID                           string // NHS number
	PatientBirthDate                    string
	PatientSex                          string
	AccessionNumber                     string // referral URN
	StudyDate, StudyTime                string
	StudyDescription                    string
	SeriesNumber, InstanceNumber        int
	Rows, Columns                       int // default 64x64
	BitsStored                          int // default 12 (16 allocated)
	Seed                                int64
	// Picture is what the pixels show; the default, Stripes, is cheap and
	// keeps test data stable.
	Picture Picture
	// Extra elements (tag -> VR and value) for tests that need more. An
	// extra element replaces a generated one with the same tag.
	Extra map[dcm.Tag]Value
}

// Value is an extra element's VR and text value (binary VRs: raw bytes).
type Value struct {
	VR    dcm.VR
	Value string
}

func (s *Spec) defaults() {
	if s.SOPClassUID == "" {
		s.SOPClassUID = IntraOralForPresentation
	}
	if s.Modality == "" {
		s.Modality = "IO"
	}
	if s.Rows == 0 {
		s.Rows = 64
	}
	if s.Columns == 0 {
		s.Columns = 64
	}
	if s.BitsStored == 0 {
		s.BitsStored = 12
	}
	if s.StudyUID == "" {
		s.StudyUID = dcm.NewUID()
	}
	if s.SeriesUID == "" {
		s.SeriesUID = dcm.NewUID()
	}
	if s.SOPInstanceUID == "" {
		s.SOPInstanceUID = dcm.NewUID()
	}
	if s.SeriesNumber == 0 {
		s.SeriesNumber = 1
	}
	if s.InstanceNumber == 0 {
		s.InstanceNumber = 1
	}
}

// Write writes the instance as a Part 10 file in explicit VR little endian
// and returns its size.
func Write(w io.Writer, s Spec) (int64, error) {
	b, err := Bytes(s)
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	return int64(n), err
}

// Bytes returns the instance as Part 10 bytes.
func Bytes(s Spec) ([]byte, error) {
	s.defaults()
	meta, err := dcm.EncodeFileMeta(dcm.FileMeta{
		SOPClassUID: s.SOPClassUID, SOPInstanceUID: s.SOPInstanceUID,
		TransferSyntax: dcm.ExplicitVRLittleEndian,
	})
	if err != nil {
		return nil, err
	}
	type el struct {
		tag dcm.Tag
		vr  dcm.VR
		val []byte
	}
	text := func(t dcm.Tag, vr dcm.VR, v string) el { return el{t, vr, pad(vr, v)} }
	us := func(t dcm.Tag, v int) el {
		return el{t, dcm.US, binary.LittleEndian.AppendUint16(nil, uint16(v))}
	}
	els := []el{
		text(dcm.SpecificCharacterSet, dcm.CS, "ISO_IR 192"),
		text(dcm.ImageType, dcm.CS, `ORIGINAL\PRIMARY`),
		text(dcm.SOPClassUID, dcm.UI, s.SOPClassUID),
		text(dcm.SOPInstanceUID, dcm.UI, s.SOPInstanceUID),
		text(dcm.StudyDate, dcm.DA, s.StudyDate),
		text(dcm.StudyTime, dcm.TM, s.StudyTime),
		text(dcm.AccessionNumber, dcm.SH, s.AccessionNumber),
		text(dcm.Modality, dcm.CS, s.Modality),
		text(dcm.Manufacturer, dcm.LO, "Molar Synthetic"),
		text(dcm.ReferringPhysicianName, dcm.PN, ""),
		text(dcm.StudyDescription, dcm.LO, s.StudyDescription),
		text(dcm.PatientName, dcm.PN, s.PatientName),
		text(dcm.PatientID, dcm.LO, s.PatientID),
		text(dcm.IssuerOfPatientID, dcm.LO, "NHS"),
		text(dcm.PatientBirthDate, dcm.DA, s.PatientBirthDate),
		text(dcm.PatientSex, dcm.CS, s.PatientSex),
		text(dcm.StudyInstanceUID, dcm.UI, s.StudyUID),
		text(dcm.SeriesInstanceUID, dcm.UI, s.SeriesUID),
		text(dcm.StudyID, dcm.SH, "1"),
		text(dcm.SeriesNumber, dcm.IS, fmt.Sprint(s.SeriesNumber)),
		text(dcm.InstanceNumber, dcm.IS, fmt.Sprint(s.InstanceNumber)),
		us(dcm.SamplesPerPixel, 1),
		text(dcm.PhotometricInterpretation, dcm.CS, "MONOCHROME2"),
		us(dcm.Rows, s.Rows),
		us(dcm.Columns, s.Columns),
		us(dcm.BitsAllocated, 16),
		us(dcm.BitsStored, s.BitsStored),
		us(dcm.NewTag(0x0028, 0x0102), s.BitsStored-1), // High Bit
		us(dcm.PixelRepresentation, 0),
	}
	els = append(els, el{dcm.PixelData, dcm.OW, s.Picture.pixels(s.Rows, s.Columns, s.BitsStored, s.Seed)})
	// Drop what Extra replaces: a tag written twice is not a valid dataset.
	els = slices.DeleteFunc(els, func(e el) bool { _, ok := s.Extra[e.tag]; return ok })
	for t, v := range s.Extra {
		if v.VR.IsBinary() {
			b := []byte(v.Value)
			if len(b)%2 == 1 {
				b = append(b, 0) // values have even length (PS3.5 7.1.1)
			}
			els = append(els, el{t, v.VR, b})
		} else {
			els = append(els, text(t, v.VR, v.Value))
		}
	}
	sort.Slice(els, func(i, j int) bool { return els[i].tag < els[j].tag })
	out := meta
	for _, e := range els {
		if !e.vr.HasLongLength() && len(e.val) > 0xFFFF {
			return nil, fmt.Errorf("synth: %s value of %d bytes does not fit %s's 16-bit length", e.tag, len(e.val), e.vr)
		}
		out = appendElement(out, e.tag, e.vr, e.val)
	}
	return out, nil
}

func pad(vr dcm.VR, v string) []byte {
	b := []byte(v)
	if len(b)%2 == 1 {
		if vr == dcm.UI {
			b = append(b, 0)
		} else {
			b = append(b, ' ')
		}
	}
	return b
}

func appendElement(dst []byte, t dcm.Tag, vr dcm.VR, val []byte) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, t.Group())
	dst = binary.LittleEndian.AppendUint16(dst, t.Element())
	dst = append(dst, vr.String()...)
	if vr.HasLongLength() {
		dst = append(dst, 0, 0)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(val)))
	} else {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(val)))
	}
	return append(dst, val...)
}

// Pixels returns rows x cols 16-bit little-endian samples of a tooth-like
// pattern with noise, deterministic for seed.
func Pixels(rows, cols, bits int, seed int64) []byte {
	out := make([]byte, rows*cols*2)
	maxV := (1 << bits) - 1
	x := uint64(seed)*0x9E3779B97F4A7C15 + 1
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			// Bright crowns in the middle band, darker roots below, noise.
			band := float64(r) / float64(rows)
			tooth := (c / max(cols/6, 1)) % 2
			v := 0.25 + 0.5*float64(tooth)*(1-band) + 0.1*float64(x%100)/100
			binary.LittleEndian.PutUint16(out[2*(r*cols+c):], uint16(v*float64(maxV)))
		}
	}
	return out
}
