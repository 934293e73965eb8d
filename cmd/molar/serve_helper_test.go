package main

import (
	"bufio"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// served is a `molar serve` started by a test.
type served struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	banner []string
}

// startServe runs molar serve with args and waits for its banner: the lines
// it prints at once after "is serving". The process is killed when the test
// ends, if it has not stopped by then.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	s := &served{cmd: exec.Command(molarBin, append([]string{"serve"}, args...)...), stderr: &lockedBuffer{}}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.cmd.Process.Kill() })
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		for sc := bufio.NewScanner(stdout); sc.Scan(); {
			lines <- sc.Text()
		}
	}()
	deadline := time.After(20 * time.Second)
	for {
		var quiet <-chan time.Time
		if len(s.banner) > 0 {
			// The banner is written in one go; a pause ends it.
			quiet = time.After(500 * time.Millisecond)
		}
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited; banner %q; stderr:\n%s", s.banner, s.stderr)
			}
			if len(s.banner) > 0 || strings.Contains(l, "is serving") {
				s.banner = append(s.banner, l)
			}
		case <-quiet:
			go func() {
				for range lines {
				}
			}()
			return s
		case <-deadline:
			t.Fatalf("no banner; stderr:\n%s", s.stderr)
		}
	}
}

// find returns the first submatch of re in the banner.
func (s *served) find(t *testing.T, re string) string {
	t.Helper()
	r := regexp.MustCompile(re)
	for _, l := range s.banner {
		if m := r.FindStringSubmatch(l); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no %s in the banner:\n%s", re, strings.Join(s.banner, "\n"))
	return ""
}

// lockedBuffer is a bytes.Buffer the process writes while tests read.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
