package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/match"
)

// commitReq is one unit of work for the committer: an instance to add or
// instances to delete.
type commitReq struct {
	add     *pendingInstance
	delete  *deleteTarget
	spilled []uint64 // inline blobs now in their files (spillThroughCommitter)

	res  *Result
	n    int // instances deleted
	err  error
	done chan struct{}
}

type deleteTarget struct{ study, series, sop string }

// maxGroup bounds how many requests share one fsync.
const maxGroup = 256

func (s *Store) commit(ctx context.Context, req *commitReq) (*Result, error) {
	req.done = make(chan struct{})
	err := s.whileOpen(func() error {
		select {
		case s.commits <- req:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if err != nil {
		if req.add != nil {
			s.blobs.Remove(req.add.rec.BlobID)
		}
		return nil, err
	}
	// Once queued the commit happens whatever the caller does, so wait for
	// it: the caller must learn whether the instance is stored.
	<-req.done
	return req.res, req.err
}

// commitLoop is the single writer of the index. Requests that arrive while
// one group is being made durable form the next group, so concurrent
// writers share fsyncs instead of queueing behind each other.
func (s *Store) commitLoop() {
	defer s.wg.Done()
	for {
		var group []*commitReq
		select {
		case req := <-s.commits:
			group = append(group, req)
		case <-s.stop:
			// Drain what was queued before Close.
			for {
				select {
				case req := <-s.commits:
					s.applyGroup([]*commitReq{req})
				default:
					return
				}
			}
		}
	more:
		for len(group) < maxGroup {
			select {
			case req := <-s.commits:
				group = append(group, req)
			default:
				break more
			}
		}
		s.applyGroup(group)
	}
}

func (s *Store) applyGroup(group []*commitReq) {
	defer func() {
		s.counters.count(group)
		for _, req := range group {
			close(req.done)
		}
	}()
	t := s.newTxn()
	defer t.b.Close()
	var newBlobs []uint64
	var inlined int64 // bytes stored in the index
	var err error
	for _, req := range group {
		switch {
		case req.add != nil:
			req.res, req.err = t.add(req.add)
			switch {
			case req.err != nil || req.res.Outcome == AlreadyStored:
				t.discard = append(t.discard, req.add.rec.BlobID)
			case req.add.inline != nil:
				inlined += int64(len(req.add.inline))
			default:
				newBlobs = append(newBlobs, req.add.rec.BlobID)
			}
		case req.spilled != nil:
			req.err = t.spilled(req.spilled)
		case req.delete != nil:
			req.n, req.err = t.deleteTarget(req.delete)
		}
		if _, rejected := IsReject(req.err); req.err != nil && !rejected && !errors.Is(req.err, ErrNotFound) {
			// An I/O error part-way through leaves the group's view
			// inconsistent: commit none of it.
			err = req.err
			break
		}
	}
	if err == nil {
		err = s.blobs.Sync(newBlobs)
	}
	if err == nil {
		err = t.flush()
	}
	if err == nil {
		err = t.b.Commit(pebble.Sync)
	}
	if err != nil {
		err = fmt.Errorf("commit index: %w", err)
		s.log.Error("store commit failed", "err", err, "requests", len(group))
		for _, req := range group {
			if req.err == nil {
				req.err, req.res = err, nil
			}
			if req.add != nil {
				s.blobs.Remove(req.add.rec.BlobID)
			}
		}
		return
	}
	if len(newBlobs) > 0 || inlined > 0 {
		s.feed.published()
	}
	s.spill.committed(inlined)
	// The index no longer needs these blobs; the deletions are recorded
	// under 'D' keys in case the process stops before they happen.
	for _, id := range t.discard {
		s.blobs.Remove(id)
	}
	if len(t.deleted) > 0 {
		if err := s.finishBlobDeletes(t.deleted); err != nil {
			s.log.Error("store: removing deleted blobs", "err", err)
		}
	}
}

// txn accumulates one group's index changes. Records are read through a
// cache so several requests in a group see each other's changes.
type txn struct {
	s        *Store
	b        *pebble.Batch
	patients map[string]*patientRec
	studies  map[string]*studyRec
	series   map[[2]string]*seriesRec
	sops     map[string]*instanceLoc // nil value: deleted in this txn
	dirty    map[string]bool         // keys of records to write at flush
	classes  map[string]bool         // studies whose SOPClasses need recomputing
	deleted  []uint64                // blobs to remove after commit
	discard  []uint64                // blobs never indexed
	inline   map[uint64][]byte       // inline blobs added in this group
	removed  map[uint64]bool         // blobs deleted in this group
}

type instanceLoc struct {
	study, series string
	rec           *instanceRec
}

func (s *Store) newTxn() *txn {
	return &txn{
		s:        s,
		b:        s.db.NewBatch(),
		patients: map[string]*patientRec{},
		studies:  map[string]*studyRec{},
		series:   map[[2]string]*seriesRec{},
		sops:     map[string]*instanceLoc{},
		dirty:    map[string]bool{},
		classes:  map[string]bool{},
		inline:   map[uint64][]byte{},
		removed:  map[uint64]bool{},
	}
}

func (t *txn) patient(k string) (*patientRec, error) {
	if r, ok := t.patients[k]; ok {
		return r, nil
	}
	r, err := getRecord(t.s.view, key(tPatient, k), decodePatient)
	if err != nil {
		return nil, err
	}
	t.patients[k] = r
	return r, nil
}

func (t *txn) study(uid string) (*studyRec, error) {
	if r, ok := t.studies[uid]; ok {
		return r, nil
	}
	r, err := getRecord(t.s.view, key(tStudy, uid), decodeStudy)
	if err != nil {
		return nil, err
	}
	t.studies[uid] = r
	return r, nil
}

func (t *txn) seriesRec(study, series string) (*seriesRec, error) {
	k := [2]string{study, series}
	if r, ok := t.series[k]; ok {
		return r, nil
	}
	r, err := getRecord(t.s.view, key(tSeries, study, series), decodeSeries)
	if err != nil {
		return nil, err
	}
	t.series[k] = r
	return r, nil
}

func (t *txn) instance(sop string) (*instanceLoc, error) {
	if loc, ok := t.sops[sop]; ok {
		return loc, nil
	}
	parts, err := t.s.lookup(tSOP, sop)
	if err != nil || parts == nil {
		return nil, err
	}
	rec, err := getRecord(t.s.view, key(tInstance, parts[0], parts[1], sop), decodeInstance)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, fmt.Errorf("SOP index entry for %s points to a missing instance", sop)
	}
	loc := &instanceLoc{study: parts[0], series: parts[1], rec: rec}
	t.sops[sop] = loc
	return loc, nil
}

func (t *txn) set(k, v []byte) error { return t.b.Set(k, v, nil) }
func (t *txn) del(k []byte) error    { return t.b.Delete(k, nil) }

func (t *txn) add(p *pendingInstance) (*Result, error) {
	res := &Result{
		Outcome: Stored, StudyUID: p.study, SeriesUID: p.series, SOPInstanceUID: p.sop,
		SOPClassUID: p.rec.Attrs.First(dcm.SOPClassUID), TransferSyntax: p.rec.TransferSyntax,
		Size: p.rec.Size, Warnings: p.warnings,
	}
	old, err := t.instance(p.sop)
	if err != nil {
		return nil, err
	}
	if old != nil {
		same := false
		if mayBeSame(old.rec, &p.rec) {
			same = p.sameAs == old.rec.BlobID
			if !same {
				// Stored since ingest looked (two copies sent at
				// once): equal digests are not proof, bytes are.
				if same, err = t.s.sameBytes(old.rec.BlobID, p, t.inline); err != nil {
					return nil, err
				}
			}
		}
		if same {
			res.Outcome = AlreadyStored
			res.StudyUID, res.SeriesUID = old.study, old.series
			return res, nil
		}
		if t.s.policy == RejectDuplicates {
			return nil, &RejectError{Reason: ReasonConflict, Detail: fmt.Sprintf(
				"SOP Instance UID %s is already stored with different content; the archive keeps the first copy", p.sop)}
		}
		if err := t.remove(p.sop, old); err != nil {
			return nil, err
		}
		res.Outcome = Replaced
	}

	st, err := t.study(p.study)
	if err != nil {
		return nil, err
	}
	// A study belongs to the patient of its first instance.
	patientKey := p.patientKey
	if st != nil {
		patientKey = st.PatientKey
	}
	pat, err := t.patient(patientKey)
	if err != nil {
		return nil, err
	}
	if pat == nil {
		pat = &patientRec{Attrs: p.patient}
		t.patients[patientKey] = pat
	}
	if st == nil {
		st = &studyRec{Attrs: p.patient.Merge(p.studyAttrs), PatientKey: patientKey, Received: p.rec.Received}
		t.studies[p.study] = st
		pat.Studies++
		if err := t.indexStudy(p.study, st, t.set); err != nil {
			return nil, err
		}
	}
	se, err := t.seriesRec(p.study, p.series)
	if err != nil {
		return nil, err
	}
	if se == nil {
		se = &seriesRec{Attrs: p.seriesAttrs}
		t.series[[2]string{p.study, p.series}] = se
		st.Series++
		pat.Series++
		if err := t.set(key(tSeriesUID, p.series), key(0, p.study)[1:]); err != nil {
			return nil, err
		}
		if mod := se.Attrs.First(dcm.Modality); mod != "" {
			if err := t.set(indexKey(ixSeriesModality, mod, p.study, p.series), nil); err != nil {
				return nil, err
			}
		}
	}
	if mod := se.Attrs.First(dcm.Modality); mod != "" && !slices.Contains(st.Modalities, mod) {
		st.Modalities = append(st.Modalities, mod)
		slices.Sort(st.Modalities)
		if err := t.set(indexKey(ixStudyModality, mod, p.study), nil); err != nil {
			return nil, err
		}
	}
	if cls := res.SOPClassUID; !slices.Contains(st.SOPClasses, cls) {
		st.SOPClasses = append(st.SOPClasses, cls)
		slices.Sort(st.SOPClasses)
	}
	se.Instances++
	st.Instances++
	pat.Instances++
	t.dirty[string(key(tPatient, patientKey))] = true
	t.dirty[string(key(tStudy, p.study))] = true
	t.dirty[string(key(tSeries, p.study, p.series))] = true

	rec := p.rec
	for _, kv := range []struct{ k, v []byte }{
		{key(tInstance, p.study, p.series, p.sop), rec.encode()},
		{key(tMetadata, p.study, p.series, p.sop), p.json},
		{key(tSOP, p.sop), key(0, p.study, p.series)[1:]},
		{blobKey(tBlob, rec.BlobID), []byte(p.sop)},
		{changeKey(t.s.feed.next()), encodeChange(p.study, p.series, p.sop)},
	} {
		if err := t.set(kv.k, kv.v); err != nil {
			return nil, err
		}
	}
	if p.inline != nil {
		if err := t.set(blobKey(tInlineBlob, rec.BlobID), p.inline); err != nil {
			return nil, err
		}
		t.inline[rec.BlobID] = p.inline
	}
	t.sops[p.sop] = &instanceLoc{study: p.study, series: p.series, rec: &rec}
	return res, nil
}

// indexStudy writes (or, with op = t.del, removes) a study's secondary
// index entries.
func (t *txn) indexStudy(uid string, st *studyRec, op func(k, v []byte) error) error {
	var keys [][]byte
	if v := st.Attrs.First(dcm.AccessionNumber); v != "" {
		keys = append(keys, indexKey(ixAccession, v, uid))
	}
	if v := st.Attrs.First(dcm.PatientID); v != "" {
		keys = append(keys, indexKey(ixPatientID, v, uid))
	}
	if v := st.Attrs.First(dcm.StudyDate); v != "" {
		// The date index holds the form match.Range bounds use.
		if d, ok := match.NormalizeTemporal(dcm.DA, v); ok {
			keys = append(keys, indexKey(ixStudyDate, d, uid))
		}
	}
	for _, name := range nameForms(st.Attrs.First(dcm.PatientName)) {
		keys = append(keys, indexKey(ixPatientName, name, uid))
	}
	for _, w := range nameWords(st.Attrs.First(dcm.PatientName)) {
		keys = append(keys, indexKey(ixNameWord, w, uid))
	}
	for _, m := range st.Modalities {
		keys = append(keys, indexKey(ixStudyModality, m, uid))
	}
	for _, k := range keys {
		if err := op(k, nil); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) delKV(k, _ []byte) error { return t.del(k) }

// remove takes an instance out of the index and schedules its blob for
// deletion; parents whose last child goes are removed too.
func (t *txn) remove(sop string, loc *instanceLoc) error {
	for _, k := range [][]byte{
		key(tInstance, loc.study, loc.series, sop),
		key(tMetadata, loc.study, loc.series, sop),
		key(tSOP, sop),
		blobKey(tBlob, loc.rec.BlobID),
		blobKey(tInlineBlob, loc.rec.BlobID), // if it was not spilled yet
	} {
		if err := t.del(k); err != nil {
			return err
		}
	}
	inline, err := t.isInline(loc.rec.BlobID)
	if err != nil {
		return err
	}
	if !inline {
		// A file to unlink once the index no longer refers to it. (An
		// inline blob has none yet; should the spiller be writing one
		// now, its commit finds the blob unowned and removes it.)
		if err := t.set(blobKey(tDeleteBlob, loc.rec.BlobID), nil); err != nil {
			return err
		}
		t.deleted = append(t.deleted, loc.rec.BlobID)
	}
	t.removed[loc.rec.BlobID] = true
	t.sops[sop] = nil

	st, err := t.study(loc.study)
	if err != nil {
		return err
	}
	se, err := t.seriesRec(loc.study, loc.series)
	if err != nil {
		return err
	}
	if st == nil || se == nil {
		return fmt.Errorf("instance %s has no study or series record", sop)
	}
	pat, err := t.patient(st.PatientKey)
	if err != nil {
		return err
	}
	if pat == nil {
		pat = &patientRec{}
		t.patients[st.PatientKey] = pat
	}
	se.Instances--
	st.Instances--
	pat.Instances--
	t.dirty[string(key(tPatient, st.PatientKey))] = true
	t.dirty[string(key(tStudy, loc.study))] = true
	t.dirty[string(key(tSeries, loc.study, loc.series))] = true
	// The instance may have been the study's last of its SOP class; which
	// is known only once the group's other changes are in, at flush.
	t.classes[loc.study] = true
	if se.Instances > 0 {
		return nil
	}
	// The series is empty.
	t.series[[2]string{loc.study, loc.series}] = nil
	st.Series--
	pat.Series--
	if err := t.del(key(tSeriesUID, loc.series)); err != nil {
		return err
	}
	if mod := se.Attrs.First(dcm.Modality); mod != "" {
		if err := t.del(indexKey(ixSeriesModality, mod, loc.study, loc.series)); err != nil {
			return err
		}
	}
	if st.Instances > 0 {
		return t.refreshModalities(loc.study, st)
	}
	// The study is empty.
	if err := t.indexStudy(loc.study, st, t.delKV); err != nil {
		return err
	}
	t.studies[loc.study] = nil
	pat.Studies--
	return nil
}

// refreshModalities recomputes ModalitiesInStudy from the study's
// remaining series after one was removed.
func (t *txn) refreshModalities(study string, st *studyRec) error {
	present := map[string]bool{}
	prefix := key(tSeries, study)
	err := t.s.scanParts(context.Background(), prefix, 2, func(parts []string, v []byte) error {
		if _, cached := t.series[[2]string{study, parts[1]}]; cached {
			return nil
		}
		r, err := decodeSeries(v)
		if err != nil {
			return err
		}
		present[r.Attrs.First(dcm.Modality)] = true
		return nil
	})
	if err != nil {
		return err
	}
	for k, r := range t.series {
		if k[0] == study && r != nil {
			present[r.Attrs.First(dcm.Modality)] = true
		}
	}
	var mods []string
	for _, m := range st.Modalities {
		if present[m] {
			mods = append(mods, m)
		} else if err := t.del(indexKey(ixStudyModality, m, study)); err != nil {
			return err
		}
	}
	st.Modalities = mods
	return nil
}

// deleteTarget removes a study, a series or one instance.
func (t *txn) deleteTarget(d *deleteTarget) (int, error) {
	if d.sop != "" {
		loc, err := t.instance(d.sop)
		if err != nil {
			return 0, err
		}
		if loc == nil || (d.study != "" && loc.study != d.study) || (d.series != "" && loc.series != d.series) {
			return 0, ErrNotFound
		}
		return 1, t.remove(d.sop, loc)
	}
	prefix := key(tInstance, d.study)
	if d.series != "" {
		prefix = key(tInstance, d.study, d.series)
	}
	type victim struct {
		sop string
		loc *instanceLoc
	}
	var victims []victim
	err := t.s.scanParts(context.Background(), prefix, 3, func(parts []string, v []byte) error {
		// The scan sees the index before this group. An instance the group
		// already touched (deleted, replaced, moved) is taken from the
		// cache below instead, or its old record would be removed twice.
		if _, cached := t.sops[parts[2]]; cached {
			return nil
		}
		rec, err := decodeInstance(v)
		if err != nil {
			return err
		}
		victims = append(victims, victim{parts[2], &instanceLoc{study: parts[0], series: parts[1], rec: rec}})
		return nil
	})
	if err != nil {
		return 0, err
	}
	// Instances added or moved here earlier in the group are not in the
	// scan; sorted so the removal order does not depend on map order.
	var added []victim
	for sop, loc := range t.sops {
		if loc != nil && loc.study == d.study && (d.series == "" || loc.series == d.series) {
			added = append(added, victim{sop, loc})
		}
	}
	slices.SortFunc(added, func(a, b victim) int { return strings.Compare(a.sop, b.sop) })
	victims = append(victims, added...)
	if len(victims) == 0 {
		return 0, ErrNotFound
	}
	for _, v := range victims {
		if err := t.remove(v.sop, v.loc); err != nil {
			return 0, err
		}
	}
	return len(victims), nil
}

// studyClasses returns the sorted SOP Class UIDs of a study's instances as
// they stand after this txn. It reads every instance record of the study,
// which only removals pay for.
func (t *txn) studyClasses(study string) ([]string, error) {
	var out []string
	note := func(rec *instanceRec) {
		if c := rec.Attrs.First(dcm.SOPClassUID); !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	prefix := key(tInstance, study)
	err := t.s.scanParts(context.Background(), prefix, 3, func(parts []string, v []byte) error {
		if _, cached := t.sops[parts[2]]; cached {
			return nil // deleted, moved or rewritten here: see below
		}
		rec, err := decodeInstance(v)
		if err != nil {
			return err
		}
		note(rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, loc := range t.sops {
		if loc != nil && loc.study == study {
			note(loc.rec)
		}
	}
	slices.Sort(out)
	return out, nil
}

// flush writes every record the group changed.
func (t *txn) flush() error {
	for study := range t.classes {
		if st := t.studies[study]; st != nil && st.Instances > 0 {
			classes, err := t.studyClasses(study)
			if err != nil {
				return err
			}
			st.SOPClasses = classes
		}
	}
	for k := range t.dirty {
		kb := []byte(k)
		table, parts, err := decodeKey(kb)
		if err != nil {
			return err
		}
		var v []byte
		switch table {
		case tPatient:
			if r := t.patients[parts[0]]; r != nil && r.Studies > 0 {
				v = r.encode()
			}
		case tStudy:
			if r := t.studies[parts[0]]; r != nil && r.Instances > 0 {
				v = r.encode()
			}
		case tSeries:
			if r := t.series[[2]string{parts[0], parts[1]}]; r != nil && r.Instances > 0 {
				v = r.encode()
			}
		}
		if v == nil {
			err = t.del(kb)
		} else {
			err = t.set(kb, v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ErrNotFound is returned when the requested study, series, instance or
// frame is not in the archive.
var ErrNotFound = errors.New("not found")

// nameForms returns the normalised forms of each component group of a
// person name, for the full-name index.
func nameForms(pn string) []string {
	var out []string
	for _, g := range splitGroups(pn) {
		if n := match.NormalizeName(g); n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// nameWords returns each normalised word of a person name, for fuzzy
// matching ("jo smi" finds SMITH^JOHN).
func nameWords(pn string) []string {
	var out []string
	for _, g := range splitGroups(pn) {
		for _, w := range strings.FieldsFunc(match.NormalizeName(g), isNameSeparator) {
			if !slices.Contains(out, w) {
				out = append(out, w)
			}
		}
	}
	return out
}

// isNameSeparator splits person names into the words fuzzy matching
// compares: components, spaces and hyphens ("SMITH-JONES" has JONES).
func isNameSeparator(r rune) bool { return r == '^' || r == ' ' || r == '-' }

// splitGroups returns the non-empty component groups of a person name
// (alphabetic, ideographic, phonetic).
func splitGroups(pn string) []string {
	var out []string
	for _, g := range strings.Split(pn, "=") {
		if g != "" {
			out = append(out, g)
		}
	}
	return out
}
