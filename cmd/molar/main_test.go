package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/demo"
)

var molarBin string

// TestMain builds the real binary once: these tests run it as an operator
// would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "molar-bin")
	if err != nil {
		panic(err)
	}
	molarBin = filepath.Join(dir, "molar")
	out, err := exec.Command("go", "build", "-o", molarBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build molar: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func molar(t *testing.T, args ...string) (stdout string, code int) {
	t.Helper()
	cmd := exec.Command(molarBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("molar %v: %v", args, err)
	}
	return out.String() + errb.String(), code
}

func TestServeHealthMetricsAndGracefulStop(t *testing.T) {
	data := t.TempDir()
	// A storescp for C-MOVE, known to the server as a peer.
	storescp, err := exec.LookPath("storescp")
	if err != nil {
		t.Fatal("storescp not found: install DCMTK (scripts/install-deps.sh)")
	}
	recv := t.TempDir()
	scpPort := freePort(t)
	scp := exec.Command(storescp, "-aet", "STORESCP", "-od", recv, strconv.Itoa(scpPort))
	if err := scp.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { scp.Process.Kill(); scp.Wait() }()
	srv := startServe(t, "--data", data, "--http", "127.0.0.1:0", "--dicom", "127.0.0.1:0", "--demo",
		"--api-token", "s3cret-token", "--peer", fmt.Sprintf("STORESCP=127.0.0.1:%d", scpPort))
	cmd, stderr := srv.cmd, srv.stderr
	// The banner tells the operator where to point a browser and a modality.
	base := "http://" + srv.find(t, `Browser:\s+http://([^/\s]+)/`)
	dicom := srv.find(t, `DICOM:\s+AE title MOLAR on (\S+)`)

	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("/healthz: %d %s", code, body)
	}
	code, body := get("/metrics")
	if code != 200 || !regexp.MustCompile(`molar_store_instances_stored_total [1-9]`).MatchString(body) {
		t.Errorf("/metrics does not count the demo instances: %d\n%.2000s", code, body)
	}
	// Demo mode: the archive browser lists the demo patients without sign-in.
	if code, body := get("/archive/"); code != 200 || !strings.Contains(body, "SMITH, Olivia") || !strings.Contains(body, demo.URN(0)) {
		t.Errorf("/archive/: %d\n%.1500s", code, body)
	}
	if code, _ := get("/no-such-page"); code != 404 {
		t.Errorf("unknown path: %d, want 404", code)
	}

	// The DICOM tools against the DICOM listener, as an operator testing
	// a link would use them.
	target := "MOLAR@" + dicom
	if out, code := molar(t, "echo", target); code != 0 || !strings.Contains(out, "success") {
		t.Errorf("molar echo: exit %d\n%s", code, out)
	}
	if out, code := molar(t, "find", target, "-k", "AccessionNumber="+demo.URN(0), "-k", "PatientName", "-k", "StudyInstanceUID"); code != 0 ||
		!strings.Contains(out, "PatientName = SMITH^OLIVIA") || !strings.Contains(out, "1 match") {
		t.Errorf("molar find: exit %d\n%s", code, out)
	}
	// Freddie Green's films are promised, not sent: the worklist offers him.
	if out, code := molar(t, "find", "--model", "worklist", target); code != 0 || !strings.Contains(out, demo.URN(15)) || strings.Contains(out, demo.URN(0)) {
		t.Errorf("molar find --model worklist: exit %d\n%s", code, out)
	}
	sample := "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm"
	if out, code := molar(t, "store", target, sample); code != 0 || !strings.Contains(out, "1 stored") {
		t.Errorf("molar store: exit %d\n%s", code, out)
	}
	// Harry Jones's two periapicals.
	out, code := molar(t, "find", target, "-k", "AccessionNumber="+demo.URN(1), "-k", "StudyInstanceUID")
	study := regexp.MustCompile(`StudyInstanceUID = (\S+)`).FindStringSubmatch(out)
	if code != 0 || study == nil {
		t.Fatalf("molar find for the study to move: exit %d\n%s", code, out)
	}
	if out, code := molar(t, "move", "--dest", "STORESCP", target, "-k", "StudyInstanceUID="+study[1]); code != 0 || !strings.Contains(out, "status 0000; 2 completed, 0 failed") {
		t.Errorf("molar move: exit %d\n%s", code, out)
	}
	if got, _ := filepath.Glob(filepath.Join(recv, "*")); len(got) != 2 {
		t.Errorf("storescp received %d files, want the study's 2", len(got))
	}
	if out, code := molar(t, "move", "--dest", "NOWHERE", target, "-k", "StudyInstanceUID="+study[1]); code != 1 || !strings.Contains(out, "status A801") {
		t.Errorf("molar move to an unknown destination: exit %d\n%s", code, out)
	}
	if out, code := molar(t, "echo", "WRONG_AE@"+dicom); code != 1 || !strings.Contains(out, "called AE title not recognised") {
		t.Errorf("molar echo to the wrong AE title: exit %d\n%s", code, out)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
	logs := stderr.String()
	if !strings.Contains(logs, "archive closed cleanly") {
		t.Errorf("no clean close in the log:\n%s", logs)
	}
	if strings.Contains(logs, "s3cret-token") {
		t.Error("the API token appears in the log")
	}

	// The data directory is consistent after a graceful stop.
	if out, code := molar(t, "fsck", "--data", data); code != 0 || !strings.Contains(out, "0 problems") {
		t.Errorf("fsck after serve: exit %d\n%s", code, out)
	}
}

func TestImportIsSafeToRerun(t *testing.T) {
	src := t.TempDir()
	files, _ := filepath.Glob("/usr/lib/python3/dist-packages/pydicom/data/test_files/*.dcm")
	if len(files) < 50 {
		t.Fatal("pydicom test files missing: run scripts/install-deps.sh")
	}
	for _, f := range []string{"CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "MR_truncated.dcm", "no_meta.dcm"} {
		b, err := os.ReadFile(filepath.Join("/usr/lib/python3/dist-packages/pydicom/data/test_files", f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(src, "sub"), 0o755)
		os.WriteFile(filepath.Join(src, "sub", f), b, 0o644)
	}
	data := t.TempDir()

	out, code := molar(t, "import", "--data", data, src)
	if code != exitRejected {
		t.Fatalf("first import: exit %d, want %d\n%s", code, exitRejected, out)
	}
	for _, want := range []string{"stored:          3", "rejected:        2", "truncated", "MR_truncated.dcm", "not DICOM"} {
		if !strings.Contains(out, want) {
			t.Errorf("first import summary lacks %q:\n%s", want, out)
		}
	}
	out, _ = molar(t, "import", "--data", data, src)
	if !strings.Contains(out, "stored:          0") || !strings.Contains(out, "already present: 3") {
		t.Errorf("re-run is not idempotent:\n%s", out)
	}
	if out, code := molar(t, "fsck", "--data", data); code != 0 {
		t.Errorf("fsck: exit %d\n%s", code, out)
	}
	if out, code := molar(t, "import", "--data", data); code != exitUsage {
		t.Errorf("import without paths: exit %d\n%s", code, out)
	}
}

func TestBadCommandLines(t *testing.T) {
	for _, args := range [][]string{
		{"frobnicate"},
		{"serve", "--no-such-flag"},
		{"serve", "--peer", "missing-port"},
	} {
		if out, code := molar(t, args...); code != exitUsage {
			t.Errorf("molar %v: exit %d, want %d\n%s", args, code, exitUsage, out)
		}
	}
	if out, code := molar(t, "serve", "--aet", "THIS_AE_TITLE_IS_TOO_LONG"); code != 1 || !strings.Contains(out, "AE title") {
		t.Errorf("bad AE title: exit %d\n%s", code, out)
	}
}

func TestDemoAndRepair(t *testing.T) {
	data := t.TempDir()
	out, code := molar(t, "demo", "--data", data)
	if code != 0 || !strings.Contains(out, "17 referrals, 30 films") || !strings.Contains(out, demo.URN(0)+"   Olivia Smith       1984-03-12") {
		t.Fatalf("demo: exit %d\n%s", code, out)
	}
	if out, _ := molar(t, "demo", "--data", data); !strings.Contains(out, "nothing to do") || !strings.Contains(out, demo.URN(0)) {
		t.Errorf("second demo run is not idempotent:\n%s", out)
	}

	// Lose the index entirely: --repair rebuilds it from the blobs.
	if err := os.RemoveAll(filepath.Join(data, "index")); err != nil {
		t.Fatal(err)
	}
	out, code = molar(t, "fsck", "--data", data, "--repair")
	if code != 0 || !strings.Contains(out, "Index rebuilt from blobs: 30 instances") || !strings.Contains(out, "0 problems") {
		t.Fatalf("fsck --repair: exit %d\n%s", code, out)
	}
	// The rebuilt index agrees with the blobs.
	if out, code := molar(t, "fsck", "--data", data); code != 0 || !strings.Contains(out, "Checked 30 instances") {
		t.Errorf("after repair: exit %d\n%s", code, out)
	}

	// A blob that changed on disk is a problem fsck reports, with exit 1.
	blobs, _ := filepath.Glob(filepath.Join(data, "blobs", "*", "*.dcm"))
	if len(blobs) != 30 {
		t.Fatalf("%d blob files, want 30", len(blobs))
	}
	f, err := os.OpenFile(blobs[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("xx"))
	f.Close()
	out, code = molar(t, "fsck", "--data", data)
	if code != 1 || !strings.Contains(out, "size mismatch") || !strings.Contains(out, "--repair") {
		t.Errorf("fsck on a damaged blob: exit %d\n%s", code, out)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
