package dcm_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// dcmtkInputs are encapsulated files DCMTK's dcmcjpeg made from synth
// instances: a real encoder's fragmentation, which pydicom's files lack
// (they have one fragment per frame). They are committed under
// testdata/dcmtk so the Frames tests need no DCMTK; -update remakes them.
var dcmtkInputs = []struct {
	name   string
	frames int
	args   []string // for dcmcjpeg
}{
	// 1 KiB fragments: several per frame. +ot (the default) writes a
	// Basic Offset Table, -ot leaves it empty.
	{"jpegll_1frame_fragments", 1, []string{"+e1", "+fs", "1"}},
	{"jpegll_3frames_bot", 3, []string{"+e1", "+fs", "1"}},
	{"jpegll_3frames_nobot", 3, []string{"+e1", "+fs", "1", "-ot"}},
}

var remakeDCMTKInputs sync.Once

// dcmtkInput returns testdata/dcmtk/<name>.dcm, remaking all of them first
// under -update.
func dcmtkInput(t testing.TB, name string) []byte {
	t.Helper()
	dir := filepath.Join("testdata", "dcmtk")
	if *update {
		remakeDCMTKInputs.Do(func() {
			dcmcjpeg := requireTool(t, "dcmcjpeg")
			tmp := t.TempDir()
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, in := range dcmtkInputs {
				src := filepath.Join(tmp, in.name+".native.dcm")
				if err := os.WriteFile(src, nativeFrames(t, in.frames), 0o644); err != nil {
					t.Fatal(err)
				}
				run(t, dcmcjpeg, append(in.args, src, filepath.Join(dir, in.name+".dcm"))...)
			}
		})
	}
	b, err := os.ReadFile(filepath.Join(dir, name+".dcm"))
	if err != nil {
		t.Fatalf("%v (go test ./internal/dcm -update remakes it with DCMTK)", err)
	}
	return b
}

// nativeFrames is a 48x48 synthetic intra-oral instance with n frames.
func nativeFrames(t testing.TB, n int) []byte {
	t.Helper()
	var px []byte
	for i := range n {
		px = append(px, synth.Pixels(48, 48, 12, int64(i+1))...)
	}
	spec := synth.Spec{
		StudyUID: "2.25.307193129430183755871926385710094217301", SeriesUID: "2.25.307193129430183755871926385710094217302",
		SOPInstanceUID: "2.25.307193129430183755871926385710094217303",
		PatientName:    "Müller^José", PatientID: "9434765919", AccessionNumber: "RX26-000999",
		StudyDate: "20260317", Rows: 48, Columns: 48,
		Extra: map[dcm.Tag]synth.Value{dcm.PixelData: {VR: dcm.OW, Value: string(px)}},
	}
	if n > 1 {
		spec.Extra[dcm.NumberOfFrames] = synth.Value{VR: dcm.IS, Value: strconv.Itoa(n)}
	}
	b, err := synth.Bytes(spec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// frameBytes returns the bytes of each frame, read from data at the
// segments Frames gave.
func frameBytes(t *testing.T, frames []dcm.Frame, data []byte) [][]byte {
	t.Helper()
	out := make([][]byte, len(frames))
	for i, f := range frames {
		for _, s := range f {
			if s.Offset < 0 || s.Offset+s.Length > int64(len(data)) {
				t.Fatalf("frame %d: segment %d+%d outside the %d-byte file", i, s.Offset, s.Length, len(data))
			}
			out[i] = append(out[i], data[s.Offset:s.Offset+s.Length]...)
		}
		if int64(len(out[i])) != f.Size() {
			t.Errorf("frame %d: Size %d, segments hold %d", i, f.Size(), len(out[i]))
		}
	}
	return out
}

// isJPEG reports whether b is one whole JPEG codestream: SOI first, EOI
// last (before the NUL that pads a fragment to even length).
func isJPEG(b []byte) bool {
	b = bytes.TrimSuffix(b, []byte{0})
	return bytes.HasPrefix(b, []byte{0xFF, 0xD8}) && bytes.HasSuffix(b, []byte{0xFF, 0xD9})
}

func TestFramesNative(t *testing.T) {
	tests := []struct {
		file      string
		frames    int
		frameSize int64
	}{
		{"rtdose.dcm", 15, 10 * 10 * 4},      // implicit VR, 32-bit
		{"rtdose_expb.dcm", 15, 10 * 10 * 4}, // big endian
		{"CT_small.dcm", 1, 128 * 128 * 2},
		{"SC_rgb_small_odd.dcm", 1, 3 * 3 * 3}, // odd frame size
		// YBR_FULL_422 stores two samples per pixel, not three.
		{"SC_ybr_full_422_uncompressed.dcm", 1, 100 * 100 * 2},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data := readPydicom(t, "test_files/"+tc.file)
			f := mustParse(t, data, dcm.ParseOptions{})
			table, err := dcm.Frames(f.Dataset)
			if err != nil {
				t.Fatal(err)
			}
			frames := table.All()
			if len(frames) != tc.frames {
				t.Fatalf("%d frames, want %d", len(frames), tc.frames)
			}
			pd := f.Dataset.Find(dcm.PixelData)
			for i, fr := range frames {
				want := dcm.Segment{Offset: pd.Offset + int64(i)*tc.frameSize, Length: tc.frameSize}
				if len(fr) != 1 || fr[0] != want {
					t.Errorf("frame %d: %v, want [%v]", i, fr, want)
				}
			}
			frameBytes(t, frames, data)
		})
	}
}

func TestFramesEncapsulatedFiles(t *testing.T) {
	tests := []struct {
		name      string
		data      func(t *testing.T) []byte
		frames    int
		fragments []int // per frame
		bot       int   // entries in the Basic Offset Table
		jpeg      bool
	}{
		// RLE, Basic Offset Table, one fragment per frame.
		{"SC_rgb_rle_2frame.dcm", pydicom("SC_rgb_rle_2frame.dcm"), 2, []int{1, 1}, 2, false},
		// RLE, no Basic Offset Table, one fragment per frame.
		{"rtdose_rle.dcm", pydicom("rtdose_rle.dcm"), 15, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 0, false},
		{"JPEG2000.dcm", pydicom("JPEG2000.dcm"), 1, []int{1}, 0, false},
		// One frame in several fragments.
		{"jpegll_1frame_fragments", dcmtk("jpegll_1frame_fragments"), 1, []int{3}, 1, true},
		// Frames spanning several fragments, found through the table...
		{"jpegll_3frames_bot", dcmtk("jpegll_3frames_bot"), 3, []int{3, 3, 3}, 3, true},
		// ...and without it, by their SOI markers.
		{"jpegll_3frames_nobot", dcmtk("jpegll_3frames_nobot"), 3, []int{3, 3, 3}, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data(t)
			f := mustParse(t, data, dcm.ParseOptions{})
			pd := f.Dataset.Find(dcm.PixelData)
			if pd == nil || !pd.Encapsulated {
				t.Fatal("no encapsulated pixel data")
			}
			if len(pd.BasicOffsetTable) != tc.bot {
				t.Errorf("Basic Offset Table %v, want %d entries", pd.BasicOffsetTable, tc.bot)
			}
			table, err := dcm.Frames(f.Dataset)
			if err != nil {
				t.Fatal(err)
			}
			frames := table.All()
			if len(frames) != tc.frames {
				t.Fatalf("%d frames, want %d", len(frames), tc.frames)
			}
			// The frames cover the fragments in order, each whole.
			next := 0
			for i, fr := range frames {
				if len(fr) != tc.fragments[i] {
					t.Errorf("frame %d has %d fragments, want %d", i, len(fr), tc.fragments[i])
				}
				for _, s := range fr {
					frag := pd.Fragments[next]
					if s.Offset != frag.Offset || s.Length != int64(frag.Length) {
						t.Errorf("frame %d: segment %v, fragment %d is at %d+%d", i, s, next, frag.Offset, frag.Length)
					}
					next++
				}
			}
			if next != len(pd.Fragments) {
				t.Errorf("frames cover %d of %d fragments", next, len(pd.Fragments))
			}
			for i, b := range frameBytes(t, frames, data) {
				if tc.jpeg && !isJPEG(b) {
					t.Errorf("frame %d is not one JPEG codestream: % x ... % x", i, b[:4], b[len(b)-4:])
				}
			}
		})
	}
}

func pydicom(name string) func(t *testing.T) []byte {
	return func(t *testing.T) []byte { return readPydicom(t, "test_files/"+name) }
}

func dcmtk(name string) func(t *testing.T) []byte {
	return func(t *testing.T) []byte { return dcmtkInput(t, name) }
}

// encapsulated builds a Part 10 file (JPEG Baseline) with n frames, the
// given Basic Offset Table and fragments, and optionally an Extended
// Offset Table. It returns the file and each fragment's value offset.
func encapsulated(t testing.TB, n int, bot []uint32, eot []uint64, frags ...[]byte) ([]byte, []int64) {
	t.Helper()
	d := newDS(dcm.ExplicitVRLittleEndian)
	d.el(dcm.SamplesPerPixel, dcm.US, "\x01\x00")
	if n > 0 {
		d.el(dcm.NumberOfFrames, dcm.IS, fmt.Sprintf("%-2d", n))
	}
	d.el(dcm.Rows, dcm.US, "\x08\x00")
	d.el(dcm.Columns, dcm.US, "\x08\x00")
	d.el(dcm.BitsAllocated, dcm.US, "\x08\x00")
	if eot != nil {
		var v []byte
		for _, o := range eot {
			v = binary.LittleEndian.AppendUint64(v, o)
		}
		d.header(dcm.ExtendedOffsetTable, dcm.OV, uint32(len(v)))
		d.Write(v)
	}
	d.header(dcm.PixelData, dcm.OB, dcm.UndefinedLength)
	d.delim(dcm.Item, uint32(4*len(bot)))
	for _, o := range bot {
		d.Write(binary.LittleEndian.AppendUint32(nil, o))
	}
	meta := part10(t, dcm.JPEGBaseline8Bit, nil)
	var offsets []int64
	for _, f := range frags {
		d.delim(dcm.Item, uint32(len(f)))
		offsets = append(offsets, int64(len(meta)+d.Len()))
		d.Write(f)
	}
	d.delim(dcm.SequenceDelimitationItem, 0)
	return append(meta, d.Bytes()...), offsets
}

// TestFramesHandBuilt covers frame boundaries by hand, checking the exact
// byte ranges: frames of several fragments with and without offset tables.
func TestFramesHandBuilt(t *testing.T) {
	soi := func(s string) []byte { return append([]byte{0xFF, 0xD8, 0xFF, 0xDB}, s...) }
	j2k := func(s string) []byte { return append([]byte{0xFF, 0x4F, 0xFF, 0x51}, s...) }
	jp2 := func(s string) []byte { return append([]byte{0, 0, 0, 0x0C, 'j', 'P', ' ', ' '}, s...) }
	tests := []struct {
		name   string
		frames int
		bot    []uint32
		eot    []uint64
		frags  [][]byte
		want   [][]int // fragment indices per frame
	}{
		{
			name: "no table, JPEG SOI opens each frame", frames: 3,
			frags: [][]byte{soi("a1"), []byte("a2a2"), soi("b1b1"), soi("c1"), []byte("c2"), []byte("c3c3c3")},
			want:  [][]int{{0, 1}, {2}, {3, 4, 5}},
		},
		{
			name: "no table, JPEG 2000 codestreams and JP2 boxes", frames: 2,
			frags: [][]byte{j2k("aa"), []byte("bbbb"), jp2("cc"), []byte("dd")},
			want:  [][]int{{0, 1}, {2, 3}},
		},
		{
			name: "no table, one fragment per frame needs no markers", frames: 2,
			frags: [][]byte{[]byte("xx"), []byte("yyyy")},
			want:  [][]int{{0}, {1}},
		},
		{
			// Offsets count from the first fragment's item tag; each item
			// is 8 bytes of header plus its value.
			name: "basic offset table", frames: 2, bot: []uint32{0, 8 + 6 + 8 + 4},
			frags: [][]byte{soi("aa"), []byte("bbbb"), soi("cccc"), []byte("dd")},
			want:  [][]int{{0, 1}, {2, 3}},
		},
		{
			name: "extended offset table wins over an empty BOT", frames: 2, eot: []uint64{0, 8 + 6},
			frags: [][]byte{soi("aa"), []byte("bbbb"), []byte("cc")},
			want:  [][]int{{0}, {1, 2}},
		},
		{
			name: "single frame takes every fragment", frames: 0,
			frags: [][]byte{[]byte("aaaa"), soi("bb"), []byte("cc")},
			want:  [][]int{{0, 1, 2}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, offsets := encapsulated(t, tc.frames, tc.bot, tc.eot, tc.frags...)
			f := mustParse(t, data, dcm.ParseOptions{})
			table, err := dcm.Frames(f.Dataset)
			if err != nil {
				t.Fatal(err)
			}
			frames := table.All()
			if len(frames) != len(tc.want) {
				t.Fatalf("%d frames, want %d", len(frames), len(tc.want))
			}
			for i, fr := range frames {
				var want dcm.Frame
				for _, k := range tc.want[i] {
					want = append(want, dcm.Segment{Offset: offsets[k], Length: int64(len(tc.frags[k]))})
				}
				if !slices.Equal(fr, want) {
					t.Errorf("frame %d: %v, want %v", i, fr, want)
				}
			}
		})
	}
}

// TestFramesErrors: pixel data whose frames cannot be told apart is an
// error, not a guess.
func TestFramesErrors(t *testing.T) {
	soi := []byte{0xFF, 0xD8, 0, 0}
	tests := []struct {
		name   string
		frames int
		bot    []uint32
		frags  [][]byte
	}{
		{"no table, fewer SOI markers than frames", 3, nil, [][]byte{soi, []byte("xx"), soi, []byte("yy")}},
		{"no table, more SOI markers than frames", 2, nil, [][]byte{soi, soi, soi}},
		{"offset table entry inside a fragment", 2, []uint32{0, 3}, [][]byte{soi, soi}},
		{"offset table not ascending", 2, []uint32{0, 0}, [][]byte{soi, soi}},
		{"offset table entry past the fragments", 2, []uint32{0, 100}, [][]byte{soi, soi}},
		{"no fragments", 1, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, _ := encapsulated(t, tc.frames, tc.bot, nil, tc.frags...)
			f := mustParse(t, data, dcm.ParseOptions{})
			if table, err := dcm.Frames(f.Dataset); err == nil {
				t.Errorf("no error; frames %v", table.All())
			}
		})
	}

	// Native pixel data too short for its frames.
	d := newDS(dcm.ExplicitVRLittleEndian)
	d.el(dcm.NumberOfFrames, dcm.IS, "4 ")
	d.el(dcm.Rows, dcm.US, "\x02\x00")
	d.el(dcm.Columns, dcm.US, "\x02\x00")
	d.el(dcm.BitsAllocated, dcm.US, "\x08\x00")
	d.el(dcm.PixelData, dcm.OB, "0123456789abcd")
	f := mustParse(t, part10(t, dcm.ExplicitVRLittleEndian, d.Bytes()), dcm.ParseOptions{})
	if table, err := dcm.Frames(f.Dataset); err == nil {
		t.Errorf("4 frames of 4 bytes in 14: no error, frames %v", table.All())
	}
	// Pixel data without Rows: nested_priv_SQ.dcm has a 2-byte one.
	f = mustParse(t, readPydicom(t, "test_files/nested_priv_SQ.dcm"), dcm.ParseOptions{})
	if _, err := dcm.Frames(f.Dataset); err == nil {
		t.Errorf("pixel data without Rows and Columns: no error")
	}
}

func TestFramesNoPixelData(t *testing.T) {
	f := mustParse(t, readPydicom(t, "test_files/rtplan.dcm"), dcm.ParseOptions{})
	if frames, err := dcm.Frames(f.Dataset); frames != nil || err != nil {
		t.Errorf("Frames = %v, %v; want nil, nil", frames, err)
	}
}
