package dimsebench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// A corpus is a directory of synthetic instances that is sent again and
// again, each time as new instances: next rewrites, in place, every UID and
// the patient and referral of each study. Molar and Orthanc both treat a
// resent identical instance as already stored, which is much cheaper than
// storing it, so no iteration may resend what a receiver has seen.
//
// The rewritten values have a fixed width, so a rewrite is a few small
// writes per file at offsets found once by parsing the template; pixel data
// is generated once. Each value is written with the same padding the
// template has, so files stay valid Part 10 throughout.

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

// patch is where one rewritten value lives in a file.
type patch struct {
	field  field
	offset int64
	length int // of the value as encoded, padding included
	pad    byte
}

type corpusFile struct {
	path  string
	size  int64
	spec  instanceSpec
	index int
	// patches are the template's: every file made from one template has
	// its values at the same offsets.
	patches []patch
}

type corpus struct {
	dir     string
	run     string // random digits that keep this corpus's UIDs unique
	gen     int    // the generation of values the files carry now
	files   []corpusFile
	bytes   int64
	studies int
}

// maxGen bounds generations: the UIDs have six digits for it.
const maxGen = 999_999

// uid returns a fixed-width UID (35 characters) under 2.25: the corpus's
// random run digits, the generation, the kind of UID and the index.
func (c *corpus) uid(kind byte, gen, index int) string {
	return fmt.Sprintf("2.25.%s%06d%c%05d", c.run, gen, kind, index)
}

// studyUID returns the Study Instance UID study has in generation gen.
func (c *corpus) studyUID(gen, study int) string { return c.uid('1', gen, study) }

// value returns what f of file holds in generation gen.
func (c *corpus) value(f field, gen int, file *corpusFile) string {
	// Each study is a new patient and a new referral in every generation.
	visit := gen*c.studies + file.spec.study
	switch f {
	case fieldStudyUID:
		return c.studyUID(gen, file.spec.study)
	case fieldSeriesUID:
		return c.uid('2', gen, file.spec.series)
	case fieldSOPUID:
		return c.uid('3', gen, file.index)
	case fieldPatientID:
		return fmt.Sprintf("999%07d", visit%10_000_000) // NHS numbers never issued
	case fieldAccession:
		return fmt.Sprintf("RX26-%06d", visit%1_000_000)
	}
	panic("unknown field")
}

// newCorpus writes specs as files in dir, in generation 0. run must be 18
// random digits, the first not 0.
func newCorpus(dir, run string, specs []instanceSpec) (*corpus, error) {
	if len(run) != 18 || run[0] == '0' {
		return nil, fmt.Errorf("corpus run %q: want 18 digits, the first not 0", run)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	c := &corpus{dir: dir, run: run}
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
		f := corpusFile{
			path: filepath.Join(dir, fmt.Sprintf("%05d.dcm", i)), size: int64(len(t.b)),
			spec: s, index: i, patches: t.patches,
		}
		b := bytes.Clone(t.b)
		for _, p := range f.patches {
			copy(b[p.offset:p.offset+int64(p.length)], c.encode(p, c.value(p.field, 0, &f)))
		}
		if err := os.WriteFile(f.path, b, 0o644); err != nil {
			return nil, err
		}
		c.files = append(c.files, f)
		c.bytes += f.size
	}
	return c, nil
}

// makeTemplate generates one instance of s with generation-0 values of the
// fixed widths, and finds where those values are.
func makeTemplate(c *corpus, s instanceSpec, seed int) ([]byte, []patch, error) {
	probe := corpusFile{spec: s}
	b, err := synth.Bytes(synth.Spec{
		StudyUID:         c.value(fieldStudyUID, 0, &probe),
		SeriesUID:        c.value(fieldSeriesUID, 0, &probe),
		SOPInstanceUID:   c.value(fieldSOPUID, 0, &probe),
		SOPClassUID:      s.class,
		Modality:         s.modality,
		PatientName:      "BENCH^PATIENT",
		PatientID:        c.value(fieldPatientID, 0, &probe),
		PatientBirthDate: "19700101",
		PatientSex:       "O",
		AccessionNumber:  c.value(fieldAccession, 0, &probe),
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
		want := c.value(ft.field, 0, &probe)
		p := patch{field: ft.field, offset: e.Offset, length: int(e.Length), pad: ' '}
		if e.VR == dcm.UI {
			p.pad = 0
		}
		if got := b[e.Offset : e.Offset+int64(e.Length)]; !bytes.Equal(got, c.encode(p, want)) {
			return nil, nil, fmt.Errorf("template: %s at offset %d is %q, want %q", ft.tag, e.Offset, got, want)
		}
		patches = append(patches, p)
	}
	return b, patches, nil
}

// encode pads v as the template's value was padded.
func (c *corpus) encode(p patch, v string) []byte {
	b := make([]byte, p.length)
	for i := range b {
		b[i] = p.pad
	}
	copy(b, v)
	return b
}

// next moves every file to the next generation: new UIDs, patients and
// referrals, in place.
func (c *corpus) next() error {
	if c.gen == maxGen {
		return fmt.Errorf("corpus %s: out of generations", c.dir)
	}
	c.gen++
	for i := range c.files {
		f := &c.files[i]
		fh, err := os.OpenFile(f.path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		for _, p := range f.patches {
			if _, err := fh.WriteAt(c.encode(p, c.value(p.field, c.gen, f)), p.offset); err != nil {
				fh.Close()
				return err
			}
		}
		if err := fh.Close(); err != nil {
			return err
		}
	}
	return nil
}

// paths returns the files' paths, split round-robin into n lists (so that
// each list has a mix of sizes).
func (c *corpus) paths(n int) [][]string {
	out := make([][]string, n)
	for i, f := range c.files {
		out[i%n] = append(out[i%n], f.path)
	}
	return out
}

// TestCorpusNext checks, quickly and without any receiver, that a corpus
// is valid Part 10 in every generation and that next gives every instance,
// series, study, patient and referral new values of the same width.
func TestCorpusNext(t *testing.T) {
	specs := []instanceSpec{
		panoramic(20, 30, 0, 0), intraOral(16, 16, 0, 1), intraOral(16, 16, 0, 1), intraOral(16, 16, 1, 2),
	}
	c, err := newCorpus(t.TempDir(), newRun(), specs)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for gen := 0; gen < 3; gen++ {
		if gen > 0 {
			if err := c.next(); err != nil {
				t.Fatal(err)
			}
		}
		for i := range c.files {
			f := &c.files[i]
			b, err := os.ReadFile(f.path)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(b)) != f.size {
				t.Fatalf("gen %d %s: %d bytes, want %d", gen, f.path, len(b), f.size)
			}
			p, err := dcm.ParsePart10(bytes.NewReader(b), dcm.ParseOptions{})
			if err != nil {
				t.Fatalf("gen %d %s: %v", gen, f.path, err)
			}
			for _, ft := range fieldTags {
				ds := p.Dataset
				if ft.meta {
					ds = p.Meta
				}
				want := c.value(ft.field, gen, f)
				if got := ds.String(ft.tag); got != want {
					t.Errorf("gen %d file %d %s = %q, want %q", gen, i, ft.tag, got, want)
				}
			}
			if p.Dataset.String(dcm.Modality) != f.spec.modality {
				t.Errorf("file %d: modality %q", i, p.Dataset.String(dcm.Modality))
			}
			sop := p.Dataset.String(dcm.SOPInstanceUID)
			if seen[sop] {
				t.Errorf("gen %d file %d: SOP Instance UID %s seen before", gen, i, sop)
			}
			seen[sop] = true
		}
		// Files of one study share its UID; studies differ.
		if a, b := c.value(fieldStudyUID, gen, &c.files[0]), c.value(fieldStudyUID, gen, &c.files[3]); a == b {
			t.Errorf("gen %d: two studies share UID %s", gen, a)
		}
		if got, want := c.studyUID(gen, 0), c.value(fieldStudyUID, gen, &c.files[1]); got != want {
			t.Errorf("studyUID = %s, file's %s", got, want)
		}
	}
	if got := c.paths(2); len(got[0]) != 2 || len(got[1]) != 2 {
		t.Errorf("paths(2) = %v", got)
	}
}
