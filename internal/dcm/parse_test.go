package dcm_test

import (
	"bytes"
	"cmp"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// pydicomDir holds the test files Debian's python3-pydicom ships. They are
// read in place rather than copied: the package is a test dependency, like
// DCMTK.
const pydicomDir = "/usr/lib/python3/dist-packages/pydicom/data"

// pydicomFiles returns every .dcm file of pydicom's test_files and
// charset_files, relative to pydicomDir, sorted.
func pydicomFiles(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, dir := range []string{"test_files", "charset_files"} {
		m, _ := filepath.Glob(filepath.Join(pydicomDir, dir, "*.dcm"))
		for _, p := range m {
			out = append(out, filepath.Join(dir, filepath.Base(p)))
		}
	}
	if len(out) == 0 {
		t.Fatalf("no pydicom test files under %s (apt-get install python3-pydicom)", pydicomDir)
	}
	slices.Sort(out)
	return out
}

func readPydicom(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pydicomDir, rel))
	if err != nil {
		t.Fatalf("%v (apt-get install python3-pydicom)", err)
	}
	return b
}

func mustParse(t testing.TB, data []byte, opts dcm.ParseOptions) *dcm.File {
	t.Helper()
	f, err := dcm.ParsePart10(bytes.NewReader(data), opts)
	if err != nil {
		t.Fatalf("ParsePart10: %v", err)
	}
	return f
}

// rejectedFiles are the pydicom files ParsePart10 must refuse, and why.
var rejectedFiles = map[string]error{
	"test_files/ExplVR_BigEndNoMeta.dcm":  dcm.ErrNotDICOM, // bare dataset, no preamble
	"test_files/ExplVR_LitEndNoMeta.dcm":  dcm.ErrNotDICOM,
	"test_files/no_meta.dcm":              dcm.ErrNotDICOM,
	"test_files/rtstruct.dcm":             dcm.ErrNotDICOM,
	"test_files/meta_missing_tsyntax.dcm": dcm.ErrMalformed,
	"test_files/MR_truncated.dcm":         dcm.ErrTruncated,
	"test_files/rtplan_truncated.dcm":     dcm.ErrTruncated,
	// Declares JPEG Baseline (explicit VR) but the dataset is implicit VR,
	// so a text value is read as a 1.2 GB length; DCMTK fails alike.
	"test_files/SC_rgb_jpeg.dcm": dcm.ErrTruncated,
}

// TestParseAllPydicomFiles: every file parses, reads to its end and has
// a dataset, or fails as rejectedFiles says.
func TestParseAllPydicomFiles(t *testing.T) {
	for _, rel := range pydicomFiles(t) {
		t.Run(rel, func(t *testing.T) {
			data := readPydicom(t, rel)
			f, err := dcm.ParsePart10(bytes.NewReader(data), dcm.ParseOptions{})
			if want, ok := rejectedFiles[rel]; ok {
				if !errors.Is(err, want) {
					t.Fatalf("error %v, want one wrapping %v", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Size != int64(len(data)) {
				t.Errorf("Size %d, file has %d bytes", f.Size, len(data))
			}
			if f.Dataset == nil || len(f.Dataset.Elements) == 0 {
				t.Errorf("empty dataset")
			}
		})
	}
}

// TestParseTransferSyntaxes reads one file of each transfer syntax pydicom
// ships and checks what dcmdump shows for it.
func TestParseTransferSyntaxes(t *testing.T) {
	tests := []struct {
		file         string
		ts           string
		metaLength   int64 // (0002,0000)
		patient      string
		modality     string
		rows, cols   int
		bits         int
		encapsulated bool
	}{
		{"MR_small_implicit.dcm", dcm.ImplicitVRLittleEndian, 0, "CompressedSamples^MR1", "MR", 64, 64, 16, false},
		{"MR_small.dcm", dcm.ExplicitVRLittleEndian, 190, "CompressedSamples^MR1", "MR", 64, 64, 16, false},
		{"MR_small_bigendian.dcm", dcm.ExplicitVRBigEndian, 206, "CompressedSamples^MR1", "MR", 64, 64, 16, false},
		{"ExplVR_BigEnd.dcm", dcm.ExplicitVRBigEndian, 204, "Anonymized", "US", 60, 80, 8, false},
		{"image_dfl.dcm", dcm.DeflatedExplicitVRLittleEndian, 190, "^^^^", "OT", 512, 512, 8, false},
		{"SC_rgb_jpeg_dcmtk.dcm", dcm.JPEGBaseline8Bit, 202, "Lestrade^G", "OT", 100, 100, 8, true},
		{"JPGExtended.dcm", dcm.JPEGExtended12Bit, 192, "CompressedSamples^NM1", "NM", 1024, 256, 16, true},
		{"SC_rgb_jpeg_gdcm.dcm", dcm.JPEGLosslessSV1, 240, "Lestrade^G", "OT", 100, 100, 8, true},
		{"MR_small_jpeg_ls_lossless.dcm", dcm.JPEGLSLossless, 222, "CompressedSamples^MR1", "MR", 64, 64, 16, true},
		{"MR_small_jp2klossless.dcm", dcm.JPEG2000Lossless, 222, "CompressedSamples^MR1", "MR", 64, 64, 16, true},
		{"JPEG2000.dcm", dcm.JPEG2000, 192, "CompressedSamples^NM1", "NM", 1024, 256, 16, true},
		{"MR_small_RLE.dcm", dcm.RLELossless, 206, "CompressedSamples^MR1", "MR", 64, 64, 16, true},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data := readPydicom(t, "test_files/"+tc.file)
			f := mustParse(t, data, dcm.ParseOptions{})
			if f.TransferSyntax.UID != tc.ts {
				t.Errorf("transfer syntax %q, want %q", f.TransferSyntax.UID, tc.ts)
			}
			if f.Size != int64(len(data)) {
				t.Errorf("Size %d, want %d", f.Size, len(data))
			}
			if f.Deflated != (tc.ts == dcm.DeflatedExplicitVRLittleEndian) {
				t.Errorf("Deflated %v", f.Deflated)
			}
			if f.Dataset.BigEndian != (tc.ts == dcm.ExplicitVRBigEndian) {
				t.Errorf("BigEndian %v", f.Dataset.BigEndian)
			}
			if tc.metaLength > 0 && f.DatasetOffset != 132+12+tc.metaLength {
				t.Errorf("DatasetOffset %d, want %d", f.DatasetOffset, 132+12+tc.metaLength)
			}
			ds := f.Dataset
			if got := ds.String(dcm.PatientName); got != tc.patient {
				t.Errorf("PatientName %q, want %q", got, tc.patient)
			}
			if got := ds.String(dcm.Modality); got != tc.modality {
				t.Errorf("Modality %q, want %q", got, tc.modality)
			}
			for _, c := range []struct {
				tag  dcm.Tag
				want int
			}{{dcm.Rows, tc.rows}, {dcm.Columns, tc.cols}, {dcm.BitsAllocated, tc.bits}} {
				if got, ok := ds.Int(c.tag); !ok || got != c.want {
					t.Errorf("%s = %d, %v; want %d", c.tag, got, ok, c.want)
				}
			}
			pd := ds.Find(dcm.PixelData)
			if pd == nil {
				t.Fatal("no pixel data")
			}
			if pd.Encapsulated != tc.encapsulated {
				t.Errorf("pixel data Encapsulated %v", pd.Encapsulated)
			}
			if tc.encapsulated && (pd.Length != dcm.UndefinedLength || len(pd.Fragments) == 0) {
				t.Errorf("encapsulated pixel data: length %#x, %d fragments", pd.Length, len(pd.Fragments))
			}
			checkOffsets(t, f, data)
		})
	}
}

// TestParseOffsets checks, for every element of every file that parses,
// that the bytes at Offset are the value, that defined lengths end where
// the stream says, and that fragments sit behind their item headers.
func TestParseOffsets(t *testing.T) {
	for _, rel := range pydicomFiles(t) {
		if rejectedFiles[rel] != nil {
			continue
		}
		data := readPydicom(t, rel)
		checkOffsets(t, mustParse(t, data, dcm.ParseOptions{}), data)
		// With nothing kept inline the offsets must not move.
		// (64 is the longest UID: the file meta information must stay readable.)
		small := mustParse(t, data, dcm.ParseOptions{MaxInlineBinary: 1, MaxInlineValue: 64})
		checkOffsets(t, small, data)
	}
	for _, in := range dentalCorpus(t) {
		checkOffsets(t, mustParse(t, in.data, dcm.ParseOptions{}), in.data)
	}
}

// datasetBytes returns the stream that element offsets count in: the file
// itself or, for a deflated dataset, the file with the dataset inflated.
func datasetBytes(t testing.TB, f *dcm.File, data []byte) []byte {
	t.Helper()
	if !f.Deflated {
		return data
	}
	inflated, err := io.ReadAll(flate.NewReader(bytes.NewReader(data[f.DatasetOffset:])))
	if err != nil {
		t.Fatalf("inflating: %v", err)
	}
	// Offsets of a deflated dataset count inflated bytes from 0.
	return inflated
}

func checkOffsets(t *testing.T, f *dcm.File, data []byte) {
	t.Helper()
	checkMetaOffsets(t, f, data)
	checkDatasetOffsets(t, "", f.Dataset, datasetBytes(t, f, data))
}

func checkMetaOffsets(t *testing.T, f *dcm.File, data []byte) {
	t.Helper()
	for _, e := range f.Meta.Elements {
		if e.Value != nil && !bytes.Equal(data[e.Offset:e.Offset+int64(len(e.Value))], e.Value) {
			t.Errorf("meta %s: bytes at offset %d differ from Value", e.Tag, e.Offset)
		}
	}
}

func checkDatasetOffsets(t *testing.T, path string, ds *dcm.Dataset, b []byte) {
	t.Helper()
	bo := ds.ByteOrder()
	for _, e := range ds.Elements {
		where := path + e.Tag.String()
		if e.Offset < 0 || e.Offset > int64(len(b)) {
			t.Errorf("%s: offset %d outside the %d-byte stream", where, e.Offset, len(b))
			continue
		}
		// The tag is right in front of the value: 8 bytes before it in
		// implicit VR and explicit short form, 12 in explicit long form.
		if !tagAt(b, e.Offset-8, e.Tag, bo) && !tagAt(b, e.Offset-12, e.Tag, bo) {
			t.Errorf("%s: tag not found before offset %d", where, e.Offset)
		}
		if e.Length != dcm.UndefinedLength && e.Offset+int64(e.Length) > int64(len(b)) {
			t.Errorf("%s: %d bytes at offset %d run past the stream", where, e.Length, e.Offset)
		}
		if e.Value != nil {
			if uint32(len(e.Value)) != e.Length {
				t.Errorf("%s: Value has %d bytes, Length is %d", where, len(e.Value), e.Length)
			}
			if !bytes.Equal(b[e.Offset:e.Offset+int64(len(e.Value))], e.Value) {
				t.Errorf("%s: bytes at offset %d differ from Value", where, e.Offset)
			}
		}
		if e.VR == dcm.SQ && e.Length != dcm.UndefinedLength && len(e.Items) > 0 {
			// The first item header starts the value.
			if !tagAt(b, e.Offset, dcm.Item, e.Items[0].ByteOrder()) {
				t.Errorf("%s: no item tag at the start of the sequence value", where)
			}
		}
		for i, item := range e.Items {
			checkDatasetOffsets(t, fmt.Sprintf("%s/%d/", where, i), item, b)
		}
		for i, fr := range e.Fragments {
			if !tagAt(b, fr.Offset-8, dcm.Item, bo) || bo.Uint32(b[fr.Offset-4:]) != fr.Length {
				t.Errorf("%s fragment %d: no item header of length %d before offset %d", where, i, fr.Length, fr.Offset)
			}
			if fr.Offset+int64(fr.Length) > int64(len(b)) {
				t.Errorf("%s fragment %d: runs past the stream", where, i)
			}
			if n := min(12, int(fr.Length)); !bytes.Equal(fr.Head, b[fr.Offset:fr.Offset+int64(n)]) {
				t.Errorf("%s fragment %d: Head %x, stream has %x", where, i, fr.Head, b[fr.Offset:fr.Offset+int64(n)])
			}
		}
	}
}

func tagAt(b []byte, at int64, tag dcm.Tag, bo binary.ByteOrder) bool {
	if at < 0 || at+4 > int64(len(b)) {
		return false
	}
	return bo.Uint16(b[at:]) == tag.Group() && bo.Uint16(b[at+2:]) == tag.Element()
}

// TestParseTruncatedFiles: pydicom's cut-off files fail with ErrTruncated,
// and the message names the element and the offset of its value, which
// must be where the file really has that element.
func TestParseTruncatedFiles(t *testing.T) {
	tests := []struct {
		file   string
		tag    dcm.Tag
		offset int64
		header int64 // bytes of element header before the value
	}{
		{"MR_truncated.dcm", dcm.PixelData, 1500, 12},                 // explicit VR, OW
		{"rtplan_truncated.dcm", dcm.NewTag(0x300A, 0x012C), 2100, 8}, // implicit VR, inside a sequence
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data := readPydicom(t, "test_files/"+tc.file)
			_, err := dcm.ParsePart10(bytes.NewReader(data), dcm.ParseOptions{})
			if !errors.Is(err, dcm.ErrTruncated) {
				t.Fatalf("error %v, want ErrTruncated", err)
			}
			for _, want := range []string{tc.tag.String(), fmt.Sprintf("offset %d", tc.offset)} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
			if !tagAt(data, tc.offset-tc.header, tc.tag, binary.LittleEndian) {
				t.Errorf("the file has no %s header before offset %d", tc.tag, tc.offset)
			}
		})
	}
}

// TestParseNotDICOM covers streams that are no Part 10 file at all, or
// whose file meta information is unusable.
func TestParseNotDICOM(t *testing.T) {
	preamble := append(make([]byte, 128), "DICM"...)
	noTS, err := dcm.EncodeFileMeta(dcm.FileMeta{SOPClassUID: "1.2", SOPInstanceUID: "1.2.3", TransferSyntax: dcm.ExplicitVRLittleEndian})
	if err != nil {
		t.Fatal(err)
	}
	// Blank the transfer syntax UID value (the last UI before (0002,0012)).
	i := bytes.Index(noTS, []byte(dcm.ExplicitVRLittleEndian))
	noTS = slices.Clone(noTS)
	copy(noTS[i:], bytes.Repeat([]byte{' '}, len(dcm.ExplicitVRLittleEndian)))

	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, dcm.ErrNotDICOM},
		{"short preamble", make([]byte, 100), dcm.ErrNotDICOM},
		{"no DICM", make([]byte, 200), dcm.ErrNotDICOM},
		{"DICM and nothing", preamble, dcm.ErrNotDICOM},
		{"DICM then dataset", append(slices.Clone(preamble), 0x08, 0, 0x16, 0, 'U', 'I', 2, 0, '1', 0), dcm.ErrNotDICOM},
		{"no_meta.dcm", readPydicom(t, "test_files/no_meta.dcm"), dcm.ErrNotDICOM},
		{"meta_missing_tsyntax.dcm", readPydicom(t, "test_files/meta_missing_tsyntax.dcm"), dcm.ErrMalformed},
		{"blank transfer syntax", noTS, dcm.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dcm.ParsePart10(bytes.NewReader(tc.data), dcm.ParseOptions{})
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want one wrapping %v", err, tc.want)
			}
		})
	}
}

// TestParseUNSequence: a UN element of undefined length is a sequence in
// implicit VR little endian (PS3.5 6.2.2), here with nested undefined-length
// sequences and items inside a JPEG Lossless file.
func TestParseUNSequence(t *testing.T) {
	data := readPydicom(t, "test_files/UN_sequence.dcm")
	f := mustParse(t, data, dcm.ParseOptions{})
	un := f.Dataset.Find(dcm.NewTag(0x4453, 0x100C))
	if un == nil || un.VR != dcm.SQ || un.Length != dcm.UndefinedLength || len(un.Items) != 1 {
		t.Fatalf("(4453,100C) = %+v, want an undefined-length SQ with one item", un)
	}
	item := un.Items[0]
	if got := item.String(dcm.StudyInstanceUID); got != "1.2.840.113619.2.327.3.185221411.476.1398588725.795" {
		t.Errorf("item StudyInstanceUID %q", got)
	}
	series := item.Find(dcm.NewTag(0x0008, 0x1115))
	if series == nil || series.VR != dcm.SQ || len(series.Items) != 1 {
		t.Fatalf("ReferencedSeriesSequence = %+v", series)
	}
	sop := series.Items[0].Find(dcm.NewTag(0x0008, 0x1199))
	if sop == nil || len(sop.Items) != 1 {
		t.Fatalf("ReferencedSOPSequence = %+v", sop)
	}
	if got := sop.Items[0].String(dcm.NewTag(0x0008, 0x1150)); got != "1.2.840.10008.5.1.4.1.1.2" {
		t.Errorf("ReferencedSOPClassUID %q", got)
	}
	if got := series.Items[0].String(dcm.SeriesInstanceUID); got != "1.2.840.113619.2.327.3.185221411.476.1398588726.276" {
		t.Errorf("SeriesInstanceUID after a nested sequence: %q", got)
	}
	checkOffsets(t, f, data)
}

// ds builds hand-made datasets in one transfer syntax.
type ds struct {
	bytes.Buffer
	bo       byteOrder
	implicit bool
}

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

func newDS(ts string) *ds {
	d := &ds{bo: binary.LittleEndian, implicit: ts == dcm.ImplicitVRLittleEndian}
	if ts == dcm.ExplicitVRBigEndian {
		d.bo = binary.BigEndian
	}
	return d
}

func (d *ds) tag(t dcm.Tag) {
	d.Write(d.bo.AppendUint16(nil, t.Group()))
	d.Write(d.bo.AppendUint16(nil, t.Element()))
}

// header writes an element header declaring length.
func (d *ds) header(t dcm.Tag, vr dcm.VR, length uint32) {
	d.tag(t)
	switch {
	case d.implicit:
		d.Write(d.bo.AppendUint32(nil, length))
	case vr.HasLongLength():
		d.WriteString(vr.String() + "\x00\x00")
		d.Write(d.bo.AppendUint32(nil, length))
	default:
		d.WriteString(vr.String())
		d.Write(d.bo.AppendUint16(nil, uint16(length)))
	}
}

func (d *ds) el(t dcm.Tag, vr dcm.VR, value string) {
	d.header(t, vr, uint32(len(value)))
	d.WriteString(value)
}

// delim writes an item, item delimiter or sequence delimiter header.
func (d *ds) delim(t dcm.Tag, length uint32) {
	d.tag(t)
	d.Write(d.bo.AppendUint32(nil, length))
}

// part10 wraps a dataset into a Part 10 file.
func part10(t testing.TB, ts string, body []byte) []byte {
	t.Helper()
	meta, err := dcm.EncodeFileMeta(dcm.FileMeta{SOPClassUID: synth.IntraOralForPresentation, SOPInstanceUID: "2.25.1", TransferSyntax: ts})
	if err != nil {
		t.Fatal(err)
	}
	return append(meta, body...)
}

// TestParseSequences covers the sequence and item forms by hand: undefined
// and defined lengths mixed, empty items and sequences, in each native
// transfer syntax, through ParseDataset with a base offset.
func TestParseSequences(t *testing.T) {
	seq := dcm.NewTag(0x0040, 0xA730) // Content Sequence
	inner := dcm.NewTag(0x0008, 0x1115)
	for _, ts := range []string{dcm.ExplicitVRLittleEndian, dcm.ExplicitVRBigEndian, dcm.ImplicitVRLittleEndian} {
		t.Run(ts, func(t *testing.T) {
			d := newDS(ts)
			d.el(dcm.PatientID, dcm.LO, "ID01")
			// Empty sequence, defined length 0.
			d.header(dcm.NewTag(0x0008, 0x1110), dcm.SQ, 0)
			// Undefined-length sequence: an undefined-length item, an empty
			// defined-length item, and an item holding a defined-length
			// sequence.
			d.header(seq, dcm.SQ, dcm.UndefinedLength)
			d.delim(dcm.Item, dcm.UndefinedLength)
			d.el(dcm.Modality, dcm.CS, "PX")
			d.delim(dcm.ItemDelimitationItem, 0)
			d.delim(dcm.Item, 0)
			sub := newDS(ts)
			sub.el(dcm.SeriesInstanceUID, dcm.UI, "1.2.3\x00")
			item := newDS(ts)
			item.header(inner, dcm.SQ, uint32(8+sub.Len()))
			item.delim(dcm.Item, uint32(sub.Len()))
			item.Write(sub.Bytes())
			item.el(dcm.Laterality, dcm.CS, "L ")
			d.delim(dcm.Item, uint32(item.Len()))
			d.Write(item.Bytes())
			d.delim(dcm.SequenceDelimitationItem, 0)
			d.el(dcm.NewTag(0x0040, 0xA040), dcm.CS, "XY") // Value Type
			data := d.Bytes()

			const base = 1000
			got, n, err := dcm.ParseDataset(bytes.NewReader(data), mustTS(t, ts), base, dcm.ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(data)) {
				t.Errorf("read %d bytes, want %d", n, len(data))
			}
			if got.String(dcm.PatientID) != "ID01" || got.String(dcm.NewTag(0x0040, 0xA040)) != "XY" {
				t.Errorf("elements around the sequences lost")
			}
			if e := got.Find(dcm.NewTag(0x0008, 0x1110)); e == nil || e.VR != dcm.SQ || len(e.Items) != 0 {
				t.Errorf("empty sequence: %+v", e)
			}
			s := got.Find(seq)
			if s == nil || s.VR != dcm.SQ || len(s.Items) != 3 {
				t.Fatalf("sequence: %+v", s)
			}
			if s.Items[0].String(dcm.Modality) != "PX" || len(s.Items[1].Elements) != 0 {
				t.Errorf("items 0 and 1: %+v %+v", s.Items[0], s.Items[1])
			}
			in := s.Items[2].Find(inner)
			if in == nil || len(in.Items) != 1 || in.Items[0].String(dcm.SeriesInstanceUID) != "1.2.3" {
				t.Fatalf("inner sequence: %+v", in)
			}
			if s.Items[2].String(dcm.Laterality) != "L" {
				t.Errorf("element after the inner sequence lost")
			}
			// Offsets count from base.
			if pid := got.Find(dcm.PatientID); pid.Offset != base+8 {
				t.Errorf("PatientID offset %d, want %d", pid.Offset, base+8)
			}
			uid := in.Items[0].Find(dcm.SeriesInstanceUID)
			if at := uid.Offset - base; string(data[at:at+6]) != "1.2.3\x00" {
				t.Errorf("nested offset %d points at %q", uid.Offset, data[at:at+6])
			}
		})
	}
}

func mustTS(t testing.TB, uid string) dcm.TransferSyntax {
	t.Helper()
	ts, ok := dcm.LookupTransferSyntax(uid)
	if !ok {
		t.Fatalf("unknown transfer syntax %s", uid)
	}
	return ts
}

// TestParseMalformedStructure: structural errors wrap ErrMalformed.
func TestParseMalformedStructure(t *testing.T) {
	seq := dcm.NewTag(0x0040, 0xA730)
	tests := []struct {
		name  string
		build func(d *ds)
	}{
		{"stray item delimiter", func(d *ds) { d.delim(dcm.ItemDelimitationItem, 0) }},
		{"stray item", func(d *ds) { d.delim(dcm.Item, 0) }},
		{"element instead of item", func(d *ds) {
			d.header(seq, dcm.SQ, dcm.UndefinedLength)
			d.el(dcm.Modality, dcm.CS, "IO")
		}},
		{"item overruns its length", func(d *ds) {
			d.header(seq, dcm.SQ, dcm.UndefinedLength)
			d.delim(dcm.Item, 4)
			d.el(dcm.Modality, dcm.CS, "IO")
		}},
		{"sequence delimiter in defined-length sequence", func(d *ds) {
			d.header(seq, dcm.SQ, 16)
			d.delim(dcm.SequenceDelimitationItem, 0)
			d.delim(dcm.Item, 0)
		}},
		{"undefined-length text", func(d *ds) { d.header(dcm.NewTag(0x0020, 0x4000), dcm.UT, dcm.UndefinedLength) }},
		{"fragment of undefined length", func(d *ds) {
			d.header(dcm.PixelData, dcm.OB, dcm.UndefinedLength)
			d.delim(dcm.Item, 0)
			d.delim(dcm.Item, dcm.UndefinedLength)
		}},
		{"odd basic offset table", func(d *ds) {
			d.header(dcm.PixelData, dcm.OB, dcm.UndefinedLength)
			d.delim(dcm.Item, 3)
			d.WriteString("abc")
		}},
		{"element among fragments", func(d *ds) {
			d.header(dcm.PixelData, dcm.OB, dcm.UndefinedLength)
			d.delim(dcm.Item, 0)
			d.el(dcm.Modality, dcm.CS, "IO")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDS(dcm.ExplicitVRLittleEndian)
			tc.build(d)
			_, err := dcm.ParsePart10(bytes.NewReader(part10(t, dcm.ExplicitVRLittleEndian, d.Bytes())), dcm.ParseOptions{})
			if !errors.Is(err, dcm.ErrMalformed) {
				t.Errorf("error %v, want ErrMalformed", err)
			}
		})
	}
}

// TestParseNestingBomb: sequences nested 1000 deep must be refused with
// ErrMalformed, in every encoding that nests, not overflow the stack.
func TestParseNestingBomb(t *testing.T) {
	const depth = 1000
	seq := dcm.NewTag(0x0040, 0xA730)
	tests := []struct {
		name string
		ts   string
		open func(d *ds)
	}{
		{"explicit undefined lengths", dcm.ExplicitVRLittleEndian, func(d *ds) {
			d.header(seq, dcm.SQ, dcm.UndefinedLength)
			d.delim(dcm.Item, dcm.UndefinedLength)
		}},
		{"implicit undefined lengths", dcm.ImplicitVRLittleEndian, func(d *ds) {
			d.header(seq, dcm.SQ, dcm.UndefinedLength)
			d.delim(dcm.Item, dcm.UndefinedLength)
		}},
		{"big endian undefined lengths", dcm.ExplicitVRBigEndian, func(d *ds) {
			d.header(seq, dcm.SQ, dcm.UndefinedLength)
			d.delim(dcm.Item, dcm.UndefinedLength)
		}},
		{"UN of undefined length", dcm.ExplicitVRLittleEndian, func(d *ds) {
			d.header(dcm.NewTag(0x0009, 0x1010), dcm.UN, dcm.UndefinedLength)
			// Inside a UN sequence all is implicit VR (PS3.5 6.2.2), where
			// an undefined length makes a private element a sequence too.
			d.implicit = true
			d.delim(dcm.Item, dcm.UndefinedLength)
		}},
		{"defined lengths", dcm.ExplicitVRLittleEndian, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDS(tc.ts)
			if tc.open == nil {
				// Build inside out: each level wraps the previous one.
				inner := []byte{}
				for range depth {
					lvl := newDS(tc.ts)
					lvl.header(seq, dcm.SQ, uint32(8+len(inner)))
					lvl.delim(dcm.Item, uint32(len(inner)))
					lvl.Write(inner)
					inner = lvl.Bytes()
				}
				d.Write(inner)
			} else {
				for range depth {
					tc.open(d)
				}
			}
			_, err := dcm.ParsePart10(bytes.NewReader(part10(t, tc.ts, d.Bytes())), dcm.ParseOptions{})
			if !errors.Is(err, dcm.ErrMalformed) {
				t.Errorf("error %v, want ErrMalformed", err)
			}
		})
	}
}

// TestParseLimits: values over the ParseOptions limits are skipped, their
// Offset and Length still right, and Bulk reports them.
func TestParseLimits(t *testing.T) {
	// MaxInlineValue 64 keeps the longest UID: the file meta information
	// must stay readable.
	opts := dcm.ParseOptions{MaxInlineBinary: 16, MaxInlineValue: 64}
	skipped := map[bool]int{} // by IsBinary
	for _, rel := range []string{"test_files/CT_small.dcm", "test_files/SC_rgb_jpeg_dcmtk.dcm"} {
		data := readPydicom(t, rel)
		full := mustParse(t, data, dcm.ParseOptions{MaxInlineBinary: 1 << 30, MaxInlineValue: 1 << 30})
		small := mustParse(t, data, opts)
		if len(full.Dataset.Elements) != len(small.Dataset.Elements) {
			t.Fatalf("%s: %d elements with small limits, %d without", rel, len(small.Dataset.Elements), len(full.Dataset.Elements))
		}
		for i, e := range small.Dataset.Elements {
			f := full.Dataset.Elements[i]
			if e.Tag != f.Tag || e.Offset != f.Offset || e.Length != f.Length || e.VR != f.VR {
				t.Errorf("%s %s: %s at %d+%d with small limits, %s at %d+%d without", rel, e.Tag, e.VR, e.Offset, e.Length, f.VR, f.Offset, f.Length)
			}
			if e.VR == dcm.SQ || e.Encapsulated {
				continue
			}
			limit := opts.MaxInlineValue
			if e.VR.IsBinary() {
				limit = opts.MaxInlineBinary
			}
			over := int(e.Length) > limit
			if over != e.Bulk() || over != (e.Value == nil && e.Length > 0) {
				t.Errorf("%s %s (%s, %d bytes, limit %d): Bulk %v, Value %d bytes", rel, e.Tag, e.VR, e.Length, limit, e.Bulk(), len(e.Value))
			}
			if over {
				skipped[e.VR.IsBinary()]++
				if !bytes.Equal(data[e.Offset:e.Offset+int64(e.Length)], f.Value) {
					t.Errorf("%s %s: skipped value's Offset/Length do not frame its bytes", rel, e.Tag)
				}
			}
		}
	}
	if skipped[true] == 0 || skipped[false] == 0 {
		t.Errorf("skipped %d binary and %d other values: a limit was not exercised", skipped[true], skipped[false])
	}
	// Pixel data is binary: 32 KiB here, skipped under the default limits.
	def := mustParse(t, readPydicom(t, "test_files/CT_small.dcm"), dcm.ParseOptions{})
	if pd := def.Dataset.Find(dcm.PixelData); pd == nil || !pd.Bulk() || pd.Length != 128*128*2 {
		t.Errorf("pixel data under default limits: %+v", pd)
	}
}

// TestParseHugeDeclaredLengths: a header may claim up to 4 GiB. The parser
// must skip such values rather than allocate for them, and allocate at most
// MaxInlineValue for a value it does keep, however short the stream.
func TestParseHugeDeclaredLengths(t *testing.T) {
	const maxInline = 4 << 20 // the default MaxInlineValue
	tests := []struct {
		name   string
		ts     string
		build  func(d *ds)
		budget uint64 // bytes the parse may allocate
	}{
		{"UT of 4 GiB", dcm.ExplicitVRLittleEndian, func(d *ds) { d.header(dcm.NewTag(0x0020, 0x4000), dcm.UT, 0xFFFFFFFE) }, 1 << 20},
		{"OB of 4 GiB", dcm.ExplicitVRLittleEndian, func(d *ds) { d.header(dcm.NewTag(0x0009, 0x1001), dcm.OB, 0xFFFFFFFE) }, 1 << 20},
		{"implicit LO of 4 GiB", dcm.ImplicitVRLittleEndian, func(d *ds) { d.header(dcm.PatientID, dcm.LO, 0xFFFFFFFE) }, 1 << 20},
		{"UN of 4 GiB", dcm.ExplicitVRBigEndian, func(d *ds) { d.header(dcm.NewTag(0x0009, 0x1001), dcm.UN, 0xFFFFFFFE) }, 1 << 20},
		{"fragment of 4 GiB", dcm.ExplicitVRLittleEndian, func(d *ds) {
			d.header(dcm.PixelData, dcm.OB, dcm.UndefinedLength)
			d.delim(dcm.Item, 0)
			d.delim(dcm.Item, 0xFFFFFFF0)
		}, 1 << 20},
		{"basic offset table of 64 MiB", dcm.ExplicitVRLittleEndian, func(d *ds) {
			d.header(dcm.PixelData, dcm.OB, dcm.UndefinedLength)
			d.delim(dcm.Item, 64<<20)
		}, 1 << 20},
		{"sequence item of 4 GiB", dcm.ExplicitVRLittleEndian, func(d *ds) {
			d.header(dcm.NewTag(0x0040, 0xA730), dcm.SQ, 0xFFFFFFF0)
			d.delim(dcm.Item, 0xFFFFFFE0)
			d.el(dcm.Modality, dcm.CS, "PX")
		}, 1 << 20},
		{"UT just under MaxInlineValue", dcm.ExplicitVRLittleEndian, func(d *ds) { d.header(dcm.NewTag(0x0020, 0x4000), dcm.UT, maxInline) }, maxInline + 1<<20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDS(tc.ts)
			tc.build(d)
			if !strings.HasPrefix(tc.name, "sequence") {
				d.WriteString("only a few bytes follow") // part of the value
			}
			data := part10(t, tc.ts, d.Bytes())
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := dcm.ParsePart10(bytes.NewReader(data), dcm.ParseOptions{})
			runtime.ReadMemStats(&after)
			if !errors.Is(err, dcm.ErrTruncated) {
				t.Errorf("error %v, want ErrTruncated", err)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > tc.budget {
				t.Errorf("allocated %d bytes for a %d-byte stream, budget %d", n, len(data), tc.budget)
			}
		})
	}
}

// TestParseCutEverywhere cuts a file at every byte. Each prefix must fail
// with an error wrapping one of ours, except where it ends exactly on an
// element boundary: then it is a complete, shorter file and must parse to
// exactly the elements before the cut.
func TestParseCutEverywhere(t *testing.T) {
	inst, err := synth.Bytes(synth.Spec{
		StudyUID: "2.25.1", SeriesUID: "2.25.2", SOPInstanceUID: "2.25.3",
		PatientName: "Müller^José", AccessionNumber: "A1", Rows: 24, Columns: 32, Seed: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	inputs := []struct {
		name string
		data []byte
	}{{"synth", inst}, {"synth deflated", deflated(t, inst)}}
	// (image_dfl.dcm inflates to 256 KiB: too slow to cut at every byte.)
	for _, rel := range []string{"test_files/UN_sequence.dcm", "test_files/nested_priv_SQ.dcm", "test_files/SC_rgb_rle_2frame.dcm", "test_files/MR_small_bigendian.dcm"} {
		inputs = append(inputs, struct {
			name string
			data []byte
		}{rel, readPydicom(t, rel)})
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			full := mustParse(t, in.data, dcm.ParseOptions{})
			pd := full.Dataset.Find(dcm.PixelData)
			for _, opts := range []dcm.ParseOptions{{}, {MaxInlineBinary: 1 << 20}} {
				for n := range len(in.data) + 1 {
					f, err := dcm.ParsePart10(bytes.NewReader(in.data[:n]), opts)
					if n == len(in.data) {
						if err != nil {
							t.Fatalf("whole file: %v", err)
						}
						continue
					}
					if err == nil {
						ok := isPrefix(f.Dataset, full.Dataset, int64(n))
						if f.Deflated {
							// Only bytes after the deflate stream's end (here a
							// gzip-style trailer) may go without harm.
							ok = len(f.Dataset.Elements) == len(full.Dataset.Elements)
						}
						if !ok {
							t.Fatalf("cut at %d parses, but not to the elements before the cut", n)
						}
						continue
					}
					if !errors.Is(err, dcm.ErrTruncated) && !errors.Is(err, dcm.ErrNotDICOM) && !errors.Is(err, dcm.ErrMalformed) {
						t.Fatalf("cut at %d: error %v wraps none of ours", n, err)
					}
					if n >= 134 && !errors.Is(err, dcm.ErrTruncated) {
						// Past "DICM" and the first bytes of meta, any cut is a
						// truncation (the meta group length tells even there).
						t.Fatalf("cut at %d: error %v, want ErrTruncated", n, err)
					}
					if pd != nil && !pd.Encapsulated && !full.Deflated && int64(n) > pd.Offset && int64(n) < pd.Offset+int64(pd.Length) &&
						!strings.Contains(err.Error(), "(7FE0,0010)") {
						t.Fatalf("cut inside pixel data at %d: error %q does not name (7FE0,0010)", n, err)
					}
				}
			}
		})
	}
}

// deflated re-encodes an explicit VR little endian Part 10 file in the
// Deflated Explicit VR Little Endian transfer syntax.
func deflated(t testing.TB, data []byte) []byte {
	t.Helper()
	f := mustParse(t, data, dcm.ParseOptions{})
	out := part10(t, dcm.DeflatedExplicitVRLittleEndian, nil)
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(data[f.DatasetOffset:])
	w.Close()
	return append(out, buf.Bytes()...)
}

// isPrefix reports whether got holds the first top-level elements of full,
// the last of them ending no later than n.
func isPrefix(got, full *dcm.Dataset, n int64) bool {
	if len(got.Elements) > len(full.Elements) {
		return false
	}
	for i, e := range got.Elements {
		f := full.Elements[i]
		if e.Tag != f.Tag || e.Offset != f.Offset || e.Length != f.Length {
			return false
		}
	}
	if k := len(got.Elements); k < len(full.Elements) {
		// The next element must start at or after the cut.
		next := full.Elements[k]
		return next.Offset-8 >= n
	}
	return true
}

// TestParseDeflateErrors: a corrupt deflate stream is malformed, a cut one
// truncated.
func TestParseDeflateErrors(t *testing.T) {
	data := readPydicom(t, "test_files/image_dfl.dcm")
	f := mustParse(t, data, dcm.ParseOptions{})
	corrupt := slices.Clone(data)
	// 0xFF... as the first deflate block header is a reserved block type.
	for i := f.DatasetOffset; i < f.DatasetOffset+16; i++ {
		corrupt[i] = 0xFF
	}
	if _, err := dcm.ParsePart10(bytes.NewReader(corrupt), dcm.ParseOptions{}); !errors.Is(err, dcm.ErrMalformed) {
		t.Errorf("corrupt deflate stream: %v, want ErrMalformed", err)
	}
	if _, err := dcm.ParsePart10(bytes.NewReader(data[:len(data)-100]), dcm.ParseOptions{}); !errors.Is(err, dcm.ErrTruncated) {
		t.Errorf("cut deflate stream: %v, want ErrTruncated", err)
	}
}

// TestParseImplicitPixelValueVR: in implicit VR the "US or SS" pixel value
// attributes take their VR from Pixel Representation, as in the explicit VR
// original of the same image.
func TestParseImplicitPixelValueVR(t *testing.T) {
	expl := mustParse(t, readPydicom(t, "test_files/MR_small.dcm"), dcm.ParseOptions{})
	impl := mustParse(t, readPydicom(t, "test_files/MR_small_implicit.dcm"), dcm.ParseOptions{})
	for _, tag := range []dcm.Tag{dcm.NewTag(0x0028, 0x0106), dcm.NewTag(0x0028, 0x0107)} {
		e, i := expl.Dataset.Find(tag), impl.Dataset.Find(tag)
		if e == nil || i == nil || e.VR != dcm.SS || i.VR != e.VR {
			t.Errorf("%s: explicit %v, implicit %v; want SS in both", tag, e, i)
		}
	}
	// Unsigned images keep US.
	d := newDS(dcm.ImplicitVRLittleEndian)
	d.el(dcm.PixelRepresentation, dcm.US, "\x00\x00")
	d.el(dcm.NewTag(0x0028, 0x0106), dcm.US, "\xff\xff")
	got, _, err := dcm.ParseDataset(bytes.NewReader(d.Bytes()), mustTS(t, dcm.ImplicitVRLittleEndian), 0, dcm.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if e := got.Find(dcm.NewTag(0x0028, 0x0106)); e.VR != dcm.US {
		t.Errorf("unsigned image: %s", e.VR)
	}
}

// TestParseOutOfOrder: elements out of tag order are kept and Find still
// finds them.
func TestParseOutOfOrder(t *testing.T) {
	d := newDS(dcm.ExplicitVRLittleEndian)
	d.el(dcm.PatientID, dcm.LO, "P1")
	d.el(dcm.Modality, dcm.CS, "IO")
	d.el(dcm.StudyInstanceUID, dcm.UI, "1.2\x00")
	got, _, err := dcm.ParseDataset(bytes.NewReader(d.Bytes()), mustTS(t, dcm.ExplicitVRLittleEndian), 0, dcm.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.String(dcm.Modality) != "IO" || got.String(dcm.PatientID) != "P1" || got.String(dcm.StudyInstanceUID) != "1.2" {
		t.Errorf("out-of-order elements not found: %v", got.Elements)
	}
	if !slices.IsSortedFunc(got.Elements, func(a, b *dcm.Element) int { return cmp.Compare(a.Tag, b.Tag) }) {
		t.Errorf("elements not sorted")
	}
}

// TestParseStopBefore: with StopBefore: PixelData the header is all there
// and the pixels are left unread, in every kind of syntax.
func TestParseStopBefore(t *testing.T) {
	for _, file := range []string{"MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "image_dfl.dcm", "MR_small_RLE.dcm"} {
		t.Run(file, func(t *testing.T) {
			data := readPydicom(t, "test_files/"+file)
			whole := mustParse(t, data, dcm.ParseOptions{})
			head, err := dcm.ParsePart10(bytes.NewReader(data), dcm.ParseOptions{StopBefore: dcm.PixelData})
			if err != nil {
				t.Fatal(err)
			}
			if head.Dataset.Find(dcm.PixelData) != nil {
				t.Errorf("Pixel Data parsed")
			}
			for _, tag := range []dcm.Tag{dcm.Rows, dcm.Columns, dcm.BitsAllocated, dcm.PatientName, dcm.PhotometricInterpretation} {
				if got, want := head.Dataset.String(tag), whole.Dataset.String(tag); got != want {
					t.Errorf("%s: %q, want %q", tag, got, want)
				}
			}
			if head.Size >= whole.Size {
				t.Errorf("Size %d, want less than the whole %d", head.Size, whole.Size)
			}
		})
	}
}

// TestParseStopBeforeReadsLittle: the pixels of a 2 MiB image are not
// read at all, beyond the parser's 64 KiB read-ahead.
func TestParseStopBeforeReadsLittle(t *testing.T) {
	data, err := synth.Bytes(synth.Spec{Rows: 1024, Columns: 1024})
	if err != nil {
		t.Fatal(err)
	}
	r := &countReader{r: bytes.NewReader(data)}
	if _, err := dcm.ParsePart10(r, dcm.ParseOptions{StopBefore: dcm.PixelData}); err != nil {
		t.Fatal(err)
	}
	if r.n > 128<<10 {
		t.Errorf("read %d of %d bytes to parse the header", r.n, len(data))
	}
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
