package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/synth"
)

// The crash test checks the durability promise: whatever Ingest or a
// delete acknowledged survives SIGKILL, nothing is half there, and the
// index can be rebuilt from the blobs. The parent runs the store in a child
// process (this test binary again, TestCrashChild) and kills it at random
// moments, many times over one directory.
//
// The child speaks in lines on stdout, each written only after the call it
// reports returned:
//
//	READY                   the store is open
//	ACK <sop> <sha256>      Ingest returned success for these bytes
//	DELETING <sop>...       a delete of exactly these instances is starting
//	DEL <sop>...            that delete returned success
//	ERR <text>              something failed that never should
const (
	crashChildEnv = "MOLAR_CRASH_CHILD" // "1" in the child
	crashDirEnv   = "MOLAR_CRASH_DIR"
	crashRoundEnv = "MOLAR_CRASH_ROUND"
	crashDelEnv   = "MOLAR_CRASH_DELETE_PERCENT"
)

// crashSOPPrefix starts every SOP Instance UID the child writes in a
// round, so the parent can tell the round of an unacknowledged instance.
func crashSOPPrefix(round int) string { return fmt.Sprintf("2.25.4242.%d.", round) }

func TestCrashChild(t *testing.T) {
	if os.Getenv(crashChildEnv) != "1" {
		t.Skip("runs only as TestCrash's child process")
	}
	round, _ := strconv.Atoi(os.Getenv(crashRoundEnv))
	delPercent, _ := strconv.Atoi(os.Getenv(crashDelEnv))
	var outMu sync.Mutex
	emit := func(format string, args ...any) {
		// One write per line, so a kill cannot leave half a line.
		line := fmt.Sprintf(format+"\n", args...)
		outMu.Lock()
		os.Stdout.WriteString(line)
		outMu.Unlock()
	}
	ctx := context.Background()
	s, err := Open(ctx, Options{Dir: os.Getenv(crashDirEnv)})
	if err != nil {
		emit("ERR open: %v", err)
		return
	}
	emit("READY")

	// Each writer owns its studies and series, so when it deletes a series
	// or study it knows every instance in it: its own acknowledged ones.
	writer := func(g int) {
		rng := rand.New(rand.NewPCG(uint64(round), uint64(g)))
		type acked struct{ study, series, sop string }
		var mine []acked
		deleteWhere := func(match func(acked) bool, del func(acked) (int, error)) {
			var sops []string
			var keep []acked
			var first acked
			for _, a := range mine {
				if match(a) {
					if len(sops) == 0 {
						first = a
					}
					sops = append(sops, a.sop)
				} else {
					keep = append(keep, a)
				}
			}
			if len(sops) == 0 {
				return
			}
			list := strings.Join(sops, " ")
			emit("DELETING %s", list)
			n, err := del(first)
			if err != nil || n != len(sops) {
				emit("ERR delete of %d instances removed %d: %v", len(sops), n, err)
				return
			}
			emit("DEL %s", list)
			mine = keep
		}
		for n := 0; ; n++ {
			study := fmt.Sprintf("%s%d.%d", crashSOPPrefix(round), g, n/12)
			series := fmt.Sprintf("%s.%d", study, n/4%3)
			sp := synth.Spec{StudyUID: study, SeriesUID: series, SOPInstanceUID: fmt.Sprintf("%s.%d", series, n),
				PatientID: fmt.Sprintf("CRASH%d", g), PatientName: fmt.Sprintf("CRASH^WRITER%d", g),
				InstanceNumber: n + 1, Rows: 8 + rng.IntN(24), Columns: 8 + rng.IntN(24), Seed: rng.Int64()}
			if n/4%3 == 2 {
				sp.Modality = "PX"
			}
			data, err := synth.Bytes(sp)
			if err != nil {
				emit("ERR synth: %v", err)
				return
			}
			if _, err := s.Ingest(ctx, bytes.NewReader(data)); err != nil {
				emit("ERR ingest %s: %v", sp.SOPInstanceUID, err)
				return
			}
			sum := sha256.Sum256(data)
			emit("ACK %s %s", sp.SOPInstanceUID, hex.EncodeToString(sum[:]))
			mine = append(mine, acked{study, series, sp.SOPInstanceUID})

			if rng.IntN(100) >= delPercent || len(mine) == 0 {
				continue
			}
			victim := mine[rng.IntN(len(mine))]
			switch r := rng.IntN(10); {
			case r < 7:
				deleteWhere(func(a acked) bool { return a.sop == victim.sop }, func(a acked) (int, error) {
					return 1, s.DeleteInstance(ctx, a.study, a.series, a.sop)
				})
			case r < 9:
				deleteWhere(func(a acked) bool { return a.series == victim.series }, func(a acked) (int, error) {
					return s.DeleteSeries(ctx, a.study, a.series)
				})
			default:
				deleteWhere(func(a acked) bool { return a.study == victim.study }, func(a acked) (int, error) {
					return s.DeleteStudy(ctx, a.study)
				})
			}
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() { writer(g) })
	}
	// Writers stop only on an error; the parent kills the process. Should
	// the parent die first, do not run forever.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
	}
}

// crashLog is what the parent learned from one child's output.
type crashLog struct {
	acked   map[string]string // SOP -> sha256 hex
	deleted map[string]bool   // delete returned
	pending [][]string        // deletes started, not known to have returned
	errors  []string
	deletes int
}

func parseCrashOutput(out []string) *crashLog {
	l := &crashLog{acked: map[string]string{}, deleted: map[string]bool{}}
	started := map[string][]string{}
	for _, line := range out {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "ACK":
			if len(f) == 3 {
				l.acked[f[1]] = f[2]
			}
		case "DELETING":
			started[strings.Join(f[1:], " ")] = f[1:]
		case "DEL":
			delete(started, strings.Join(f[1:], " "))
			for _, sop := range f[1:] {
				l.deleted[sop] = true
			}
			l.deletes++
		case "ERR":
			l.errors = append(l.errors, line)
		}
	}
	for _, sops := range started {
		l.pending = append(l.pending, sops)
	}
	return l
}

// runCrashChild starts a child on dir, kills it with SIGKILL after delay
// (counted from READY, or from the start when early is set) and returns its
// output.
func runCrashChild(t *testing.T, dir string, round, delPercent int, delay time.Duration, early bool) *crashLog {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashDirEnv+"="+dir,
		crashRoundEnv+"="+strconv.Itoa(round), crashDelEnv+"="+strconv.Itoa(delPercent))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()

	ready := make(chan struct{})
	var lines []string
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if !signalled && sc.Text() == "READY" {
				signalled = true
				close(ready)
			}
		}
	}()
	if !early {
		select {
		case <-ready:
		case <-readDone:
			t.Fatalf("round %d: child ended before opening the store:\n%s", round, stderr.String())
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: child did not open the store in 30 s", round)
		}
	}
	time.Sleep(delay)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed = true
	<-readDone // the pipe ends when the child is gone
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != -1 {
		// Not killed by our signal: it stopped on its own.
		t.Errorf("round %d: child exited before the kill: %v\n%s", round, err, stderr.String())
	}
	if strings.Contains(stderr.String(), "DATA RACE") {
		t.Errorf("round %d: the child found a data race:\n%s", round, stderr.String())
	}
	l := parseCrashOutput(lines)
	for _, e := range l.errors {
		t.Errorf("round %d: child: %s", round, e)
	}
	return l
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in short mode")
	}
	rounds := 12
	// Default runs stop early on a machine too loaded to finish them in
	// under a minute; asking for rounds explicitly gets them all.
	budget := 40 * time.Second
	if v := os.Getenv("MOLAR_CRASH_ROUNDS"); v != "" {
		budget = 0
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("MOLAR_CRASH_ROUNDS=%q", v)
		}
		rounds = n
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	ctx := context.Background()

	// present holds every instance known to be stored, with its hash;
	// gone every instance known to be deleted.
	present := map[string]string{}
	gone := map[string]bool{}
	start := time.Now()
	for round := range rounds {
		if budget > 0 && round >= 4 && time.Since(start) > budget {
			t.Logf("stopping after %d rounds, %v: over the time budget", round, time.Since(start).Round(time.Second))
			break
		}
		delay := time.Duration(20+rng.IntN(381)) * time.Millisecond
		// Every fourth round the clock starts at exec, so some kills land
		// in Open's recovery; odd rounds delete a lot, so some land in
		// deletes.
		early := round%4 == 3
		delPercent := 15
		if round%2 == 1 {
			delPercent = 60
		}
		l := runCrashChild(t, dir, round, delPercent, delay, early)

		s, err := Open(ctx, Options{Dir: dir})
		if err != nil {
			t.Fatalf("round %d: reopen after the kill: %v", round, err)
		}
		// Every instance the index lists opens, with the recorded bytes,
		// and every count adds up: nothing is half there.
		got := checkConsistent(t, s)
		fsckClean(t, s)

		uncertain := map[string]bool{}
		for _, grp := range l.pending {
			n := 0
			for _, sop := range grp {
				uncertain[sop] = true
				if _, ok := got[sop]; ok {
					n++
				}
			}
			if n != 0 && n != len(grp) {
				t.Errorf("round %d: interrupted delete of %d instances left %d of them", round, len(grp), n)
			}
		}
		want := map[string]string{}
		for sop, sum := range present {
			want[sop] = sum
		}
		for sop, sum := range l.acked {
			want[sop] = sum
		}
		for sop := range l.deleted {
			delete(want, sop)
			gone[sop] = true
		}
		for sop, sum := range want {
			g, ok := got[sop]
			switch {
			case !ok && uncertain[sop]:
			case !ok:
				t.Errorf("round %d: acknowledged instance %s is lost", round, sop)
			case hex.EncodeToString(g.SHA256[:]) != sum:
				t.Errorf("round %d: instance %s has other bytes than acknowledged", round, sop)
			}
		}
		for sop := range got {
			if gone[sop] {
				t.Errorf("round %d: deleted instance %s is back", round, sop)
				continue
			}
			if _, ok := want[sop]; !ok && !strings.HasPrefix(sop, crashSOPPrefix(round)) {
				t.Errorf("round %d: instance %s appeared from nowhere", round, sop)
			}
		}
		for sop := range l.deleted {
			if _, err := s.OpenInstance(ctx, sop); !errors.Is(err, ErrNotFound) {
				t.Errorf("round %d: deleted instance %s opens: %v", round, sop, err)
			}
		}
		t.Logf("round %d: killed %v after %s: %d acked, %d deletes done, %d interrupted; %d instances stored",
			round, delay, map[bool]string{true: "exec", false: "READY"}[early], len(l.acked), l.deletes, len(l.pending), len(got))
		if t.Failed() {
			s.Close()
			t.FailNow()
		}

		// What is there now must stay, whether or not it was acknowledged.
		present = map[string]string{}
		for sop, g := range got {
			present[sop] = hex.EncodeToString(g.SHA256[:])
		}
		if err := s.Close(); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
	}
	if len(present) == 0 {
		t.Fatal("no instance survived: the rounds tested nothing")
	}

	// Lose the index entirely: the blobs alone bring every instance back.
	if err := os.RemoveAll(filepath.Join(dir, "index")); err != nil {
		t.Fatal(err)
	}
	rep, err := Repair(ctx, dir, nil)
	if err != nil {
		t.Fatalf("repair: %v", err)
	}
	if rep.Indexed != len(present) || rep.Duplicates != 0 || len(rep.Quarantined) != 0 {
		t.Errorf("repair: %+v, want %d indexed and nothing else", rep, len(present))
	}
	s := openTestStore(t, Options{Dir: dir})
	got := checkConsistent(t, s)
	fsckClean(t, s)
	if len(got) != len(present) {
		t.Errorf("%d instances after repair, want %d", len(got), len(present))
	}
	for sop, sum := range present {
		if g, ok := got[sop]; !ok || hex.EncodeToString(g.SHA256[:]) != sum {
			t.Errorf("instance %s lost or changed by repair", sop)
		}
	}
}
