package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// fsckStore returns a store holding n small instances in two studies,
// with their bytes by SOP Instance UID.
func fsckStore(t *testing.T, n int) (*Store, string, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	s := openTestStore(t, Options{Dir: dir})
	data := map[string][]byte{}
	for i := range n {
		sp := synth.Spec{StudyUID: fmt.Sprintf("1.2.826.0.30.%d", i%2), SeriesUID: fmt.Sprintf("1.2.826.0.30.%d.1", i%2),
			SOPInstanceUID: fmt.Sprintf("1.2.826.0.30.9.%d", i), PatientID: "9000000084", InstanceNumber: i + 1,
			Rows: 16, Columns: 16, Seed: int64(i)}
		b := mustSynth(t, sp)
		mustIngest(t, s, b, Stored)
		data[sp.SOPInstanceUID] = b
	}
	return s, dir, data
}

func TestFsckClean(t *testing.T) {
	s, _, data := fsckStore(t, 6)
	var calls int
	rep, err := s.Fsck(context.Background(), func(int, int64) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, b := range data {
		total += int64(len(b))
	}
	if len(rep.Problems) != 0 || rep.Instances != 6 || rep.Blobs != 6 || rep.Bytes != total {
		t.Errorf("report %+v, want 6 instances, 6 blobs, %d bytes, no problems", rep, total)
	}
	if calls != 6 {
		t.Errorf("progress called %d times, want 6", calls)
	}
}

// Each kind of damage is found, named and pinned to the right instance
// or blob, and nothing else is reported.
func TestFsckFindsDamage(t *testing.T) {
	const victim = "1.2.826.0.30.9.3"
	tests := []struct {
		name   string
		damage func(t *testing.T, s *Store, path string) uint64 // returns the blob ID to expect, 0: the victim's
		kind   string
		sop    string
	}{
		{"missing blob", func(t *testing.T, _ *Store, path string) uint64 {
			must(t, os.Remove(path))
			return 0
		}, "missing blob", victim},
		{"truncated blob", func(t *testing.T, _ *Store, path string) uint64 {
			st, err := os.Stat(path)
			must(t, err)
			must(t, os.Truncate(path, st.Size()-7))
			return 0
		}, "size mismatch", victim},
		{"grown blob", func(t *testing.T, _ *Store, path string) uint64 {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			must(t, err)
			_, err = f.Write([]byte{0, 0})
			must(t, err)
			must(t, f.Close())
			return 0
		}, "size mismatch", victim},
		{"modified byte", func(t *testing.T, _ *Store, path string) uint64 {
			b, err := os.ReadFile(path)
			must(t, err)
			b[len(b)-100] ^= 0x40 // a pixel: the file still parses
			must(t, os.WriteFile(path, b, 0o644))
			return 0
		}, "hash mismatch", victim},
		{"orphan blob", func(t *testing.T, s *Store, _ string) uint64 {
			const id = 0xABCDE
			fb := s.blobs.(*FileBlobs)
			must(t, os.MkdirAll(filepath.Dir(fb.Path(id)), 0o755))
			must(t, os.WriteFile(fb.Path(id), mustSynth(t, synth.Spec{}), 0o644))
			return id
		}, "orphan blob", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _ := fsckStore(t, 6)
			path := blobPath(t, s, victim)
			in, err := s.OpenInstance(context.Background(), victim)
			must(t, err)
			in.Close()
			id := tc.damage(t, s, path)
			if id == 0 {
				id = in.rec.BlobID
			}
			rep, err := s.Fsck(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) != 1 {
				t.Fatalf("problems %v, want exactly one %s", rep.Problems, tc.kind)
			}
			p := rep.Problems[0]
			if p.Kind != tc.kind || p.SOP != tc.sop || p.BlobID != id {
				t.Errorf("problem %+v, want %s sop=%q blob=%x", p, tc.kind, tc.sop, id)
			}
			if !strings.Contains(p.String(), tc.kind) {
				t.Errorf("problem text %q", p.String())
			}
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot is everything a client can observe through queries and
// metadata, to compare a store before and after a repair.
func snapshot(t *testing.T, s *Store) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, level := range []Level{PatientLevel, StudyLevel, SeriesLevel, InstanceLevel} {
		ms, _, err := s.Query(ctx, Query{Level: level})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			fmt.Fprintf(&b, "%v %s %s %s %s\n", level, m.PatientKey, m.StudyUID, m.SeriesUID, m.SOPInstanceUID)
			for _, a := range m.Attrs {
				fmt.Fprintf(&b, "  %s %s %q\n", a.Tag, a.VR, a.Values)
			}
			if level == StudyLevel {
				if _, err := s.Metadata(ctx, m.StudyUID, "", "", "http://x", &b); err != nil {
					t.Fatal(err)
				}
				b.WriteByte('\n')
			}
		}
	}
	return b.String()
}

// Repair rebuilds an index from the blobs alone that answers every query
// and metadata request as the original did.
func TestRepairRebuildsIndex(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(ctx, Options{Dir: dir, Duplicates: ReplaceDuplicates})
	must(t, err)
	specs := queryCorpus()
	data := map[string][]byte{}
	for _, sp := range specs {
		b := mustSynth(t, sp)
		mustIngest(t, s, b, Stored)
		data[sp.SOPInstanceUID] = b
	}
	// History the rebuild must not resurrect: a deleted study, a deleted
	// instance, a replaced instance (its old blob is gone).
	n, err := s.DeleteStudy(ctx, specs[0].StudyUID)
	must(t, err)
	for _, sp := range specs[:n] {
		delete(data, sp.SOPInstanceUID)
	}
	victim := specs[len(specs)-1]
	must(t, s.DeleteInstance(ctx, "", "", victim.SOPInstanceUID))
	delete(data, victim.SOPInstanceUID)
	changed := specs[len(specs)-2]
	changed.Seed = 999
	data[changed.SOPInstanceUID] = mustSynth(t, changed)
	mustIngest(t, s, data[changed.SOPInstanceUID], Replaced)

	before := snapshot(t, s)
	must(t, s.Close())

	must(t, os.RemoveAll(filepath.Join(dir, "index")))
	var progress int
	rep, err := Repair(ctx, dir, func(done int) { progress = done })
	if err != nil {
		t.Fatal(err)
	}
	if rep.Indexed != len(data) || rep.Duplicates != 0 || len(rep.Quarantined) != 0 {
		t.Errorf("repair report %+v, want %d indexed", rep, len(data))
	}
	if progress != len(data) {
		t.Errorf("progress reached %d, want %d", progress, len(data))
	}

	s = openTestStore(t, Options{Dir: dir})
	if after := snapshot(t, s); after != before {
		t.Errorf("queries after repair differ:\n%s", firstDiff(before, after))
	}
	got := checkConsistent(t, s)
	if len(got) != len(data) {
		t.Errorf("%d instances after repair, want %d", len(got), len(data))
	}
	for sop, b := range data {
		if !bytes.Equal(readBack(t, s, sop), b) {
			t.Errorf("instance %s changed", sop)
		}
	}
	fsckClean(t, s)
	// New blob IDs start above the rebuilt ones: ingest keeps working.
	for i := range 3 {
		mustIngest(t, s, mustSynth(t, synth.Spec{SOPInstanceUID: fmt.Sprintf("1.2.826.0.31.%d", i)}), Stored)
	}
	fsckClean(t, s)
	if m, _ := filepath.Glob(filepath.Join(dir, "index.*")); len(m) != 0 {
		t.Errorf("repair left %v behind", m)
	}
}

// firstDiff shows where two snapshots part.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, x, y)
		}
	}
	return "(no difference)"
}

// A file in the blob directory that is not DICOM is moved aside, not
// indexed and not deleted.
func TestRepairQuarantines(t *testing.T) {
	s, dir, data := fsckStore(t, 4)
	junk := []byte("not an instance, just some bytes that landed here")
	id := uint64(0x3000)
	path := s.blobs.(*FileBlobs).Path(id)
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	must(t, os.WriteFile(path, junk, 0o644))
	truncated := mustSynth(t, synth.Spec{SOPInstanceUID: "1.2.826.0.32.1"})
	tpath := s.blobs.(*FileBlobs).Path(id + 1)
	must(t, os.WriteFile(tpath, truncated[:len(truncated)-10], 0o644))
	must(t, s.Close())

	rep, err := Repair(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Indexed != len(data) || len(rep.Quarantined) != 2 {
		t.Fatalf("repair report %+v, want %d indexed, 2 quarantined", rep, len(data))
	}
	for _, p := range []string{path, tpath} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is still in the blob directory (%v)", p, err)
		}
	}
	moved, err := os.ReadFile(filepath.Join(dir, "quarantine", fmt.Sprintf("%016x.dcm", id)))
	if err != nil || !bytes.Equal(moved, junk) {
		t.Errorf("quarantined file: %v", err)
	}
	if !slices.ContainsFunc(rep.Quarantined, func(q string) bool { return strings.Contains(q, fmt.Sprintf("%016x", id)) }) {
		t.Errorf("report does not name the quarantined file: %v", rep.Quarantined)
	}

	s = openTestStore(t, Options{Dir: dir})
	got := checkConsistent(t, s)
	if len(got) != len(data) {
		t.Errorf("%d instances after repair, want %d", len(got), len(data))
	}
	for sop, b := range data {
		if !bytes.Equal(readBack(t, s, sop), b) {
			t.Errorf("instance %s changed", sop)
		}
	}
	fsckClean(t, s)
}

// Two blobs with the same SOP Instance UID (a crash between writing a
// replacement and deleting the original, or copied files): the newer blob,
// the one with the higher ID, wins and the other goes.
func TestRepairKeepsNewestDuplicate(t *testing.T) {
	s, dir, data := fsckStore(t, 3)
	const sop = "1.2.826.0.30.9.1"
	oldPath := blobPath(t, s, sop)
	sp := synth.Spec{StudyUID: "1.2.826.0.30.1", SeriesUID: "1.2.826.0.30.1.2", SOPInstanceUID: sop,
		PatientID: "9000000084", InstanceNumber: 77, Rows: 16, Columns: 16, Seed: 42}
	newer := mustSynth(t, sp)
	newPath := s.blobs.(*FileBlobs).Path(0x5000)
	must(t, os.MkdirAll(filepath.Dir(newPath), 0o755))
	must(t, os.WriteFile(newPath, newer, 0o644))
	// An identical copy of another instance too: kept once.
	other := "1.2.826.0.30.9.2"
	copyPath := s.blobs.(*FileBlobs).Path(0x5001)
	must(t, os.WriteFile(copyPath, data[other], 0o644))
	must(t, s.Close())
	data[sop] = newer

	rep, err := Repair(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Duplicates != 2 || rep.Indexed != len(data) {
		t.Errorf("repair report %+v, want 2 duplicates and %d indexed", rep, len(data))
	}
	if _, err := os.Stat(oldPath); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("older duplicate blob still there (%v)", err)
	}
	s = openTestStore(t, Options{Dir: dir})
	got := checkConsistent(t, s)
	if len(got) != len(data) {
		t.Errorf("%d instances after repair, want %d", len(got), len(data))
	}
	for sop, b := range data {
		if !bytes.Equal(readBack(t, s, sop), b) {
			t.Errorf("instance %s: not the expected copy", sop)
		}
	}
	ms, _, err := s.Query(context.Background(), Query{Level: InstanceLevel, Keys: []Key{{Tag: dcm.SOPInstanceUID, Value: sop}}})
	if err != nil || len(ms) != 1 || ms[0].SeriesUID != sp.SeriesUID || ms[0].Attrs.First(dcm.InstanceNumber) != "77" {
		t.Errorf("index holds the older copy: %v %v", ms, err)
	}
	if n := len(blobFiles(t, s, dir)); n != len(data) {
		t.Errorf("%d blob files for %d instances", n, len(data))
	}
	fsckClean(t, s)
}

// Fsck on a live store: instances stored or deleted while it runs are not
// damage.
func TestFsckWhileWriting(t *testing.T) {
	s, _, _ := fsckStore(t, 20)
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				sop := fmt.Sprintf("1.2.826.0.33.%d.%d", w, i)
				data, err := synth.Bytes(synth.Spec{StudyUID: fmt.Sprintf("1.2.826.0.33.%d", w), SOPInstanceUID: sop, Rows: 8, Columns: 8})
				if err != nil {
					panic(err)
				}
				if _, err := s.Ingest(ctx, bytes.NewReader(data)); err != nil {
					t.Error(err)
					return
				}
				if i%2 == 1 {
					if err := s.DeleteInstance(ctx, "", "", fmt.Sprintf("1.2.826.0.33.%d.%d", w, i-1)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	deadline := time.Now().Add(time.Second)
	runs := 0
	for ; time.Now().Before(deadline) || runs < 5; runs++ {
		rep, err := s.Fsck(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range rep.Problems {
			t.Errorf("fsck run %d during writes: %v", runs, p)
		}
		if t.Failed() {
			break
		}
	}
	close(stop)
	wg.Wait()
	fsckClean(t, s)
}
