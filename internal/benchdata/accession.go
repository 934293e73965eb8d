package benchdata

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/molar-pacs/molar/internal/synth"
	"github.com/molar-pacs/molar/store"
)

// The query benchmarks' shared store: 100,000 small instances, 4 per
// study, each study with its own AccessionNumber. Both C-FIND and QIDO-RS
// time a study lookup by AccessionNumber against it.
const (
	QueryInstances         = 100_000
	QueryInstancesPerStudy = 4
	queryStoreVersion      = "1"
)

// QueryStudies is how many studies the query store holds.
const QueryStudies = QueryInstances / QueryInstancesPerStudy

// Accession is the AccessionNumber of study n of the query store,
// scattered so neighbouring studies are not neighbours in the index.
func Accession(study int) string {
	return fmt.Sprintf("URN%08X", uint32(study)*2654435761)
}

// QueryStore returns the directory of the query store, building it the
// first time (about a minute) and reusing it after.
func QueryStore(ctx context.Context) (string, error) {
	base, err := Dir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(base, "query-store-100k")
	marker := filepath.Join(dir, "complete")
	want := fmt.Sprintf("molar query store v%s instances=%d\n", queryStoreVersion, QueryInstances)
	if got, err := os.ReadFile(marker); err == nil && string(got) == want {
		return dir, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	start := time.Now()
	if err := buildQueryStore(ctx, dir); err != nil {
		return "", fmt.Errorf("building the query benchmark store: %w", err)
	}
	fmt.Fprintf(os.Stderr, "bench: built %s in %v\n", dir, time.Since(start).Round(time.Second))
	return dir, os.WriteFile(marker, []byte(want), 0o644)
}

func buildQueryStore(ctx context.Context, dir string) error {
	st, err := store.Open(ctx, store.Options{Dir: dir})
	if err != nil {
		return err
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= QueryInstances || firstErr.Load() != nil {
					return
				}
				study := i / QueryInstancesPerStudy
				data, err := synth.Bytes(synth.Spec{
					StudyUID:        fmt.Sprintf("2.25.1%018d", study),
					SeriesUID:       fmt.Sprintf("2.25.2%018d", study),
					SOPInstanceUID:  fmt.Sprintf("2.25.3%018d", i),
					PatientName:     fmt.Sprintf("PATIENT%05d^BENCH", study/3),
					PatientID:       fmt.Sprintf("9%09d", study/3),
					AccessionNumber: Accession(study),
					StudyDate:       fmt.Sprintf("2026%02d%02d", 1+study%12, 1+study%28),
					Rows:            8, Columns: 8, Seed: int64(i),
				})
				if err == nil {
					_, err = st.Ingest(ctx, bytes.NewReader(data))
				}
				if err != nil {
					firstErr.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := st.Close(); err != nil {
		return err
	}
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	return nil
}
