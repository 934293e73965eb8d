package benchpeer

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// molarBuild is the molar binary, built once per test binary.
var molarBuild struct {
	once sync.Once
	path string
	err  error
}

// MolarBinary builds ./cmd/molar into the work directory, once per test
// binary, and returns its path; MOLAR_BENCH_BINARY names a binary to run
// instead, for comparing two builds side by side.
func MolarBinary(tb testing.TB) string {
	tb.Helper()
	if path := os.Getenv("MOLAR_BENCH_BINARY"); path != "" {
		return path
	}
	dir := WorkDir(tb)
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

// MolarOptions are what a benchmark sets of molar serve; the rest is
// molar's defaults, as a practice runs it.
type MolarOptions struct {
	// AET is its AE title (--aet); "" keeps the default.
	AET string
	// APIToken is the bootstrap API token (--api-token); "" sets none.
	APIToken string
	// Peers are known nodes and C-MOVE destinations, "AET=HOST:PORT"
	// (--peer, one each).
	Peers []string
	// Env is its environment; nil is ChildEnv().
	Env []string
}

// Molar is a running molar serve.
type Molar struct {
	Peer
	// URL is its HTTP server's, http://127.0.0.1:PORT, without a final
	// slash.
	URL string
	// DICOMPort is its DICOM listener's port on 127.0.0.1.
	DICOMPort int
}

// StartMolar runs `molar serve` (MolarBinary) on a fresh data directory in
// dir, its log in dir/molar.log, HTTP and DICOM on free loopback ports:
// serve always starts its DICOM listener, which must not collide with
// anything else on the machine. It waits up to StartTimeout for /healthz
// to answer: once it does, the archive and the audit log are open. Not
// coming up is returned as an error, with the log's tail; not starting at
// all fails tb.
func StartMolar(tb testing.TB, dir string, opts MolarOptions) (*Molar, error) {
	tb.Helper()
	bin := MolarBinary(tb)
	dicomPort, httpPort := FreePort(tb), FreePort(tb)
	args := []string{bin, "serve", "--data", filepath.Join(dir, "data"),
		"--http", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"--dicom", fmt.Sprintf("127.0.0.1:%d", dicomPort)}
	if opts.AET != "" {
		args = append(args, "--aet", opts.AET)
	}
	if opts.APIToken != "" {
		args = append(args, "--api-token", opts.APIToken)
	}
	for _, p := range opts.Peers {
		args = append(args, "--peer", p)
	}
	m := &Molar{URL: fmt.Sprintf("http://127.0.0.1:%d", httpPort), DICOMPort: dicomPort}
	m.Name = "molar"
	m.Proc = Start(tb, "molar serve", filepath.Join(dir, "molar.log"), opts.Env, args...)
	m.Stored = func() (int, error) { return molarStored(m.URL + "/metrics") }
	if err := WaitHTTP(m.Proc, m.URL+"/healthz", "", StartTimeout); err != nil {
		return nil, err
	}
	return m, nil
}

// molarStored reads the count of new instances stored from Molar's
// Prometheus metrics.
func molarStored(url string) (int, error) {
	body, err := HTTPGet(url, "")
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
