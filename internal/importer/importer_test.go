package importer

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/synth"
	"github.com/molar-pacs/molar/store"
)

func TestRun(t *testing.T) {
	src := t.TempDir()
	write := func(rel string, b []byte) {
		p := filepath.Join(src, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 12 {
		b, err := synth.Bytes(synth.Spec{Seed: int64(i)})
		if err != nil {
			t.Fatal(err)
		}
		write(filepath.Join("a", "b", string(rune('a'+i))+".dcm"), b)
	}
	good, _ := synth.Bytes(synth.Spec{})
	write("truncated.dcm", good[:len(good)-100])
	write("notes.txt", []byte("not an image"))
	write("DICOMDIR", good) // a media directory is never an instance
	write(".hidden/x.dcm", good)

	s, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var calls atomic.Int32
	var last Progress
	sum, err := Run(context.Background(), s, []string{src}, Options{Workers: 3, Interval: time.Millisecond, Progress: func(p Progress) {
		calls.Add(1)
		last = p
	}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Stored != 12 || sum.AlreadyPresent != 0 || len(sum.Rejected) != 3 || len(sum.Errors) != 0 {
		t.Fatalf("summary %+v", sum)
	}
	reasons := map[string]int{}
	for _, rc := range sum.ReasonCounts() {
		reasons[rc.Reason] = rc.Count
	}
	if reasons["not DICOM"] != 2 || reasons["truncated"] != 1 {
		t.Errorf("reasons %v", reasons)
	}
	if calls.Load() == 0 || last.Files != last.TotalFiles || last.Bytes != last.TotalBytes || last.TotalFiles != 15 {
		t.Errorf("final progress %+v after %d calls", last, calls.Load())
	}

	// Safe to re-run: nothing new, nothing lost.
	sum, err = Run(context.Background(), s, []string{src}, Options{})
	if err != nil || sum.Stored != 0 || sum.AlreadyPresent != 12 {
		t.Errorf("re-run: %+v, %v", sum, err)
	}
	if _, err := Run(context.Background(), s, []string{filepath.Join(src, "missing")}, Options{}); err == nil {
		t.Error("a missing path is not an error")
	}
}

func TestProgressMaths(t *testing.T) {
	p := Progress{Bytes: 50e6, TotalBytes: 150e6, Elapsed: 10 * time.Second}
	if p.MBps() != 5 {
		t.Errorf("MBps %v", p.MBps())
	}
	if p.ETA() != 20*time.Second {
		t.Errorf("ETA %v", p.ETA())
	}
	if (Progress{}).ETA() != 0 || (Progress{}).MBps() != 0 {
		t.Error("empty progress should have no rate or ETA")
	}
}
