package store_test

// Benchmarks for the archive's performance targets. scripts/bench.sh runs
// them all and judges the results against the table in internal/benchtable;
// `go test -short` skips only the 1,000,000-instance query store, whose
// first build takes several minutes.
//
// Everything is written under MOLAR_BENCH_DATA (default: bench-data at the
// module root), never under the system temporary directory: that may be a
// tmpfs, and these benchmarks are about this disk. The query stores are
// built once and kept there, so reruns start at once.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/benchdata"
	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
	"github.com/molar-pacs/molar/store"
)

// benchDir returns the directory benchmarks keep their data in.
func benchDir(b testing.TB) string {
	b.Helper()
	dir, err := benchdata.Dir()
	if err != nil {
		b.Fatal(err)
	}
	return dir
}

// freshDir returns an empty directory under the bench data directory that
// is removed when b ends.
func freshDir(b testing.TB, name string) string {
	b.Helper()
	dir := filepath.Join(benchDir(b), name)
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// roundDirs gives each round of a benchmark (each b.N the testing package
// tries) a new directory, all removed only when the enclosing benchmark
// ends. Removing files between rounds would make the next round's file
// creations slower than an archive's: ext4 (here without a journal) scans
// past inodes deleted in the last 30 s when it allocates one, and in
// IngestSmall profiles that scan alone was a sixth of all CPU time.
type roundDirs struct {
	base string
	n    int
}

func newRoundDirs(b *testing.B, name string) *roundDirs {
	return &roundDirs{base: freshDir(b, name)}
}

func (r *roundDirs) next(b *testing.B) string {
	b.Helper()
	r.n++
	dir := filepath.Join(r.base, strconv.Itoa(r.n))
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	return dir
}

// openStore opens the store in dir with the default options, except that
// MOLAR_BENCH_CACHE_MB, if set, sizes Pebble's block cache: how query
// latency depends on it is worth measuring without editing code.
func openStore(b testing.TB, dir string) *store.Store {
	b.Helper()
	opts := store.Options{Dir: dir}
	if v := os.Getenv("MOLAR_BENCH_CACHE_MB"); v != "" {
		mb, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatalf("MOLAR_BENCH_CACHE_MB: %v", err)
		}
		opts.CacheSize = mb << 20
	}
	s, err := store.Open(context.Background(), opts)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// Deterministic UIDs of one fixed width, so that a template instance can
// have its UIDs overwritten in place (see template).
const (
	uidStudy  = 1
	uidSeries = 2
	uidSOP    = 3
)

func uid(kind, n int) string { return fmt.Sprintf("2.25.%d%018d", kind, n) }

// template is one synthetic instance whose Study, Series and SOP Instance
// UIDs can be changed in place. Generating pixels per instance would cost
// more CPU than some of the ingests being measured, on a 2-core machine.
type template struct {
	buf   []byte
	slots [uidSOP + 1][]int // offsets of each UID kind's value in buf
}

func newTemplate(b testing.TB, spec synth.Spec) *template {
	b.Helper()
	spec.StudyUID, spec.SeriesUID, spec.SOPInstanceUID = uid(uidStudy, 0), uid(uidSeries, 0), uid(uidSOP, 0)
	buf, err := synth.Bytes(spec)
	if err != nil {
		b.Fatal(err)
	}
	t := &template{buf: buf}
	for _, kind := range []int{uidStudy, uidSeries, uidSOP} {
		ph := []byte(uid(kind, 0))
		for off := 0; ; {
			i := bytes.Index(buf[off:], ph)
			if i < 0 {
				break
			}
			t.slots[kind] = append(t.slots[kind], off+i)
			off += i + len(ph)
		}
		if len(t.slots[kind]) == 0 {
			b.Fatalf("template: UID %s not found in the synthetic instance", ph)
		}
	}
	return t
}

// clone returns a copy whose buffer can be patched independently, one per
// concurrent writer.
func (t *template) clone() *template {
	c := *t
	c.buf = bytes.Clone(t.buf)
	return &c
}

// instance rewrites the UIDs and returns the instance bytes, valid until the
// next call.
func (t *template) instance(study, series, sop int) []byte {
	for kind, n := range [...]int{uidStudy: study, uidSeries: series, uidSOP: sop} {
		for _, off := range t.slots[kind] {
			copy(t.buf[off:], uid(kind, n))
		}
	}
	return t.buf
}

// ---------------------------------------------------------------------------
// Query benchmarks: stores of 10k, 100k and 1M tiny instances.

// The query dataset: each study has two series (intra-orals and a
// panoramic) of two instances, each patient two studies. Changing any of
// this must change queryDataVersion so cached stores are rebuilt.
const (
	queryDataVersion   = "v1"
	instancesPerStudy  = 4
	instancesPerSeries = 2
	studiesPerPatient  = 2
	queryWriters       = 8
)

type querySize struct {
	label string
	n     int
}

var querySizes = []querySize{{"10k", 10_000}, {"100k", 100_000}, {"1M", 1_000_000}}

// Surnames are three of these syllables and given names one of 64, so a
// surname-and-initial prefix matches a handful of patients at every size.
var (
	syllables = []string{"AL", "BER", "COR", "DEN", "EV", "FIN", "GAR", "HOL",
		"IS", "JAN", "KEL", "LOR", "MOR", "NEL", "OS", "PER"}
	givenStarts = []string{"AN", "BE", "CA", "DO", "EL", "FE", "GI", "HA"}
	givenEnds   = []string{"NA", "RO", "LIA", "TH", "MY", "SA", "VIN", "DRA"}
)

// patientName spreads patients over surname/given-name combinations: odd
// multiplication is a bijection modulo 2^18, so the first 262,144 patients
// get distinct full names.
func patientName(patient int) (surname, given string) {
	c := uint32(patient) * 0x9E3779B1 & (1<<18 - 1)
	surname = syllables[c&15] + syllables[c>>4&15] + syllables[c>>8&15]
	given = givenStarts[c>>12&7] + givenEnds[c>>15&7]
	return surname, given
}

// accession scatters accession numbers (also a bijection) so that
// neighbouring studies are not neighbours in the index.
func accession(study int) string {
	return fmt.Sprintf("RX%08X", uint32(study)*2654435761)
}

func querySpec(i int) synth.Spec {
	study := i / instancesPerStudy
	series := i % instancesPerStudy / instancesPerSeries
	patient := study / studiesPerPatient
	surname, given := patientName(patient)
	spec := synth.Spec{
		StudyUID:         uid(uidStudy, study),
		SeriesUID:        uid(uidSeries, study*(instancesPerStudy/instancesPerSeries)+series),
		SOPInstanceUID:   uid(uidSOP, i),
		Modality:         "IO",
		SOPClassUID:      synth.IntraOralForPresentation,
		PatientName:      surname + "^" + given,
		PatientID:        fmt.Sprintf("9%09d", patient),
		PatientBirthDate: fmt.Sprintf("%04d%02d%02d", 1940+patient%70, 1+patient%12, 1+patient%28),
		PatientSex:       []string{"F", "M"}[patient%2],
		AccessionNumber:  accession(study),
		StudyDate:        fmt.Sprintf("%04d%02d%02d", 2015+study%10, 1+study/10%12, 1+study/120%28),
		StudyTime:        fmt.Sprintf("%02d%02d00", 8+study%10, study%60),
		StudyDescription: "Bitewings and panoramic",
		SeriesNumber:     series + 1,
		InstanceNumber:   i%instancesPerSeries + 1,
		Rows:             8,
		Columns:          8,
		Seed:             int64(i),
	}
	if series == 1 {
		spec.Modality, spec.SOPClassUID = "PX", synth.DXForPresentation
	}
	return spec
}

// queryStoreDir returns the directory of the query store with n instances,
// building it first if it is not already complete. Stores are built through
// Store.Ingest by concurrent writers, as a modality fleet would fill them.
func queryStoreDir(b *testing.B, size querySize) string {
	b.Helper()
	dir := filepath.Join(benchDir(b), "query-"+size.label)
	marker := filepath.Join(dir, "complete")
	want := fmt.Sprintf("molar query benchmark store %s instances=%d\n", queryDataVersion, size.n)
	if got, err := os.ReadFile(marker); err == nil && string(got) == want {
		return dir
	}
	// Absent, interrupted or of an older layout: start again.
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	s := openStore(b, dir)
	ctx := context.Background()
	var next, done atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, queryWriters)
	start := time.Now()
	for range queryWriters {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= size.n {
					return
				}
				buf, err := synth.Bytes(querySpec(i))
				if err == nil {
					var res *store.Result
					res, err = s.Ingest(ctx, bytes.NewReader(buf))
					if err == nil && res.Outcome != store.Stored {
						err = fmt.Errorf("instance %d: %v", i, res.Outcome)
					}
				}
				if err != nil {
					errc <- err
					next.Store(int64(size.n)) // stop the other writers
					return
				}
				done.Add(1)
			}
		})
	}
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				n := done.Load()
				rate := float64(n) / time.Since(start).Seconds()
				eta := time.Duration(float64(int64(size.n)-n)/rate) * time.Second
				fmt.Fprintf(os.Stderr, "bench: building query-%s: %d/%d instances, %.0f/s, about %v left\n",
					size.label, n, size.n, rate, eta.Round(time.Second))
			}
		}
	}()
	wg.Wait()
	close(stop)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	select {
	case err := <-errc:
		b.Fatalf("building query-%s: %v", size.label, err)
	default:
	}
	fmt.Fprintf(os.Stderr, "bench: built query-%s (%d instances) in %v\n", size.label, size.n, time.Since(start).Round(time.Second))
	if err := os.WriteFile(marker, []byte(want), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// runQueryBench runs one query per iteration against each store size. The
// queries pick studies at random, so at 1M most index blocks they touch are
// not in Pebble's cache: that is the case to measure.
func runQueryBench(b *testing.B, query func(study int) (store.Query, func([]store.Match) error)) {
	for _, size := range querySizes {
		b.Run("instances="+size.label, func(b *testing.B) {
			if size.n >= 1_000_000 && testing.Short() {
				b.Skip("1M-instance store skipped in -short mode")
			}
			dir := queryStoreDir(b, size)
			s := openStore(b, dir)
			defer s.Close()
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(1, uint64(size.n)))
			studies := size.n / instancesPerStudy
			for b.Loop() {
				q, check := query(rng.IntN(studies))
				ms, _, err := s.Query(ctx, q)
				if err == nil {
					err = check(ms)
				}
				if err != nil {
					// The cache knows the dataset's version, not the
					// index format's.
					b.Fatalf("%v (if the store's index format changed since %s was built, remove it)", err, dir)
				}
			}
		})
	}
}

func wantMatches(n int) func([]store.Match) error {
	return func(ms []store.Match) error {
		if len(ms) != n {
			return fmt.Errorf("%d matches, want %d", len(ms), n)
		}
		return nil
	}
}

// BenchmarkQueryAccession finds every instance of a referral by its
// AccessionNumber, as a viewer opening a referral does (C-FIND at IMAGE
// level): the index lookup plus a walk down the study's series.
func BenchmarkQueryAccession(b *testing.B) {
	runQueryBench(b, func(study int) (store.Query, func([]store.Match) error) {
		return store.Query{
			Level: store.InstanceLevel,
			Keys:  []store.Key{{Tag: dcm.AccessionNumber, Value: accession(study)}},
		}, wantMatches(instancesPerStudy)
	})
}

// qidoStudyKeys are the attributes QIDO-RS returns for /studies by default
// (PS3.18 Table 6.7.1-2a), sent as return keys.
var qidoStudyKeys = []dcm.Tag{dcm.StudyDate, dcm.StudyTime, dcm.AccessionNumber,
	dcm.ModalitiesInStudy, dcm.ReferringPhysicianName, dcm.PatientName, dcm.PatientID,
	dcm.PatientBirthDate, dcm.PatientSex, dcm.StudyInstanceUID, dcm.StudyID,
	dcm.NumberOfStudyRelatedSeries, dcm.NumberOfStudyRelatedInstances}

// BenchmarkQIDOStudiesByAccession is GET /studies?AccessionNumber=…: the
// store's share of it, at study level with QIDO's default return keys and
// a page limit.
func BenchmarkQIDOStudiesByAccession(b *testing.B) {
	runQueryBench(b, func(study int) (store.Query, func([]store.Match) error) {
		keys := []store.Key{{Tag: dcm.AccessionNumber, Value: accession(study)}}
		for _, t := range qidoStudyKeys {
			if t != dcm.AccessionNumber {
				keys = append(keys, store.Key{Tag: t})
			}
		}
		return store.Query{Level: store.StudyLevel, Keys: keys, Limit: 100}, wantMatches(1)
	})
}

// BenchmarkQueryPatientNamePrefix is a reception search by surname and
// initial ("SMITH^J*") at study level.
func BenchmarkQueryPatientNamePrefix(b *testing.B) {
	runQueryBench(b, func(study int) (store.Query, func([]store.Match) error) {
		surname, given := patientName(study / studiesPerPatient)
		q := store.Query{
			Level: store.StudyLevel,
			Keys:  []store.Key{{Tag: dcm.PatientName, Value: surname + "^" + given[:1] + "*"}},
			Limit: 100,
		}
		// At least the chosen patient's studies; others may share the
		// surname and initial.
		return q, func(ms []store.Match) error {
			if len(ms) < studiesPerPatient {
				return fmt.Errorf("%d matches for %s, want at least %d", len(ms), q.Keys[0].Value, studiesPerPatient)
			}
			return nil
		}
	})
}

// ---------------------------------------------------------------------------
// Ingest benchmarks.

// ingestConcurrently ingests b.N instances from writers goroutines and
// returns the bytes ingested. inst returns instance i's bytes from the
// writer's own template.
func ingestConcurrently(b *testing.B, s *store.Store, writers int, tmpl *template, inst func(t *template, i int) []byte) int64 {
	b.Helper()
	ctx := context.Background()
	var next, total atomic.Int64
	var wg sync.WaitGroup
	for range writers {
		t := tmpl.clone()
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				buf := inst(t, i)
				res, err := s.Ingest(ctx, bytes.NewReader(buf))
				if err != nil {
					b.Error(err)
					return
				}
				if res.Outcome != store.Stored {
					b.Errorf("instance %d: %v", i, res.Outcome)
					return
				}
				total.Add(int64(len(buf)))
			}
		})
	}
	wg.Wait()
	return total.Load()
}

// BenchmarkIngestSmall measures durable ingest of ≈10 kB intra-oral
// instances from 4 concurrent writers (a practice's sensors and scanners
// sending at once), eight instances to a study. Each round starts with an
// empty store, so rounds measure the same thing.
func BenchmarkIngestSmall(b *testing.B) {
	const writers = 4
	tmpl := newTemplate(b, synth.Spec{Rows: 68, Columns: 68, PatientName: "SMALL^BENCH", PatientID: "9000000001"})
	dirs := newRoundDirs(b, "ingest-small")
	b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
		s := openStore(b, dirs.next(b))
		b.ResetTimer()
		n := ingestConcurrently(b, s, writers, tmpl, func(t *template, i int) []byte {
			return t.instance(i/8, i/8, i)
		})
		b.StopTimer()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "instances/s")
		b.ReportMetric(float64(n)/float64(b.N)/1e3, "kB/instance")
	})
}

// Film sizes: a small panoramic, a typical one (≈5.6 MB) and a large
// cephalometric film, 16 bits per pixel.
var filmSizes = []struct{ rows, cols int }{{1448, 1448}, {2000, 1400}, {2560, 1920}}

func filmName(rows, cols int) string { return fmt.Sprintf("film=%dx%d", rows, cols) }

// BenchmarkDiskBaseline is the bar for BenchmarkIngestFilm: this disk's
// fsync'd sequential write bandwidth for the same bytes, written by a plain
// create-write-fsync-close loop, one file at a time, in the same bench data
// directory. It runs just before BenchmarkIngestFilm, in the same go test
// run.
func BenchmarkDiskBaseline(b *testing.B) {
	dirs := newRoundDirs(b, "disk-baseline")
	for _, fs := range filmSizes {
		buf := filmTemplate(b, fs.rows, fs.cols).buf
		b.Run(filmName(fs.rows, fs.cols), func(b *testing.B) {
			dir := dirs.next(b)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for i := range b.N {
				if err := writeAndSync(filepath.Join(dir, strconv.Itoa(i)), buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func filmTemplate(b *testing.B, rows, cols int) *template {
	return newTemplate(b, synth.Spec{Rows: rows, Columns: cols, Modality: "PX",
		SOPClassUID: synth.DXForPresentation, PatientName: "FILM^BENCH", PatientID: "9000000002"})
}

// writeAndSync is the baseline's unit of work: the least a durable write
// of buf to a new file can cost.
func writeAndSync(path string, buf []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// BenchmarkIngestFilm ingests panoramic-sized films from one writer, as
// BenchmarkDiskBaseline writes them; benchtable divides the two. They are
// separate loops on purpose: this VM's disk runs well above its sustained
// bandwidth for a while after it idles, so a plain write slotted between
// ingests (which leave the disk idle while they hash) measured up to twice
// the bandwidth a plain loop gets, and would have made the bar unfairly high.
func BenchmarkIngestFilm(b *testing.B) {
	dirs := newRoundDirs(b, "ingest-film")
	ctx := context.Background()
	for _, fs := range filmSizes {
		tmpl := filmTemplate(b, fs.rows, fs.cols)
		b.Run(filmName(fs.rows, fs.cols), func(b *testing.B) {
			s := openStore(b, dirs.next(b))
			b.SetBytes(int64(len(tmpl.buf)))
			b.ResetTimer()
			for i := range b.N {
				if _, err := s.Ingest(ctx, bytes.NewReader(tmpl.instance(i, i, i))); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkSeriesMetadata is WADO-RS …/series/{uid}/metadata for a series
// of 20 instances: it must not depend on how big the instances are.
func BenchmarkSeriesMetadata(b *testing.B) {
	const instances = 20
	for _, size := range []struct {
		name       string
		rows, cols int
	}{{"small", 68, 68}, {"large", 2000, 1400}} {
		b.Run(fmt.Sprintf("instances=%d/size=%s", instances, size.name), func(b *testing.B) {
			tmpl := newTemplate(b, synth.Spec{Rows: size.rows, Columns: size.cols, PatientName: "META^BENCH", PatientID: "9000000003"})
			s := openStore(b, freshDir(b, "metadata-"+size.name))
			defer s.Close()
			ctx := context.Background()
			for i := range instances {
				if _, err := s.Ingest(ctx, bytes.NewReader(tmpl.instance(1, 1, i))); err != nil {
					b.Fatal(err)
				}
			}
			study, series := uid(uidStudy, 1), uid(uidSeries, 1)
			var out countingWriter
			for b.Loop() {
				out.n = 0
				n, err := s.Metadata(ctx, study, series, "", "https://pacs.example.nhs.uk/dicom-web", &out)
				if err != nil {
					b.Fatal(err)
				}
				if n != instances {
					b.Fatalf("metadata of %d instances, want %d", n, instances)
				}
			}
			b.ReportMetric(float64(out.n)/1e3, "kB-json/op")
		})
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// ---------------------------------------------------------------------------
// Memory: ingesting a 200 MB instance must not hold it in memory.

const (
	rssChildEnv   = "MOLAR_BENCH_RSS_CHILD"
	rssPixelBytes = 10240 * 10240 * 2 // 200 MiB of 16-bit pixels
	rssResultTag  = "molar-rss-delta-bytes="
)

// BenchmarkIngest200MB streams a 200 MB instance into Store.Ingest in a
// child process (a fresh test binary, so nothing else this process did
// shows in its RSS) and reports how far the child's peak RSS rose above
// its RSS just before the ingest.
func BenchmarkIngest200MB(b *testing.B) {
	dir := freshDir(b, "ingest-200mb")
	var worst int64
	b.SetBytes(rssPixelBytes)
	b.ResetTimer()
	for i := range b.N {
		cmd := exec.Command(os.Args[0], "-test.run=^TestIngest200MBChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), rssChildEnv+"="+filepath.Join(dir, strconv.Itoa(i)))
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		delta, err := parseRSSResult(out)
		if err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		worst = max(worst, delta)
	}
	b.ReportMetric(float64(worst)/(1<<20), "peakRSS-MB")
}

func parseRSSResult(out []byte) (int64, error) {
	for line := range strings.Lines(string(out)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), rssResultTag); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("no RSS result in the output")
}

// TestIngest200MBChild is BenchmarkIngest200MB's child process; on its own
// it skips.
func TestIngest200MBChild(t *testing.T) {
	dir := os.Getenv(rssChildEnv)
	if dir == "" {
		t.Skip("runs only as BenchmarkIngest200MB's child process")
	}
	s := openStore(t, dir)
	defer s.Close()
	r := hugeInstance(t)

	// Measure from a settled heap, and make VmHWM start from here: writing
	// 5 to clear_refs resets the peak (Linux 4.0+). Without it, VmHWM is
	// the peak since exec, which can only overstate the rise.
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Logf("cannot reset VmHWM (%v); the result may overstate", err)
	}
	before := procStatus(t, "VmRSS")
	res, err := s.Ingest(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	peak := procStatus(t, "VmHWM")
	if res.Size < rssPixelBytes {
		t.Fatalf("stored %d bytes, want more than %d", res.Size, rssPixelBytes)
	}
	fmt.Printf("%s%d\n", rssResultTag, peak-before)
}

// hugeInstance returns a reader of a 10240x10240 16-bit instance: synth's
// header for a 1x1 image, patched to the large size, then the pixel bytes
// generated as they are read.
func hugeInstance(t testing.TB) io.Reader {
	t.Helper()
	small, err := synth.Bytes(synth.Spec{Rows: 1, Columns: 1, Modality: "PX", SOPClassUID: synth.DXForPresentation,
		PatientName: "HUGE^BENCH", PatientID: "9000000004"})
	if err != nil {
		t.Fatal(err)
	}
	// Pixel Data is last: tag, "OW", two reserved bytes, 4-byte length and
	// the 2-byte value of the 1x1 image.
	header := small[:len(small)-2]
	binary.LittleEndian.PutUint32(header[len(header)-4:], rssPixelBytes)
	for _, tag := range []dcm.Tag{dcm.Rows, dcm.Columns} {
		// Explicit VR little endian: group, element, "US", length 2, value 1.
		el := binary.LittleEndian.AppendUint16(nil, tag.Group())
		el = binary.LittleEndian.AppendUint16(el, tag.Element())
		el = append(el, 'U', 'S', 2, 0)
		i := bytes.Index(header, append(el, 1, 0))
		if i < 0 {
			t.Fatalf("no %s in the synthetic header", tag)
		}
		binary.LittleEndian.PutUint16(header[i+len(el):], 10240)
	}
	return io.MultiReader(bytes.NewReader(header), &pixelStream{left: rssPixelBytes, x: 0x9E3779B97F4A7C15})
}

// pixelStream yields left deterministic pseudo-random bytes without
// holding them; the bytes do not depend on how reads are sized.
type pixelStream struct {
	left int64
	pos  uint64
	x    uint64
}

func (p *pixelStream) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.left)]
	for i := range b {
		if p.pos%8 == 0 {
			p.x ^= p.x << 13
			p.x ^= p.x >> 7
			p.x ^= p.x << 17
		}
		b[i] = byte(p.x >> (p.pos % 8 * 8))
		p.pos++
	}
	p.left -= int64(len(b))
	return len(b), nil
}

// procStatus returns a /proc/self/status memory field in bytes.
func procStatus(t testing.TB, field string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), field+":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", field, err)
		}
		return kb << 10
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}
