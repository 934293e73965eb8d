package benchpeer

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Time limits: generous, but a hung peer must fail the benchmark rather
// than hang it (scripts/bench.sh runs go test with -timeout 0).
const (
	// StartTimeout is how long a peer may take to answer once started.
	StartTimeout = 60 * time.Second
	// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
	stopGrace = 15 * time.Second
)

// Proc is a child process (a peer under test) with its output in a log
// file.
type Proc struct {
	// Name is what failure messages call it.
	Name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed once it has exited
	err  error         // its exit status, once done
}

// Start starts argv in a process group of its own (ProcAttr), with env as
// its environment (nil: ChildEnv()) and its output in logPath; tb's
// cleanup stops it and everything it forked.
func Start(tb testing.TB, name, logPath string, env []string, argv ...string) *Proc {
	tb.Helper()
	if env == nil {
		env = ChildEnv()
	}
	logf, err := os.Create(logPath)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = env
	cmd.SysProcAttr = ProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		tb.Fatalf("start %s: %v", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	tb.Cleanup(p.Stop)
	return p
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err returns the process's exit status once it has exited, nil before.
func (p *Proc) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Stop asks the process to end (SIGTERM: Molar and Orthanc close their
// indexes cleanly), kills it after stopGrace, and kills whatever is left
// of its process group. Start has tb's cleanup call it.
func (p *Proc) Stop() {
	pid := p.cmd.Process.Pid
	if !p.Exited() {
		signalGroup(pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
		}
	}
	signalGroup(pid, syscall.SIGKILL)
	<-p.done
}

// LogTail returns the end of the process's output, for failure messages.
func (p *Proc) LogTail() string {
	b, _ := os.ReadFile(p.log)
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return fmt.Sprintf("--- %s output (%s) ---\n%s", p.Name, p.log, b)
}

// ChildEnv is the environment of every child: this one without MOLAR_*
// settings, which would configure the molar under test behind the
// benchmark's back.
func ChildEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MOLAR_") {
			env = append(env, kv)
		}
	}
	return env
}

// DCMTKEnv is ChildEnv with TCP_NODELAY=1 unless TCP_NODELAY is set: the
// environment dimsebench gives every child (the DCMTK tools, storescp,
// Orthanc and molar serve alike).
//
// TCP_NODELAY=1 makes DCMTK's network layer (libdcmnet: storescu, movescu,
// storescp, and Debian's Orthanc, which links it) disable Nagle's
// algorithm, as Go does on every TCP connection. Since 3.6.2 DCMTK leaves
// Nagle on unless built with DISABLE_NAGLE_ALGORITHM or told so by this
// variable, and it writes a C-STORE response as two small writes: the
// second waits for the peer's delayed ACK, 40 ms on Linux (strace shows
// it). With Nagle on, 10 kB instances over one association went at ≈ 11/s
// to storescp, ≈ 8/s to Orthanc and ≈ 15/s even to Molar (storescu's own
// writes stall too), whatever the disk. Orthanc's own builds define
// DISABLE_NAGLE_ALGORITHM for that reason (its changeset "Fix performance
// issue in DICOM protocol by disabling Nagle's algorithm", 2019); Debian's
// package uses the system DCMTK, which does not. Without this the
// DCMTK-based receivers would measure the kernel's ACK timer rather than
// their ingest, and storescu's stalls would hide every receiver's speed.
// TCP_NODELAY=0 in the environment shows the tools as Debian ships them.
func DCMTKEnv() []string {
	env := ChildEnv()
	for _, kv := range env {
		if strings.HasPrefix(kv, "TCP_NODELAY=") {
			return env
		}
	}
	return append(env, "TCP_NODELAY=1")
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
