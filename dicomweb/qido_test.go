package dicomweb

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

type jsonAttr struct {
	VR    string            `json:"vr"`
	Value []json.RawMessage `json:"Value"`
}

type jsonDataset map[string]jsonAttr

// str returns the first value of tag as a string (person names: Alphabetic).
func (d jsonDataset) str(tag string) string {
	a, ok := d[tag]
	if !ok || len(a.Value) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(a.Value[0], &s) == nil {
		return s
	}
	var pn struct{ Alphabetic string }
	if json.Unmarshal(a.Value[0], &pn) == nil && pn.Alphabetic != "" {
		return pn.Alphabetic
	}
	return strings.TrimSpace(string(a.Value[0]))
}

func decodeDatasets(t testing.TB, b []byte) []jsonDataset {
	t.Helper()
	var out []jsonDataset
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("response is not a DICOM JSON array: %v\n%s", err, b)
	}
	return out
}

func TestSearch(t *testing.T) {
	ts := startService(t, Options{})
	f := seed(t, ts)
	tests := []struct {
		name    string
		path    string
		want    int
		check   func(t *testing.T, ds []jsonDataset)
		warning string
	}{
		{name: "all studies", path: "/dicom-web/studies", want: 2},
		{name: "by accession", path: "/dicom-web/studies?AccessionNumber=URNAAA0001", want: 1, check: func(t *testing.T, ds []jsonDataset) {
			d := ds[0]
			if d.str("0020000D") != f.studyA || d.str("00100010") != "SMITH^OLIVIA" {
				t.Errorf("wrong study: %v", d)
			}
			// What OHIF's study list reads.
			if d.str("00201208") != "3" || d.str("00201206") != "2" {
				t.Errorf("NumberOfStudyRelatedInstances %s, Series %s; want 3, 2", d.str("00201208"), d.str("00201206"))
			}
			if mods := d["00080061"].Value; len(mods) != 2 {
				t.Errorf("ModalitiesInStudy %s", mods)
			}
			if !strings.HasSuffix(d.str("00081190"), "/dicom-web/studies/"+f.studyA) || !strings.HasPrefix(d.str("00081190"), "http://") {
				t.Errorf("RetrieveURL %q", d.str("00081190"))
			}
		}},
		{name: "by tag hex", path: "/dicom-web/studies?00080050=URNBBB0002", want: 1},
		{name: "patient name wildcard", path: "/dicom-web/studies?PatientName=SMI*", want: 1},
		{name: "fuzzy name", path: "/dicom-web/studies?PatientName=smith&fuzzymatching=true", want: 1},
		{name: "uid list", path: "/dicom-web/studies?StudyInstanceUID=" + f.studyA + "," + f.studyB, want: 2},
		{name: "limit cuts with a warning", path: "/dicom-web/studies?limit=1", want: 1, warning: "additional results"},
		{name: "offset", path: "/dicom-web/studies?limit=1&offset=1", want: 1},
		{name: "series of a study", path: "/dicom-web/studies/" + f.studyA + "/series", want: 2, check: func(t *testing.T, ds []jsonDataset) {
			for _, d := range ds {
				if d.str("00201209") == "" || d.str("00080060") == "" {
					t.Errorf("series result without NumberOfSeriesRelatedInstances or Modality: %v", d)
				}
			}
		}},
		{name: "all series by modality", path: "/dicom-web/series?Modality=PX", want: 1, check: func(t *testing.T, ds []jsonDataset) {
			// Not scoped to a study: the study's attributes come too.
			if ds[0].str("00100010") != "SMITH^OLIVIA" || ds[0].str("0020000D") != f.studyA {
				t.Errorf("study attributes missing from an all-series result: %v", ds[0])
			}
		}},
		{name: "instances of a series", path: "/dicom-web/studies/" + f.studyA + "/series/" + f.seriesA1 + "/instances", want: 2, check: func(t *testing.T, ds []jsonDataset) {
			for _, d := range ds {
				if d.str("0020000E") != f.seriesA1 || d.str("00080018") == "" || d.str("00280010") == "" {
					t.Errorf("instance result: %v", d)
				}
			}
		}},
		{name: "instances of a study", path: "/dicom-web/studies/" + f.studyA + "/instances", want: 3},
		{name: "all instances by accession", path: "/dicom-web/instances?AccessionNumber=URNAAA0001", want: 3},
		{name: "includefield", path: "/dicom-web/studies?AccessionNumber=URNAAA0001&includefield=StudyDescription,00080090", want: 1, check: func(t *testing.T, ds []jsonDataset) {
			if _, ok := ds[0]["00080090"]; !ok {
				t.Errorf("includefield 00080090 not returned")
			}
		}},
		{name: "includefield all", path: "/dicom-web/studies?AccessionNumber=URNAAA0001&includefield=all", want: 1, check: func(t *testing.T, ds []jsonDataset) {
			if ds[0].str("00100030") == "" && ds[0]["00100030"].VR == "" {
				t.Errorf("includefield=all lacks PatientBirthDate")
			}
		}},
		{name: "no match", path: "/dicom-web/studies?AccessionNumber=NOPE", want: 0},
		{name: "unmatchable attribute is ignored with a warning", path: "/dicom-web/studies?AccessionNumber=URNAAA0001&PatientMotherBirthName=X", want: 1, warning: "cannot be matched"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := ts.get(t, tc.path, "application/dicom+json")
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/dicom+json" {
				t.Errorf("Content-Type %q", ct)
			}
			ds := decodeDatasets(t, body)
			if len(ds) != tc.want {
				t.Fatalf("%d results, want %d: %s", len(ds), tc.want, body)
			}
			warn := strings.Join(resp.Header.Values("Warning"), " | ")
			if (tc.warning == "") != (warn == "") || !strings.Contains(warn, tc.warning) {
				t.Errorf("Warning %q, want one containing %q", warn, tc.warning)
			}
			if tc.check != nil {
				tc.check(t, ds)
			}
		})
	}
	// Every search was recorded, with the URN when it was searched on.
	events := ts.rec.take()
	if len(events) != len(tests) {
		t.Errorf("%d audit events for %d searches", len(events), len(tests))
	}
	if events[1].AccessionNumber != "URNAAA0001" || events[1].Action != ActionSearch || events[1].Caller.User != "tester" {
		t.Errorf("audit event for the accession search: %+v", events[1])
	}
}

func TestSearchErrors(t *testing.T) {
	ts := startService(t, Options{})
	seed(t, ts)
	tests := []struct {
		path, accept string
		status       int
		msg          string
	}{
		{"/dicom-web/studies?limit=-1", "", 400, "limit"},
		{"/dicom-web/studies?limit=ten", "", 400, "limit"},
		{"/dicom-web/studies?offset=x", "", 400, "offset"},
		{"/dicom-web/studies?fuzzymatching=maybe", "", 400, "fuzzymatching"},
		{"/dicom-web/studies?NoSuchAttribute=1", "", 400, "unknown attribute"},
		{"/dicom-web/studies?includefield=Bogus", "", 400, "includefield"},
		{"/dicom-web/studies?ReferencedStudySequence.StudyInstanceUID=1", "", 400, "sequences"},
		{"/dicom-web/studies?SOPInstanceUID=1.2.3", "", 400, "cannot be matched in a study search"},
		{"/dicom-web/studies?StudyDate=2020-2021", "", 400, "StudyDate"},
		{"/dicom-web/studies?PatientName=A&PatientName=B", "", 400, "given 2 times"},
		{"/dicom-web/studies", "application/dicom+xml", 406, "application/dicom+json"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp := ts.get(t, tc.path, tc.accept)
			body := string(readBody(t, resp))
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.msg) {
				t.Errorf("status %d %q; want %d with %q", resp.StatusCode, body, tc.status, tc.msg)
			}
		})
	}
	if ev := ts.rec.take(); len(ev) != 0 {
		t.Errorf("refused searches were recorded as reads: %+v", ev)
	}
}

func TestSearchMaxResults(t *testing.T) {
	ts := startService(t, Options{MaxResults: 1})
	seed(t, ts)
	resp := ts.get(t, "/dicom-web/studies?"+url.Values{"limit": {"50"}}.Encode(), "")
	ds := decodeDatasets(t, readBody(t, resp))
	if len(ds) != 1 || !strings.Contains(resp.Header.Get("Warning"), "cut at 1") {
		t.Errorf("%d results, Warning %q; want 1 and a cut warning", len(ds), resp.Header.Get("Warning"))
	}
}
