package dcm_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.json from the current JSONWriter output")

// input is one Part 10 file of the test corpus.
type input struct {
	name string // unique; names the golden file
	data []byte
}

// dentalCorpus is the synthetic dental corpus: intra-oral and panoramic
// films of different sizes, with non-ASCII patient names. UIDs, dates and
// seeds are fixed so the bytes, and so the golden files, never change.
func dentalCorpus(t testing.TB) []input {
	t.Helper()
	study, series := "2.25.307193129430183755871926385710094217001", "2.25.307193129430183755871926385710094217002"
	specs := []struct {
		name string
		spec synth.Spec
	}{
		{"synth_io_bitewing_left", synth.Spec{
			StudyUID: study, SeriesUID: series, SOPInstanceUID: "2.25.307193129430183755871926385710094217011",
			PatientName: "Müller^José", PatientID: "9434765919", PatientBirthDate: "19800229", PatientSex: "M",
			AccessionNumber: "RX26-000123", StudyDate: "20260314", StudyTime: "091500", StudyDescription: "Bitewings",
			InstanceNumber: 1, Rows: 24, Columns: 32, Seed: 1,
		}},
		{"synth_io_bitewing_right", synth.Spec{
			StudyUID: study, SeriesUID: series, SOPInstanceUID: "2.25.307193129430183755871926385710094217012",
			PatientName: "Müller^José", PatientID: "9434765919", PatientBirthDate: "19800229", PatientSex: "M",
			AccessionNumber: "RX26-000123", StudyDate: "20260314", StudyTime: "091530", StudyDescription: "Bitewings",
			InstanceNumber: 2, Rows: 32, Columns: 24, BitsStored: 10, Seed: 2,
		}},
		{"synth_px_panoramic", synth.Spec{
			StudyUID: "2.25.307193129430183755871926385710094217101", SeriesUID: "2.25.307193129430183755871926385710094217102",
			SOPInstanceUID: "2.25.307193129430183755871926385710094217103",
			SOPClassUID:    synth.DXForPresentation, Modality: "PX",
			PatientName: "Ní Bhriain^Siobhán", PatientID: "4857773456", PatientBirthDate: "19671103", PatientSex: "F",
			AccessionNumber: "RX26-000456", StudyDate: "20260315", StudyTime: "141205.25", StudyDescription: "OPG",
			Rows: 40, Columns: 96, BitsStored: 14, Seed: 3,
		}},
		{"synth_px_extras", synth.Spec{
			StudyUID: "2.25.307193129430183755871926385710094217201", SeriesUID: "2.25.307193129430183755871926385710094217202",
			SOPInstanceUID: "2.25.307193129430183755871926385710094217203",
			SOPClassUID:    synth.DXForPresentation, Modality: "PX",
			PatientName: "Müller^José", PatientID: "9434765919", AccessionNumber: "RX26-000789",
			StudyDate: "20260316", Rows: 8, Columns: 8, Seed: 4,
			Extra: map[dcm.Tag]synth.Value{
				dcm.BodyPartExamined:       {VR: dcm.CS, Value: "JAW"},
				dcm.NewTag(0x0018, 0x1164): {VR: dcm.DS, Value: `0.085\0.085`}, // Imager Pixel Spacing
				dcm.NewTag(0x0028, 0x1050): {VR: dcm.DS, Value: `2048\1024.5`}, // Window Center
				dcm.NewTag(0x0028, 0x1051): {VR: dcm.DS, Value: `4096\+2.5E3`}, // Window Width
				dcm.NewTag(0x0018, 0x1030): {VR: dcm.LO, Value: "Pano – Standard"},
				dcm.NewTag(0x0009, 0x0010): {VR: dcm.LO, Value: "MOLAR TEST"},               // private creator
				dcm.NewTag(0x0009, 0x1001): {VR: dcm.OB, Value: "\x00\x01\xfe\xff"},         // private bytes
				dcm.NewTag(0x0009, 0x1002): {VR: dcm.OW, Value: "\x01\x00\x02\x00\x58\x02"}, // words 1, 2, 600
				dcm.NewTag(0x0020, 0x4000): {VR: dcm.LT, Value: "line one\r\nline \"two\" \\ three"},
				dcm.NewTag(0x0008, 0x0090): {VR: dcm.PN, Value: "Ó Briain^Séan^^Dr"}, // replaces the empty default
			},
		}},
	}
	out := make([]input, len(specs))
	for i, s := range specs {
		b, err := synth.Bytes(s.spec)
		if err != nil {
			t.Fatalf("synth %s: %v", s.name, err)
		}
		out[i] = input{s.name, b}
	}
	return out
}

// jsonCorpus is every pydicom file that parses, the dental corpus and the
// DCMTK-encoded files of testdata/dcmtk.
func jsonCorpus(t testing.TB) []input {
	t.Helper()
	var out []input
	for _, rel := range pydicomFiles(t) {
		if rejectedFiles[rel] != nil {
			continue // TestParseAllPydicomFiles checks they fail
		}
		out = append(out, input{strings.TrimSuffix(filepath.Base(rel), ".dcm"), readPydicom(t, rel)})
	}
	out = append(out, dentalCorpus(t)...)
	for _, in := range dcmtkInputs {
		out = append(out, input{in.name, dcmtkInput(t, in.name)})
	}
	return out
}

func bulkURI(p dcm.BulkPath) string { return "bulk/" + string(p) }

// toJSON parses a Part 10 file and renders its dataset as DICOM JSON.
func toJSON(t testing.TB, data []byte) []byte {
	t.Helper()
	f, err := dcm.ParsePart10(bytes.NewReader(data), dcm.ParseOptions{})
	if err != nil {
		t.Fatalf("ParsePart10: %v", err)
	}
	w := &dcm.JSONWriter{BulkURI: bulkURI}
	out := w.Append(nil, f.Dataset)
	if !json.Valid(out) {
		t.Fatalf("JSONWriter wrote invalid JSON: %s", out)
	}
	return out
}

// TestJSONGolden compares the JSONWriter output for the whole corpus with
// testdata/golden; -update rewrites the golden files. They are indented so
// that a change shows as a readable diff in review.
func TestJSONGolden(t *testing.T) {
	dir := filepath.Join("testdata", "golden")
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bool{}
	for _, in := range jsonCorpus(t) {
		path := filepath.Join(dir, in.name+".json")
		want[path] = true
		t.Run(in.name, func(t *testing.T) {
			var got bytes.Buffer
			if err := json.Indent(&got, toJSON(t, in.data), "", "  "); err != nil {
				t.Fatal(err)
			}
			got.WriteByte('\n')
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./internal/dcm -run TestJSONGolden -update writes it)", err)
			}
			if !bytes.Equal(got.Bytes(), golden) {
				t.Errorf("JSONWriter output differs from %s (-update rewrites it after review):\n%s", path, lineDiff(golden, got.Bytes()))
			}
		})
	}
	// A golden file no input produces any more would never be checked.
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		if want[f] {
			continue
		}
		if *update {
			os.Remove(f)
			continue
		}
		t.Errorf("stale golden file %s: no corpus input produces it", f)
	}
}

// lineDiff shows the first differing line with a little context.
func lineDiff(want, got []byte) string {
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		w, g := "<EOF>", "<EOF>"
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			from := max(0, i-3)
			return fmt.Sprintf("line %d:\ncontext:\n%s\nwant: %s\ngot:  %s", i+1, strings.Join(gl[from:i], "\n"), w, g)
		}
	}
	return "(identical lines)"
}

// dcm2jsonFails lists the corpus files dcm2json (DCMTK 3.6.7 as Debian
// builds it) cannot convert at all. The test checks that it still fails on
// them, so the list cannot go stale silently.
var dcm2jsonFails = map[string]string{
	// Debian's DCMTK converts character sets with glibc iconv, which has no
	// "ISO 2022 IR 87" (JIS X 0208) converter; dcm2json then refuses the
	// whole file. Our decoding of these is checked against pydicom in
	// internal/charset.
	"chrH31":                 "ISO 2022 IR 87 unsupported by glibc iconv",
	"chrH32":                 "ISO 2022 IR 87 unsupported by glibc iconv",
	"chrJapMulti":            "ISO 2022 IR 87 unsupported by glibc iconv",
	"chrJapMultiExplicitIR6": "ISO 2022 IR 87 unsupported by glibc iconv",
	"chrSQEncoding1":         "ISO 2022 IR 87 unsupported by glibc iconv",
	"J2K_pixelrep_mismatch":  "ISO 2022 IR 87 unsupported by glibc iconv",
}

// dcm2jsonDiffers lists, per file, the element paths where dcm2json departs
// from PS3.18 Annex F and so from us, with the reason. The test fails if
// one of them stops differing.
var dcm2jsonDiffers = map[string]map[string]string{
	"chrSQEncoding": {
		// The item declares its own Specific Character Set (ISO 2022
		// IR 13 and IR 87), which applies to it (PS3.5 7.5.3);
		// dcm2json keeps decoding the item with the parent's ISO_IR 192
		// and prints the raw bytes. Ours matches pydicom (see
		// internal/charset).
		"00321064/0/00100010": "dcm2json ignores the item's own Specific Character Set",
	},
	"nested_priv_SQ": {
		// The UN value has an odd length (9); DCMTK pads it to 10 with
		// a NUL while reading. PS3.18 F.2.7 encodes the Value Field as
		// stored, which we do.
		"00010001/0/00010002": "DCMTK pads an odd-length value while reading",
	},
}

// Two rules hold for every file, so they are in compareElements rather
// than listed per file:
//
//   - (0008,0005): dcm2json converts text to UTF-8 and rewrites Specific
//     Character Set to "ISO_IR 192". PS3.18 F.2.2 (Note 3) says the
//     attribute keeps describing the source dataset, as ours does.
//   - (FFFC,FFFC): dcm2json writes Data Set Trailing Padding; we leave it
//     out on purpose, as it carries no meaning (PS3.10 7.2) and is no
//     attribute a DICOMweb client should receive.

// TestJSONMatchesDcm2json checks JSONWriter against DCMTK's dcm2json on the
// whole corpus, and on the dental corpus also re-encoded by dcmconv in the
// other native transfer syntaxes (big endian, implicit VR, deflated). The
// comparison is semantic (see compareElements).
//
// dcm2json refuses encapsulated pixel data ("InlineBinary encoding not
// supported for compressed pixel data"), so for such files it is given a
// copy without (7FE0,0010), made with dcmodify, and ours leaves that
// element out too.
func TestJSONMatchesDcm2json(t *testing.T) {
	dcm2json := requireTool(t, "dcm2json")
	dcmodify := requireTool(t, "dcmodify")
	dcmconv := requireTool(t, "dcmconv")
	type variant struct {
		suffix string
		args   []string // for dcmconv; nil: the file as it is
	}
	plain := []variant{{"", nil}}
	reencoded := []variant{{"", nil}, {"_bigendian", []string{"+tb"}}, {"_implicit", []string{"+ti"}}, {"_deflated", []string{"+td"}}}
	synthetic := map[string]bool{}
	for _, in := range dentalCorpus(t) {
		synthetic[in.name] = true
	}
	for _, in := range jsonCorpus(t) {
		variants := plain
		if synthetic[in.name] {
			variants = reencoded
		}
		for _, v := range variants {
			t.Run(in.name+v.suffix, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				path := filepath.Join(dir, "in.dcm")
				if err := os.WriteFile(path, in.data, 0o644); err != nil {
					t.Fatal(err)
				}
				if v.args != nil {
					conv := filepath.Join(dir, "conv.dcm")
					run(t, dcmconv, append(v.args, path, conv)...)
					path = conv
				}
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				f := mustParse(t, data, dcm.ParseOptions{})
				skip := func(dcm.Tag) bool { return false }
				if pd := f.Dataset.Find(dcm.PixelData); pd != nil && pd.Encapsulated {
					run(t, dcmodify, "-q", "-nb", "-ea", "(7fe0,0010)", path)
					skip = func(tag dcm.Tag) bool { return tag == dcm.PixelData }
				}
				theirs, err := exec.Command(dcm2json, "-q", "-fc", path).Output()
				if reason, ok := dcm2jsonFails[in.name]; ok {
					if err == nil {
						t.Fatalf("dcm2json now converts the file listed as failing (%s): drop it from dcm2jsonFails", reason)
					}
					t.Logf("not compared: dcm2json fails (%s)", reason)
					return
				}
				if err != nil {
					t.Fatalf("dcm2json: %v\n%s", err, stderrOf(err))
				}
				w := &dcm.JSONWriter{BulkURI: bulkURI, Skip: skip}
				var o, d map[string]any
				decodeJSON(t, "ours", w.Append(nil, f.Dataset), &o)
				decodeJSON(t, "dcm2json", theirs, &d)
				var diffs []string
				compareDatasets("", o, d, &diffs)
				allowed := dcm2jsonDiffers[in.name]
				used := map[string]bool{}
				for _, diff := range diffs {
					p, _, _ := strings.Cut(diff, ":")
					if reason, ok := allowed[p]; ok {
						used[p] = true
						t.Logf("known dcm2json difference (%s): %s", reason, diff)
						continue
					}
					t.Error(diff)
				}
				for p := range allowed {
					if !used[p] {
						t.Errorf("dcm2jsonDiffers lists %s, which no longer differs: drop it", p)
					}
				}
			})
		}
	}
}

func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		// Never skip: a cross-check that silently stops running is worse
		// than none. Debian: apt-get install dcmtk.
		t.Fatalf("%s not found (install DCMTK: apt-get install dcmtk): %v", name, err)
	}
	return p
}

func run(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderrOf(err))
	}
	return out
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

func decodeJSON(t testing.TB, who string, b []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		t.Fatalf("%s: invalid JSON: %v\n%s", who, err, b)
	}
}

// compareDatasets appends to diffs one line per semantic difference
// between two DICOM JSON objects, each starting with the element's path.
// Group lengths, the file meta group and trailing padding are dropped from
// dcm2json's side (we never write them; see JSONWriter.Append).
func compareDatasets(prefix string, ours, theirs map[string]any, diffs *[]string) {
	for k := range theirs {
		if strings.HasSuffix(k, "0000") || strings.HasPrefix(k, "0002") || k == "FFFCFFFC" {
			delete(theirs, k)
		}
	}
	keys := make([]string, 0, len(ours)+len(theirs))
	for k := range ours {
		keys = append(keys, k)
	}
	for k := range theirs {
		if _, ok := ours[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		path := prefix + k
		o, inOurs := ours[k].(map[string]any)
		d, inTheirs := theirs[k].(map[string]any)
		switch {
		case !inOurs:
			*diffs = append(*diffs, fmt.Sprintf("%s: only dcm2json has it: %v", path, theirs[k]))
		case !inTheirs:
			*diffs = append(*diffs, fmt.Sprintf("%s: only we have it: %v", path, ours[k]))
		default:
			compareElements(path, o, d, diffs)
		}
	}
}

func compareElements(path string, o, d map[string]any, diffs *[]string) {
	add := func(format string, args ...any) {
		*diffs = append(*diffs, path+": "+fmt.Sprintf(format, args...))
	}
	vr, _ := o["vr"].(string)
	if strings.HasSuffix(path, "00080005") && fmt.Sprint(d["Value"]) == "[ISO_IR 192]" {
		return // rewritten by dcm2json; see dcm2jsonDiffers
	}
	if o["vr"] != d["vr"] {
		add("vr %v, dcm2json %v", o["vr"], d["vr"])
		return
	}
	if _, ok := o["BulkDataURI"]; ok {
		// A value we did not keep: dcm2json may inline it or not.
		if d["InlineBinary"] == nil && d["BulkDataURI"] == nil {
			add("we write BulkDataURI, dcm2json %v", d)
		}
		return
	}
	if ob, ok := o["InlineBinary"].(string); ok {
		db, _ := d["InlineBinary"].(string)
		ov, err1 := base64.StdEncoding.DecodeString(ob)
		dv, err2 := base64.StdEncoding.DecodeString(db)
		if err1 != nil || err2 != nil || !bytes.Equal(ov, dv) {
			add("InlineBinary %q, dcm2json %v", ob, d)
		}
		return
	}
	ov, _ := o["Value"].([]any)
	dv, _ := d["Value"].([]any)
	for _, k := range []string{"InlineBinary", "BulkDataURI"} {
		if d[k] != nil {
			add("dcm2json writes %s, we %v", k, o)
			return
		}
	}
	if len(ov) != len(dv) {
		add("%d values %v, dcm2json %d values %v", len(ov), ov, len(dv), dv)
		return
	}
	for i := range ov {
		vp := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case vr == "SQ":
			oi, _ := ov[i].(map[string]any)
			di, _ := dv[i].(map[string]any)
			compareDatasets(fmt.Sprintf("%s/%d/", path, i), oi, di, diffs)
		case vr == "PN":
			if !equalPN(ov[i], dv[i]) {
				add("value %d: %v, dcm2json %v", i, ov[i], dv[i])
			}
		default:
			if !equalScalar(vr, ov[i], dv[i]) {
				*diffs = append(*diffs, fmt.Sprintf("%s: %#v, dcm2json %#v", vp, ov[i], dv[i]))
			}
		}
	}
}

// equalPN compares person names group by group; an absent group equals an
// empty one.
func equalPN(o, d any) bool {
	om, _ := o.(map[string]any)
	dm, _ := d.(map[string]any)
	for _, g := range []string{"Alphabetic", "Ideographic", "Phonetic"} {
		a, _ := om[g].(string)
		b, _ := dm[g].(string)
		if a != b {
			return false
		}
	}
	for g := range om {
		if g != "Alphabetic" && g != "Ideographic" && g != "Phonetic" {
			return false
		}
	}
	return (o == nil) == (d == nil) || len(om)+len(dm) == 0
}

// equalScalar compares strings exactly and numbers as float64 with a
// relative tolerance of 1e-9 (dcm2json prints DS as written, we as parsed).
// FL values are compared as the float32 they are: we print the shortest
// decimal that reads back as the same float32, dcm2json nine digits.
func equalScalar(vr string, o, d any) bool {
	on, oNum := o.(json.Number)
	dn, dNum := d.(json.Number)
	if oNum && dNum {
		of, err1 := on.Float64()
		df, err2 := dn.Float64()
		if err1 != nil || err2 != nil {
			return on == dn
		}
		if vr == "FL" {
			return float32(of) == float32(df)
		}
		return of == df || math.Abs(of-df) <= 1e-9*math.Max(math.Abs(of), math.Abs(df))
	}
	return o == d
}

// TestJSONWriterValues pins the encoding of single values (PS3.18 F.2),
// including the cases the corpus lacks.
func TestJSONWriterValues(t *testing.T) {
	le, be := dcm.ExplicitVRLittleEndian, dcm.ExplicitVRBigEndian
	tag := dcm.NewTag(0x0009, 0x1010) // private, so any VR goes
	tests := []struct {
		name string
		ts   string
		vr   dcm.VR
		raw  string
		want string // the element's JSON object
	}{
		{"PN trailing empty components", le, dcm.PN, "Smith^John^^ ", `{"vr":"PN","Value":[{"Alphabetic":"Smith^John"}]}`},
		{"PN all empty", le, dcm.PN, "^^^^", `{"vr":"PN"}`},
		{"PN empty middle value", le, dcm.PN, `A\^^\B `, `{"vr":"PN","Value":[{"Alphabetic":"A"},null,{"Alphabetic":"B"}]}`},
		{"PN groups", le, dcm.PN, "=Yamada^Taro=", `{"vr":"PN","Value":[{"Ideographic":"Yamada^Taro"}]}`},
		{"PN three groups", le, dcm.PN, "A^B=C^D=E^F ", `{"vr":"PN","Value":[{"Alphabetic":"A^B","Ideographic":"C^D","Phonetic":"E^F"}]}`},
		{"DS", le, dcm.DS, ` 1.50\\+2.5E3\-0 `, `{"vr":"DS","Value":[1.5,null,2500,-0]}`},
		{"DS not a number", le, dcm.DS, `abc `, `{"vr":"DS","Value":["abc"]}`},
		{"DS overflow", le, dcm.DS, `1e999 `, `{"vr":"DS","Value":["1e999"]}`},
		{"IS", le, dcm.IS, `+12\ -7 `, `{"vr":"IS","Value":[12,-7]}`},
		{"CS empty middle value", le, dcm.CS, `A\\B `, `{"vr":"CS","Value":["A",null,"B"]}`},
		{"LT keeps backslash and escapes", le, dcm.LT, "a\\b \"q\"\x01\ttab  ", `{"vr":"LT","Value":["a\\b \"q\"\u0001\ttab"]}`},
		{"UI padding", le, dcm.UI, "1.2.3\x00", `{"vr":"UI","Value":["1.2.3"]}`},
		{"empty", le, dcm.LO, "", `{"vr":"LO"}`},
		{"US", le, dcm.US, "\x01\x00\xff\xff", `{"vr":"US","Value":[1,65535]}`},
		{"US big endian", be, dcm.US, "\x00\x01\xff\xfe", `{"vr":"US","Value":[1,65534]}`},
		{"SS", le, dcm.SS, "\xff\xff", `{"vr":"SS","Value":[-1]}`},
		{"SL big endian", be, dcm.SL, "\xff\xff\xff\xfe", `{"vr":"SL","Value":[-2]}`},
		{"UV", le, dcm.UV, "\xff\xff\xff\xff\xff\xff\xff\xff", `{"vr":"UV","Value":[18446744073709551615]}`},
		{"SV", le, dcm.SV, "\x00\x00\x00\x00\x00\x00\x00\x80", `{"vr":"SV","Value":[-9223372036854775808]}`},
		{"FL", le, dcm.FL, "\x00\x00\xc0\x3f", `{"vr":"FL","Value":[1.5]}`},
		{"FL NaN", le, dcm.FL, "\x00\x00\xc0\x7f", `{"vr":"FL","Value":[null]}`},
		{"FD infinity", le, dcm.FD, "\x00\x00\x00\x00\x00\x00\xf0\x7f", `{"vr":"FD","Value":[null]}`},
		{"AT", le, dcm.AT, "\x10\x00\x10\x00", `{"vr":"AT","Value":["00100010"]}`},
		{"AT big endian", be, dcm.AT, "\x00\x10\x00\x20", `{"vr":"AT","Value":["00100020"]}`},
		{"OB", le, dcm.OB, "\x00\x01\x02\x03", `{"vr":"OB","InlineBinary":"AAECAw=="}`},
		// InlineBinary is little endian whatever the source (PS3.18 F.2.7).
		{"OW big endian", be, dcm.OW, "\x00\x01\x02\x58", `{"vr":"OW","InlineBinary":"AQBYAg=="}`},
		{"OF big endian", be, dcm.OF, "\x3f\xc0\x00\x00", `{"vr":"OF","InlineBinary":"AADAPw=="}`},
		{"OD big endian", be, dcm.OD, "\x3f\xf8\x00\x00\x00\x00\x00\x00", `{"vr":"OD","InlineBinary":"AAAAAAAA+D8="}`},
		{"OB big endian stays", be, dcm.OB, "\x00\x01", `{"vr":"OB","InlineBinary":"AAE="}`},
		{"UN big endian stays", be, dcm.UN, "\x00\x01", `{"vr":"UN","InlineBinary":"AAE="}`},
		{"bulk", le, dcm.OB, strings.Repeat("x", 2000), `{"vr":"OB","BulkDataURI":"bulk/00091010"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDS(tc.ts)
			d.el(tag, tc.vr, tc.raw)
			got := writeDataset(t, tc.ts, d.Bytes(), nil)
			want := `{"00091010":` + tc.want + `}`
			if got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func writeDataset(t *testing.T, ts string, body []byte, skip func(dcm.Tag) bool) string {
	t.Helper()
	ds, _, err := dcm.ParseDataset(bytes.NewReader(body), mustTS(t, ts), 0, dcm.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := (&dcm.JSONWriter{BulkURI: bulkURI, Skip: skip}).Append(nil, ds)
	if !json.Valid(out) {
		t.Fatalf("invalid JSON %s", out)
	}
	if err := checkTagOrder(out); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return string(out)
}

// TestJSONWriterStructure: what is left out, repeated tags, sequences and
// the paths of nested bulk data.
func TestJSONWriterStructure(t *testing.T) {
	seq := dcm.NewTag(0x0040, 0x0275)
	d := newDS(dcm.ExplicitVRLittleEndian)
	d.el(dcm.NewTag(0x0008, 0x0000), dcm.UL, "\x04\x00\x00\x00") // group length: left out
	d.el(dcm.SpecificCharacterSet, dcm.CS, "ISO_IR 100")
	d.el(dcm.Modality, dcm.CS, "IO")
	d.el(dcm.Modality, dcm.CS, "PX") // repeated: only the first is kept
	d.el(dcm.PatientName, dcm.PN, "M\xfcller^Jos\xe9")
	d.header(dcm.NewTag(0x0008, 0x1110), dcm.SQ, 0) // empty sequence
	d.header(seq, dcm.SQ, dcm.UndefinedLength)
	d.delim(dcm.Item, dcm.UndefinedLength) // empty item
	d.delim(dcm.ItemDelimitationItem, 0)
	d.delim(dcm.Item, dcm.UndefinedLength)
	d.el(dcm.NewTag(0x0009, 0x0010), dcm.LO, "MOLAR ")
	d.el(dcm.NewTag(0x0009, 0x1001), dcm.OB, strings.Repeat("x", 1026))
	d.el(dcm.NewTag(0x0009, 0x1002), dcm.LO, "skipped ")
	d.delim(dcm.ItemDelimitationItem, 0)
	d.delim(dcm.SequenceDelimitationItem, 0)
	d.el(dcm.NewTag(0xFFFC, 0xFFFC), dcm.OB, "\x00\x00") // trailing padding: left out
	got := writeDataset(t, dcm.ExplicitVRLittleEndian, d.Bytes(), func(tag dcm.Tag) bool { return tag == dcm.NewTag(0x0009, 0x1002) })
	want := `{"00080005":{"vr":"CS","Value":["ISO_IR 100"]},` +
		`"00080060":{"vr":"CS","Value":["IO"]},` +
		`"00081110":{"vr":"SQ"},` +
		`"00100010":{"vr":"PN","Value":[{"Alphabetic":"Müller^José"}]},` +
		`"00400275":{"vr":"SQ","Value":[{},{"00090010":{"vr":"LO","Value":["MOLAR"]},"00091001":{"vr":"OB","BulkDataURI":"bulk/00400275/1/00091001"}}]}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestCheckTagOrder tests the fuzz oracle itself.
func TestCheckTagOrder(t *testing.T) {
	for in, ok := range map[string]bool{
		`{"00080060":{"vr":"CS","Value":["00080050"]},"00100010":{"vr":"PN"}}`:               true,
		`{"00400275":{"vr":"SQ","Value":[{"00100010":{}},{"00080060":{}}]},"00400276":{}}`:   true,
		`{"00100010":{"vr":"PN"},"00080060":{"vr":"CS"}}`:                                    false,
		`{"00080060":{"vr":"CS"},"00080060":{"vr":"CS"}}`:                                    false,
		`{"00400275":{"vr":"SQ","Value":[{"00100010":{},"00100010":{}}]}}`:                   false,
		`{"00400275":{"vr":"SQ","Value":[{"00100020":{"vr":"LO"},"00100010":{"vr":"PN"}}]}}`: false,
	} {
		if err := checkTagOrder([]byte(in)); (err == nil) != ok {
			t.Errorf("checkTagOrder(%s) = %v", in, err)
		}
	}
}
