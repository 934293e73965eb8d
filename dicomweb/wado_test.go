package dicomweb

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

func instancePath(f *fixture, i int) string {
	series := f.seriesA1
	if i == 2 {
		series = f.seriesA2
	}
	return fmt.Sprintf("/dicom-web/studies/%s/series/%s/instances/%s", f.studyA, series, f.sops[i])
}

func TestRetrieve(t *testing.T) {
	ts := startService(t, Options{})
	f := seed(t, ts)
	t.Run("instance as stored", func(t *testing.T) {
		resp := ts.get(t, instancePath(f, 0), `multipart/related; type="application/dicom"`)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if resp.Header.Get("Cache-Control") != cacheImmutable {
			t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
		}
		typ, parts := readMultipart(t, resp)
		if typ != "application/dicom" || len(parts) != 1 {
			t.Fatalf("type %q, %d parts", typ, len(parts))
		}
		if parts[0].contentType != "application/dicom; transfer-syntax="+dcm.ExplicitVRLittleEndian {
			t.Errorf("part Content-Type %q", parts[0].contentType)
		}
		if !bytes.Equal(parts[0].body, f.files[f.sops[0]]) {
			t.Errorf("retrieved bytes differ from those stored")
		}
	})
	t.Run("study, default accept", func(t *testing.T) {
		resp := ts.get(t, "/dicom-web/studies/"+f.studyA, "")
		_, parts := readMultipart(t, resp)
		if len(parts) != 3 {
			t.Fatalf("%d parts, want 3", len(parts))
		}
		for _, p := range parts {
			sop := parseSOP(t, p.body)
			if !bytes.Equal(p.body, f.files[sop]) {
				t.Errorf("instance %s differs", sop)
			}
		}
	})
	t.Run("series with transfer-syntax=*", func(t *testing.T) {
		resp := ts.get(t, "/dicom-web/studies/"+f.studyA+"/series/"+f.seriesA1, `multipart/related; type="application/dicom"; transfer-syntax=*`)
		if _, parts := readMultipart(t, resp); len(parts) != 2 {
			t.Fatalf("%d parts, want 2", len(parts))
		}
	})
	t.Run("converted to implicit VR", func(t *testing.T) {
		resp := ts.get(t, instancePath(f, 0), `multipart/related; type="application/dicom"; transfer-syntax=`+dcm.ImplicitVRLittleEndian)
		_, parts := readMultipart(t, resp)
		if len(parts) != 1 || parts[0].contentType != "application/dicom; transfer-syntax="+dcm.ImplicitVRLittleEndian {
			t.Fatalf("parts %+v", parts)
		}
		file, err := dcm.ParsePart10(bytes.NewReader(parts[0].body), dcm.ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if file.TransferSyntax.UID != dcm.ImplicitVRLittleEndian || file.Dataset.String(dcm.SOPInstanceUID) != f.sops[0] {
			t.Errorf("converted instance: syntax %s, SOP %s", file.TransferSyntax.UID, file.Dataset.String(dcm.SOPInstanceUID))
		}
	})
	t.Run("preference order", func(t *testing.T) {
		// JPEG 2000 cannot be made here; explicit VR big endian can.
		resp := ts.get(t, instancePath(f, 0), `multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.90, multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.2; q=0.5`)
		_, parts := readMultipart(t, resp)
		if len(parts) != 1 || !strings.HasSuffix(parts[0].contentType, dcm.ExplicitVRBigEndian) {
			t.Fatalf("parts %+v", parts)
		}
	})
	for _, tc := range []struct{ name, path, accept string }{
		{"unreachable syntax", instancePath(f, 0), `multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.90`},
		{"not dicom", instancePath(f, 0), `application/zip`},
	} {
		t.Run("406 "+tc.name, func(t *testing.T) {
			resp := ts.get(t, tc.path, tc.accept)
			if resp.StatusCode != http.StatusNotAcceptable {
				t.Errorf("status %d, want 406", resp.StatusCode)
			}
		})
	}
	for _, path := range []string{
		"/dicom-web/studies/1.2.3",
		"/dicom-web/studies/" + f.studyA + "/series/1.2.3",
		"/dicom-web/studies/" + f.studyB + "/series/" + f.seriesA1 + "/instances/" + f.sops[0], // wrong study
	} {
		t.Run("404 "+path, func(t *testing.T) {
			if resp := ts.get(t, path, ""); resp.StatusCode != http.StatusNotFound {
				t.Errorf("status %d, want 404", resp.StatusCode)
			}
		})
	}
}

func parseSOP(t testing.TB, b []byte) string {
	t.Helper()
	file, err := dcm.ParsePart10(bytes.NewReader(b), dcm.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return file.Dataset.String(dcm.SOPInstanceUID)
}

func TestMetadata(t *testing.T) {
	ts := startService(t, Options{})
	f := seed(t, ts)
	resp := ts.get(t, "/dicom-web/studies/"+f.studyA+"/series/"+f.seriesA1+"/metadata", "application/dicom+json")
	body := readBody(t, resp)
	ds := decodeDatasets(t, body)
	if len(ds) != 2 {
		t.Fatalf("%d instances in series metadata, want 2", len(ds))
	}
	pixel := ds[0]["7FE00010"]
	if resp.StatusCode != 200 || pixel.VR == "" {
		t.Fatalf("status %d, pixel data %+v", resp.StatusCode, pixel)
	}
	// The raw message keeps BulkDataURI.
	if !bytes.Contains(body, []byte(`"BulkDataURI":"`+ts.URL+"/dicom-web/studies/"+f.studyA)) {
		t.Errorf("BulkDataURI is not absolute under the service root: %s", body[:min(len(body), 400)])
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != cacheRevalid {
		t.Fatalf("ETag %q Cache-Control %q", etag, resp.Header.Get("Cache-Control"))
	}
	t.Run("304", func(t *testing.T) {
		resp := ts.get(t, "/dicom-web/studies/"+f.studyA+"/series/"+f.seriesA1+"/metadata", "", "If-None-Match", etag)
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("status %d, want 304", resp.StatusCode)
		}
	})
	t.Run("gzip", func(t *testing.T) {
		req, _ := http.NewRequest("GET", ts.URL+"/dicom-web/studies/"+f.studyA+"/metadata", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if ds := decodeDatasets(t, b); len(ds) != 3 {
			t.Errorf("%d instances in study metadata, want 3", len(ds))
		}
	})
	t.Run("instance", func(t *testing.T) {
		resp := ts.get(t, instancePath(f, 2)+"/metadata", "")
		if ds := decodeDatasets(t, readBody(t, resp)); len(ds) != 1 || ds[0].str("00080018") != f.sops[2] {
			t.Errorf("instance metadata: %v", ds)
		}
	})
	t.Run("406", func(t *testing.T) {
		if resp := ts.get(t, "/dicom-web/studies/"+f.studyA+"/metadata", "multipart/related; type=\"application/dicom+xml\""); resp.StatusCode != 406 {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
	t.Run("404", func(t *testing.T) {
		if resp := ts.get(t, "/dicom-web/studies/1.2.3/metadata", ""); resp.StatusCode != 404 {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

// pixelData returns the native pixel data of a synthetic instance.
func pixelData(t testing.TB, b []byte) []byte {
	t.Helper()
	file, err := dcm.ParsePart10(bytes.NewReader(b), dcm.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	table, err := dcm.Frames(file.Dataset)
	if err != nil || table.Len() != 1 {
		t.Fatalf("frames: %v %d", err, table.Len())
	}
	seg := table.At(0)[0]
	return b[seg.Offset : seg.Offset+seg.Length]
}

func TestFrames(t *testing.T) {
	ts := startService(t, Options{})
	f := seed(t, ts)
	want := pixelData(t, f.files[f.sops[2]])
	for _, accept := range []string{
		"",
		`multipart/related; type="application/octet-stream"`,
		`multipart/related; type="application/octet-stream"; transfer-syntax=*`,
		`multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1`,
	} {
		t.Run("accept "+accept, func(t *testing.T) {
			resp := ts.get(t, instancePath(f, 2)+"/frames/1", accept)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, readBody(t, resp))
			}
			typ, parts := readMultipart(t, resp)
			if typ != "application/octet-stream" || len(parts) != 1 {
				t.Fatalf("type %q, %d parts", typ, len(parts))
			}
			if parts[0].contentType != "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1" {
				t.Errorf("part Content-Type %q", parts[0].contentType)
			}
			if !bytes.Equal(parts[0].body, want) {
				t.Errorf("frame bytes differ (%d vs %d)", len(parts[0].body), len(want))
			}
		})
	}
	t.Run("repeated frame list", func(t *testing.T) {
		_, parts := readMultipart(t, ts.get(t, instancePath(f, 2)+"/frames/1,1", ""))
		if len(parts) != 2 {
			t.Errorf("%d parts, want 2", len(parts))
		}
	})
	for _, tc := range []struct {
		frames, accept string
		status         int
	}{
		{"2", "", 404},
		{"0", "", 400},
		{"1,x", "", 400},
		{"1", `multipart/related; type="image/jpeg"`, 406},
	} {
		t.Run(tc.frames+" "+tc.accept, func(t *testing.T) {
			if resp := ts.get(t, instancePath(f, 2)+"/frames/"+tc.frames, tc.accept); resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}

// TestFramesBigEndian: frames of a big endian instance go out little
// endian, as application/octet-stream's transfer syntax says.
func TestFramesBigEndian(t *testing.T) {
	ts := startService(t, Options{})
	spec := synth.Spec{Rows: 8, Columns: 6, SOPInstanceUID: dcm.NewUID(), StudyUID: dcm.NewUID(), SeriesUID: dcm.NewUID()}
	le, err := synth.Bytes(spec)
	if err != nil {
		t.Fatal(err)
	}
	be := toBigEndian(t, le)
	ts.ingest(t, be)
	resp := ts.get(t, fmt.Sprintf("/dicom-web/studies/%s/series/%s/instances/%s/frames/1", spec.StudyUID, spec.SeriesUID, spec.SOPInstanceUID), "")
	_, parts := readMultipart(t, resp)
	if len(parts) != 1 || !bytes.Equal(parts[0].body, pixelData(t, le)) {
		t.Fatalf("big endian frame not converted to little endian")
	}
	for i := 0; i+1 < len(parts[0].body); i += 2 {
		if binary.LittleEndian.Uint16(parts[0].body[i:]) >= 1<<12 {
			t.Fatalf("sample %d out of 12-bit range: bytes not swapped", i/2)
		}
	}
}

func toBigEndian(t testing.TB, le []byte) []byte {
	t.Helper()
	file, err := dcm.ParsePart10(bytes.NewReader(le), dcm.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	from, _ := dcm.LookupTransferSyntax(dcm.ExplicitVRLittleEndian)
	to, _ := dcm.LookupTransferSyntax(dcm.ExplicitVRBigEndian)
	meta, err := dcm.EncodeFileMeta(dcm.FileMeta{SOPClassUID: file.Dataset.String(dcm.SOPClassUID),
		SOPInstanceUID: file.Dataset.String(dcm.SOPInstanceUID), TransferSyntax: to.UID})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.Write(meta)
	if err := dcm.Transcode(&out, bytes.NewReader(le[file.DatasetOffset:]), from, to); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestBulk(t *testing.T) {
	ts := startService(t, Options{})
	f := seed(t, ts)
	want := pixelData(t, f.files[f.sops[0]])
	path := instancePath(f, 0) + "/bulk/7FE00010"
	t.Run("octet-stream", func(t *testing.T) {
		resp := ts.get(t, path, "application/octet-stream")
		if b := readBody(t, resp); resp.StatusCode != 200 || !bytes.Equal(b, want) {
			t.Errorf("status %d, %d bytes", resp.StatusCode, len(b))
		}
	})
	t.Run("range", func(t *testing.T) {
		resp := ts.get(t, path, "application/octet-stream", "Range", "bytes=10-19")
		if b := readBody(t, resp); resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, want[10:20]) {
			t.Errorf("status %d, body %x", resp.StatusCode, b)
		}
	})
	t.Run("multipart", func(t *testing.T) {
		_, parts := readMultipart(t, ts.get(t, strings.Replace(path, "/bulk/", "/bulkdata/", 1), `multipart/related; type="application/octet-stream"`))
		if len(parts) != 1 || !bytes.Equal(parts[0].body, want) {
			t.Errorf("multipart bulk data differs")
		}
	})
	t.Run("404", func(t *testing.T) {
		if resp := ts.get(t, instancePath(f, 0)+"/bulk/00100010", ""); resp.StatusCode != 404 {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

// TestFramesDecompressed: a client that accepts only uncompressed frames
// gets an RLE frame decompressed, sample for sample what the uncompressed
// original holds.
func TestFramesDecompressed(t *testing.T) {
	ts := startService(t, Options{})
	rle, err := os.ReadFile(filepath.Join(pydicomDir, "MR_small_RLE.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	native, err := os.ReadFile(filepath.Join(pydicomDir, "MR_small.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	res := ts.ingest(t, rle)
	path := fmt.Sprintf("/dicom-web/studies/%s/series/%s/instances/%s/frames/1", res.StudyUID, res.SeriesUID, res.SOPInstanceUID)
	resp := ts.get(t, path, `multipart/related; type="application/octet-stream"`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, readBody(t, resp))
	}
	_, parts := readMultipart(t, resp)
	if len(parts) != 1 || parts[0].contentType != "application/octet-stream; transfer-syntax="+dcm.ExplicitVRLittleEndian {
		t.Fatalf("parts %+v", parts)
	}
	if !bytes.Equal(parts[0].body, pixelData(t, native)) {
		t.Errorf("decompressed frame (%d bytes) differs from the uncompressed original", len(parts[0].body))
	}
	// Asked for as stored, it comes as stored.
	_, parts = readMultipart(t, ts.get(t, path, `multipart/related; type="application/octet-stream"; transfer-syntax=*`))
	if len(parts) != 1 || !strings.HasPrefix(parts[0].contentType, "image/dicom-rle") {
		t.Errorf("as stored: %+v", parts)
	}
}
