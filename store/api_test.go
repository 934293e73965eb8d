package store

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// Records are built by walking these lists, and Attrs must be sorted for
// Get and Merge, so the lists themselves must be in tag order.
func TestLevelTagsSorted(t *testing.T) {
	for name, tags := range map[string][]dcm.Tag{
		"patient": patientTags, "study": studyTags, "series": seriesTags, "instance": instanceTags,
	} {
		if !slices.IsSorted(tags) {
			t.Errorf("%sTags is not in tag order", name)
		}
		if len(slices.Compact(slices.Clone(tags))) != len(tags) {
			t.Errorf("%sTags repeats a tag", name)
		}
	}
}

func TestParseLevelAndAttributeLevel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Level
		ok   bool
	}{
		{"PATIENT", PatientLevel, true}, {"STUDY", StudyLevel, true}, {"SERIES", SeriesLevel, true},
		{"IMAGE", InstanceLevel, true}, {" image ", InstanceLevel, true}, {"INSTANCE", InstanceLevel, true},
		{"", 0, false}, {"FRAME", 0, false},
	} {
		got, err := ParseLevel(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseLevel(%q) = %v, %v", tc.in, got, err)
		}
		if tc.ok && got.String() != map[Level]string{PatientLevel: "PATIENT", StudyLevel: "STUDY", SeriesLevel: "SERIES", InstanceLevel: "IMAGE"}[got] {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
	for _, tc := range []struct {
		tag  dcm.Tag
		want Level
		ok   bool
	}{
		{dcm.PatientID, PatientLevel, true},
		{dcm.AccessionNumber, StudyLevel, true},
		{dcm.ModalitiesInStudy, StudyLevel, true},
		{dcm.Modality, SeriesLevel, true},
		{dcm.NumberOfSeriesRelatedInstances, SeriesLevel, true},
		{dcm.SOPInstanceUID, InstanceLevel, true},
		{dcm.PixelData, 0, false},
	} {
		if got, ok := AttributeLevel(tc.tag); got != tc.want || ok != tc.ok {
			t.Errorf("AttributeLevel(%s) = %v, %v", tc.tag, got, ok)
		}
	}
}

// ListInstances is what C-MOVE, C-GET and WADO-RS study retrieval walk:
// every instance of the study (or series), with what planning a transfer
// needs, from the index alone.
func TestListInstances(t *testing.T) {
	s := openTestStore(t, Options{})
	ctx := context.Background()
	study := dcm.NewUID()
	var want []string
	sizes := map[string]int64{}
	for i, series := range []string{study + ".1", study + ".1", study + ".2"} {
		b, err := synth.Bytes(synth.Spec{StudyUID: study, SeriesUID: series, InstanceNumber: i + 1})
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Ingest(ctx, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, res.SOPInstanceUID)
		sizes[res.SOPInstanceUID] = int64(len(b))
	}
	other, _ := synth.Bytes(synth.Spec{})
	if _, err := s.Ingest(ctx, bytes.NewReader(other)); err != nil {
		t.Fatal(err)
	}

	list := func(series string) []InstanceRef {
		var refs []InstanceRef
		if err := s.ListInstances(ctx, study, series, func(r InstanceRef) error {
			refs = append(refs, r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return refs
	}
	all := list("")
	if len(all) != 3 {
		t.Fatalf("study lists %d instances, want 3", len(all))
	}
	for _, r := range all {
		if !slices.Contains(want, r.SOPInstanceUID) || r.StudyUID != study || r.Size != sizes[r.SOPInstanceUID] ||
			r.SOPClassUID != synth.IntraOralForPresentation || r.TransferSyntax != dcm.ExplicitVRLittleEndian {
			t.Errorf("unexpected ref %+v", r)
		}
	}
	if got := list(study + ".2"); len(got) != 1 || got[0].SeriesUID != study+".2" {
		t.Errorf("series .2 lists %+v", got)
	}
	if got := list("no.such.series"); len(got) != 0 {
		t.Errorf("unknown series lists %+v", got)
	}
}
