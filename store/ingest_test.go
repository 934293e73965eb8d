package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// ---- Helpers shared by the store tests ----

// mustSynth returns the Part 10 bytes of a synthetic instance.
func mustSynth(t testing.TB, spec synth.Spec) []byte {
	t.Helper()
	b, err := synth.Bytes(spec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustIngest stores data and fails the test unless the outcome is want.
func mustIngest(t testing.TB, s *Store, data []byte, want Outcome) *Result {
	t.Helper()
	res, err := s.Ingest(context.Background(), bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	if res.Outcome != want {
		t.Fatalf("ingest %s: outcome %v, want %v", res.SOPInstanceUID, res.Outcome, want)
	}
	return res
}

// readBack returns the stored bytes of an instance.
func readBack(t testing.TB, s *Store, sop string) []byte {
	t.Helper()
	in, err := s.OpenInstance(context.Background(), sop)
	if err != nil {
		t.Fatalf("open %s: %v", sop, err)
	}
	defer in.Close()
	b, err := io.ReadAll(in.Reader())
	if err != nil {
		t.Fatalf("read %s: %v", sop, err)
	}
	return b
}

// blobFiles lists every file under dir/blobs, relative to it, after
// having s (if open) write its inline instances out, so that every
// instance has its file.
func blobFiles(t testing.TB, s *Store, dir string) []string {
	t.Helper()
	spillNow(t, s)
	root := filepath.Join(dir, "blobs")
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// spillNow has s write its inline instances to blob files, as it does
// when idle.
func spillNow(t testing.TB, s *Store) {
	t.Helper()
	if s == nil {
		return
	}
	if err := s.spillAll(s.spillThroughCommitter, nil); err != nil {
		t.Fatalf("spill: %v", err)
	}
}

// blobPath returns the file that holds an instance's bytes (written out
// first if it was inline).
func blobPath(t testing.TB, s *Store, sop string) string {
	t.Helper()
	spillNow(t, s)
	in, err := s.OpenInstance(context.Background(), sop)
	if err != nil {
		t.Fatalf("open %s: %v", sop, err)
	}
	in.Close()
	return s.blobs.(*FileBlobs).Path(in.rec.BlobID)
}

// dumpIndex returns every index entry except store metadata (the blob lease
// moves on its own), so tests can assert that an operation changed nothing.
func dumpIndex(t testing.TB, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := s.scan(context.Background(), []byte{0}, []byte{0xFF}, func(k, v []byte) error {
		// Store metadata changes with the lease; inline bytes leave the
		// index when the spiller writes them out, whenever that is.
		if k[0] != tMeta && k[0] != tInlineBlob {
			out[string(k)] = string(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fsckClean fails the test if Fsck finds anything wrong, and returns its
// report.
func fsckClean(t testing.TB, s *Store) *FsckReport {
	t.Helper()
	rep, err := s.Fsck(context.Background(), nil)
	if err != nil {
		t.Fatalf("fsck: %v", err)
	}
	for _, p := range rep.Problems {
		t.Errorf("fsck: %v", p)
	}
	return rep
}

// storedInstance is what checkConsistent learns about one instance.
type storedInstance struct {
	Study, Series string
	Size          int64
	SHA256        [32]byte // of the bytes read back
}

// checkConsistent cross-checks everything the index says against itself
// and the blobs: every instance an IMAGE-level query returns opens and its
// bytes have the recorded size and hash; every count at series, study and
// patient level equals what the instances add up to; ModalitiesInStudy and
// SOPClassesInStudy are the sets of the study's series modalities and
// instance classes; metadata has one object per instance. It returns the instances by SOP Instance UID.
func checkConsistent(t testing.TB, s *Store) map[string]storedInstance {
	t.Helper()
	ctx := context.Background()
	imgs, _, err := s.Query(ctx, Query{Level: InstanceLevel})
	if err != nil {
		t.Fatalf("image query: %v", err)
	}
	out := map[string]storedInstance{}
	type seriesKey struct{ study, series string }
	perSeries := map[seriesKey]int{}
	perStudy := map[string]int{}
	classes := map[string][]string{}
	for _, m := range imgs {
		if c := m.Attrs.First(dcm.SOPClassUID); !slices.Contains(classes[m.StudyUID], c) {
			classes[m.StudyUID] = append(classes[m.StudyUID], c)
		}
		if _, dup := out[m.SOPInstanceUID]; dup {
			t.Errorf("instance %s returned twice", m.SOPInstanceUID)
		}
		in, err := s.OpenInstance(ctx, m.SOPInstanceUID)
		if err != nil {
			t.Errorf("instance %s is listed but does not open: %v", m.SOPInstanceUID, err)
			continue
		}
		data, err := io.ReadAll(in.Reader())
		in.Close()
		if err != nil {
			t.Errorf("read %s: %v", m.SOPInstanceUID, err)
			continue
		}
		if int64(len(data)) != in.Size || digestOf(in.rec.Digest.alg, data) != in.rec.Digest {
			t.Errorf("instance %s: %d bytes on disk, index says %d and another digest", m.SOPInstanceUID, len(data), in.Size)
		}
		if in.StudyUID != m.StudyUID || in.SeriesUID != m.SeriesUID {
			t.Errorf("instance %s: query says %s/%s, open says %s/%s", m.SOPInstanceUID, m.StudyUID, m.SeriesUID, in.StudyUID, in.SeriesUID)
		}
		out[m.SOPInstanceUID] = storedInstance{Study: m.StudyUID, Series: m.SeriesUID, Size: in.Size, SHA256: sha256.Sum256(data)}
		perSeries[seriesKey{m.StudyUID, m.SeriesUID}]++
		perStudy[m.StudyUID]++
	}

	series, _, err := s.Query(ctx, Query{Level: SeriesLevel})
	if err != nil {
		t.Fatalf("series query: %v", err)
	}
	seriesPerStudy := map[string]int{}
	modalities := map[string][]string{}
	for _, m := range series {
		k := seriesKey{m.StudyUID, m.SeriesUID}
		if got, want := m.Attrs.First(dcm.NumberOfSeriesRelatedInstances), strconv.Itoa(perSeries[k]); got != want {
			t.Errorf("series %s: NumberOfSeriesRelatedInstances %s, instances found %s", m.SeriesUID, got, want)
		}
		delete(perSeries, k)
		seriesPerStudy[m.StudyUID]++
		if mod := m.Attrs.First(dcm.Modality); mod != "" && !slices.Contains(modalities[m.StudyUID], mod) {
			modalities[m.StudyUID] = append(modalities[m.StudyUID], mod)
		}
	}
	for k, n := range perSeries {
		t.Errorf("series %s has %d instances but no series-level match", k.series, n)
	}

	studies, _, err := s.Query(ctx, Query{Level: StudyLevel})
	if err != nil {
		t.Fatalf("study query: %v", err)
	}
	type counts struct{ studies, series, instances int }
	perPatient := map[string]*counts{}
	for _, m := range studies {
		if got, want := m.Attrs.First(dcm.NumberOfStudyRelatedInstances), strconv.Itoa(perStudy[m.StudyUID]); got != want {
			t.Errorf("study %s: NumberOfStudyRelatedInstances %s, instances found %s", m.StudyUID, got, want)
		}
		if got, want := m.Attrs.First(dcm.NumberOfStudyRelatedSeries), strconv.Itoa(seriesPerStudy[m.StudyUID]); got != want {
			t.Errorf("study %s: NumberOfStudyRelatedSeries %s, series found %s", m.StudyUID, got, want)
		}
		mods := modalities[m.StudyUID]
		slices.Sort(mods)
		if got := m.Attrs.Values(dcm.ModalitiesInStudy); !slices.Equal(got, mods) {
			t.Errorf("study %s: ModalitiesInStudy %q, series modalities %q", m.StudyUID, got, mods)
		}
		slices.Sort(classes[m.StudyUID])
		if got := m.Attrs.Values(dcm.SOPClassesInStudy); !slices.Equal(got, classes[m.StudyUID]) {
			t.Errorf("study %s: SOPClassesInStudy %q, instances have %q", m.StudyUID, got, classes[m.StudyUID])
		}
		var buf bytes.Buffer
		n, err := s.Metadata(ctx, m.StudyUID, "", "", "", &buf)
		if err != nil || n != perStudy[m.StudyUID] {
			t.Errorf("study %s: metadata of %d instances (err %v), want %d", m.StudyUID, n, err, perStudy[m.StudyUID])
		}
		c := perPatient[m.PatientKey]
		if c == nil {
			c = &counts{}
			perPatient[m.PatientKey] = c
		}
		c.studies++
		c.series += seriesPerStudy[m.StudyUID]
		c.instances += perStudy[m.StudyUID]
		delete(perStudy, m.StudyUID)
	}
	for st, n := range perStudy {
		t.Errorf("study %s has %d instances but no study-level match", st, n)
	}

	patients, _, err := s.Query(ctx, Query{Level: PatientLevel})
	if err != nil {
		t.Fatalf("patient query: %v", err)
	}
	for _, m := range patients {
		c := perPatient[m.PatientKey]
		if c == nil {
			t.Errorf("patient %q has no studies but is still listed", m.PatientKey)
			continue
		}
		for _, x := range []struct {
			tag  dcm.Tag
			want int
		}{
			{dcm.NumberOfPatientRelatedStudies, c.studies},
			{dcm.NumberOfPatientRelatedSeries, c.series},
			{dcm.NumberOfPatientRelatedInstances, c.instances},
		} {
			if got := m.Attrs.First(x.tag); got != strconv.Itoa(x.want) {
				t.Errorf("patient %q: %s %s, want %d", m.PatientKey, x.tag.Keyword(), got, x.want)
			}
		}
		delete(perPatient, m.PatientKey)
	}
	for pk := range perPatient {
		t.Errorf("patient %q has studies but no patient-level match", pk)
	}
	return out
}

// studyMatch returns the study-level match of one study, or nil.
func studyMatch(t testing.TB, s *Store, study string) *Match {
	t.Helper()
	ms, _, err := s.Query(context.Background(), Query{Level: StudyLevel, Keys: []Key{{Tag: dcm.StudyInstanceUID, Value: study}}})
	if err != nil {
		t.Fatal(err)
	}
	switch len(ms) {
	case 0:
		return nil
	case 1:
		return &ms[0]
	}
	t.Fatalf("study %s matched %d times", study, len(ms))
	return nil
}

// datasetOffset returns where the dataset starts in a Part 10 file written
// by synth: after the preamble, "DICM" and the group-length-prefixed meta.
func datasetOffset(t testing.TB, data []byte) int {
	t.Helper()
	if len(data) < 144 || string(data[128:132]) != "DICM" {
		t.Fatal("not a Part 10 file")
	}
	return 144 + int(binary.LittleEndian.Uint32(data[140:144]))
}

// walkDataset calls fn for each top-level element of a synth file's
// dataset (explicit VR little endian, defined lengths) with the offset of
// its value in data.
func walkDataset(t testing.TB, data []byte, fn func(tag dcm.Tag, vr dcm.VR, off int, val []byte)) {
	t.Helper()
	for p := datasetOffset(t, data); p < len(data); {
		tag := dcm.NewTag(binary.LittleEndian.Uint16(data[p:]), binary.LittleEndian.Uint16(data[p+2:]))
		vr, ok := dcm.ParseVR(string(data[p+4 : p+6]))
		if !ok {
			t.Fatalf("walk: unknown VR at %d", p)
		}
		n, head := int(binary.LittleEndian.Uint16(data[p+6:])), 8
		if vr.HasLongLength() {
			n, head = int(binary.LittleEndian.Uint32(data[p+8:])), 12
		}
		fn(tag, vr, p+head, data[p+head:p+head+n])
		p += head + n
	}
}

// rewriteDataset re-encodes the top-level dataset of a synth file, letting
// edit replace a value or drop the element (keep false). The meta
// information is copied unchanged.
func rewriteDataset(t testing.TB, data []byte, edit func(tag dcm.Tag, vr dcm.VR, val []byte) ([]byte, bool)) []byte {
	t.Helper()
	out := bytes.Clone(data[:datasetOffset(t, data)])
	walkDataset(t, data, func(tag dcm.Tag, vr dcm.VR, _ int, val []byte) {
		nv, keep := edit(tag, vr, val)
		if !keep {
			return
		}
		out = binary.LittleEndian.AppendUint16(out, tag.Group())
		out = binary.LittleEndian.AppendUint16(out, tag.Element())
		out = append(out, vr.String()...)
		if vr.HasLongLength() {
			out = append(out, 0, 0)
			out = binary.LittleEndian.AppendUint32(out, uint32(len(nv)))
		} else {
			out = binary.LittleEndian.AppendUint16(out, uint16(len(nv)))
		}
		out = append(out, nv...)
	})
	return out
}

// elementOffset returns where the value of a top-level element starts.
func elementOffset(t testing.TB, data []byte, want dcm.Tag) int {
	t.Helper()
	at := -1
	walkDataset(t, data, func(tag dcm.Tag, _ dcm.VR, off int, _ []byte) {
		if tag == want {
			at = off
		}
	})
	if at < 0 {
		t.Fatalf("no element %s", want)
	}
	return at
}

// ---- Tests ----

// Duplicate SOP Instance UIDs: identical bytes are a success whatever the
// policy; different bytes are refused or replace the stored copy. In every
// case exactly one blob remains for the UID and the counts stay right.
func TestIngestDuplicates(t *testing.T) {
	tests := []struct {
		name        string
		policy      DuplicatePolicy
		sameBytes   bool
		wantOutcome Outcome // 0: rejected
		wantReason  Reason
		wantNew     bool // the second copy's bytes come back
	}{
		{"reject policy, identical bytes", RejectDuplicates, true, AlreadyStored, 0, false},
		{"replace policy, identical bytes", ReplaceDuplicates, true, AlreadyStored, 0, false},
		{"reject policy, different bytes", RejectDuplicates, false, 0, ReasonConflict, false},
		{"replace policy, different bytes", ReplaceDuplicates, false, Replaced, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openTestStore(t, Options{Dir: dir, Duplicates: tc.policy})
			ctx := context.Background()
			base := synth.Spec{StudyUID: "1.2.826.0.1.1", SeriesUID: "1.2.826.0.1.1.1", PatientID: "9434765919", PatientName: "SMITH^JOHN"}
			// Siblings make the counts more than trivially 1.
			for i := 1; i <= 2; i++ {
				sp := base
				sp.SOPInstanceUID = fmt.Sprintf("1.2.826.0.1.1.1.%d", i)
				sp.InstanceNumber = i
				mustIngest(t, s, mustSynth(t, sp), Stored)
			}
			sp := base
			sp.SOPInstanceUID = "1.2.826.0.1.1.1.9"
			sp.InstanceNumber = 9
			sp.Seed = 1
			first := mustSynth(t, sp)
			mustIngest(t, s, first, Stored)
			oldPath := blobPath(t, s, sp.SOPInstanceUID)
			before := checkConsistent(t, s)
			filesBefore := blobFiles(t, s, dir)

			second := first
			if !tc.sameBytes {
				sp.Seed = 2
				sp.InstanceNumber = 10
				second = mustSynth(t, sp)
			}
			res, err := s.Ingest(ctx, bytes.NewReader(second))
			if tc.wantOutcome == 0 {
				rej, ok := IsReject(err)
				if !ok || rej.Reason != tc.wantReason {
					t.Fatalf("second ingest: %v, want reject %v", err, tc.wantReason)
				}
				if !strings.Contains(rej.Detail, sp.SOPInstanceUID) {
					t.Errorf("detail %q does not name the SOP Instance UID", rej.Detail)
				}
			} else {
				if err != nil {
					t.Fatalf("second ingest: %v", err)
				}
				if res.Outcome != tc.wantOutcome {
					t.Fatalf("outcome %v, want %v", res.Outcome, tc.wantOutcome)
				}
			}

			want := first
			if tc.wantNew {
				want = second
			}
			if got := readBack(t, s, sp.SOPInstanceUID); !bytes.Equal(got, want) {
				t.Errorf("stored bytes are not the expected copy")
			}
			files := blobFiles(t, s, dir)
			if len(files) != len(filesBefore) {
				t.Errorf("blob files: %d before, %d after: %v", len(filesBefore), len(files), files)
			}
			_, err = os.Stat(oldPath)
			if tc.wantNew && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("replaced blob %s still exists (stat: %v)", oldPath, err)
			}
			if !tc.wantNew && err != nil {
				t.Errorf("kept blob %s: %v", oldPath, err)
			}
			after := checkConsistent(t, s)
			if len(after) != len(before) {
				t.Errorf("%d instances before, %d after", len(before), len(after))
			}
			for sop, b := range before {
				a := after[sop]
				if a.Study != b.Study || a.Series != b.Series {
					t.Errorf("instance %s moved", sop)
				}
			}
			if st := studyMatch(t, s, base.StudyUID); st == nil || st.Attrs.First(dcm.NumberOfStudyRelatedInstances) != "3" {
				t.Errorf("study counts changed: %v", st)
			}
			// The index returns the attributes of the copy it keeps.
			ms, _, err := s.Query(ctx, Query{Level: InstanceLevel, Keys: []Key{{Tag: dcm.SOPInstanceUID, Value: sp.SOPInstanceUID}}})
			if err != nil || len(ms) != 1 {
				t.Fatalf("query: %v %v", ms, err)
			}
			wantNumber := "9"
			if tc.wantNew {
				wantNumber = "10"
			}
			if got := ms[0].Attrs.First(dcm.InstanceNumber); got != wantNumber {
				t.Errorf("InstanceNumber %q, want %q", got, wantNumber)
			}
			fsckClean(t, s)
		})
	}
}

// Replacing an instance with a copy that names another study moves it:
// both studies' counts follow, and a study left empty disappears along with
// its secondary index entries.
func TestIngestReplaceMovesStudy(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, Options{Dir: dir, Duplicates: ReplaceDuplicates})
	ctx := context.Background()
	a := synth.Spec{StudyUID: "1.2.826.0.2.1", SeriesUID: "1.2.826.0.2.1.1", PatientID: "4010232137", PatientName: "JONES^AMY", AccessionNumber: "R0000000101", Modality: "IO"}
	b := synth.Spec{StudyUID: "1.2.826.0.2.2", SeriesUID: "1.2.826.0.2.2.1", PatientID: "4010232137", PatientName: "JONES^AMY", AccessionNumber: "R0000000102", Modality: "PX"}
	x, y, z := a, a, b
	x.SOPInstanceUID, y.SOPInstanceUID, z.SOPInstanceUID = "1.2.826.0.2.9.1", "1.2.826.0.2.9.2", "1.2.826.0.2.9.3"
	for _, sp := range []synth.Spec{x, y, z} {
		mustIngest(t, s, mustSynth(t, sp), Stored)
	}

	// x moves into study b, in a series of its own.
	x2 := b
	x2.SOPInstanceUID, x2.SeriesUID, x2.Modality = x.SOPInstanceUID, "1.2.826.0.2.2.2", "IO"
	mustIngest(t, s, mustSynth(t, x2), Replaced)
	got := checkConsistent(t, s)
	if got[x.SOPInstanceUID].Study != b.StudyUID {
		t.Errorf("replaced instance is in study %s, want %s", got[x.SOPInstanceUID].Study, b.StudyUID)
	}
	for _, c := range []struct {
		study, instances, series string
		mods                     []string
	}{
		{a.StudyUID, "1", "1", []string{"IO"}},
		{b.StudyUID, "2", "2", []string{"IO", "PX"}},
	} {
		m := studyMatch(t, s, c.study)
		if m == nil {
			t.Fatalf("study %s gone", c.study)
		}
		if m.Attrs.First(dcm.NumberOfStudyRelatedInstances) != c.instances || m.Attrs.First(dcm.NumberOfStudyRelatedSeries) != c.series ||
			!slices.Equal(m.Attrs.Values(dcm.ModalitiesInStudy), c.mods) {
			t.Errorf("study %s: %v", c.study, m.Attrs)
		}
	}

	// y moves too, leaving study a empty: it goes, and so do its index
	// entries.
	y2 := b
	y2.SOPInstanceUID = y.SOPInstanceUID
	mustIngest(t, s, mustSynth(t, y2), Replaced)
	checkConsistent(t, s)
	if m := studyMatch(t, s, a.StudyUID); m != nil {
		t.Errorf("emptied study still listed: %v", m.Attrs)
	}
	ms, _, err := s.Query(ctx, Query{Level: StudyLevel, Keys: []Key{{Tag: dcm.AccessionNumber, Value: a.AccessionNumber}}})
	if err != nil || len(ms) != 0 {
		t.Errorf("accession of the emptied study still finds %d studies (%v)", len(ms), err)
	}
	pts, _, err := s.Query(ctx, Query{Level: PatientLevel, Keys: []Key{{Tag: dcm.PatientID, Value: a.PatientID}}})
	if err != nil || len(pts) != 1 || pts[0].Attrs.First(dcm.NumberOfPatientRelatedStudies) != "1" ||
		pts[0].Attrs.First(dcm.NumberOfPatientRelatedInstances) != "3" {
		t.Errorf("patient: %v %v", pts, err)
	}
	if n := len(blobFiles(t, s, dir)); n != 3 {
		t.Errorf("%d blob files for 3 instances", n)
	}
	fsckClean(t, s)
}

// Refused input leaves nothing behind: no blob file, no index entry.
func TestIngestRejects(t *testing.T) {
	good := mustSynth(t, synth.Spec{StudyUID: "1.2.826.0.3.1", SeriesUID: "1.2.826.0.3.1.1", SOPInstanceUID: "1.2.826.0.3.1.1.1",
		PatientName: "DOE^JANE", PatientID: "9000000009", AccessionNumber: "R0000000301"})
	drop := func(victim dcm.Tag) []byte {
		return rewriteDataset(t, good, func(tag dcm.Tag, _ dcm.VR, val []byte) ([]byte, bool) { return val, tag != victim })
	}
	empty := func(victim dcm.Tag) []byte {
		return rewriteDataset(t, good, func(tag dcm.Tag, _ dcm.VR, val []byte) ([]byte, bool) {
			if tag == victim {
				return nil, true
			}
			return val, true
		})
	}
	replace := func(victim dcm.Tag, v string) []byte {
		return rewriteDataset(t, good, func(tag dcm.Tag, _ dcm.VR, val []byte) ([]byte, bool) {
			if tag == victim {
				return []byte(v), true
			}
			return val, true
		})
	}
	dsOff := datasetOffset(t, good)
	nameOff := elementOffset(t, good, dcm.PatientName)
	pixOff := elementOffset(t, good, dcm.PixelData)
	notDICOM := bytes.Repeat([]byte("this is not a DICOM file "), 40)
	prefixOnly := append(make([]byte, 128), "DICM"...)
	wrongMagic := bytes.Clone(good)
	copy(wrongMagic[128:], "DICN")

	tests := []struct {
		name   string
		data   []byte
		reason Reason
		detail string // must appear in Detail
	}{
		{"empty", nil, ReasonNotDICOM, "DICM"},
		{"text", notDICOM, ReasonNotDICOM, "DICM"},
		{"wrong magic", wrongMagic, ReasonNotDICOM, "DICM"},
		{"preamble only", prefixOnly, ReasonNotDICOM, "meta"},
		{"truncated in preamble", good[:100], ReasonNotDICOM, "DICM"},
		{"truncated in meta element", good[:140], ReasonTruncated, ""},
		{"truncated in meta value", good[:dsOff-3], ReasonTruncated, ""},
		{"truncated in dataset element header", good[:dsOff+5], ReasonTruncated, ""},
		{"truncated in PatientName value", good[:nameOff+1], ReasonTruncated, "(0010,0010)"},
		{"truncated at start of pixel data", good[:pixOff+10], ReasonTruncated, "(7FE0,0010)"},
		{"truncated one byte short", good[:len(good)-1], ReasonTruncated, "(7FE0,0010)"},
		{"no Study Instance UID", drop(dcm.StudyInstanceUID), ReasonMissingAttribute, "Study Instance UID"},
		{"no Series Instance UID", drop(dcm.SeriesInstanceUID), ReasonMissingAttribute, "Series Instance UID"},
		{"no SOP Instance UID", drop(dcm.SOPInstanceUID), ReasonMissingAttribute, "SOP Instance UID"},
		{"no SOP Class UID", drop(dcm.SOPClassUID), ReasonMissingAttribute, "SOP Class UID"},
		{"empty Study Instance UID", empty(dcm.StudyInstanceUID), ReasonMissingAttribute, "Study Instance UID"},
		{"empty SOP Class UID", empty(dcm.SOPClassUID), ReasonMissingAttribute, "SOP Class UID"},
		{"UID with a slash", replace(dcm.SeriesInstanceUID, "1.2.3/4."), ReasonInvalidAttribute, "Series Instance UID"},
		{"UID too long", replace(dcm.StudyInstanceUID, strings.Repeat("1.", 33)), ReasonInvalidAttribute, "Study Instance UID"},
	}

	dir := t.TempDir()
	s := openTestStore(t, Options{Dir: dir})
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		mustIngest(t, s, mustSynth(t, synth.Spec{StudyUID: "1.2.826.0.3.2", SeriesUID: "1.2.826.0.3.2.1",
			SOPInstanceUID: fmt.Sprintf("1.2.826.0.3.2.1.%d", i), PatientID: "9000000017"}), Stored)
	}
	index := dumpIndex(t, s)
	files := blobFiles(t, s, dir)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Ingest(ctx, bytes.NewReader(tc.data))
			rej, ok := IsReject(err)
			if !ok {
				t.Fatalf("ingest: %v, want a RejectError", err)
			}
			if rej.Reason != tc.reason {
				t.Errorf("reason %v (%v), want %v", rej.Reason, rej, tc.reason)
			}
			if !strings.Contains(rej.Detail, tc.detail) {
				t.Errorf("detail %q does not mention %q", rej.Detail, tc.detail)
			}
			if got := blobFiles(t, s, dir); !slices.Equal(got, files) {
				t.Errorf("blob files changed: %v, was %v", got, files)
			}
			if got := dumpIndex(t, s); !maps.Equal(got, index) {
				t.Errorf("index changed: %d entries, was %d", len(got), len(index))
			}
			fsckClean(t, s)
		})
	}
	if rep := fsckClean(t, s); rep.Instances != 3 {
		t.Errorf("fsck saw %d instances, want 3", rep.Instances)
	}
}

// A bare dataset, as C-STORE delivers it, is stored behind file meta
// information built from Meta, with the dataset bytes kept as received.
func TestIngestDataset(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, Options{Dir: dir})
	ctx := context.Background()
	sp := synth.Spec{StudyUID: "1.2.826.0.4.1", SeriesUID: "1.2.826.0.4.1.1", SOPInstanceUID: "1.2.826.0.4.1.1.1", PatientID: "9000000025", Seed: 4}
	file := mustSynth(t, sp)
	dataset := file[datasetOffset(t, file):]
	meta := Meta{SOPClassUID: synth.IntraOralForPresentation, SOPInstanceUID: sp.SOPInstanceUID,
		TransferSyntax: dcm.ExplicitVRLittleEndian, SourceAE: "XRAY1"}

	res, err := s.IngestDataset(ctx, meta, bytes.NewReader(dataset))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != Stored || res.SOPInstanceUID != sp.SOPInstanceUID || res.StudyUID != sp.StudyUID {
		t.Errorf("result %+v", res)
	}
	in, err := s.OpenInstance(ctx, sp.SOPInstanceUID)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	got, _ := io.ReadAll(in.DatasetReader())
	if !bytes.Equal(got, dataset) {
		t.Errorf("stored dataset differs from the input (%d vs %d bytes)", len(got), len(dataset))
	}
	whole, _ := io.ReadAll(in.Reader())
	f, err := dcm.ParsePart10(bytes.NewReader(whole), dcm.ParseOptions{})
	if err != nil {
		t.Fatalf("stored file is not Part 10: %v", err)
	}
	for tag, want := range map[dcm.Tag]string{
		dcm.MediaStorageSOPInstanceUID:   sp.SOPInstanceUID,
		dcm.MediaStorageSOPClassUID:      synth.IntraOralForPresentation,
		dcm.TransferSyntaxUID:            dcm.ExplicitVRLittleEndian,
		dcm.SourceApplicationEntityTitle: "XRAY1",
	} {
		if got := f.Meta.String(tag); got != want {
			t.Errorf("meta %s = %q, want %q", tag, got, want)
		}
	}
	if !bytes.Equal(whole[f.DatasetOffset:], dataset) {
		t.Errorf("dataset does not follow the meta information unchanged")
	}

	// A Meta that disagrees with the dataset is refused, leaving nothing.
	index := dumpIndex(t, s)
	files := blobFiles(t, s, dir)
	other := mustSynth(t, synth.Spec{StudyUID: "1.2.826.0.4.2", SOPInstanceUID: "1.2.826.0.4.2.1.1"})
	otherDS := other[datasetOffset(t, other):]
	for _, tc := range []struct {
		name   string
		meta   Meta
		detail string
	}{
		{"SOP Instance UID differs", Meta{SOPClassUID: synth.IntraOralForPresentation, SOPInstanceUID: "1.2.826.0.4.2.1.2", TransferSyntax: dcm.ExplicitVRLittleEndian}, "SOP Instance UID"},
		{"SOP Class UID differs", Meta{SOPClassUID: synth.SecondaryCapture, SOPInstanceUID: "1.2.826.0.4.2.1.1", TransferSyntax: dcm.ExplicitVRLittleEndian}, "SOP Class UID"},
		{"no transfer syntax", Meta{SOPClassUID: synth.IntraOralForPresentation, SOPInstanceUID: "1.2.826.0.4.2.1.1"}, "Transfer Syntax"},
	} {
		_, err := s.IngestDataset(ctx, tc.meta, bytes.NewReader(otherDS))
		rej, ok := IsReject(err)
		if !ok || rej.Reason != ReasonInvalidAttribute || !strings.Contains(rej.Detail, tc.detail) {
			t.Errorf("%s: %v, want an invalid-attribute reject naming %s", tc.name, err, tc.detail)
		}
		if got := blobFiles(t, s, dir); !slices.Equal(got, files) {
			t.Errorf("%s: blob files changed: %v", tc.name, got)
		}
		if !maps.Equal(dumpIndex(t, s), index) {
			t.Errorf("%s: index changed", tc.name)
		}
	}
	fsckClean(t, s)
}

// Eight writers share the committer: every instance is stored once and
// the counts add up exactly.
func TestIngestConcurrent(t *testing.T) {
	const (
		writers   = 8
		total     = 400
		nStudies  = 20
		perSeries = 5 // instances per series
	)
	dir := t.TempDir()
	s := openTestStore(t, Options{Dir: dir})
	ctx := context.Background()
	spec := func(i int) synth.Spec {
		st := i % nStudies
		return synth.Spec{
			StudyUID:       fmt.Sprintf("1.2.826.0.5.%d", st),
			SeriesUID:      fmt.Sprintf("1.2.826.0.5.%d.%d", st, (i/nStudies)/perSeries),
			SOPInstanceUID: fmt.Sprintf("1.2.826.0.5.%d.%d", st, 1000+i),
			PatientID:      fmt.Sprintf("90000%05d", st%7),
			PatientName:    fmt.Sprintf("PATIENT^%d", st%7),
			Seed:           int64(i),
			Rows:           16, Columns: 16,
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, total)
	for w := range writers {
		wg.Go(func() {
			for i := w; i < total; i += writers {
				data, err := synth.Bytes(spec(i))
				if err != nil {
					errs <- err
					continue
				}
				res, err := s.Ingest(ctx, bytes.NewReader(data))
				if err != nil {
					errs <- err
				} else if res.Outcome != Stored {
					errs <- fmt.Errorf("instance %d: %v", i, res.Outcome)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	got := checkConsistent(t, s)
	if len(got) != total {
		t.Fatalf("%d instances stored, want %d", len(got), total)
	}
	for i := range total {
		sp := spec(i)
		if g := got[sp.SOPInstanceUID]; g.Study != sp.StudyUID || g.Series != sp.SeriesUID {
			t.Errorf("instance %d filed under %s/%s", i, g.Study, g.Series)
		}
	}
	studies, _, err := s.Query(ctx, Query{Level: StudyLevel})
	if err != nil || len(studies) != nStudies {
		t.Fatalf("%d studies (%v), want %d", len(studies), err, nStudies)
	}
	for _, m := range studies {
		perStudy := total / nStudies
		if m.Attrs.First(dcm.NumberOfStudyRelatedInstances) != strconv.Itoa(perStudy) ||
			m.Attrs.First(dcm.NumberOfStudyRelatedSeries) != strconv.Itoa(perStudy/perSeries) {
			t.Errorf("study %s: %s instances in %s series, want %d in %d", m.StudyUID,
				m.Attrs.First(dcm.NumberOfStudyRelatedInstances), m.Attrs.First(dcm.NumberOfStudyRelatedSeries), perStudy, perStudy/perSeries)
		}
	}
	if n := len(blobFiles(t, s, dir)); n != total {
		t.Errorf("%d blob files, want %d", n, total)
	}
	if rep := fsckClean(t, s); rep.Instances != total || rep.Blobs != total {
		t.Errorf("fsck: %d instances, %d blobs", rep.Instances, rep.Blobs)
	}
}

// Text in a declared character set is indexed as UTF-8 and matched
// accent- and case-insensitively; the stored bytes stay as sent.
func TestIngestCharacterSet(t *testing.T) {
	s := openTestStore(t, Options{})
	ctx := context.Background()
	latin1 := "M\xfcller^Jos\xe9"
	data := mustSynth(t, synth.Spec{StudyUID: "1.2.826.0.6.1", SOPInstanceUID: "1.2.826.0.6.1.1.1", PatientID: "9000000033", PatientName: latin1})
	// synth always declares ISO_IR 192; declare Latin-1 instead.
	data = rewriteDataset(t, data, func(tag dcm.Tag, _ dcm.VR, val []byte) ([]byte, bool) {
		if tag == dcm.SpecificCharacterSet {
			return []byte("ISO_IR 100"), true
		}
		return val, true
	})
	// A decoy in UTF-8 that must not be found by the same key.
	mustIngest(t, s, mustSynth(t, synth.Spec{StudyUID: "1.2.826.0.6.2", PatientID: "9000000041", PatientName: "MILLER^JOSE"}), Stored)
	mustIngest(t, s, data, Stored)

	for _, q := range []string{"muller*", "MÜLLER*", "Muller^Jose", "müller^josé", "*üll*"} {
		ms, _, err := s.Query(ctx, Query{Level: StudyLevel, Keys: []Key{{Tag: dcm.PatientName, Value: q}}})
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if len(ms) != 1 || ms[0].StudyUID != "1.2.826.0.6.1" {
			t.Errorf("PatientName=%q: %d matches, want study 1.2.826.0.6.1", q, len(ms))
			continue
		}
		if got := ms[0].Attrs.First(dcm.PatientName); got != "Müller^José" {
			t.Errorf("PatientName returned as %q, want UTF-8 %q", got, "Müller^José")
		}
	}
	if got := readBack(t, s, "1.2.826.0.6.1.1.1"); !bytes.Equal(got, data) {
		t.Errorf("stored bytes differ from the input")
	}
	if !bytes.Contains(data, []byte(latin1)) {
		t.Fatal("test data lost its Latin-1 name")
	}
	var buf bytes.Buffer
	if _, err := s.Metadata(ctx, "1.2.826.0.6.1", "", "", "", &buf); err != nil {
		t.Fatal(err)
	}
	var md []map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &md); err != nil || len(md) != 1 {
		t.Fatalf("metadata is not a JSON array of one object: %v", err)
	}
	var pn struct {
		Value []struct{ Alphabetic string }
	}
	if err := json.Unmarshal(md[0]["00100010"], &pn); err != nil {
		t.Fatal(err)
	}
	if len(pn.Value) != 1 || pn.Value[0].Alphabetic != "Müller^José" {
		t.Errorf("metadata PatientName %+v", pn.Value)
	}
}

// Deleting instances, series and studies keeps every count, the modality
// lists and the secondary indexes right and removes the blobs.
func TestDelete(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, Options{Dir: dir})
	ctx := context.Background()
	type inst struct{ study, series, mod string }
	layout := map[string]inst{}
	add := func(pid, name, acc, study, series, mod string, n int) {
		for i := 1; i <= n; i++ {
			sop := fmt.Sprintf("%s.%d", series, i)
			class := synth.IntraOralForPresentation
			if mod == "PX" {
				class = synth.DXForPresentation
			}
			mustIngest(t, s, mustSynth(t, synth.Spec{StudyUID: study, SeriesUID: series, SOPInstanceUID: sop, Modality: mod, SOPClassUID: class,
				PatientID: pid, PatientName: name, AccessionNumber: acc, InstanceNumber: i, Rows: 8, Columns: 8}), Stored)
			layout[sop] = inst{study, series, mod}
		}
	}
	const (
		stA, stB, stC = "1.2.826.0.7.1", "1.2.826.0.7.2", "1.2.826.0.7.3"
		seA1, seA2    = stA + ".1", stA + ".2"
		seB1, seC1    = stB + ".1", stC + ".1"
		pidP, pidQ    = "9000000051", "9000000068"
	)
	add(pidP, "SMITH^JOHN", "R0000000701", stA, seA1, "IO", 3)
	add(pidP, "SMITH^JOHN", "R0000000701", stA, seA2, "PX", 1)
	add(pidP, "SMITH^JOHN", "R0000000702", stB, seB1, "IO", 2)
	add(pidQ, "BROWN^ALICE", "R0000000703", stC, seC1, "IO", 1)

	query := func(level Level, keys ...Key) []Match {
		t.Helper()
		ms, _, err := s.Query(ctx, Query{Level: level, Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	attr := func(ms []Match, i int, tag dcm.Tag) string {
		if i >= len(ms) {
			return "<no match>"
		}
		return strings.Join(ms[i].Attrs.Values(tag), `\`)
	}
	// verify checks the whole store against layout.
	verify := func(step string) {
		t.Helper()
		got := checkConsistent(t, s)
		if len(got) != len(layout) {
			t.Errorf("%s: %d instances, want %d", step, len(got), len(layout))
		}
		for sop := range layout {
			if _, ok := got[sop]; !ok {
				t.Errorf("%s: instance %s lost", step, sop)
			}
		}
		if n := len(blobFiles(t, s, dir)); n != len(layout) {
			t.Errorf("%s: %d blob files for %d instances", step, n, len(layout))
		}
		fsckClean(t, s)
	}
	gone := func(sop string) {
		t.Helper()
		if _, err := s.OpenInstance(ctx, sop); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted instance %s: open gives %v", sop, err)
		}
		if _, err := s.Metadata(ctx, layout[sop].study, layout[sop].series, sop, "", io.Discard); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted instance %s: metadata gives %v", sop, err)
		}
		delete(layout, sop)
	}
	verify("initial")

	// One instance.
	victim := seA1 + ".2"
	vpath := blobPath(t, s, victim)
	if err := s.DeleteInstance(ctx, stA, seA1, victim); err != nil {
		t.Fatal(err)
	}
	gone(victim)
	if _, err := os.Stat(vpath); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("blob of deleted instance: %v", err)
	}
	ms := query(StudyLevel, Key{Tag: dcm.StudyInstanceUID, Value: stA})
	if attr(ms, 0, dcm.NumberOfStudyRelatedInstances) != "3" || attr(ms, 0, dcm.NumberOfStudyRelatedSeries) != "2" {
		t.Errorf("study A after instance delete: %v", ms)
	}
	if ms := query(SeriesLevel, Key{Tag: dcm.SeriesInstanceUID, Value: seA1}); attr(ms, 0, dcm.NumberOfSeriesRelatedInstances) != "2" {
		t.Errorf("series A1 after instance delete: %v", ms)
	}
	if ms := query(PatientLevel, Key{Tag: dcm.PatientID, Value: pidP}); attr(ms, 0, dcm.NumberOfPatientRelatedInstances) != "5" ||
		attr(ms, 0, dcm.NumberOfPatientRelatedSeries) != "3" || attr(ms, 0, dcm.NumberOfPatientRelatedStudies) != "2" {
		t.Errorf("patient P after instance delete: %v", ms)
	}
	verify("instance delete")

	// The study's only PX series.
	n, err := s.DeleteSeries(ctx, stA, seA2)
	if err != nil || n != 1 {
		t.Fatalf("delete series: %d, %v", n, err)
	}
	gone(seA2 + ".1")
	ms = query(StudyLevel, Key{Tag: dcm.StudyInstanceUID, Value: stA})
	if attr(ms, 0, dcm.ModalitiesInStudy) != "IO" || attr(ms, 0, dcm.SOPClassesInStudy) != synth.IntraOralForPresentation ||
		attr(ms, 0, dcm.NumberOfStudyRelatedSeries) != "1" || attr(ms, 0, dcm.NumberOfStudyRelatedInstances) != "2" {
		t.Errorf("study A after series delete: %v", ms)
	}
	if ms := query(StudyLevel, Key{Tag: dcm.ModalitiesInStudy, Value: "PX"}); len(ms) != 0 {
		t.Errorf("ModalitiesInStudy=PX still finds %d studies", len(ms))
	}
	if ms := query(SeriesLevel, Key{Tag: dcm.Modality, Value: "PX"}); len(ms) != 0 {
		t.Errorf("Modality=PX still finds %d series", len(ms))
	}
	if ms := query(StudyLevel, Key{Tag: dcm.ModalitiesInStudy, Value: "IO"}); len(ms) != 3 {
		t.Errorf("ModalitiesInStudy=IO finds %d studies, want 3", len(ms))
	}
	verify("series delete")

	// A whole study, by its accession number's index too.
	n, err = s.DeleteStudy(ctx, stB)
	if err != nil || n != 2 {
		t.Fatalf("delete study: %d, %v", n, err)
	}
	gone(seB1 + ".1")
	gone(seB1 + ".2")
	for _, k := range []Key{
		{Tag: dcm.AccessionNumber, Value: "R0000000702"},
		{Tag: dcm.StudyInstanceUID, Value: stB},
		{Tag: dcm.AccessionNumber, Value: "R000000070?"},
	} {
		for _, level := range []Level{StudyLevel, SeriesLevel, InstanceLevel} {
			for _, m := range query(level, k) {
				if m.StudyUID == stB {
					t.Errorf("%v %s=%s still finds the deleted study", level, k.Tag.Keyword(), k.Value)
				}
			}
		}
	}
	if ms := query(StudyLevel, Key{Tag: dcm.PatientID, Value: pidP}); len(ms) != 1 || ms[0].StudyUID != stA {
		t.Errorf("PatientID finds %v", ms)
	}
	if ms := query(PatientLevel, Key{Tag: dcm.PatientID, Value: pidP}); attr(ms, 0, dcm.NumberOfPatientRelatedStudies) != "1" ||
		attr(ms, 0, dcm.NumberOfPatientRelatedInstances) != "2" {
		t.Errorf("patient P after study delete: %v", ms)
	}
	verify("study delete")

	// Unknown or mismatched UIDs.
	n2 := func(_ int, err error) error { return err }
	for _, c := range []struct {
		name string
		del  func() error
	}{
		{"unknown study", func() error { return n2(s.DeleteStudy(ctx, "1.2.826.0.7.99")) }},
		{"deleted study", func() error { return n2(s.DeleteStudy(ctx, stB)) }},
		{"unknown series", func() error { return n2(s.DeleteSeries(ctx, stA, stA+".99")) }},
		{"series of another study", func() error { return n2(s.DeleteSeries(ctx, stC, seA1)) }},
		{"unknown instance", func() error { return s.DeleteInstance(ctx, "", "", "1.2.826.0.7.99.1") }},
		{"instance of another study", func() error { return s.DeleteInstance(ctx, stC, "", seA1+".1") }},
		{"instance of another series", func() error { return s.DeleteInstance(ctx, stA, seA2, seA1+".1") }},
	} {
		if err := c.del(); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", c.name, err)
		}
	}
	verify("failed deletes")

	// The last study of a patient takes the patient with it.
	if _, err := s.DeleteStudy(ctx, stC); err != nil {
		t.Fatal(err)
	}
	gone(seC1 + ".1")
	if ms := query(PatientLevel, Key{Tag: dcm.PatientID, Value: pidQ}); len(ms) != 0 {
		t.Errorf("patient Q still listed: %v", ms)
	}
	if ms := query(StudyLevel, Key{Tag: dcm.PatientName, Value: "brown*"}); len(ms) != 0 {
		t.Errorf("PatientName index still finds Q's study: %v", ms)
	}
	verify("last study of a patient")
}

// multiFrame builds a native multi-frame instance: synth makes rows*frames
// rows of pixels, then Rows is set back so the pixel data holds frames
// frames.
func multiFrame(t testing.TB, sp synth.Spec, frames int) (data, pixels []byte) {
	t.Helper()
	rows := sp.Rows
	sp.Rows = rows * frames
	sp.Extra = map[dcm.Tag]synth.Value{dcm.NumberOfFrames: {VR: dcm.IS, Value: strconv.Itoa(frames)}}
	data = rewriteDataset(t, mustSynth(t, sp), func(tag dcm.Tag, _ dcm.VR, val []byte) ([]byte, bool) {
		if tag == dcm.Rows {
			return binary.LittleEndian.AppendUint16(nil, uint16(rows)), true
		}
		return val, true
	})
	return data, synth.Pixels(sp.Rows, sp.Columns, 12, sp.Seed)
}

func TestFrames(t *testing.T) {
	s := openTestStore(t, Options{})
	ctx := context.Background()
	readAll := func(r io.Reader, n int64, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) != n {
			t.Errorf("reader gave %d bytes, size says %d", len(b), n)
		}
		return b
	}

	single := synth.Spec{SOPInstanceUID: "1.2.826.0.8.1", Rows: 32, Columns: 24, Seed: 8}
	mustIngest(t, s, mustSynth(t, single), Stored)
	in, err := s.OpenInstance(ctx, single.SOPInstanceUID)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	want := synth.Pixels(32, 24, 12, 8)
	if in.Frames != 1 {
		t.Errorf("%d frames, want 1", in.Frames)
	}
	if got := readAll(in.Frame(1)); !bytes.Equal(got, want) {
		t.Errorf("frame 1 differs from the pixel data")
	}
	if got := readAll(in.Bulk("7FE00010")); !bytes.Equal(got, want) {
		t.Errorf("bulk 7FE00010 differs from the pixel data")
	}
	for _, n := range []int{0, 2} {
		if _, _, err := in.Frame(n); !errors.Is(err, ErrNotFound) {
			t.Errorf("frame %d: %v, want ErrNotFound", n, err)
		}
	}
	if _, _, err := in.Bulk("00100010"); !errors.Is(err, ErrNotFound) {
		t.Errorf("bulk of an inline value: %v, want ErrNotFound", err)
	}

	const frames = 3
	multi := synth.Spec{SOPInstanceUID: "1.2.826.0.8.2", Rows: 16, Columns: 20, Seed: 9}
	data, pixels := multiFrame(t, multi, frames)
	mustIngest(t, s, data, Stored)
	mi, err := s.OpenInstance(ctx, multi.SOPInstanceUID)
	if err != nil {
		t.Fatal(err)
	}
	defer mi.Close()
	if mi.Frames != frames {
		t.Fatalf("%d frames, want %d", mi.Frames, frames)
	}
	size := len(pixels) / frames
	for f := 1; f <= frames; f++ {
		if got := readAll(mi.Frame(f)); !bytes.Equal(got, pixels[(f-1)*size:f*size]) {
			t.Errorf("frame %d differs", f)
		}
	}
	if _, _, err := mi.Frame(frames + 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("frame past the end: %v", err)
	}
	if got := readAll(mi.Bulk("7FE00010")); !bytes.Equal(got, pixels) {
		t.Errorf("bulk pixel data differs")
	}
}

func TestMetadata(t *testing.T) {
	s := openTestStore(t, Options{})
	ctx := context.Background()
	const study = "1.2.826.0.9.1"
	var all []string
	for se := 1; se <= 2; se++ {
		for i := 1; i <= 2; i++ {
			sop := fmt.Sprintf("%s.%d.%d", study, se, i)
			all = append(all, sop)
			mustIngest(t, s, mustSynth(t, synth.Spec{StudyUID: study, SeriesUID: fmt.Sprintf("%s.%d", study, se), SOPInstanceUID: sop, Rows: 8, Columns: 8}), Stored)
		}
	}
	mustIngest(t, s, mustSynth(t, synth.Spec{StudyUID: "1.2.826.0.9.2", Rows: 8, Columns: 8}), Stored)

	type object map[string]struct {
		VR          string `json:"vr"`
		Value       []any
		BulkDataURI string
	}
	tests := []struct {
		name               string
		study, series, sop string
		base               string
		want               []string
	}{
		{"study", study, "", "", "http://pacs.example/dicom-web", all},
		{"series", study, study + ".2", "", "http://pacs.example/dicom-web", all[2:]},
		{"instance", study, study + ".1", all[1], "https://x/y", all[1:2]},
		{"relative", study, study + ".1", all[0], "", all[:1]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			n, err := s.Metadata(ctx, tc.study, tc.series, tc.sop, tc.base, &buf)
			if err != nil {
				t.Fatal(err)
			}
			var objs []object
			if err := json.Unmarshal(buf.Bytes(), &objs); err != nil {
				t.Fatalf("not a JSON array: %v\n%s", err, buf.String())
			}
			if n != len(tc.want) || len(objs) != len(tc.want) {
				t.Fatalf("%d objects (n=%d), want %d", len(objs), n, len(tc.want))
			}
			var sops []string
			for _, o := range objs {
				sop, _ := o["00080018"].Value[0].(string)
				sops = append(sops, sop)
				se, _ := o["0020000E"].Value[0].(string)
				uri := "studies/" + tc.study + "/series/" + se + "/instances/" + sop + "/bulk/7FE00010"
				if tc.base != "" {
					uri = tc.base + "/" + uri
				}
				if got := o["7FE00010"].BulkDataURI; got != uri {
					t.Errorf("BulkDataURI %q, want %q", got, uri)
				}
			}
			slices.Sort(sops)
			if !slices.Equal(sops, tc.want) {
				t.Errorf("instances %v, want %v", sops, tc.want)
			}
		})
	}
	for _, c := range [][3]string{{"1.2.826.0.9.9", "", ""}, {study, study + ".9", ""}, {study, study + ".1", study + ".1.9"}} {
		if _, err := s.Metadata(ctx, c[0], c[1], c[2], "", io.Discard); !errors.Is(err, ErrNotFound) {
			t.Errorf("metadata %v: %v, want ErrNotFound", c, err)
		}
	}
}

// prepareAdd does what Ingest does before queueing: the blob is written
// and the instance described, ready for applyGroup. The caller releases
// the blob ID afterwards.
func prepareAdd(t testing.TB, s *Store, data []byte) *commitReq {
	t.Helper()
	id, err := s.lease.alloc()
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.blobs.Create(id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	f, err := dcm.ParsePart10(bytes.NewReader(data), dcm.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inst, err := describe(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	inst.rec.BlobID = id
	inst.rec.Size = int64(len(data))
	inst.rec.Digest = digestOf(digestXXH3, data)
	return &commitReq{add: inst, done: make(chan struct{})}
}

// Requests that share a group commit apply in arrival order, each seeing
// the ones before it. The group is handed to applyGroup directly (the
// committer is idle) so its composition does not depend on timing.
func TestGroupCommitOrder(t *testing.T) {
	del := func(study, series, sop string) *commitReq {
		return &commitReq{delete: &deleteTarget{study, series, sop}, done: make(chan struct{})}
	}
	const stA, stB = "1.2.826.0.10.1", "1.2.826.0.10.2"
	x := synth.Spec{StudyUID: stA, SeriesUID: stA + ".1", SOPInstanceUID: "1.2.826.0.10.9.1", PatientID: "9000000076", Seed: 1}
	y := synth.Spec{StudyUID: stA, SeriesUID: stA + ".1", SOPInstanceUID: "1.2.826.0.10.9.2", PatientID: "9000000076", Seed: 2}
	xMoved := x
	xMoved.StudyUID, xMoved.SeriesUID, xMoved.Seed = stB, stB+".1", 3
	xSame := x
	xSame.Seed = 4

	tests := []struct {
		name    string
		group   func(s *Store) []*commitReq
		present map[string][]byte // SOP -> bytes; everything else must be gone
		errs    []error           // per request: nil or the error it must wrap
	}{
		{
			name: "replace into another study, then delete the old study",
			group: func(s *Store) []*commitReq {
				return []*commitReq{prepareAdd(t, s, mustSynth(t, xMoved)), del(stA, "", "")}
			},
			present: map[string][]byte{x.SOPInstanceUID: mustSynth(t, xMoved)},
			errs:    []error{nil, nil},
		},
		{
			name: "replace in place, then delete the series",
			group: func(s *Store) []*commitReq {
				return []*commitReq{prepareAdd(t, s, mustSynth(t, xSame)), del(stA, stA+".1", "")}
			},
			present: map[string][]byte{},
			errs:    []error{nil, nil},
		},
		{
			name: "add to a new study, then delete that study",
			group: func(s *Store) []*commitReq {
				return []*commitReq{prepareAdd(t, s, mustSynth(t, xMoved)), del(stB, "", "")}
			},
			present: map[string][]byte{y.SOPInstanceUID: mustSynth(t, y)},
			errs:    []error{nil, nil},
		},
		{
			name: "delete an instance twice",
			group: func(s *Store) []*commitReq {
				return []*commitReq{del("", "", y.SOPInstanceUID), del("", "", y.SOPInstanceUID)}
			},
			present: map[string][]byte{x.SOPInstanceUID: mustSynth(t, x)},
			errs:    []error{nil, ErrNotFound},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openTestStore(t, Options{Dir: dir, Duplicates: ReplaceDuplicates})
			mustIngest(t, s, mustSynth(t, x), Stored)
			mustIngest(t, s, mustSynth(t, y), Stored)
			group := tc.group(s)
			s.applyGroup(group)
			for _, req := range group {
				if req.add != nil {
					// Ingest releases its blob ID once the commit is done.
					s.lease.release(req.add.rec.BlobID)
				}
			}
			for i, req := range group {
				if !errors.Is(req.err, tc.errs[i]) || (tc.errs[i] == nil && req.err != nil) {
					t.Errorf("request %d: %v, want %v", i, req.err, tc.errs[i])
				}
			}
			got := checkConsistent(t, s)
			if len(got) != len(tc.present) {
				t.Errorf("%d instances left, want %d", len(got), len(tc.present))
			}
			for sop, want := range tc.present {
				if _, ok := got[sop]; !ok {
					t.Errorf("instance %s lost", sop)
					continue
				}
				if !bytes.Equal(readBack(t, s, sop), want) {
					t.Errorf("instance %s has the wrong bytes", sop)
				}
			}
			if n := len(blobFiles(t, s, dir)); n != len(tc.present) {
				t.Errorf("%d blob files for %d instances", n, len(tc.present))
			}
			fsckClean(t, s)
		})
	}
}

// Close while writers are busy: every Ingest returns (stored or with an
// error, none hangs), and after reopening every success is there intact
// and nothing else is left behind.
func TestCloseDuringIngest(t *testing.T) {
	for round := range 20 {
		dir := t.TempDir()
		s, err := Open(context.Background(), Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		var (
			mu     sync.Mutex
			stored = map[string][32]byte{}
			wg     sync.WaitGroup
		)
		for w := range 8 {
			wg.Go(func() {
				for i := 0; ; i++ {
					data, err := synth.Bytes(synth.Spec{SOPInstanceUID: fmt.Sprintf("1.2.826.0.11.%d.%d.%d", round, w, i), Rows: 8, Columns: 8})
					if err != nil {
						panic(err)
					}
					if _, err := s.Ingest(context.Background(), bytes.NewReader(data)); err != nil {
						return
					}
					mu.Lock()
					stored[fmt.Sprintf("1.2.826.0.11.%d.%d.%d", round, w, i)] = sha256.Sum256(data)
					mu.Unlock()
				}
			})
		}
		time.Sleep(time.Duration(5+round) * time.Millisecond)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: Ingest still blocked 10 s after Close", round)
		}
		if _, err := s.Ingest(context.Background(), bytes.NewReader(mustSynth(t, synth.Spec{}))); !errors.Is(err, ErrClosed) {
			t.Fatalf("ingest after Close: %v, want ErrClosed", err)
		}
		if err := s.DeleteInstance(context.Background(), "", "", "1.2.3"); !errors.Is(err, ErrClosed) {
			t.Fatalf("delete after Close: %v, want ErrClosed", err)
		}

		s = openTestStore(t, Options{Dir: dir})
		got := checkConsistent(t, s)
		for sop, sum := range stored {
			if g, ok := got[sop]; !ok || g.SHA256 != sum {
				t.Errorf("round %d: acknowledged instance %s lost or changed", round, sop)
			}
		}
		if len(got) != len(stored) {
			t.Errorf("round %d: %d instances after reopening, %d were acknowledged", round, len(got), len(stored))
		}
		if n := len(blobFiles(t, s, dir)); n != len(got) {
			t.Errorf("round %d: %d blob files for %d instances", round, n, len(got))
		}
		fsckClean(t, s)
		s.Close()
	}
}

// Deleting what was added returns the index to exactly what it was: no
// secondary index entry, count or modality outlives the data it described,
// even where queries would hide it.
func TestDeleteRestoresIndex(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, Options{Dir: dir})
	ctx := context.Background()
	const st = "1.2.826.0.12.1"
	base := synth.Spec{StudyUID: st, SeriesUID: st + ".1", PatientID: "9000000092", PatientName: "GREEN^IVY",
		AccessionNumber: "R0000001201", StudyDate: "20250505", Rows: 8, Columns: 8}
	for i := 1; i <= 2; i++ {
		sp := base
		sp.SOPInstanceUID = fmt.Sprintf("%s.1.%d", st, i)
		mustIngest(t, s, mustSynth(t, sp), Stored)
	}
	before := dumpIndex(t, s)
	files := blobFiles(t, s, dir)

	// An instance in the existing series, a PX series with another SOP
	// class in the existing study, a new study of the same patient and a
	// study of a new patient.
	extra := []synth.Spec{base, base, base, base, base}
	extra[0].SOPInstanceUID = st + ".1.3"
	extra[1].SeriesUID, extra[1].SOPInstanceUID, extra[1].Modality, extra[1].SOPClassUID = st+".2", st+".2.1", "PX", synth.DXForPresentation
	extra[2].StudyUID, extra[2].SeriesUID, extra[2].SOPInstanceUID, extra[2].AccessionNumber, extra[2].StudyDate = "1.2.826.0.12.2", "1.2.826.0.12.2.1", "1.2.826.0.12.2.1.1", "R0000001202", "20250606"
	extra[3].StudyUID, extra[3].SeriesUID, extra[3].SOPInstanceUID = "1.2.826.0.12.3", "1.2.826.0.12.3.1", "1.2.826.0.12.3.1.1"
	extra[3].PatientID, extra[3].PatientName, extra[3].AccessionNumber, extra[3].Modality = "9000000106", "WHITE^OAK", "R0000001203", "PX"
	extra[4] = extra[3]
	extra[4].SOPInstanceUID = "1.2.826.0.12.3.1.2"
	for _, sp := range extra {
		mustIngest(t, s, mustSynth(t, sp), Stored)
	}
	must(t, s.DeleteInstance(ctx, st, st+".1", st+".1.3"))
	if _, err := s.DeleteSeries(ctx, st, st+".2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteStudy(ctx, "1.2.826.0.12.2"); err != nil {
		t.Fatal(err)
	}
	must(t, s.DeleteInstance(ctx, "", "", "1.2.826.0.12.3.1.1"))
	must(t, s.DeleteInstance(ctx, "", "", "1.2.826.0.12.3.1.2"))

	after := dumpIndex(t, s)
	for k, v := range after {
		if k[0] == tChange {
			continue // the change feed is a log: it keeps what was once stored
		}
		if w, ok := before[k]; !ok {
			t.Errorf("entry left behind: %q", k)
		} else if w != v {
			t.Errorf("entry changed: %q", k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("entry lost: %q", k)
		}
	}
	if got := blobFiles(t, s, dir); !slices.Equal(got, files) {
		t.Errorf("blob files %v, want %v", got, files)
	}
}
