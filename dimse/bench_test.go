package dimse

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/benchdata"
	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
	"github.com/molar-pacs/molar/store"
)

// The C-FIND benchmark's store: 100,000 instances, 4 per study, built
// once under MOLAR_BENCH_DATA (default: bench-data at the module root)
// and reused.
const (
	findBenchInstances    = 100_000
	findInstancesPerStudy = 4
	findBenchVersion      = "1"
)

func findBenchAccession(study int) string {
	// Scattered, so neighbouring studies are not neighbours in the index.
	return fmt.Sprintf("URN%08X", uint32(study)*2654435761)
}

func benchDataDir(b *testing.B) string {
	dir, err := benchdata.Dir()
	if err != nil {
		b.Fatal(err)
	}
	return dir
}

// findBenchStore opens the benchmark store, building it if needed.
func findBenchStore(b *testing.B) *store.Store {
	dir := filepath.Join(benchDataDir(b), "dimse-find-100k")
	marker := filepath.Join(dir, "complete")
	want := fmt.Sprintf("molar dimse find store v%s instances=%d\n", findBenchVersion, findBenchInstances)
	if got, err := os.ReadFile(marker); err != nil || string(got) != want {
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		buildFindBenchStore(b, dir)
		if err := os.WriteFile(marker, []byte(want), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	st, err := store.Open(context.Background(), store.Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	return st
}

func buildFindBenchStore(b *testing.B, dir string) {
	st, err := store.Open(context.Background(), store.Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= findBenchInstances || firstErr.Load() != nil {
					return
				}
				study := i / findInstancesPerStudy
				data, err := synth.Bytes(synth.Spec{
					StudyUID:        fmt.Sprintf("2.25.1%018d", study),
					SeriesUID:       fmt.Sprintf("2.25.2%018d", study),
					SOPInstanceUID:  fmt.Sprintf("2.25.3%018d", i),
					PatientName:     fmt.Sprintf("PATIENT%05d^BENCH", study/3),
					PatientID:       fmt.Sprintf("9%09d", study/3),
					AccessionNumber: findBenchAccession(study),
					StudyDate:       fmt.Sprintf("2026%02d%02d", 1+study%12, 1+study%28),
					Rows:            8, Columns: 8, Seed: int64(i),
				})
				if err == nil {
					_, err = st.Ingest(context.Background(), bytes.NewReader(data))
				}
				if err != nil {
					firstErr.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		b.Fatalf("building the C-FIND benchmark store: %v", err)
	}
	fmt.Fprintf(os.Stderr, "bench: built dimse-find-100k in %v\n", time.Since(start).Round(time.Second))
}

// BenchmarkCFindAccession is a study-level C-FIND by AccessionNumber (the
// referral URN), as a hospital PACS sends it, over one open association
// with 100,000 instances stored: one op is request to final response.
func BenchmarkCFindAccession(b *testing.B) {
	st := findBenchStore(b)
	defer st.Close()
	srv := &Server{Policy: DefaultPolicy("MOLAR"), Archive: st, Log: slog.New(slog.DiscardHandler)}
	srv.Policy.OpenQuery = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx, ln)
	d := Dialer{CallingAE: "BENCHSCU"}
	a, err := d.Associate(ctx, ln.Addr().String(), "MOLAR", []Proposal{{AbstractSyntax: StudyRootFind, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian}}})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Release()
	studies := findBenchInstances / findInstancesPerStudy
	b.Run("instances=100k", func(b *testing.B) {
		i := 0
		for b.Loop() {
			study := (i * 7919) % studies
			i++
			keys := dcm.Attrs{
				{Tag: dcm.StudyDate, VR: dcm.DA},
				{Tag: dcm.AccessionNumber, VR: dcm.SH, Values: []string{findBenchAccession(study)}},
				{Tag: dcm.QueryRetrieveLevel, VR: dcm.CS, Values: []string{"STUDY"}},
				{Tag: dcm.PatientName, VR: dcm.PN},
				{Tag: dcm.PatientID, VR: dcm.LO},
				{Tag: dcm.StudyInstanceUID, VR: dcm.UI},
				{Tag: dcm.NumberOfStudyRelatedInstances, VR: dcm.IS},
			}
			n := 0
			if err := a.Find(ctx, StudyRootFind, keys, func(dcm.Attrs) error { n++; return nil }); err != nil {
				b.Fatal(err)
			}
			if n != 1 {
				b.Fatalf("study %d: %d matches, want 1", study, n)
			}
		}
	})
}
