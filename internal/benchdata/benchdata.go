// Package benchdata locates the directory benchmarks keep their data in:
// $MOLAR_BENCH_DATA, or bench-data at the module root (gitignored). It is
// for benchmarks only; nothing on a request path may import it.
package benchdata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Dir returns the benchmark data directory, creating it if needed. It is on
// the real disk, not a tmpfs, because the benchmarks measure the disk.
func Dir() (string, error) {
	dir := os.Getenv("MOLAR_BENCH_DATA")
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "bench-data")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("benchmark data directory: %w", err)
	}
	return dir, nil
}

// moduleRoot walks up from the working directory (go test runs in the
// package's) to the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory; set MOLAR_BENCH_DATA")
		}
		dir = parent
	}
}
