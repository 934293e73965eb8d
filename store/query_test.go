package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// corpusPatient is one patient of the query corpus.
type corpusPatient struct{ name, id string }

var corpusPatients = []corpusPatient{
	{"SMITH^JOHN", "9434765919"},
	{"SMITHSON^ANNA", "9434765870"},
	{"SMITH-JONES^MARY", "4010232137"},
	{"Müller^José", "9876543210"},
	{"O'BRIEN^PATRICK", "1234567881"},
	{"Smith^Jane", "9990001112"},
	{"MULLER^HANS", "9990001120"},
}

var corpusDates = []string{
	"20240115", "20240229", "20240630", "20240701", "20241231",
	"20250101", "20250312", "20250312", "20250930", "20251120",
	"20260101", "20260214", "20260601", "20261015", "20261231",
}

var corpusDescriptions = []string{"Bitewings", "Panoramic", "Periapical"}

// queryCorpus returns the specs of 15 studies over 7 patients: 1–3 series
// each, IO or PX, 1–4 instances per series. Study 7 has no accession
// number, for empty-value matching.
func queryCorpus() []synth.Spec {
	var specs []synth.Spec
	for i := range corpusDates {
		p := corpusPatients[i%len(corpusPatients)]
		study := fmt.Sprintf("1.2.826.0.20.%d", i+1)
		acc := fmt.Sprintf("R%010d", i+1)
		if i == 6 {
			acc = ""
		}
		for j := range 1 + i%3 {
			mod, class := "IO", synth.IntraOralForPresentation
			if (i+j)%4 == 0 {
				mod, class = "PX", synth.DXForPresentation
			}
			series := fmt.Sprintf("%s.%d", study, j+1)
			for k := range 1 + (i+j)%4 {
				specs = append(specs, synth.Spec{
					StudyUID: study, SeriesUID: series, SOPInstanceUID: fmt.Sprintf("%s.%d", series, k+1),
					SOPClassUID: class, Modality: mod,
					PatientName: p.name, PatientID: p.id, PatientSex: "O", PatientBirthDate: "19700101",
					AccessionNumber: acc, StudyDate: corpusDates[i], StudyTime: "093000",
					StudyDescription: corpusDescriptions[i%3],
					SeriesNumber:     j + 1, InstanceNumber: k + 1,
					Rows: 8, Columns: 8, Seed: int64(100*i + 10*j + k),
				})
			}
		}
	}
	return specs
}

func openCorpus(t testing.TB) (*Store, []synth.Spec) {
	t.Helper()
	s := openTestStore(t, Options{})
	specs := queryCorpus()
	for _, sp := range specs {
		mustIngest(t, s, mustSynth(t, sp), Stored)
	}
	return s, specs
}

// identity names an entity at a level, the same way for a corpus spec and
// for a query match.
func specIdentity(level Level, sp synth.Spec) string {
	switch level {
	case PatientLevel:
		return sp.PatientID
	case StudyLevel:
		return sp.StudyUID
	case SeriesLevel:
		return sp.StudyUID + "|" + sp.SeriesUID
	}
	return sp.SOPInstanceUID
}

func matchIdentity(m Match) string {
	switch m.Level {
	case PatientLevel:
		return m.PatientKey
	case StudyLevel:
		return m.StudyUID
	case SeriesLevel:
		return m.StudyUID + "|" + m.SeriesUID
	}
	return m.SOPInstanceUID
}

// expected projects the specs satisfying pred to distinct entities of the
// level: an entity matches when any instance under it does, which is how
// every key behaves at or below its own level.
func expected(level Level, specs []synth.Spec, pred func(synth.Spec) bool) []string {
	var out []string
	for _, sp := range specs {
		if pred(sp) {
			out = append(out, specIdentity(level, sp))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// fold is the test's own idea of case- and accent-insensitive names, for
// the handful of accents in the corpus.
func fold(s string) string {
	return strings.NewReplacer("Ü", "U", "É", "E").Replace(strings.ToUpper(s))
}

// nameLike matches the folded PatientName against a regular expression.
func nameLike(expr string) func(synth.Spec) bool {
	re := regexp.MustCompile(expr)
	return func(sp synth.Spec) bool { return re.MatchString(fold(sp.PatientName)) }
}

// fuzzyName is the documented fuzzy rule: every query word is a prefix of
// some word of the name, words split on spaces, '^' and '-'.
func fuzzyName(query string) func(synth.Spec) bool {
	split := func(s string) []string {
		return strings.FieldsFunc(fold(s), func(r rune) bool { return r == ' ' || r == '^' || r == '-' })
	}
	return func(sp synth.Spec) bool {
		words := split(sp.PatientName)
		for _, q := range split(query) {
			if !slices.ContainsFunc(words, func(w string) bool { return strings.HasPrefix(w, q) }) {
				return false
			}
		}
		return true
	}
}

func dateIn(lo, hi string) func(synth.Spec) bool {
	return func(sp synth.Spec) bool {
		return (lo == "" || sp.StudyDate >= lo) && (hi == "" || sp.StudyDate <= hi)
	}
}

func oneOf(get func(synth.Spec) string, vals ...string) func(synth.Spec) bool {
	return func(sp synth.Spec) bool { return slices.Contains(vals, get(sp)) }
}

func and(preds ...func(synth.Spec) bool) func(synth.Spec) bool {
	return func(sp synth.Spec) bool {
		for _, p := range preds {
			if !p(sp) {
				return false
			}
		}
		return true
	}
}

func all(synth.Spec) bool { return true }

var (
	getPatientID = func(sp synth.Spec) string { return sp.PatientID }
	getStudy     = func(sp synth.Spec) string { return sp.StudyUID }
	getSeries    = func(sp synth.Spec) string { return sp.SeriesUID }
	getSOP       = func(sp synth.Spec) string { return sp.SOPInstanceUID }
	getAcc       = func(sp synth.Spec) string { return sp.AccessionNumber }
	getModality  = func(sp synth.Spec) string { return sp.Modality }
	getDesc      = func(sp synth.Spec) string { return sp.StudyDescription }
	getInstNo    = func(sp synth.Spec) string { return strconv.Itoa(sp.InstanceNumber) }
	getSeriesNo  = func(sp synth.Spec) string { return strconv.Itoa(sp.SeriesNumber) }
)

func TestQueryMatching(t *testing.T) {
	s, specs := openCorpus(t)
	ctx := context.Background()

	// studyHas is a study-level predicate: the instance's study has an
	// instance satisfying pred (ModalitiesInStudy is such a key).
	studyHas := func(pred func(synth.Spec) bool) func(synth.Spec) bool {
		studies := map[string]bool{}
		for _, sp := range specs {
			if pred(sp) {
				studies[sp.StudyUID] = true
			}
		}
		return func(sp synth.Spec) bool { return studies[sp.StudyUID] }
	}
	k := func(tag dcm.Tag, v string) Key { return Key{Tag: tag, Value: v} }
	st := func(i int) string { return fmt.Sprintf("1.2.826.0.20.%d", i) }

	tests := []struct {
		name  string
		level Level
		keys  []Key
		fuzzy bool
		want  func(synth.Spec) bool
		none  bool // the right answer is no match at all
	}{
		// PATIENT
		{name: "patient universal", level: PatientLevel, want: all},
		{name: "patient star", level: PatientLevel, keys: []Key{k(dcm.PatientName, "*")}, want: all},
		{name: "patient id", level: PatientLevel, keys: []Key{k(dcm.PatientID, "9434765919")}, want: oneOf(getPatientID, "9434765919")},
		{name: "patient id list", level: PatientLevel, keys: []Key{k(dcm.PatientID, `9434765919\4010232137\0000000000`)}, want: oneOf(getPatientID, "9434765919", "4010232137")},
		{name: "patient id wildcard", level: PatientLevel, keys: []Key{k(dcm.PatientID, "9434*")}, want: func(sp synth.Spec) bool { return strings.HasPrefix(sp.PatientID, "9434") }},
		{name: "patient id ?", level: PatientLevel, keys: []Key{k(dcm.PatientID, "999000111?")}, want: func(sp synth.Spec) bool { return strings.HasPrefix(sp.PatientID, "999000111") }},
		{name: "patient name prefix", level: PatientLevel, keys: []Key{k(dcm.PatientName, "smith*")}, want: nameLike(`^SMITH`)},
		{name: "patient name accent-insensitive", level: PatientLevel, keys: []Key{k(dcm.PatientName, "muller*")}, want: nameLike(`^MULLER`)},
		{name: "patient name apostrophe", level: PatientLevel, keys: []Key{k(dcm.PatientName, "o'b*")}, want: nameLike(`^O'B`)},
		{name: "patient unknown id", level: PatientLevel, keys: []Key{k(dcm.PatientID, "0000000000")}, none: true},

		// STUDY
		{name: "study universal", level: StudyLevel, want: all},
		{name: "study universal empty keys", level: StudyLevel, keys: []Key{k(dcm.PatientName, ""), k(dcm.StudyDate, ""), k(dcm.AccessionNumber, "")}, want: all},
		{name: "study uid", level: StudyLevel, keys: []Key{k(dcm.StudyInstanceUID, st(4))}, want: oneOf(getStudy, st(4))},
		{name: "study uid list", level: StudyLevel, keys: []Key{k(dcm.StudyInstanceUID, st(2)+`\`+st(11)+`\1.2.3.4\`+st(15))}, want: oneOf(getStudy, st(2), st(11), st(15))},
		{name: "accession", level: StudyLevel, keys: []Key{k(dcm.AccessionNumber, "R0000000003")}, want: oneOf(getAcc, "R0000000003")},
		{name: "accession list", level: StudyLevel, keys: []Key{k(dcm.AccessionNumber, `R0000000003\R0000000012`)}, want: oneOf(getAcc, "R0000000003", "R0000000012")},
		{name: "accession ?", level: StudyLevel, keys: []Key{k(dcm.AccessionNumber, "R000000001?")}, want: func(sp synth.Spec) bool { return regexp.MustCompile(`^R000000001.$`).MatchString(sp.AccessionNumber) }},
		{name: "accession suffix", level: StudyLevel, keys: []Key{k(dcm.AccessionNumber, "*5")}, want: func(sp synth.Spec) bool { return strings.HasSuffix(sp.AccessionNumber, "5") }},
		{name: "accession empty value", level: StudyLevel, keys: []Key{k(dcm.AccessionNumber, `""`)}, want: oneOf(getAcc, "")},
		{name: "accession unknown", level: StudyLevel, keys: []Key{k(dcm.AccessionNumber, "R9999999999")}, none: true},
		{name: "name prefix", level: StudyLevel, keys: []Key{k(dcm.PatientName, "smith*")}, want: nameLike(`^SMITH`)},
		{name: "name prefix with caret", level: StudyLevel, keys: []Key{k(dcm.PatientName, "SMITH^*")}, want: nameLike(`^SMITH\^`)},
		{name: "name prefix given name", level: StudyLevel, keys: []Key{k(dcm.PatientName, "smith^j*")}, want: nameLike(`^SMITH\^J`)},
		{name: "name exact accented", level: StudyLevel, keys: []Key{k(dcm.PatientName, "müller^josé")}, want: nameLike(`^MULLER\^JOSE$`)},
		{name: "name exact folded", level: StudyLevel, keys: []Key{k(dcm.PatientName, "MULLER^JOSE")}, want: nameLike(`^MULLER\^JOSE$`)},
		{name: "name exact is not prefix", level: StudyLevel, keys: []Key{k(dcm.PatientName, "SMITH")}, none: true},
		{name: "name ? wildcard", level: StudyLevel, keys: []Key{k(dcm.PatientName, "?mith^*")}, want: nameLike(`^.MITH\^`)},
		{name: "name infix", level: StudyLevel, keys: []Key{k(dcm.PatientName, "*JONES*")}, want: nameLike(`JONES`)},
		{name: "name accented prefix", level: StudyLevel, keys: []Key{k(dcm.PatientName, "MÜL*")}, want: nameLike(`^MUL`)},
		{name: "fuzzy one word", level: StudyLevel, fuzzy: true, keys: []Key{k(dcm.PatientName, "jones")}, want: fuzzyName("jones")},
		{name: "fuzzy without fuzzy", level: StudyLevel, keys: []Key{k(dcm.PatientName, "jones")}, none: true},
		{name: "fuzzy two words any order", level: StudyLevel, fuzzy: true, keys: []Key{k(dcm.PatientName, "jo smi")}, want: fuzzyName("jo smi")},
		{name: "fuzzy given then family", level: StudyLevel, fuzzy: true, keys: []Key{k(dcm.PatientName, "ann smith")}, want: fuzzyName("ann smith")},
		{name: "fuzzy hyphenated query", level: StudyLevel, fuzzy: true, keys: []Key{k(dcm.PatientName, "smith-jones")}, want: fuzzyName("smith-jones")},
		{name: "fuzzy accent", level: StudyLevel, fuzzy: true, keys: []Key{k(dcm.PatientName, "jos mül")}, want: fuzzyName("jos mül")},
		{name: "fuzzy no match", level: StudyLevel, fuzzy: true, keys: []Key{k(dcm.PatientName, "smith xavier")}, none: true},
		{name: "date single", level: StudyLevel, keys: []Key{k(dcm.StudyDate, "20250312")}, want: dateIn("20250312", "20250312")},
		{name: "date range 2024", level: StudyLevel, keys: []Key{k(dcm.StudyDate, "20240101-20241231")}, want: dateIn("20240101", "20241231")},
		{name: "date open start", level: StudyLevel, keys: []Key{k(dcm.StudyDate, "-20240630")}, want: dateIn("", "20240630")},
		{name: "date open end", level: StudyLevel, keys: []Key{k(dcm.StudyDate, "20260101-")}, want: dateIn("20260101", "")},
		{name: "date one day range", level: StudyLevel, keys: []Key{k(dcm.StudyDate, "20250101-20250101")}, want: dateIn("20250101", "20250101")},
		{name: "date list", level: StudyLevel, keys: []Key{k(dcm.StudyDate, `20240115\20261231`)}, want: oneOf(func(sp synth.Spec) string { return sp.StudyDate }, "20240115", "20261231")},
		{name: "date none", level: StudyLevel, keys: []Key{k(dcm.StudyDate, "20230101-20231231")}, none: true},
		{name: "modalities PX", level: StudyLevel, keys: []Key{k(dcm.ModalitiesInStudy, "PX")}, want: oneOf(getModality, "PX")},
		{name: "modalities IO", level: StudyLevel, keys: []Key{k(dcm.ModalitiesInStudy, "IO")}, want: oneOf(getModality, "IO")},
		{name: "modalities list", level: StudyLevel, keys: []Key{k(dcm.ModalitiesInStudy, `IO\PX`)}, want: all},
		{name: "description wildcard", level: StudyLevel, keys: []Key{k(dcm.StudyDescription, "*ano*")}, want: oneOf(getDesc, "Panoramic")},
		{name: "description is case-sensitive", level: StudyLevel, keys: []Key{k(dcm.StudyDescription, "periapical")}, none: true},
		{name: "combined name date modality", level: StudyLevel, keys: []Key{k(dcm.PatientName, "smith*"), k(dcm.StudyDate, "20250101-"), k(dcm.ModalitiesInStudy, "PX")},
			want: and(nameLike(`^SMITH`), dateIn("20250101", ""), studyHas(oneOf(getModality, "PX")))},
		{name: "patient id and date", level: StudyLevel, keys: []Key{k(dcm.PatientID, "9434765919"), k(dcm.StudyDate, "-20251231")},
			want: and(oneOf(getPatientID, "9434765919"), dateIn("", "20251231"))},

		// SERIES
		{name: "series universal", level: SeriesLevel, want: all},
		{name: "series modality PX", level: SeriesLevel, keys: []Key{k(dcm.Modality, "PX")}, want: oneOf(getModality, "PX")},
		{name: "series modality IO", level: SeriesLevel, keys: []Key{k(dcm.Modality, "IO")}, want: oneOf(getModality, "IO")},
		{name: "series modality wildcard", level: SeriesLevel, keys: []Key{k(dcm.Modality, "P?")}, want: oneOf(getModality, "PX")},
		{name: "series modality and name", level: SeriesLevel, keys: []Key{k(dcm.Modality, "PX"), k(dcm.PatientName, "smith*")}, want: and(oneOf(getModality, "PX"), nameLike(`^SMITH`))},
		{name: "series uid list", level: SeriesLevel, keys: []Key{k(dcm.SeriesInstanceUID, st(3)+`.2\`+st(9)+`.3\`+st(9)+`.9`)}, want: oneOf(getSeries, st(3)+".2", st(9)+".3")},
		{name: "series of a study", level: SeriesLevel, keys: []Key{k(dcm.StudyInstanceUID, st(12))}, want: oneOf(getStudy, st(12))},
		{name: "series date range", level: SeriesLevel, keys: []Key{k(dcm.StudyDate, "20250101-20251231")}, want: dateIn("20250101", "20251231")},
		{name: "series number", level: SeriesLevel, keys: []Key{k(dcm.SeriesNumber, "2")}, want: oneOf(getSeriesNo, "2")},
		{name: "series uid and wrong study", level: SeriesLevel, keys: []Key{k(dcm.SeriesInstanceUID, st(3)+".1"), k(dcm.StudyInstanceUID, st(4))}, none: true},

		// IMAGE
		{name: "image universal", level: InstanceLevel, want: all},
		{name: "image sop list", level: InstanceLevel, keys: []Key{k(dcm.SOPInstanceUID, st(5)+`.1.1\`+st(14)+`.3.2\`+st(14)+`.9.9\`+st(1)+".1.1")},
			want: oneOf(getSOP, st(5)+".1.1", st(14)+".3.2", st(1)+".1.1")},
		{name: "image sop and wrong study", level: InstanceLevel, keys: []Key{k(dcm.SOPInstanceUID, st(5)+".1.1"), k(dcm.StudyInstanceUID, st(6))}, none: true},
		{name: "image sop and its series modality", level: InstanceLevel, keys: []Key{k(dcm.SOPInstanceUID, st(5)+`.1.1\`+st(6)+".1.1"), k(dcm.Modality, "IO")},
			want: and(oneOf(getSOP, st(5)+".1.1", st(6)+".1.1"), oneOf(getModality, "IO"))},
		{name: "image series uid", level: InstanceLevel, keys: []Key{k(dcm.SeriesInstanceUID, st(8)+".2")}, want: oneOf(getSeries, st(8)+".2")},
		{name: "image series uid list and instance number", level: InstanceLevel, keys: []Key{k(dcm.SeriesInstanceUID, st(9)+`.2\`+st(3)+".2"), k(dcm.InstanceNumber, "2")},
			want: and(oneOf(getSeries, st(9)+".2", st(3)+".2"), oneOf(getInstNo, "2"))},
		{name: "image accession", level: InstanceLevel, keys: []Key{k(dcm.AccessionNumber, "R0000000003")}, want: oneOf(getAcc, "R0000000003")},
		{name: "image name prefix", level: InstanceLevel, keys: []Key{k(dcm.PatientName, "muller*")}, want: nameLike(`^MULLER`)},
		{name: "image study modalities", level: InstanceLevel, keys: []Key{k(dcm.ModalitiesInStudy, "PX")}, want: studyHas(oneOf(getModality, "PX"))},
		{name: "image modality", level: InstanceLevel, keys: []Key{k(dcm.Modality, "PX")}, want: oneOf(getModality, "PX")},
		{name: "image sop class", level: InstanceLevel, keys: []Key{k(dcm.SOPClassUID, synth.DXForPresentation)}, want: oneOf(getModality, "PX")},
		{name: "image instance number", level: InstanceLevel, keys: []Key{k(dcm.InstanceNumber, "3")}, want: oneOf(getInstNo, "3")},
		{name: "image date and number", level: InstanceLevel, keys: []Key{k(dcm.StudyDate, "-20250312"), k(dcm.InstanceNumber, "1")},
			want: and(dateIn("", "20250312"), oneOf(getInstNo, "1"))},
		{name: "image fuzzy", level: InstanceLevel, fuzzy: true, keys: []Key{k(dcm.PatientName, "jones")}, want: fuzzyName("jones")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want []string
			if !tc.none {
				want = expected(tc.level, specs, tc.want)
				if len(want) == 0 {
					t.Fatal("the oracle expects no match: the case tests nothing")
				}
			}
			ms, more, err := s.Query(ctx, Query{Level: tc.level, Keys: tc.keys, FuzzyNames: tc.fuzzy})
			if err != nil {
				t.Fatal(err)
			}
			if more {
				t.Error("more is set without a limit")
			}
			var got []string
			for _, m := range ms {
				if m.Level != tc.level {
					t.Errorf("match at level %v", m.Level)
				}
				got = append(got, matchIdentity(m))
			}
			sorted := slices.Clone(got)
			slices.Sort(sorted)
			if len(slices.Compact(slices.Clone(sorted))) != len(sorted) {
				t.Errorf("duplicate matches: %v", got)
			}
			if !slices.Equal(sorted, want) {
				t.Errorf("got %d matches %v\nwant %d %v", len(got), got, len(want), want)
			}
			// The same query again gives the same order.
			again, _, err := s.Query(ctx, Query{Level: tc.level, Keys: tc.keys, FuzzyNames: tc.fuzzy})
			if err != nil {
				t.Fatal(err)
			}
			for i := range again {
				if i >= len(ms) || matchIdentity(again[i]) != matchIdentity(ms[i]) {
					t.Fatalf("second run gives another order")
				}
			}
		})
	}
}

// The computed attributes (NumberOf…Related…, ModalitiesInStudy,
// SOPClassesInStudy) and the stored ones come back with every match.
func TestQueryReturnedAttributes(t *testing.T) {
	s, specs := openCorpus(t)
	ctx := context.Background()

	type agg struct {
		instances int
		series    map[string]bool
		studies   map[string]bool
		mods      map[string]bool
		classes   map[string]bool
	}
	newAgg := func() *agg {
		return &agg{series: map[string]bool{}, studies: map[string]bool{}, mods: map[string]bool{}, classes: map[string]bool{}}
	}
	byPatient, byStudy, bySeries := map[string]*agg{}, map[string]*agg{}, map[string]*agg{}
	bySOP := map[string]synth.Spec{}
	for _, sp := range specs {
		for _, x := range []struct {
			m   map[string]*agg
			key string
		}{{byPatient, sp.PatientID}, {byStudy, sp.StudyUID}, {bySeries, sp.SeriesUID}} {
			m, key := x.m, x.key
			a := m[key]
			if a == nil {
				a = newAgg()
				m[key] = a
			}
			a.instances++
			a.series[sp.SeriesUID] = true
			a.studies[sp.StudyUID] = true
			a.mods[sp.Modality] = true
			a.classes[sp.SOPClassUID] = true
		}
		bySOP[sp.SOPInstanceUID] = sp
	}
	sortedKeys := func(m map[string]bool) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	check := func(m Match, tag dcm.Tag, want ...string) {
		t.Helper()
		if got := m.Attrs.Values(tag); !slices.Equal(got, want) {
			t.Errorf("%v %s: %s = %q, want %q", m.Level, matchIdentity(m), tag.Keyword(), got, want)
		}
	}
	n := strconv.Itoa

	pts, _, err := s.Query(ctx, Query{Level: PatientLevel})
	if err != nil || len(pts) != len(corpusPatients) {
		t.Fatalf("%d patients (%v)", len(pts), err)
	}
	for _, m := range pts {
		a := byPatient[m.PatientKey]
		check(m, dcm.NumberOfPatientRelatedStudies, n(len(a.studies)))
		check(m, dcm.NumberOfPatientRelatedSeries, n(len(a.series)))
		check(m, dcm.NumberOfPatientRelatedInstances, n(a.instances))
		check(m, dcm.PatientID, m.PatientKey)
	}

	studies, _, err := s.Query(ctx, Query{Level: StudyLevel})
	if err != nil || len(studies) != len(byStudy) {
		t.Fatalf("%d studies (%v)", len(studies), err)
	}
	for _, m := range studies {
		a := byStudy[m.StudyUID]
		var sp synth.Spec
		for _, x := range specs {
			if x.StudyUID == m.StudyUID {
				sp = x
				break
			}
		}
		check(m, dcm.NumberOfStudyRelatedInstances, n(a.instances))
		check(m, dcm.NumberOfStudyRelatedSeries, n(len(a.series)))
		check(m, dcm.ModalitiesInStudy, sortedKeys(a.mods)...)
		check(m, dcm.SOPClassesInStudy, sortedKeys(a.classes)...)
		check(m, dcm.PatientName, sp.PatientName)
		check(m, dcm.StudyDate, sp.StudyDate)
		check(m, dcm.StudyDescription, sp.StudyDescription)
		if sp.AccessionNumber != "" {
			check(m, dcm.AccessionNumber, sp.AccessionNumber)
		}
	}

	series, _, err := s.Query(ctx, Query{Level: SeriesLevel})
	if err != nil || len(series) != len(bySeries) {
		t.Fatalf("%d series (%v)", len(series), err)
	}
	for _, m := range series {
		a := bySeries[m.SeriesUID]
		check(m, dcm.NumberOfSeriesRelatedInstances, n(a.instances))
		check(m, dcm.Modality, sortedKeys(a.mods)...)
		// Study attributes come with the series.
		check(m, dcm.NumberOfStudyRelatedInstances, n(byStudy[m.StudyUID].instances))
	}

	imgs, _, err := s.Query(ctx, Query{Level: InstanceLevel})
	if err != nil || len(imgs) != len(specs) {
		t.Fatalf("%d instances (%v)", len(imgs), err)
	}
	for _, m := range imgs {
		sp := bySOP[m.SOPInstanceUID]
		check(m, dcm.InstanceNumber, n(sp.InstanceNumber))
		check(m, dcm.SOPClassUID, sp.SOPClassUID)
		check(m, dcm.AvailableTransferSyntaxUID, dcm.ExplicitVRLittleEndian)
		check(m, dcm.Modality, sp.Modality)
		check(m, dcm.PatientID, sp.PatientID)
		check(m, dcm.NumberOfSeriesRelatedInstances, n(bySeries[sp.SeriesUID].instances))
	}
}

// Limit and offset page through matches in a stable order: every match is
// seen once, and more says whether anything is left.
func TestQueryPaging(t *testing.T) {
	s, _ := openCorpus(t)
	ctx := context.Background()
	queries := []Query{
		{Level: InstanceLevel},
		{Level: StudyLevel},
		{Level: SeriesLevel, Keys: []Key{{Tag: dcm.Modality, Value: "IO"}}},
		{Level: InstanceLevel, Keys: []Key{{Tag: dcm.PatientName, Value: "smith*"}}},
		{Level: StudyLevel, Keys: []Key{{Tag: dcm.StudyDate, Value: "20240301-20260301"}}},
		{Level: PatientLevel},
	}
	for _, q := range queries {
		t.Run(fmt.Sprintf("%v %v", q.Level, q.Keys), func(t *testing.T) {
			full, more, err := s.Query(ctx, q)
			if err != nil || more {
				t.Fatalf("full query: more=%v err=%v", more, err)
			}
			if len(full) < 6 {
				t.Fatalf("only %d matches: paging tests little", len(full))
			}
			const limit = 5
			var paged []string
			for off := 0; ; off += limit {
				pq := q
				pq.Limit, pq.Offset = limit, off
				page, more, err := s.Query(ctx, pq)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > limit {
					t.Fatalf("page of %d with limit %d", len(page), limit)
				}
				for _, m := range page {
					paged = append(paged, matchIdentity(m))
				}
				if wantMore := off+limit < len(full); more != wantMore {
					t.Errorf("offset %d: more=%v, want %v", off, more, wantMore)
				}
				if !more {
					break
				}
				if off > len(full) {
					t.Fatal("paging does not end")
				}
			}
			var whole []string
			for _, m := range full {
				whole = append(whole, matchIdentity(m))
			}
			if !slices.Equal(paged, whole) {
				t.Errorf("pages give\n%v\nfull query gives\n%v", paged, whole)
			}
			// An offset past the end is empty, not an error.
			pq := q
			pq.Offset = len(full)
			if ms, more, err := s.Query(ctx, pq); err != nil || len(ms) != 0 || more {
				t.Errorf("offset at the end: %d matches, more=%v, err=%v", len(ms), more, err)
			}
			// A limit equal to the count does not claim more.
			pq = q
			pq.Limit = len(full)
			if ms, more, err := s.Query(ctx, pq); err != nil || len(ms) != len(full) || more {
				t.Errorf("limit = count: %d matches, more=%v, err=%v", len(ms), more, err)
			}
		})
	}
}

// A malformed key is the requester's mistake and says which key.
func TestQueryErrors(t *testing.T) {
	s, _ := openCorpus(t)
	ctx := context.Background()
	for _, tc := range []struct {
		level Level
		key   Key
	}{
		{StudyLevel, Key{Tag: dcm.StudyDate, Value: "2024-13-01"}},
		{StudyLevel, Key{Tag: dcm.StudyDate, Value: "20241301"}},
		{StudyLevel, Key{Tag: dcm.StudyDate, Value: "20250101-20240101"}},
		{SeriesLevel, Key{Tag: dcm.StudyInstanceUID, Value: "1.2.*"}},
		{InstanceLevel, Key{Tag: dcm.InstanceNumber, Value: "one"}},
		{InstanceLevel, Key{Tag: dcm.StudyDate, Value: "yesterday"}},
	} {
		_, _, err := s.Query(ctx, Query{Level: tc.level, Keys: []Key{tc.key}})
		var qe *QueryError
		if !errors.As(err, &qe) {
			t.Errorf("%s=%q: %v, want a *QueryError", tc.key.Tag.Keyword(), tc.key.Value, err)
			continue
		}
		if qe.Tag != tc.key.Tag || !strings.Contains(qe.Error(), tc.key.Tag.Keyword()) {
			t.Errorf("%s=%q: error names %s: %v", tc.key.Tag.Keyword(), tc.key.Value, qe.Tag, qe)
		}
	}
	if _, _, err := s.Query(ctx, Query{Level: 0}); err == nil {
		t.Error("a query without a level succeeded")
	}
	// QueryFunc streams the same matches and stops when fn fails.
	stop := errors.New("enough")
	n := 0
	_, err := s.QueryFunc(ctx, Query{Level: InstanceLevel}, func(Match) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("QueryFunc after fn failed: n=%d err=%v", n, err)
	}
}

// A record that vanishes between the lookups of a query (a delete
// committing meanwhile) drops that entity from the result, not the rest.
func TestQuerySOPListSurvivesVanishedParent(t *testing.T) {
	s := openTestStore(t, Options{})
	ctx := context.Background()
	a := synth.Spec{StudyUID: "1.2.826.0.21.1", SeriesUID: "1.2.826.0.21.1.1", SOPInstanceUID: "1.2.826.0.21.1.1.1"}
	b := synth.Spec{StudyUID: "1.2.826.0.21.2", SeriesUID: "1.2.826.0.21.2.1", SOPInstanceUID: "1.2.826.0.21.2.1.1"}
	c := synth.Spec{StudyUID: "1.2.826.0.21.3", SeriesUID: "1.2.826.0.21.3.1", SOPInstanceUID: "1.2.826.0.21.3.1.1"}
	for _, sp := range []synth.Spec{a, b, c} {
		mustIngest(t, s, mustSynth(t, sp), Stored)
	}
	// The moment a concurrent delete has removed a parent record but the
	// query still holds the SOP lookup it made before: study a's record,
	// series b's record.
	must(t, s.db.Delete(key(tStudy, a.StudyUID), nil))
	must(t, s.db.Delete(key(tSeries, b.StudyUID, b.SeriesUID), nil))
	ms, _, err := s.Query(ctx, Query{Level: InstanceLevel, Keys: []Key{{Tag: dcm.SOPInstanceUID,
		Value: a.SOPInstanceUID + `\` + b.SOPInstanceUID + `\` + c.SOPInstanceUID}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].SOPInstanceUID != c.SOPInstanceUID {
		t.Errorf("got %d matches, want only %s", len(ms), c.SOPInstanceUID)
	}
}

func TestStudy(t *testing.T) {
	s := openTestStore(t, Options{})
	ctx := context.Background()
	sp := synth.Spec{StudyUID: "1.2.826.0.22.1", AccessionNumber: "URNSTUDY01", PatientID: "9990000018", PatientName: "SMITH^OLIVIA"}
	mustIngest(t, s, mustSynth(t, sp), Stored)
	attrs, err := s.Study(ctx, sp.StudyUID)
	if err != nil {
		t.Fatal(err)
	}
	for tag, want := range map[dcm.Tag]string{dcm.AccessionNumber: "URNSTUDY01", dcm.PatientID: "9990000018",
		dcm.PatientName: "SMITH^OLIVIA", dcm.NumberOfStudyRelatedInstances: "1"} {
		if got := attrs.First(tag); got != want {
			t.Errorf("%s: %q, want %q", tag, got, want)
		}
	}
	if _, err := s.Study(ctx, "1.2.826.0.22.2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown study: %v, want ErrNotFound", err)
	}
}
