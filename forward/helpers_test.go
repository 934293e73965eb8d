package forward

// Test harness: a real store in a temporary directory filled with
// synthetic instances, DCMTK's storescp as the provider's node (a missing
// tool fails the test: CI installs DCMTK), a fake clock the tests move by
// hand, and a queue over all of it.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molar-pacs/molar/dimse"
	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
	"github.com/molar-pacs/molar/store"
)

// needTool fails the test, never skips it, when a tool is missing.
func needTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s not found: install DCMTK (scripts/install-deps.sh)", name)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// storescp is a DCMTK storescp the test started.
type storescp struct {
	AETitle string
	Port    int
	Dir     string // where it writes what it receives
	log     *syncBuffer
	cmd     *exec.Cmd
	exited  chan struct{}
}

// startStorescp runs storescp as aet on port (0: a free one), writing
// each received data set bit-preserved (+B: exactly as it came off the
// wire) to a file of its own (+uf: a second copy of an instance is a
// second file). storescp 3.6.7 cannot choose its listen address; the
// tests only ever reach it through 127.0.0.1.
func startStorescp(t testing.TB, aet string, port int, opts ...string) *storescp {
	t.Helper()
	needTool(t, "storescp")
	p := &storescp{AETitle: aet, Dir: t.TempDir(), log: &syncBuffer{}}
	for attempt := 0; ; attempt++ {
		p.Port = port
		if port == 0 {
			p.Port = freePort(t)
		}
		args := append([]string{"-v", "-aet", aet, "+B", "+uf", "-od", p.Dir, "-dhl"}, opts...)
		args = append(args, strconv.Itoa(p.Port))
		p.cmd = exec.Command("storescp", args...)
		p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("start storescp: %v", err)
		}
		exited := make(chan struct{})
		p.exited = exited
		cmd := p.cmd
		go func() { cmd.Wait(); close(exited) }()
		if waitListening(p.Port, exited) {
			t.Cleanup(func() {
				p.stop()
				if t.Failed() {
					t.Logf("storescp %s log:\n%s", aet, p.log.String())
				}
			})
			return p
		}
		p.stop()
		if attempt == 2 || port != 0 {
			t.Fatalf("storescp did not start listening on %d:\n%s", p.Port, p.log.String())
		}
	}
}

// stop kills this storescp (by its process, nothing else) and waits.
func (p *storescp) stop() {
	p.cmd.Process.Kill()
	<-p.exited
}

// waitListening polls until something accepts on 127.0.0.1:port, or the
// process ends (false).
func waitListening(port int, exited <-chan struct{}) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			select {
			case <-exited: // someone else had the port
				return false
			case <-time.After(50 * time.Millisecond):
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func (p *storescp) node() Node { return Node{AETitle: p.AETitle, Host: "127.0.0.1", Port: p.Port} }

// received parses every file storescp wrote and returns the data sets
// (the bytes after the file meta information) by SOP Instance UID, one
// per copy received.
func (p *storescp) received(t testing.TB) map[string][][]byte {
	t.Helper()
	out := map[string][][]byte{}
	entries, err := os.ReadDir(p.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(p.Dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		f, err := dcm.ParsePart10(bytes.NewReader(b), dcm.ParseOptions{})
		if err != nil {
			t.Fatalf("storescp wrote %s, which does not parse: %v", e.Name(), err)
		}
		if got := f.TransferSyntax.UID; got != dcm.ExplicitVRLittleEndian {
			t.Errorf("%s received in %s, want explicit VR little endian", e.Name(), got)
		}
		sop := f.Dataset.String(dcm.SOPInstanceUID)
		out[sop] = append(out[sop], b[f.DatasetOffset:])
	}
	return out
}

// archive is a real store with synthetic studies in it.
type archive struct {
	*store.Store
	// datasets are the instances' data sets as synth wrote them (after
	// the file meta information), by SOP Instance UID.
	datasets map[string][]byte
}

func newArchive(t testing.TB) *archive {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return &archive{Store: st, datasets: map[string][]byte{}}
}

// addStudy ingests a study of one instance per SOP class given (default:
// three intra-oral films in two series) and returns its UID and the SOP
// Instance UIDs.
func (a *archive) addStudy(t testing.TB, urn string, classes ...string) (string, []string) {
	t.Helper()
	if len(classes) == 0 {
		classes = []string{synth.IntraOralForPresentation, synth.IntraOralForPresentation, synth.IntraOralForPresentation}
	}
	study := dcm.NewUID()
	series := []string{dcm.NewUID(), dcm.NewUID()}
	var sops []string
	for i, class := range classes {
		spec := synth.Spec{StudyUID: study, SeriesUID: series[min(i, 1)], SOPClassUID: class,
			AccessionNumber: urn, PatientName: "TEST^PATIENT", PatientID: "9990001234",
			InstanceNumber: i + 1, Seed: int64(i + 1), Rows: 48 + 8*i, Columns: 64}
		if class == synth.DXForPresentation {
			spec.Modality = "PX"
		}
		sops = append(sops, a.add(t, spec))
	}
	return study, sops
}

// add ingests one synthetic instance.
func (a *archive) add(t testing.TB, spec synth.Spec) string {
	t.Helper()
	if spec.SOPInstanceUID == "" {
		spec.SOPInstanceUID = dcm.NewUID()
	}
	b, err := synth.Bytes(spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Ingest(context.Background(), bytes.NewReader(b)); err != nil {
		t.Fatalf("ingest: %v", err)
	}
	f, err := dcm.ParsePart10(bytes.NewReader(b), dcm.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a.datasets[spec.SOPInstanceUID] = b[f.DatasetOffset:]
	return spec.SOPInstanceUID
}

// storedDataset is the data set as the store hands it to C-STORE.
func (a *archive) storedDataset(t testing.TB, sop string) []byte {
	t.Helper()
	in, err := a.OpenInstance(context.Background(), sop)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(in.DatasetReader()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkDelivered asserts that the node received each of sops exactly
// once (at most twice with resendOK), every copy byte-identical to what
// synth wrote and to what the store holds, and nothing else.
func checkDelivered(t testing.TB, a *archive, p *storescp, sops []string, resendOK bool) {
	t.Helper()
	got := p.received(t)
	for _, sop := range sops {
		copies := got[sop]
		switch {
		case len(copies) == 0:
			t.Errorf("instance %s not received", sop)
			continue
		case len(copies) > 1 && !resendOK:
			t.Errorf("instance %s received %d times", sop, len(copies))
		case len(copies) > 2:
			t.Errorf("instance %s received %d times, want at most 2", sop, len(copies))
		}
		want := a.datasets[sop]
		if len(want) < 6000 {
			t.Fatalf("test bug: data set of %s is only %d bytes", sop, len(want))
		}
		if stored := a.storedDataset(t, sop); !bytes.Equal(stored, want) {
			t.Errorf("instance %s: the store's data set differs from the one ingested", sop)
		}
		for i, c := range copies {
			if !bytes.Equal(c, want) {
				t.Errorf("instance %s copy %d: received data set differs from the stored one: %s", sop, i, diffAt(c, want))
			}
		}
	}
	for sop := range got {
		if !slices.Contains(sops, sop) {
			t.Errorf("instance %s received but not expected", sop)
		}
	}
}

func diffAt(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	return fmt.Sprintf("lengths %d and %d, first difference at byte %d", len(got), len(want), i)
}

// fakeClock is a Clock that moves only when told to.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	return ch
}

// Advance moves the clock and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// fixedBackoff waits d after every failure.
func fixedBackoff(d time.Duration) Backoff { return func(int) time.Duration { return d } }

// harness is a queue over an archive, with its log.
type harness struct {
	t       testing.TB
	dir     string // the queue's database
	archive *archive
	clock   *fakeClock
	logs    *syncBuffer
	cfg     Config
	q       *Queue
	stopRun func()
}

// newHarness opens a queue (not yet running) over a new archive. The
// default backoff is a fixed hour, so nothing is retried unless the test
// moves the clock or asks.
func newHarness(t testing.TB, configure func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, dir: filepath.Join(t.TempDir(), "forward"), archive: newArchive(t),
		clock: newFakeClock(), logs: &syncBuffer{}}
	h.cfg = Config{
		Dir: h.dir, Source: h.archive,
		Dialer:  &dimse.Dialer{CallingAE: "MOLARTEST", Timeout: 5 * time.Second, IdleTimeout: 20 * time.Second},
		Backoff: fixedBackoff(time.Hour),
		Clock:   h.clock,
		Logger:  slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if configure != nil {
		configure(&h.cfg)
	}
	h.open()
	t.Cleanup(func() {
		h.close()
		if t.Failed() {
			t.Logf("queue log:\n%s", h.logs.String())
		}
	})
	return h
}

func (h *harness) open() {
	h.t.Helper()
	q, err := Open(context.Background(), h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.q = q
}

// run starts the worker.
func (h *harness) run() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	q := h.q
	go func() { done <- q.Run(ctx) }()
	h.stopRun = func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("Run: %v", err)
		}
	}
}

// close stops the worker and closes the queue.
func (h *harness) close() {
	if h.q == nil {
		return
	}
	if h.stopRun != nil {
		h.stopRun()
		h.stopRun = nil
	}
	if err := h.q.Close(); err != nil {
		h.t.Errorf("close queue: %v", err)
	}
	h.q = nil
}

func (h *harness) enqueue(j Job) string {
	h.t.Helper()
	if j.Reference == "" {
		j.Reference = "URN-0000001"
	}
	id, err := h.q.Enqueue(context.Background(), j)
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

func (h *harness) job(id string) JobStatus {
	h.t.Helper()
	st, err := h.q.Job(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// waitFor polls job id until cond holds, failing the test after 20 s.
func (h *harness) waitFor(id, what string, cond func(JobStatus) bool) JobStatus {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := h.job(id)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("job %s: waited 20 s for %s; it is %s", id, what, describeJob(st))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitState waits until job id is in state s (and not sending).
func (h *harness) waitState(id string, s State) JobStatus {
	h.t.Helper()
	return h.waitFor(id, string(s), func(st JobStatus) bool { return st.State == s })
}

func describeJob(st JobStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s, attempts %d, total %d sent %d failed %d, next %v, last error %q",
		st.State, st.Attempts, st.Total, st.Sent, st.Failed, st.NextAttempt, st.LastError)
	for _, in := range st.Instances {
		fmt.Fprintf(&b, "\n  %s %s %s %q", in.SOPInstanceUID, in.State, in.Status, in.Comment)
	}
	return b.String()
}

// logLine returns the first log line containing every one of subs.
func logLine(log string, subs ...string) string {
	for _, line := range strings.Split(log, "\n") {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			return line
		}
	}
	return ""
}
