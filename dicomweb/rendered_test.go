package dicomweb

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"net/url"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
)

func decodeImage(t testing.TB, contentType string, b []byte) image.Image {
	t.Helper()
	var img image.Image
	var err error
	switch contentType {
	case "image/jpeg":
		img, err = jpeg.Decode(bytes.NewReader(b))
	case "image/png":
		img, err = png.Decode(bytes.NewReader(b))
	default:
		t.Fatalf("Content-Type %q is not an image type", contentType)
	}
	if err != nil {
		t.Fatalf("decode %s: %v", contentType, err)
	}
	return img
}

func TestRendered(t *testing.T) {
	ts := startService(t, Options{})
	f := seed(t, ts)
	opg := instancePath(f, 2) // 40 rows x 90 columns, PX
	tests := []struct {
		name, path, accept string
		wantType           string
		w, h               int
	}{
		{"instance, defaults", opg + "/rendered", "", "image/jpeg", 90, 40},
		{"png by header", opg + "/rendered", "image/png", "image/png", 90, 40},
		{"png by parameter", opg + "/rendered?accept=image/png", "image/jpeg", "image/png", 90, 40},
		{"viewport width", opg + "/rendered?viewport=45,", "", "image/jpeg", 45, 20},
		{"viewport box", opg + "/rendered?viewport=30,30&quality=50", "", "image/jpeg", 30, 13},
		{"no upscaling", opg + "/rendered?viewport=900,900", "", "image/jpeg", 90, 40},
		{"window", opg + "/rendered?window=2048,4096,linear", "", "image/jpeg", 90, 40},
		{"frame", opg + "/frames/1/rendered", "", "image/jpeg", 90, 40},
		{"thumbnail", opg + "/thumbnail?viewport=18,18", "", "image/jpeg", 18, 8},
		{"study thumbnail is the panoramic", "/dicom-web/studies/" + f.studyA + "/thumbnail?viewport=90,90", "", "image/jpeg", 90, 40},
		{"series rendered", "/dicom-web/studies/" + f.studyA + "/series/" + f.seriesA1 + "/rendered", "", "image/jpeg", 64, 64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := ts.get(t, tc.path, tc.accept)
			body := readBody(t, resp)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			ct := resp.Header.Get("Content-Type")
			if ct != tc.wantType {
				t.Fatalf("Content-Type %q, want %q", ct, tc.wantType)
			}
			b := decodeImage(t, ct, body).Bounds()
			if b.Dx() != tc.w || b.Dy() != tc.h {
				t.Errorf("image %dx%d, want %dx%d", b.Dx(), b.Dy(), tc.w, tc.h)
			}
			if resp.Header.Get("ETag") == "" {
				t.Errorf("no ETag")
			}
		})
	}
	if ev := ts.rec.take(); len(ev) != len(tests) || ev[0].SOPInstanceUID != f.sops[2] || ev[0].AccessionNumber != "URNAAA0001" {
		t.Errorf("%d audit events for %d renderings; first %+v", len(ev), len(tests), ev[0])
	}
	t.Run("several frames: multipart", func(t *testing.T) {
		typ, parts := readMultipart(t, ts.get(t, opg+"/frames/1,1/rendered", ""))
		if typ != "image/jpeg" || len(parts) != 2 {
			t.Fatalf("type %q, %d parts", typ, len(parts))
		}
		decodeImage(t, "image/jpeg", parts[1].body)
	})
	for _, tc := range []struct {
		query, accept string
		status        int
	}{
		{"quality=0", "", 400},
		{"quality=best", "", 400},
		{"viewport=10,10,0,0,5,5", "", 400},
		{"viewport=-3,", "", 400},
		{"window=1,2", "", 400},
		{"window=1,0,linear", "", 400},
		{"window=1,2,cubic", "", 400},
		{"", "image/gif", 406},
		{"accept=image/jp2", "", 406},
	} {
		t.Run(tc.query+tc.accept, func(t *testing.T) {
			resp := ts.get(t, opg+"/rendered?"+tc.query, tc.accept)
			if body := readBody(t, resp); resp.StatusCode != tc.status || len(body) == 0 {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
		})
	}
	t.Run("frame out of range", func(t *testing.T) {
		if resp := ts.get(t, opg+"/frames/2/rendered", ""); resp.StatusCode != 404 {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

func TestWADOURI(t *testing.T) {
	ts := startService(t, Options{})
	f := seed(t, ts)
	params := func(extra ...string) string {
		v := url.Values{"requestType": {"WADO"}, "studyUID": {f.studyA}, "seriesUID": {f.seriesA2}, "objectUID": {f.sops[2]}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return "/dicom-web/wado?" + v.Encode()
	}
	t.Run("dicom as stored", func(t *testing.T) {
		resp := ts.get(t, params("contentType", "application/dicom"), "")
		if b := readBody(t, resp); resp.StatusCode != 200 || !bytes.Equal(b, f.files[f.sops[2]]) || resp.Header.Get("Content-Type") != "application/dicom" {
			t.Errorf("status %d, %d bytes, type %q", resp.StatusCode, len(b), resp.Header.Get("Content-Type"))
		}
	})
	t.Run("dicom converted", func(t *testing.T) {
		resp := ts.get(t, params("contentType", "application/dicom", "transferSyntax", dcm.ImplicitVRLittleEndian), "")
		file, err := dcm.ParsePart10(bytes.NewReader(readBody(t, resp)), dcm.ParseOptions{})
		if err != nil || file.TransferSyntax.UID != dcm.ImplicitVRLittleEndian {
			t.Errorf("converted object: %v", err)
		}
	})
	t.Run("jpeg by default", func(t *testing.T) {
		resp := ts.get(t, params("columns", "45"), "")
		body := readBody(t, resp)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if b := decodeImage(t, resp.Header.Get("Content-Type"), body).Bounds(); b.Dx() != 45 {
			t.Errorf("width %d, want 45", b.Dx())
		}
	})
	t.Run("png, window", func(t *testing.T) {
		resp := ts.get(t, params("contentType", "image/png", "windowCenter", "2000", "windowWidth", "4000"), "")
		decodeImage(t, resp.Header.Get("Content-Type"), readBody(t, resp))
	})
	for _, tc := range []struct {
		path   string
		status int
		msg    string
	}{
		{strings.Replace(params(), "requestType=WADO", "requestType=WADOX", 1), 400, "requestType"},
		{"/dicom-web/wado?requestType=WADO&studyUID=1", 400, "objectUID"},
		{params("contentType", "application/pdf"), 406, "contentType"},
		{params("contentType", "application/dicom", "transferSyntax", dcm.JPEG2000), 406, "cannot be sent"},
		{params("contentType", "application/dicom", "rows", "10"), 400, "rows"},
		{params("windowCenter", "10"), 400, "windowWidth"},
		{params("frameNumber", "0"), 400, "frameNumber"},
		{params("frameNumber", "2"), 404, "frame 2"},
		{strings.Replace(params(), f.sops[2], "1.2.3", 1), 404, "not found"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp := ts.get(t, tc.path, "")
			if body := string(readBody(t, resp)); resp.StatusCode != tc.status || !strings.Contains(body, tc.msg) {
				t.Errorf("status %d %q, want %d with %q", resp.StatusCode, body, tc.status, tc.msg)
			}
		})
	}
}
