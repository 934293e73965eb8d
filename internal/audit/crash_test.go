package audit

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The crash test checks the durability promise: whatever Record
// acknowledged survives SIGKILL, in order, and the chain stays whole. The
// parent runs the log in a child process (this test binary again, told by
// crashDirEnv to be the child rather than run tests) and kills it at a
// random moment, several times over one directory.
//
// The child speaks in lines on stdout, each written only after the call it
// reports returned:
//
//	READY                 the log is open
//	ACK <round> <w> <n>   writer w's n-th Record of this round returned nil
//	ERR <text>            something failed that never should
const (
	crashDirEnv   = "MOLAR_AUDIT_CRASH_DIR"
	crashRoundEnv = "MOLAR_AUDIT_CRASH_ROUND"
	crashWriters  = 4
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func crashResource(round, w, n int) string { return fmt.Sprintf("crash/%d/%d/%d", round, w, n) }

// crashChild records until it is killed.
func crashChild(dir string) {
	round, _ := strconv.Atoi(os.Getenv(crashRoundEnv))
	var outMu sync.Mutex
	emit := func(format string, args ...any) {
		// One write per line, so a kill cannot leave half a line.
		line := fmt.Sprintf(format+"\n", args...)
		outMu.Lock()
		os.Stdout.WriteString(line)
		outMu.Unlock()
	}
	ctx := context.Background()
	l, err := Open(ctx, Options{Dir: dir})
	if err != nil {
		emit("ERR open: %v", err)
		return
	}
	emit("READY")
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Go(func() {
			for n := 0; ; n++ {
				err := l.Record(ctx, Entry{User: fmt.Sprintf("crash-%d", w), URN: fmt.Sprintf("R-%d", round),
					NHSNumber: "999 000 0000", Action: ActionDIMSEMove, CallingAE: "CRASHTEST",
					Resource: crashResource(round, w, n), Outcome: OutcomeOK})
				if err != nil {
					emit("ERR record: %v", err)
					return
				}
				emit("ACK %d %d %d", round, w, n)
			}
		})
	}
	// Writers stop only on an error; the parent kills the process. Should
	// the parent die first, do not run forever.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
	}
}

// runCrashChild starts a child on dir, kills it with SIGKILL at a random
// moment once it has acknowledged a random number of entries (counting
// acknowledgements rather than time keeps the test meaningful on a loaded
// machine), and returns its output.
func runCrashChild(t *testing.T, dir string, round int, rng *rand.Rand) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	target := 1 + rng.IntN(600)
	reached := make(chan struct{})
	readDone := make(chan struct{})
	var lines []string
	go func() {
		defer close(readDone)
		acks := 0
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if strings.HasPrefix(sc.Text(), "ACK ") {
				if acks++; acks == target {
					close(reached)
				}
			}
		}
	}()
	select {
	case <-reached:
	case <-readDone:
		cmd.Wait()
		t.Fatalf("round %d: child exited before it was killed: %q", round, lines)
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-readDone
		cmd.Wait()
		t.Fatalf("round %d: child acknowledged fewer than %d entries in 30s: %q", round, target, lines)
	}
	time.Sleep(time.Duration(rng.IntN(20_000)) * time.Microsecond)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-readDone
	cmd.Wait() // "signal: killed", as intended
	return lines
}

func TestCrash(t *testing.T) {
	const rounds = 3
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	ctx := context.Background()
	acked := map[string]bool{}
	for round := range rounds {
		out := runCrashChild(t, dir, round, rng)
		var acks int
		for _, line := range out {
			f := strings.Fields(line)
			switch {
			case len(f) == 4 && f[0] == "ACK":
				r, _ := strconv.Atoi(f[1])
				w, _ := strconv.Atoi(f[2])
				n, _ := strconv.Atoi(f[3])
				acked[crashResource(r, w, n)] = true
				acks++
			case len(f) > 0 && f[0] == "ERR":
				t.Errorf("round %d: child: %s", round, line)
			}
		}
		if acks == 0 {
			t.Fatalf("round %d: the child acknowledged nothing before it was killed", round)
		}

		l, err := Open(ctx, Options{Dir: dir})
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		var buf bytes.Buffer
		if err := l.Export(ctx, Filter{}, &buf); err != nil {
			t.Fatal(err)
		}
		entries := readJSONLines(t, buf.Bytes())
		seqOf := map[string]uint64{}
		for _, e := range entries {
			seqOf[e.Resource] = e.Seq
		}
		for r := range acked {
			if _, ok := seqOf[r]; !ok {
				t.Errorf("round %d: acknowledged entry %s is gone", round, r)
			}
		}
		// A writer's n-th entry was recorded after its (n-1)-th returned,
		// so it must have a higher sequence number.
		for r := range round + 1 {
			for w := range crashWriters {
				var prev uint64
				for n := 0; ; n++ {
					seq, ok := seqOf[crashResource(r, w, n)]
					if !ok {
						break
					}
					if seq <= prev {
						t.Errorf("round %d: writer %d entry %d has seq %d after %d", r, w, n, seq, prev)
					}
					prev = seq
				}
			}
		}
		n, err := l.Verify(ctx)
		if err != nil || n != len(entries) {
			t.Errorf("round %d: Verify = %d, %v; want %d entries intact", round, n, err, len(entries))
		}
		if p, err := l.Search(ctx, Filter{URN: fmt.Sprintf("R-%d", round), Limit: 1}); err != nil || len(p.Entries) != 1 {
			t.Errorf("round %d: search by URN after crash: %v, %v", round, p.Entries, err)
		}
		t.Logf("round %d: %d acknowledged, %d stored in all", round, acks, len(entries))
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
