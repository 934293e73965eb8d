package store

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// The change feed is how the referral package files films against
// referrals: every acknowledged instance appears once, in order, and the
// feed survives a reopen; duplicates and rejects add nothing.
func TestChangeFeed(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := openTestStore(t, Options{Dir: dir})
	if last, err := s.LastChange(ctx); err != nil || last != 0 {
		t.Fatalf("empty store: LastChange = %d, %v", last, err)
	}
	wake := s.Changed()
	study := dcm.NewUID()
	var sops []string
	var first []byte
	for i := range 3 {
		b := mustSynth(t, synth.Spec{StudyUID: study, SeriesUID: study + ".1", InstanceNumber: i + 1})
		if i == 0 {
			first = b
		}
		sops = append(sops, mustIngest(t, s, b, Stored).SOPInstanceUID)
	}
	select {
	case <-wake:
	case <-time.After(5 * time.Second):
		t.Fatal("Changed channel not closed by a commit")
	}
	mustIngest(t, s, first, AlreadyStored) // no new change
	if _, err := s.Ingest(ctx, bytes.NewReader([]byte("not dicom"))); err == nil {
		t.Fatal("garbage accepted")
	}

	got, err := s.Changes(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("feed has %d changes, want 3: %+v", len(got), got)
	}
	for i, c := range got {
		if c.SOPInstanceUID != sops[i] || c.StudyUID != study || c.SeriesUID != study+".1" {
			t.Errorf("change %d = %+v, want sop %s", i, c, sops[i])
		}
		if i > 0 && c.Seq <= got[i-1].Seq {
			t.Errorf("sequence not increasing: %d after %d", c.Seq, got[i-1].Seq)
		}
	}
	page, err := s.Changes(ctx, got[0].Seq, 1)
	if err != nil || len(page) != 1 || page[0] != got[1] {
		t.Fatalf("Changes(after first, 1) = %+v, %v", page, err)
	}
	if rest, err := s.Changes(ctx, got[2].Seq, 10); err != nil || len(rest) != 0 {
		t.Fatalf("Changes after the last = %+v, %v", rest, err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if last, err := s2.LastChange(ctx); err != nil || last != got[2].Seq {
		t.Fatalf("after reopen LastChange = %d, %v; want %d", last, err, got[2].Seq)
	}
	res := mustIngest(t, s2, mustSynth(t, synth.Spec{}), Stored)
	more, err := s2.Changes(ctx, got[2].Seq, 0)
	if err != nil || len(more) != 1 || more[0].SOPInstanceUID != res.SOPInstanceUID || more[0].Seq != got[2].Seq+1 {
		t.Fatalf("after reopen the new change is %+v, %v", more, err)
	}
}
