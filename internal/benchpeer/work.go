package benchpeer

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/molar-pacs/molar/internal/benchdata"
)

// work is where a test binary keeps corpora, the peers' data and the molar
// binary: under MOLAR_BENCH_DATA (default bench-data at the module root),
// like the store benchmarks, because the system temporary directory may be
// a tmpfs and these benchmarks are about the disk. Main names it and
// removes it.
var work struct {
	prefix string // set by Main
	once   sync.Once
	dir    string
	err    error
}

// Main runs a benchmark package's tests and benchmarks, removes the work
// directory, and exits with m.Run's code. The package's TestMain calls it;
// name begins the work directory's name (name-123456789).
func Main(m *testing.M, name string) {
	work.prefix = name + "-"
	code := m.Run()
	if work.dir != "" {
		os.RemoveAll(work.dir)
	}
	os.Exit(code)
}

// WorkDir returns the test binary's work directory, making it on first use.
func WorkDir(tb testing.TB) string {
	tb.Helper()
	work.once.Do(func() {
		if work.prefix == "" {
			work.err = errors.New("benchpeer: no work directory: the package's TestMain must call benchpeer.Main, which removes it")
			return
		}
		var base string
		if base, work.err = benchdata.Dir(); work.err != nil {
			return
		}
		work.dir, work.err = os.MkdirTemp(base, work.prefix)
	})
	if work.err != nil {
		tb.Fatal(work.err)
	}
	return work.dir
}

// NewDir returns a new empty directory, name-123456789, under parent: a
// path relative to the work directory ("" is the work directory itself) or
// an absolute one. It makes parent if needed.
func NewDir(tb testing.TB, parent, name string) string {
	tb.Helper()
	if !filepath.IsAbs(parent) {
		parent = filepath.Join(WorkDir(tb), parent)
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
