package store

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// A query reads one snapshot: while instances keep arriving in a study,
// an IMAGE-level query lists exactly as many instances as the study
// record it read counts. Reading the live index, a commit landing between
// the study read and the instance scan would break this.
func TestQuerySeesOneState(t *testing.T) {
	s := openTestStore(t, Options{})
	ctx := context.Background()
	study := dcm.NewUID()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				b, err := synth.Bytes(synth.Spec{StudyUID: study, SeriesUID: study + ".1", InstanceNumber: w*100000 + i + 1, Rows: 8, Columns: 8})
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Ingest(ctx, bytes.NewReader(b)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()

	checked := 0
	for checked < 300 {
		ms, _, err := s.Query(ctx, Query{Level: InstanceLevel, Keys: []Key{{Tag: dcm.StudyInstanceUID, Value: study}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			continue
		}
		counted, _ := strconv.Atoi(ms[0].Attrs.First(dcm.NumberOfStudyRelatedInstances))
		if counted != len(ms) {
			t.Fatalf("query listed %d instances of a study whose record counts %d", len(ms), counted)
		}
		checked++
	}
}
