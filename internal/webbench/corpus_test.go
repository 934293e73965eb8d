package webbench

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// A corpus is a set of synthetic instances, held in memory, that is sent
// again and again, each time as new instances: next rewrites, in place,
// every UID and the patient and referral of each study. Molar and Orthanc
// both treat a resent identical instance as already stored, which is much
// cheaper than storing it, so no iteration may resend what a peer has
// seen.
//
// The rewritten values have a fixed width, so a rewrite is a few small
// copies per instance at offsets found once by parsing its template; pixel
// data is generated once. Only the value's own bytes are overwritten, so
// each keeps the padding the template gave it and the instances stay
// valid Part 10 throughout.

// instanceSpec is one instance of a corpus.
type instanceSpec struct {
	rows, cols      int
	modality, class string // PX with DX For Presentation, IO with Intra-oral
	study, series   int    // indexes within the corpus
}

// field is a value next rewrites.
type field int

const (
	fieldStudyUID field = iota
	fieldSeriesUID
	fieldSOPUID // in the file meta information and the dataset
	fieldPatientID
	fieldAccession
)

var fieldTags = []struct {
	tag   dcm.Tag
	field field
	meta  bool
}{
	{dcm.MediaStorageSOPInstanceUID, fieldSOPUID, true},
	{dcm.SOPInstanceUID, fieldSOPUID, false},
	{dcm.AccessionNumber, fieldAccession, false},
	{dcm.PatientID, fieldPatientID, false},
	{dcm.StudyInstanceUID, fieldStudyUID, false},
	{dcm.SeriesInstanceUID, fieldSeriesUID, false},
}

// patch is where one rewritten value lives in an instance.
type patch struct {
	field  field
	offset int
}

type instance struct {
	data  []byte
	spec  instanceSpec
	index int
	// patches are the template's: every instance made from one template
	// has its values at the same offsets.
	patches []patch
}

type corpus struct {
	run       string // random digits that keep this corpus's UIDs unique
	gen       int    // the generation of values the instances carry now
	instances []*instance
	bytes     int64
	studies   int
}

// maxGen bounds generations: the UIDs have six digits for it.
const maxGen = 999_999

// newRun returns 18 random digits, the first not 0.
func newRun() string {
	return strconv.FormatUint(1e17+rand.Uint64N(9e17), 10)
}

// uid returns a fixed-width UID (35 characters) under 2.25: the corpus's
// random run digits, the generation, the kind of UID and the index.
func (c *corpus) uid(kind byte, gen, index int) string {
	return fmt.Sprintf("2.25.%s%06d%c%05d", c.run, gen, kind, index)
}

// value returns what f of in holds in generation gen.
func (c *corpus) value(f field, gen int, in *instance) string {
	// Each study is a new patient and a new referral in every generation.
	visit := gen*c.studies + in.spec.study
	switch f {
	case fieldStudyUID:
		return c.uid('1', gen, in.spec.study)
	case fieldSeriesUID:
		return c.uid('2', gen, in.spec.series)
	case fieldSOPUID:
		return c.uid('3', gen, in.index)
	case fieldPatientID:
		return fmt.Sprintf("999%07d", visit%10_000_000) // NHS numbers never issued
	case fieldAccession:
		return fmt.Sprintf("RX26-%06d", visit%1_000_000)
	}
	panic("unknown field")
}

// sopUID returns the SOP Instance UID in carries now.
func (c *corpus) sopUID(in *instance) string { return c.value(fieldSOPUID, c.gen, in) }

// newCorpus makes specs as instances in generation 0, with a new run.
func newCorpus(specs []instanceSpec) (*corpus, error) {
	c := &corpus{run: newRun()}
	for _, s := range specs {
		c.studies = max(c.studies, s.study+1)
	}
	type key struct {
		rows, cols      int
		modality, class string
	}
	type template struct {
		b       []byte
		patches []patch
	}
	templates := map[key]*template{}
	for i, s := range specs {
		k := key{s.rows, s.cols, s.modality, s.class}
		t := templates[k]
		if t == nil {
			var err error
			t = &template{}
			t.b, t.patches, err = makeTemplate(c, s, len(templates))
			if err != nil {
				return nil, err
			}
			templates[k] = t
		}
		in := &instance{data: bytes.Clone(t.b), spec: s, index: i, patches: t.patches}
		c.rewrite(in)
		c.instances = append(c.instances, in)
		c.bytes += int64(len(in.data))
	}
	return c, nil
}

// makeTemplate generates one instance of s with generation-0 values of the
// fixed widths, and finds where those values are.
func makeTemplate(c *corpus, s instanceSpec, seed int) ([]byte, []patch, error) {
	probe := &instance{spec: s}
	b, err := synth.Bytes(synth.Spec{
		StudyUID:         c.value(fieldStudyUID, 0, probe),
		SeriesUID:        c.value(fieldSeriesUID, 0, probe),
		SOPInstanceUID:   c.value(fieldSOPUID, 0, probe),
		SOPClassUID:      s.class,
		Modality:         s.modality,
		PatientName:      "BENCH^PATIENT",
		PatientID:        c.value(fieldPatientID, 0, probe),
		PatientBirthDate: "19700101",
		PatientSex:       "O",
		AccessionNumber:  c.value(fieldAccession, 0, probe),
		StudyDate:        "20260314",
		StudyTime:        "091500",
		StudyDescription: "Dental films",
		Rows:             s.rows,
		Columns:          s.cols,
		BitsStored:       12,
		Seed:             int64(seed + 1),
	})
	if err != nil {
		return nil, nil, err
	}
	f, err := dcm.ParsePart10(bytes.NewReader(b), dcm.ParseOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("template %dx%d: %w", s.rows, s.cols, err)
	}
	var patches []patch
	for _, ft := range fieldTags {
		ds := f.Dataset
		if ft.meta {
			ds = f.Meta
		}
		e := ds.Find(ft.tag)
		if e == nil || e.Value == nil {
			return nil, nil, fmt.Errorf("template: no %s", ft.tag)
		}
		want := c.value(ft.field, 0, probe)
		// The value must be there as written, at its start: rewriting
		// then touches nothing else, padding included.
		if e.Length < uint32(len(want)) || string(b[e.Offset:e.Offset+int64(len(want))]) != want {
			return nil, nil, fmt.Errorf("template: %s at offset %d is %q, want %q", ft.tag, e.Offset, b[e.Offset:e.Offset+int64(e.Length)], want)
		}
		patches = append(patches, patch{field: ft.field, offset: int(e.Offset)})
	}
	return b, patches, nil
}

// rewrite writes in's values of the current generation into its bytes.
func (c *corpus) rewrite(in *instance) {
	for _, p := range in.patches {
		copy(in.data[p.offset:], c.value(p.field, c.gen, in))
	}
}

// next moves every instance to the next generation: new UIDs, patients
// and referrals, in place.
func (c *corpus) next() error {
	if c.gen == maxGen {
		return fmt.Errorf("corpus run %s: out of generations", c.run)
	}
	c.gen++
	for _, in := range c.instances {
		c.rewrite(in)
	}
	return nil
}

// requests splits the corpus among conns connections, round-robin so that
// each gets a mix of sizes, and each connection's share into requests of
// at most perRequest instances, in order.
func (c *corpus) requests(conns, perRequest int) [][][]*instance {
	shares := make([][]*instance, conns)
	for i, in := range c.instances {
		shares[i%conns] = append(shares[i%conns], in)
	}
	out := make([][][]*instance, conns)
	for i, share := range shares {
		for len(share) > 0 {
			n := min(perRequest, len(share))
			out[i] = append(out[i], share[:n])
			share = share[n:]
		}
	}
	return out
}

// TestCorpusNext checks, quickly and without any peer, that a corpus is
// valid Part 10 in every generation, that next gives every instance,
// series, study, patient and referral new values, and that requests
// sends every instance once.
func TestCorpusNext(t *testing.T) {
	specs := []instanceSpec{
		panoramic(20, 30, 0, 0), intraOral(16, 16, 0, 1), intraOral(16, 16, 0, 1), intraOral(16, 16, 1, 2),
	}
	c, err := newCorpus(specs)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for gen := range 3 {
		if gen > 0 {
			if err := c.next(); err != nil {
				t.Fatal(err)
			}
		}
		for i, in := range c.instances {
			p, err := dcm.ParsePart10(bytes.NewReader(in.data), dcm.ParseOptions{})
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
			if got := p.Dataset.String(dcm.Modality); got != in.spec.modality {
				t.Errorf("instance %d: modality %q, want %q", i, got, in.spec.modality)
			}
			sop := c.sopUID(in)
			if seen[sop] {
				t.Errorf("gen %d instance %d: SOP Instance UID %s seen before", gen, i, sop)
			}
			seen[sop] = true
		}
		if a, b := c.value(fieldStudyUID, gen, c.instances[0]), c.value(fieldStudyUID, gen, c.instances[3]); a == b {
			t.Errorf("gen %d: two studies share UID %s", gen, a)
		}
		if a, b := c.value(fieldPatientID, gen, c.instances[0]), c.value(fieldPatientID, gen, c.instances[3]); a == b {
			t.Errorf("gen %d: two studies share patient %s", gen, a)
		}
	}
	for _, tc := range []struct{ conns, per, requests int }{{1, 10, 1}, {1, 3, 2}, {2, 1, 4}, {2, 10, 2}} {
		got := c.requests(tc.conns, tc.per)
		n, sent := 0, map[*instance]bool{}
		for _, reqs := range got {
			n += len(reqs)
			for _, req := range reqs {
				if len(req) == 0 || len(req) > tc.per {
					t.Errorf("requests(%d, %d): a request of %d instances", tc.conns, tc.per, len(req))
				}
				for _, in := range req {
					sent[in] = true
				}
			}
		}
		if len(got) != tc.conns || n != tc.requests || len(sent) != len(c.instances) {
			t.Errorf("requests(%d, %d): %d connections, %d requests, %d instances; want %d, %d, %d",
				tc.conns, tc.per, len(got), n, len(sent), tc.conns, tc.requests, len(c.instances))
		}
	}
}
