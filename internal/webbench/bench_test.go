package webbench

// Side-by-side STOW-RS benchmarks: the same corpus, sent by the same Go
// HTTP client, to molar serve and to Orthanc with its DICOMweb plugin.
//
// What one iteration (one b.N) is, and what is timed:
//
//   - BenchmarkSTOW: storing the whole corpus once, as a practice's upload
//     client does: POST /dicom-web/studies, one multipart/related request
//     per perRequest instances, each connection sending its share of the
//     corpus one request after the other, from the first request's start
//     to the last response's end. Each body is streamed through an
//     io.Pipe, with its Content-Length (the client knows the sizes, as one
//     reading files does), so the client never holds a request in a buffer
//     of its own. Between iterations, untimed, every instance gets new
//     UIDs, patient and referral (Corpus.Next) and the disks are synced,
//     so no iteration resends an instance and none pays for the previous
//     one's writes. Each round of b.N (each call of the benchmark function
//     by the testing package) starts a peer on an empty store.
//
// Each response must be 200 and list every instance of its request in its
// ReferencedSOPSequence, and after each iteration the peer's own count of
// instances (Molar's metrics, Orthanc's /statistics) must have grown by the
// corpus, so a peer that refused, dropped or only acknowledged instances
// fails instead of looking fast.
//
// Metrics: instances/s and MB/s (10^6 bytes of Part 10 instances, not
// counting the multipart framing) over the timed time; ns/op is the time
// to store the corpus once.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/molar-pacs/molar/internal/benchpeer"
)

func TestMain(m *testing.M) { benchpeer.Main(m, "webbench") }

// perRequest is how many instances one STOW-RS request carries: upload
// clients batch a visit's films rather than send one request per film or
// one for the whole day.
const perRequest = 10

// The peers, in the order they run.
const (
	peerMolar   = "molar"
	peerOrthanc = "orthanc"
)

var peers = []string{peerMolar, peerOrthanc}

func startPeer(tb testing.TB, name, dir string) *peer {
	tb.Helper()
	switch name {
	case peerMolar:
		return startMolar(tb, dir)
	case peerOrthanc:
		return startOrthanc(tb, dir)
	}
	tb.Fatalf("unknown peer %q", name)
	return nil
}

// BenchmarkSTOW: STOW-RS of 500 instances of ≈10 kB and of 24 films of
// 4–10 MB, over one connection and over two in parallel (each sending
// half), to Molar and to Orthanc. The peers are the innermost level so
// that the two figures a ratio is taken of are measured minutes apart,
// under the same load from whatever else the machine runs.
func BenchmarkSTOW(b *testing.B) {
	benchpeer.RequireOrthanc(b, true)
	for _, cs := range []struct {
		name  string
		specs func() []benchpeer.Spec
		// keep: rounds' directories are kept until the corpus is done.
		// On ext4, creating many files soon after many were deleted is
		// slower (see roundDirs in store's benchmarks), which would
		// favour whichever peer ran first; a few large files cost
		// nothing to delete and would otherwise fill the disk.
		keep bool
	}{
		// The corpora the C-STORE benchmarks (internal/dimsebench) send
		// too, so the two protocols' figures compare; here in memory.
		{"small", benchpeer.SmallSpecs, true},
		{"films", benchpeer.FilmSpecs, false},
	} {
		b.Run("corpus="+cs.name, func(b *testing.B) {
			c := benchpeer.MemCorpus(b, cs.name, cs.specs)
			base := benchpeer.NewDir(b, "", cs.name)
			defer os.RemoveAll(base)
			for _, conns := range []int{1, 2} {
				b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
					for _, p := range peers {
						b.Run("peer="+p, func(b *testing.B) {
							benchSTOW(b, c, p, conns, base, cs.keep)
						})
					}
				})
			}
		})
	}
}

// benchSTOW stores the corpus b.N times in a new peer of kind name, over
// conns parallel connections.
func benchSTOW(b *testing.B, c *benchpeer.Corpus, name string, conns int, base string, keep bool) {
	dir := benchpeer.NewDir(b, base, "round")
	if !keep {
		// Registered before the peer's stop, so it runs after it.
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	p := startPeer(b, name, dir)
	reqs := requests(c, conns, perRequest)
	client := newClient(conns)
	defer client.CloseIdleConnections()
	benchpeer.TimeSends(b, c, &p.Peer, func() error { return stowAll(client, p, c, reqs) })
}

// requests splits the corpus among conns connections, round-robin so that
// each gets a mix of sizes, and each connection's share into requests of
// at most perRequest instances, in order.
func requests(c *benchpeer.Corpus, conns, perRequest int) [][][]*benchpeer.Instance {
	shares := make([][]*benchpeer.Instance, conns)
	for i, in := range c.Instances {
		shares[i%conns] = append(shares[i%conns], in)
	}
	out := make([][][]*benchpeer.Instance, conns)
	for i, share := range shares {
		for len(share) > 0 {
			n := min(perRequest, len(share))
			out[i] = append(out[i], share[:n])
			share = share[n:]
		}
	}
	return out
}

// TestRequests checks that requests sends every instance once, in
// requests of at most perRequest.
func TestRequests(t *testing.T) {
	c := &benchpeer.Corpus{}
	for range 4 {
		c.Instances = append(c.Instances, &benchpeer.Instance{})
	}
	for _, tc := range []struct{ conns, per, requests int }{{1, 10, 1}, {1, 3, 2}, {2, 1, 4}, {2, 10, 2}} {
		got := requests(c, tc.conns, tc.per)
		n, sent := 0, map[*benchpeer.Instance]bool{}
		for _, reqs := range got {
			n += len(reqs)
			for _, req := range reqs {
				if len(req) == 0 || len(req) > tc.per {
					t.Errorf("requests(%d, %d): a request of %d instances", tc.conns, tc.per, len(req))
				}
				for _, in := range req {
					sent[in] = true
				}
			}
		}
		if len(got) != tc.conns || n != tc.requests || len(sent) != len(c.Instances) {
			t.Errorf("requests(%d, %d): %d connections, %d requests, %d instances; want %d, %d, %d",
				tc.conns, tc.per, len(got), n, len(sent), tc.conns, tc.requests, len(c.Instances))
		}
	}
}

// newClient returns a client that keeps up to conns connections open
// between requests, as an upload client does.
func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			MaxConnsPerHost:     conns,
			MaxIdleConnsPerHost: conns,
			DisableCompression:  true,
		},
	}
}

// stowAll sends each connection's requests, one after the other, all
// connections at once, and waits for every one.
func stowAll(client *http.Client, p *peer, c *benchpeer.Corpus, reqs [][][]*benchpeer.Instance) error {
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, conn := range reqs {
		wg.Go(func() {
			for _, batch := range conn {
				if err := stow(client, p, c, batch); err != nil {
					errs[i] = fmt.Errorf("connection %d of %d: %w", i+1, len(reqs), err)
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

var partHeader = textproto.MIMEHeader{"Content-Type": {"application/dicom"}}

// stow sends batch to p in one STOW-RS request and checks that p stored
// every instance of it.
func stow(client *http.Client, p *peer, c *benchpeer.Corpus, batch []*benchpeer.Instance) error {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	req, err := http.NewRequestWithContext(ctx, "POST", p.root+"/studies", pr)
	if err != nil {
		return err
	}
	req.ContentLength = multipartLength(mw.Boundary(), batch)
	req.Header.Set("Content-Type", `multipart/related; type="application/dicom"; boundary=`+mw.Boundary())
	req.Header.Set("Accept", "application/dicom+json")
	req.Header.Set("Authorization", p.auth)

	written := make(chan error, 1)
	go func() {
		err := writeParts(mw, batch)
		pw.CloseWithError(err)
		written <- err
	}()
	resp, err := client.Do(req)
	if err == nil {
		var body []byte
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			err = checkStowResponse(resp, body, c, batch)
		}
	}
	// A peer may answer before reading the whole body: the writer must
	// not wait for a reader that is gone.
	pr.CloseWithError(errors.New("request over"))
	werr := <-written
	if err != nil {
		return fmt.Errorf("STOW-RS of %d instances to %s: %w", len(batch), p.Name, err)
	}
	if werr != nil {
		// The peer answered 200 for everything without reading it all.
		return fmt.Errorf("STOW-RS of %d instances to %s: writing the body: %w", len(batch), p.Name, werr)
	}
	return nil
}

func writeParts(mw *multipart.Writer, batch []*benchpeer.Instance) error {
	for _, in := range batch {
		w, err := mw.CreatePart(partHeader)
		if err != nil {
			return err
		}
		if _, err := w.Write(in.Data); err != nil {
			return err
		}
	}
	return mw.Close()
}

// multipartLength returns the size of the body writeParts writes: the
// framing does not depend on the parts' contents, so it is measured with
// empty parts and their sizes added.
func multipartLength(boundary string, batch []*benchpeer.Instance) int64 {
	var cw countWriter
	mw := multipart.NewWriter(&cw)
	if err := mw.SetBoundary(boundary); err != nil {
		panic(err) // a boundary multipart made itself
	}
	for _, in := range batch {
		mw.CreatePart(partHeader)
		cw += countWriter(len(in.Data))
	}
	mw.Close()
	return int64(cw)
}

type countWriter int64

func (w *countWriter) Write(p []byte) (int, error) {
	*w += countWriter(len(p))
	return len(p), nil
}

// dicomJSON is a dataset in the DICOM JSON model (PS3.18 F.2), values
// left to decode.
type dicomJSON map[string]struct {
	VR    string            `json:"vr"`
	Value []json.RawMessage `json:"Value"`
}

// Tags of the Store Instances Response Module (PS3.18 Table 10.5.3-3).
const (
	tagReferencedSOPInstanceUID = "00081155"
	tagFailedSOPSequence        = "00081198"
	tagReferencedSOPSequence    = "00081199"
)

// checkStowResponse fails unless the response is 200 and references every
// instance of batch, with none failed.
func checkStowResponse(resp *http.Response, body []byte, c *benchpeer.Corpus, batch []*benchpeer.Instance) error {
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s (Warning: %q): %.1000s", resp.Status, resp.Header.Values("Warning"), body)
	}
	var ds dicomJSON
	if err := json.Unmarshal(body, &ds); err != nil {
		return fmt.Errorf("response (%s): %v: %.1000s", resp.Header.Get("Content-Type"), err, body)
	}
	if n := len(ds[tagFailedSOPSequence].Value); n > 0 {
		return fmt.Errorf("%d instances failed: %.1000s", n, body)
	}
	stored := map[string]bool{}
	for _, raw := range ds[tagReferencedSOPSequence].Value {
		var item dicomJSON
		if err := json.Unmarshal(raw, &item); err != nil {
			return fmt.Errorf("ReferencedSOPSequence item: %v: %s", err, raw)
		}
		var uid string
		if v := item[tagReferencedSOPInstanceUID].Value; len(v) == 1 {
			json.Unmarshal(v[0], &uid)
		}
		stored[uid] = true
	}
	var missing []string
	for _, in := range batch {
		if uid := c.SOPUID(in); !stored[uid] {
			missing = append(missing, uid)
		}
	}
	if len(missing) > 0 || len(stored) != len(batch) {
		return fmt.Errorf("%d instances referenced, %d sent, not referenced: %s: %.1000s",
			len(stored), len(batch), strings.Join(missing, " "), body)
	}
	return nil
}
