package dimse

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// The PDUs under testdata/dcmtk were recorded from DCMTK's SCUs talking to
// Molar through a recording proxy. They are regenerated (and the fuzz seed
// corpora derived from them rewritten) with
//
//	go test -run TestCaptureDCMTK -capture ./dimse/
//
// Normal runs only read them.
var captureFlag = flag.Bool("capture", false, "record DCMTK PDUs into testdata/dcmtk and rewrite the fuzz seed corpora")

// captureDir holds the recorded PDUs, one whole PDU (header included) per
// file, named <session>-<nn>-<direction>-<pdu>.pdu: direction "rq" is
// association requestor to acceptor, "ac" the other way. Sessions named
// after a DCMTK SCU (echoscu, storescu, findscu) are that tool talking to
// Molar; storescp sessions are Molar's Dialer talking to DCMTK's storescp.
const captureDir = "testdata/dcmtk"

// recordingProxy forwards one connection to upstream and keeps both byte
// streams.
type recordingProxy struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	toServer bytes.Buffer
	toClient bytes.Buffer
	done     chan struct{}
}

func newRecordingProxy(t *testing.T, upstream string) *recordingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{ln: ln, upstream: upstream, done: make(chan struct{})}
	go p.run()
	t.Cleanup(func() { ln.Close() })
	return p
}

func (p *recordingProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *recordingProxy) run() {
	defer close(p.done)
	c, err := p.ln.Accept()
	if err != nil {
		return
	}
	defer c.Close()
	u, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer u.Close()
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn, rec *bytes.Buffer) {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				p.mu.Lock()
				rec.Write(buf[:n])
				p.mu.Unlock()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}
	wg.Add(2)
	go pipe(u, c, &p.toServer)
	go pipe(c, u, &p.toClient)
	wg.Wait()
}

// splitPDUs cuts a recorded byte stream into whole PDUs.
func splitPDUs(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 6 {
			return out, fmt.Errorf("%d trailing bytes", len(b))
		}
		n := 6 + int(binary.BigEndian.Uint32(b[2:]))
		if n > len(b) {
			return out, fmt.Errorf("PDU of %d bytes, %d recorded", n, len(b))
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out, nil
}

func pduName(b []byte) string {
	switch b[0] {
	case pduAssociateRQ:
		return "associate-rq"
	case pduAssociateAC:
		return "associate-ac"
	case pduAssociateRJ:
		return "associate-rj"
	case pduPData:
		if len(b) > 11 && b[11]&1 != 0 {
			return "pdata-command"
		}
		return "pdata-data"
	case pduReleaseRQ:
		return "release-rq"
	case pduReleaseRP:
		return "release-rp"
	case pduAbort:
		return "abort"
	}
	return fmt.Sprintf("type%02x", b[0])
}

// TestCaptureDCMTK records echoscu, storescu (with and without user
// identity) and findscu sessions with Molar.
func TestCaptureDCMTK(t *testing.T) {
	if !*captureFlag {
		t.Skip("regenerates testdata; run with -capture")
	}
	srv := startServer(t, func(s *Server) {
		s.Policy.Users = map[string]string{"alice": "secret"}
	})
	dir := t.TempDir()
	file := filepath.Join(dir, "io.dcm")
	b, err := synth.Bytes(synth.Spec{PatientName: "CAPTURE^PDU", PatientID: "9990000018", AccessionNumber: "CAP1",
		StudyUID: "1.2.826.0.1.3680043.10.1001.1", SeriesUID: "1.2.826.0.1.3680043.10.1001.2",
		SOPInstanceUID: "1.2.826.0.1.3680043.10.1001.3", Rows: 8, Columns: 8, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	sessions := []struct {
		name  string
		tool  string
		args  []string
		files []string
	}{
		{"echoscu", "echoscu", []string{"-aet", "ECHOSCU", "-aec", "MOLAR"}, nil},
		{"storescu", "storescu", []string{"-aet", "STORESCU", "-aec", "MOLAR"}, []string{file}},
		{"storescu-user", "storescu", []string{"-aet", "STORESCU", "-aec", "MOLAR", "--user", "alice", "--password", "secret", "--pos-response"}, []string{file}},
		{"findscu", "findscu", []string{"-aet", "FINDSCU", "-aec", "MOLAR", "-S", "-k", "QueryRetrieveLevel=STUDY", "-k", "AccessionNumber=CAP1", "-k", "PatientName"}, nil},
	}
	if err := os.RemoveAll(captureDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(captureDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var seeds [][]byte
	var cmdSeeds [][]byte
	for _, s := range sessions {
		p := newRecordingProxy(t, srv.Addr)
		args := append(append(s.args, "127.0.0.1", strconv.Itoa(p.port())), s.files...)
		out, err := exec.Command(needTool(t, s.tool), args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", s.tool, strings.Join(args, " "), err, out)
		}
		<-p.done
		for _, d := range []struct {
			name   string
			stream []byte
		}{{"rq", p.toServer.Bytes()}, {"ac", p.toClient.Bytes()}} {
			dirName := d.name
			pdus, err := splitPDUs(d.stream)
			if err != nil {
				t.Fatalf("%s %s: %v", s.name, dirName, err)
			}
			for i, pdu := range pdus {
				name := fmt.Sprintf("%s-%02d-%s-%s.pdu", s.name, i, dirName, pduName(pdu))
				if err := os.WriteFile(filepath.Join(captureDir, name), pdu, 0o644); err != nil {
					t.Fatal(err)
				}
				seeds = append(seeds, pdu)
				if pdu[0] == pduPData && len(pdu) > 12 && pdu[11]&1 != 0 {
					cmdSeeds = append(cmdSeeds, pdu[12:])
				}
			}
		}
	}
	// DCMTK as the SCP: storescp run inetd-style on a connection we
	// accepted on 127.0.0.1, answering our Dialer.
	for _, s := range []struct {
		name string
		args []string
	}{
		{"storescp", []string{"-aet", "STORESCP", "--ignore"}},
		{"storescp-refuse", []string{"-aet", "STORESCP", "--refuse"}},
	} {
		addr, wait := inetdSCP(t, "storescp", s.args)
		p := newRecordingProxy(t, addr)
		d := Dialer{CallingAE: "MOLARSCU", Timeout: 5 * time.Second}
		a, err := d.Associate(context.Background(), "127.0.0.1:"+strconv.Itoa(p.port()), "STORESCP", []Proposal{
			{AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{dcm.ImplicitVRLittleEndian}},
			{AbstractSyntax: synth.IntraOralForPresentation, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian}},
		})
		if s.name == "storescp-refuse" {
			if err == nil {
				t.Fatal("storescp --refuse accepted the association")
			}
		} else {
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Echo(context.Background()); err != nil {
				t.Fatal(err)
			}
			f, err := dcm.ParsePart10(bytes.NewReader(b), dcm.ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rsp, err := a.Store(context.Background(), StoreRequest{SOPClassUID: f.Dataset.String(dcm.SOPClassUID),
				SOPInstanceUID: f.Dataset.String(dcm.SOPInstanceUID), TransferSyntax: f.TransferSyntax.UID,
				Data: bytes.NewReader(b[f.DatasetOffset:])})
			if err != nil || rsp.Status != StatusSuccess {
				t.Fatalf("C-STORE to storescp: %v %v", rsp, err)
			}
			if err := a.Release(); err != nil {
				t.Fatal(err)
			}
		}
		<-p.done
		if err := wait(); err != nil && s.name != "storescp-refuse" {
			t.Fatal(err)
		}
		for _, d := range []struct {
			name   string
			stream []byte
		}{{"rq", p.toServer.Bytes()}, {"ac", p.toClient.Bytes()}} {
			pdus, err := splitPDUs(d.stream)
			if err != nil {
				t.Fatalf("%s %s: %v", s.name, d.name, err)
			}
			for i, pdu := range pdus {
				name := fmt.Sprintf("%s-%02d-%s-%s.pdu", s.name, i, d.name, pduName(pdu))
				if err := os.WriteFile(filepath.Join(captureDir, name), pdu, 0o644); err != nil {
					t.Fatal(err)
				}
				seeds = append(seeds, pdu)
				if pdu[0] == pduPData && len(pdu) > 12 && pdu[11]&1 != 0 {
					cmdSeeds = append(cmdSeeds, pdu[12:])
				}
			}
		}
	}
	writeCorpus(t, "testdata/fuzz/FuzzReadPDU", "capture", seeds)
	writeCorpus(t, "testdata/fuzz/FuzzDecodeCommand", "capture", cmdSeeds)
}

// inetdSCP accepts one connection on 127.0.0.1 and hands it to a DCMTK
// SCP run with --inetd, so the tool itself listens on nothing.
func inetdSCP(t *testing.T, tool string, args []string) (addr string, wait func() error) {
	t.Helper()
	path := needTool(t, tool)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	dir := t.TempDir()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		f, err := c.(*net.TCPConn).File()
		if err != nil {
			done <- err
			return
		}
		defer f.Close()
		var stderr bytes.Buffer
		cmd := exec.Command(path, append(args, "--inetd")...)
		cmd.Dir = dir
		cmd.Stdin, cmd.Stdout, cmd.Stderr = f, f, &stderr
		if err := cmd.Run(); err != nil {
			done <- fmt.Errorf("%s --inetd: %w\n%s", tool, err, stderr.String())
			return
		}
		done <- nil
	}()
	return ln.Addr().String(), func() error { return <-done }
}

// writeCorpus replaces the prefix-named seed files in dir with seeds, in
// the "go test fuzz v1" format.
func writeCorpus(t *testing.T, dir, prefix string, seeds [][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, prefix+"-*"))
	for _, f := range old {
		os.Remove(f)
	}
	seen := map[string]bool{}
	n := 0
	for _, s := range seeds {
		if seen[string(s)] {
			continue
		}
		seen[string(s)] = true
		n++
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%03d", prefix, n)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readCapture returns the recorded PDUs whose file names match pattern.
func readCapture(t testing.TB, pattern string) [][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(captureDir, pattern))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no recorded PDU matches %s/%s; run go test -run TestCaptureDCMTK -capture ./dimse/", captureDir, pattern)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// readOneCapture is readCapture for a pattern that names one file.
func readOneCapture(t testing.TB, pattern string) []byte {
	t.Helper()
	all := readCapture(t, pattern)
	if len(all) != 1 {
		t.Fatalf("%d recorded PDUs match %s, want 1", len(all), pattern)
	}
	return all[0]
}
