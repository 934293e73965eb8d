package store

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeApply commits groups by closing their requests, after waiting for a
// gate when one is set, and checks that groups never overlap.
type fakeApply struct {
	mu      sync.Mutex
	groups  [][]*commitReq
	gates   []chan struct{} // the i-th group waits for gates[i], if any
	running atomic.Int32
	t       *testing.T
}

func (f *fakeApply) apply(group []*commitReq) {
	if f.running.Add(1) != 1 {
		f.t.Error("two groups committed at once")
	}
	defer f.running.Add(-1)
	f.mu.Lock()
	i := len(f.groups)
	f.groups = append(f.groups, group)
	var gate chan struct{}
	if i < len(f.gates) {
		gate = f.gates[i]
	}
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	for _, req := range group {
		close(req.done)
	}
}

func newReq() *commitReq {
	return &commitReq{done: make(chan struct{}), lead: make(chan struct{})}
}

// submit queues req and waits for it on a goroutine of its own; the
// returned channel is closed when wait has returned.
func submit(c *committer, req *commitReq) <-chan struct{} {
	returned := make(chan struct{})
	lead := c.enqueue(req)
	go func() {
		defer close(returned)
		c.wait(req, lead)
	}()
	return returned
}

func TestCommitterLoneWriter(t *testing.T) {
	f := &fakeApply{t: t}
	c := newCommitter(f.apply)
	for range 3 {
		req := newReq()
		c.wait(req, c.enqueue(req)) // on this goroutine: it must lead
	}
	if len(f.groups) != 3 {
		t.Fatalf("%d groups, want one per request", len(f.groups))
	}
	c.waitIdle()
}

func TestCommitterGroupsAndHandsOn(t *testing.T) {
	first, second := make(chan struct{}), make(chan struct{})
	f := &fakeApply{t: t, gates: []chan struct{}{first, second}}
	c := newCommitter(f.apply)

	leader := newReq()
	leaderDone := submit(c, leader)
	waitFor(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.groups) == 1 })
	// While the first group is being made durable, more arrive.
	var others []*commitReq
	var returned []<-chan struct{}
	for range 10 {
		req := newReq()
		others = append(others, req)
		returned = append(returned, submit(c, req))
	}
	close(first)
	// The first leader answers its own caller and does not go on
	// committing the others' group (gated): the lead has passed.
	select {
	case <-leaderDone:
	case <-time.After(5 * time.Second):
		t.Fatal("the first leader is still busy with others' requests")
	}
	waitFor(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.groups) == 2 })
	close(second)
	for _, r := range returned {
		<-r
	}
	c.waitIdle()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.groups) != 2 || len(f.groups[1]) != len(others) {
		sizes := []int{}
		for _, g := range f.groups {
			sizes = append(sizes, len(g))
		}
		t.Fatalf("group sizes %v, want [1 %d]: requests that queue together share a group", sizes, len(others))
	}
}

func TestCommitterPanicPassesLead(t *testing.T) {
	gate := make(chan struct{})
	calls := 0
	var mu sync.Mutex
	c := newCommitter(nil)
	c.apply = func(group []*commitReq) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			<-gate
			for _, req := range group {
				close(req.done)
			}
			panic("boom")
		}
		for _, req := range group {
			close(req.done)
		}
	}
	leader := newReq()
	lead := c.enqueue(leader)
	recovered := make(chan any)
	go func() {
		defer func() { recovered <- recover() }()
		c.wait(leader, lead)
	}()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return calls == 1 })
	other := newReq()
	otherDone := submit(c, other)
	close(gate)
	if r := <-recovered; r != "boom" {
		t.Fatalf("recovered %v, want the panic passed to the leader's caller", r)
	}
	select {
	case <-otherDone:
	case <-time.After(5 * time.Second):
		t.Fatal("a request queued behind a panicking group was never committed")
	}
	c.waitIdle()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

// panickySync is a file blob store whose Sync, in a group commit before
// the index batch is committed, first waits for hold and then, on the
// call after that, panics.
type panickySync struct {
	*FileBlobs
	calls atomic.Int32
	hold  chan struct{}
}

func (p *panickySync) Sync(ids []uint64) error {
	switch p.calls.Add(1) {
	case 1:
		<-p.hold
	case 2:
		panic("disk on fire")
	}
	return p.FileBlobs.Sync(ids)
}

// A panic in a group commit reaches the writer whose goroutine ran it;
// the others in its group get an error; nothing of the group is indexed;
// and the store goes on working.
func TestCommitPanicLeavesStoreWorking(t *testing.T) {
	dir := t.TempDir()
	fb, err := NewFileBlobs(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	blobs := &panickySync{FileBlobs: fb, hold: make(chan struct{})}
	s := openTestStore(t, Options{Dir: dir, Blobs: blobs})
	// Larger than inlineMax, so that each group syncs a blob file.
	size := inlineMax + 4
	sops := []string{"1.2.826.0.13.1.1.1", "1.2.826.0.13.1.1.2", "1.2.826.0.13.1.1.3"}
	type outcome struct {
		panicked any
		err      error
	}
	outcomes := make(chan outcome, len(sops))
	ingest := func(sop string) {
		data := synthOfSize(t, sop, size)
		go func() {
			o := outcome{}
			defer func() {
				o.panicked = recover()
				outcomes <- o
			}()
			_, o.err = s.Ingest(context.Background(), bytes.NewReader(data))
		}()
	}
	ingest(sops[0]) // its group waits in Sync
	waitFor(t, func() bool { return blobs.calls.Load() == 1 })
	ingest(sops[1])
	ingest(sops[2])
	waitFor(t, func() bool {
		s.committer.mu.Lock()
		defer s.committer.mu.Unlock()
		return len(s.committer.queue) == 2
	})
	close(blobs.hold) // the other two then commit as one group, which panics
	var panics, errs, ok int
	for range sops {
		switch o := <-outcomes; {
		case o.panicked == "disk on fire":
			panics++
		case o.panicked != nil:
			t.Fatalf("panic %v", o.panicked)
		case o.err != nil && strings.Contains(o.err.Error(), "panic"):
			errs++
		case o.err == nil:
			ok++
		default:
			t.Fatalf("error %v", o.err)
		}
	}
	if panics != 1 || errs != 1 || ok != 1 {
		t.Fatalf("%d panicked, %d failed, %d stored; want one each", panics, errs, ok)
	}
	for _, sop := range sops[1:] {
		if in, err := s.OpenInstance(context.Background(), sop); !errors.Is(err, ErrNotFound) {
			if in != nil {
				in.Close()
			}
			t.Fatalf("instance %s of the panicked group: %v, want not found", sop, err)
		}
	}
	for _, sop := range sops[1:] {
		mustIngest(t, s, synthOfSize(t, sop, size), Stored)
	}
}
