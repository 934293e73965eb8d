package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/synth"
)

// inlineKeys returns the blob IDs the index holds bytes for.
func inlineKeys(t testing.TB, s *Store) []string {
	t.Helper()
	var out []string
	err := s.scan(context.Background(), []byte{tInlineBlob}, prefixEnd([]byte{tInlineBlob}), func(k, _ []byte) error {
		out = append(out, string(k))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// synthOfSize makes an instance of exactly size bytes: one row of 16-bit
// pixels as wide as it takes (so only every fourth size is reachable:
// columns go in pairs to keep the pixel data even).
func synthOfSize(t testing.TB, sop string, size int) []byte {
	t.Helper()
	sp := synth.Spec{StudyUID: "1.2.826.0.13.1", SeriesUID: "1.2.826.0.13.1.1", SOPInstanceUID: sop, Rows: 1, Columns: 2}
	base := len(mustSynth(t, sp))
	if (size-base)%4 != 0 {
		t.Fatalf("size %d unreachable from %d", size, base)
	}
	sp.Columns += (size - base) / 2
	b := mustSynth(t, sp)
	if len(b) != size {
		t.Fatalf("made %d bytes, want %d", len(b), size)
	}
	return b
}

// A small instance is acknowledged from the index, reads back the same
// from there and, once written out, from its file; a larger one goes to
// its file at once.
func TestInlineInstances(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, Options{Dir: dir})
	// Exactly inlineMax is inline; one 16-bit pixel more is not (the
	// template's length decides which sizes are reachable).
	small := synthOfSize(t, "1.2.826.0.13.1.1.1", inlineMax)
	large := synthOfSize(t, "1.2.826.0.13.1.1.2", inlineMax+4)
	mustIngest(t, s, small, Stored)
	mustIngest(t, s, large, Stored)
	if got := inlineKeys(t, s); len(got) != 1 {
		t.Fatalf("inline blobs: %d, want 1 (the small instance)", len(got))
	}
	if got := blobFiles(t, nil, dir); len(got) != 1 {
		t.Fatalf("blob files before writing out: %v, want the large instance's", got)
	}
	for sop, want := range map[string][]byte{"1.2.826.0.13.1.1.1": small, "1.2.826.0.13.1.1.2": large} {
		if got := readBack(t, s, sop); !bytes.Equal(got, want) {
			t.Errorf("%s reads back other bytes", sop)
		}
	}
	if rep := fsckClean(t, s); rep.Blobs != 2 {
		t.Errorf("fsck counts %d blobs, want 2", rep.Blobs)
	}
	// A resend of the inline instance is identical.
	mustIngest(t, s, small, AlreadyStored)

	spillNow(t, s)
	if got := inlineKeys(t, s); len(got) != 0 {
		t.Errorf("inline blobs after writing out: %d", len(got))
	}
	if got := blobFiles(t, nil, dir); len(got) != 2 {
		t.Errorf("blob files after writing out: %v", got)
	}
	if got := readBack(t, s, "1.2.826.0.13.1.1.1"); !bytes.Equal(got, small) {
		t.Error("the written-out instance reads back other bytes")
	}
	if rep := fsckClean(t, s); rep.Blobs != 2 {
		t.Errorf("fsck counts %d blobs, want 2", rep.Blobs)
	}
}

// Deleting an instance before its bytes leave the index leaves nothing:
// no file, no pending-unlink entry. A spill that wrote the file of an
// instance deleted meanwhile removes that file when it commits.
func TestInlineDelete(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, Options{Dir: dir})
	ctx := context.Background()
	sp := synth.Spec{StudyUID: "1.2.826.0.14.1", SeriesUID: "1.2.826.0.14.1.1", SOPInstanceUID: "1.2.826.0.14.1.1.1"}
	before := dumpIndex(t, s)
	mustIngest(t, s, mustSynth(t, sp), Stored)
	must(t, s.DeleteInstance(ctx, "", "", sp.SOPInstanceUID))
	if got := dumpIndex(t, s); len(got) != len(before)+1 { // the change feed keeps its entry
		t.Errorf("index after delete: %d entries, want %d", len(got), len(before)+1)
	}
	if n := len(inlineKeys(t, s)); n != 0 {
		t.Errorf("inline blobs after delete: %d", n)
	}

	// The spiller has read the bytes and is writing the file when the
	// instance is deleted.
	sp.SOPInstanceUID = "1.2.826.0.14.1.1.2"
	data := mustSynth(t, sp)
	mustIngest(t, s, data, Stored)
	keys := inlineKeys(t, s)
	if len(keys) != 1 {
		t.Fatalf("inline blobs: %d", len(keys))
	}
	id := blobIDOf(keys[0])
	if err := s.writeBlobFile(id, data); err != nil {
		t.Fatal(err)
	}
	must(t, s.DeleteInstance(ctx, "", "", sp.SOPInstanceUID))
	if err := s.spillThroughCommitter([]uint64{id}); err != nil {
		t.Fatal(err)
	}
	if files := blobFiles(t, nil, dir); len(files) != 0 {
		t.Errorf("blob files left: %v", files)
	}
	fsckClean(t, s)
}

func blobIDOf(k string) uint64 { return binary.BigEndian.Uint64([]byte(k[1:])) }

// Idle, the store writes inline instances out by itself; a clean Close
// leaves none; and instances left inline by a crash (here, put back in
// the index by hand) are written out when the store opens.
func TestInlineSpilled(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	sp := synth.Spec{StudyUID: "1.2.826.0.15.1", SeriesUID: "1.2.826.0.15.1.1", SOPInstanceUID: "1.2.826.0.15.1.1.1"}
	data := mustSynth(t, sp)
	mustIngest(t, s, data, Stored)
	deadline := time.Now().Add(10 * spillIdle)
	for len(inlineKeys(t, s)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still inline after %v idle", 10*spillIdle)
		}
		time.Sleep(spillIdle / 10)
	}
	if files := blobFiles(t, nil, dir); len(files) != 1 {
		t.Fatalf("blob files: %v", files)
	}

	sp.SOPInstanceUID = "1.2.826.0.15.1.1.2"
	second := mustSynth(t, sp)
	mustIngest(t, s, second, Stored)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files := blobFiles(t, nil, dir)
	if len(files) != 2 {
		t.Fatalf("blob files after Close: %v", files)
	}

	// As a crash part-way through writing it out would leave it: the
	// bytes still in the index, the file half written.
	fb, err := NewFileBlobs(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	id := uint64(0)
	err = fb.Walk(0, ^uint64(0), func(b uint64, _ int64) error { id = max(id, b); return nil })
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(fb.Path(id), second[:100], 0o644))
	db, err := openPebble(filepath.Join(dir, "index"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	must(t, db.Set(blobKey(tInlineBlob, id), second, nil))
	must(t, db.Close())

	s = openTestStore(t, Options{Dir: dir})
	if n := len(inlineKeys(t, s)); n != 0 {
		t.Errorf("inline blobs after Open: %d", n)
	}
	if got := readBack(t, s, sp.SOPInstanceUID); !bytes.Equal(got, second) {
		t.Error("the instance reads back other bytes")
	}
	fsckClean(t, s)
}

// fsck --repair after a crash finds the small instances the old index
// still held, not only those already in files.
func TestRepairWritesOutInline(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	sp := synth.Spec{StudyUID: "1.2.826.0.16.1", SeriesUID: "1.2.826.0.16.1.1", SOPInstanceUID: "1.2.826.0.16.1.1.1"}
	data := mustSynth(t, sp)
	mustIngest(t, s, data, Stored)
	must(t, s.Close())
	// As a crash before the spill leaves it: the bytes in the index only.
	fb, err := NewFileBlobs(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	var id uint64
	must(t, fb.Walk(0, ^uint64(0), func(b uint64, _ int64) error { id = b; return nil }))
	must(t, os.Remove(fb.Path(id)))
	db, err := openPebble(filepath.Join(dir, "index"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	must(t, db.Set(blobKey(tInlineBlob, id), data, nil))
	must(t, db.Close())

	rep, err := Repair(context.Background(), dir, nil)
	if err != nil || rep.Indexed != 1 {
		t.Fatalf("repair: %+v, %v; want 1 instance indexed", rep, err)
	}
	s = openTestStore(t, Options{Dir: dir})
	if got := readBack(t, s, sp.SOPInstanceUID); !bytes.Equal(got, data) {
		t.Error("the instance reads back other bytes")
	}
}

// A spill gives way to new instances after the batch in hand, unless
// more than spillHeld is waiting; what it has written out is no longer
// counted as held.
func TestSpillGivesWay(t *testing.T) {
	dir := t.TempDir()
	// The background spiller never finds a pause: the test spills.
	s := openTestStore(t, Options{Dir: dir, spillIdle: time.Hour})
	const n = spillBatch + 10
	for i := range n {
		sp := synth.Spec{StudyUID: "1.2.826.0.16.1", SeriesUID: "1.2.826.0.16.1.1",
			SOPInstanceUID: fmt.Sprintf("1.2.826.0.16.1.1.%d", i+1), Rows: 1, Columns: 2}
		mustIngest(t, s, mustSynth(t, sp), Stored)
	}
	heldBefore := s.spill.held.Load()
	if got := len(inlineKeys(t, s)); got != n || heldBefore <= 0 {
		t.Fatalf("%d inline instances, %d bytes held; want %d and more than 0", got, heldBefore, n)
	}

	// An instance arrives while the first batch is written.
	batches := 0
	interrupted := func() bool {
		batches++
		return batches == 2
	}
	if err := s.spillAll(s.spillThroughCommitter, interrupted); !errors.Is(err, errInterrupted) {
		t.Fatalf("spill: %v, want it interrupted", err)
	}
	if got := len(inlineKeys(t, s)); got != n-spillBatch {
		t.Fatalf("%d inline after one batch and an interruption, want %d", got, n-spillBatch)
	}
	if held := s.spill.held.Load(); held <= 0 || held >= heldBefore {
		t.Errorf("held %d after spilling one batch of %d bytes' worth, want less but more than 0", held, heldBefore)
	}

	if err := s.spillAll(s.spillThroughCommitter, nil); err != nil {
		t.Fatalf("spill: %v", err)
	}
	if got := len(inlineKeys(t, s)); got != 0 {
		t.Fatalf("%d still inline", got)
	}
	if held := s.spill.held.Load(); held != 0 {
		t.Errorf("held %d with nothing left inline, want 0", held)
	}
	if files := blobFiles(t, nil, dir); len(files) != n {
		t.Fatalf("%d blob files, want %d", len(files), n)
	}
	fsckClean(t, s)
}

// The spiller is interrupted by instances committed since it last looked,
// unless spillHeld bytes are waiting.
func TestSpillerInterrupted(t *testing.T) {
	sp := newSpiller(spillIdle)
	if sp.interrupted() {
		t.Fatal("interrupted with nothing committed")
	}
	sp.committed(100)
	if !sp.interrupted() {
		t.Fatal("not interrupted by a commit")
	}
	if sp.interrupted() {
		t.Fatal("interrupted twice by one commit")
	}
	sp.committed(0) // a group with no inline instances
	if sp.interrupted() {
		t.Fatal("interrupted by a group with no inline bytes")
	}
	sp.spilled(40)
	if got := sp.held.Load(); got != 60 {
		t.Fatalf("held %d after 100 committed and 40 spilled", got)
	}
	sp.spilled(1000)
	if got := sp.held.Load(); got != 0 {
		t.Fatalf("held %d after spilling more than was counted, want 0", got)
	}
	sp.committed(spillHeld)
	if sp.interrupted() {
		t.Fatal("gave way with spillHeld bytes waiting")
	}
}
