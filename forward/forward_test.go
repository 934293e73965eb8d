package forward

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/molar-pacs/molar/dimse"
	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
	"github.com/molar-pacs/molar/store"
)

// TestForwardStudy: a three-instance study reaches DCMTK's storescp with
// every data set byte for byte as stored, on one association, and each
// instance's outcome and the attempt's log are recorded.
func TestForwardStudy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	peer := startStorescp(t, "PROVIDERPACS", 0)
	study, sops := h.archive.addStudy(t, "URN-4711")
	h.archive.addStudy(t, "URN-9999") // must not be sent
	h.run()
	id := h.enqueue(Job{Studies: []string{study}, Node: peer.node(), Reference: "URN-4711", Reason: "accepted by provider RYJ10"})
	st := h.waitState(id, Done)

	if st.Attempts != 1 || st.Total != 3 || st.Sent != 3 || st.Failed != 0 || st.LastError != "" {
		t.Errorf("job: %s", describeJob(st))
	}
	if st.Reference != "URN-4711" || st.Reason != "accepted by provider RYJ10" || st.Node != peer.node() ||
		len(st.Studies) != 1 || st.Studies[0] != study || !st.NextAttempt.IsZero() {
		t.Errorf("job identity: %+v", st)
	}
	for _, in := range st.Instances {
		if in.State != InstanceSent || in.Status != "0000" || in.StudyUID != study || in.SOPClassUID != synth.IntraOralForPresentation {
			t.Errorf("instance %+v", in)
		}
	}
	checkDelivered(t, h.archive, peer, sops, false)
	if n := strings.Count(peer.log.String(), "Association Acknowledged"); n != 1 {
		t.Errorf("storescp saw %d associations, want 1", n)
	}
	logs := h.logs.String()
	if l := logLine(logs, "attempt ended", "job="+id, "urn=URN-4711", "ae=PROVIDERPACS", "host=127.0.0.1",
		"port="+strconv.Itoa(peer.Port), "state=done", "total=3", "sent=3", "failed=0"); l == "" {
		t.Errorf("no log line for the attempt with its node, URN and counts:\n%s", logs)
	}
	if strings.Contains(logs, "TEST^PATIENT") || strings.Contains(logs, "9990001234") {
		t.Errorf("the log holds patient data:\n%s", logs)
	}
}

// TestForwardNodeDownThenUp: nothing listens at first, so the job waits in
// retry-wait with the error and the attempt counted; once storescp is up
// the scheduled retry (the clock moved to it) delivers everything.
func TestForwardNodeDownThenUp(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.Backoff = fixedBackoff(10 * time.Minute) })
	study, sops := h.archive.addStudy(t, "URN-1")
	port := freePort(t)
	h.run()
	start := h.clock.Now()
	id := h.enqueue(Job{Studies: []string{study}, Node: Node{AETitle: "LATEPACS", Host: "127.0.0.1", Port: port}})
	st := h.waitState(id, RetryWait)
	if st.Attempts != 1 || !strings.Contains(st.LastError, "connection refused") ||
		!st.NextAttempt.Equal(start.Add(10*time.Minute)) || st.Sent != 0 {
		t.Errorf("after the first attempt: %s", describeJob(st))
	}
	// Nothing happens before the retry is due.
	h.clock.Advance(9 * time.Minute)
	time.Sleep(50 * time.Millisecond)
	if st := h.job(id); st.Attempts != 1 || st.State != RetryWait {
		t.Errorf("retried early: %s", describeJob(st))
	}
	peer := startStorescp(t, "LATEPACS", port)
	h.clock.Advance(time.Minute)
	st = h.waitState(id, Done)
	if st.Attempts != 2 || st.Sent != 3 || st.LastError != "" {
		t.Errorf("after the retry: %s", describeJob(st))
	}
	checkDelivered(t, h.archive, peer, sops, false)
}

// TestForwardTransientFailures: failures a retry can fix leave the job in
// retry-wait with what went wrong, and nothing is marked failed.
func TestForwardTransientFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		opts    []string
		breakIt func(p *storescp) // after storescp started
		fixIt   func(p *storescp) // nil: leave broken
		want    string            // in LastError
		sent    int
	}{
		{name: "association rejected", opts: []string{"--refuse"}, want: "reject"},
		{name: "association aborted", opts: []string{"--abort-after"}, want: "abort"},
		{
			// storescp answers A700 when it cannot write the file.
			name:    "out of resources",
			breakIt: func(p *storescp) { os.Remove(p.Dir) },
			fixIt:   func(p *storescp) { os.Mkdir(p.Dir, 0o755) },
			want:    "status A700",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			study, sops := h.archive.addStudy(t, "URN-2")
			peer := startStorescp(t, "FLAKYPACS", 0, tc.opts...)
			if tc.breakIt != nil {
				tc.breakIt(peer)
			}
			h.run()
			id := h.enqueue(Job{Studies: []string{study}, Node: peer.node()})
			st := h.waitState(id, RetryWait)
			if st.Attempts != 1 || st.Sent != tc.sent || st.Failed != 0 || !strings.Contains(st.LastError, tc.want) {
				t.Fatalf("want retry-wait after 1 attempt with %q: %s", tc.want, describeJob(st))
			}
			for _, in := range st.Instances {
				if in.State != InstancePending {
					t.Errorf("instance %s is %s after a transient failure", in.SOPInstanceUID, in.State)
				}
			}
			if tc.fixIt == nil {
				return
			}
			tc.fixIt(peer)
			h.clock.Advance(time.Hour)
			st = h.waitState(id, Done)
			if st.Attempts != 2 || st.Sent != 3 {
				t.Errorf("after the fix: %s", describeJob(st))
			}
			checkDelivered(t, h.archive, peer, sops, false)
		})
	}
}

// TestForwardRestartAfterFailedAttempt: the queue is closed while a job
// waits for its retry; reopened (the node up meanwhile), it resumes the
// job on schedule and completes it.
func TestForwardRestartAfterFailedAttempt(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	study, sops := h.archive.addStudy(t, "URN-3")
	port := freePort(t)
	h.run()
	id := h.enqueue(Job{Studies: []string{study}, Node: Node{AETitle: "RESTARTPACS", Host: "127.0.0.1", Port: port}})
	before := h.waitState(id, RetryWait)
	h.close()

	peer := startStorescp(t, "RESTARTPACS", port)
	h.open()
	if st := h.job(id); st.State != RetryWait || st.Attempts != 1 || !st.NextAttempt.Equal(before.NextAttempt) || st.LastError != before.LastError {
		t.Fatalf("after reopening: %s\nbefore: %s", describeJob(st), describeJob(before))
	}
	h.run()
	h.clock.Advance(time.Hour)
	st := h.waitState(id, Done)
	if st.Attempts != 2 || st.Sent != 3 {
		t.Errorf("after the restart: %s", describeJob(st))
	}
	checkDelivered(t, h.archive, peer, sops, false)
}

// TestForwardRestartWhileSending: the queue is closed while instances are
// being sent (storescp is slow to answer); after reopening, the job
// resumes and resends only what was not acknowledged.
func TestForwardRestartWhileSending(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	study, sops := h.archive.addStudy(t, "URN-5")
	peer := startStorescp(t, "SLOWPACS", 0, "--sleep-after", "1")
	h.run()
	id := h.enqueue(Job{Studies: []string{study}, Node: peer.node()})
	h.waitFor(id, "the first instance acknowledged", func(st JobStatus) bool { return st.Sent >= 1 })
	// Close, not Run's context, stops the worker here.
	if err := h.q.Close(); err != nil {
		t.Fatal(err)
	}
	h.stopRun()
	h.stopRun, h.q = nil, nil

	h.open()
	st := h.job(id)
	if st.State != Queued || st.Sent < 1 || st.Sent >= 3 || st.Attempts != 1 {
		t.Fatalf("after closing mid-way: %s", describeJob(st))
	}
	acked := map[string]bool{}
	for _, in := range st.Instances {
		if in.State == InstanceSent {
			acked[in.SOPInstanceUID] = true
		}
	}
	h.run()
	st = h.waitState(id, Done)
	if st.Attempts != 2 || st.Sent != 3 {
		t.Errorf("after the restart: %s", describeJob(st))
	}
	// At most the instance in flight at the close comes twice.
	checkDelivered(t, h.archive, peer, sops, true)
	resent := 0
	for sop, copies := range peer.received(t) {
		if len(copies) > 1 {
			resent++
			if acked[sop] {
				t.Errorf("instance %s was acknowledged before the close but sent again", sop)
			}
		}
	}
	if resent > 1 {
		t.Errorf("%d instances sent twice, want at most the one in flight", resent)
	}
}

// TestForwardResumeAfterCrash: a job the database says was being sent
// (the process died mid-attempt) is queued again at Open and completed.
func TestForwardResumeAfterCrash(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	study, sops := h.archive.addStudy(t, "URN-6")
	peer := startStorescp(t, "CRASHPACS", 0)
	id := h.enqueue(Job{Studies: []string{study}, Node: peer.node()})
	// What a worker writes when it starts an attempt, and nothing after.
	if r, err := h.q.begin(id); err != nil || r == nil || r.State != Sending {
		t.Fatalf("begin: %v %+v", err, r)
	}
	h.close()
	h.open()
	if st := h.job(id); st.State != Queued || st.Attempts != 1 {
		t.Fatalf("after reopening: %s", describeJob(st))
	}
	if logLine(h.logs.String(), "resuming", "job="+id, "urn=URN-0000001") == "" {
		t.Errorf("resuming not logged:\n%s", h.logs.String())
	}
	h.run()
	st := h.waitState(id, Done)
	if st.Attempts != 2 || st.Sent != 3 {
		t.Errorf("after resuming: %s", describeJob(st))
	}
	checkDelivered(t, h.archive, peer, sops, false)
}

// onlyDXConfig is a storescp association profile that takes Verification
// and DX For Presentation (panoramic films) only: intra-oral films find no
// presentation context.
const onlyDXConfig = `[[TransferSyntaxes]]
[Uncompressed]
TransferSyntax1 = LocalEndianExplicit
TransferSyntax2 = LittleEndianImplicit

[[PresentationContexts]]
[OnlyDX]
PresentationContext1 = VerificationSOPClass\Uncompressed
PresentationContext2 = 1.2.840.10008.5.1.4.1.1.1.1\Uncompressed

[[Profiles]]
[Default]
PresentationContexts = OnlyDX
`

// TestForwardRefusedForGood: instances the node can never take are
// recorded as failed with why, the rest are delivered, and the job ends
// failed after one attempt instead of retrying for a week.
func TestForwardRefusedForGood(t *testing.T) {
	t.Parallel()
	t.Run("no presentation context", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		cfg := filepath.Join(t.TempDir(), "only-dx.cfg")
		if err := os.WriteFile(cfg, []byte(onlyDXConfig), 0o644); err != nil {
			t.Fatal(err)
		}
		peer := startStorescp(t, "DXONLY", 0, "-xf", cfg, "Default")
		study, sops := h.archive.addStudy(t, "URN-7", synth.DXForPresentation, synth.IntraOralForPresentation, synth.DXForPresentation)
		h.run()
		id := h.enqueue(Job{Studies: []string{study}, Node: peer.node()})
		st := h.waitState(id, Failed)
		if st.Attempts != 1 || st.Total != 3 || st.Sent != 2 || st.Failed != 1 ||
			!strings.Contains(st.LastError, sops[1]) || !strings.Contains(st.LastError, "no accepted presentation context") {
			t.Errorf("job: %s", describeJob(st))
		}
		for _, in := range st.Instances {
			want := InstanceSent
			if in.SOPInstanceUID == sops[1] {
				want = InstanceFailed
				if in.Status != "" || !strings.Contains(in.Comment, dimse.ErrNoContext.Error()) {
					t.Errorf("refused instance: %+v", in)
				}
			}
			if in.State != want {
				t.Errorf("instance %s is %s, want %s", in.SOPInstanceUID, in.State, want)
			}
		}
		checkDelivered(t, h.archive, peer, []string{sops[0], sops[2]}, false)
		// Not retried, however long we wait.
		h.clock.Advance(8 * 24 * time.Hour)
		time.Sleep(50 * time.Millisecond)
		if st := h.job(id); st.Attempts != 1 || st.State != Failed {
			t.Errorf("retried: %s", describeJob(st))
		}
	})
	t.Run("no storage context at all", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		cfg := filepath.Join(t.TempDir(), "only-dx.cfg")
		if err := os.WriteFile(cfg, []byte(onlyDXConfig), 0o644); err != nil {
			t.Fatal(err)
		}
		peer := startStorescp(t, "DXONLY", 0, "-xf", cfg, "Default")
		study, _ := h.archive.addStudy(t, "URN-8")
		h.run()
		id := h.enqueue(Job{Studies: []string{study}, Node: peer.node()})
		st := h.waitState(id, Failed)
		if st.Attempts != 1 || st.Sent != 0 || st.Failed != 3 || !strings.HasPrefix(st.LastError, "3 instances could not be delivered") {
			t.Errorf("job: %s", describeJob(st))
		}
	})
	t.Run("duplicate conflict C011", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		study, sops := h.archive.addStudy(t, "URN-9")
		// The node is a Molar archive that already holds the second
		// instance's SOP Instance UID with other pixels, and refuses to
		// replace it.
		peer := startMolar(t, "OTHERMOLAR")
		peer.add(t, synth.Spec{StudyUID: study, SOPInstanceUID: sops[1], Seed: 99})
		h.run()
		id := h.enqueue(Job{Studies: []string{study}, Node: peer.node})
		st := h.waitState(id, Failed)
		if st.Attempts != 1 || st.Sent != 2 || st.Failed != 1 || !strings.Contains(st.LastError, "status C011") {
			t.Errorf("job: %s", describeJob(st))
		}
		for _, in := range st.Instances {
			if in.SOPInstanceUID == sops[1] && (in.State != InstanceFailed || in.Status != "C011" || in.Comment == "") {
				t.Errorf("conflicting instance: %+v", in)
			}
		}
		for _, sop := range []string{sops[0], sops[2]} {
			got := peer.dataset(t, sop)
			if !bytes.Equal(got, h.archive.datasets[sop]) {
				t.Errorf("instance %s at the node differs: %s", sop, diffAt(got, h.archive.datasets[sop]))
			}
		}
	})
}

// molarPeer is a Molar DIMSE server over a store of its own.
type molarPeer struct {
	*archive
	node Node
}

func startMolar(t testing.TB, aet string) *molarPeer {
	t.Helper()
	a := newArchive(t)
	srv := &dimse.Server{Policy: dimse.DefaultPolicy(aet), Archive: a.Store, IdleTimeout: 20 * time.Second,
		ARTIMTimeout: 5 * time.Second, Log: slog.New(slog.DiscardHandler)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return &molarPeer{archive: a, node: Node{AETitle: aet, Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port}}
}

// dataset returns what the peer stored for sop.
func (p *molarPeer) dataset(t testing.TB, sop string) []byte {
	t.Helper()
	in, err := p.OpenInstance(context.Background(), sop)
	if err != nil {
		t.Fatalf("the node does not have %s: %v", sop, err)
	}
	defer in.Close()
	if in.TransferSyntax != dcm.ExplicitVRLittleEndian {
		t.Errorf("the node has %s in %s", sop, in.TransferSyntax)
	}
	var buf bytes.Buffer
	buf.ReadFrom(in.DatasetReader())
	return buf.Bytes()
}

// TestForwardCancel: a waiting job cancelled is never attempted again and
// stays listed; a job being sent is cancelled at once, its association
// aborted; an administrator's Retry brings a cancelled job back.
func TestForwardCancel(t *testing.T) {
	t.Parallel()
	t.Run("waiting", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		study, sops := h.archive.addStudy(t, "URN-10")
		port := freePort(t)
		h.run()
		id := h.enqueue(Job{Studies: []string{study}, Node: Node{AETitle: "GONE", Host: "127.0.0.1", Port: port}})
		h.waitState(id, RetryWait)
		if err := h.q.Cancel(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if err := h.q.Cancel(context.Background(), id); err != nil {
			t.Errorf("second cancel: %v", err)
		}
		h.clock.Advance(2 * time.Hour)
		time.Sleep(50 * time.Millisecond)
		st := h.job(id)
		if st.State != Cancelled || st.Attempts != 1 || !st.NextAttempt.IsZero() {
			t.Errorf("after cancel: %s", describeJob(st))
		}
		if jobs, err := h.q.Jobs(context.Background(), Filter{States: []State{Cancelled}}); err != nil || len(jobs) != 1 || jobs[0].ID != id {
			t.Errorf("cancelled jobs: %v %+v", err, jobs)
		}
		// Revived by an administrator, it is delivered.
		peer := startStorescp(t, "GONE", port)
		if err := h.q.Retry(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		st = h.waitState(id, Done)
		if st.Attempts != 2 {
			t.Errorf("after retry: %s", describeJob(st))
		}
		checkDelivered(t, h.archive, peer, sops, false)
		if err := h.q.Cancel(context.Background(), id); !errors.Is(err, ErrConflict) {
			t.Errorf("cancel a done job: %v, want ErrConflict", err)
		}
	})
	t.Run("sending", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		study, _ := h.archive.addStudy(t, "URN-11")
		peer := startStorescp(t, "SLOWPACS", 0, "--sleep-after", "5")
		h.run()
		id := h.enqueue(Job{Studies: []string{study}, Node: peer.node()})
		h.waitFor(id, "the first C-STORE under way", func(JobStatus) bool {
			return strings.Contains(peer.log.String(), "Received Store Request")
		})
		start := time.Now()
		if err := h.q.Cancel(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		h.waitFor(id, "the attempt to stop", func(JobStatus) bool { return logLine(h.logs.String(), "attempt stopped", "job="+id) != "" })
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("cancel took %v to stop the send", took)
		}
		// storescp sleeps after answering: the first instance is
		// delivered, the second was under way.
		st := h.job(id)
		if st.State != Cancelled || st.Sent > 1 || st.Attempts != 1 {
			t.Errorf("after cancel: %s", describeJob(st))
		}
		h.clock.Advance(2 * time.Hour)
		time.Sleep(50 * time.Millisecond)
		if st := h.job(id); st.State != Cancelled || st.Attempts != 1 {
			t.Errorf("attempted after cancel: %s", describeJob(st))
		}
	})
}

// TestForwardMaxAge: a job that keeps failing is retried on its backoff,
// once more at its give-up time, then marked failed; it stays listed and
// is not attempted again.
func TestForwardMaxAge(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) {
		c.MaxAge = 15 * time.Minute
		c.Backoff = fixedBackoff(10 * time.Minute)
	})
	study, _ := h.archive.addStudy(t, "URN-12")
	port := freePort(t)
	h.run()
	t0 := h.clock.Now()
	id := h.enqueue(Job{Studies: []string{study}, Node: Node{AETitle: "NEVERUP", Host: "127.0.0.1", Port: port}})
	steps := []struct {
		advance time.Duration
		state   State
		next    time.Time
	}{
		{0, RetryWait, t0.Add(10 * time.Minute)},
		{10 * time.Minute, RetryWait, t0.Add(15 * time.Minute)}, // capped at the give-up time
		{5 * time.Minute, Failed, time.Time{}},
	}
	for i, s := range steps {
		h.clock.Advance(s.advance)
		st := h.waitFor(id, "attempt "+strconv.Itoa(i+1), func(st JobStatus) bool { return st.Attempts == i+1 && st.State == s.state })
		if !st.NextAttempt.Equal(s.next) || !st.GiveUpAt.Equal(t0.Add(15*time.Minute)) {
			t.Errorf("after attempt %d: %s, want next %v", i+1, describeJob(st), s.next)
		}
	}
	st := h.job(id)
	if !strings.HasPrefix(st.LastError, "gave up after 3 attempts over 15m0s: ") || !strings.Contains(st.LastError, "connection refused") {
		t.Errorf("last error %q", st.LastError)
	}
	h.clock.Advance(24 * time.Hour)
	time.Sleep(50 * time.Millisecond)
	if st := h.job(id); st.Attempts != 3 || st.State != Failed {
		t.Errorf("attempted after failing: %s", describeJob(st))
	}
	// A new Enqueue of the same job is a new job.
	if id2 := h.enqueue(Job{Studies: []string{study}, Node: Node{AETitle: "NEVERUP", Host: "127.0.0.1", Port: port}}); id2 == id {
		t.Errorf("enqueue after failure returned the failed job")
	}
}

// TestForwardStudyWithoutInstances: a study not (yet) in the archive makes
// the attempt fail; films arriving later are sent by the retry.
func TestForwardStudyWithoutInstances(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	peer := startStorescp(t, "EARLYPACS", 0)
	study := dcm.NewUID()
	h.run()
	id := h.enqueue(Job{Studies: []string{study}, Node: peer.node()})
	st := h.waitState(id, RetryWait)
	if !strings.Contains(st.LastError, "no instances") || st.Total != 0 {
		t.Errorf("job: %s", describeJob(st))
	}
	sop := h.archive.add(t, synth.Spec{StudyUID: study, AccessionNumber: "URN-0000001"})
	h.clock.Advance(time.Hour)
	st = h.waitState(id, Done)
	if st.Total != 1 || st.Sent != 1 {
		t.Errorf("job: %s", describeJob(st))
	}
	checkDelivered(t, h.archive, peer, []string{sop}, false)
}

// TestForwardConcurrency: with Concurrency 2 and three jobs to a slow
// node, never more than two associations are open, and each job gets
// exactly one.
func TestForwardConcurrency(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	// One association at a time: the second job's association waits in
	// storescp's listen queue, and is "sending" for the queue meanwhile.
	peer := startStorescp(t, "BUSYPACS", 0, "--sleep-after", "1")
	var ids []string
	var all []string
	for i := range 3 {
		study, sops := h.archive.addStudy(t, "URN-C"+strconv.Itoa(i), synth.IntraOralForPresentation)
		all = append(all, sops...)
		ids = append(ids, h.enqueue(Job{Studies: []string{study}, Node: peer.node(), Reference: "URN-C" + strconv.Itoa(i)}))
	}
	// Watch the queue's own view while it works.
	maxSending := 0
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			default:
			}
			jobs, err := h.q.Jobs(context.Background(), Filter{States: []State{Sending}})
			if err == nil {
				maxSending = max(maxSending, len(jobs))
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	h.run()
	for _, id := range ids {
		if st := h.waitState(id, Done); st.Attempts != 1 {
			t.Errorf("job %s: %s", id, describeJob(st))
		}
	}
	close(stop)
	<-watched
	if maxSending != 2 {
		t.Errorf("at most %d jobs were sending at once, want 2", maxSending)
	}
	checkDelivered(t, h.archive, peer, all, false)
	if n := strings.Count(peer.log.String(), "Association Acknowledged"); n != 3 {
		t.Errorf("storescp saw %d associations, want 3", n)
	}
}

var _ Source = (*store.Store)(nil)

// TestForwardWarningDelivered: a node answering with a warning status has
// the instance: it counts as delivered, with the status and comment kept.
func TestForwardWarningDelivered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	study, sops := h.archive.addStudy(t, "URN-W", synth.IntraOralForPresentation)
	// A Molar node answers B000 (coercion) to a character set it does not
	// know, and keeps the instance.
	odd := h.archive.add(t, synth.Spec{StudyUID: study, InstanceNumber: 2,
		Extra: map[dcm.Tag]synth.Value{dcm.SpecificCharacterSet: {VR: dcm.CS, Value: "ISO_IR 999"}}})
	peer := startMolar(t, "WARNPACS")
	h.run()
	id := h.enqueue(Job{Studies: []string{study}, Node: peer.node})
	st := h.waitState(id, Done)
	if st.Sent != 2 || st.Failed != 0 || st.Attempts != 1 {
		t.Errorf("job: %s", describeJob(st))
	}
	for _, in := range st.Instances {
		want := "0000"
		if in.SOPInstanceUID == odd {
			want = "B000"
			if in.Comment == "" {
				t.Errorf("warning without its comment: %+v", in)
			}
		}
		if in.State != InstanceSent || in.Status != want {
			t.Errorf("instance %+v, want sent with %s", in, want)
		}
	}
	for _, sop := range append(sops, odd) {
		if got := peer.dataset(t, sop); !bytes.Equal(got, h.archive.datasets[sop]) {
			t.Errorf("instance %s at the node differs: %s", sop, diffAt(got, h.archive.datasets[sop]))
		}
	}
}
