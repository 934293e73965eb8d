package benchpeer

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// A Corpus is a set of synthetic instances that is sent again and again,
// each time as new instances: Next rewrites, in place, every UID and the
// patient and referral of each study. Molar and Orthanc both treat a
// resent identical instance as already stored, which is much cheaper than
// storing it, so no iteration may resend what a peer has seen.
//
// It is held in memory (MemCorpus: Instance.Data) or as files (FileCorpus:
// Instance.Path) for senders that read files, like storescu.
//
// The rewritten values have a fixed width, so a rewrite is a few small
// writes per instance at offsets found once by parsing its template; pixel
// data is generated once. Each value is written with the padding the
// template has, so the instances stay valid Part 10 throughout.
type Corpus struct {
	// Instances are the corpus's, in the order of its specs.
	Instances []*Instance
	// Bytes is the size of all its instances.
	Bytes int64

	dir     string // where its files are; "" in memory
	run     string // random digits that keep this corpus's UIDs unique
	gen     int    // the generation of values the instances carry now
	studies int
}

// Spec is one instance of a corpus.
type Spec struct {
	Rows, Cols      int
	Modality, Class string // PX with DX For Presentation, IO with Intra-oral
	Study, Series   int    // indexes within the corpus
}

// Instance is one instance of a corpus.
type Instance struct {
	Spec  Spec
	Index int   // within the corpus
	Size  int64 // of its Part 10 encoding
	// Data is the instance, in a corpus held in memory; nil in one on
	// disk.
	Data []byte
	// Path is its file, in a corpus on disk; "" in one in memory.
	Path string
	// patches are the template's: every instance made from one template
	// has its values at the same offsets.
	patches []patch
}

// field is a value Next rewrites.
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
	offset int64
	length int // of the value as encoded, padding included
	pad    byte
}

// maxGen bounds generations: the UIDs have six digits for it.
const maxGen = 999_999

// corpora are made once per test binary, on first use.
var corpora struct {
	sync.Mutex
	m map[string]*Corpus
}

// MemCorpus returns the corpus name held in memory, made from specs on
// first use and kept for the rest of the test binary.
func MemCorpus(tb testing.TB, name string, specs func() []Spec) *Corpus {
	tb.Helper()
	return getCorpus(tb, "memory "+name, "", specs)
}

// FileCorpus returns the corpus name as files in the work directory
// (corpus-name/00000.dcm, …), made from specs on first use and kept for
// the rest of the test binary.
func FileCorpus(tb testing.TB, name string, specs func() []Spec) *Corpus {
	tb.Helper()
	return getCorpus(tb, "files "+name, filepath.Join(WorkDir(tb), "corpus-"+name), specs)
}

func getCorpus(tb testing.TB, key, dir string, specs func() []Spec) *Corpus {
	tb.Helper()
	corpora.Lock()
	defer corpora.Unlock()
	if c := corpora.m[key]; c != nil {
		return c
	}
	c, err := newCorpus(dir, specs())
	if err != nil {
		tb.Fatal(err)
	}
	if corpora.m == nil {
		corpora.m = map[string]*Corpus{}
	}
	corpora.m[key] = c
	return c
}

// newRun returns 18 random digits, the first not 0.
func newRun() string {
	return strconv.FormatUint(1e17+rand.Uint64N(9e17), 10)
}

// uid returns a fixed-width UID (35 characters) under 2.25: the corpus's
// random run digits, the generation, the kind of UID and the index.
func (c *Corpus) uid(kind byte, gen, index int) string {
	return fmt.Sprintf("2.25.%s%06d%c%05d", c.run, gen, kind, index)
}

// value returns what f of in holds in generation gen.
func (c *Corpus) value(f field, gen int, in *Instance) string {
	// Each study is a new patient and a new referral in every generation.
	visit := gen*c.studies + in.Spec.Study
	switch f {
	case fieldStudyUID:
		return c.studyUID(gen, in.Spec.Study)
	case fieldSeriesUID:
		return c.uid('2', gen, in.Spec.Series)
	case fieldSOPUID:
		return c.uid('3', gen, in.Index)
	case fieldPatientID:
		return fmt.Sprintf("999%07d", visit%10_000_000) // NHS numbers never issued
	case fieldAccession:
		return fmt.Sprintf("RX26-%06d", visit%1_000_000)
	}
	panic("unknown field")
}

// studyUID returns the Study Instance UID study has in generation gen.
func (c *Corpus) studyUID(gen, study int) string { return c.uid('1', gen, study) }

// StudyUID returns the Study Instance UID study (a Spec.Study) has now.
func (c *Corpus) StudyUID(study int) string { return c.studyUID(c.gen, study) }

// SOPUID returns the SOP Instance UID in carries now.
func (c *Corpus) SOPUID(in *Instance) string { return c.value(fieldSOPUID, c.gen, in) }

// newCorpus makes specs as instances in generation 0, with a new run: in
// memory if dir is "", else as files in dir.
func newCorpus(dir string, specs []Spec) (*Corpus, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	c := &Corpus{dir: dir, run: newRun()}
	for _, s := range specs {
		c.studies = max(c.studies, s.Study+1)
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
		k := key{s.Rows, s.Cols, s.Modality, s.Class}
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
		in := &Instance{Spec: s, Index: i, Size: int64(len(t.b)), patches: t.patches}
		b := bytes.Clone(t.b)
		for _, p := range in.patches {
			copy(b[p.offset:p.offset+int64(p.length)], p.encode(c.value(p.field, 0, in)))
		}
		if dir == "" {
			in.Data = b
		} else {
			in.Path = filepath.Join(dir, fmt.Sprintf("%05d.dcm", i))
			if err := os.WriteFile(in.Path, b, 0o644); err != nil {
				return nil, err
			}
		}
		c.Instances = append(c.Instances, in)
		c.Bytes += in.Size
	}
	return c, nil
}

// makeTemplate generates one instance of s with generation-0 values of the
// fixed widths, and finds where those values are.
func makeTemplate(c *Corpus, s Spec, seed int) ([]byte, []patch, error) {
	probe := &Instance{Spec: s}
	b, err := synth.Bytes(synth.Spec{
		StudyUID:         c.value(fieldStudyUID, 0, probe),
		SeriesUID:        c.value(fieldSeriesUID, 0, probe),
		SOPInstanceUID:   c.value(fieldSOPUID, 0, probe),
		SOPClassUID:      s.Class,
		Modality:         s.Modality,
		PatientName:      "BENCH^PATIENT",
		PatientID:        c.value(fieldPatientID, 0, probe),
		PatientBirthDate: "19700101",
		PatientSex:       "O",
		AccessionNumber:  c.value(fieldAccession, 0, probe),
		StudyDate:        "20260314",
		StudyTime:        "091500",
		StudyDescription: "Dental films",
		Rows:             s.Rows,
		Columns:          s.Cols,
		BitsStored:       12,
		Seed:             int64(seed + 1),
	})
	if err != nil {
		return nil, nil, err
	}
	f, err := dcm.ParsePart10(bytes.NewReader(b), dcm.ParseOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("template %dx%d: %w", s.Rows, s.Cols, err)
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
		p := patch{field: ft.field, offset: e.Offset, length: int(e.Length), pad: ' '}
		if e.VR == dcm.UI {
			p.pad = 0
		}
		// The value must be there as written, padding included: a
		// rewrite then touches nothing else.
		if got := b[e.Offset : e.Offset+int64(e.Length)]; !bytes.Equal(got, p.encode(want)) {
			return nil, nil, fmt.Errorf("template: %s at offset %d is %q, want %q", ft.tag, e.Offset, got, want)
		}
		patches = append(patches, p)
	}
	return b, patches, nil
}

// encode pads v as the template's value was padded.
func (p patch) encode(v string) []byte {
	b := make([]byte, p.length)
	for i := range b {
		b[i] = p.pad
	}
	copy(b, v)
	return b
}

// Next moves every instance to the next generation: new UIDs, patients
// and referrals, in place (in memory, or in its file).
func (c *Corpus) Next() error {
	if c.gen == maxGen {
		return fmt.Errorf("corpus run %s: out of generations", c.run)
	}
	c.gen++
	for _, in := range c.Instances {
		if err := c.rewrite(in); err != nil {
			return err
		}
	}
	return nil
}

// rewrite writes in's values of the current generation over its old ones.
func (c *Corpus) rewrite(in *Instance) error {
	if c.dir == "" {
		for _, p := range in.patches {
			copy(in.Data[p.offset:], p.encode(c.value(p.field, c.gen, in)))
		}
		return nil
	}
	fh, err := os.OpenFile(in.Path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	for _, p := range in.patches {
		if _, err := fh.WriteAt(p.encode(c.value(p.field, c.gen, in)), p.offset); err != nil {
			fh.Close()
			return err
		}
	}
	return fh.Close()
}
