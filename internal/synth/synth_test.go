package synth

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
)

// specs cover both SOP classes, sizes from tiny to panoramic, 8 to 16
// stored bits, non-ASCII names and the optional fields left empty.
var specs = map[string]Spec{
	"io default": {},
	"io named": {
		StudyUID: "2.25.11", SeriesUID: "2.25.12", SOPInstanceUID: "2.25.13",
		PatientName: "Müller^José", PatientID: "9434765919", PatientBirthDate: "19800229", PatientSex: "M",
		AccessionNumber: "RX26-000123", StudyDate: "20260314", StudyTime: "091500", StudyDescription: "Bitewings",
		Rows: 30, Columns: 40, BitsStored: 8, Seed: 1,
	},
	"px panoramic": {
		StudyUID: "2.25.21", SeriesUID: "2.25.22", SOPInstanceUID: "2.25.23",
		SOPClassUID: DXForPresentation, Modality: "PX", PatientName: "Ní Bhriain^Siobhán",
		AccessionNumber: "RX26-000456", Rows: 60, Columns: 200, BitsStored: 16, Seed: 2,
	},
	"one pixel": {StudyUID: "2.25.31", SeriesUID: "2.25.32", SOPInstanceUID: "2.25.33", Rows: 1, Columns: 1},
}

func TestBytesParse(t *testing.T) {
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			b, err := Bytes(spec)
			if err != nil {
				t.Fatal(err)
			}
			f, err := dcm.ParsePart10(bytes.NewReader(b), dcm.ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if f.TransferSyntax.UID != dcm.ExplicitVRLittleEndian || f.Size != int64(len(b)) {
				t.Errorf("transfer syntax %s, size %d of %d", f.TransferSyntax.UID, f.Size, len(b))
			}
			s := spec
			s.defaults()
			ds := f.Dataset
			// Unset UIDs are fresh ones: take them from the file, after
			// checking they are 2.25 UIDs.
			for _, uid := range []struct {
				set  string
				tag  dcm.Tag
				dest *string
			}{{spec.StudyUID, dcm.StudyInstanceUID, &s.StudyUID}, {spec.SeriesUID, dcm.SeriesInstanceUID, &s.SeriesUID}, {spec.SOPInstanceUID, dcm.SOPInstanceUID, &s.SOPInstanceUID}} {
				if uid.set == "" {
					*uid.dest = ds.String(uid.tag)
					if !strings.HasPrefix(*uid.dest, "2.25.") {
						t.Errorf("%s: generated UID %q", uid.tag, *uid.dest)
					}
				}
			}
			cs, err := ds.CharacterSet(nil)
			if err != nil {
				t.Fatal(err)
			}
			text := func(tag dcm.Tag) string {
				v := dcm.Strings(ds.Find(tag), ds.ByteOrder(), cs)
				return strings.Join(v, `\`)
			}
			for _, c := range []struct {
				tag  dcm.Tag
				want string
			}{
				{dcm.SOPClassUID, s.SOPClassUID}, {dcm.SOPInstanceUID, s.SOPInstanceUID},
				{dcm.StudyInstanceUID, s.StudyUID}, {dcm.SeriesInstanceUID, s.SeriesUID},
				{dcm.Modality, s.Modality}, {dcm.PatientName, s.PatientName},
				{dcm.AccessionNumber, s.AccessionNumber}, {dcm.StudyTime, s.StudyTime},
				{dcm.Rows, strconv.Itoa(s.Rows)}, {dcm.Columns, strconv.Itoa(s.Columns)},
				{dcm.BitsStored, strconv.Itoa(s.BitsStored)}, {dcm.NewTag(0x0028, 0x0102), strconv.Itoa(s.BitsStored - 1)},
			} {
				if got := text(c.tag); got != c.want {
					t.Errorf("%s = %q, want %q", c.tag, got, c.want)
				}
			}
			if got := f.Meta.String(dcm.MediaStorageSOPInstanceUID); got != s.SOPInstanceUID {
				t.Errorf("meta SOP Instance UID %q, want %q", got, s.SOPInstanceUID)
			}
			pd := ds.Find(dcm.PixelData)
			if pd == nil || pd.VR != dcm.OW || int(pd.Length) != s.Rows*s.Columns*2 {
				t.Fatalf("pixel data %+v, want %d bytes of OW", pd, s.Rows*s.Columns*2)
			}
			if !bytes.Equal(b[pd.Offset:pd.Offset+int64(pd.Length)], Pixels(s.Rows, s.Columns, s.BitsStored, s.Seed)) {
				t.Errorf("pixel data differs from Pixels")
			}
			frames, err := dcm.Frames(ds)
			if err != nil || frames.Len() != 1 || frames.At(0).Size() != int64(pd.Length) {
				t.Errorf("Frames = %+v, %v", frames, err)
			}
		})
	}
}

// TestDcmdump: DCMTK reads every instance without an error. It is a
// second, independent parser, so a Part 10 encoding slip shows here even
// where ours would share it.
func TestDcmdump(t *testing.T) {
	dcmdump, err := exec.LookPath("dcmdump")
	if err != nil {
		t.Fatalf("dcmdump not found (apt-get install dcmtk): %v", err)
	}
	dir := t.TempDir()
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".dcm")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			n, err := Write(f, spec)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if st, _ := os.Stat(path); st.Size() != n {
				t.Errorf("Write reported %d bytes, wrote %d", n, st.Size())
			}
			out, err := exec.Command(dcmdump, path).CombinedOutput()
			if err != nil {
				t.Fatalf("dcmdump: %v\n%s", err, out)
			}
			for _, line := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(line, "E:") || strings.HasPrefix(line, "F:") {
					t.Errorf("dcmdump: %s", line)
				}
			}
			if !strings.Contains(string(out), "(7fe0,0010) OW") {
				t.Errorf("dcmdump shows no pixel data:\n%s", out)
			}
		})
	}
}

// TestDeterministic: fixed UIDs and seed give the same bytes; a different
// seed changes the pixels only; unset UIDs are fresh each time.
func TestDeterministic(t *testing.T) {
	spec := specs["io named"]
	a, _ := Bytes(spec)
	b, _ := Bytes(spec)
	if !bytes.Equal(a, b) {
		t.Fatal("two calls with the same Spec differ")
	}
	spec.Seed++
	c, _ := Bytes(spec)
	if bytes.Equal(a, c) || len(a) != len(c) {
		t.Errorf("another seed: same bytes, or another length")
	}
	u1, _ := Bytes(Spec{})
	u2, _ := Bytes(Spec{})
	if bytes.Equal(u1, u2) {
		t.Errorf("unset UIDs were not generated afresh")
	}
	// Extra is a map: its iteration order must not leak into the output.
	extra := Spec{StudyUID: "2.25.1", SeriesUID: "2.25.2", SOPInstanceUID: "2.25.3", Extra: map[dcm.Tag]Value{}}
	for i := range 20 {
		extra.Extra[dcm.NewTag(0x0009, uint16(0x1000+i))] = Value{VR: dcm.LO, Value: "x"}
	}
	first, _ := Bytes(extra)
	for range 10 {
		if again, _ := Bytes(extra); !bytes.Equal(first, again) {
			t.Fatal("output depends on the iteration order of Extra")
		}
	}
}

// TestExtra: extra elements replace generated ones instead of repeating
// their tag, binary values are padded to even length, and a value too long
// for its VR's 16-bit length is refused.
func TestExtra(t *testing.T) {
	spec := Spec{
		StudyUID: "2.25.1", SeriesUID: "2.25.2", SOPInstanceUID: "2.25.3", Rows: 2, Columns: 2,
		Extra: map[dcm.Tag]Value{
			dcm.Modality:               {VR: dcm.CS, Value: "PX"},
			dcm.PixelData:              {VR: dcm.OW, Value: "\x01\x00\x02\x00\x03\x00\x04\x00"},
			dcm.NewTag(0x0009, 0x1001): {VR: dcm.OB, Value: "odd"},
		},
	}
	b, err := Bytes(spec)
	if err != nil {
		t.Fatal(err)
	}
	f, err := dcm.ParsePart10(bytes.NewReader(b), dcm.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[dcm.Tag]bool{}
	for _, e := range f.Dataset.Elements {
		if seen[e.Tag] {
			t.Errorf("%s written twice", e.Tag)
		}
		seen[e.Tag] = true
	}
	if got := f.Dataset.String(dcm.Modality); got != "PX" {
		t.Errorf("Modality %q", got)
	}
	if pd := f.Dataset.Find(dcm.PixelData); string(pd.Value) != spec.Extra[dcm.PixelData].Value {
		t.Errorf("pixel data %q", pd.Value)
	}
	if e := f.Dataset.Find(dcm.NewTag(0x0009, 0x1001)); string(e.Value) != "odd\x00" {
		t.Errorf("odd OB value %q, want it NUL-padded", e.Value)
	}

	spec.Extra = map[dcm.Tag]Value{dcm.StudyDescription: {VR: dcm.LO, Value: strings.Repeat("x", 70000)}}
	if _, err := Bytes(spec); err == nil {
		t.Errorf("a 70000-byte LO: no error")
	}
}

func TestPixels(t *testing.T) {
	for _, bits := range []int{8, 12, 16} {
		px := Pixels(16, 24, bits, 5)
		if len(px) != 16*24*2 {
			t.Fatalf("%d bytes", len(px))
		}
		var maxV uint16
		for i := 0; i < len(px); i += 2 {
			maxV = max(maxV, binary.LittleEndian.Uint16(px[i:]))
		}
		if int(maxV) >= 1<<bits || maxV == 0 {
			t.Errorf("%d bits: maximum sample %d", bits, maxV)
		}
	}
}

func TestPictures(t *testing.T) {
	sample := func(px []byte, cols, x, y int) int { return int(binary.LittleEndian.Uint16(px[2*(y*cols+x):])) }
	for _, tc := range []struct {
		name       string
		p          Picture
		rows, cols int
		// A point in a tooth and a point in bone: a film is only
		// useful if teeth show brighter than the bone around them.
		tooth, bone [2]int
	}{
		{"periapical", Periapical, 260, 200, [2]int{50, 150}, [2]int{70, 200}},
		{"panoramic", Panoramic, 280, 580, [2]int{290, 200}, [2]int{150, 250}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, bits := range []int{12, 16} {
				px := tc.p.pixels(tc.rows, tc.cols, bits, 1)
				if len(px) != tc.rows*tc.cols*2 {
					t.Fatalf("%d bytes", len(px))
				}
				if !bytes.Equal(px, tc.p.pixels(tc.rows, tc.cols, bits, 1)) {
					t.Error("not deterministic")
				}
				if bytes.Equal(px, tc.p.pixels(tc.rows, tc.cols, bits, 2)) {
					t.Error("the seed changes nothing")
				}
				maxV := 1<<bits - 1
				for i := 0; i < len(px); i += 2 {
					if v := int(binary.LittleEndian.Uint16(px[i:])); v > maxV {
						t.Fatalf("sample %d = %d exceeds %d bits", i/2, v, bits)
					}
				}
				tooth, bone := sample(px, tc.cols, tc.tooth[0], tc.tooth[1]), sample(px, tc.cols, tc.bone[0], tc.bone[1])
				if tooth < bone+maxV/8 {
					t.Errorf("%d bits: tooth %d is not clearly brighter than bone %d", bits, tooth, bone)
				}
			}
		})
	}
}
