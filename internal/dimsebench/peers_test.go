package dimsebench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/benchdata"
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

// Time limits: generous, but a hung receiver must fail the benchmark
// rather than hang it (scripts/bench.sh runs go test with -timeout 0).
const (
	startTimeout = 60 * time.Second
	sendTimeout  = 10 * time.Minute
	stopGrace    = 15 * time.Second
)

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
	if name == "Orthanc" {
		// The Debian package puts it in /usr/sbin, which is not in every
		// PATH.
		if _, err := os.Stat("/usr/sbin/Orthanc"); err == nil {
			return "/usr/sbin/Orthanc", nil
		}
		return "", errors.New("Orthanc not found (in PATH or /usr/sbin): install the Debian package orthanc " +
			"(apt-get install -y orthanc); the benchmark runs an Orthanc of its own on free ports, the system service need not run")
	}
	return "", fmt.Errorf("%s not found in PATH: install the Debian package dcmtk (scripts/install-deps.sh does)", name)
}

// workDir is where this test binary keeps corpora, receivers' data and the
// molar binary: under MOLAR_BENCH_DATA (default bench-data at the module
// root), like the store benchmarks, because the system temporary directory
// may be a tmpfs and these benchmarks are about the disk. TestMain removes
// it.
var work struct {
	once sync.Once
	dir  string
	err  error
}

func workDir(tb testing.TB) string {
	tb.Helper()
	work.once.Do(func() {
		var base string
		if base, work.err = benchdata.Dir(); work.err != nil {
			return
		}
		work.dir, work.err = os.MkdirTemp(base, "dimse-")
	})
	if work.err != nil {
		tb.Fatal(work.err)
	}
	return work.dir
}

// newDir returns a new empty directory under the work directory.
func newDir(tb testing.TB, name string) string {
	tb.Helper()
	parent := filepath.Join(workDir(tb), filepath.Dir(name))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		tb.Fatal(err)
	}
	dir, err := os.MkdirTemp(parent, filepath.Base(name)+"-")
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a child process (a receiver) with its output in a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed once it has exited
	err  error         // its exit status, once done
}

// startProc starts argv; tb's cleanup stops it and everything it forked.
func startProc(tb testing.TB, name, logPath string, env []string, argv ...string) *proc {
	tb.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = env
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		tb.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	tb.Cleanup(p.stop)
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process to end (SIGTERM: Molar and Orthanc close their
// indexes cleanly), kills it after stopGrace, and kills whatever is left
// of its process group.
func (p *proc) stop() {
	pid := p.cmd.Process.Pid
	if !p.exited() {
		signalGroup(pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
		}
	}
	signalGroup(pid, syscall.SIGKILL)
	<-p.done
}

// logTail returns the end of the process's output, for failure messages.
func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.log)
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return fmt.Sprintf("--- %s output (%s) ---\n%s", p.name, p.log, b)
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
	cmd.Env = childEnv()
	cmd.SysProcAttr = procAttr()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s: killed after %s", name, timeout)
	}
	return out, err
}

// receiver is a C-STORE SCP under test.
type receiver struct {
	name string
	aet  string
	port int
	proc *proc
	// stored reports how many instances it holds.
	stored func() (int, error)
}

// waitEcho waits until r answers C-ECHO (echoscu); it fails if the process
// exits or timeout passes first.
func (r *receiver) waitEcho(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if r.proc.exited() {
			return fmt.Errorf("%s exited (%v) before answering C-ECHO on 127.0.0.1:%d\n%s", r.name, r.proc.err, r.port, r.proc.logTail())
		}
		out, err := dcmtk(10*time.Second, "echoscu", "-aet", aetModality, "-aec", r.aet, "-to", "2", "127.0.0.1", strconv.Itoa(r.port))
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer C-ECHO on 127.0.0.1:%d within %s\nlast echoscu: %v\n%s\n%s",
				r.name, r.port, timeout, err, out, r.proc.logTail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// expect fails tb unless r holds want instances: a receiver that refused
// or lost some would otherwise look fast.
func (r *receiver) expect(tb testing.TB, want int) {
	tb.Helper()
	got, err := r.stored()
	if err != nil {
		tb.Fatalf("%s: counting stored instances: %v\n%s", r.name, err, r.proc.logTail())
	}
	if got != want {
		tb.Fatalf("%s holds %d instances, want %d\n%s", r.name, got, want, r.proc.logTail())
	}
}

// childEnv is the environment of every child: this one without MOLAR_*
// settings, which would configure the molar under test behind the
// benchmark's back, and with TCP_NODELAY=1 unless TCP_NODELAY is set.
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
func childEnv() []string {
	var env []string
	nodelay := false
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MOLAR_") {
			continue
		}
		nodelay = nodelay || strings.HasPrefix(kv, "TCP_NODELAY=")
		env = append(env, kv)
	}
	if !nodelay {
		env = append(env, "TCP_NODELAY=1")
	}
	return env
}

// molarBinary builds ./cmd/molar once per test binary.
var molarBuild struct {
	once sync.Once
	path string
	err  error
}

func molarBinary(tb testing.TB) string {
	tb.Helper()
	dir := workDir(tb)
	molarBuild.once.Do(func() {
		path := filepath.Join(dir, "molar")
		out, err := exec.Command("go", "build", "-o", path, "github.com/molar-pacs/molar/cmd/molar").CombinedOutput()
		if err != nil {
			molarBuild.err = fmt.Errorf("go build ./cmd/molar: %v\n%s", err, out)
			return
		}
		molarBuild.path = path
	})
	if molarBuild.err != nil {
		tb.Fatal(molarBuild.err)
	}
	return molarBuild.path
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
	bin := molarBinary(tb)
	dicomPort, httpPort := freePort(tb), freePort(tb)
	args := []string{bin, "serve", "--data", filepath.Join(dir, "data"),
		"--http", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"--dicom", fmt.Sprintf("127.0.0.1:%d", dicomPort), "--aet", aetMolar}
	for _, p := range peers {
		args = append(args, "--peer", p)
	}
	r := &receiver{name: "molar", aet: aetMolar, port: dicomPort}
	r.proc = startProc(tb, "molar serve", filepath.Join(dir, "molar.log"), childEnv(), args...)
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	r.stored = func() (int, error) { return molarStored(base + "/metrics") }
	// Once its HTTP server answers, the archive is open: the DICOM
	// listener has no reason to take long after that.
	if err := waitHTTP(r.proc, base+"/healthz", startTimeout); err != nil {
		molarDown = err
		tb.Fatal(err)
	}
	if err := r.waitEcho(15 * time.Second); err != nil {
		molarDown = fmt.Errorf("%w\nmolar serve must listen for DICOM on --dicom (the dimse package)", err)
		tb.Fatal(molarDown)
	}
	return r
}

// waitHTTP waits until url answers 200, failing if p exits or timeout
// passes first.
func waitHTTP(p *proc, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if p.exited() {
			return fmt.Errorf("%s exited (%v) before serving %s\n%s", p.name, p.err, url, p.logTail())
		}
		_, err := httpGet(url)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not serve %s within %s: %v\n%s", p.name, url, timeout, err, p.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// molarStored reads the count of new instances stored from Molar's
// Prometheus metrics.
func molarStored(url string) (int, error) {
	body, err := httpGet(url)
	if err != nil {
		return 0, err
	}
	const name = "molar_store_instances_stored_total"
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == name {
			v, err := strconv.ParseFloat(f[1], 64)
			return int(v), err
		}
	}
	return 0, fmt.Errorf("%s: no %s", url, name)
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

func httpGet(url string) ([]byte, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return body, nil
}

// startOrthanc runs Orthanc with a configuration of its own in dir:
// storage and SQLite index in dir, DICOM and HTTP on free ports, and
// modalities (AE title → port on 127.0.0.1) as known nodes, which may
// retrieve and are C-MOVE destinations.
//
// What matters for speed is left at Orthanc's defaults, as an installation
// has it: SyncStorageArea true (each file is fsynced before the C-STORE
// response, as Molar does; written out below), StorageCompression false,
// StoreMD5ForAttachments true, the SQLite index, DicomThreadsCount 4,
// MaximumPduLength 16384 (what it offers senders, as DCMTK's storescp
// does; Molar offers 1 MiB), SynchronousCMove true (the C-MOVE response
// comes after the last sub-operation, so timing movescu times the whole
// transfer), DicomAssociationCloseDelay 5 s (the association to a C-MOVE
// destination is kept for the next move). The rest only keeps it to
// itself: no plugins, no explorer or WebDAV, jobs not saved. Orthanc
// cannot be told to listen on loopback only: its DICOM port listens on
// every interface (as storescp's does), and RemoteAccessAllowed false
// makes its HTTP server refuse anything but localhost. AuthenticationEnabled
// is false: the benchmark reads /statistics to check every instance
// arrived. Like every DCMTK-based child it runs with TCP_NODELAY=1 (see
// childEnv).
func startOrthanc(tb testing.TB, dir string, modalities map[string]int) *receiver {
	tb.Helper()
	bin := tool(tb, "Orthanc")
	dicomPort, httpPort := freePort(tb), freePort(tb)
	mods := map[string][]any{}
	for aet, port := range modalities {
		mods[aet] = []any{aet, "127.0.0.1", port}
	}
	cfg := map[string]any{
		"Name":                   "molar-bench",
		"StorageDirectory":       filepath.Join(dir, "storage"),
		"IndexDirectory":         filepath.Join(dir, "index"),
		"StorageCompression":     false,
		"SyncStorageArea":        true, // the default, said aloud: durable, like Molar
		"Plugins":                []string{},
		"HttpServerEnabled":      true,
		"HttpPort":               httpPort,
		"RemoteAccessAllowed":    false,
		"AuthenticationEnabled":  false,
		"OrthancExplorerEnabled": false,
		"WebDavEnabled":          false,
		"DicomServerEnabled":     true,
		"DicomAet":               aetOrthanc,
		"DicomPort":              dicomPort,
		// Any called AE title; any calling one for C-ECHO and C-STORE
		// (a practice's devices), declared modalities only for C-MOVE,
		// as Molar's defaults have it.
		"DicomCheckCalledAet":    false,
		"DicomAlwaysAllowEcho":   true,
		"DicomAlwaysAllowStore":  true,
		"DicomAlwaysAllowMove":   false,
		"DicomCheckModalityHost": false,
		"DicomModalities":        mods,
		// A finished job's record is not kept on disk between restarts:
		// every run starts fresh anyway.
		"SaveJobs": false,
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "orthanc.json")
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	r := &receiver{name: "orthanc", aet: aetOrthanc, port: dicomPort}
	r.proc = startProc(tb, "Orthanc", filepath.Join(dir, "orthanc.log"), childEnv(), bin, cfgPath)
	r.stored = func() (int, error) {
		body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/statistics", httpPort))
		if err != nil {
			return 0, err
		}
		var st struct{ CountInstances int }
		if err := json.Unmarshal(body, &st); err != nil {
			return 0, fmt.Errorf("/statistics: %v", err)
		}
		return st.CountInstances, nil
	}
	if err := r.waitEcho(startTimeout); err != nil {
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
	port := freePort(tb)
	args := []string{bin, "-aet", aetStorescp, "-od", out, "-dhl", "+B"}
	if fork {
		args = append(args, "--fork")
	}
	args = append(args, strconv.Itoa(port))
	r := &receiver{name: "storescp", aet: aetStorescp, port: port}
	r.proc = startProc(tb, "storescp", filepath.Join(dir, "storescp.log"), childEnv(), args...)
	r.stored = func() (int, error) {
		// One file per instance, named after its SOP Instance UID, and
		// every one new (next rewrites the UIDs).
		entries, err := os.ReadDir(out)
		return len(entries), err
	}
	if err := r.waitEcho(startTimeout); err != nil {
		tb.Fatal(err)
	}
	return r
}
