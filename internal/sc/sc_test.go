package sc

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/render"
)

// imageCase is one upload and how it should be stored.
type imageCase struct {
	name        string
	data        []byte
	contentType string
	ts          string // transfer syntax UID
	photometric string
	samples     int
	bits        int
	lossy       string
	// source is the image the native pixels must equal; nil for
	// encapsulated cases, whose fragment must equal data.
	source image.Image
}

func imageCases(t testing.TB) []imageCase {
	decoded := func(b []byte) image.Image {
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	goJPEG := encodeJPEG(t, colourImage(41, 31))
	odd := goJPEG
	if len(odd)%2 == 0 {
		odd = withComment(goJPEG, 1)
	}
	even := withComment(odd, 1)
	const mono, rgb, ybr422 = "MONOCHROME2", "RGB", "YBR_FULL_422"
	enc, nat := dcm.JPEGBaseline8Bit, dcm.ExplicitVRLittleEndian
	prog, progGrey, cmyk := fixture(t, "progressive-colour.jpg"), fixture(t, "progressive-grey.jpg"), fixture(t, "cmyk.jpg")
	return []imageCase{
		// Baseline JPEG: wrapped unchanged.
		{name: "jpeg grey", data: encodeJPEG(t, greyImage(40, 30)), contentType: "image/jpeg", ts: enc, photometric: mono, samples: 1, bits: 8, lossy: "01"},
		{name: "jpeg 420 odd length", data: odd, contentType: "image/jpeg", ts: enc, photometric: ybr422, samples: 3, bits: 8, lossy: "01"},
		{name: "jpeg 420 even length", data: even, contentType: "image/jpeg", ts: enc, photometric: ybr422, samples: 3, bits: 8, lossy: "01"},
		{name: "jpeg 422", data: fixture(t, "baseline-422.jpg"), contentType: "image/jpeg", ts: enc, photometric: ybr422, samples: 3, bits: 8, lossy: "01"},
		{name: "jpeg 444", data: fixture(t, "baseline-444.jpg"), contentType: "image/pjpeg", ts: enc, photometric: ybr422, samples: 3, bits: 8, lossy: "01"},
		{name: "jpeg adobe rgb", data: fixture(t, "baseline-rgb.jpg"), contentType: "", ts: enc, photometric: rgb, samples: 3, bits: 8, lossy: "01"},
		{name: "jpeg one pixel", data: encodeJPEG(t, greyImage(1, 1)), contentType: "application/octet-stream", ts: enc, photometric: mono, samples: 1, bits: 8, lossy: "01"},
		// Other JPEGs: decoded, still lossy.
		{name: "jpeg progressive colour", data: prog, contentType: "image/jpeg", ts: nat, photometric: rgb, samples: 3, bits: 8, lossy: "01", source: decoded(prog)},
		{name: "jpeg progressive grey", data: progGrey, contentType: "image/jpeg", ts: nat, photometric: mono, samples: 1, bits: 8, lossy: "01", source: decoded(progGrey)},
		{name: "jpeg cmyk", data: cmyk, contentType: "image/jpeg", ts: nat, photometric: rgb, samples: 3, bits: 8, lossy: "01", source: decoded(cmyk)},
		// PNG: decoded.
		{name: "png grey", data: encodePNG(t, greyImage(33, 21)), contentType: "image/png", ts: nat, photometric: mono, samples: 1, bits: 8, lossy: "00", source: greyImage(33, 21)},
		{name: "png grey 16", data: encodePNG(t, grey16Image(33, 21)), contentType: "image/png", ts: nat, photometric: mono, samples: 1, bits: 16, lossy: "00", source: grey16Image(33, 21)},
		{name: "png colour", data: encodePNG(t, colourImage(33, 21)), contentType: "image/png", ts: nat, photometric: rgb, samples: 3, bits: 8, lossy: "00", source: colourImage(33, 21)},
		{name: "png rgba", data: encodePNG(t, alphaImage(33, 21)), contentType: "image/png; charset=binary", ts: nat, photometric: rgb, samples: 3, bits: 8, lossy: "00", source: alphaImage(33, 21)},
		{name: "png grey saved as rgb", data: encodePNG(t, greyAsRGB(33, 21)), contentType: "image/png", ts: nat, photometric: mono, samples: 1, bits: 8, lossy: "00", source: greyAsRGB(33, 21)},
		{name: "png colour 16", data: encodePNG(t, colour16Image(33, 21)), contentType: "image/png", ts: nat, photometric: rgb, samples: 3, bits: 16, lossy: "00", source: colour16Image(33, 21)},
		{name: "png palette", data: encodePNG(t, palettedImage(33, 21)), contentType: "image/x-png", ts: nat, photometric: rgb, samples: 3, bits: 8, lossy: "00", source: palettedImage(33, 21)},
		{name: "png one pixel", data: encodePNG(t, greyImage(1, 1)), contentType: "image/png", ts: nat, photometric: mono, samples: 1, bits: 8, lossy: "00", source: greyImage(1, 1)},
	}
}

// wrap runs Wrap and checks that Result.Size is what it wrote.
func wrap(t testing.TB, data []byte, contentType string, req Request) ([]byte, Result) {
	t.Helper()
	var out bytes.Buffer
	res, err := Wrap(&out, bytes.NewReader(data), contentType, req)
	if err != nil {
		t.Fatalf("Wrap: %v", err)
	}
	if res.Size != int64(out.Len()) {
		t.Errorf("Result.Size %d, wrote %d bytes", res.Size, out.Len())
	}
	return out.Bytes(), res
}

// TestWrapPixels: each kind of upload gets the transfer syntax and Image
// Pixel attributes it should; a baseline JPEG's fragment is the upload
// byte for byte, native pixels are the source image's; our parser and
// renderer read the result.
func TestWrapPixels(t *testing.T) {
	for _, c := range imageCases(t) {
		t.Run(c.name, func(t *testing.T) {
			out, res := wrap(t, c.data, c.contentType, request())
			cfg, _, err := image.DecodeConfig(bytes.NewReader(c.data))
			if err != nil {
				t.Fatal(err)
			}
			if res.TransferSyntax != c.ts || res.Photometric != c.photometric || res.Rows != cfg.Height || res.Columns != cfg.Width {
				t.Errorf("Result %+v, want %s %s %d×%d", res, c.ts, c.photometric, cfg.Width, cfg.Height)
			}
			f := parse(t, out)
			ds := f.Dataset
			if f.TransferSyntax.UID != c.ts || f.Size != int64(len(out)) {
				t.Errorf("transfer syntax %s, parsed %d of %d bytes", f.TransferSyntax.UID, f.Size, len(out))
			}
			for _, want := range []struct {
				tag dcm.Tag
				v   int
			}{
				{dcm.Rows, cfg.Height}, {dcm.Columns, cfg.Width}, {dcm.SamplesPerPixel, c.samples},
				{dcm.BitsAllocated, c.bits}, {dcm.BitsStored, c.bits}, {tagHighBit, c.bits - 1},
				{dcm.PixelRepresentation, 0},
			} {
				if got, ok := ds.Int(want.tag); !ok || got != want.v {
					t.Errorf("%s = %d (%v), want %d", want.tag, got, ok, want.v)
				}
			}
			if pc, ok := ds.Int(tagPlanarConfiguration); ok != (c.samples == 3) || pc != 0 {
				t.Errorf("Planar Configuration %d, present %v, for %d samples", pc, ok, c.samples)
			}
			for tag, want := range map[dcm.Tag]string{
				dcm.PhotometricInterpretation: c.photometric, tagLossyImageCompression: c.lossy,
				dcm.SOPClassUID: SOPClassUID, dcm.MediaStorageSOPClassUID: SOPClassUID,
			} {
				got := ds.String(tag)
				if tag.Group() == 2 {
					got = f.Meta.String(tag)
				}
				if got != want {
					t.Errorf("%s = %q, want %q", tag, got, want)
				}
			}
			if method := ds.String(tagLossyImageCompressionMethod); (c.lossy == "01") != (method == "ISO_10918_1") {
				t.Errorf("Lossy Image Compression %s with method %q", c.lossy, method)
			}

			px := frame(t, f, out)
			pd := ds.Find(dcm.PixelData)
			if c.source == nil {
				if !pd.Encapsulated || len(pd.BasicOffsetTable) != 0 || len(pd.Fragments) != 1 {
					t.Fatalf("pixel data: encapsulated %v, offset table %v, %d fragments; want an empty table and one fragment",
						pd.Encapsulated, pd.BasicOffsetTable, len(pd.Fragments))
				}
				want := c.data
				if len(want)%2 == 1 {
					want = append(append([]byte{}, want...), 0)
				}
				if !bytes.Equal(px, want) {
					t.Errorf("fragment of %d bytes is not the upload of %d bytes (padded to even length)", len(px), len(c.data))
				}
			} else {
				want := expectedSamples(c.source, c.bits, c.samples == 1)
				if !bytes.Equal(px, want) {
					t.Errorf("native pixel data of %d bytes differs from the source image's %d", len(px), len(want))
				}
			}
			checkRender(t, f, px, c)
		})
	}
}

// checkRender decodes the frame with internal/render and compares it with
// what image/jpeg or the source image hold.
func checkRender(t *testing.T, f *dcm.File, px []byte, c imageCase) {
	t.Helper()
	info, err := render.InfoFrom(f.Dataset, f.TransferSyntax)
	if err != nil {
		t.Fatalf("render.InfoFrom: %v", err)
	}
	fr, err := render.Decode(px, info)
	if err != nil {
		t.Fatalf("render.Decode: %v", err)
	}
	src := c.source
	if src == nil {
		src, err = jpeg.Decode(bytes.NewReader(c.data))
		if err != nil {
			t.Fatal(err)
		}
	}
	if c.samples == 1 {
		want := expectedSamples(src, c.bits, true)
		for i, v := range fr.Gray {
			w := uint16(want[i*c.bits/8])
			if c.bits == 16 {
				w |= uint16(want[2*i+1]) << 8
			}
			if v != w {
				t.Fatalf("rendered grey pixel %d is %d, want %d", i, v, w)
			}
		}
		return
	}
	if want := expectedSamples(src, 8, false); !bytes.Equal(fr.RGB, want) {
		t.Errorf("rendered colour pixels differ from the source's")
	}
}

// TestWrapAttributes: the referral's data lands where the design says,
// and the defaults are what the package documents.
func TestWrapAttributes(t *testing.T) {
	jpg := encodeJPEG(t, greyImage(16, 16))
	tests := []struct {
		name    string
		change  func(*Request)
		want    map[dcm.Tag]string // "" : present and empty; absent tags in absent
		absent  []dcm.Tag
		charset string
	}{
		{
			name: "given",
			want: map[dcm.Tag]string{
				dcm.PatientName: "SMITH^JOHN", dcm.PatientID: "9434765919", dcm.IssuerOfPatientID: "NHS",
				dcm.PatientBirthDate: "19800229", dcm.PatientSex: "M",
				dcm.AccessionNumber: "URN26A0001", dcm.StudyID: "URN26A0001",
				dcm.StudyDate: "20260310", dcm.StudyTime: "", dcm.SeriesDate: "20260310",
				dcm.ContentDate: "20260310", dcm.AcquisitionDate: "20260310",
				dcm.StudyInstanceUID: StudyUID("MOLAR", "URN26A0001"),
				dcm.Modality:         "OT", tagConversionType: "WSD", dcm.ImageType: `DERIVED\SECONDARY`,
				dcm.SeriesDescription: "Periapical LR6", tagImageComments: "Periapical LR6",
				dcm.InstitutionName: "High Street Dental Practice", dcm.Manufacturer: "",
				dcm.ReferringPhysicianName: "JONES^ANNA^^DR", tagOperatorsName: "PATEL^RAVI",
				dcm.SeriesNumber: "1", dcm.InstanceNumber: "1", tagPatientOrientation: "",
				tagInstanceCreationDate: "20260314", tagInstanceCreationTime: "092653",
				tagDateOfSecondaryCapture: "20260314", tagTimeOfSecondaryCapture: "092653",
				dcm.TimezoneOffsetFromUTC: "+0100", dcm.Laterality: "",
			},
			absent: []dcm.Tag{dcm.SpecificCharacterSet, tagBurnedInAnnotation, dcm.ContentTime, dcm.ImageLaterality},
		},
		{
			name: "choices",
			change: func(r *Request) {
				r.Modality, r.ConversionType, r.Laterality, r.BurnedInAnnotation = "IO", "DF", "R", "NO"
				r.Patient.IssuerOfID, r.Patient.Sex = "NHS-SCOT", "f"
				r.StudyInstanceUID, r.StudyDate, r.StudyTime = "1.2.826.0.1.3680043.10.1", "20260301", "1015"
				r.SeriesNumber, r.InstanceNumber = 900, 3
				r.Description = strings.Repeat("Bitewing right, ", 5)
			},
			want: map[dcm.Tag]string{
				dcm.Modality: "IO", tagConversionType: "DF", dcm.ImageLaterality: "R", tagBurnedInAnnotation: "NO",
				dcm.IssuerOfPatientID: "NHS-SCOT", dcm.PatientSex: "F",
				dcm.StudyInstanceUID: "1.2.826.0.1.3680043.10.1", dcm.StudyDate: "20260301", dcm.StudyTime: "1015",
				dcm.ContentDate: "20260310", dcm.SeriesNumber: "900", dcm.InstanceNumber: "3",
				dcm.SeriesDescription: strings.Repeat("Bitewing right, ", 5)[:63],
				tagImageComments:      strings.TrimSpace(strings.Repeat("Bitewing right, ", 5)),
			},
			absent: []dcm.Tag{dcm.Laterality},
		},
		{
			name: "unknowns",
			change: func(r *Request) {
				r.ExposureDate, r.Description, r.InstitutionName, r.OperatorName = "", "", "", ""
				r.Patient = Patient{ID: "9434765919"}
				r.IssuerOfAccessionNumber = ""
			},
			want: map[dcm.Tag]string{
				dcm.PatientName: "", dcm.PatientBirthDate: "", dcm.PatientSex: "", dcm.StudyDate: "",
				dcm.IssuerOfPatientID: "NHS", dcm.StudyInstanceUID: StudyUID(DefaultIssuerOfAccessionNumber, "URN26A0001"),
			},
			absent: []dcm.Tag{dcm.ContentDate, dcm.AcquisitionDate, dcm.SeriesDate, dcm.SeriesDescription,
				tagImageComments, dcm.InstitutionName, dcm.Manufacturer, tagOperatorsName},
		},
		{
			name: "non-ASCII",
			change: func(r *Request) {
				r.Patient.Name = "Ní Bhriain^Siobhán"
				r.ReferringPhysicianName = "Müller^José"
				r.Description = "Röntgen — rechts"
				r.IssuerOfAccessionNumber = "MOLÄR"
			},
			want: map[dcm.Tag]string{
				dcm.PatientName: "Ní Bhriain^Siobhán", dcm.ReferringPhysicianName: "Müller^José",
				dcm.SeriesDescription: "Röntgen — rechts",
			},
			charset: "ISO_IR 192",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request()
			if tt.change != nil {
				tt.change(&req)
			}
			out, res := wrap(t, jpg, "image/jpeg", req)
			ds := parse(t, out).Dataset
			cs, err := ds.CharacterSet(nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := ds.String(dcm.SpecificCharacterSet); got != tt.charset {
				t.Errorf("Specific Character Set %q, want %q", got, tt.charset)
			}
			for tag, want := range tt.want {
				e := ds.Find(tag)
				if e == nil {
					t.Errorf("%s %s missing", tag, tag.Keyword())
					continue
				}
				if got := strings.Join(dcm.Strings(e, ds.ByteOrder(), cs), `\`); got != want {
					t.Errorf("%s %s = %q, want %q", tag, tag.Keyword(), got, want)
				}
			}
			for _, tag := range tt.absent {
				if ds.Find(tag) != nil {
					t.Errorf("%s %s present, want absent", tag, tag.Keyword())
				}
			}
			seq := ds.Find(dcm.IssuerOfAccessionNumberSequence)
			wantIssuer := req.IssuerOfAccessionNumber
			if wantIssuer == "" {
				wantIssuer = DefaultIssuerOfAccessionNumber
			}
			if seq == nil || len(seq.Items) != 1 {
				t.Fatalf("Issuer of Accession Number Sequence %+v, want one item", seq)
			}
			item := seq.Items[0]
			if got := strings.Join(dcm.Strings(item.Find(tagLocalNamespaceEntityID), item.ByteOrder(), cs), ""); got != wantIssuer {
				t.Errorf("Local Namespace Entity ID %q, want %q", got, wantIssuer)
			}
			for _, uid := range []struct {
				tag dcm.Tag
				res string
			}{{dcm.StudyInstanceUID, res.StudyInstanceUID}, {dcm.SeriesInstanceUID, res.SeriesInstanceUID}, {dcm.SOPInstanceUID, res.SOPInstanceUID}} {
				if got := ds.String(uid.tag); got != uid.res || !isUID(got) {
					t.Errorf("%s = %q, Result says %q", uid.tag, got, uid.res)
				}
			}
		})
	}
}

// TestUIDs: the study UID is the same for every upload of a referral and
// differs between referrals; series and instances are new each time
// unless given.
func TestUIDs(t *testing.T) {
	jpg := encodeJPEG(t, greyImage(8, 8))
	_, a := wrap(t, jpg, "", request())
	_, b := wrap(t, jpg, "", request())
	other := request()
	other.AccessionNumber = "URN26A0002"
	_, c := wrap(t, jpg, "", other)
	given := request()
	given.SeriesInstanceUID, given.SOPInstanceUID = "2.25.1", "2.25.2"
	_, d := wrap(t, jpg, "", given)
	switch {
	case a.StudyInstanceUID != b.StudyInstanceUID || a.StudyInstanceUID != StudyUID("MOLAR", "URN26A0001"):
		t.Errorf("one referral, study UIDs %s and %s", a.StudyInstanceUID, b.StudyInstanceUID)
	case a.StudyInstanceUID == c.StudyInstanceUID:
		t.Errorf("two referrals share study UID %s", a.StudyInstanceUID)
	case a.SeriesInstanceUID == b.SeriesInstanceUID || a.SOPInstanceUID == b.SOPInstanceUID:
		t.Errorf("two uploads share a series or instance UID: %+v %+v", a, b)
	case d.SeriesInstanceUID != "2.25.1" || d.SOPInstanceUID != "2.25.2":
		t.Errorf("given UIDs not kept: %+v", d)
	}
}

// TestTrailingBytes: bytes after EOI are not part of the fragment.
func TestTrailingBytes(t *testing.T) {
	jpg := encodeJPEG(t, colourImage(20, 20))
	jpg = withComment(jpg, len(jpg)%2) // even, so no padding
	out, _ := wrap(t, append(append([]byte{}, jpg...), "trailing motion photo"...), "image/jpeg", request())
	f := parse(t, out)
	if px := frame(t, f, out); !bytes.Equal(px, jpg) {
		t.Errorf("fragment of %d bytes, want the %d up to EOI", len(px), len(jpg))
	}
}

// TestDcmdump: DCMTK, an independent parser, reads every case without an
// error.
func TestDcmdump(t *testing.T) {
	dcmdump, err := exec.LookPath("dcmdump")
	if err != nil {
		t.Fatalf("dcmdump not found (apt-get install dcmtk): %v", err)
	}
	dir := t.TempDir()
	for _, c := range imageCases(t) {
		t.Run(c.name, func(t *testing.T) {
			path := writeCase(t, dir, c, fullRequest())
			out, err := exec.Command(dcmdump, "-dc", path).CombinedOutput()
			if err != nil {
				t.Fatalf("dcmdump: %v\n%s", err, out)
			}
			for _, line := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(line, "E:") || strings.HasPrefix(line, "F:") || strings.HasPrefix(line, "W:") {
					t.Errorf("dcmdump: %s", line)
				}
			}
		})
	}
}

// TestDciodvfy: David Clunie's validator finds no error and no warning in
// any case written with a complete request.
func TestDciodvfy(t *testing.T) {
	dir := t.TempDir()
	for _, c := range imageCases(t) {
		t.Run(c.name, func(t *testing.T) {
			errs, warnings := dciodvfy(t, writeCase(t, dir, c, fullRequest()))
			for _, line := range append(errs, warnings...) {
				t.Errorf("dciodvfy: %s", line)
			}
		})
	}
}

// TestDciodvfyMinimal: with only what Wrap requires, dciodvfy finds no
// error, and warns only of what nobody told Wrap.
func TestDciodvfyMinimal(t *testing.T) {
	dir := t.TempDir()
	req := Request{Patient: Patient{ID: "9434765919"}, AccessionNumber: "URN26A0001", Now: testNow}
	cases := imageCases(t)
	for _, c := range []imageCase{cases[0], cases[len(cases)-1]} { // a JPEG and a PNG
		errs, warnings := dciodvfy(t, writeCase(t, dir, c, req))
		for _, line := range errs {
			t.Errorf("dciodvfy: %s", line)
		}
		for _, line := range warnings {
			// Study Date and Time are type 2, and Laterality type 2C:
			// unknown, they are empty.
			if !strings.Contains(line, "DICOMDIR - Study Time") && !strings.Contains(line, "DICOMDIR - Study Date") &&
				!strings.Contains(line, "attribute <Laterality>") {
				t.Errorf("dciodvfy: unexpected %s", line)
			}
		}
	}
}

// dciodvfy runs dciodvfy on a file and returns its error and warning
// lines. It fails the test, never skips it, when dciodvfy is missing: CI
// installs it.
func dciodvfy(t *testing.T, path string) (errs, warnings []string) {
	t.Helper()
	bin, err := exec.LookPath("dciodvfy")
	if err != nil {
		t.Fatalf("dciodvfy not found (apt-get install dicom3tools): %v", err)
	}
	out, _ := exec.Command(bin, path).CombinedOutput() // non-zero on warnings too
	t.Logf("dciodvfy %s:\n%s", filepath.Base(path), out)
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "Error"):
			errs = append(errs, line)
		case strings.HasPrefix(line, "Warning"):
			warnings = append(warnings, line)
		}
	}
	if len(errs) == 0 && !strings.Contains(string(out), "SCImage") {
		errs = append(errs, "did not recognise a Secondary Capture Image: "+string(out))
	}
	return errs, warnings
}

// fullRequest is request() with every optional field set, and non-ASCII
// names.
func fullRequest() Request {
	req := request()
	req.Patient.Name = "Ní Bhriain^Siobhán"
	req.StudyTime = "091500"
	req.Laterality = "L"
	req.BurnedInAnnotation = "NO"
	req.Modality = "IO"
	return req
}

// writeCase wraps c with req and writes the file into dir (and into
// $SC_KEEP, to look at).
func writeCase(t *testing.T, dir string, c imageCase, req Request) string {
	t.Helper()
	out, _ := wrap(t, c.data, c.contentType, req)
	path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".dcm")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if keep := os.Getenv("SC_KEEP"); keep != "" {
		if err := os.WriteFile(filepath.Join(keep, filepath.Base(path)), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// TestErrors: bad uploads and requests give errors that wrap the right
// sentinel and say what is wrong, and nothing is written.
func TestErrors(t *testing.T) {
	jpg := encodeJPEG(t, colourImage(41, 31))
	pngData := encodePNG(t, greyImage(33, 21))
	// sof returns jpg with its frame header's marker and precision changed.
	sof := func(marker, precision byte) []byte {
		b := append([]byte{}, jpg...)
		i := bytes.Index(b, []byte{0xFF, 0xC0})
		b[i+1], b[i+4] = marker, precision
		return b
	}
	tests := []struct {
		name   string
		data   []byte
		ct     string
		change func(*Request)
		want   error
		msg    string
	}{
		{name: "empty", data: nil, want: ErrNotImage, msg: "empty"},
		{name: "garbage", data: []byte("%PDF-1.7 not an image"), want: ErrNotImage, msg: "starts with 25 50 44 46"},
		{name: "dicom", data: append(make([]byte, 128), "DICM"...), want: ErrNotImage},
		{name: "content type", data: jpg, ct: "application/pdf", want: ErrNotImage, msg: "application/pdf"},
		{name: "bad content type", data: jpg, ct: "image/", want: ErrNotImage},
		{name: "jpeg cut in scan", data: jpg[:len(jpg)/2], want: ErrCorrupt, msg: "truncated"},
		{name: "jpeg cut in header", data: jpg[:40], want: ErrCorrupt, msg: "truncated"},
		{name: "jpeg without EOI", data: jpg[:len(jpg)-2], want: ErrCorrupt, msg: "EOI"},
		{name: "jpeg only SOI", data: []byte{0xFF, 0xD8, 0xFF}, want: ErrCorrupt},
		{name: "jpeg no scan", data: []byte{0xFF, 0xD8, 0xFF, 0xD9}, want: ErrCorrupt, msg: "no image data"},
		{name: "jpeg garbage after SOI", data: []byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0, 0, 0x12, 0x34}, want: ErrCorrupt, msg: "marker should be"},
		{name: "jpeg bomb", data: jpegBomb(jpg, 9000, 9000), want: ErrCorrupt, msg: "cannot hold"},
		{name: "jpeg corrupt data", data: corruptScan(jpg), want: ErrCorrupt},
		{name: "jpeg 12-bit", data: sof(0xC1, 12), want: ErrUnsupported, msg: "12-bit"},
		{name: "jpeg lossless", data: sof(0xC3, 8), want: ErrUnsupported, msg: "lossless"},
		{name: "jpeg arithmetic", data: fixture(t, "arithmetic.jpg"), want: ErrUnsupported, msg: "arithmetic"},
		{name: "png truncated", data: pngData[:len(pngData)-20], want: ErrCorrupt, msg: "truncated"},
		{name: "png header only", data: pngData[:20], want: ErrCorrupt, msg: "truncated"},
		{name: "png bomb", data: pngBomb(t, 9000, 9000), want: ErrCorrupt, msg: "decompression bomb"},
		{name: "png over max pixels", data: pngBomb(t, 20000, 20000), want: ErrTooLarge, msg: "100000000"},
		{name: "png too wide", data: pngBomb(t, 70000, 1), want: ErrTooLarge, msg: "65535"},
		{name: "png huge", data: pngBomb(t, 1<<31-1, 1<<31-1), want: ErrTooLarge},
		{name: "png zero width", data: pngBomb(t, 0, 10), want: ErrCorrupt},
		{name: "png bad crc", data: badCRC(pngData), want: ErrCorrupt},

		{name: "no accession", data: jpg, change: func(r *Request) { r.AccessionNumber = "" }, want: ErrRequest, msg: "URN"},
		{name: "no patient ID", data: jpg, change: func(r *Request) { r.Patient.ID = "" }, want: ErrRequest, msg: "NHS"},
		{name: "long accession", data: jpg, change: func(r *Request) { r.AccessionNumber = "URN-0123456789ABCDEF" }, want: ErrRequest, msg: "16"},
		{name: "backslash", data: jpg, change: func(r *Request) { r.InstitutionName = `A\B` }, want: ErrRequest, msg: "backslash"},
		{name: "newline", data: jpg, change: func(r *Request) { r.Description = "a\nb" }, want: ErrRequest, msg: "control"},
		{name: "bad UTF-8", data: jpg, change: func(r *Request) { r.Patient.Name = "\xff" }, want: ErrRequest, msg: "UTF-8"},
		{name: "long name", data: jpg, change: func(r *Request) { r.Patient.Name = strings.Repeat("A", 65) }, want: ErrRequest, msg: "64"},
		{name: "name groups", data: jpg, change: func(r *Request) { r.Patient.Name = "A=B=C=D" }, want: ErrRequest, msg: "groups"},
		{name: "bad date", data: jpg, change: func(r *Request) { r.ExposureDate = "20260230" }, want: ErrRequest, msg: "exposure date"},
		{name: "dashed date", data: jpg, change: func(r *Request) { r.Patient.BirthDate = "1980-02-29" }, want: ErrRequest, msg: "birth date"},
		{name: "future exposure", data: jpg, change: func(r *Request) { r.ExposureDate = "20260315" }, want: ErrRequest, msg: "future"},
		{name: "bad time", data: jpg, change: func(r *Request) { r.StudyTime = "2460" }, want: ErrRequest, msg: "study time"},
		{name: "bad sex", data: jpg, change: func(r *Request) { r.Patient.Sex = "X" }, want: ErrRequest, msg: "sex"},
		{name: "bad modality", data: jpg, change: func(r *Request) { r.Modality = "io" }, want: ErrRequest, msg: "modality"},
		{name: "bad laterality", data: jpg, change: func(r *Request) { r.Laterality = "LEFT" }, want: ErrRequest, msg: "laterality"},
		{name: "bad conversion", data: jpg, change: func(r *Request) { r.ConversionType = "SCAN" }, want: ErrRequest, msg: "conversion"},
		{name: "bad burned in", data: jpg, change: func(r *Request) { r.BurnedInAnnotation = "MAYBE" }, want: ErrRequest, msg: "burned"},
		{name: "bad UID", data: jpg, change: func(r *Request) { r.SOPInstanceUID = "1.02.3" }, want: ErrRequest, msg: "UID"},
		{name: "negative number", data: jpg, change: func(r *Request) { r.SeriesNumber = -1 }, want: ErrRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request()
			if tt.change != nil {
				tt.change(&req)
			}
			var out bytes.Buffer
			_, err := Wrap(&out, bytes.NewReader(tt.data), tt.ct, req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
			if out.Len() != 0 {
				t.Errorf("wrote %d bytes before failing", out.Len())
			}
		})
	}
}

// TestEveryTruncation: a baseline JPEG cut anywhere is refused as
// truncated or corrupt, never wrapped.
func TestEveryTruncation(t *testing.T) {
	jpg := encodeJPEG(t, colourImage(24, 16))
	for n := 1; n < len(jpg); n++ {
		_, err := Wrap(&bytes.Buffer{}, bytes.NewReader(jpg[:n]), "image/jpeg", request())
		if !errors.Is(err, ErrCorrupt) && !(n < 3 && errors.Is(err, ErrNotImage)) {
			t.Fatalf("cut at %d of %d bytes: %v", n, len(jpg), err)
		}
	}
}
