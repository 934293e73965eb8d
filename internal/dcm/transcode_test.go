package dcm_test

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
)

// nativeTargets are the transfer syntaxes Transcode writes, with the
// option that makes dcmconv and dcmdrle write the same.
var nativeTargets = []struct {
	uid, option string
}{
	{dcm.ImplicitVRLittleEndian, "+ti"},
	{dcm.ExplicitVRLittleEndian, "+te"},
	{dcm.ExplicitVRBigEndian, "+tb"},
	{dcm.DeflatedExplicitVRLittleEndian, "+td"},
}

// transcodeSources are the pydicom files every target is made from: each
// source transfer syntax Transcode reads, sequences (nested, private,
// defined and undefined lengths), 8/16/32-bit and 1-bit pixels, colour,
// multi-frame, odd-length pixel data, waveforms and US/SS pixel values.
// (nested_priv_SQ.dcm is left out: its elements are in group 0001, which
// DCMTK warns about in any encoding.)
var transcodeSources = []string{
	"MR_small_implicit.dcm", "MR_small.dcm", "MR_small_bigendian.dcm", "MR_small_expb.dcm",
	"image_dfl.dcm", "CT_small.dcm", "ExplVR_BigEnd.dcm", "SC_rgb_small_odd.dcm",
	"rtplan.dcm", "rtdose.dcm", "rtdose_expb.dcm", "reportsi.dcm", "test-SR.dcm",
	"priv_SQ.dcm", "no_meta_group_length.dcm", "empty_charset_LEI.dcm",
	"waveform_ecg.dcm", "liver_1frame.dcm", "liver_expb_1frame.dcm", "SC_ybr_full_422_uncompressed.dcm",
	"MR_small_RLE.dcm", "SC_rgb_rle.dcm", "SC_rgb_rle_16bit.dcm", "SC_rgb_rle_2frame.dcm",
	"SC_rgb_rle_16bit_2frame.dcm", "SC_rgb_rle_32bit.dcm", "SC_rgb_rle_32bit_2frame.dcm",
	"rtdose_rle.dcm", "rtdose_rle_1frame.dcm",
}

// wholeValues keeps every value in memory, so datasets compare byte by byte.
var wholeValues = dcm.ParseOptions{MaxInlineBinary: 1 << 30, MaxInlineValue: 1 << 30}

// transcodeSource is one input of the DCMTK comparison.
type transcodeSource struct {
	name string
	path string // where DCMTK reads it
	data []byte
}

// generatedSources adds inputs DCMTK makes at test time. RLE: frames split
// over many fragments (which the Basic Offset Table groups again), and
// 8-bit colour from a big endian file. Implicit VR, where the VRs Transcode
// chooses must be DCMTK's: 1-bit and 8-bit colour pixel data, waveforms.
func generatedSources(t *testing.T, dir string) []transcodeSource {
	dcmcrle, dcmconv := requireTool(t, "dcmcrle"), requireTool(t, "dcmconv")
	native := filepath.Join(dir, "native3.dcm")
	if err := os.WriteFile(native, nativeFrames(t, 3), 0o644); err != nil {
		t.Fatal(err)
	}
	var out []transcodeSource
	pydicomFile := func(name string) string { return filepath.Join(pydicomDir, "test_files", name) }
	for _, c := range []struct {
		name, tool, src string
		args            []string
	}{
		{"rle_3frames_split_bot", dcmcrle, native, []string{"+fs", "1"}},
		{"rle_3frames", dcmcrle, native, nil},
		{"rle_rgb8_from_bigendian", dcmcrle, pydicomFile("ExplVR_BigEnd.dcm"), nil},
		{"implicit_1bit", dcmconv, pydicomFile("liver_1frame.dcm"), []string{"+ti"}},
		{"implicit_rgb8", dcmconv, pydicomFile("ExplVR_BigEnd.dcm"), []string{"+ti"}},
		{"implicit_waveform", dcmconv, pydicomFile("waveform_ecg.dcm"), []string{"+ti"}},
		{"implicit_ct", dcmconv, pydicomFile("CT_small.dcm"), []string{"+ti"}},
	} {
		path := filepath.Join(dir, c.name+".dcm")
		run(t, c.tool, append(c.args, c.src, path)...)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, transcodeSource{c.name, path, data})
	}
	return out
}

// TestTranscodeMatchesDCMTK transcodes each source into each native
// transfer syntax and checks the result against what DCMTK makes of the
// same source (dcmconv, or dcmdrle for RLE): the same elements with the same
// VRs and value bytes, pixel data included, and dcmdump reads ours without
// a warning and prints the same values.
func TestTranscodeMatchesDCMTK(t *testing.T) {
	tools := map[string]string{}
	for _, name := range []string{"dcmconv", "dcmdrle", "dcmdump"} {
		tools[name] = requireTool(t, name)
	}
	dir := t.TempDir()
	var sources []transcodeSource
	for _, name := range transcodeSources {
		path := filepath.Join(pydicomDir, "test_files", name)
		sources = append(sources, transcodeSource{strings.TrimSuffix(name, ".dcm"), path, readPydicom(t, "test_files/"+name)})
	}
	sources = append(sources, generatedSources(t, dir)...)
	// UN_sequence.dcm says JPEG Lossless but has no pixel data, so its
	// dataset is just Explicit VR Little Endian: a private sequence as UN
	// of undefined length, holding implicit VR items (PS3.5 6.2.2). We
	// write it as SQ; in implicit VR it then keeps its undefined length,
	// which DCMTK reads right but warns about (CP-246), so that target is
	// left out.
	unSequence := transcodeSource{"UN_sequence", filepath.Join(pydicomDir, "test_files", "UN_sequence.dcm"), readPydicom(t, "test_files/UN_sequence.dcm")}
	sources = append(sources, unSequence)

	for _, src := range sources {
		f := mustParse(t, src.data, dcm.ParseOptions{})
		if src.name == unSequence.name {
			f.TransferSyntax = mustTS(t, dcm.ExplicitVRLittleEndian)
		}
		for _, target := range nativeTargets {
			to := mustTS(t, target.uid)
			if to.UID == f.TransferSyntax.UID || src.name == unSequence.name && to.ImplicitVR {
				// The same syntax is a copy (TestTranscodeSameSyntax).
				continue
			}
			t.Run(src.name+"/"+strings.ReplaceAll(to.Name, " ", ""), func(t *testing.T) {
				t.Parallel()
				base := filepath.Join(dir, src.name+target.option)
				var out bytes.Buffer
				if err := dcm.Transcode(&out, bytes.NewReader(src.data[f.DatasetOffset:]), f.TransferSyntax, to); err != nil {
					t.Fatalf("Transcode from %s: %v", f.TransferSyntax.Name, err)
				}
				ours := wrapPart10(t, f, target.uid, out.Bytes())
				oursPath := base + ".ours.dcm"
				if err := os.WriteFile(oursPath, ours, 0o644); err != nil {
					t.Fatal(err)
				}
				refPath := base + ".ref.dcm"
				dcmtkConvert(t, tools, f.TransferSyntax, target.option, src.path, refPath)
				ref, err := os.ReadFile(refPath)
				if err != nil {
					t.Fatal(err)
				}

				of := mustParse(t, ours, wholeValues)
				rf := mustParse(t, ref, wholeValues)
				if of.TransferSyntax.UID != rf.TransferSyntax.UID {
					t.Fatalf("ours is %s, DCMTK's %s", of.TransferSyntax.Name, rf.TransferSyntax.Name)
				}
				// DCMTK keeps the planar configuration an RLE file declares
				// (the segments are planes either way); we always interleave.
				var skip []string
				if planar(of.Dataset) == 0 && planar(rf.Dataset) == 1 {
					interleave(t, rf.Dataset)
					skip = append(skip, "(0028,0006)")
				}
				// From implicit VR, DCMTK gives the private elements it
				// knows from its private dictionaries their VRs; we, with
				// no private dictionary, UN (PS3.5 6.2.2).
				privateUN := f.TransferSyntax.ImplicitVR
				if privateUN {
					skip = append(skip, privateLine)
				}
				var diffs []string
				compareTranscoded("", of.Dataset, rf.Dataset, privateUN, &diffs)
				if len(diffs) > 0 {
					t.Errorf("%d differences from DCMTK:\n%s", len(diffs), strings.Join(diffs[:min(len(diffs), 20)], "\n"))
				}

				oursDump := dumpClean(t, tools["dcmdump"], oursPath, skip)
				refDump := dumpClean(t, tools["dcmdump"], refPath, skip)
				if d := dumpDiff(oursDump, refDump); d != "" {
					t.Errorf("dcmdump differs (ours -, DCMTK +):\n%s", d)
				}
			})
		}
	}
}

// wrapPart10 puts file meta information for ts in front of a dataset,
// naming the instance as the source file's meta group does.
func wrapPart10(t testing.TB, src *dcm.File, ts string, body []byte) []byte {
	t.Helper()
	class := src.Meta.String(dcm.MediaStorageSOPClassUID)
	if class == "" {
		class = "1.2.840.10008.5.1.4.1.1.7"
	}
	inst := src.Meta.String(dcm.MediaStorageSOPInstanceUID)
	if inst == "" {
		inst = "2.25.1"
	}
	meta, err := dcm.EncodeFileMeta(dcm.FileMeta{SOPClassUID: class, SOPInstanceUID: inst, TransferSyntax: ts})
	if err != nil {
		t.Fatal(err)
	}
	return append(meta, body...)
}

// dcmtkConvert makes DCMTK's version of src in the target transfer syntax:
// dcmdrle decodes RLE (and dcmconv deflates, which dcmdrle cannot).
func dcmtkConvert(t *testing.T, tools map[string]string, from dcm.TransferSyntax, option, src, dst string) {
	t.Helper()
	if from.UID != dcm.RLELossless {
		run(t, tools["dcmconv"], option, src, dst)
		return
	}
	if option != "+td" {
		run(t, tools["dcmdrle"], option, src, dst)
		return
	}
	tmp := dst + ".native.dcm"
	run(t, tools["dcmdrle"], "+te", src, tmp)
	run(t, tools["dcmconv"], option, tmp, dst)
}

// planar returns Planar Configuration, or -1.
func planar(ds *dcm.Dataset) int {
	if n, ok := ds.Int(dcm.NewTag(0x0028, 0x0006)); ok {
		return n
	}
	return -1
}

// interleave turns colour-by-plane pixel data into colour-by-pixel, frame
// by frame, and sets Planar Configuration to 0.
func interleave(t *testing.T, ds *dcm.Dataset) {
	t.Helper()
	get := func(tag dcm.Tag) int {
		n, ok := ds.Int(tag)
		if !ok {
			t.Fatalf("no %s", tag)
		}
		return n
	}
	pixels, samples, bps := get(dcm.Rows)*get(dcm.Columns), get(dcm.SamplesPerPixel), get(dcm.BitsAllocated)/8
	frames := 1
	if s := ds.String(dcm.NumberOfFrames); s != "" {
		fmt.Sscan(s, &frames)
	}
	pd := ds.Find(dcm.PixelData)
	// DCMTK writes even 8-bit pixels as OW, whose words big endian swaps.
	value := littleEndianBytes(pd, ds.BigEndian)
	frame := pixels * samples * bps
	out := slices.Clone(value)
	for f := range frames {
		in := value[f*frame:]
		for s := range samples {
			for p := range pixels {
				copy(out[f*frame+(p*samples+s)*bps:][:bps], in[(s*pixels+p)*bps:][:bps])
			}
		}
	}
	pd.Value = littleEndianBytes(&dcm.Element{VR: pd.VR, Value: out}, ds.BigEndian)
	ds.Find(dcm.NewTag(0x0028, 0x0006)).Value = []byte{0, 0}
}

// compareTranscoded appends to diffs each difference between our dataset
// and the reference. Group lengths (we drop them, DCMTK recalculates them)
// and trailing padding are not compared. Values compare byte by byte after
// normalising binary values to little endian by VR, so that one exception
// can be made: DCMTK writes decoded 8-bit RLE pixel data as OW, we as OB
// (both valid, PS3.5 A.2); their little endian bytes must still agree.
// With privateUN, a private element may be UN in ours (it went through
// implicit VR), holding the reference's value in little endian.
func compareTranscoded(path string, ours, ref *dcm.Dataset, privateUN bool, diffs *[]string) {
	keep := func(els []*dcm.Element) []*dcm.Element {
		return slices.DeleteFunc(slices.Clone(els), func(e *dcm.Element) bool {
			return e.Tag.IsGroupLength() || e.Tag == 0xFFFCFFFC
		})
	}
	o, r := keep(ours.Elements), keep(ref.Elements)
	for len(o) > 0 || len(r) > 0 {
		switch {
		case len(r) == 0 || len(o) > 0 && o[0].Tag < r[0].Tag:
			*diffs = append(*diffs, fmt.Sprintf("%s%s: only in ours", path, o[0].Tag))
			o = o[1:]
			continue
		case len(o) == 0 || r[0].Tag < o[0].Tag:
			*diffs = append(*diffs, fmt.Sprintf("%s%s: only in DCMTK's", path, r[0].Tag))
			r = r[1:]
			continue
		}
		oe, re := o[0], r[0]
		o, r = o[1:], r[1:]
		name := path + oe.Tag.String()
		unknown := privateUN && oe.Tag.IsPrivate() && oe.VR == dcm.UN
		if oe.VR != re.VR && !unknown && !(oe.Tag == dcm.PixelData && oe.VR == dcm.OB && re.VR == dcm.OW) {
			*diffs = append(*diffs, fmt.Sprintf("%s: VR %s, DCMTK %s", name, oe.VR, re.VR))
			continue
		}
		if oe.VR == dcm.SQ {
			if len(oe.Items) != len(re.Items) {
				*diffs = append(*diffs, fmt.Sprintf("%s: %d items, DCMTK %d", name, len(oe.Items), len(re.Items)))
				continue
			}
			for i := range oe.Items {
				compareTranscoded(fmt.Sprintf("%s[%d].", name, i), oe.Items[i], re.Items[i], privateUN, diffs)
			}
			continue
		}
		ov, rv := littleEndianBytes(oe, ours.BigEndian), littleEndianBytes(re, ref.BigEndian)
		if !bytes.Equal(ov, rv) {
			*diffs = append(*diffs, fmt.Sprintf("%s (%s): value % x…, DCMTK % x… (%d and %d bytes)", name, oe.VR, ov[:min(len(ov), 16)], rv[:min(len(rv), 16)], len(ov), len(rv)))
		}
	}
}

// littleEndianBytes returns an element's value with binary numbers in little
// endian order, each unit swapped as its VR says (AT by 16-bit halves).
func littleEndianBytes(e *dcm.Element, bigEndian bool) []byte {
	v := slices.Clone(e.Value)
	unit := map[dcm.VR]int{
		dcm.US: 2, dcm.SS: 2, dcm.OW: 2, dcm.AT: 2, dcm.UL: 4, dcm.SL: 4, dcm.FL: 4, dcm.OF: 4, dcm.OL: 4,
		dcm.FD: 8, dcm.OD: 8, dcm.SV: 8, dcm.UV: 8, dcm.OV: 8,
	}[e.VR]
	if !bigEndian || unit == 0 {
		return v
	}
	for i := 0; i+unit <= len(v); i += unit {
		slices.Reverse(v[i : i+unit])
	}
	return v
}

// dumpClean runs dcmdump +L on path, failing on any warning or error, and
// returns its dataset lines in a form comparable between encodings: no
// lengths (the text after '#'), no items, delimiters or group lengths, and
// sequences without their length kind. Pixel Data is left to
// compareTranscoded, which allows for OB against OW; lines starting with
// one of skip are left out too.
func dumpClean(t *testing.T, dcmdump, path string, skip []string) []string {
	t.Helper()
	cmd := exec.Command(dcmdump, "+L", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 || bytes.Contains(out, []byte("W: ")) || bytes.Contains(out, []byte("E: ")) {
		t.Fatalf("dcmdump %s: %v\n%s", path, err, stderr.String())
	}
	_, body, ok := strings.Cut(string(out), "# Dicom-Data-Set")
	if !ok {
		t.Fatalf("dcmdump %s: no dataset in\n%s", path, out)
	}
	if !strings.Contains(body, "\n(") {
		t.Fatalf("dcmdump %s shows an empty dataset", path)
	}
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "(") || strings.HasPrefix(l, "(fffe,") || strings.HasPrefix(l, "(7fe0,0010)") || strings.HasPrefix(l, "(fffc,fffc)") || groupLengthLine.MatchString(l) {
			continue
		}
		if slices.ContainsFunc(skip, func(p string) bool { return p == privateLine && isPrivateLine(l) || strings.HasPrefix(l, p) }) {
			continue
		}
		if i := strings.LastIndex(l, "#"); i >= 0 {
			l = strings.TrimSpace(l[:i])
		}
		lines = append(lines, seqLength.ReplaceAllString(l, "(Sequence"))
	}
	return lines
}

// privateLine, given to dumpClean as a prefix to skip, leaves out every
// element of a private group.
const privateLine = "(private)"

func isPrivateLine(l string) bool { return privateGroup.MatchString(l) }

var (
	privateGroup    = regexp.MustCompile(`^\([0-9a-f]{3}[13579bdf],`)
	groupLengthLine = regexp.MustCompile(`^\([0-9a-f]{4},0000\)`)
	seqLength       = regexp.MustCompile(`\(Sequence with (undefined|explicit) length`)
)

// dumpDiff lists the first lines where two dumps part.
func dumpDiff(ours, ref []string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < max(len(ours), len(ref)) && n < 10; i++ {
		var o, r string
		if i < len(ours) {
			o = ours[i]
		}
		if i < len(ref) {
			r = ref[i]
		}
		if o != r {
			fmt.Fprintf(&b, "-%s\n+%s\n", o, r)
			n++
		}
	}
	return b.String()
}

// TestTranscodeSameSyntax: from == to copies the bytes, whatever they are.
func TestTranscodeSameSyntax(t *testing.T) {
	for _, name := range []string{"MR_small.dcm", "SC_rgb_jpeg_dcmtk.dcm", "MR_small_RLE.dcm", "image_dfl.dcm"} {
		t.Run(name, func(t *testing.T) {
			data := readPydicom(t, "test_files/"+name)
			f := mustParse(t, data, dcm.ParseOptions{})
			var out bytes.Buffer
			if err := dcm.Transcode(&out, bytes.NewReader(data[f.DatasetOffset:]), f.TransferSyntax, f.TransferSyntax); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), data[f.DatasetOffset:]) {
				t.Error("bytes changed")
			}
		})
	}
}

// TestTranscodeRoundTrip: every native syntax to every other and back
// gives the dataset we started from, except that private elements come
// back from implicit VR as UN (in little endian, as PS3.5 6.2.2 has it).
func TestTranscodeRoundTrip(t *testing.T) {
	for _, name := range []string{"MR_small.dcm", "MR_small_bigendian.dcm", "CT_small.dcm", "reportsi.dcm", "rtdose_expb.dcm", "waveform_ecg.dcm"} {
		data := readPydicom(t, "test_files/"+name)
		f := mustParse(t, data, dcm.ParseOptions{})
		want := mustParse(t, data, wholeValues).Dataset
		for _, via := range nativeTargets {
			t.Run(name+"/"+via.option, func(t *testing.T) {
				var mid, back bytes.Buffer
				viaTS := mustTS(t, via.uid)
				if err := dcm.Transcode(&mid, bytes.NewReader(data[f.DatasetOffset:]), f.TransferSyntax, viaTS); err != nil {
					t.Fatal(err)
				}
				if err := dcm.Transcode(&back, &mid, viaTS, f.TransferSyntax); err != nil {
					t.Fatal(err)
				}
				got, _, err := dcm.ParseDataset(&back, f.TransferSyntax, 0, wholeValues)
				if err != nil {
					t.Fatal(err)
				}
				var diffs []string
				compareTranscoded("", got, want, via.uid == dcm.ImplicitVRLittleEndian, &diffs)
				if len(diffs) > 0 {
					t.Errorf("%d differences:\n%s", len(diffs), strings.Join(diffs[:min(len(diffs), 20)], "\n"))
				}
			})
		}
	}
}

// patternReader yields n bytes of a pattern without holding them.
type patternReader struct{ n, off int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		b[i] = byte((p.off + int64(i)) * 7 >> 1)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// swapChecker checks that the pixel words arrive byte-swapped.
type swapChecker struct {
	head, n int64 // bytes before the pixel data, bytes seen
	bad     int64
}

func (c *swapChecker) Write(b []byte) (int, error) {
	for i, v := range b {
		at := c.n + int64(i) - c.head
		if at < 0 {
			continue
		}
		src := at ^ 1 // the other byte of the 16-bit word
		if v != byte(src*7>>1) {
			c.bad++
		}
	}
	c.n += int64(len(b))
	return len(b), nil
}

// TestTranscodeBoundedMemory pushes 64 MiB of native pixel data from little
// to big endian, neither end holding it, and checks that the transcoder
// allocated under 2 MiB in all (so its heap cannot have grown by more) and
// swapped every word.
func TestTranscodeBoundedMemory(t *testing.T) {
	const size = 64 << 20
	d := newDS(dcm.ExplicitVRLittleEndian)
	d.el(dcm.SOPInstanceUID, dcm.UI, "2.25.10\x00")
	d.el(dcm.Rows, dcm.US, "\x00\x10")
	d.el(dcm.Columns, dcm.US, "\x00\x08")
	d.el(dcm.BitsAllocated, dcm.US, "\x10\x00")
	d.header(dcm.PixelData, dcm.OW, size)
	head := d.Bytes()
	// The big endian output has the same headers and values (the US ones
	// swapped) before the pixel data, so the same length.
	outHead := int64(len(head))
	in := io.MultiReader(bytes.NewReader(head), &patternReader{n: size})
	check := &swapChecker{head: outHead}

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := dcm.Transcode(check, in, mustTS(t, dcm.ExplicitVRLittleEndian), mustTS(t, dcm.ExplicitVRBigEndian))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 2<<20 {
		t.Errorf("transcoding %d MiB allocated %d bytes, want under 2 MiB", size>>20, got)
	}
	if check.n != outHead+size {
		t.Errorf("wrote %d bytes, want %d", check.n, outHead+size)
	}
	if check.bad > 0 {
		t.Errorf("%d pixel bytes not swapped", check.bad)
	}
}

// rleFrame encodes planes (one per segment) as literal runs: the simplest
// valid RLE, enough to build inputs by hand.
func rleFrame(planes ...[]byte) []byte {
	head := make([]byte, 64)
	binary.LittleEndian.PutUint32(head, uint32(len(planes)))
	var body []byte
	for i, p := range planes {
		binary.LittleEndian.PutUint32(head[4+4*i:], uint32(64+len(body)))
		for len(p) > 0 {
			n := min(len(p), 128)
			body = append(body, byte(n-1))
			body = append(body, p[:n]...)
			p = p[n:]
		}
		if len(body)%2 == 1 {
			body = append(body, 0)
		}
	}
	return append(head, body...)
}

// rleDataset is an RLE Lossless dataset of rows×cols pixels of the given
// samples and bits with the given fragments after an offset table.
func rleDataset(rows, cols, samples, bits int, frames string, bot []uint32, frags ...[]byte) []byte {
	d := newDS(dcm.ExplicitVRLittleEndian)
	d.el(dcm.SamplesPerPixel, dcm.US, string(binary.LittleEndian.AppendUint16(nil, uint16(samples))))
	if frames != "" {
		d.el(dcm.NumberOfFrames, dcm.IS, frames)
	}
	d.el(dcm.Rows, dcm.US, string(binary.LittleEndian.AppendUint16(nil, uint16(rows))))
	d.el(dcm.Columns, dcm.US, string(binary.LittleEndian.AppendUint16(nil, uint16(cols))))
	d.el(dcm.BitsAllocated, dcm.US, string(binary.LittleEndian.AppendUint16(nil, uint16(bits))))
	d.header(dcm.PixelData, dcm.OB, dcm.UndefinedLength)
	var table []byte
	for _, o := range bot {
		table = binary.LittleEndian.AppendUint32(table, o)
	}
	d.delim(dcm.Item, uint32(len(table)))
	d.Write(table)
	for _, f := range frags {
		d.delim(dcm.Item, uint32(len(f)))
		d.Write(f)
	}
	d.delim(dcm.SequenceDelimitationItem, 0)
	return d.Bytes()
}

// TestTranscodeRLEHandBuilt covers what the files do not: runs of every
// kind, planar configuration inserted, odd lengths padded, frames split
// over fragments with and without an offset table, big endian output.
func TestTranscodeRLEHandBuilt(t *testing.T) {
	// A segment using a repeat run, a literal run and a no-op: 0xAA ×4,
	// then 1 2, decoding to 6 bytes.
	runs := append(make([]byte, 64), 0xFD, 0xAA, 0x80, 0x01, 1, 2)
	binary.LittleEndian.PutUint32(runs, 1)
	binary.LittleEndian.PutUint32(runs[4:], 64)

	frame16 := rleFrame([]byte{0x01, 0x02, 0x03}, []byte{0x11, 0x12, 0x13}) // 3 pixels, MSB plane first
	half1, half2 := frame16[:40], frame16[40:]

	tests := []struct {
		name   string
		to     string
		in     []byte
		planar bool   // Planar Configuration 0 must have been inserted
		want   []byte // the pixel data value
		vr     dcm.VR
	}{
		{"runs", dcm.ExplicitVRLittleEndian, rleDataset(2, 3, 1, 8, "", nil, runs), false,
			[]byte{0xAA, 0xAA, 0xAA, 0xAA, 1, 2}, dcm.OB},
		{"odd length padded", dcm.ExplicitVRLittleEndian, rleDataset(1, 3, 1, 8, "", nil, rleFrame([]byte{7, 8, 9})), false,
			[]byte{7, 8, 9, 0}, dcm.OB},
		{"rgb interleaved", dcm.ExplicitVRLittleEndian, rleDataset(1, 2, 3, 8, "", nil, rleFrame([]byte{1, 2}, []byte{3, 4}, []byte{5, 6})), true,
			[]byte{1, 3, 5, 2, 4, 6}, dcm.OB},
		{"16-bit little endian", dcm.ExplicitVRLittleEndian, rleDataset(1, 3, 1, 16, "", nil, frame16), false,
			[]byte{0x11, 0x01, 0x12, 0x02, 0x13, 0x03}, dcm.OW},
		{"16-bit big endian", dcm.ExplicitVRBigEndian, rleDataset(1, 3, 1, 16, "", nil, frame16), false,
			[]byte{0x01, 0x11, 0x02, 0x12, 0x03, 0x13}, dcm.OW},
		{"16-bit implicit", dcm.ImplicitVRLittleEndian, rleDataset(1, 3, 1, 16, "", nil, frame16), false,
			[]byte{0x11, 0x01, 0x12, 0x02, 0x13, 0x03}, dcm.OW},
		{"one frame in two fragments", dcm.ExplicitVRLittleEndian, rleDataset(1, 3, 1, 16, "1", nil, half1, half2), false,
			[]byte{0x11, 0x01, 0x12, 0x02, 0x13, 0x03}, dcm.OW},
		{"frames split, offset table", dcm.ExplicitVRLittleEndian,
			rleDataset(1, 3, 1, 16, "2", []uint32{0, uint32(8 + len(half1) + 8 + len(half2))}, half1, half2, frame16), false,
			[]byte{0x11, 0x01, 0x12, 0x02, 0x13, 0x03, 0x11, 0x01, 0x12, 0x02, 0x13, 0x03}, dcm.OW},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			to := mustTS(t, tc.to)
			var out bytes.Buffer
			if err := dcm.Transcode(&out, bytes.NewReader(tc.in), mustTS(t, dcm.RLELossless), to); err != nil {
				t.Fatal(err)
			}
			ds, _, err := dcm.ParseDataset(&out, to, 0, wholeValues)
			if err != nil {
				t.Fatal(err)
			}
			pd := ds.Find(dcm.PixelData)
			if pd == nil || pd.Encapsulated {
				t.Fatalf("no native pixel data: %+v", pd)
			}
			if !bytes.Equal(pd.Value, tc.want) {
				t.Errorf("pixel data % x, want % x", pd.Value, tc.want)
			}
			if !to.ImplicitVR && pd.VR != tc.vr {
				t.Errorf("pixel data VR %s, want %s", pd.VR, tc.vr)
			}
			pc, ok := ds.Int(dcm.NewTag(0x0028, 0x0006))
			if tc.planar != ok || ok && pc != 0 {
				t.Errorf("Planar Configuration %d, %v; want it present (0): %v", pc, ok, tc.planar)
			}
		})
	}
}

// TestTranscodeErrors: what cannot be done is refused with
// ErrCannotTranscode before any output; broken input fails with
// ErrTruncated or ErrMalformed.
func TestTranscodeErrors(t *testing.T) {
	good := newDS(dcm.ExplicitVRLittleEndian)
	good.el(dcm.PatientName, dcm.PN, "Doe^Jane")
	good.el(dcm.Rows, dcm.US, "\x02\x00")

	truncatedValue := append([]byte(nil), good.Bytes()...)
	truncatedValue = truncatedValue[:len(truncatedValue)-1]

	topDelimiter := newDS(dcm.ExplicitVRLittleEndian)
	topDelimiter.delim(dcm.ItemDelimitationItem, 0)

	badItem := newDS(dcm.ExplicitVRLittleEndian)
	badItem.header(dcm.NewTag(0x0008, 0x1110), dcm.SQ, dcm.UndefinedLength)
	badItem.el(dcm.PatientName, dcm.PN, "Doe^Jane")

	itemOverrun := newDS(dcm.ImplicitVRLittleEndian)
	itemOverrun.header(dcm.NewTag(0x0008, 0x1110), dcm.SQ, dcm.UndefinedLength)
	itemOverrun.delim(dcm.Item, 4)
	itemOverrun.el(dcm.PatientName, dcm.PN, "Doe^Jane")

	undefinedLong := newDS(dcm.ExplicitVRLittleEndian)
	undefinedLong.header(dcm.NewTag(0x0009, 0x1000), dcm.OB, dcm.UndefinedLength)

	encapsulatedNative := newDS(dcm.ExplicitVRLittleEndian)
	encapsulatedNative.header(dcm.PixelData, dcm.OB, dcm.UndefinedLength)
	encapsulatedNative.delim(dcm.Item, 0)
	encapsulatedNative.delim(dcm.SequenceDelimitationItem, 0)

	obSequence := newDS(dcm.ExplicitVRLittleEndian)
	obSequence.el(dcm.NewTag(0x0008, 0x1110), dcm.OB, "\x01\x02")
	pixelSequence := newDS(dcm.ExplicitVRLittleEndian)
	pixelSequence.header(dcm.PixelData, dcm.SQ, 0)

	deep := newDS(dcm.ImplicitVRLittleEndian)
	for range 40 {
		deep.header(dcm.NewTag(0x0008, 0x1110), dcm.SQ, dcm.UndefinedLength)
		deep.delim(dcm.Item, dcm.UndefinedLength)
	}

	frame := rleFrame([]byte{1, 2, 3, 4})
	wrongSegments := rleFrame([]byte{1, 2, 3, 4}, []byte{1, 2, 3, 4})
	short := rleFrame([]byte{1, 2})
	badOffset := slices.Clone(frame)
	binary.LittleEndian.PutUint32(badOffset[4:], 1000)

	var deflated bytes.Buffer
	fw, _ := flate.NewWriter(&deflated, flate.BestSpeed)
	fw.Write(good.Bytes())
	fw.Close()
	// A final block of the reserved type 11.
	corruptDeflate := []byte{0x07, 0, 0, 0}

	const (
		ile, ele, ebe, dfl = dcm.ImplicitVRLittleEndian, dcm.ExplicitVRLittleEndian, dcm.ExplicitVRBigEndian, dcm.DeflatedExplicitVRLittleEndian
		rle, jpeg          = dcm.RLELossless, dcm.JPEGBaseline8Bit
	)
	tests := []struct {
		name     string
		from, to string
		in       []byte
		want     error
	}{
		{"from JPEG", jpeg, ele, good.Bytes(), dcm.ErrCannotTranscode},
		{"to RLE", ele, rle, good.Bytes(), dcm.ErrCannotTranscode},
		{"to JPEG", ele, jpeg, good.Bytes(), dcm.ErrCannotTranscode},
		{"RLE to JPEG", rle, jpeg, good.Bytes(), dcm.ErrCannotTranscode},
		{"RLE of 12 bits allocated", rle, ele, rleDataset(2, 2, 1, 12, "", nil, frame), dcm.ErrCannotTranscode},
		{"value cut", ele, ebe, truncatedValue, dcm.ErrTruncated},
		{"header cut", ele, ile, good.Bytes()[:len(good.Bytes())-5], dcm.ErrTruncated},
		{"item delimiter at top level", ele, ile, topDelimiter.Bytes(), dcm.ErrMalformed},
		{"element where an item belongs", ele, ile, badItem.Bytes(), dcm.ErrMalformed},
		{"item overrun", ile, ele, itemOverrun.Bytes(), dcm.ErrMalformed},
		{"sequence not ended", ile, ele, itemOverrun.Bytes()[:20], dcm.ErrTruncated},
		{"undefined length OB", ele, ebe, undefinedLong.Bytes(), dcm.ErrMalformed},
		{"encapsulated in native", ele, ebe, encapsulatedNative.Bytes(), dcm.ErrMalformed},
		{"nested too deep", ile, ele, deep.Bytes(), dcm.ErrMalformed},
		{"sequence as OB to implicit", ele, ile, obSequence.Bytes(), dcm.ErrMalformed},
		{"pixel data as a sequence", ele, ebe, pixelSequence.Bytes(), dcm.ErrMalformed},
		{"deflate corrupt", dfl, ele, corruptDeflate, dcm.ErrMalformed},
		{"deflate cut", dfl, ele, deflated.Bytes()[:deflated.Len()/2], dcm.ErrTruncated},
		{"RLE without rows", rle, ele, rleDataset(0, 2, 1, 8, "", nil, frame), dcm.ErrMalformed},
		{"RLE segment count", rle, ele, rleDataset(2, 2, 1, 8, "", nil, wrongSegments), dcm.ErrMalformed},
		{"RLE segment short", rle, ele, rleDataset(2, 2, 1, 8, "", nil, short), dcm.ErrMalformed},
		{"RLE segment offset", rle, ele, rleDataset(2, 2, 1, 8, "", nil, badOffset), dcm.ErrMalformed},
		{"RLE header short", rle, ele, rleDataset(2, 2, 1, 8, "", nil, frame[:40]), dcm.ErrMalformed},
		{"RLE fewer fragments than frames", rle, ele, rleDataset(2, 2, 1, 8, "2", nil, frame), dcm.ErrMalformed},
		{"RLE more fragments than frames", rle, ele, rleDataset(2, 2, 1, 8, "2", nil, frame, frame, frame), dcm.ErrMalformed},
		{"RLE fragment cut", rle, ele, rleDataset(2, 2, 1, 8, "", nil, frame)[:60], dcm.ErrTruncated},
		{"RLE fragment oversized", rle, ele, rleDataset(2, 2, 1, 8, "", nil, append(slices.Clone(frame), make([]byte, 100)...)), dcm.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := dcm.Transcode(&out, bytes.NewReader(tc.in), mustTS(t, tc.from), mustTS(t, tc.to))
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if tc.want == dcm.ErrCannotTranscode && out.Len() > 0 {
				t.Errorf("wrote %d bytes before refusing", out.Len())
			}
		})
	}
}

// TestTranscodeCutEverywhere: a dataset cut at any byte fails with
// ErrTruncated or ErrMalformed, unless the cut falls between top-level
// elements, which leaves a shorter valid dataset.
func TestTranscodeCutEverywhere(t *testing.T) {
	for _, name := range []string{"rtplan.dcm", "SC_rgb_rle_2frame.dcm", "MR_small_bigendian.dcm"} {
		data := readPydicom(t, "test_files/"+name)
		f := mustParse(t, data, dcm.ParseOptions{})
		body := data[f.DatasetOffset:]
		to := mustTS(t, dcm.ExplicitVRLittleEndian)
		if f.TransferSyntax.UID == to.UID {
			to = mustTS(t, dcm.ImplicitVRLittleEndian)
		}
		// Where each top-level element's header starts.
		starts := map[int64]bool{}
		for _, e := range f.Dataset.Elements {
			header := int64(8)
			if !f.TransferSyntax.ImplicitVR && (e.VR.HasLongLength() || !e.VR.Known()) {
				header = 12
			}
			starts[e.Offset-f.DatasetOffset-header] = true
		}
		for n := range len(body) {
			err := dcm.Transcode(io.Discard, bytes.NewReader(body[:n]), f.TransferSyntax, to)
			switch {
			case err == nil && !starts[int64(n)]:
				t.Fatalf("%s cut at %d: no error", name, n)
			case err != nil && !errors.Is(err, dcm.ErrTruncated) && !errors.Is(err, dcm.ErrMalformed):
				t.Fatalf("%s cut at %d: %v", name, n, err)
			}
		}
	}
}

type failingWriter struct{ after int }

func (w *failingWriter) Write(b []byte) (int, error) {
	if len(b) > w.after {
		return 0, errors.New("disk full")
	}
	w.after -= len(b)
	return len(b), nil
}

// TestTranscodeWriteError: a failing writer is reported, not swallowed.
func TestTranscodeWriteError(t *testing.T) {
	data := readPydicom(t, "test_files/MR_small.dcm")
	f := mustParse(t, data, dcm.ParseOptions{})
	for _, to := range []string{dcm.ExplicitVRBigEndian, dcm.DeflatedExplicitVRLittleEndian} {
		err := dcm.Transcode(&failingWriter{after: 100}, bytes.NewReader(data[f.DatasetOffset:]), f.TransferSyntax, mustTS(t, to))
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("to %s: error %v, want the writer's", to, err)
		}
	}
}

// transcodeParse transcodes in and parses the result.
func transcodeParse(t *testing.T, in []byte, from, to string) *dcm.Dataset {
	t.Helper()
	var out bytes.Buffer
	if err := dcm.Transcode(&out, bytes.NewReader(in), mustTS(t, from), mustTS(t, to)); err != nil {
		t.Fatalf("Transcode: %v", err)
	}
	ds, _, err := dcm.ParseDataset(&out, mustTS(t, to), 0, wholeValues)
	if err != nil {
		t.Fatalf("ParseDataset: %v", err)
	}
	return ds
}

// expect is what one element of a transcoded dataset must be.
type expect struct {
	path  []dcm.Tag // item 0 of each sequence on the way, then the element
	vr    dcm.VR
	value string // the value bytes; "" to leave unchecked
	gone  bool   // the element must not be there
}

func find(ds *dcm.Dataset, path []dcm.Tag) *dcm.Element {
	for i, tg := range path {
		e := ds.Find(tg)
		if e == nil || i == len(path)-1 {
			return e
		}
		if len(e.Items) == 0 {
			return nil
		}
		ds = e.Items[0]
	}
	return nil
}

// TestTranscodeVRs covers the VR decisions PS3.5 leaves to the reader of
// implicit VR and the structures the files do not have.
func TestTranscodeVRs(t *testing.T) {
	const (
		ile, ele, ebe = dcm.ImplicitVRLittleEndian, dcm.ExplicitVRLittleEndian, dcm.ExplicitVRBigEndian
	)
	overlay, overlay2 := dcm.NewTag(0x6000, 0x3000), dcm.NewTag(0x6002, 0x3000)
	waveformSeq, waveformBits, waveformData := dcm.NewTag(0x5400, 0x0100), dcm.NewTag(0x5400, 0x1004), dcm.NewTag(0x5400, 0x1010)
	lutData, padding := dcm.NewTag(0x0028, 0x3006), dcm.NewTag(0x0028, 0x0120)
	privCreator, priv, privSQ := dcm.NewTag(0x0009, 0x0010), dcm.NewTag(0x0009, 0x1002), dcm.NewTag(0x0009, 0x1003)
	refStudy := dcm.NewTag(0x0008, 0x1110)
	long := strings.Repeat("ab", 35000)

	implicit8 := newDS(ile)
	implicit8.el(dcm.NewTag(0x0010, 0x0000), dcm.UL, "\x08\x00\x00\x00")
	implicit8.el(dcm.PatientID, dcm.LO, "ABC")
	implicit8.el(dcm.PatientComments, dcm.LT, long)
	implicit8.el(dcm.BitsAllocated, dcm.US, "\x08\x00")
	implicit8.el(dcm.PixelRepresentation, dcm.US, "\x01\x00")
	implicit8.el(padding, dcm.US, "\x30\xf8")
	implicit8.el(lutData, dcm.US, long)
	implicit8.header(waveformSeq, dcm.SQ, dcm.UndefinedLength)
	implicit8.delim(dcm.Item, dcm.UndefinedLength)
	implicit8.el(waveformBits, dcm.US, "\x08\x00")
	implicit8.el(waveformData, dcm.OB, "\x01\x02")
	implicit8.delim(dcm.ItemDelimitationItem, 0)
	implicit8.delim(dcm.Item, dcm.UndefinedLength)
	implicit8.el(waveformBits, dcm.US, "\x10\x00")
	implicit8.el(waveformData, dcm.OW, "\x01\x02")
	implicit8.delim(dcm.ItemDelimitationItem, 0)
	implicit8.delim(dcm.SequenceDelimitationItem, 0)
	implicit8.el(privCreator, dcm.LO, "MOLAR ")
	implicit8.el(priv, dcm.UN, "\x01\x02\x03\x04")
	implicit8.header(privSQ, dcm.SQ, dcm.UndefinedLength)
	implicit8.delim(dcm.Item, 14)
	implicit8.el(dcm.PatientID, dcm.LO, "INNER ")
	implicit8.delim(dcm.SequenceDelimitationItem, 0)
	implicit8.el(overlay, dcm.OW, "\x01\x02")
	implicit8.el(overlay2, dcm.OW, "\x01\x02")
	implicit8.el(dcm.PixelData, dcm.OB, "\x01\x02\x03\x04")

	implicit16 := newDS(ile)
	implicit16.el(dcm.BitsAllocated, dcm.US, "\x10\x00")
	implicit16.el(padding, dcm.US, "\x30\xf8")
	implicit16.el(dcm.PixelData, dcm.OW, "\x01\x02\x03\x04")

	// Explicit big endian holding a UN of undefined length: its items are
	// implicit VR little endian whatever the syntax (PS3.5 6.2.2).
	unSeq := newDS(ebe)
	unSeq.header(privSQ, dcm.UN, dcm.UndefinedLength)
	inner := newDS(ile)
	inner.delim(dcm.Item, dcm.UndefinedLength)
	inner.el(dcm.Rows, dcm.US, "\x02\x01")
	inner.delim(dcm.ItemDelimitationItem, 0)
	inner.delim(dcm.SequenceDelimitationItem, 0)
	unSeq.Write(inner.Bytes())
	unSeq.el(dcm.PatientID, dcm.LO, "AFTER ")

	// A known sequence sent as UN of defined length.
	unKnown := newDS(ele)
	item := newDS(ile)
	item.delim(dcm.Item, 10)
	item.el(dcm.PatientID, dcm.LO, "X ")
	unKnown.header(refStudy, dcm.UN, uint32(item.Len()))
	unKnown.Write(item.Bytes())

	tests := []struct {
		name     string
		from, to string
		in       []byte
		want     []expect
	}{
		{"implicit 8-bit to explicit", ile, ele, implicit8.Bytes(), []expect{
			{path: []dcm.Tag{dcm.NewTag(0x0010, 0x0000)}, gone: true},
			{path: []dcm.Tag{dcm.PatientID}, vr: dcm.LO, value: "ABC "},
			{path: []dcm.Tag{dcm.PatientComments}, vr: dcm.UN, value: long},
			{path: []dcm.Tag{padding}, vr: dcm.SS, value: "\x30\xf8"},
			{path: []dcm.Tag{lutData}, vr: dcm.OW, value: long},
			{path: []dcm.Tag{waveformSeq, waveformData}, vr: dcm.OB},
			{path: []dcm.Tag{privCreator}, vr: dcm.LO},
			{path: []dcm.Tag{priv}, vr: dcm.UN, value: "\x01\x02\x03\x04"},
			{path: []dcm.Tag{privSQ, dcm.PatientID}, vr: dcm.LO, value: "INNER "},
			{path: []dcm.Tag{overlay}, vr: dcm.OW},
			{path: []dcm.Tag{overlay2}, vr: dcm.OW},
			{path: []dcm.Tag{dcm.PixelData}, vr: dcm.OB, value: "\x01\x02\x03\x04"},
		}},
		{"implicit 8-bit to big endian", ile, ebe, implicit8.Bytes(), []expect{
			{path: []dcm.Tag{padding}, vr: dcm.SS, value: "\xf8\x30"},
			{path: []dcm.Tag{waveformSeq, waveformData}, vr: dcm.OB, value: "\x01\x02"},
			{path: []dcm.Tag{overlay}, vr: dcm.OW, value: "\x02\x01"},
			{path: []dcm.Tag{priv}, vr: dcm.UN, value: "\x01\x02\x03\x04"},
			{path: []dcm.Tag{dcm.PixelData}, vr: dcm.OB, value: "\x01\x02\x03\x04"},
		}},
		{"implicit 16-bit to big endian", ile, ebe, implicit16.Bytes(), []expect{
			{path: []dcm.Tag{padding}, vr: dcm.US, value: "\xf8\x30"},
			{path: []dcm.Tag{dcm.PixelData}, vr: dcm.OW, value: "\x02\x01\x04\x03"},
		}},
		{"UN sequence to explicit", ebe, ele, unSeq.Bytes(), []expect{
			{path: []dcm.Tag{privSQ, dcm.Rows}, vr: dcm.US, value: "\x02\x01"},
			{path: []dcm.Tag{dcm.PatientID}, vr: dcm.LO, value: "AFTER "},
		}},
		{"UN sequence to big endian", ele, ebe, func() []byte {
			d := newDS(ele)
			d.header(privSQ, dcm.UN, dcm.UndefinedLength)
			d.Write(inner.Bytes())
			return d.Bytes()
		}(), []expect{{path: []dcm.Tag{privSQ, dcm.Rows}, vr: dcm.US, value: "\x01\x02"}}},
		{"UN sequence to implicit", ebe, ile, unSeq.Bytes(), []expect{
			{path: []dcm.Tag{privSQ, dcm.Rows}, vr: dcm.US, value: "\x02\x01"},
		}},
		{"known sequence as UN to implicit", ele, ile, unKnown.Bytes(), []expect{
			{path: []dcm.Tag{refStudy, dcm.PatientID}, vr: dcm.LO, value: "X "},
		}},
		{"known sequence as UN stays UN in explicit", ele, ebe, unKnown.Bytes(), []expect{
			{path: []dcm.Tag{refStudy}, vr: dcm.UN, value: item.String()},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds := transcodeParse(t, tc.in, tc.from, tc.to)
			for _, w := range tc.want {
				e := find(ds, w.path)
				switch {
				case w.gone:
					if e != nil {
						t.Errorf("%v is still there", w.path)
					}
				case e == nil:
					t.Errorf("%v missing", w.path)
				case e.VR != w.vr && !mustTS(t, tc.to).ImplicitVR:
					t.Errorf("%v: VR %s, want %s", w.path, e.VR, w.vr)
				case w.value != "" && string(e.Value) != w.value:
					t.Errorf("%v: value %q, want %q", w.path, e.Value[:min(len(e.Value), 16)], w.value[:min(len(w.value), 16)])
				}
			}
		})
	}
}

// TestTranscodeRLEAttributes: decoding RLE sets an existing Planar
// Configuration to 0 and drops the Extended Offset Table, which indexed
// the fragments.
func TestTranscodeRLEAttributes(t *testing.T) {
	d := newDS(dcm.ExplicitVRLittleEndian)
	d.el(dcm.SamplesPerPixel, dcm.US, "\x03\x00")
	d.el(dcm.NewTag(0x0028, 0x0006), dcm.US, "\x01\x00")
	d.el(dcm.Rows, dcm.US, "\x01\x00")
	d.el(dcm.Columns, dcm.US, "\x02\x00")
	d.el(dcm.BitsAllocated, dcm.US, "\x08\x00")
	d.el(dcm.ExtendedOffsetTable, dcm.OV, "\x00\x00\x00\x00\x00\x00\x00\x00")
	d.el(dcm.ExtendedOffsetTableLengths, dcm.OV, "\x50\x00\x00\x00\x00\x00\x00\x00")
	d.header(dcm.PixelData, dcm.OB, dcm.UndefinedLength)
	d.delim(dcm.Item, 0)
	frame := rleFrame([]byte{1, 2}, []byte{3, 4}, []byte{5, 6})
	d.delim(dcm.Item, uint32(len(frame)))
	d.Write(frame)
	d.delim(dcm.SequenceDelimitationItem, 0)
	for _, to := range []string{dcm.ExplicitVRBigEndian, dcm.ImplicitVRLittleEndian} {
		ds := transcodeParse(t, d.Bytes(), dcm.RLELossless, to)
		if pc, ok := ds.Int(dcm.NewTag(0x0028, 0x0006)); !ok || pc != 0 {
			t.Errorf("%s: Planar Configuration %d, %v; want 0", to, pc, ok)
		}
		if ds.Find(dcm.ExtendedOffsetTable) != nil || ds.Find(dcm.ExtendedOffsetTableLengths) != nil {
			t.Errorf("%s: the Extended Offset Table is still there", to)
		}
		if pd := ds.Find(dcm.PixelData); pd == nil || string(pd.Value) != "\x01\x03\x05\x02\x04\x06" {
			t.Errorf("%s: pixel data %+v", to, pd)
		}
	}
}
