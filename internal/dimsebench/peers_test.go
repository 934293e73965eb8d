package dimsebench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/benchpeer"
)

// AE titles. Receivers do not check the calling AE title; the SCUs get
// names that say what they play.
const (
	aetMolar    = "MOLAR"
	aetOrthanc  = "ORTHANC"
	aetStorescp = "STORESCP"
	aetModality = "MODALITY" // storescu, the sending device
	aetPACS     = "HOSPITAL" // movescu, the PACS pulling a study
)

// sendTimeout bounds one DCMTK tool's run: generous, but a hung receiver
// must fail the benchmark rather than hang it (scripts/bench.sh runs go
// test with -timeout 0). benchpeer.StartTimeout bounds a receiver's start.
const sendTimeout = 10 * time.Minute

// tool returns the path of an external program, failing tb with how to
// install it when it is missing.
func tool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := lookTool(name)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// requireTools fails tb at once if any of the programs is missing, rather
// than in the middle of a benchmark.
func requireTools(tb testing.TB, names ...string) {
	tb.Helper()
	for _, name := range names {
		tool(tb, name)
	}
}

func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found in PATH: install the Debian package dcmtk (scripts/install-deps.sh does)", name)
}

// dcmtk runs a DCMTK tool to completion, killing it after timeout. It
// may be called from any goroutine.
func dcmtk(timeout time.Duration, name string, args ...string) ([]byte, error) {
	path, err := lookTool(name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = benchpeer.DCMTKEnv()
	cmd.SysProcAttr = benchpeer.ProcAttr()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s: killed after %s", name, timeout)
	}
	return out, err
}

// receiver is a C-STORE SCP under test. Every child here, the receivers
// and the DCMTK tools, runs with benchpeer.DCMTKEnv: TCP_NODELAY=1.
type receiver struct {
	benchpeer.Peer
	aet  string
	port int
}

// waitEcho waits until r answers C-ECHO (echoscu); it fails if the process
// exits or timeout passes first.
func (r *receiver) waitEcho(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if r.Proc.Exited() {
			return fmt.Errorf("%s exited (%v) before answering C-ECHO on 127.0.0.1:%d\n%s", r.Name, r.Proc.Err(), r.port, r.Proc.LogTail())
		}
		out, err := dcmtk(10*time.Second, "echoscu", "-aet", aetModality, "-aec", r.aet, "-to", "2", "127.0.0.1", strconv.Itoa(r.port))
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer C-ECHO on 127.0.0.1:%d within %s\nlast echoscu: %v\n%s\n%s",
				r.Name, r.port, timeout, err, out, r.Proc.LogTail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// molarDown is why molar serve did not come up, once it has not: later
// sub-benchmarks fail at once instead of waiting again.
var molarDown error

// startMolar runs `molar serve` on a fresh data directory in dir, with
// peers ("AET=HOST:PORT") as known nodes and C-MOVE destinations.
func startMolar(tb testing.TB, dir string, peers ...string) *receiver {
	tb.Helper()
	if molarDown != nil {
		tb.Fatalf("%v\n(molar serve failed like this earlier in this run; not tried again)", molarDown)
	}
	m, err := benchpeer.StartMolar(tb, dir, benchpeer.MolarOptions{AET: aetMolar, Peers: peers, Env: benchpeer.DCMTKEnv()})
	if err != nil {
		molarDown = err
		tb.Fatal(err)
	}
	r := &receiver{Peer: m.Peer, aet: aetMolar, port: m.DICOMPort}
	// Once its HTTP server answers, the archive is open: the DICOM
	// listener has no reason to take long after that.
	if err := r.waitEcho(15 * time.Second); err != nil {
		molarDown = fmt.Errorf("%w\nmolar serve must listen for DICOM on --dicom (the dimse package)", err)
		tb.Fatal(molarDown)
	}
	return r
}

// startOrthanc runs Orthanc (benchpeer.StartOrthanc) with its DICOM server
// and modalities (AE title → port on 127.0.0.1) as known nodes, which may
// retrieve and are C-MOVE destinations, and waits for it to answer
// C-ECHO.
func startOrthanc(tb testing.TB, dir string, modalities map[string]int) *receiver {
	tb.Helper()
	o := benchpeer.StartOrthanc(tb, dir, benchpeer.OrthancOptions{AET: aetOrthanc, Modalities: modalities, Env: benchpeer.DCMTKEnv()})
	r := &receiver{Peer: o.Peer, aet: aetOrthanc, port: o.DICOMPort}
	if err := r.waitEcho(benchpeer.StartTimeout); err != nil {
		tb.Fatal(err)
	}
	return r
}

// startStorescp runs DCMTK's storescp writing to dir/out.
//
// It is started in bit-preserving mode (+B): each instance is written to
// its file as it arrives, exactly as received, which is what Molar does and
// the fastest way storescp has (without it, storescp builds the whole
// dataset in memory and encodes it again). It never fsyncs: its figure is
// a ceiling for a receiver that does not make instances durable, where
// Molar and Orthanc acknowledge only what is on disk.
//
// Without --fork storescp serves one association at a time: a second
// storescu waits in the listen backlog until the first association is
// released (it does not fail unless that takes longer than storescu's 30 s
// ACSE timeout), so two parallel associations would be measured as two
// sequential ones. fork starts it with --fork, one child process per
// association, as a site would run it for several senders.
func startStorescp(tb testing.TB, dir string, fork bool) *receiver {
	tb.Helper()
	bin := tool(tb, "storescp")
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		tb.Fatal(err)
	}
	port := benchpeer.FreePort(tb)
	args := []string{bin, "-aet", aetStorescp, "-od", out, "-dhl", "+B"}
	if fork {
		args = append(args, "--fork")
	}
	args = append(args, strconv.Itoa(port))
	r := &receiver{aet: aetStorescp, port: port}
	r.Name = "storescp"
	r.Proc = benchpeer.Start(tb, "storescp", filepath.Join(dir, "storescp.log"), benchpeer.DCMTKEnv(), args...)
	r.Stored = func() (int, error) {
		// One file per instance, named after its SOP Instance UID, and
		// every one new (Corpus.Next rewrites the UIDs).
		entries, err := os.ReadDir(out)
		return len(entries), err
	}
	if err := r.waitEcho(benchpeer.StartTimeout); err != nil {
		tb.Fatal(err)
	}
	return r
}
