package dimsebench

// Side-by-side DIMSE benchmarks: the same corpus, sent by the same DCMTK
// tools, to Molar, Orthanc and DCMTK's storescp. scripts/bench.sh runs them
// with everything else and internal/benchtable judges Molar's figures
// against the others' (targets.go).
//
// What one iteration (one b.N) is, and what is timed:
//
//   - CStoreFilms, CStoreSmall: sending the whole corpus once, by storescu
//     (one process per association, each sending its share of the files),
//     from process start to the last process's exit: so association
//     set-up and storescu's own reading of the files are in every figure,
//     for every receiver alike. Between iterations, untimed, every file
//     gets new UIDs, patient and referral (Corpus.Next) and the disks are
//     synced, so no iteration resends an instance and none pays for the
//     previous one's writes. Each round of b.N (each call of the benchmark
//     function by the testing package) starts a receiver on an empty
//     store.
//   - CMoveStudy: one C-MOVE of a 10-film study, by movescu, to a storescp
//     (the source=direct sub-benchmark instead sends the same 10 files to
//     the same kind of storescp with storescu: the receiver's ceiling).
//     Each iteration moves a different study, all stored beforehand
//     (untimed) in a fresh source; they are in the page cache, as recently
//     received studies would be.
//
// After each iteration the receiver's count of instances is checked, so a
// receiver that refused or dropped instances fails instead of looking fast.
//
// Metrics: instances/s and MB/s (10^6 bytes of Part 10 files) over the
// timed time; ns/op is the time to send the corpus (or move the study)
// once. The C-STORE benchmarks also report on-disk-instances/s, which
// counts the sync(2) after each send as well (benchpeer.TimeSends): the
// rate for storescp, which never syncs, of getting the files onto the disk.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/molar-pacs/molar/internal/benchpeer"
)

func TestMain(m *testing.M) { benchpeer.Main(m, "dimse") }

// studySpecs: the study C-MOVE moves, 10 films, 47.6 MB: a 2560x1920
// panoramic and a series of nine 1448x1448 intra-orals. The C-STORE
// benchmarks send benchpeer.FilmSpecs and SmallSpecs, as the STOW-RS ones
// (internal/webbench) do. Every corpus here is files
// (benchpeer.FileCorpus), which storescu reads.
func studySpecs() []benchpeer.Spec {
	specs := []benchpeer.Spec{benchpeer.Panoramic(benchpeer.PanoramicLargeRows, benchpeer.PanoramicLargeCols, 0, 0)}
	for range 9 {
		specs = append(specs, benchpeer.IntraOral(benchpeer.IntraOralRows, benchpeer.IntraOralCols, 0, 1))
	}
	return specs
}

// The receivers of the C-STORE benchmarks.
const (
	peerMolar    = "molar"
	peerOrthanc  = "orthanc"
	peerStorescp = "storescp"
)

func startReceiver(tb testing.TB, peer, dir string, assocs int) *receiver {
	switch peer {
	case peerMolar:
		return startMolar(tb, dir)
	case peerOrthanc:
		return startOrthanc(tb, dir, nil)
	case peerStorescp:
		// Several associations need --fork to be served at once; see
		// startStorescp.
		return startStorescp(tb, dir, assocs > 1)
	}
	tb.Fatalf("unknown peer %q", peer)
	return nil
}

// BenchmarkCStoreFilms: C-STORE of 24 films of 4–10 MB, over one
// association and over two in parallel (each sending half).
func BenchmarkCStoreFilms(b *testing.B) {
	c := benchpeer.FileCorpus(b, "films", benchpeer.FilmSpecs)
	for _, peer := range []string{peerMolar, peerOrthanc, peerStorescp} {
		b.Run("peer="+peer, func(b *testing.B) {
			for _, assocs := range []int{1, 2} {
				// A few large files: removing them between
				// sub-benchmarks costs nothing worth measuring.
				base := benchpeer.NewDir(b, "films", peer)
				b.Run(fmt.Sprintf("assocs=%d", assocs), func(b *testing.B) {
					benchStore(b, c, peer, assocs, base)
				})
				os.RemoveAll(base)
			}
		})
	}
}

// BenchmarkCStoreSmall: C-STORE of 500 instances of ≈10 kB over one
// association. storescp is there as the ceiling of a receiver that does
// not make instances durable; the target is Molar against Orthanc.
func BenchmarkCStoreSmall(b *testing.B) {
	c := benchpeer.FileCorpus(b, "small", benchpeer.SmallSpecs)
	// Kept until every receiver has run: on ext4, creating files soon
	// after many were deleted is slower (see roundDirs in store's
	// benchmarks), which would favour whichever receiver ran first.
	base := benchpeer.NewDir(b, "", "small")
	b.Cleanup(func() { os.RemoveAll(base) })
	for _, peer := range []string{peerMolar, peerOrthanc, peerStorescp} {
		b.Run("peer="+peer, func(b *testing.B) {
			benchStore(b, c, peer, 1, base)
		})
	}
}

// benchStore sends the corpus b.N times to a new receiver of kind peer,
// over assocs parallel associations.
func benchStore(b *testing.B, c *benchpeer.Corpus, peer string, assocs int, base string) {
	requireTools(b, "storescu", "echoscu")
	r := startReceiver(b, peer, benchpeer.NewDir(b, base, "round"), assocs)
	timeStorescu(b, c, r, assocs)
}

// timeStorescu times b.N sends of the corpus (fresh UIDs each time, set
// up untimed) with storescu over assocs associations to r.
func timeStorescu(b *testing.B, c *benchpeer.Corpus, r *receiver, assocs int) {
	lists := paths(c, assocs)
	benchpeer.TimeSends(b, c, &r.Peer, func() error { return storescu(r, lists) })
}

// paths returns the files of c, split round-robin into n lists (so that
// each list has a mix of sizes).
func paths(c *benchpeer.Corpus, n int) [][]string {
	out := make([][]string, n)
	for i, in := range c.Instances {
		out[i%n] = append(out[i%n], in.Path)
	}
	return out
}

func TestPaths(t *testing.T) {
	c := &benchpeer.Corpus{}
	for _, p := range []string{"a", "b", "c", "d", "e"} {
		c.Instances = append(c.Instances, &benchpeer.Instance{Path: p})
	}
	if got := fmt.Sprint(paths(c, 2)); got != "[[a c e] [b d]]" {
		t.Errorf("paths(2) = %s", got)
	}
}

// storescu sends each list of files to r over an association of its own,
// all at once, and waits for every one.
func storescu(r *receiver, lists [][]string) error {
	errs := make([]error, len(lists))
	var wg sync.WaitGroup
	for i, files := range lists {
		wg.Go(func() {
			// -R: propose only the SOP classes the files need, as a
			// modality does, rather than DCMTK's full list of 128.
			args := []string{"-aet", aetModality, "-aec", r.aet, "-R", "-to", "10", "127.0.0.1", strconv.Itoa(r.port)}
			out, err := dcmtk(sendTimeout, "storescu", append(args, files...)...)
			if err != nil {
				errs[i] = fmt.Errorf("storescu to %s (association %d of %d): %v\n%s", r.Name, i+1, len(lists), err, out)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// The sources of the C-MOVE benchmark; direct is storescu itself.
const (
	sourceDirect  = "direct"
	sourceMolar   = "molar"
	sourceOrthanc = "orthanc"
)

// BenchmarkCMoveStudy: C-MOVE of a 10-film study from Molar and from
// Orthanc to storescp, and (source=direct) the same 10 films sent straight
// to storescp by storescu, the most the receiver takes in.
func BenchmarkCMoveStudy(b *testing.B) {
	c := benchpeer.FileCorpus(b, "study", studySpecs)
	for _, source := range []string{sourceMolar, sourceOrthanc, sourceDirect} {
		base := benchpeer.NewDir(b, "move", source)
		b.Run("source="+source, func(b *testing.B) {
			benchMove(b, c, source, base)
		})
		os.RemoveAll(base)
	}
}

func benchMove(b *testing.B, c *benchpeer.Corpus, source, base string) {
	requireTools(b, "storescu", "movescu", "echoscu")
	dir := benchpeer.NewDir(b, base, "round")
	dest := startStorescp(b, mkdir(b, dir, "storescp"), false)
	n := len(c.Instances)
	if source == sourceDirect {
		timeStorescu(b, c, dest, 1)
		return
	}

	// Both sources know the destination and the PACS asking for the move
	// (movescu does not listen: its port is never used). Neither lets an
	// unknown AE title retrieve.
	pacsPort := benchpeer.FreePort(b)
	var src *receiver
	switch source {
	case sourceMolar:
		src = startMolar(b, mkdir(b, dir, "molar"),
			fmt.Sprintf("%s=127.0.0.1:%d", aetStorescp, dest.port), fmt.Sprintf("%s=127.0.0.1:%d", aetPACS, pacsPort))
	case sourceOrthanc:
		src = startOrthanc(b, mkdir(b, dir, "orthanc"), map[string]int{aetStorescp: dest.port, aetPACS: pacsPort})
	default:
		b.Fatalf("unknown source %q", source)
	}
	// b.N studies, each moved once.
	studies := make([]string, b.N)
	for i := range studies {
		if err := c.Next(); err != nil {
			b.Fatal(err)
		}
		if err := storescu(src, paths(c, 1)); err != nil {
			b.Fatalf("storing the study to move: %v\n%s", err, src.Proc.LogTail())
		}
		studies[i] = c.StudyUID(0)
	}
	src.Expect(b, b.N*n)
	b.ResetTimer()
	b.StopTimer()
	for i, uid := range studies {
		benchpeer.SyncDisks()
		b.StartTimer()
		out, err := dcmtk(sendTimeout, "movescu", "-aet", aetPACS, "-aec", src.aet, "-aem", aetStorescp, "-to", "10",
			"-S", "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID="+uid, "127.0.0.1", strconv.Itoa(src.port))
		b.StopTimer()
		if err != nil {
			b.Fatalf("movescu from %s: %v\n%s\n%s", src.Name, err, out, src.Proc.LogTail())
		}
		dest.Expect(b, (i+1)*n)
	}
	benchpeer.Report(b, b.N*n, int64(b.N)*c.Bytes)
}

func mkdir(tb testing.TB, parent, name string) string {
	tb.Helper()
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}
