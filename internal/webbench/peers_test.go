package webbench

import (
	"bufio"
	"bytes"
	"encoding/base64"
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

// Time limits: generous, but a hung peer must fail the benchmark rather
// than hang it (scripts/bench.sh runs go test with -timeout 0).
const (
	startTimeout   = 60 * time.Second
	requestTimeout = 5 * time.Minute
	stopGrace      = 15 * time.Second
)

// Credentials. Both peers require them, as a practice's would: Molar its
// bearer API token, Orthanc HTTP Basic authentication.
const (
	molarToken      = "webbench-token"
	orthancUser     = "webbench"
	orthancPassword = "webbench-password"
)

// Where Debian's orthanc and orthanc-dicomweb packages put their files.
const (
	orthancSbin    = "/usr/sbin/Orthanc"
	dicomWebPlugin = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
)

// workDir is where this test binary keeps the peers' data and the molar
// binary: under MOLAR_BENCH_DATA (default bench-data at the module root),
// like the other benchmarks, because the system temporary directory may
// be a tmpfs and these benchmarks are about the disk. TestMain removes it.
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
		work.dir, work.err = os.MkdirTemp(base, "webbench-")
	})
	if work.err != nil {
		tb.Fatal(work.err)
	}
	return work.dir
}

// newDir returns a new empty directory under parent (relative to the
// work directory).
func newDir(tb testing.TB, parent, name string) string {
	tb.Helper()
	if !filepath.IsAbs(parent) {
		parent = filepath.Join(workDir(tb), parent)
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		tb.Fatal(err)
	}
	dir, err := os.MkdirTemp(parent, name+"-")
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

// proc is a child process (a peer) with its output in a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed once it has exited
	err  error         // its exit status, once done
}

// startProc starts argv; tb's cleanup stops it.
func startProc(tb testing.TB, name, logPath string, argv ...string) *proc {
	tb.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = childEnv()
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

// childEnv is the environment of every child: this one without MOLAR_*
// settings, which would configure the molar under test behind the
// benchmark's back.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MOLAR_") {
			env = append(env, kv)
		}
	}
	return env
}

// peer is a DICOMweb server under test.
type peer struct {
	name string
	// root is the URL of its DICOMweb service, without a final slash.
	root string
	// auth is the Authorization header every request carries.
	auth string
	proc *proc
	// stored reports how many instances it holds, by its own count.
	stored func() (int, error)
}

// expect fails tb unless p holds want instances: a peer that acknowledged
// instances it did not keep would otherwise look fast.
func (p *peer) expect(tb testing.TB, want int) {
	tb.Helper()
	got, err := p.stored()
	if err != nil {
		tb.Fatalf("%s: counting stored instances: %v\n%s", p.name, err, p.proc.logTail())
	}
	if got != want {
		tb.Fatalf("%s holds %d instances, want %d\n%s", p.name, got, want, p.proc.logTail())
	}
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

// startMolar runs `molar serve` on a fresh data directory in dir, as a
// practice runs it: the bootstrap API token, defaults for the rest. Its
// DICOM listener, which serve always starts, gets a free loopback port so
// that it cannot collide with anything else on the machine.
func startMolar(tb testing.TB, dir string) *peer {
	tb.Helper()
	bin := molarBinary(tb)
	httpPort, dicomPort := freePort(tb), freePort(tb)
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	p := &peer{name: "molar", root: base + "/dicom-web", auth: "Bearer " + molarToken}
	p.proc = startProc(tb, "molar serve", filepath.Join(dir, "molar.log"), bin, "serve",
		"--data", filepath.Join(dir, "data"),
		"--http", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"--dicom", fmt.Sprintf("127.0.0.1:%d", dicomPort),
		"--api-token", molarToken)
	p.stored = func() (int, error) { return molarStored(base + "/metrics") }
	// Once /healthz answers, the archive and the audit log are open.
	if err := waitHTTP(p.proc, base+"/healthz", "", startTimeout); err != nil {
		tb.Fatal(err)
	}
	return p
}

// molarStored reads the count of new instances stored from Molar's
// Prometheus metrics.
func molarStored(url string) (int, error) {
	body, err := httpGet(url, "")
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

// startOrthanc runs Orthanc with its DICOMweb plugin and a configuration
// of its own in dir: storage and SQLite index in dir, HTTP on a free port.
//
// What matters for speed is left at Orthanc's defaults, as an installation
// has it: SyncStorageArea true, StorageCompression false,
// StoreMD5ForAttachments true, the SQLite index, HttpThreadsCount 50,
// KeepAlive and TcpNoDelay true, no ingest transcoding.
//
// Those defaults make Orthanc less durable than Molar, and so cheaper per
// instance; the figures compare the products as shipped. SyncStorageArea
// (true since 1.7.4) has it fdatasync each DICOM file before answering,
// but not the file's directory, and its SQLite index runs with
// JOURNAL_MODE=WAL and SYNCHRONOUS=NORMAL (the pragmas in the binary), so
// an index commit is synced only at a WAL checkpoint: strace shows one
// fdatasync per stored instance and about one index sync per 17. After a
// power cut, instances Orthanc acknowledged can be missing from its index.
// Molar syncs the blob, its directory and its index (and the audit log)
// before answering.
//
// The rest only keeps it to itself: no plugin but DICOMweb (Debian's
// default configuration loads the whole plugin folder), no DICOM listener
// (nothing here speaks DIMSE to it, and its default port would collide
// with other Orthancs), no explorer or WebDAV, jobs not saved.
// RemoteAccessAllowed false makes its HTTP server refuse anything but
// localhost.
func startOrthanc(tb testing.TB, dir string) *peer {
	tb.Helper()
	bin, err := lookOrthanc()
	if err != nil {
		tb.Fatal(err)
	}
	httpPort := freePort(tb)
	cfg := map[string]any{
		"Name":                   "molar-webbench",
		"StorageDirectory":       filepath.Join(dir, "storage"),
		"IndexDirectory":         filepath.Join(dir, "index"),
		"StorageCompression":     false,
		"SyncStorageArea":        true, // the default, said aloud
		"Plugins":                []string{dicomWebPlugin},
		"DicomWeb":               map[string]any{"Enable": true, "Root": "/dicom-web/"},
		"HttpServerEnabled":      true,
		"HttpPort":               httpPort,
		"RemoteAccessAllowed":    false,
		"AuthenticationEnabled":  true,
		"RegisteredUsers":        map[string]string{orthancUser: orthancPassword},
		"OrthancExplorerEnabled": false,
		"WebDavEnabled":          false,
		"DicomServerEnabled":     false,
		"SaveJobs":               false,
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "orthanc.json")
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	auth := "Basic " + basicAuth(orthancUser, orthancPassword)
	p := &peer{name: "orthanc", root: base + "/dicom-web", auth: auth}
	p.proc = startProc(tb, "Orthanc", filepath.Join(dir, "orthanc.log"), bin, cfgPath)
	p.stored = func() (int, error) {
		body, err := httpGet(base+"/statistics", auth)
		if err != nil {
			return 0, err
		}
		var st struct{ CountInstances int }
		if err := json.Unmarshal(body, &st); err != nil {
			return 0, fmt.Errorf("/statistics: %v", err)
		}
		return st.CountInstances, nil
	}
	if err := waitHTTP(p.proc, base+"/system", auth, startTimeout); err != nil {
		tb.Fatal(err)
	}
	// /system answers without the plugin too: make sure STOW-RS is
	// there, or every STOW would be a 404 rather than a measurement.
	if _, err := httpGet(p.root+"/studies?limit=1", auth); err != nil {
		tb.Fatalf("Orthanc serves no DICOMweb (plugin %s, from the Debian package orthanc-dicomweb): %v\n%s",
			dicomWebPlugin, err, p.proc.logTail())
	}
	return p
}

func lookOrthanc() (string, error) {
	if p, err := exec.LookPath("Orthanc"); err == nil {
		return p, nil
	}
	// The Debian package puts it in /usr/sbin, which is not in every PATH.
	if _, err := os.Stat(orthancSbin); err == nil {
		return orthancSbin, nil
	}
	return "", errors.New("Orthanc not found (in PATH or /usr/sbin): install the Debian packages orthanc and orthanc-dicomweb " +
		"(apt-get install -y orthanc orthanc-dicomweb); the benchmark runs an Orthanc of its own on a free port, the system service need not run")
}

// requirePlugin fails tb at once, rather than after building molar, when
// Orthanc's DICOMweb plugin is not installed.
func requirePlugin(tb testing.TB) {
	tb.Helper()
	if _, err := lookOrthanc(); err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(dicomWebPlugin); err != nil {
		tb.Fatalf("Orthanc's DICOMweb plugin: %v: install the Debian package orthanc-dicomweb (apt-get install -y orthanc-dicomweb)", err)
	}
}

func basicAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// waitHTTP waits until url answers 200, failing if p exits or timeout
// passes first.
func waitHTTP(p *proc, url, auth string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if p.exited() {
			return fmt.Errorf("%s exited (%v) before serving %s\n%s", p.name, p.err, url, p.logTail())
		}
		_, err := httpGet(url, auth)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not serve %s within %s: %v\n%s", p.name, url, timeout, err, p.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// controlClient is for everything but the timed requests: readiness,
// counts.
var controlClient = &http.Client{Timeout: 30 * time.Second}

func httpGet(url, auth string) ([]byte, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return nil, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := controlClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.500s", url, resp.Status, body)
	}
	return body, nil
}
