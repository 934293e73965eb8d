package benchpeer

import (
	"bytes"
	"os"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
)

// TestCorpusNext checks, quickly and without any peer, that a corpus, in
// memory and on disk, is valid Part 10 in every generation and that Next
// gives every instance, series, study, patient and referral new values of
// the same width.
func TestCorpusNext(t *testing.T) {
	specs := []Spec{
		Panoramic(20, 30, 0, 0), IntraOral(16, 16, 0, 1), IntraOral(16, 16, 0, 1), IntraOral(16, 16, 1, 2),
	}
	for _, tc := range []struct {
		name string
		dir  string
	}{{"memory", ""}, {"files", t.TempDir()}} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newCorpus(tc.dir, specs)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for gen := range 3 {
				if gen > 0 {
					if err := c.Next(); err != nil {
						t.Fatal(err)
					}
				}
				for i, in := range c.Instances {
					b := in.Data
					if tc.dir != "" {
						if in.Data != nil {
							t.Fatalf("instance %d of a corpus on disk is in memory too", i)
						}
						if b, err = os.ReadFile(in.Path); err != nil {
							t.Fatal(err)
						}
					}
					if int64(len(b)) != in.Size {
						t.Fatalf("gen %d instance %d: %d bytes, want %d", gen, i, len(b), in.Size)
					}
					p, err := dcm.ParsePart10(bytes.NewReader(b), dcm.ParseOptions{})
					if err != nil {
						t.Fatalf("gen %d instance %d: %v", gen, i, err)
					}
					for _, ft := range fieldTags {
						ds := p.Dataset
						if ft.meta {
							ds = p.Meta
						}
						if got, want := ds.String(ft.tag), c.value(ft.field, gen, in); got != want {
							t.Errorf("gen %d instance %d %s = %q, want %q", gen, i, ft.tag, got, want)
						}
					}
					if got := p.Dataset.String(dcm.Modality); got != in.Spec.Modality {
						t.Errorf("instance %d: modality %q, want %q", i, got, in.Spec.Modality)
					}
					sop := p.Dataset.String(dcm.SOPInstanceUID)
					if sop != c.SOPUID(in) {
						t.Errorf("gen %d instance %d: SOP Instance UID %s, SOPUID says %s", gen, i, sop, c.SOPUID(in))
					}
					if seen[sop] {
						t.Errorf("gen %d instance %d: SOP Instance UID %s seen before", gen, i, sop)
					}
					seen[sop] = true
				}
				// Instances of one study share its UID; studies, and
				// their patients, differ.
				if a, b := c.value(fieldStudyUID, gen, c.Instances[0]), c.value(fieldStudyUID, gen, c.Instances[3]); a == b {
					t.Errorf("gen %d: two studies share UID %s", gen, a)
				}
				if a, b := c.value(fieldPatientID, gen, c.Instances[0]), c.value(fieldPatientID, gen, c.Instances[3]); a == b {
					t.Errorf("gen %d: two studies share patient %s", gen, a)
				}
				if got, want := c.StudyUID(0), c.value(fieldStudyUID, gen, c.Instances[1]); got != want {
					t.Errorf("StudyUID = %s, instance's %s", got, want)
				}
			}
		})
	}
}
