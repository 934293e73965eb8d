package dcm_test

import (
	"bytes"
	"compress/flate"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/charset"
	"github.com/molar-pacs/molar/internal/dcm"
)

func tag(t testing.TB, keyword string) dcm.Tag {
	t.Helper()
	tg, err := dcm.ParseTag(keyword)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// sampleAttrs holds every kind of value AppendAttrs takes: Latin-1 text,
// multi-values, PN groups (one empty), padding of odd lengths, binary
// numbers of each size, AT, sequences (nested, empty, with an empty item,
// private, with an item in its own character set) and empty values.
func sampleAttrs(t testing.TB) dcm.Attrs {
	privateSQ := dcm.NewTag(0x0009, 0x1001)
	contentSequence := tag(t, "ContentSequence")
	a := dcm.Attrs{
		{Tag: dcm.SpecificCharacterSet, VR: dcm.CS, Values: []string{"ISO_IR 100"}},
		{Tag: dcm.ImageType, VR: dcm.CS, Values: []string{"ORIGINAL", "PRIMARY", "AXIAL"}},
		{Tag: dcm.SOPInstanceUID, VR: dcm.UI, Values: []string{"2.25.12345"}},
		{Tag: dcm.StudyDate, Values: []string{"20260317"}},
		{Tag: dcm.InstitutionName, VR: dcm.LO, Values: []string{"Zahnklinik Süd"}},
		{Tag: tag(t, "ReferencedStudySequence"), VR: dcm.SQ, Items: []dcm.Attrs{
			{{Tag: tag(t, "ReferencedSOPClassUID"), VR: dcm.UI, Values: []string{"1.2.840.10008.3.1.2.3.1"}}, {Tag: tag(t, "ReferencedSOPInstanceUID"), VR: dcm.UI, Values: []string{"2.25.1"}}},
			{{Tag: tag(t, "ReferencedSOPClassUID"), VR: dcm.UI, Values: []string{"1.2.840.10008.3.1.2.3.1"}}, {Tag: tag(t, "ReferencedSOPInstanceUID"), VR: dcm.UI, Values: []string{"2.25.22"}}},
		}},
		{Tag: tag(t, "ReferencedSeriesSequence"), VR: dcm.SQ},
		{Tag: tag(t, "ReferencedImageSequence"), Items: []dcm.Attrs{nil}},
		{Tag: dcm.NewTag(0x0009, 0x0010), Values: []string{"MOLAR"}},
		{Tag: privateSQ, VR: dcm.SQ, Items: []dcm.Attrs{{{Tag: dcm.PatientID, VR: dcm.LO, Values: []string{"inner"}}}}},
		{Tag: dcm.PatientName, VR: dcm.PN, Values: []string{"Müller^José==Mueller^Jose", "Øster^Åse"}},
		{Tag: dcm.PatientID, Values: []string{"ID-42"}},
		{Tag: dcm.PatientBirthDate, VR: dcm.DA},
		{Tag: dcm.PatientComments, VR: dcm.LT, Values: []string{"Grüße\\line two"}},
		{Tag: tag(t, "ExaminedBodyThickness"), VR: dcm.FL, Values: []string{"12.5"}},
		{Tag: tag(t, "AcquisitionMatrix"), VR: dcm.US, Values: []string{"0", "256", "256", "0"}},
		{Tag: tag(t, "RegionFlags"), VR: dcm.UL, Values: []string{"4294967295"}},
		{Tag: tag(t, "ReferencePixelX0"), VR: dcm.SL, Values: []string{"-12"}},
		{Tag: tag(t, "DiffusionGradientOrientation"), VR: dcm.FD, Values: []string{"0.5", "-1", "3.25e-07"}},
		{Tag: tag(t, "FunctionalGroupPointer"), VR: dcm.AT, Values: []string{"00200032", "7FE00010"}},
		{Tag: dcm.Rows, VR: dcm.US, Values: []string{"512"}},
		{Tag: dcm.Columns, Values: []string{"65535"}},
		{Tag: dcm.PixelRepresentation, VR: dcm.US, Values: []string{"1"}},
		{Tag: tag(t, "PixelPaddingValue"), VR: dcm.SS, Values: []string{"-2000"}},
		{Tag: contentSequence, VR: dcm.SQ, Items: []dcm.Attrs{{
			{Tag: tag(t, "ValueType"), VR: dcm.CS, Values: []string{"CONTAINER"}},
			{Tag: contentSequence, VR: dcm.SQ, Items: []dcm.Attrs{{
				{Tag: dcm.SpecificCharacterSet, VR: dcm.CS, Values: []string{"ISO_IR 192"}},
				{Tag: tag(t, "TextValue"), VR: dcm.UT, Values: []string{"Ω ünïcödé 歯"}},
			}, {
				{Tag: tag(t, "TextValue"), VR: dcm.UT, Values: []string{"Zähne"}},
			}}},
		}}},
		{Tag: tag(t, "SelectorSVValue"), VR: dcm.SV, Values: []string{"-9223372036854775808", "42"}},
		{Tag: tag(t, "SelectorUVValue"), VR: dcm.UV, Values: []string{"18446744073709551615"}},
	}
	return a
}

// resolved is what a parser reads back: VR 0 replaced by the dictionary's.
func resolved(a dcm.Attrs) dcm.Attrs {
	out := make(dcm.Attrs, len(a))
	for i, at := range a {
		if at.VR == 0 {
			at.VR = dcm.DictionaryVR(at.Tag)
			if at.VR == dcm.UN && at.Items != nil {
				at.VR = dcm.SQ
			}
		}
		if at.Items != nil {
			items := make([]dcm.Attrs, len(at.Items))
			for j, item := range at.Items {
				if len(item) > 0 {
					items[j] = resolved(item)
				}
			}
			at.Items = items
		}
		out[i] = at
	}
	return out
}

// attrsOf reads a parsed dataset back into Attrs, as the archive would.
func attrsOf(ds *dcm.Dataset, inherit *charset.Set) dcm.Attrs {
	cs, _ := ds.CharacterSet(inherit)
	var out dcm.Attrs
	for _, e := range ds.Elements {
		at := dcm.Attr{Tag: e.Tag, VR: e.VR, Values: dcm.Strings(e, ds.ByteOrder(), cs)}
		for _, item := range e.Items {
			at.Items = append(at.Items, attrsOf(item, cs))
		}
		out = append(out, at)
	}
	return out
}

// encodeIn returns a encoded as a bare dataset in ts, deflated if ts is.
func encodeIn(t testing.TB, a dcm.Attrs, uid string) []byte {
	t.Helper()
	ts := mustTS(t, uid)
	body, err := dcm.AppendAttrs(nil, a, ts)
	if err != nil {
		t.Fatalf("AppendAttrs in %s: %v", ts.Name, err)
	}
	if !ts.Deflated {
		return body
	}
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	w.Write(body)
	w.Close()
	return buf.Bytes()
}

// TestAppendAttrsRoundTrip: what AppendAttrs writes, ParseDataset and
// Strings read back unchanged, in every native transfer syntax.
func TestAppendAttrsRoundTrip(t *testing.T) {
	a := sampleAttrs(t)
	want := resolved(a)
	for _, target := range nativeTargets {
		t.Run(mustTS(t, target.uid).Name, func(t *testing.T) {
			data := encodeIn(t, a, target.uid)
			ds, n, err := dcm.ParseDataset(bytes.NewReader(data), mustTS(t, target.uid), 0, dcm.ParseOptions{})
			if err != nil {
				t.Fatalf("ParseDataset: %v", err)
			}
			if n != int64(len(data)) {
				t.Errorf("parsed %d of %d bytes", n, len(data))
			}
			got := attrsOf(ds, nil)
			if !reflect.DeepEqual(got, want) {
				for i := range max(len(got), len(want)) {
					var g, w dcm.Attr
					if i < len(got) {
						g = got[i]
					}
					if i < len(want) {
						w = want[i]
					}
					if !reflect.DeepEqual(g, w) {
						t.Errorf("attribute %d:\n got %+v\nwant %+v", i, g, w)
					}
				}
			}
		})
	}
}

// TestAppendAttrsEncoding pins bytes a reader depends on: padding, byte
// order, the Latin-1 bytes of the text and the undefined-length sequence.
func TestAppendAttrsEncoding(t *testing.T) {
	tests := []struct {
		name string
		ts   string
		a    dcm.Attrs
		want string
	}{
		{"UI padded with NUL", dcm.ExplicitVRLittleEndian,
			dcm.Attrs{{Tag: dcm.SOPInstanceUID, VR: dcm.UI, Values: []string{"1.2.3"}}},
			"\x08\x00\x18\x00UI\x06\x001.2.3\x00"},
		{"text padded with space, multi-valued", dcm.ExplicitVRLittleEndian,
			dcm.Attrs{{Tag: dcm.ImageType, VR: dcm.CS, Values: []string{"A", "B"}}},
			"\x08\x00\x08\x00CS\x04\x00A\\B "},
		{"Latin-1", dcm.ImplicitVRLittleEndian,
			dcm.Attrs{{Tag: dcm.SpecificCharacterSet, Values: []string{"ISO_IR 100"}}, {Tag: dcm.PatientName, Values: []string{"Zoë"}}},
			"\x08\x00\x05\x00\x0a\x00\x00\x00ISO_IR 100\x10\x00\x10\x00\x04\x00\x00\x00Zo\xeb "},
		{"Greek", dcm.ImplicitVRLittleEndian,
			dcm.Attrs{{Tag: dcm.SpecificCharacterSet, Values: []string{"ISO_IR 126"}}, {Tag: dcm.PatientName, Values: []string{"Διονυσιος"}}},
			"\x08\x00\x05\x00\x0a\x00\x00\x00ISO_IR 126\x10\x00\x10\x00\x0a\x00\x00\x00\xc4\xe9\xef\xed\xf5\xf3\xe9\xef\xf2 "},
		{"big endian numbers and AT", dcm.ExplicitVRBigEndian,
			dcm.Attrs{{Tag: dcm.Rows, VR: dcm.US, Values: []string{"258"}}, {Tag: tag(t, "FunctionalGroupPointer"), VR: dcm.AT, Values: []string{"7FE00010"}}},
			"\x00\x20\x91\x67AT\x00\x04\x7f\xe0\x00\x10\x00\x28\x00\x10US\x00\x02\x01\x02"},
		{"little endian AT", dcm.ExplicitVRLittleEndian,
			dcm.Attrs{{Tag: tag(t, "FunctionalGroupPointer"), VR: dcm.AT, Values: []string{"7FE00010"}}},
			"\x20\x00\x67\x91AT\x04\x00\xe0\x7f\x10\x00"},
		{"sequence", dcm.ExplicitVRLittleEndian,
			dcm.Attrs{{Tag: tag(t, "ReferencedStudySequence"), Items: []dcm.Attrs{{{Tag: dcm.PatientID, Values: []string{"AB"}}}}}},
			"\x08\x00\x10\x11SQ\x00\x00\xff\xff\xff\xff" + "\xfe\xff\x00\xe0\xff\xff\xff\xff" +
				"\x10\x00\x20\x00LO\x02\x00AB" + "\xfe\xff\x0d\xe0\x00\x00\x00\x00" + "\xfe\xff\xdd\xe0\x00\x00\x00\x00"},
		{"empty sequence", dcm.ImplicitVRLittleEndian,
			dcm.Attrs{{Tag: tag(t, "ReferencedStudySequence"), VR: dcm.SQ}},
			"\x08\x00\x10\x11\x00\x00\x00\x00"},
		{"sorted", dcm.ImplicitVRLittleEndian,
			dcm.Attrs{{Tag: dcm.PatientID, Values: []string{"B"}}, {Tag: dcm.PatientName, Values: []string{"A"}}},
			"\x10\x00\x10\x00\x02\x00\x00\x00A \x10\x00\x20\x00\x02\x00\x00\x00B "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := dcm.AppendAttrs([]byte("prefix"), tc.a, mustTS(t, tc.ts))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "prefix"+tc.want {
				t.Errorf("got  %q\nwant %q", got, "prefix"+tc.want)
			}
		})
	}
}

// TestAppendAttrsErrors: a value that cannot be encoded is an error naming
// the attribute (and the item path to it), and dst is left as it was.
func TestAppendAttrsErrors(t *testing.T) {
	latin1 := dcm.Attr{Tag: dcm.SpecificCharacterSet, Values: []string{"ISO_IR 100"}}
	long := strings.Repeat("x", 70000)
	tests := []struct {
		name string
		ts   string
		a    dcm.Attrs
		want string // in the error
	}{
		{"text for US", dcm.ExplicitVRLittleEndian, dcm.Attrs{{Tag: dcm.Rows, VR: dcm.US, Values: []string{"abc"}}}, "(0028,0010)"},
		{"US out of range", dcm.ExplicitVRLittleEndian, dcm.Attrs{{Tag: dcm.Rows, Values: []string{"70000"}}}, "(0028,0010)"},
		{"negative UL", dcm.ExplicitVRLittleEndian, dcm.Attrs{{Tag: tag(t, "RegionFlags"), Values: []string{"-1"}}}, "(0018,6016)"},
		{"FD not a number", dcm.ExplicitVRLittleEndian, dcm.Attrs{{Tag: tag(t, "DiffusionGradientOrientation"), Values: []string{"1", "x"}}}, "value 2"},
		{"AT too short", dcm.ExplicitVRLittleEndian, dcm.Attrs{{Tag: tag(t, "FunctionalGroupPointer"), Values: []string{"0020"}}}, "(0020,9167)"},
		{"AT not hex", dcm.ExplicitVRLittleEndian, dcm.Attrs{{Tag: tag(t, "FunctionalGroupPointer"), Values: []string{"0020003G"}}}, "(0020,9167)"},
		{"not in Latin-1", dcm.ExplicitVRLittleEndian, dcm.Attrs{latin1, {Tag: dcm.PatientName, Values: []string{"Ωmega"}}}, "(0010,0010)"},
		{"not ASCII by default", dcm.ImplicitVRLittleEndian, dcm.Attrs{{Tag: dcm.PatientName, Values: []string{"José"}}}, "(0010,0010)"},
		{"CS is never in the set", dcm.ImplicitVRLittleEndian, dcm.Attrs{{Tag: dcm.SpecificCharacterSet, Values: []string{"ISO_IR 192"}}, {Tag: dcm.Modality, Values: []string{"ÜS"}}}, "(0008,0060)"},
		{"multi-byte set takes ASCII only", dcm.ImplicitVRLittleEndian, dcm.Attrs{{Tag: dcm.SpecificCharacterSet, Values: []string{"GB18030"}}, {Tag: dcm.PatientName, Values: []string{"王"}}}, "GB18030"},
		{"invalid UTF-8", dcm.ImplicitVRLittleEndian, dcm.Attrs{{Tag: dcm.SpecificCharacterSet, Values: []string{"ISO_IR 192"}}, {Tag: dcm.PatientName, Values: []string{"\xff"}}}, "(0010,0010)"},
		{"backslash in a value", dcm.ImplicitVRLittleEndian, dcm.Attrs{{Tag: dcm.PatientID, Values: []string{`a\b`}}}, "delimiter"},
		{"two values of LT", dcm.ImplicitVRLittleEndian, dcm.Attrs{{Tag: dcm.PatientComments, Values: []string{"a", "b"}}}, "(0010,4000)"},
		{"binary as text", dcm.ImplicitVRLittleEndian, dcm.Attrs{{Tag: dcm.PixelData, Values: []string{"abc"}}}, "(7FE0,0010)"},
		{"unknown private as text", dcm.ImplicitVRLittleEndian, dcm.Attrs{{Tag: dcm.NewTag(0x0009, 0x1002), Values: []string{"abc"}}}, "(0009,1002)"},
		{"too long for explicit VR", dcm.ExplicitVRLittleEndian, dcm.Attrs{{Tag: dcm.PatientComments, VR: dcm.LO, Values: []string{long}}}, "16-bit"},
		{"unknown VR", dcm.ExplicitVRLittleEndian, dcm.Attrs{{Tag: dcm.PatientID, VR: dcm.VR(0x5858), Values: []string{"a"}}}, "(0010,0020)"},
		{"items on a non-sequence", dcm.ExplicitVRLittleEndian, dcm.Attrs{{Tag: dcm.PatientID, Items: []dcm.Attrs{nil}}}, "(0010,0020)"},
		{"values on a sequence", dcm.ExplicitVRLittleEndian, dcm.Attrs{{Tag: tag(t, "ReferencedStudySequence"), Values: []string{"x"}}}, "(0008,1110)"},
		{"duplicate", dcm.ExplicitVRLittleEndian, dcm.Attrs{{Tag: dcm.PatientID}, {Tag: dcm.PatientID}}, "twice"},
		{"item tag", dcm.ExplicitVRLittleEndian, dcm.Attrs{{Tag: dcm.Item}}, "(FFFE,E000)"},
		{"inside an item", dcm.ExplicitVRLittleEndian, dcm.Attrs{latin1, {Tag: tag(t, "ReferencedStudySequence"), Items: []dcm.Attrs{nil, {{Tag: dcm.PatientName, Values: []string{"Ωmega"}}}}}},
			"(0008,1110)[1].(0010,0010)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("prefix")
			got, err := dcm.AppendAttrs(dst, tc.a, mustTS(t, tc.ts))
			if err == nil {
				t.Fatalf("no error; wrote %q", got)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if string(got) != "prefix" {
				t.Errorf("dst changed to %q", got)
			}
		})
	}
	// Long values are fine where the length field has 32 bits.
	if _, err := dcm.AppendAttrs(nil, dcm.Attrs{{Tag: dcm.PatientComments, VR: dcm.LO, Values: []string{long}}}, mustTS(t, dcm.ImplicitVRLittleEndian)); err != nil {
		t.Errorf("long value in implicit VR: %v", err)
	}
}

func TestEncodableIn(t *testing.T) {
	text := func(vr dcm.VR, v string) dcm.Attrs {
		return dcm.Attrs{{Tag: dcm.PatientName, VR: vr, Values: []string{v}}}
	}
	nested := dcm.Attrs{{Tag: dcm.NewTag(0x0008, 0x1110), Items: []dcm.Attrs{text(dcm.PN, "Zoë")}}}
	tests := []struct {
		name    string
		a       dcm.Attrs
		charset string
		want    bool
	}{
		{"ASCII in default", text(dcm.PN, "Doe^Jane"), "", true},
		{"Latin in default", text(dcm.PN, "Zoë"), "", false},
		{"Latin in Latin-1", text(dcm.PN, "Zoë"), "ISO_IR 100", true},
		{"Latin in Latin-1, ISO 2022 term", text(dcm.PN, "Zoë"), "ISO 2022 IR 100", true},
		{"Latin in UTF-8", text(dcm.PN, "Zoë"), "ISO_IR 192", true},
		{"Cyrillic in Latin-1", text(dcm.PN, "Иван"), "ISO_IR 100", false},
		{"Cyrillic in ISO_IR 144", text(dcm.PN, "Иван"), "ISO_IR 144", true},
		{"euro in Latin-9", text(dcm.LO, "5 €"), "ISO_IR 203", true},
		{"euro in Latin-1", text(dcm.LO, "5 €"), "ISO_IR 100", false},
		{"CS never", text(dcm.CS, "Ü"), "ISO_IR 192", false},
		{"nested", nested, "", false},
		{"nested in Latin-1", nested, "ISO_IR 100", true},
		{"unknown set takes ASCII", text(dcm.PN, "Doe"), "ISO_IR 999", true},
		{"unknown set refuses the rest", text(dcm.PN, "Zoë"), "ISO_IR 999", false},
		{"numbers are not text", dcm.Attrs{{Tag: dcm.Rows, Values: []string{"1"}}}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := dcm.EncodableIn(tc.a, tc.charset); got != tc.want {
				t.Errorf("EncodableIn(%q) = %v, want %v", tc.charset, got, tc.want)
			}
			// AppendAttrs must agree.
			a := append(dcm.Attrs{{Tag: dcm.SpecificCharacterSet, Values: []string{tc.charset}}}, tc.a...)
			_, err := dcm.AppendAttrs(nil, a, mustTS(t, dcm.ExplicitVRLittleEndian))
			if (err == nil) != tc.want {
				t.Errorf("AppendAttrs error %v, EncodableIn %v", err, tc.want)
			}
		})
	}
}

// TestAppendAttrsDcmdump: DCMTK reads what AppendAttrs writes, in each
// transfer syntax, without a warning, and shows the values we meant.
//
// Two DCMTK limits shape the check. dcmdump +U8 converts every item with
// the top level's character set, ignoring an item's own (0008,0005), so
// that item's text is checked in a dump without conversion (raw), where
// the UTF-8 bytes print as they are. And in implicit VR DCMTK warns about
// any private sequence of undefined length (it cannot know the VR and
// applies CP-246), so that sequence is left out there.
func TestAppendAttrsDcmdump(t *testing.T) {
	dcmdump := requireTool(t, "dcmdump")
	privateSQ := dcm.NewTag(0x0009, 0x1001)
	want := []struct {
		line    string
		raw     bool // in the dump without +U8
		private bool // part of the private sequence
	}{
		{line: `(0008,0005) CS [ISO_IR 100]`, raw: true},
		{line: `(0008,0008) CS [ORIGINAL\PRIMARY\AXIAL]`},
		{line: `(0008,0018) UI [2.25.12345]`},
		{line: `(0008,0080) LO [Zahnklinik Süd]`},
		{line: `(0008,1110) SQ (Sequence with undefined length #=2)`},
		{line: `(0008,1155) UI [2.25.22]`},
		{line: `(0008,1115) SQ (Sequence with explicit length #=0)`},
		{line: `(0008,1140) SQ (Sequence with undefined length #=1)`},
		{line: `(0009,0010) LO [MOLAR]`},
		{line: `(0009,1001) SQ (Sequence with undefined length #=1)`, private: true},
		{line: `(0010,0020) LO [inner]`, private: true},
		{line: `(0010,0010) PN [Müller^José==Mueller^Jose\Øster^Åse]`},
		{line: `(0010,0020) LO [ID-42]`},
		{line: `(0010,0030) DA (no value available)`},
		{line: `(0010,4000) LT [Grüße\line two]`},
		{line: `(0010,9431) FL 12.5`},
		{line: `(0018,1310) US 0\256\256\0`},
		{line: `(0018,6016) UL 4294967295`},
		{line: `(0018,6020) SL -12`},
		{line: `(0018,9089) FD 0.5\-1\3.25e-07`},
		{line: `(0020,9167) AT (0020,0032)\(7fe0,0010)`},
		{line: `(0028,0010) US 512`},
		{line: `(0028,0011) US 65535`},
		{line: `(0028,0103) US 1`},
		{line: `(0028,0120) SS -2000`},
		{line: `(0040,a040) CS [CONTAINER]`},
		{line: `(0008,0005) CS [ISO_IR 192]`, raw: true},
		{line: `(0040,a160) UT [Ω ünïcödé 歯]`, raw: true},
		{line: `(0040,a160) UT [Zähne]`},
		{line: `(0072,0082) SV -9223372036854775808\42`},
		{line: `(0072,0083) UV 18446744073709551615`},
	}
	dir := t.TempDir()
	for _, target := range nativeTargets {
		t.Run(mustTS(t, target.uid).Name, func(t *testing.T) {
			implicit := target.uid == dcm.ImplicitVRLittleEndian
			a := slices.DeleteFunc(sampleAttrs(t), func(at dcm.Attr) bool { return implicit && at.Tag == privateSQ })
			meta, err := dcm.EncodeFileMeta(dcm.FileMeta{SOPClassUID: "1.2.840.10008.5.1.4.1.1.7", SOPInstanceUID: "2.25.12345", TransferSyntax: target.uid})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, target.option+".dcm")
			if err := os.WriteFile(path, append(meta, encodeIn(t, a, target.uid)...), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, raw := range []bool{false, true} {
				args := []string{"+U8", "+L", path}
				if raw {
					args = args[1:]
				}
				lines := dumpLines(t, dcmdump, args...)
				// In order: each wanted line after the previous one.
				at := 0
				for _, w := range want {
					if w.raw != raw || w.private && implicit {
						continue
					}
					i := indexFrom(lines, at, w.line)
					if i < 0 {
						t.Fatalf("dcmdump %s shows no %q after line %d:\n%s", strings.Join(args, " "), w.line, at, strings.Join(lines, "\n"))
					}
					at = i + 1
				}
			}
		})
	}
}

// dumpLines runs dcmdump, failing on any warning or error, and returns its
// lines without the comment after the last '#' and with spaces squeezed.
func dumpLines(t *testing.T, dcmdump string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(dcmdump, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("dcmdump %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if i := strings.LastIndex(l, "#"); i >= 0 {
			l = l[:i]
		}
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return lines
}

func indexFrom(lines []string, from int, s string) int {
	for i := from; i < len(lines); i++ {
		if lines[i] == s {
			return i
		}
	}
	return -1
}
