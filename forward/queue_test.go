package forward

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/molar-pacs/molar/dimse"
	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/store"
)

func TestNodeValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		node Node
		ok   bool
	}{
		{Node{"PACS", "pacs.example.nhs.uk", 104}, true},
		{Node{"A", "10.0.0.1", 1}, true},
		{Node{"SIXTEEN_CHARS_AE", "::1", 65535}, true},
		{Node{" PACS  ", "host", 11112}, true}, // spaces are insignificant padding
		{Node{"PACS-1 (Leeds)", "host_1", 11112}, true},
		{Node{"", "host", 104}, false},
		{Node{"    ", "host", 104}, false},
		{Node{"SEVENTEEN_CHARSAE", "host", 104}, false},
		{Node{`PA\CS`, "host", 104}, false},
		{Node{"PACS\n", "host", 104}, false},
		{Node{"PACS\t", "host", 104}, false},
		{Node{"PÄCS", "host", 104}, false},
		{Node{"PACS", "", 104}, false},
		{Node{"PACS", "bad host", 104}, false},
		{Node{"PACS", "-host", 104}, false},
		{Node{"PACS", "a..b", 104}, false},
		{Node{"PACS", "host", 0}, false},
		{Node{"PACS", "host", 65536}, false},
		{Node{"PACS", "host", -1}, false},
	} {
		err := tc.node.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%+v: Validate() = %v, want ok %v", tc.node, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v does not wrap ErrInvalid", tc.node, err)
		}
	}
}

func TestEnqueueInvalid(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	good := Job{Studies: []string{"1.2.3"}, Node: Node{"PACS", "127.0.0.1", 104}, Reference: "URN-1"}
	for _, tc := range []struct {
		name string
		edit func(*Job)
	}{
		{"no studies", func(j *Job) { j.Studies = nil }},
		{"bad UID", func(j *Job) { j.Studies = []string{"1.2.abc"} }},
		{"UID with leading zero", func(j *Job) { j.Studies = []string{"1.02.3"} }},
		{"UID too long", func(j *Job) { j.Studies = []string{"1." + strings.Repeat("2", 63)} }},
		{"too many studies", func(j *Job) {
			j.Studies = nil
			for i := range 101 {
				j.Studies = append(j.Studies, fmt.Sprintf("1.2.%d", i+1))
			}
		}},
		{"no reference", func(j *Job) { j.Reference = " " }},
		{"reference with a control character", func(j *Job) { j.Reference = "URN\x00" }},
		{"reference too long", func(j *Job) { j.Reference = strings.Repeat("U", 65) }},
		{"reason too long", func(j *Job) { j.Reason = strings.Repeat("r", 257) }},
		{"bad node", func(j *Job) { j.Node.Port = 0 }},
	} {
		j := good
		j.Studies = slices.Clone(good.Studies)
		tc.edit(&j)
		if _, err := h.q.Enqueue(context.Background(), j); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Enqueue = %v, want ErrInvalid", tc.name, err)
		}
	}
	if _, err := h.q.Enqueue(context.Background(), good); err != nil {
		t.Errorf("good job: %v", err)
	}
}

// TestEnqueueIdempotent: the same referral, node and studies give the same
// pending job; anything else, or the first job's end, a new one.
func TestEnqueueIdempotent(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	base := Job{Studies: []string{"1.2.3", "1.2.4"}, Node: Node{"PACS", "pacs.example", 104}, Reference: "URN-1", Reason: "accepted"}
	id, err := h.q.Enqueue(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Job)
		same bool
	}{
		{"identical", func(*Job) {}, true},
		{"studies reordered and repeated", func(j *Job) { j.Studies = []string{"1.2.4", "1.2.3", "1.2.4"} }, true},
		{"other reason", func(j *Job) { j.Reason = "re-accepted after return" }, true},
		{"AE title padded, host in capitals", func(j *Job) { j.Node.AETitle, j.Node.Host = " PACS ", "PACS.Example" }, true},
		{"other reference", func(j *Job) { j.Reference = "URN-2" }, false},
		{"other AE title", func(j *Job) { j.Node.AETitle = "PACS2" }, false},
		{"other port", func(j *Job) { j.Node.Port = 105 }, false},
		{"fewer studies", func(j *Job) { j.Studies = []string{"1.2.3"} }, false},
		{"more studies", func(j *Job) { j.Studies = []string{"1.2.3", "1.2.4", "1.2.5"} }, false},
	} {
		j := base
		j.Studies = slices.Clone(base.Studies)
		tc.edit(&j)
		got, err := h.q.Enqueue(ctx, j)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if (got == id) != tc.same {
			t.Errorf("%s: got job %s, first job %s, want same %v", tc.name, got, id, tc.same)
		}
	}
	st := h.job(id)
	if st.Reason != "accepted" || st.Node.AETitle != "PACS" || !slices.Equal(st.Studies, []string{"1.2.3", "1.2.4"}) {
		t.Errorf("the first job was changed: %+v", st)
	}
	if jobs, _ := h.q.Jobs(ctx, Filter{Reference: "URN-1"}); len(jobs) != 5 {
		t.Errorf("URN-1 has %d jobs, want 5", len(jobs))
	}

	// Still the same after a restart.
	h.close()
	h.open()
	if got, err := h.q.Enqueue(ctx, base); err != nil || got != id {
		t.Errorf("after reopening: %s, %v; want %s", got, err, id)
	}
	// Once the job has ended, the same Enqueue is a new job, and the old
	// one cannot be revived while the new one is pending.
	if err := h.q.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	id2, err := h.q.Enqueue(ctx, base)
	if err != nil || id2 == id {
		t.Fatalf("after cancel: %s, %v", id2, err)
	}
	if err := h.q.Retry(ctx, id); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), id2) {
		t.Errorf("retry the cancelled job while %s is pending: %v", id2, err)
	}
	if got, _ := h.q.Enqueue(ctx, base); got != id2 {
		t.Errorf("enqueue again: %s, want %s", got, id2)
	}
}

func TestJobsFilter(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		ids = append(ids, h.enqueue(Job{Studies: []string{fmt.Sprintf("1.2.%d", i+1)}, Node: Node{"PACS", "h", 104}, Reference: fmt.Sprintf("URN-%d", i%2)}))
	}
	if err := h.q.Cancel(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		f    Filter
		want []string
	}{
		{Filter{}, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{Filter{Limit: 2}, []string{ids[4], ids[3]}},
		{Filter{Reference: "URN-1"}, []string{ids[3], ids[1]}},
		{Filter{Reference: "URN-1", States: []State{Queued}}, []string{ids[3]}},
		{Filter{States: []State{Cancelled, Done}}, []string{ids[1]}},
		{Filter{Reference: "URN-9"}, nil},
	} {
		jobs, err := h.q.Jobs(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, j := range jobs {
			got = append(got, j.ID)
			if j.Instances != nil {
				t.Errorf("Jobs returned instances")
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%+v: got %v, want %v", tc.f, got, tc.want)
		}
	}
	if _, err := h.q.Jobs(ctx, Filter{States: []State{"lost"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown state: %v", err)
	}
	for _, id := range []string{"", "nope", strings.Repeat("0", 24), ids[0][:23] + "g"} {
		if _, err := h.q.Job(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Job(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestRetryAndCancelStates(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	id := h.enqueue(Job{Studies: []string{"1.2.3"}, Node: Node{"PACS", "h", 104}})
	h.clock.Advance(time.Hour)
	if err := h.q.Retry(ctx, id); err != nil {
		t.Fatal(err)
	}
	st := h.job(id)
	if st.State != Queued || !st.NextAttempt.Equal(h.clock.Now()) || !st.GiveUpAt.Equal(h.clock.Now().Add(DefaultMaxAge)) {
		t.Errorf("after retry: %+v", st)
	}
	// Being sent: neither retry nor a second attempt.
	if r, err := h.q.begin(id); err != nil || r == nil {
		t.Fatalf("begin: %v", err)
	}
	if err := h.q.Retry(ctx, id); !errors.Is(err, ErrConflict) {
		t.Errorf("retry while sending: %v", err)
	}
	if r, err := h.q.begin(id); err != nil || r != nil {
		t.Errorf("a second begin: %v %+v", err, r)
	}
	if err := h.q.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := h.q.Retry(ctx, strings.Repeat("a", 24)); !errors.Is(err, ErrNotFound) {
		t.Errorf("retry unknown: %v", err)
	}
	if err := h.q.Cancel(ctx, strings.Repeat("a", 24)); !errors.Is(err, ErrNotFound) {
		t.Errorf("cancel unknown: %v", err)
	}
	h.close()
	for _, err := range []error{
		h.q2().Retry(ctx, id), h.q2().Cancel(ctx, id),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("after close: %v, want ErrClosed", err)
		}
	}
}

// q2 is a queue closed already, for the ErrClosed checks.
func (h *harness) q2() *Queue {
	h.t.Helper()
	q, err := Open(context.Background(), h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		h.t.Fatal(err)
	}
	return q
}

func TestExponentialBackoff(t *testing.T) {
	t.Parallel()
	b := Exponential(30*time.Second, time.Hour, 0.25)
	for _, tc := range []struct {
		failures int
		base     time.Duration
	}{
		{1, 30 * time.Second}, {2, time.Minute}, {3, 2 * time.Minute}, {4, 4 * time.Minute},
		{7, 32 * time.Minute}, {8, time.Hour}, {9, time.Hour}, {1000, time.Hour},
	} {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := b(tc.failures)
			seen[d] = true
			if d > tc.base || d < tc.base*3/4 {
				t.Fatalf("failure %d: wait %v, want from %v to %v", tc.failures, d, tc.base*3/4, tc.base)
			}
		}
		if len(seen) < 10 {
			t.Errorf("failure %d: only %d different waits in 200: no jitter?", tc.failures, len(seen))
		}
	}
	if d := Exponential(time.Second, time.Minute, 0)(3); d != 4*time.Second {
		t.Errorf("no jitter: %v", d)
	}
}

func TestPermanentStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status    uint16
		permanent bool
	}{
		{0xA700, false}, {0xA7FF, false}, // out of resources
		{0xA900, true}, {0xA9FF, true}, // data set does not match SOP class
		{0xC000, true}, {0xC011, true}, {0xCFFF, true}, // cannot understand
		{0x0122, true}, {0x0124, true}, {0x0211, true}, {0x0212, true}, {0x0117, true},
		{0x0110, false}, // processing failure
		{0x0213, false}, // resource limitation
		{0xFE00, false}, // cancel
		{0xA801, false}, // not a C-STORE status: unknown, so retried
		{0x0001, false},
	} {
		if got := permanent(tc.status); got != tc.permanent {
			t.Errorf("permanent(%04X) = %v, want %v", tc.status, got, tc.permanent)
		}
	}
}

// TestProposals: per SOP class the uncompressed pair, each other stored
// syntax as is, Verification, and a second association only beyond 128
// contexts.
func TestProposals(t *testing.T) {
	t.Parallel()
	inst := func(class, ts string) pendingInstance {
		return pendingInstance{ref: store.InstanceRef{SOPClassUID: class, TransferSyntax: ts, SOPInstanceUID: dcm.NewUID()}}
	}
	const io, dx = "1.2.840.10008.5.1.4.1.1.1.3", "1.2.840.10008.5.1.4.1.1.1.1"
	uncompressed := []string{dcm.ExplicitVRLittleEndian, dcm.ImplicitVRLittleEndian}
	batch, props, rest := proposalsFor([]pendingInstance{
		inst(io, dcm.ExplicitVRLittleEndian), inst(io, dcm.ImplicitVRLittleEndian), inst(io, dcm.JPEGLSLossless),
		inst(dx, dcm.JPEG2000Lossless), inst(dx, dcm.JPEG2000Lossless), inst(io, dcm.JPEGLSLossless),
	})
	want := []dimse.Proposal{
		{AbstractSyntax: io, TransferSyntaxes: uncompressed},
		{AbstractSyntax: io, TransferSyntaxes: []string{dcm.JPEGLSLossless}},
		{AbstractSyntax: dx, TransferSyntaxes: uncompressed},
		{AbstractSyntax: dx, TransferSyntaxes: []string{dcm.JPEG2000Lossless}},
		{AbstractSyntax: dimse.VerificationSOPClass, TransferSyntaxes: uncompressed},
	}
	if len(batch) != 6 || len(rest) != 0 || !equalProposals(props, want) {
		t.Errorf("batch %d, rest %d, proposals %v", len(batch), len(rest), props)
	}

	// 100 SOP classes, each stored compressed: 200 contexts needed.
	var many []pendingInstance
	for i := range 100 {
		many = append(many, inst(fmt.Sprintf("1.2.3.%d", i+1), dcm.RLELossless))
	}
	var rounds [][]dimse.Proposal
	for len(many) > 0 {
		var props []dimse.Proposal
		_, props, many = proposalsFor(many)
		if len(props) > 128 {
			t.Fatalf("%d proposals", len(props))
		}
		rounds = append(rounds, props)
	}
	if len(rounds) != 2 || len(rounds[0]) != 127 || len(rounds[1]) != 75 {
		t.Errorf("rounds of %d and %d proposals", len(rounds[0]), len(rounds[len(rounds)-1]))
	}
}

func equalProposals(a, b []dimse.Proposal) bool {
	return slices.EqualFunc(a, b, func(x, y dimse.Proposal) bool {
		return x.AbstractSyntax == y.AbstractSyntax && slices.Equal(x.TransferSyntaxes, y.TransferSyntaxes) && x.SCP == y.SCP
	})
}
