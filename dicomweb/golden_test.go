package dicomweb

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
	"github.com/molar-pacs/molar/store"
)

var update = flag.Bool("update", false, "rewrite the golden DICOM JSON files")

// pydicomDir holds the Debian python3-pydicom test files, which CI installs.
const pydicomDir = "/usr/lib/python3/dist-packages/pydicom/data/test_files"

// goldenCorpus is a small dental corpus from our own generator, fixed so
// its JSON never changes by chance: intra-oral films, an OPG, a
// secondary capture, non-ASCII names, an issuer of patient ID.
func goldenCorpus() map[string]synth.Spec {
	base := synth.Spec{StudyUID: "1.2.826.0.1.3680043.10.1043.1", PatientName: "SMITH^OLIVIA", PatientID: "9990000018",
		PatientBirthDate: "19840312", PatientSex: "F", AccessionNumber: "R0000000001", StudyDate: "20261102", StudyTime: "101500",
		StudyDescription: "Oral surgery referral radiographs"}
	io1 := base
	io1.SeriesUID, io1.SOPInstanceUID, io1.InstanceNumber, io1.Seed = "1.2.826.0.1.3680043.10.1043.1.1", "1.2.826.0.1.3680043.10.1043.1.1.1", 1, 1
	io2 := io1
	io2.SOPInstanceUID, io2.InstanceNumber, io2.Rows, io2.Columns, io2.Seed = "1.2.826.0.1.3680043.10.1043.1.1.2", 2, 48, 64, 2
	opg := base
	opg.SeriesUID, opg.SOPInstanceUID, opg.Modality, opg.SOPClassUID = "1.2.826.0.1.3680043.10.1043.1.2", "1.2.826.0.1.3680043.10.1043.1.2.1", "PX", synth.DXForPresentation
	opg.Rows, opg.Columns, opg.BitsStored, opg.SeriesNumber = 30, 60, 16, 2
	sc := synth.Spec{StudyUID: "1.2.826.0.1.3680043.10.1043.2", SeriesUID: "1.2.826.0.1.3680043.10.1043.2.1",
		SOPInstanceUID: "1.2.826.0.1.3680043.10.1043.2.1.1", SOPClassUID: synth.SecondaryCapture, Modality: "OT",
		PatientName: "MÜLLER^JOSÉ", PatientID: "9990000042", AccessionNumber: "R0000000002", StudyDate: "20261112",
		Extra: map[dcm.Tag]synth.Value{dcm.IssuerOfPatientID: {VR: dcm.LO, Value: "NHS"}}}
	return map[string]synth.Spec{"synth-io-1": io1, "synth-io-2": io2, "synth-opg": opg, "synth-sc": sc}
}

// TestGoldenMetadata compares the WADO-RS metadata of each instance with a
// golden file (go test -run Golden -update rewrites them).
func TestGoldenMetadata(t *testing.T) {
	ts := startService(t, Options{})
	type source struct {
		name string
		data []byte
	}
	var sources []source
	for name, spec := range goldenCorpus() {
		b, err := synth.Bytes(spec)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, source{name, b})
	}
	files, err := filepath.Glob(filepath.Join(pydicomDir, "*.dcm"))
	if err != nil || len(files) < 40 {
		t.Fatalf("pydicom test files missing from %s (%d found; install python3-pydicom): %v", pydicomDir, len(files), err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, source{"pydicom-" + strings.TrimSuffix(filepath.Base(f), ".dcm"), b})
	}
	golden := 0
	for _, src := range sources {
		res, err := ts.store.Ingest(context.Background(), bytes.NewReader(src.data))
		if _, rejected := store.IsReject(err); rejected {
			continue // the store's own tests cover refusals
		}
		if err != nil {
			t.Fatalf("%s: %v", src.name, err)
		}
		if res.Outcome != store.Stored {
			continue // a pydicom file repeating another's SOP Instance UID
		}
		golden++
		t.Run(src.name, func(t *testing.T) {
			resp := ts.get(t, "/dicom-web/studies/"+res.StudyUID+"/series/"+res.SeriesUID+"/instances/"+res.SOPInstanceUID+"/metadata", "")
			body := readBody(t, resp)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			body = bytes.ReplaceAll(body, []byte(ts.URL), []byte("http://molar.test"))
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, body, "", " "); err != nil {
				t.Fatalf("metadata is not JSON: %v", err)
			}
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", "golden", src.name+".json")
			if *update {
				if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./dicomweb -run Golden -update to create it)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("metadata differs from %s; got:\n%s", path, firstDiff(pretty.String(), string(want)))
			}
		})
	}
	if golden < 30 {
		t.Errorf("only %d instances compared", golden)
	}
}

// firstDiff shows the lines around the first difference.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range g {
		if i >= len(w) || g[i] != w[i] {
			lo := max(0, i-3)
			wl := "(end)"
			if i < len(w) {
				wl = w[i]
			}
			return strings.Join(g[lo:min(len(g), i+3)], "\n") + "\n--- want line " + wl
		}
	}
	return "(got is a prefix of want)"
}
