package dicomweb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// stowBody builds a multipart/related body of application/dicom parts.
func stowBody(t testing.TB, parts ...[]byte) (string, io.Reader) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/dicom"}})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p)
	}
	mw.Close()
	return fmt.Sprintf(`multipart/related; type="application/dicom"; boundary=%s`, mw.Boundary()), &buf
}

func (ts *testServer) post(t testing.TB, path, contentType string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", ts.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/dicom+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// stowResult is the parts of a Store Instances Response tests look at.
type stowResult struct {
	retrieveURL string
	referenced  []string // SOP Instance UIDs
	failed      []failure
}

type failure struct{ sop, reason string } // sop is "" when unknown

func (r stowResult) reason(sop string) string {
	for _, f := range r.failed {
		if f.sop == sop {
			return f.reason
		}
	}
	return ""
}

func decodeStow(t testing.TB, b []byte) stowResult {
	t.Helper()
	var ds map[string]struct {
		Value []json.RawMessage
	}
	if err := json.Unmarshal(b, &ds); err != nil {
		t.Fatalf("STOW response: %v\n%s", err, b)
	}
	var res stowResult
	if v := ds["00081190"].Value; len(v) > 0 {
		json.Unmarshal(v[0], &res.retrieveURL)
	}
	for _, item := range ds["00081199"].Value {
		var d jsonDataset
		json.Unmarshal(item, &d)
		res.referenced = append(res.referenced, d.str("00081155"))
	}
	for _, item := range ds["00081198"].Value {
		var d jsonDataset
		json.Unmarshal(item, &d)
		res.failed = append(res.failed, failure{d.str("00081155"), d.str("00081197")})
	}
	return res
}

func newInstance(t testing.TB, spec synth.Spec) (synth.Spec, []byte) {
	t.Helper()
	if spec.StudyUID == "" {
		spec.StudyUID = dcm.NewUID()
	}
	if spec.SeriesUID == "" {
		spec.SeriesUID = dcm.NewUID()
	}
	spec.SOPInstanceUID = dcm.NewUID()
	b, err := synth.Bytes(spec)
	if err != nil {
		t.Fatal(err)
	}
	return spec, b
}

func TestStow(t *testing.T) {
	ts := startService(t, Options{})
	study := dcm.NewUID()
	a, aBytes := newInstance(t, synth.Spec{StudyUID: study, AccessionNumber: "URNSTOW001"})
	b, bBytes := newInstance(t, synth.Spec{StudyUID: study, AccessionNumber: "URNSTOW001"})

	t.Run("all stored: 200", func(t *testing.T) {
		ct, body := stowBody(t, aBytes, bBytes)
		resp, out := ts.post(t, "/dicom-web/studies", ct, body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, out)
		}
		res := decodeStow(t, out)
		if len(res.referenced) != 2 || len(res.failed) != 0 || !strings.HasSuffix(res.retrieveURL, "/studies/"+study) {
			t.Errorf("response %+v", res)
		}
		got := readBody(t, ts.get(t, "/dicom-web/studies/"+study+"/series/"+a.SeriesUID+"/instances/"+a.SOPInstanceUID, ""))
		if !bytes.Contains(got, aBytes) {
			t.Errorf("stored instance does not come back byte for byte")
		}
	})
	t.Run("same bytes again: 200", func(t *testing.T) {
		ct, body := stowBody(t, aBytes)
		if resp, out := ts.post(t, "/dicom-web/studies/"+study, ct, body); resp.StatusCode != http.StatusOK {
			t.Errorf("status %d: %s", resp.StatusCode, out)
		}
	})
	t.Run("one bad part among good ones: 202", func(t *testing.T) {
		_, c := newInstance(t, synth.Spec{})
		_, d := newInstance(t, synth.Spec{})
		truncated := c[:len(c)/2]
		ct, body := stowBody(t, d, []byte("this is not DICOM"), truncated)
		resp, out := ts.post(t, "/dicom-web/studies", ct, body)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d: %s", resp.StatusCode, out)
		}
		res := decodeStow(t, out)
		if len(res.referenced) != 1 || len(res.failed) != 2 {
			t.Fatalf("response %+v", res)
		}
		for _, f := range res.failed {
			if f.reason != fmt.Sprint(reasonCannotUnderstand) {
				t.Errorf("failed %q reason %s, want %d", f.sop, f.reason, reasonCannotUnderstand)
			}
		}
		if resp.Header.Get("Warning") == "" {
			t.Errorf("no Warning header explaining the failures")
		}
	})
	t.Run("duplicate with other bytes: 409", func(t *testing.T) {
		spec := b
		spec.PatientName = "OTHER^NAME"
		changed, err := synth.Bytes(spec)
		if err != nil {
			t.Fatal(err)
		}
		ct, body := stowBody(t, changed)
		resp, out := ts.post(t, "/dicom-web/studies", ct, body)
		res := decodeStow(t, out)
		if resp.StatusCode != http.StatusConflict || res.reason(b.SOPInstanceUID) != fmt.Sprint(reasonDuplicate) {
			t.Errorf("status %d, response %+v", resp.StatusCode, res)
		}
	})
	t.Run("wrong study in the URL: 409", func(t *testing.T) {
		other, otherBytes := newInstance(t, synth.Spec{})
		ct, body := stowBody(t, otherBytes)
		resp, out := ts.post(t, "/dicom-web/studies/"+study, ct, body)
		res := decodeStow(t, out)
		if resp.StatusCode != http.StatusConflict || res.reason(other.SOPInstanceUID) != fmt.Sprint(reasonDataSetMismatch) {
			t.Errorf("status %d, response %+v", resp.StatusCode, res)
		}
		if got := ts.get(t, "/dicom-web/studies?StudyInstanceUID="+other.StudyUID, ""); len(decodeDatasets(t, readBody(t, got))) != 0 {
			t.Errorf("the refused instance was stored")
		}
	})
	t.Run("unquoted type parameter", func(t *testing.T) {
		_, e := newInstance(t, synth.Spec{})
		ct, body := stowBody(t, e)
		ct = strings.Replace(ct, `type="application/dicom"`, "type=application/dicom", 1)
		if resp, out := ts.post(t, "/dicom-web/studies", ct, body); resp.StatusCode != 200 {
			t.Errorf("status %d: %s", resp.StatusCode, out)
		}
	})
	t.Run("single application/dicom body", func(t *testing.T) {
		_, e := newInstance(t, synth.Spec{})
		if resp, out := ts.post(t, "/dicom-web/studies", "application/dicom", bytes.NewReader(e)); resp.StatusCode != 200 {
			t.Errorf("status %d: %s", resp.StatusCode, out)
		}
	})
	for _, tc := range []struct {
		name, ct string
		status   int
		body     string
	}{
		{"json metadata", `multipart/related; type="application/dicom+json"; boundary=x`, 415, "--x--\r\n"},
		{"plain text", "text/plain", 415, "--x--\r\n"},
		{"no boundary", `multipart/related; type="application/dicom"`, 400, "--x--\r\n"},
		{"no parts", `multipart/related; type="application/dicom"; boundary=x`, 400, "--x--\r\n"},
		{"empty body", `multipart/related; type="application/dicom"; boundary=x`, 400, ""},
		{"no boundary line", `multipart/related; type="application/dicom"; boundary=x`, 400, "just a preamble\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if resp, out := ts.post(t, "/dicom-web/studies", tc.ct, strings.NewReader(body)); resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.status, out)
			}
		})
	}
}

// TestStowStreams: a body far bigger than any buffer goes through, and the
// instance comes back whole.
func TestStowLarge(t *testing.T) {
	ts := startService(t, Options{})
	spec, b := newInstance(t, synth.Spec{Rows: 2048, Columns: 2048, Modality: "PX", SOPClassUID: synth.DXForPresentation})
	ct, body := stowBody(t, b)
	if resp, out := ts.post(t, "/dicom-web/studies", ct, body); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	_, parts := readMultipart(t, ts.get(t, "/dicom-web/studies/"+spec.StudyUID, ""))
	if len(parts) != 1 || !bytes.Equal(parts[0].body, b) {
		t.Errorf("an 8 MB instance did not round-trip")
	}
}
