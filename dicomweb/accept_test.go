package dicomweb

import (
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
)

func TestParseAccept(t *testing.T) {
	tests := []struct {
		header string
		want   []mediaRange
	}{
		{"", []mediaRange{{mediaType: "*/*", q: 1}}},
		{`multipart/related; type="application/dicom"; transfer-syntax=*`,
			[]mediaRange{{mediaType: "multipart/related", partType: "application/dicom", transferSyntax: "*", q: 1}}},
		// Unquoted type, as Cornerstone sends it.
		{`multipart/related; type=application/octet-stream; transfer-syntax=*`,
			[]mediaRange{{mediaType: "multipart/related", partType: "application/octet-stream", transferSyntax: "*", q: 1}}},
		// q orders; q=0 drops; garbage is skipped.
		{`image/png;q=0.5, image/jpeg, image/gif;q=0, nonsense, text/plain;q=x`,
			[]mediaRange{{mediaType: "image/jpeg", q: 1}, {mediaType: "image/png", q: 0.5}}},
	}
	for _, tc := range tests {
		got := parseAccept(tc.header)
		if len(got) != len(tc.want) {
			t.Errorf("%q: %+v, want %+v", tc.header, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%q [%d]: %+v, want %+v", tc.header, i, got[i], tc.want[i])
			}
		}
	}
}

func TestChooseSyntax(t *testing.T) {
	ts := func(uid string) dcm.TransferSyntax { s, _ := dcm.LookupTransferSyntax(uid); return s }
	tests := []struct {
		accept string
		stored string
		want   string // "" means 406
	}{
		{"", dcm.JPEGBaseline8Bit, dcm.JPEGBaseline8Bit},
		{`multipart/related; type="application/dicom"`, dcm.ExplicitVRBigEndian, dcm.ExplicitVRBigEndian},
		{`multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1`, dcm.ExplicitVRBigEndian, dcm.ExplicitVRLittleEndian},
		{`multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1`, dcm.JPEGBaseline8Bit, ""},
		{`multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1, multipart/related; type="application/dicom"; transfer-syntax=*;q=0.1`, dcm.JPEGBaseline8Bit, dcm.JPEGBaseline8Bit},
		{`multipart/related; type="application/octet-stream"`, dcm.ExplicitVRLittleEndian, ""},
		{`*/*`, dcm.RLELossless, dcm.RLELossless},
	}
	for _, tc := range tests {
		got, ok := chooseSyntax(parseAccept(tc.accept), "application/dicom", ts(tc.stored))
		if (tc.want == "") == ok || (ok && got.UID != tc.want) {
			t.Errorf("Accept %q, stored %s: got %s (%v), want %q", tc.accept, tc.stored, got.UID, ok, tc.want)
		}
	}
}

func TestChooseFrameMedia(t *testing.T) {
	ts := func(uid string) dcm.TransferSyntax { s, _ := dcm.LookupTransferSyntax(uid); return s }
	tests := []struct {
		accept, stored string
		wantType       string // "" means 406
		wantSwap       bool
	}{
		{"", dcm.ExplicitVRLittleEndian, "application/octet-stream", false},
		{"", dcm.ExplicitVRBigEndian, "application/octet-stream", true},
		{`multipart/related; type="application/octet-stream"; transfer-syntax=*`, dcm.JPEGBaseline8Bit, "image/jpeg", false},
		{`multipart/related; type="image/jpeg"`, dcm.JPEGBaseline8Bit, "image/jpeg", false},
		{`multipart/related; type="image/jls"`, dcm.JPEGLSLossless, "image/jls", false},
		{`multipart/related; type="application/octet-stream"`, dcm.JPEG2000, "", false},
		{`multipart/related; type="application/octet-stream"`, dcm.JPEGBaseline8Bit, "application/octet-stream", false},
		{`multipart/related; type="image/jpeg"`, dcm.ExplicitVRLittleEndian, "", false},
	}
	for _, tc := range tests {
		_, canDecode := map[string]bool{dcm.RLELossless: true, dcm.JPEGBaseline8Bit: true}[tc.stored]
		got, err := chooseFrameMedia(parseAccept(tc.accept), ts(tc.stored), 16, canDecode)
		if (tc.wantType == "") != (err != nil) || got.mediaType != tc.wantType || got.swap16 != tc.wantSwap {
			t.Errorf("Accept %q, stored %s: %+v %v; want %q swap %v", tc.accept, tc.stored, got, err, tc.wantType, tc.wantSwap)
		}
	}
}

// FuzzParseAccept: any Accept header parses without panicking into ranges
// that are well formed and in preference order.
func FuzzParseAccept(f *testing.F) {
	for _, s := range []string{
		"",
		`multipart/related; type="application/dicom"; transfer-syntax=*`,
		`multipart/related; type=application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1, image/jpeg;q=0.5`,
		`*/*;q=0.1, "a,b"/c; x="y\"z", ;;;, =`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		ranges := parseAccept(header)
		for i, r := range ranges {
			if strings.Count(r.mediaType, "/") != 1 || r.q <= 0 || r.q > 1 {
				t.Fatalf("bad range %+v from %q", r, header)
			}
			if i > 0 && ranges[i-1].q < r.q {
				t.Fatalf("ranges out of order from %q: %+v", header, ranges)
			}
			r.acceptsPart("application/dicom")
		}
	})
}
