package dimse

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/molar-pacs/molar/store"
)

// testServer is a DIMSE server on 127.0.0.1 over a real store in a
// temporary directory, for tests that talk to it with DCMTK or our SCU.
type testServer struct {
	*Server
	Store *store.Store
	Addr  string // host:port
	Port  int
	Logs  *syncBuffer
}

// syncBuffer collects the server's log for assertions.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer starts a server with the default policy for AE title MOLAR,
// open to any calling AE for query/retrieve; configure adjusts the server
// before it starts. It stops at the end of the test.
func startServer(t testing.TB, configure func(*Server)) *testServer {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	srv := &Server{
		Policy:       DefaultPolicy("MOLAR"),
		Archive:      st,
		Log:          slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		IdleTimeout:  30 * time.Second,
		ARTIMTimeout: 5 * time.Second,
	}
	srv.Policy.OpenQuery = true
	if configure != nil {
		configure(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &testServer{Server: srv, Store: st, Addr: ln.Addr().String(), Port: ln.Addr().(*net.TCPAddr).Port, Logs: logs}
}

// needTool fails the test (never skips) when a DCMTK tool is missing: CI
// installs DCMTK, so a missing tool is a broken environment.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install DCMTK (scripts/install-deps.sh)", name)
	}
	return p
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
