package dicomweb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// TestStowStreams sends a 256 MiB instance by STOW-RS and checks the
// server's heap never grew by more than a small fraction of it: the body
// goes from the socket to the blob as it arrives.
func TestStowStreams(t *testing.T) {
	const side = 11585 // 11585² 16-bit samples ≈ 256 MiB
	ts := startService(t, Options{})
	header := hugeHeader(t, side)
	pixels := int64(side) * side * 2
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/dicom"}})
		if err == nil {
			_, err = io.Copy(part, io.MultiReader(bytes.NewReader(header), io.LimitReader(noise{}, pixels)))
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()

	// Collect often, so the heap follows what is live rather than how
	// much garbage the copy loops leave between collections.
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	runtime.GC()
	base := heapBytes()
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if h := heapBytes(); h > peak.Load() {
					peak.Store(h)
				}
			}
		}
	}()
	resp, out := ts.post(t, "/dicom-web/studies", `multipart/related; type="application/dicom"; boundary=`+mw.Boundary(), pr)
	close(stop)
	<-sampled
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	grew := int64(peak.Load()) - int64(base)
	t.Logf("heap rose by %.1f MiB for a %d MiB instance", float64(grew)/(1<<20), pixels>>20)
	if grew > 32<<20 {
		t.Errorf("heap rose by %d MiB while storing a %d MiB instance: the upload is being held in memory", grew>>20, pixels>>20)
	}
}

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// hugeHeader is synth's Part 10 header for a side x side 16-bit image,
// ending with the Pixel Data element's header: the samples follow.
func hugeHeader(t testing.TB, side int) []byte {
	t.Helper()
	small, err := synth.Bytes(synth.Spec{Rows: 1, Columns: 1, Modality: "PX", SOPClassUID: synth.DXForPresentation,
		StudyUID: dcm.NewUID(), SeriesUID: dcm.NewUID(), SOPInstanceUID: dcm.NewUID()})
	if err != nil {
		t.Fatal(err)
	}
	header := small[:len(small)-2] // Pixel Data is last; drop its 2-byte value
	binary.LittleEndian.PutUint32(header[len(header)-4:], uint32(side*side*2))
	for _, tag := range []dcm.Tag{dcm.Rows, dcm.Columns} {
		el := binary.LittleEndian.AppendUint16(nil, tag.Group())
		el = binary.LittleEndian.AppendUint16(el, tag.Element())
		el = append(el, 'U', 'S', 2, 0)
		i := bytes.Index(header, append(el, 1, 0))
		if i < 0 {
			t.Fatalf("no %s in the synthetic header", fmt.Sprint(tag))
		}
		binary.LittleEndian.PutUint16(header[i+len(el):], uint16(side))
	}
	return header
}

// noise is an endless reader of cheap pseudo-random bytes.
type noise struct{}

func (noise) Read(b []byte) (int, error) {
	x := uint64(0x9E3779B97F4A7C15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return len(b), nil
}
