// Package importer ingests files and folder trees into the archive in
// parallel, reporting progress and a summary of what was stored, what was
// already there and what was refused and why. It is safe to run again over
// the same files. It talks to the archive through one small interface and
// must not know about protocols.
package importer

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/molar-pacs/molar/store"
)

// Archive is what the importer needs of the store.
type Archive interface {
	Ingest(ctx context.Context, r io.Reader) (*store.Result, error)
}

// Options tune an import.
type Options struct {
	Workers int // default 4
	// Progress, if set, is called about every Interval with a snapshot.
	Progress func(Progress)
	Interval time.Duration
}

// Progress is a snapshot of a running import.
type Progress struct {
	Files, TotalFiles int64
	Bytes, TotalBytes int64
	Elapsed           time.Duration
}

// MBps returns the throughput so far.
func (p Progress) MBps() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Bytes) / 1e6 / p.Elapsed.Seconds()
}

// ETA estimates the time left from the bytes still to read.
func (p Progress) ETA() time.Duration {
	if p.Bytes == 0 || p.TotalBytes <= p.Bytes {
		return 0
	}
	rate := float64(p.Bytes) / p.Elapsed.Seconds()
	return time.Duration(float64(p.TotalBytes-p.Bytes) / rate * float64(time.Second))
}

// Summary is the outcome of an import.
type Summary struct {
	Stored, AlreadyPresent, Replaced int
	Rejected                         []Rejection
	Errors                           []Rejection // I/O failures, not the file's fault
	Bytes                            int64
	Elapsed                          time.Duration
}

// Rejection names a file and why it was not stored.
type Rejection struct {
	Path   string
	Reason string // short class, e.g. "truncated"
	Detail string
}

// ReasonCounts groups rejections by reason, most frequent first.
func (s *Summary) ReasonCounts() []struct {
	Reason string
	Count  int
} {
	m := map[string]int{}
	for _, r := range s.Rejected {
		m[r.Reason]++
	}
	out := make([]struct {
		Reason string
		Count  int
	}, 0, len(m))
	for k, v := range m {
		out = append(out, struct {
			Reason string
			Count  int
		}{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}

type job struct {
	path string
	size int64
}

// Run imports every regular file under paths (files or directories).
func Run(ctx context.Context, a Archive, paths []string, opts Options) (*Summary, error) {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Interval <= 0 {
		opts.Interval = 200 * time.Millisecond
	}
	// Walk first so progress can show totals and an ETA; listing is cheap
	// next to reading the files.
	var jobs []job
	var total int64
	for _, root := range paths {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if strings.HasPrefix(d.Name(), ".") && p != root {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			jobs = append(jobs, job{p, info.Size()})
			total += info.Size()
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", root, err)
		}
	}

	start := time.Now()
	var files, bytes atomic.Int64
	snapshot := func() Progress {
		return Progress{Files: files.Load(), TotalFiles: int64(len(jobs)), Bytes: bytes.Load(), TotalBytes: total, Elapsed: time.Since(start)}
	}
	stopProgress := make(chan struct{})
	var progressDone sync.WaitGroup
	if opts.Progress != nil {
		progressDone.Add(1)
		go func() {
			defer progressDone.Done()
			t := time.NewTicker(opts.Interval)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					opts.Progress(snapshot())
				case <-stopProgress:
					return
				}
			}
		}()
	}

	sum := &Summary{}
	var mu sync.Mutex
	work := make(chan job)
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				res, err := ingestFile(ctx, a, j.path)
				mu.Lock()
				switch {
				case err == nil:
					switch res.Outcome {
					case store.Stored:
						sum.Stored++
					case store.AlreadyStored:
						sum.AlreadyPresent++
					case store.Replaced:
						sum.Replaced++
					}
				default:
					if rej, ok := store.IsReject(err); ok {
						sum.Rejected = append(sum.Rejected, Rejection{Path: j.path, Reason: rej.Reason.String(), Detail: rej.Detail})
					} else {
						sum.Errors = append(sum.Errors, Rejection{Path: j.path, Reason: "error", Detail: err.Error()})
					}
				}
				mu.Unlock()
				files.Add(1)
				bytes.Add(j.size)
			}
		}()
	}
feed:
	for _, j := range jobs {
		select {
		case work <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(stopProgress)
	progressDone.Wait()
	if opts.Progress != nil {
		opts.Progress(snapshot())
	}
	sum.Bytes = bytes.Load()
	sum.Elapsed = time.Since(start)
	sort.Slice(sum.Rejected, func(i, k int) bool { return sum.Rejected[i].Path < sum.Rejected[k].Path })
	return sum, ctx.Err()
}

func ingestFile(ctx context.Context, a Archive, path string) (*store.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if filepath.Base(path) == "DICOMDIR" {
		return nil, &store.RejectError{Reason: store.ReasonNotDICOM, Detail: "a DICOMDIR is a media directory, not an instance"}
	}
	return a.Ingest(ctx, f)
}
