package benchpeer

import (
	"testing"
	"time"
)

// Peer is a server under test: its process and its own count of what it
// holds. Molar and Orthanc are Peers; dimsebench's storescp is one too.
type Peer struct {
	Name string
	Proc *Proc
	// Stored reports how many instances it holds, by its own count.
	Stored func() (int, error)
}

// Expect fails tb unless p holds want instances: a peer that refused,
// dropped or only acknowledged instances would otherwise look fast.
func (p *Peer) Expect(tb testing.TB, want int) {
	tb.Helper()
	got, err := p.Stored()
	if err != nil {
		tb.Fatalf("%s: counting stored instances: %v\n%s", p.Name, err, p.Proc.LogTail())
	}
	if got != want {
		tb.Fatalf("%s holds %d instances, want %d\n%s", p.Name, got, want, p.Proc.LogTail())
	}
}

// TimeSends times b.N sends of c to p, each by send, and reports them
// (Report). Before each send, untimed, every instance of c gets new UIDs,
// patient and referral (Next) and the disks are synced (SyncDisks), so no
// send resends an instance and none pays for the previous one's writes;
// after it, p must hold every instance sent so far (Expect). A send that
// fails fails b, with the tail of p's log.
//
// It also reports on-disk-instances/s: the rate counting, besides the send,
// the sync(2) straight after it, which writes out whatever the peer left
// in the page cache. A peer that answers only once an instance is durable
// leaves next to nothing; one that never syncs (storescp) leaves its
// files, so this is its rate of getting them onto the disk.
func TimeSends(b *testing.B, c *Corpus, p *Peer, send func() error) {
	b.ResetTimer()
	b.StopTimer()
	var flush time.Duration
	for i := range b.N {
		if err := c.Next(); err != nil {
			b.Fatal(err)
		}
		SyncDisks()
		b.StartTimer()
		err := send()
		b.StopTimer()
		if err != nil {
			b.Fatalf("%v\n%s", err, p.Proc.LogTail())
		}
		start := time.Now()
		SyncDisks()
		flush += time.Since(start)
		p.Expect(b, (i+1)*len(c.Instances))
	}
	n := b.N * len(c.Instances)
	Report(b, n, int64(b.N)*c.Bytes)
	if sec := (b.Elapsed() + flush).Seconds(); sec > 0 {
		b.ReportMetric(float64(n)/sec, "on-disk-instances/s")
	}
}

// Report sets b's metrics for instances and bytes over the timed time:
// instances/s and MB/s (10^6 bytes).
func Report(b *testing.B, instances int, bytes int64) {
	sec := b.Elapsed().Seconds()
	if sec <= 0 {
		return
	}
	b.ReportMetric(float64(instances)/sec, "instances/s")
	b.ReportMetric(float64(bytes)/1e6/sec, "MB/s")
}
