package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/match"
)

// Level is a query/retrieve level.
type Level int

// Query levels, top to bottom.
const (
	PatientLevel Level = iota + 1
	StudyLevel
	SeriesLevel
	InstanceLevel
)

func (l Level) String() string {
	switch l {
	case PatientLevel:
		return "PATIENT"
	case StudyLevel:
		return "STUDY"
	case SeriesLevel:
		return "SERIES"
	case InstanceLevel:
		return "IMAGE"
	}
	return "UNKNOWN"
}

// ParseLevel reads a Query/Retrieve Level (0008,0052) value.
func ParseLevel(s string) (Level, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "PATIENT":
		return PatientLevel, nil
	case "STUDY":
		return StudyLevel, nil
	case "SERIES":
		return SeriesLevel, nil
	case "IMAGE", "INSTANCE":
		return InstanceLevel, nil
	}
	return 0, fmt.Errorf("unknown query/retrieve level %q", s)
}

// Key is one matching key: a tag and a value in the PS3.4 C.2.2.2 forms.
// An empty value is universal matching (a return key only).
type Key struct {
	Tag   dcm.Tag
	VR    dcm.VR // 0: the dictionary's
	Value string
}

// Query is what C-FIND and QIDO-RS both compile to.
type Query struct {
	Level Level
	Keys  []Key
	// FuzzyNames turns on QIDO fuzzy person-name matching.
	FuzzyNames bool
	// Offset skips that many matches; Limit (0: no limit) caps the rest.
	Limit, Offset int
}

// Match is one entity that satisfied a query, with every attribute the
// index holds for it and its parents, and the computed ones
// (NumberOf…Related…, ModalitiesInStudy, …).
type Match struct {
	Level          Level
	PatientKey     string
	StudyUID       string
	SeriesUID      string
	SOPInstanceUID string
	Attrs          dcm.Attrs
}

// QueryError is a bad matching key, reported to the requester as such.
type QueryError struct {
	Tag dcm.Tag
	Err error
}

func (e *QueryError) Error() string {
	name := e.Tag.Keyword()
	if name == "" {
		name = e.Tag.String()
	}
	return fmt.Sprintf("%s: %v", name, e.Err)
}

func (e *QueryError) Unwrap() error { return e.Err }

// The level at which each matchable attribute lives.
var tagLevels = func() map[dcm.Tag]Level {
	m := map[dcm.Tag]Level{}
	for _, l := range []struct {
		level Level
		tags  []dcm.Tag
	}{
		{PatientLevel, patientTags},
		{PatientLevel, []dcm.Tag{dcm.NumberOfPatientRelatedStudies, dcm.NumberOfPatientRelatedSeries, dcm.NumberOfPatientRelatedInstances}},
		{StudyLevel, studyTags},
		{StudyLevel, []dcm.Tag{dcm.ModalitiesInStudy, dcm.SOPClassesInStudy, dcm.NumberOfStudyRelatedSeries, dcm.NumberOfStudyRelatedInstances}},
		{SeriesLevel, seriesTags},
		{SeriesLevel, []dcm.Tag{dcm.NumberOfSeriesRelatedInstances}},
		{InstanceLevel, instanceTags},
		{InstanceLevel, []dcm.Tag{dcm.AvailableTransferSyntaxUID}},
	} {
		for _, t := range l.tags {
			m[t] = l.level
		}
	}
	return m
}()

// AttributeLevel reports the level an attribute belongs to, and whether
// the index can match on it at all.
func AttributeLevel(t dcm.Tag) (Level, bool) {
	l, ok := tagLevels[t]
	return l, ok
}

type compiledKey struct {
	tag   dcm.Tag
	level Level
	m     *match.Matcher
}

// Query runs q and returns its matches and whether more were cut off by
// the limit.
func (s *Store) Query(ctx context.Context, q Query) ([]Match, bool, error) {
	var out []Match
	more, err := s.QueryFunc(ctx, q, func(m Match) error {
		out = append(out, m)
		return nil
	})
	return out, more, err
}

// Study returns one study's attributes with its patient's, as a study-level
// query returns them, or ErrNotFound: what an audit record or a page
// heading needs (the URN, the NHS number) for a study it has the UID of.
func (s *Store) Study(ctx context.Context, uid string) (dcm.Attrs, error) {
	var attrs dcm.Attrs
	q := Query{Level: StudyLevel, Keys: []Key{{Tag: dcm.StudyInstanceUID, Value: uid}}, Limit: 1}
	if _, err := s.QueryFunc(ctx, q, func(m Match) error { attrs = m.Attrs; return nil }); err != nil {
		return nil, fmt.Errorf("study %s: %w", uid, err)
	}
	if attrs == nil {
		return nil, fmt.Errorf("study %s: %w", uid, ErrNotFound)
	}
	return attrs, nil
}

// errStop ends a scan early without an error.
var errStop = errors.New("stop")

// QueryFunc calls fn for each match in order, so a C-FIND can stream
// pending responses. It returns whether more matches exist beyond the limit.
func (s *Store) QueryFunc(ctx context.Context, q Query, fn func(Match) error) (bool, error) {
	if q.Level < PatientLevel || q.Level > InstanceLevel {
		return false, fmt.Errorf("query: bad level %d", q.Level)
	}
	var keys []compiledKey
	for _, k := range q.Keys {
		if k.Value == "" {
			continue
		}
		level, ok := tagLevels[k.Tag]
		if !ok {
			// PS3.4 C.2.2.1.2: an SCP may ignore matching on optional keys
			// it does not support; they come back empty.
			continue
		}
		vr := k.VR
		if vr == 0 {
			vr = dcm.DictionaryVR(k.Tag)
		}
		m, err := match.Compile(vr, k.Value, q.FuzzyNames && vr == dcm.PN)
		if err != nil {
			return false, &QueryError{Tag: k.Tag, Err: err}
		}
		if m.Universal() {
			continue
		}
		keys = append(keys, compiledKey{tag: k.Tag, level: level, m: m})
	}
	// One snapshot per query: a group committing meanwhile is seen whole
	// or not at all.
	snap := s.db.NewSnapshot()
	defer snap.Close()
	r := &queryRun{v: view{rd: snap}, ctx: ctx, q: q, keys: keys, fn: fn}
	err := r.run()
	if errors.Is(err, errStop) {
		err = nil
	}
	return r.more, err
}

type queryRun struct {
	v    view
	ctx  context.Context
	q    Query
	keys []compiledKey
	fn   func(Match) error

	seen int // matches at the query level so far
	more bool
}

// emit applies offset and limit.
func (r *queryRun) emit(m Match) error {
	r.seen++
	if r.seen <= r.q.Offset {
		return nil
	}
	if r.q.Limit > 0 && r.seen > r.q.Offset+r.q.Limit {
		r.more = true
		return errStop
	}
	return r.fn(m)
}

// matches checks the keys that apply at levels lo..hi against attrs.
func (r *queryRun) matches(attrs dcm.Attrs, lo, hi Level) bool {
	for _, k := range r.keys {
		if k.level >= lo && k.level <= hi && !k.m.Match(attrs.Values(k.tag)) {
			return false
		}
	}
	return true
}

func (r *queryRun) keyFor(t dcm.Tag) *match.Matcher {
	for _, k := range r.keys {
		if k.tag == t {
			return k.m
		}
	}
	return nil
}

func (r *queryRun) run() error {
	switch r.q.Level {
	case PatientLevel:
		return r.runPatients()
	case SeriesLevel:
		if uids, ok := r.exact(dcm.SeriesInstanceUID); ok {
			return r.runSeriesUIDs(uids)
		}
		if mods, ok := r.exact(dcm.Modality); ok && !r.hasStudyIndex() {
			return r.runSeriesByModality(mods)
		}
	case InstanceLevel:
		if uids, ok := r.exact(dcm.SOPInstanceUID); ok {
			return r.runSOPUIDs(uids)
		}
		if uids, ok := r.exact(dcm.SeriesInstanceUID); ok {
			return r.runSeriesUIDs(uids) // descends to the instances
		}
	}
	studies, indexed, err := r.candidateStudies()
	if err != nil {
		return err
	}
	if !indexed {
		prefix := []byte{tStudy}
		return r.v.scanParts(r.ctx, prefix, 1, func(parts []string, v []byte) error {
			st, err := decodeStudy(v)
			if err != nil {
				return err
			}
			return r.visitStudy(parts[0], st)
		})
	}
	for _, uid := range studies {
		st, err := getRecord(r.v, key(tStudy, uid), decodeStudy)
		if err != nil {
			return err
		}
		if st == nil {
			continue
		}
		if err := r.visitStudy(uid, st); err != nil {
			return err
		}
	}
	return nil
}

func (r *queryRun) exact(t dcm.Tag) ([]string, bool) {
	m := r.keyFor(t)
	if m == nil {
		return nil, false
	}
	return m.Exact()
}

// hasStudyIndex reports whether a study-level key can narrow the search.
func (r *queryRun) hasStudyIndex() bool {
	for _, t := range []dcm.Tag{dcm.StudyInstanceUID, dcm.AccessionNumber, dcm.PatientID, dcm.PatientName} {
		if m := r.keyFor(t); m != nil {
			if _, ok := m.Exact(); ok {
				return true
			}
			if _, ok := m.Prefix(); ok {
				return true
			}
		}
	}
	return false
}

// candidateStudies uses the most selective indexed key to list the
// studies that may match, sorted. indexed is false when no key helps and
// every study must be visited.
func (r *queryRun) candidateStudies() ([]string, bool, error) {
	if uids, ok := r.exact(dcm.StudyInstanceUID); ok {
		slices.Sort(uids)
		return slices.Compact(uids), true, nil
	}
	for _, ix := range []struct {
		tag  dcm.Tag
		name string
	}{
		{dcm.AccessionNumber, ixAccession},
		{dcm.PatientID, ixPatientID},
		{dcm.PatientName, ixPatientName},
	} {
		m := r.keyFor(ix.tag)
		if m == nil {
			continue
		}
		if vals, ok := m.Exact(); ok {
			var out []string
			for _, v := range vals {
				got, err := r.indexScan(ix.name, v, false)
				if err != nil {
					return nil, false, err
				}
				out = append(out, got...)
			}
			return sortedUnique(out), true, nil
		}
		if p, ok := m.Prefix(); ok && p != "" {
			got, err := r.indexScan(ix.name, p, true)
			return sortedUnique(got), true, err
		}
	}
	if r.q.FuzzyNames {
		if m := r.keyFor(dcm.PatientName); m != nil {
			if word := fuzzyAnchor(r.q.Keys); word != "" {
				got, err := r.indexScan(ixNameWord, word, true)
				return sortedUnique(got), true, err
			}
		}
	}
	if m := r.keyFor(dcm.StudyDate); m != nil {
		if lo, hi, ok := m.Range(); ok && (lo != "" || hi != "") {
			got, err := r.dateScan(lo, hi)
			return sortedUnique(got), true, err
		}
	}
	if m := r.keyFor(dcm.ModalitiesInStudy); m != nil {
		if vals, ok := m.Exact(); ok {
			var out []string
			for _, v := range vals {
				got, err := r.indexScan(ixStudyModality, v, false)
				if err != nil {
					return nil, false, err
				}
				out = append(out, got...)
			}
			return sortedUnique(out), true, nil
		}
	}
	return nil, false, nil
}

// fuzzyAnchor picks the longest literal word of the PatientName query to
// scan the name-word index with.
func fuzzyAnchor(keys []Key) string {
	for _, k := range keys {
		if k.Tag != dcm.PatientName {
			continue
		}
		best := ""
		for _, w := range strings.FieldsFunc(match.NormalizeName(k.Value), func(r rune) bool { return isNameSeparator(r) || r == '=' }) {
			if i := strings.IndexAny(w, "*?"); i >= 0 {
				w = w[:i]
			}
			if len(w) > len(best) {
				best = w
			}
		}
		return best
	}
	return ""
}

func sortedUnique(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// indexScan returns the study UIDs of index entries equal to value, or
// starting with it when prefix is set.
func (r *queryRun) indexScan(name, value string, prefix bool) ([]string, error) {
	var from []byte
	if prefix {
		from = indexPrefix(name, value)
	} else {
		from = key(tIndex, name, value)
	}
	var out []string
	err := r.v.scan(r.ctx, from, prefixEnd(from), func(k, _ []byte) error {
		_, parts, err := decodeKey(k)
		if err != nil || len(parts) < 3 {
			return fmt.Errorf("corrupt index key %q", k)
		}
		out = append(out, parts[2])
		return nil
	})
	return out, err
}

func (r *queryRun) dateScan(lo, hi string) ([]string, error) {
	base := key(tIndex, ixStudyDate)
	from := indexPrefix(ixStudyDate, lo)
	to := prefixEnd(base)
	if hi != "" {
		to = prefixEnd(indexPrefix(ixStudyDate, hi))
	}
	var out []string
	err := r.v.scan(r.ctx, from, to, func(k, _ []byte) error {
		_, parts, err := decodeKey(k)
		if err != nil || len(parts) < 3 {
			return fmt.Errorf("corrupt index key %q", k)
		}
		out = append(out, parts[2])
		return nil
	})
	return out, err
}

func (r *queryRun) visitStudy(uid string, st *studyRec) error {
	attrs := studyAttrs(st)
	if !r.matches(attrs, PatientLevel, StudyLevel) {
		return nil
	}
	if r.q.Level == StudyLevel {
		return r.emit(Match{Level: StudyLevel, PatientKey: st.PatientKey, StudyUID: uid, Attrs: attrs})
	}
	if r.q.Level == InstanceLevel {
		return r.visitStudyInstances(uid, st, attrs)
	}
	prefix := key(tSeries, uid)
	return r.v.scanParts(r.ctx, prefix, 2, func(parts []string, v []byte) error {
		se, err := decodeSeries(v)
		if err != nil {
			return err
		}
		return r.visitSeries(st, attrs, uid, parts[1], se)
	})
}

// visitStudyInstances reads a study's series and then its instances in two
// scans, rather than one scan per series: a referral's films are a handful
// of series, and each seek costs more the larger the index.
func (r *queryRun) visitStudyInstances(uid string, st *studyRec, stAttrs dcm.Attrs) error {
	type seriesMatch struct {
		attrs dcm.Attrs
		ok    bool
	}
	series := map[string]seriesMatch{}
	prefix := key(tSeries, uid)
	err := r.v.scanParts(r.ctx, prefix, 2, func(parts []string, v []byte) error {
		se, err := decodeSeries(v)
		if err != nil {
			return err
		}
		attrs := stAttrs.Merge(seriesAttrs(se))
		series[parts[1]] = seriesMatch{attrs, r.matches(attrs, SeriesLevel, SeriesLevel)}
		return nil
	})
	if err != nil {
		return err
	}
	prefix = key(tInstance, uid)
	return r.v.scanParts(r.ctx, prefix, 3, func(parts []string, v []byte) error {
		sm, found := series[parts[1]]
		if !found || !sm.ok {
			return nil
		}
		rec, err := decodeInstance(v)
		if err != nil {
			return err
		}
		return r.visitInstance(st, sm.attrs, uid, parts[1], parts[2], rec)
	})
}

func (r *queryRun) visitSeries(st *studyRec, parent dcm.Attrs, study, series string, se *seriesRec) error {
	attrs := parent.Merge(seriesAttrs(se))
	if !r.matches(attrs, SeriesLevel, SeriesLevel) {
		return nil
	}
	if r.q.Level == SeriesLevel {
		return r.emit(Match{Level: SeriesLevel, PatientKey: st.PatientKey, StudyUID: study, SeriesUID: series, Attrs: attrs})
	}
	prefix := key(tInstance, study, series)
	return r.v.scanParts(r.ctx, prefix, 3, func(parts []string, v []byte) error {
		rec, err := decodeInstance(v)
		if err != nil {
			return err
		}
		return r.visitInstance(st, attrs, study, series, parts[2], rec)
	})
}

func (r *queryRun) visitInstance(st *studyRec, parent dcm.Attrs, study, series, sop string, rec *instanceRec) error {
	attrs := parent.Merge(instanceAttrs(rec))
	if !r.matches(attrs, InstanceLevel, InstanceLevel) {
		return nil
	}
	return r.emit(Match{Level: InstanceLevel, PatientKey: st.PatientKey, StudyUID: study, SeriesUID: series, SOPInstanceUID: sop, Attrs: attrs})
}

func (r *queryRun) runSeriesUIDs(uids []string) error {
	var refs []seriesRef
	for _, u := range uids {
		parts, err := r.v.lookup(tSeriesUID, u)
		if err != nil {
			return err
		}
		if parts != nil {
			refs = append(refs, seriesRef{parts[0], u})
		}
	}
	refs = sortSeriesRefs(refs)
	return r.visitSeriesRefs(refs)
}

func (r *queryRun) runSeriesByModality(mods []string) error {
	var refs []seriesRef
	for _, m := range mods {
		from := key(tIndex, ixSeriesModality, m)
		err := r.v.scanParts(r.ctx, from, 4, func(parts []string, _ []byte) error {
			refs = append(refs, seriesRef{parts[2], parts[3]})
			return nil
		})
		if err != nil {
			return err
		}
	}
	refs = sortSeriesRefs(refs)
	return r.visitSeriesRefs(refs)
}

// seriesRef names a series and its study.
type seriesRef struct{ study, series string }

// sortSeriesRefs puts refs in index order, without repeats.
func sortSeriesRefs(refs []seriesRef) []seriesRef {
	slices.SortFunc(refs, func(a, b seriesRef) int {
		if c := strings.Compare(a.study, b.study); c != 0 {
			return c
		}
		return strings.Compare(a.series, b.series)
	})
	return slices.Compact(refs)
}

// visitSeriesRefs visits known series, loading each study record once.
func (r *queryRun) visitSeriesRefs(refs []seriesRef) error {
	var lastStudy string
	var st *studyRec
	var stAttrs dcm.Attrs
	for _, ref := range refs {
		study, series := ref.study, ref.series
		if study != lastStudy || st == nil {
			var err error
			if st, err = getRecord(r.v, key(tStudy, study), decodeStudy); err != nil {
				return err
			}
			if st == nil {
				continue
			}
			stAttrs = studyAttrs(st)
			lastStudy = study
		}
		if !r.matches(stAttrs, PatientLevel, StudyLevel) {
			continue
		}
		se, err := getRecord(r.v, key(tSeries, study, series), decodeSeries)
		if err != nil {
			return err
		}
		if se == nil {
			continue
		}
		if err := r.visitSeries(st, stAttrs, study, series, se); err != nil {
			return err
		}
	}
	return nil
}

func (r *queryRun) runSOPUIDs(uids []string) error {
	slices.Sort(uids)
	uids = slices.Compact(uids)
	type ref struct{ study, series, sop string }
	var refs []ref
	for _, u := range uids {
		parts, err := r.v.lookup(tSOP, u)
		if err != nil {
			return err
		}
		if parts != nil {
			refs = append(refs, ref{parts[0], parts[1], u})
		}
	}
	slices.SortFunc(refs, func(a, b ref) int {
		return strings.Compare(a.study+"\x00"+a.series+"\x00"+a.sop, b.study+"\x00"+b.series+"\x00"+b.sop)
	})
	for _, ref := range refs {
		// A record missing here was deleted after the SOP lookup above:
		// leave that instance out, not the rest of the list.
		st, err := getRecord(r.v, key(tStudy, ref.study), decodeStudy)
		if err != nil {
			return err
		}
		if st == nil {
			continue
		}
		attrs := studyAttrs(st)
		if !r.matches(attrs, PatientLevel, StudyLevel) {
			continue
		}
		se, err := getRecord(r.v, key(tSeries, ref.study, ref.series), decodeSeries)
		if err != nil {
			return err
		}
		if se == nil {
			continue
		}
		attrs = attrs.Merge(seriesAttrs(se))
		if !r.matches(attrs, SeriesLevel, SeriesLevel) {
			continue
		}
		rec, err := getRecord(r.v, key(tInstance, ref.study, ref.series, ref.sop), decodeInstance)
		if err != nil {
			return err
		}
		if rec == nil {
			continue
		}
		if err := r.visitInstance(st, attrs, ref.study, ref.series, ref.sop, rec); err != nil {
			return err
		}
	}
	return nil
}

func (r *queryRun) runPatients() error {
	visit := func(pk string, v []byte) error {
		p, err := decodePatient(v)
		if err != nil {
			return err
		}
		attrs := patientAttrs(p)
		if !r.matches(attrs, PatientLevel, PatientLevel) {
			return nil
		}
		return r.emit(Match{Level: PatientLevel, PatientKey: pk, Attrs: attrs})
	}
	if ids, ok := r.exact(dcm.PatientID); ok {
		slices.Sort(ids)
		for _, id := range slices.Compact(ids) {
			v, err := r.v.get(key(tPatient, id))
			if err != nil {
				return err
			}
			if v != nil {
				if err := visit(id, v); err != nil {
					return err
				}
			}
		}
		return nil
	}
	prefix := []byte{tPatient}
	return r.v.scanParts(r.ctx, prefix, 1, func(parts []string, v []byte) error {
		return visit(parts[0], v)
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func patientAttrs(p *patientRec) dcm.Attrs {
	a := append(dcm.Attrs(nil), p.Attrs...)
	a.Set(dcm.NumberOfPatientRelatedStudies, dcm.IS, itoa(p.Studies))
	a.Set(dcm.NumberOfPatientRelatedSeries, dcm.IS, itoa(p.Series))
	a.Set(dcm.NumberOfPatientRelatedInstances, dcm.IS, itoa(p.Instances))
	return a
}

func studyAttrs(st *studyRec) dcm.Attrs {
	a := append(dcm.Attrs(nil), st.Attrs...)
	a.Set(dcm.ModalitiesInStudy, dcm.CS, st.Modalities...)
	a.Set(dcm.SOPClassesInStudy, dcm.UI, st.SOPClasses...)
	a.Set(dcm.NumberOfStudyRelatedSeries, dcm.IS, itoa(st.Series))
	a.Set(dcm.NumberOfStudyRelatedInstances, dcm.IS, itoa(st.Instances))
	return a
}

func seriesAttrs(se *seriesRec) dcm.Attrs {
	a := append(dcm.Attrs(nil), se.Attrs...)
	a.Set(dcm.NumberOfSeriesRelatedInstances, dcm.IS, itoa(se.Instances))
	return a
}

func instanceAttrs(rec *instanceRec) dcm.Attrs {
	a := append(dcm.Attrs(nil), rec.Attrs...)
	a.Set(dcm.AvailableTransferSyntaxUID, dcm.UI, rec.TransferSyntax)
	return a
}
