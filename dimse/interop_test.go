package dimse

// DCMTK interop suite: real DCMTK tools (echoscu, storescu, findscu,
// movescu, getscu, storescp and the dcmconv family) against a real Server
// over a real store. A missing tool fails the test (needTool): CI installs
// DCMTK and python3-pydicom (scripts/install-deps.sh).
//
// Written against DCMTK 3.6.7 (Debian). Quirks of that version the tests
// rely on are noted where they matter.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
	"github.com/molar-pacs/molar/store"
)

// toolTimeout bounds one DCMTK tool run.
const toolTimeout = 60 * time.Second

// toolResult is the outcome of one DCMTK tool run.
type toolResult struct {
	cmd  string
	out  string // stdout and stderr, interleaved
	code int    // exit status; -1 if it did not start or was killed
}

func (r toolResult) String() string {
	return fmt.Sprintf("$ %s\n(exit %d)\n%s", r.cmd, r.code, r.out)
}

// runTool runs a DCMTK tool to completion. It never calls t.Fatal, so it
// may run on any goroutine; call needTool for the tool first.
func runTool(timeout time.Duration, name string, args ...string) toolResult {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	r := toolResult{cmd: name + " " + strings.Join(args, " "), code: 0}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.code = -1
		buf.WriteString("\n[killed: timed out after " + timeout.String() + "]")
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		r.code = -1
		buf.WriteString("\n[" + err.Error() + "]")
	}
	r.out = buf.String()
	return r
}

// mustRun runs a tool that has to succeed (a conversion, a dump).
func mustRun(t testing.TB, name string, args ...string) toolResult {
	t.Helper()
	r := runTool(toolTimeout, name, args...)
	if r.code != 0 {
		t.Fatalf("%s failed:\n%s", name, r)
	}
	return r
}

// needTools is needTool for several tools.
func needTools(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		needTool(t, n)
	}
}

// scuArgs are the addressing arguments every SCU run against srv gets.
func scuArgs(srv *testServer, aet string, opts ...string) []string {
	args := append([]string{"-aet", aet, "-aec", "MOLAR"}, opts...)
	return append(args, "127.0.0.1", strconv.Itoa(srv.Port))
}

// echoOK asserts the server still answers a C-ECHO from DCMTK.
func echoOK(t testing.TB, srv *testServer) {
	t.Helper()
	if r := runTool(toolTimeout, "echoscu", scuArgs(srv, "ECHOSCU")...); r.code != 0 {
		t.Errorf("echoscu after the test: server not answering:\n%s", r)
	}
}

// part10 is a parsed Part 10 file with its bytes.
type part10 struct {
	path  string
	bytes []byte
	file  *dcm.File
}

// dataset returns the bytes after the file meta information.
func (p *part10) dataset() []byte { return p.bytes[p.file.DatasetOffset:] }
func (p *part10) sop() string     { return p.file.Dataset.String(dcm.SOPInstanceUID) }
func (p *part10) ts() string      { return p.file.TransferSyntax.UID }

func readPart10(path string) (*part10, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := dcm.ParsePart10(bytes.NewReader(b), dcm.ParseOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &part10{path: path, bytes: b, file: f}, nil
}

func mustPart10(t testing.TB, path string) *part10 {
	t.Helper()
	p, err := readPart10(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// writeSynth writes a synthetic instance (explicit VR little endian) to
// dir and returns its path.
func writeSynth(t testing.TB, dir, name string, spec synth.Spec) string {
	t.Helper()
	b, err := synth.Bytes(spec)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// storedDataset returns the stored instance's transfer syntax and dataset bytes.
func storedDataset(t testing.TB, srv *testServer, sop string) (string, []byte, error) {
	t.Helper()
	in, err := srv.Store.OpenInstance(context.Background(), sop)
	if err != nil {
		return "", nil, err
	}
	defer in.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(in.DatasetReader()); err != nil {
		return "", nil, err
	}
	return in.TransferSyntax, buf.Bytes(), nil
}

// diffAt describes where two byte slices first differ.
func diffAt(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(i-8, 0)
	return fmt.Sprintf("lengths %d and %d, first difference at byte %d: % x… vs % x…",
		len(got), len(want), i, got[lo:min(i+8, len(got))], want[lo:min(i+8, len(want))])
}

// sameDataset compares a received dataset with the one sent. storescu
// sends an odd-length deflated stream (dcmconv +td writes them) with one
// NUL byte after it, to an even length, and a receiver keeps that byte.
func sameDataset(got, want []byte, deflated bool) bool {
	if bytes.Equal(got, want) {
		return true
	}
	return deflated && len(want)%2 == 1 && len(got) == len(want)+1 && got[len(want)] == 0 && bytes.Equal(got[:len(want)], want)
}

// dcmtkPeer is a DCMTK storescp the test started.
type dcmtkPeer struct {
	AETitle string
	Port    int
	Dir     string // where it writes what it receives
	log     *syncBuffer
	exited  chan struct{}
}

// checkAlive fails the test if storescp has exited: a receiver that died
// mid-test (killed from outside, or crashed) would otherwise show up as a
// confusing pile of failed sends.
func (p *dcmtkPeer) checkAlive(t testing.TB) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("storescp %s on port %d exited during the test:\n%s", p.AETitle, p.Port, p.log.String())
	default:
	}
}

// startStorescp runs storescp as aet on a free port, writing received
// objects bit-preserved (+B: the data set exactly as it came off the wire)
// into a new directory. storescp 3.6.7 has no option to choose the listen
// address: it listens on all interfaces; the tests only ever connect to it
// through 127.0.0.1. opts select its transfer syntaxes (default: the
// uncompressed ones only).
func startStorescp(t testing.TB, aet string, opts ...string) *dcmtkPeer {
	t.Helper()
	needTool(t, "storescp")
	p := &dcmtkPeer{AETitle: aet, Dir: t.TempDir(), log: &syncBuffer{}}
	var cmd *exec.Cmd
	for attempt := 0; ; attempt++ {
		p.Port = freePort(t)
		args := append([]string{"-v", "-aet", aet, "+B", "-od", p.Dir, "-dhl"}, opts...)
		args = append(args, strconv.Itoa(p.Port))
		cmd = exec.Command("storescp", args...)
		cmd.Stdout, cmd.Stderr = p.log, p.log
		if err := cmd.Start(); err != nil {
			t.Fatalf("start storescp: %v", err)
		}
		exited := make(chan struct{})
		p.exited = exited
		go func() { cmd.Wait(); close(exited) }()
		if waitListening(p.Port, exited) {
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
				if t.Failed() {
					t.Logf("storescp %s log:\n%s", aet, p.log.String())
				}
			})
			return p
		}
		cmd.Process.Kill()
		<-exited
		if attempt == 2 {
			t.Fatalf("storescp did not start listening:\n%s", p.log.String())
		}
	}
}

// waitListening polls until something accepts on 127.0.0.1:port, or the
// process ends (false).
func waitListening(port int, exited <-chan struct{}) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			// Someone else may have taken the port first: then our
			// process is about to exit with "Address already in use".
			select {
			case <-exited:
				return false
			case <-time.After(50 * time.Millisecond):
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// receivedFiles parses every file a DCMTK receiver wrote into dir, by SOP
// Instance UID.
func receivedFiles(t testing.TB, dir string) map[string]*part10 {
	t.Helper()
	out := map[string]*part10{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		p := mustPart10(t, filepath.Join(dir, e.Name()))
		out[p.sop()] = p
	}
	return out
}

// TestInteropEcho: C-ECHO from echoscu, and the called AE title check.
func TestInteropEcho(t *testing.T) {
	t.Parallel()
	needTool(t, "echoscu")
	srv := startServer(t, nil)
	for _, tc := range []struct {
		name    string
		args    []string
		ok      bool
		wantLog string // in the server log
		wantOut string // in echoscu's output
	}{
		{name: "called MOLAR", args: []string{"-aet", "ECHOSCU", "-aec", "MOLAR"}, ok: true,
			wantLog: "echoes=1", wantOut: "Received Echo Response (Success)"},
		{name: "wrong called AE", args: []string{"-aet", "ECHOSCU", "-aec", "WRONG"},
			wantLog: "called AE title WRONG is not MOLAR", wantOut: "Called AE Title Not Recognized"},
		// echoscu's default called AE title is ANY-SCP, which a server
		// checking the called AE refuses: name the archive.
		{name: "default called AE", args: []string{"-aet", "ECHOSCU"},
			wantLog: "called AE title ANY-SCP is not MOLAR", wantOut: "Called AE Title Not Recognized"},
	} {
		r := runTool(toolTimeout, "echoscu", append(tc.args, "-v", "127.0.0.1", strconv.Itoa(srv.Port))...)
		if (r.code == 0) != tc.ok {
			t.Errorf("%s: echoscu exit %d, want success %v:\n%s", tc.name, r.code, tc.ok, r)
		}
		if !strings.Contains(r.out, tc.wantOut) {
			t.Errorf("%s: echoscu output lacks %q:\n%s", tc.name, tc.wantOut, r)
		}
		if waitLog(srv, tc.wantLog) == "" {
			t.Errorf("%s: server log lacks %q", tc.name, tc.wantLog)
		}
	}
	echoOK(t, srv)
}

// tsCase is one transfer syntax storescu sends the synthetic corpus in.
type tsCase struct {
	name string
	ts   string
	// tool and args make the file in ts from the explicit VR little
	// endian original (tool args in out); no tool: the original is sent.
	tool string
	args []string
	// propose is storescu's proposal: -R (only the files' SOP classes)
	// with the option that proposes ts first, or a config profile.
	propose []string
	bits    int // Bits Stored of the synthetic source
}

// storescuConfig is a storescu association profile (-xf file profile) for
// transfer syntaxes storescu has no -x option for: the intra-oral and
// panoramic SOP classes in that syntax alone. Names are DCMTK's; UIDs work.
func storescuConfig(t testing.TB, dir string, ts string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "[[TransferSyntaxes]]\n[Only]\nTransferSyntax1 = %s\n\n[[PresentationContexts]]\n[Contexts]\n", ts)
	for i, sc := range []string{synth.IntraOralForPresentation, synth.DXForPresentation} {
		fmt.Fprintf(&b, "PresentationContext%d = %s\\Only\n", i+1, sc)
	}
	b.WriteString("\n[[Profiles]]\n[Only]\nPresentationContexts = Contexts\n")
	p := filepath.Join(dir, "storescu-"+ts+".cfg")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pydicomDir holds Debian python3-pydicom's test files.
const pydicomDir = "/usr/lib/python3/dist-packages/pydicom/data/test_files"

func needPydicom(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(pydicomDir); err != nil {
		t.Fatalf("pydicom test files missing (install python3-pydicom, scripts/install-deps.sh): %v", err)
	}
}

// TestInteropStoreTransferSyntaxes: storescu sends a synthetic dental
// corpus (intra-oral and panoramic films) in each transfer syntax, proposing
// only the file's own; the archive keeps each in that syntax, the dataset
// byte for byte as sent.
func TestInteropStoreTransferSyntaxes(t *testing.T) {
	t.Parallel()
	needTools(t, "storescu", "dcmconv", "dcmcrle", "dcmcjpeg", "dcmcjpls")
	needPydicom(t)
	srv := startServer(t, nil)
	dir := t.TempDir()
	cases := []tsCase{
		{name: "explicit-le", ts: dcm.ExplicitVRLittleEndian, propose: []string{"-R", "-xe"}},
		{name: "implicit-le", ts: dcm.ImplicitVRLittleEndian, tool: "dcmconv", args: []string{"+ti"}, propose: []string{"-R", "-xi"}},
		{name: "explicit-be", ts: dcm.ExplicitVRBigEndian, tool: "dcmconv", args: []string{"+tb"}, propose: []string{"-R", "-xb"}},
		{name: "deflated", ts: dcm.DeflatedExplicitVRLittleEndian, tool: "dcmconv", args: []string{"+td"}, propose: []string{"-R", "-xd"}},
		{name: "rle", ts: dcm.RLELossless, tool: "dcmcrle", propose: []string{"-R", "-xr"}},
		{name: "jpeg-baseline", ts: dcm.JPEGBaseline8Bit, tool: "dcmcjpeg", args: []string{"+eb"}, propose: []string{"-R", "-xy"}, bits: 8},
		{name: "jpeg-extended", ts: dcm.JPEGExtended12Bit, tool: "dcmcjpeg", args: []string{"+ee"}, propose: []string{"-R", "-xx"}},
		{name: "jpeg-lossless-sv1", ts: dcm.JPEGLosslessSV1, tool: "dcmcjpeg", args: []string{"+e1"}, propose: []string{"-R", "-xs"}},
		// Process 14 with any selection value: storescu has no -x option
		// for it (-xs is SV1), so a config profile proposes it.
		{name: "jpeg-lossless", ts: dcm.JPEGLossless, tool: "dcmcjpeg", args: []string{"+el", "+sv", "6"}},
		{name: "jpeg-ls-lossless", ts: dcm.JPEGLSLossless, tool: "dcmcjpls", args: []string{"+el"}, propose: []string{"-R", "-xt"}},
		{name: "jpeg-ls-near", ts: dcm.JPEGLSNearLossless, tool: "dcmcjpls", args: []string{"+en"}, propose: []string{"-R", "-xu"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			study := dcm.NewUID()
			var files []string
			for i, mod := range []string{"IO", "IO", "PX"} {
				spec := synth.Spec{StudyUID: study, Modality: mod, PatientName: "DENT^TS", PatientID: "9990001" + strconv.Itoa(i),
					AccessionNumber: "URN-" + c.name, StudyDate: "20260315", Rows: 128, Columns: 96, BitsStored: c.bits,
					InstanceNumber: i + 1, Seed: int64(i)}
				if mod == "PX" {
					spec.SOPClassUID, spec.Rows, spec.Columns = synth.DXForPresentation, 96, 192
				}
				src := writeSynth(t, dir, fmt.Sprintf("%s-%d-src.dcm", c.name, i), spec)
				out := src
				if c.tool != "" {
					out = filepath.Join(dir, fmt.Sprintf("%s-%d.dcm", c.name, i))
					mustRun(t, c.tool, append(c.args, src, out)...)
				}
				files = append(files, out)
			}
			propose := c.propose
			if propose == nil {
				propose = []string{"-xf", storescuConfig(t, dir, c.ts), "Only"}
			}
			var parsed []*part10
			for _, f := range files {
				p := mustPart10(t, f)
				if p.ts() != c.ts {
					t.Fatalf("%s made %s in %s, not %s", c.tool, f, p.ts(), c.ts)
				}
				parsed = append(parsed, p)
			}
			r := runTool(toolTimeout, "storescu", append(scuArgs(srv, "STORESCU", append(propose, "-v")...), files...)...)
			if r.code != 0 {
				t.Fatalf("storescu failed:\n%s", r)
			}
			for _, p := range parsed {
				ts, got, err := storedDataset(t, srv, p.sop())
				if err != nil {
					t.Errorf("%s not stored: %v\n%s", filepath.Base(p.path), err, r)
					continue
				}
				if ts != c.ts {
					t.Errorf("%s stored in %s, sent in %s\n%s", filepath.Base(p.path), ts, c.ts, r)
				}
				if !sameDataset(got, p.dataset(), p.file.Deflated) {
					t.Errorf("%s stored dataset differs from the file's: %s", filepath.Base(p.path), diffAt(got, p.dataset()))
				}
			}
		})
	}
	// JPEG 2000: DCMTK has no encoder, so pydicom's files stand in. Sent
	// as they are, storescu re-encodes them on the way (it pads odd-length
	// pixel data items and drops trailing padding), so they are first
	// normalised by dcmconv -p (no syntax change, no trailing padding): then
	// the file is what goes on the wire.
	for _, j := range []struct{ name, file, ts, opt string }{
		{"j2k-lossless", "MR_small_jp2klossless.dcm", dcm.JPEG2000Lossless, "-xv"},
		{"j2k", "JPEG2000.dcm", dcm.JPEG2000, "-xw"},
	} {
		t.Run(j.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(dir, j.name+".dcm")
			mustRun(t, "dcmconv", "-p", filepath.Join(pydicomDir, j.file), out)
			p := mustPart10(t, out)
			if p.ts() != j.ts {
				t.Fatalf("%s is in %s, not %s", j.file, p.ts(), j.ts)
			}
			r := runTool(toolTimeout, "storescu", append(scuArgs(srv, "STORESCU", "-R", j.opt, "-v"), out)...)
			if r.code != 0 {
				t.Fatalf("storescu failed:\n%s", r)
			}
			ts, got, err := storedDataset(t, srv, p.sop())
			if err != nil {
				t.Fatalf("not stored: %v\n%s", err, r)
			}
			if ts != j.ts {
				t.Errorf("stored in %s, sent in %s", ts, j.ts)
			}
			if !bytes.Equal(got, p.dataset()) {
				t.Errorf("stored dataset differs from the file's: %s", diffAt(got, p.dataset()))
			}
		})
	}
}

// corpusOutcome is what becomes of one file of the pydicom corpus.
type corpusOutcome int

const (
	// stored: the archive keeps the dataset exactly as storescu sent it.
	corpusStored corpusOutcome = iota
	// notSent: storescu itself cannot read or send the file (not DICOM,
	// truncated where DCMTK notices, a DICOMDIR or no SOP class): nothing
	// reaches any server, DCMTK's storescp included.
	corpusNotSent
	// refused: storescu sends it (DCMTK's storescp takes it) but the
	// archive answers a failure status with an error comment.
	corpusRefused
)

func (o corpusOutcome) String() string {
	return [...]string{"stored", "not sent", "refused"}[o]
}

// corpusExpect lists every file of the pydicom corpus that is not stored,
// and why; every other file must be stored byte for byte. out is what
// storescu (not sending) or the server log (refusing) says. With DCMTK
// 3.6.7 no file is refused by the archive: storescu parses each file whole
// before it associates, so the truncated and corrupt ones never leave it
// (TestInteropStoreRefused covers refusals).
var corpusExpect = map[string]struct {
	outcome corpusOutcome
	why     string
	out     string
}{
	"MR_truncated.dcm":      {corpusNotSent, "Pixel Data runs past the end of the file", "PixelData (7fe0,0010) larger (8192) than remaining bytes"},
	"rtplan_truncated.dcm":  {corpusNotSent, "truncated in a value", "IsocenterPosition (300a,012c) larger (50) than remaining bytes (29)"},
	"SC_rgb_jpeg.dcm":       {corpusNotSent, "corrupt: a bad VR where (0008,0008) should be", "Non-standard VR '  '"},
	"no_meta.dcm":           {corpusNotSent, "corrupt: the dataset starts one byte late", "Unknown Tag & Data (0820,0500)"},
	"rtdose_rle.dcm":        {corpusNotSent, "SOP Class UID encoded as UN, which DCMTK does not read as a UID", noSOP},
	"rtdose_rle_1frame.dcm": {corpusNotSent, "SOP Class UID encoded as UN, which DCMTK does not read as a UID", noSOP},
	// Not DICOM at all.
	"README.txt":                      {corpusNotSent, "text", noSOP},
	"dicomdirtests/README.txt":        {corpusNotSent, "text", noSOP},
	"dicomdirtests/TINY_ALPHA/README": {corpusNotSent, "text", noSOP},
	"rtplan.dump":                     {corpusNotSent, "a dcmdump listing", noSOP},
	"rtstruct.dump":                   {corpusNotSent, "a dcmdump listing", noSOP},
	"test1.json":                      {corpusNotSent, "DICOM JSON", noSOP},
	"test_PN.json":                    {corpusNotSent, "DICOM JSON", noSOP},
	"zipMR.gz":                        {corpusNotSent, "gzip", noSOP},
	// DICOMDIRs: Media Storage Directory objects have no SOP Class or
	// Instance UID in the dataset and are not for C-STORE.
	"dicomdirtests/DICOMDIR":            {corpusNotSent, "DICOMDIR", noSOP},
	"dicomdirtests/DICOMDIR-bigEnd":     {corpusNotSent, "DICOMDIR", noSOP},
	"dicomdirtests/DICOMDIR-empty.dcm":  {corpusNotSent, "DICOMDIR", noSOP},
	"dicomdirtests/DICOMDIR-implicit":   {corpusNotSent, "DICOMDIR", noSOP},
	"dicomdirtests/DICOMDIR-nooffset":   {corpusNotSent, "DICOMDIR", noSOP},
	"dicomdirtests/DICOMDIR-nopatient":  {corpusNotSent, "DICOMDIR", noSOP},
	"dicomdirtests/DICOMDIR-reordered":  {corpusNotSent, "DICOMDIR", noSOP},
	"dicomdirtests/TINY_ALPHA/DICOMDIR": {corpusNotSent, "DICOMDIR", noSOP},
	// Parser test fragments without SOP Class and Instance UIDs.
	"UN_sequence.dcm":          {corpusNotSent, "no SOP Class UID", noSOP},
	"empty_charset_LEI.dcm":    {corpusNotSent, "no SOP Class UID", noSOP},
	"meta_missing_tsyntax.dcm": {corpusNotSent, "no SOP Class UID", noSOP},
	"nested_priv_SQ.dcm":       {corpusNotSent, "no SOP Class UID", noSOP},
	"no_meta_group_length.dcm": {corpusNotSent, "no SOP Class UID", noSOP},
	"priv_SQ.dcm":              {corpusNotSent, "no SOP Class UID", noSOP},
}

// noSOP is storescu's complaint about a file it cannot find a SOP Class
// and Instance UID in, which is how it reports anything it cannot read.
const noSOP = "missing SOP class (or instance) in file"

// corpusFile is one file of the corpus on its way through the test.
type corpusFile struct {
	rel     string
	propose []string
	ref     toolResult // storescu to DCMTK's storescp
	sent    *part10    // what storescp received (+B: as on the wire); nil: nothing
	round   int        // which server: files sharing a SOP Instance UID go to different ones
	molar   toolResult // storescu to the archive
}

// inParallel runs fn(0..n-1) on workers goroutines.
func inParallel(n, workers int, fn func(worker, i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(w, i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// proposalFor returns the storescu options proposing only a file's SOP
// class, in its own transfer syntax first (-R and the matching -x option;
// storescu adds the other uncompressed syntaxes as a second context),
// so that storescu sends the file in its own syntax to any receiver.
func proposalFor(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return []string{"-R"}
	}
	ts := ""
	if f, err := dcm.ParsePart10(bytes.NewReader(b), dcm.ParseOptions{}); err == nil {
		ts = f.TransferSyntax.UID
	} else if errors.Is(err, dcm.ErrNotDICOM) {
		ts = rawTransferSyntax(b)
	}
	opt, ok := map[string]string{
		dcm.ImplicitVRLittleEndian: "-xi", dcm.ExplicitVRLittleEndian: "-xe", dcm.ExplicitVRBigEndian: "-xb",
		dcm.DeflatedExplicitVRLittleEndian: "-xd", dcm.RLELossless: "-xr", dcm.JPEGBaseline8Bit: "-xy",
		dcm.JPEGExtended12Bit: "-xx", dcm.JPEGLosslessSV1: "-xs", dcm.JPEGLSLossless: "-xt",
		dcm.JPEGLSNearLossless: "-xu", dcm.JPEG2000Lossless: "-xv", dcm.JPEG2000: "-xw",
	}[ts]
	if !ok {
		return []string{"-R"}
	}
	return []string{"-R", opt}
}

// rawTransferSyntax guesses the encoding of a dataset without file meta
// information from its first element, as DCMTK does when it reads one:
// the byte order from the group number, explicit VR if a VR follows the
// tag. Without this, storescu's default proposal sends such a file in
// whatever the receiver picked from its fall-back context, and DCMTK's
// storescp and the archive pick differently (big endian vs implicit).
func rawTransferSyntax(b []byte) string {
	if len(b) < 8 {
		return ""
	}
	explicit := b[4] >= 'A' && b[4] <= 'Z' && b[5] >= 'A' && b[5] <= 'Z'
	switch {
	case b[0] == 0 && b[1] != 0 && explicit:
		return dcm.ExplicitVRBigEndian
	case b[0] != 0 && b[1] == 0 && explicit:
		return dcm.ExplicitVRLittleEndian
	case b[0] != 0 && b[1] == 0:
		return dcm.ImplicitVRLittleEndian
	}
	return ""
}

// clearDir empties a directory.
func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// TestInteropStoreCorpus sends every file of Debian's pydicom test corpus
// with storescu, one association per file. Each file is first sent to
// DCMTK's own storescp in bit-preserving mode, which records exactly what
// storescu puts on the wire (storescu re-encodes from memory: it drops
// trailing padding, pads odd values, recomputes group lengths, re-deflates),
// then to the archive, which must store that dataset byte for byte, or
// refuse it with a failure status, as corpusExpect says. The servers stay
// up throughout.
func TestInteropStoreCorpus(t *testing.T) {
	t.Parallel()
	needTools(t, "storescu", "storescp", "echoscu")
	needPydicom(t)
	var files []*corpusFile
	err := filepath.WalkDir(pydicomDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(pydicomDir, path)
		files = append(files, &corpusFile{rel: rel, propose: proposalFor(path)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 100 {
		t.Fatalf("only %d files in %s", len(files), pydicomDir)
	}
	for rel := range corpusExpect {
		if !slices.ContainsFunc(files, func(f *corpusFile) bool { return f.rel == rel }) {
			t.Errorf("corpusExpect names %s, which is not in the corpus", rel)
		}
	}

	// Phase 1: what does storescu send? One storescp per worker, emptied
	// before each file.
	const workers = 6
	var refs []*dcmtkPeer
	for range workers {
		refs = append(refs, startStorescp(t, "REFSCP", "+xa"))
	}
	inParallel(len(files), workers, func(w, i int) {
		f, ref := files[i], refs[w]
		if err := clearDir(ref.Dir); err != nil {
			f.ref = toolResult{cmd: "clear " + ref.Dir, out: err.Error(), code: -1}
			return
		}
		args := append([]string{"-aet", "STORESCU", "-aec", "REFSCP", "-v", "+v"}, f.propose...)
		f.ref = runTool(toolTimeout, "storescu", append(args, "127.0.0.1", strconv.Itoa(ref.Port), filepath.Join(pydicomDir, f.rel))...)
		entries, _ := os.ReadDir(ref.Dir)
		if len(entries) == 1 {
			f.sent, _ = readPart10(filepath.Join(ref.Dir, entries[0].Name()))
		}
	})
	for _, ref := range refs {
		ref.checkAlive(t)
	}
	// Files sharing a SOP Instance UID (MR_small in each syntax, …) go to
	// different servers: each server keeps the first of a UID (and the
	// store would refuse the others as conflicting duplicates).
	uses := map[string]int{}
	rounds := 1
	for _, f := range files {
		if f.sent != nil {
			f.round = uses[f.sent.sop()]
			uses[f.sent.sop()]++
			rounds = max(rounds, f.round+1)
		}
	}
	var servers []*testServer
	for range rounds {
		servers = append(servers, startServer(t, nil))
	}

	// Phase 2: the same to the archive.
	inParallel(len(files), workers, func(_, i int) {
		f := files[i]
		f.molar = runTool(toolTimeout, "storescu", append(scuArgs(servers[f.round], "STORESCU", append([]string{"-v", "+v"}, f.propose...)...), filepath.Join(pydicomDir, f.rel))...)
	})

	counts := map[corpusOutcome]int{}
	reencoded := 0 // stored files storescu did not send as they are on disk
	wantInstances := make([]int, rounds)
	for _, f := range files {
		exp, listed := corpusExpect[f.rel]
		got := corpusStored
		srv := servers[f.round]
		switch {
		case f.sent == nil:
			got = corpusNotSent
			if f.ref.code == 0 {
				t.Errorf("%s: storescu exited 0 but DCMTK's storescp got nothing:\n%s", f.rel, f.ref)
			}
			if f.molar.code == 0 {
				t.Errorf("%s: storescu could not send it to storescp but says it sent it to the archive:\n%s", f.rel, f.molar)
			}
		default:
			if f.ref.code != 0 {
				t.Errorf("%s: storescp received it but storescu failed:\n%s", f.rel, f.ref)
			}
			ts, data, err := storedDataset(t, srv, f.sent.sop())
			if err != nil {
				got = corpusRefused
				if f.molar.code == 0 {
					t.Errorf("%s: not stored (%v) yet storescu succeeded:\n%s", f.rel, err, f.molar)
				}
				if !strings.Contains(f.molar.out, "Received Store Response (") || strings.Contains(f.molar.out, "Received Store Response (Success") {
					t.Errorf("%s: storescu did not report a failure status:\n%s", f.rel, f.molar)
				}
				line := logLine(srv.Logs.String(), "instance refused", "sop_instance="+f.sent.sop())
				if line == "" {
					t.Errorf("%s: not stored and no \"instance refused\" in the server log:\n%s", f.rel, f.molar)
				} else if listed && !strings.Contains(line, exp.out) {
					t.Errorf("%s: refusal logged as %s; want it to say %q", f.rel, line, exp.out)
				}
				break
			}
			wantInstances[f.round]++
			if p, err := readPart10(filepath.Join(pydicomDir, f.rel)); err != nil || !bytes.Equal(p.dataset(), f.sent.dataset()) {
				reencoded++
			}
			if f.molar.code != 0 {
				t.Errorf("%s: stored, yet storescu failed:\n%s", f.rel, f.molar)
			}
			if ts != f.sent.ts() {
				t.Errorf("%s: stored in %s, sent in %s\nto storescp: %s\nto the archive: %s", f.rel, ts, f.sent.ts(), f.ref, f.molar)
			}
			if !bytes.Equal(data, f.sent.dataset()) {
				t.Errorf("%s: stored dataset is not what storescu sent: %s", f.rel, diffAt(data, f.sent.dataset()))
			}
		}
		counts[got]++
		want := corpusStored
		if listed {
			want = exp.outcome
			if got == corpusNotSent && !strings.Contains(f.molar.out, exp.out) {
				t.Errorf("%s: storescu output lacks %q:\n%s", f.rel, exp.out, f.molar)
			}
		}
		if got != want {
			t.Errorf("%s: %s, want %s (%s)\nto storescp: %s\nto the archive: %s", f.rel, got, want, exp.why, f.ref, f.molar)
		}
	}
	t.Logf("%d files: %d stored (%d of them re-encoded by storescu on the way), %d not sent by storescu, %d refused; %d servers",
		len(files), counts[corpusStored], reencoded, counts[corpusNotSent], counts[corpusRefused], rounds)
	for i, srv := range servers {
		echoOK(t, srv)
		if got := countInstances(t, srv); got != wantInstances[i] {
			t.Errorf("server %d holds %d instances, want %d", i, got, wantInstances[i])
		}
	}
}

// countInstances counts every instance the server's store holds.
func countInstances(t testing.TB, srv *testServer) int {
	t.Helper()
	ms, _, err := srv.Store.Query(context.Background(), store.Query{Level: store.InstanceLevel})
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

// waitLog waits (a few seconds at most) for a server log line holding
// every one of subs: the server logs the end of an association only once
// the peer has closed the connection, which may be just after the DCMTK
// tool exits.
func waitLog(srv *testServer, subs ...string) string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		line := logLine(srv.Logs.String(), subs...)
		if line != "" || time.Now().After(deadline) {
			return line
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logLine returns the first line of log holding every one of subs.
func logLine(log string, subs ...string) string {
	for line := range strings.Lines(log) {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// TestInteropStoreRefused: instances storescu sends without complaint but
// the archive cannot index are refused with a failure status and an error
// comment storescu shows, the refusal is logged, nothing is kept, and the
// association and the server carry on.
func TestInteropStoreRefused(t *testing.T) {
	t.Parallel()
	needTools(t, "storescu", "echoscu")
	srv := startServer(t, nil)
	dir := t.TempDir()
	long := "1.2.826.0.1.3680043.10.1234." + strings.Repeat("9", 40) // 68 characters
	for _, tc := range []struct {
		name   string
		extra  map[dcm.Tag]synth.Value
		status string // in storescu's output
		log    string // in the server's refusal log line
	}{
		{name: "no study UID", extra: map[dcm.Tag]synth.Value{dcm.StudyInstanceUID: {VR: dcm.UI, Value: ""}},
			status: "0xa900", log: "no Study Instance UID"},
		{name: "slash in series UID", extra: map[dcm.Tag]synth.Value{dcm.SeriesInstanceUID: {VR: dcm.UI, Value: "1.2.3/4"}},
			status: "0xa900", log: "characters not allowed in a UID"},
		{name: "study UID over 64 characters", extra: map[dcm.Tag]synth.Value{dcm.StudyInstanceUID: {VR: dcm.UI, Value: long}},
			status: "0xa900", log: "longer than 64 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := writeSynth(t, dir, strings.ReplaceAll(tc.name, " ", "-")+"-good.dcm", synth.Spec{PatientID: "9990002001"})
			bad := writeSynth(t, dir, strings.ReplaceAll(tc.name, " ", "-")+"-bad.dcm", synth.Spec{PatientID: "9990002001", Extra: tc.extra})
			badP, goodP := mustPart10(t, bad), mustPart10(t, good)
			// Halting on the failure (storescu's default), storescu exits
			// with the status's high byte, 0xA9.
			r := runTool(toolTimeout, "storescu", append(scuArgs(srv, "STORESCU", "-R", "-xe", "-d"), bad)...)
			if r.code != 0xA9 {
				t.Errorf("storescu exit %d, want 169 (0xA900 >> 8):\n%s", r.code, r)
			}
			if !regexp.MustCompile(`DIMSE Status\s*: ` + tc.status).MatchString(r.out) {
				t.Errorf("storescu shows no status %s:\n%s", tc.status, r)
			}
			if !strings.Contains(r.out, "ErrorComment") || !strings.Contains(r.out, tc.log) {
				t.Errorf("storescu shows no Error Comment saying %q:\n%s", tc.log, r)
			}
			if _, _, err := storedDataset(t, srv, badP.sop()); err == nil {
				t.Errorf("refused instance was stored")
			}
			if line := logLine(srv.Logs.String(), "instance refused", "sop_instance="+badP.sop()); !strings.Contains(line, tc.log) {
				t.Errorf("server log refusal line %q lacks %q", line, tc.log)
			}
			// --no-halt: the good file after the bad one still goes, on the
			// same association. (storescu then exits 0 although a store
			// failed.)
			calling := "NOHALT" + strconv.Itoa(len(tc.name))
			r = runTool(toolTimeout, "storescu", append(scuArgs(srv, calling, "-R", "-xe", "-nh", "-v"), bad, good)...)
			if r.code != 0 {
				t.Errorf("storescu --no-halt exit %d:\n%s", r.code, r)
			}
			if _, got, err := storedDataset(t, srv, goodP.sop()); err != nil || !bytes.Equal(got, goodP.dataset()) {
				t.Errorf("the good instance after the refused one: %v\n%s", err, r)
			}
			if waitLog(srv, "association released", "calling_ae="+calling, "stored=1 store_failed=1") == "" {
				t.Errorf("no \"association released … stored=1 store_failed=1\" for %s in the server log", calling)
			}
		})
	}
	echoOK(t, srv)
}

// findFixture is a small practice: four patients, five studies.
type findFixture struct {
	S1, S2, S3, S4, S5 string // study UIDs
	A, B, C, D, E, F   string // series UIDs: A (IO) and B (PX) in S1, C in S2, D in S3, E in S4, F in S5
	a1, a2, b1         string // instances of A and B
}

// muellerLatin1 is MÜLLER^JOSÉ in ISO 8859-1 (ISO_IR 100).
const muellerLatin1 = "M\xdcLLER^JOS\xc9"

func loadFindFixture(t testing.TB, srv *testServer) *findFixture {
	t.Helper()
	f := &findFixture{}
	for _, p := range []*string{&f.S1, &f.S2, &f.S3, &f.S4, &f.S5, &f.A, &f.B, &f.C, &f.D, &f.E, &f.F, &f.a1, &f.a2, &f.b1} {
		*p = dcm.NewUID()
	}
	latin1 := map[dcm.Tag]synth.Value{
		dcm.SpecificCharacterSet: {VR: dcm.CS, Value: "ISO_IR 100"},
		dcm.PatientName:          {VR: dcm.PN, Value: muellerLatin1},
	}
	for _, s := range []synth.Spec{
		{StudyUID: f.S1, SeriesUID: f.A, SOPInstanceUID: f.a1, PatientName: "DOE^JANE", PatientID: "9990000018", StudyDate: "20260315", AccessionNumber: "URN1001", Modality: "IO"},
		{StudyUID: f.S1, SeriesUID: f.A, SOPInstanceUID: f.a2, PatientName: "DOE^JANE", PatientID: "9990000018", StudyDate: "20260315", AccessionNumber: "URN1001", Modality: "IO", InstanceNumber: 2},
		{StudyUID: f.S1, SeriesUID: f.B, SOPInstanceUID: f.b1, PatientName: "DOE^JANE", PatientID: "9990000018", StudyDate: "20260315", AccessionNumber: "URN1001", Modality: "PX", SOPClassUID: synth.DXForPresentation, SeriesNumber: 2},
		{StudyUID: f.S2, SeriesUID: f.C, PatientName: "DOE^JANE", PatientID: "9990000018", StudyDate: "20251201", AccessionNumber: "URN1002", Modality: "IO"},
		{StudyUID: f.S3, SeriesUID: f.D, PatientName: "SMITH^JOHN", PatientID: "9990000026", StudyDate: "20260101", AccessionNumber: "URN2001", Modality: "IO"},
		{StudyUID: f.S4, SeriesUID: f.E, PatientID: "9990000034", StudyDate: "20261231", AccessionNumber: "URN3001", Modality: "IO", Extra: latin1},
		{StudyUID: f.S5, SeriesUID: f.F, PatientName: "DOE^JOHN", PatientID: "9990000042", StudyDate: "20270102", AccessionNumber: "URN4001", Modality: "PX", SOPClassUID: synth.DXForPresentation},
	} {
		b, err := synth.Bytes(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Store.Ingest(context.Background(), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// findscu runs a C-FIND with findscu -X, which writes each pending
// response's identifier to rsp0001.dcm, rsp0002.dcm, … in its own
// directory, and returns them in order.
func findscu(t testing.TB, srv *testServer, model string, keys ...string) (toolResult, []*part10) {
	t.Helper()
	dir := t.TempDir()
	args := []string{model, "-v", "-X", "-od", dir}
	for _, k := range keys {
		args = append(args, "-k", k)
	}
	r := runTool(toolTimeout, "findscu", scuArgs(srv, "FINDSCU", args...)...)
	names, err := filepath.Glob(filepath.Join(dir, "rsp*.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	var out []*part10
	for _, n := range names {
		p, err := readPart10(n)
		if err != nil {
			t.Fatalf("findscu response file: %v\n%s", err, r)
		}
		out = append(out, p)
	}
	return r, out
}

// TestInteropFind: findscu at each level of both information models, with
// each kind of matching (PS3.4 C.2.2.2): single value, universal,
// wildcards, date ranges, UID lists; and non-ASCII names in responses.
func TestInteropFind(t *testing.T) {
	t.Parallel()
	needTools(t, "findscu", "dcmdump")
	srv := startServer(t, nil)
	f := loadFindFixture(t, srv)
	for _, tc := range []struct {
		name   string
		model  string // -P patient root, -S study root
		keys   []string
		result dcm.Tag // the attribute naming each match
		want   []string
		status string // findscu's final status when not success, as findscu -v names it
	}{
		{name: "patient single value", model: "-P", keys: []string{"QueryRetrieveLevel=PATIENT", "PatientID=9990000018", "PatientName"},
			result: dcm.PatientName, want: []string{"DOE^JANE"}},
		{name: "patient universal", model: "-P", keys: []string{"QueryRetrieveLevel=PATIENT", "PatientID"},
			result: dcm.PatientID, want: []string{"9990000018", "9990000026", "9990000034", "9990000042"}},
		{name: "patient wildcard star", model: "-P", keys: []string{"QueryRetrieveLevel=PATIENT", "PatientName=DOE*", "PatientID"},
			result: dcm.PatientID, want: []string{"9990000018", "9990000042"}},
		{name: "patient wildcard question mark", model: "-P", keys: []string{"QueryRetrieveLevel=PATIENT", "PatientName=DOE^J?NE", "PatientID"},
			result: dcm.PatientID, want: []string{"9990000018"}},
		{name: "study accession number", model: "-S", keys: []string{"QueryRetrieveLevel=STUDY", "AccessionNumber=URN1002", "StudyInstanceUID"},
			result: dcm.StudyInstanceUID, want: []string{f.S2}},
		{name: "study universal", model: "-S", keys: []string{"QueryRetrieveLevel=STUDY", "PatientID=9990000018", "StudyInstanceUID"},
			result: dcm.StudyInstanceUID, want: []string{f.S1, f.S2}},
		{name: "study wildcard star", model: "-S", keys: []string{"QueryRetrieveLevel=STUDY", "AccessionNumber=URN1*", "StudyInstanceUID"},
			result: dcm.StudyInstanceUID, want: []string{f.S1, f.S2}},
		{name: "study wildcard question mark", model: "-S", keys: []string{"QueryRetrieveLevel=STUDY", "AccessionNumber=URN?001", "StudyInstanceUID"},
			result: dcm.StudyInstanceUID, want: []string{f.S1, f.S3, f.S4, f.S5}},
		{name: "study date range", model: "-S", keys: []string{"QueryRetrieveLevel=STUDY", "StudyDate=20260101-20261231", "StudyInstanceUID"},
			result: dcm.StudyInstanceUID, want: []string{f.S1, f.S3, f.S4}},
		{name: "study date up to", model: "-S", keys: []string{"QueryRetrieveLevel=STUDY", "StudyDate=-20260101", "StudyInstanceUID"},
			result: dcm.StudyInstanceUID, want: []string{f.S2, f.S3}},
		{name: "study date from", model: "-S", keys: []string{"QueryRetrieveLevel=STUDY", "StudyDate=20260101-", "StudyInstanceUID"},
			result: dcm.StudyInstanceUID, want: []string{f.S1, f.S3, f.S4, f.S5}},
		{name: "study UID list", model: "-S", keys: []string{"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + f.S1 + `\` + f.S3},
			result: dcm.StudyInstanceUID, want: []string{f.S1, f.S3}},
		{name: "study in patient root", model: "-P", keys: []string{"QueryRetrieveLevel=STUDY", "PatientID=9990000026", "StudyInstanceUID"},
			result: dcm.StudyInstanceUID, want: []string{f.S3}},
		{name: "series single value", model: "-S", keys: []string{"QueryRetrieveLevel=SERIES", "StudyInstanceUID=" + f.S1, "Modality=IO", "SeriesInstanceUID"},
			result: dcm.SeriesInstanceUID, want: []string{f.A}},
		{name: "series universal", model: "-S", keys: []string{"QueryRetrieveLevel=SERIES", "StudyInstanceUID=" + f.S1, "SeriesInstanceUID", "Modality"},
			result: dcm.SeriesInstanceUID, want: []string{f.A, f.B}},
		{name: "series in patient root", model: "-P", keys: []string{"QueryRetrieveLevel=SERIES", "PatientID=9990000018", "StudyInstanceUID=" + f.S2, "SeriesInstanceUID"},
			result: dcm.SeriesInstanceUID, want: []string{f.C}},
		{name: "image universal", model: "-S", keys: []string{"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + f.S1, "SeriesInstanceUID=" + f.A, "SOPInstanceUID"},
			result: dcm.SOPInstanceUID, want: []string{f.a1, f.a2}},
		{name: "image UID list", model: "-S", keys: []string{"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + f.S1, "SeriesInstanceUID=" + f.A + `\` + f.B, "SOPInstanceUID=" + f.a1 + `\` + f.b1},
			result: dcm.SOPInstanceUID, want: []string{f.a1, f.b1}},
		{name: "image in patient root", model: "-P", keys: []string{"QueryRetrieveLevel=IMAGE", "PatientID=9990000018", "StudyInstanceUID=" + f.S1, "SeriesInstanceUID=" + f.B, "SOPInstanceUID"},
			result: dcm.SOPInstanceUID, want: []string{f.b1}},
		{name: "no PATIENT level in study root", model: "-S", keys: []string{"QueryRetrieveLevel=PATIENT", "PatientID"},
			status: "Error: DataSetDoesNotMatchSOPClass"}, // A900; findscu -v names statuses, and exits 0 whatever the status
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, rsps := findscu(t, srv, tc.model, tc.keys...)
			if r.code != 0 {
				t.Fatalf("findscu failed:\n%s", r)
			}
			want := "Success"
			if tc.status != "" {
				want = tc.status
			}
			if !strings.Contains(r.out, "Received Final Find Response ("+want+")") {
				t.Errorf("findscu's final response is not %s:\n%s", want, r)
			}
			var got []string
			for _, p := range rsps {
				got = append(got, p.file.Dataset.String(tc.result))
			}
			slices.Sort(got)
			wantVals := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, wantVals) {
				t.Errorf("matches %q, want %q\n%s", got, wantVals, r)
			}
		})
	}
	// A non-ASCII name stored in ISO_IR 100: returned in the requester's
	// character set when it names one that can hold the name, else in
	// UTF-8 (ISO_IR 192); dcmdump +U8 decodes either to MÜLLER^JOSÉ.
	for _, tc := range []struct {
		name    string
		keys    []string
		charset string
	}{
		{name: "charset none requested", keys: []string{"PatientID=9990000034"}, charset: "ISO_IR 192"},
		{name: "charset latin-1 requested", keys: []string{"SpecificCharacterSet=ISO_IR 100", "PatientID=9990000034"}, charset: "ISO_IR 100"},
		{name: "charset utf-8 requested", keys: []string{"SpecificCharacterSet=ISO_IR 192", "PatientID=9990000034"}, charset: "ISO_IR 192"},
		{name: "charset utf-8 name matching", keys: []string{"SpecificCharacterSet=ISO_IR 192", "PatientName=MÜLLER*"}, charset: "ISO_IR 192"},
		{name: "charset latin-1 name matching", keys: []string{"SpecificCharacterSet=ISO_IR 100", "PatientName=M\xdcLLER*"}, charset: "ISO_IR 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keys := append([]string{"QueryRetrieveLevel=PATIENT", "PatientName", "PatientID"}, tc.keys...)
			r, rsps := findscu(t, srv, "-P", keys...)
			if r.code != 0 || len(rsps) != 1 {
				t.Fatalf("want one match, got %d:\n%s", len(rsps), r)
			}
			ds := rsps[0].file.Dataset
			if cs := ds.String(dcm.SpecificCharacterSet); cs != tc.charset {
				t.Errorf("response Specific Character Set %q, want %q", cs, tc.charset)
			}
			d := mustRun(t, "dcmdump", "+U8", "+P", "PatientName", rsps[0].path)
			if !strings.Contains(d.out, "[MÜLLER^JOSÉ]") {
				t.Errorf("dcmdump +U8 of the response does not show [MÜLLER^JOSÉ]:\n%s", d)
			}
		})
	}
}

// ingestFile stores a Part 10 file straight into the server's store.
func ingestFile(t testing.TB, srv *testServer, path string) *part10 {
	t.Helper()
	p := mustPart10(t, path)
	if _, err := srv.Store.Ingest(context.Background(), bytes.NewReader(p.bytes)); err != nil {
		t.Fatalf("ingest %s: %v", path, err)
	}
	return p
}

// pixelData returns the Pixel Data value of an uncompressed file.
func pixelData(t testing.TB, p *part10) []byte {
	t.Helper()
	e := p.file.Dataset.Find(dcm.PixelData)
	if e == nil || e.Encapsulated || p.file.Deflated {
		t.Fatalf("%s: no native pixel data", p.path)
	}
	if e.Value != nil {
		return e.Value
	}
	return p.bytes[e.Offset : e.Offset+int64(e.Length)]
}

// checkReceived compares what a DCMTK receiver wrote (bit-preserved) with
// the stored instances it should be, byte for byte and syntax for syntax.
func checkReceived(t testing.TB, srv *testServer, got map[string]*part10, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("received %d instances, want %d", len(got), len(want))
	}
	for _, sop := range want {
		p, ok := got[sop]
		if !ok {
			t.Errorf("%s not received", sop)
			continue
		}
		ts, data, err := storedDataset(t, srv, sop)
		if err != nil {
			t.Fatal(err)
		}
		if p.ts() != ts {
			t.Errorf("%s received in %s, stored in %s", sop, p.ts(), ts)
		}
		if !bytes.Equal(p.dataset(), data) {
			t.Errorf("%s received dataset differs from the stored one: %s", sop, diffAt(p.dataset(), data))
		}
	}
}

// moveFixture: patient 9990000018 has study A, a series of two intra-oral
// films (explicit VR little endian and big endian) and a panoramic one;
// patient 9990000026 has study B, compressed: one film RLE, one JPEG-LS,
// one uncompressed.
type moveFixture struct {
	studyA, seriesIO, seriesPX string
	io1, io2, px1              string
	studyB                     string
	rle, jls, plain            string
	rleFile                    string // the RLE file, for dcmdrle
	io2Src                     string // io2 in explicit VR little endian, before dcmconv +tb
}

func loadMoveFixture(t testing.TB, srv *testServer) *moveFixture {
	t.Helper()
	dir := t.TempDir()
	f := &moveFixture{studyA: dcm.NewUID(), seriesIO: dcm.NewUID(), seriesPX: dcm.NewUID(), studyB: dcm.NewUID()}
	a := func(name string, s synth.Spec) string {
		s.PatientName, s.PatientID, s.StudyUID, s.StudyDate, s.AccessionNumber = "DOE^JANE", "9990000018", f.studyA, "20260315", "URN5001"
		return writeSynth(t, dir, name, s)
	}
	f.io1 = ingestFile(t, srv, a("io1.dcm", synth.Spec{SeriesUID: f.seriesIO, Rows: 96, Columns: 128, Seed: 1})).sop()
	src := a("io2-le.dcm", synth.Spec{SeriesUID: f.seriesIO, InstanceNumber: 2, Rows: 96, Columns: 128, Seed: 2})
	mustRun(t, "dcmconv", "+tb", src, filepath.Join(dir, "io2.dcm"))
	f.io2Src = src
	f.io2 = ingestFile(t, srv, filepath.Join(dir, "io2.dcm")).sop()
	f.px1 = ingestFile(t, srv, a("px1.dcm", synth.Spec{SeriesUID: f.seriesPX, Modality: "PX", SOPClassUID: synth.DXForPresentation, Rows: 128, Columns: 256, SeriesNumber: 2, Seed: 3})).sop()

	series := dcm.NewUID()
	b := func(name string, n int) string {
		return writeSynth(t, dir, name, synth.Spec{PatientName: "SMITH^JOHN", PatientID: "9990000026", StudyUID: f.studyB, SeriesUID: series,
			StudyDate: "20260401", AccessionNumber: "URN5002", InstanceNumber: n, Rows: 96, Columns: 128, Seed: int64(10 + n)})
	}
	f.rleFile = filepath.Join(dir, "rle.dcm")
	mustRun(t, "dcmcrle", b("rle-src.dcm", 1), f.rleFile)
	f.rle = ingestFile(t, srv, f.rleFile).sop()
	mustRun(t, "dcmcjpls", b("jls-src.dcm", 2), filepath.Join(dir, "jls.dcm"))
	f.jls = ingestFile(t, srv, filepath.Join(dir, "jls.dcm")).sop()
	f.plain = ingestFile(t, srv, b("plain.dcm", 3)).sop()
	return f
}

// lastStatus returns the last "DIMSE Status" a DCMTK tool printed in
// debug mode (-d): the final response's, as hex ("0xa801").
func lastStatus(out string) string {
	m := regexp.MustCompile(`DIMSE Status\s*: (0x[0-9a-f]{4})`).FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1][1]
}

// TestInteropMove: movescu asks the archive to send to DCMTK storescp
// instances at each level; an unknown destination fails with A801; a
// destination taking only uncompressed syntaxes gets RLE converted and
// JPEG-LS (which the archive cannot decode) refused per sub-operation.
func TestInteropMove(t *testing.T) {
	t.Parallel()
	needTools(t, "movescu", "storescp", "dcmconv", "dcmcrle", "dcmcjpls", "dcmdrle")
	type moveCase struct {
		name   string
		model  string
		keys   []string
		dest   string   // AE title; a storescp is started for it unless NOWHERE
		accept []string // storescp transfer syntax options (none: uncompressed only)
		status string   // of the final response
		exit   int      // movescu's exit status
		// same: received byte for byte as stored; converted: received as
		// explicit VR little endian with the pixels dcmdrle decodes;
		// failed: listed in the final response's Failed SOP Instance UID
		// List and not received.
		same, converted, failed func(f *moveFixture) []string
	}
	none := func(*moveFixture) []string { return nil }
	cases := []moveCase{
		{name: "study", model: "-S", keys: []string{"QueryRetrieveLevel=STUDY", "StudyInstanceUID=%studyA"}, dest: "STORESCP1",
			status: "0x0000", same: func(f *moveFixture) []string { return []string{f.io1, f.io2, f.px1} }},
		{name: "series", model: "-S", keys: []string{"QueryRetrieveLevel=SERIES", "StudyInstanceUID=%studyA", "SeriesInstanceUID=%seriesPX"}, dest: "STORESCP2",
			status: "0x0000", same: func(f *moveFixture) []string { return []string{f.px1} }},
		{name: "image", model: "-S", keys: []string{"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=%studyA", "SeriesInstanceUID=%seriesIO", "SOPInstanceUID=%io2"}, dest: "STORESCP3",
			status: "0x0000", same: func(f *moveFixture) []string { return []string{f.io2} }},
		{name: "patient", model: "-P", keys: []string{"QueryRetrieveLevel=PATIENT", "PatientID=9990000018"}, dest: "STORESCP4",
			status: "0x0000", same: func(f *moveFixture) []string { return []string{f.io1, f.io2, f.px1} }},
		{name: "compressed as is", model: "-S", keys: []string{"QueryRetrieveLevel=STUDY", "StudyInstanceUID=%studyB"}, dest: "STORESCP5", accept: []string{"+xa"},
			status: "0x0000", same: func(f *moveFixture) []string { return []string{f.rle, f.jls, f.plain} }},
		// storescp's default accepts only the uncompressed syntaxes. B000:
		// sub-operations complete, one or more failed; movescu exits 68 (its
		// "C-MOVE warning").
		{name: "compressed to uncompressed only", model: "-S", keys: []string{"QueryRetrieveLevel=STUDY", "StudyInstanceUID=%studyB"}, dest: "STORESCP6",
			status: "0xb000", exit: 68, same: func(f *moveFixture) []string { return []string{f.plain} },
			converted: func(f *moveFixture) []string { return []string{f.rle} }, failed: func(f *moveFixture) []string { return []string{f.jls} }},
		// movescu exits 69 (its "C-MOVE failed") on a failure status.
		{name: "unknown destination", model: "-S", keys: []string{"QueryRetrieveLevel=STUDY", "StudyInstanceUID=%studyA"}, dest: "NOWHERE",
			status: "0xa801", exit: 69},
	}
	peers := map[string]*dcmtkPeer{}
	var policyPeers []Peer
	for _, c := range cases {
		if c.dest == "NOWHERE" {
			continue
		}
		p := startStorescp(t, c.dest, c.accept...)
		peers[c.dest] = p
		policyPeers = append(policyPeers, Peer{AETitle: c.dest, Host: "127.0.0.1", Port: p.Port})
	}
	srv := startServer(t, func(s *Server) { s.Policy.Peers = policyPeers })
	f := loadMoveFixture(t, srv)
	decoded := filepath.Join(t.TempDir(), "drle.dcm")
	mustRun(t, "dcmdrle", f.rleFile, decoded)
	wantPixels := pixelData(t, mustPart10(t, decoded))
	subst := strings.NewReplacer("%studyA", f.studyA, "%studyB", f.studyB, "%seriesIO", f.seriesIO, "%seriesPX", f.seriesPX, "%io2", f.io2)
	for _, c := range cases {
		for _, fn := range []*func(*moveFixture) []string{&c.same, &c.converted, &c.failed} {
			if *fn == nil {
				*fn = none
			}
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			args := []string{c.model, "-d", "-aem", c.dest}
			for _, k := range c.keys {
				args = append(args, "-k", subst.Replace(k))
			}
			r := runTool(toolTimeout, "movescu", scuArgs(srv, "MOVESCU", args...)...)
			if r.code != c.exit {
				t.Errorf("movescu exit %d, want %d:\n%s", r.code, c.exit, r)
			}
			if got := lastStatus(r.out); got != c.status {
				t.Errorf("final C-MOVE status %s, want %s:\n%s", got, c.status, r)
			}
			for _, sop := range c.failed(f) {
				if !regexp.MustCompile(`\(0008,0058\) UI \[[^]]*` + regexp.QuoteMeta(sop)).MatchString(r.out) {
					t.Errorf("final response lists no Failed SOP Instance UID %s:\n%s", sop, r)
				}
			}
			p := peers[c.dest]
			if p == nil {
				if line := logLine(srv.Logs.String(), "unknown destination", "destination="+c.dest); line == "" {
					t.Errorf("server log has no \"unknown destination\" line for %s", c.dest)
				}
				return
			}
			p.checkAlive(t)
			got := receivedFiles(t, p.Dir)
			same := map[string]*part10{}
			for _, sop := range c.same(f) {
				same[sop] = got[sop]
				if got[sop] == nil {
					delete(same, sop)
				}
			}
			checkReceived(t, srv, same, c.same(f))
			for _, sop := range c.converted(f) {
				rp := got[sop]
				if rp == nil {
					t.Errorf("%s not received", sop)
					continue
				}
				if rp.ts() != dcm.ExplicitVRLittleEndian {
					t.Errorf("%s received in %s, want it converted to explicit VR little endian", sop, rp.ts())
				} else if px := pixelData(t, rp); !bytes.Equal(px, wantPixels) {
					t.Errorf("%s converted pixel data differs from dcmdrle's decoding: %s", sop, diffAt(px, wantPixels))
				}
			}
			for _, sop := range c.failed(f) {
				if got[sop] != nil {
					t.Errorf("%s received, though the destination cannot take its syntax", sop)
				}
			}
			if n := len(c.same(f)) + len(c.converted(f)); len(got) != n {
				t.Errorf("destination received %d instances, want %d", len(got), n)
			}
		})
	}
}

// TestInteropGet: getscu retrieves a study over its own association
// (C-STORE sub-operations to getscu in the SCP role), byte for byte where
// the negotiated syntax is the stored one, converted where it is not.
//
// DCMTK 3.6.7's getscu (DcmSCU) never reads the identifier of a C-GET
// response: after a final response carrying the Failed SOP Instance UID
// List its A-RELEASE meets that data ("Association Release Failed: DUL
// P-Data PDU arrived") and it aborts. So failures are checked by count
// and in the server log, not in getscu's output.
func TestInteropGet(t *testing.T) {
	t.Parallel()
	needTools(t, "getscu", "dcmconv", "dcmcrle", "dcmcjpls", "dcmdrle")
	const artim = 6 * time.Second
	srv := startServer(t, func(s *Server) { s.ARTIMTimeout = artim })
	f := loadMoveFixture(t, srv)
	dir := t.TempDir()
	mustRun(t, "dcmdrle", f.rleFile, filepath.Join(dir, "drle.dcm"))
	pixels := map[string][]byte{ // what converted instances must hold
		f.rle: pixelData(t, mustPart10(t, filepath.Join(dir, "drle.dcm"))),
		f.io2: pixelData(t, mustPart10(t, f.io2Src)),
	}
	for _, tc := range []struct {
		name      string
		model     string
		keys      []string
		opts      []string
		status    string
		same      []string // received byte for byte as stored
		converted []string // received in explicit VR little endian, same pixels
		failed    []string // sub-operation failed, not received
	}{
		// getscu proposes, per storage SOP class, one context with the
		// uncompressed syntaxes; the archive accepts explicit VR little
		// endian, so the big endian film is converted.
		{name: "study", model: "-S", keys: []string{"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + f.studyA},
			status: "0x0000", same: []string{f.io1, f.px1}, converted: []string{f.io2}},
		{name: "patient root study", model: "-P", keys: []string{"QueryRetrieveLevel=STUDY", "PatientID=9990000018", "StudyInstanceUID=" + f.studyA},
			status: "0x0000", same: []string{f.io1, f.px1}, converted: []string{f.io2}},
		// RLE is converted, JPEG-LS (no decoder) fails: B000.
		{name: "compressed study", model: "-S", keys: []string{"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + f.studyB},
			status: "0xb000", same: []string{f.plain}, converted: []string{f.rle}, failed: []string{f.jls}},
		// getscu +xt proposes one context per SOP class: JPEG-LS, then the
		// uncompressed syntaxes. The archive is the sender here and can
		// convert only to uncompressed syntaxes, so it must pick explicit
		// VR little endian, as above. (It picks JPEG-LS, and then the
		// uncompressed and RLE films of that class cannot be sent.)
		{name: "compressed study, JPEG-LS offered first", model: "-S", keys: []string{"QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + f.studyB}, opts: []string{"+xt"},
			status: "0xb000", same: []string{f.plain}, converted: []string{f.rle}, failed: []string{f.jls}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			args := append([]string{tc.model, "-d", "+B", "-od", out}, tc.opts...)
			for _, k := range tc.keys {
				args = append(args, "-k", k)
			}
			start := time.Now()
			r := runTool(toolTimeout, "getscu", scuArgs(srv, "GETSCU", args...)...)
			if took := time.Since(start); took > artim/2 {
				// getscu waits for the transport to close after its
				// A-ABORT; the server must close it (PS3.8 Sta13: A-ABORT
				// PDU received, AA-2), not wait out its ARTIM timer.
				t.Errorf("getscu took %v (server ARTIM %v): the server held the connection after getscu's A-ABORT", took.Round(time.Millisecond), artim)
			}
			if r.code != 0 {
				t.Errorf("getscu exit %d:\n%s", r.code, r)
			}
			if got := lastStatus(r.out); got != tc.status {
				t.Errorf("final C-GET status %s, want %s:\n%s", got, tc.status, r)
			}
			if !strings.Contains(r.out, fmt.Sprintf("Number of Failed Suboperations    : %d", len(tc.failed))) {
				t.Errorf("getscu does not report %d failed sub-operations:\n%s", len(tc.failed), r)
			}
			got := receivedFiles(t, out)
			same := map[string]*part10{}
			for _, sop := range tc.same {
				if got[sop] != nil {
					same[sop] = got[sop]
				}
			}
			checkReceived(t, srv, same, tc.same)
			for _, sop := range tc.converted {
				p := got[sop]
				switch {
				case p == nil:
					t.Errorf("%s not received", sop)
				case p.ts() != dcm.ExplicitVRLittleEndian:
					t.Errorf("%s received in %s, want explicit VR little endian", sop, p.ts())
				case !bytes.Equal(pixelData(t, p), pixels[sop]):
					t.Errorf("%s converted pixel data differs: %s", sop, diffAt(pixelData(t, p), pixels[sop]))
				}
			}
			for _, sop := range tc.failed {
				if got[sop] != nil {
					t.Errorf("%s received, though getscu cannot take its syntax", sop)
				}
				if waitLog(srv, "C-GET sub-operation failed", "sop_instance="+sop) == "" {
					t.Errorf("server log has no failed sub-operation for %s", sop)
				}
			}
			if n := len(tc.same) + len(tc.converted); len(got) != n {
				t.Errorf("received %d instances, want %d:\n%s", len(got), n, r)
			}
		})
	}
}

// TestInteropStoreParallel: 32 storescu associations at once, 20 films
// each (256x256, 16-bit), all land: every SOP Instance UID once, nothing
// lost or duplicated, every dataset as sent.
func TestInteropStoreParallel(t *testing.T) {
	t.Parallel()
	needTool(t, "storescu")
	const assocs, films = 32, 20
	srv := startServer(t, func(s *Server) { s.MaxAssociations = 64 })
	dir := t.TempDir()
	sent := map[string][]byte{} // SOP Instance UID → dataset
	batches := make([][]string, assocs)
	studies := make([]string, assocs)
	for a := range assocs {
		studies[a] = dcm.NewUID()
		series := dcm.NewUID()
		for i := range films {
			spec := synth.Spec{StudyUID: studies[a], SeriesUID: series, PatientName: fmt.Sprintf("PARALLEL^%02d", a),
				PatientID: fmt.Sprintf("99900%05d", a), AccessionNumber: fmt.Sprintf("URNP%04d", a), StudyDate: "20260315",
				InstanceNumber: i + 1, Rows: 256, Columns: 256, Seed: int64(a*films + i)}
			if i%5 == 4 {
				spec.SOPClassUID, spec.Modality = synth.DXForPresentation, "PX"
			}
			path := writeSynth(t, dir, fmt.Sprintf("a%02d-f%02d.dcm", a, i), spec)
			p := mustPart10(t, path)
			if _, dup := sent[p.sop()]; dup {
				t.Fatalf("synthetic SOP Instance UID %s twice", p.sop())
			}
			sent[p.sop()] = p.dataset()
			batches[a] = append(batches[a], path)
		}
	}
	results := make([]toolResult, assocs)
	var wg sync.WaitGroup
	for a := range assocs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := scuArgs(srv, fmt.Sprintf("MODALITY%02d", a), "-R", "-xe")
			results[a] = runTool(2*toolTimeout, "storescu", append(args, batches[a]...)...)
		}()
	}
	wg.Wait()
	for a, r := range results {
		if r.code != 0 {
			t.Errorf("association %d: storescu failed:\n%s", a, r)
		}
	}
	ms, _, err := srv.Store.Query(context.Background(), store.Query{Level: store.InstanceLevel})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != assocs*films {
		t.Errorf("store holds %d instances, want %d", len(ms), assocs*films)
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.SOPInstanceUID] {
			t.Errorf("%s listed twice", m.SOPInstanceUID)
		}
		seen[m.SOPInstanceUID] = true
		if _, ok := sent[m.SOPInstanceUID]; !ok {
			t.Errorf("%s stored but never sent", m.SOPInstanceUID)
		}
	}
	for sop, want := range sent {
		if !seen[sop] {
			t.Errorf("%s sent but not stored", sop)
			continue
		}
		if _, got, err := storedDataset(t, srv, sop); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s stored dataset differs from the file's (err %v)", sop, err)
		}
	}
	for a, study := range studies {
		n := 0
		if err := srv.Store.ListInstances(context.Background(), study, "", func(store.InstanceRef) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if n != films {
			t.Errorf("study of association %d holds %d instances, want %d", a, n, films)
		}
	}
	if strings.Contains(srv.Logs.String(), "instance refused") || strings.Contains(srv.Logs.String(), "too many associations") {
		t.Errorf("server refused instances or associations")
	}
}
