package audit

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkRecord records from many goroutines at once, as a busy server
// does: throughput comes from group commit sharing each fsync.
func BenchmarkRecord(b *testing.B) {
	l := openLog(b, "")
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(16) // recorders per core: requests wait on fsync, not CPU
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			err := l.Record(ctx, Entry{
				User: fmt.Sprintf("user%d@nhs.net", i%50), Role: "clinician", Org: "A1B2C",
				URN: fmt.Sprintf("R-%d", i%1000), NHSNumber: fmt.Sprintf("%010d", i%5000),
				Action: ActionStudyRetrieve, Resource: fmt.Sprintf("/dicomweb/studies/1.2.826.0.1.%d", i),
				ClientAddr: "192.0.2.7:51234", Outcome: OutcomeOK,
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	st := l.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	if st.Commits > 0 {
		b.ReportMetric(float64(st.Entries)/float64(st.Commits), "entries/fsync")
	}
}
