package sc

import (
	"bytes"
	"errors"
	"runtime"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
)

// FuzzWrap: no upload makes Wrap panic, every error wraps one of the
// package's sentinels, and whatever it accepts our parser reads back.
func FuzzWrap(f *testing.F) {
	for _, c := range imageCases(f) {
		f.Add(c.data)
	}
	for _, name := range []string{"arithmetic.jpg", "baseline-rgb.jpg"} {
		f.Add(fixture(f, name))
	}
	f.Add(encodePNG(f, alphaImage(5, 3)))
	f.Add(pngBomb(f, 300, 300))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xD9})
	f.Add([]byte(pngSignature))
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		res, err := Wrap(&out, bytes.NewReader(data), "", request())
		if err != nil {
			for _, sentinel := range []error{ErrNotImage, ErrCorrupt, ErrUnsupported, ErrTooLarge} {
				if errors.Is(err, sentinel) {
					return
				}
			}
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		f, err := dcm.ParsePart10(bytes.NewReader(out.Bytes()), dcm.ParseOptions{})
		if err != nil {
			t.Fatalf("our parser refuses what Wrap wrote: %v", err)
		}
		if rows, _ := f.Dataset.Int(dcm.Rows); rows != res.Rows || res.Size != int64(out.Len()) {
			t.Fatalf("Rows %d, Result %+v, wrote %d bytes", rows, res, out.Len())
		}
	})
}

// TestBombsDoNotAllocate: uploads declaring far more pixels than they
// hold are refused before the pixels are allocated.
func TestBombsDoNotAllocate(t *testing.T) {
	jpg := encodeJPEG(t, colourImage(41, 31))
	for name, data := range map[string][]byte{
		"png 9000×9000":   pngBomb(t, 9000, 9000),
		"png 65535×65535": pngBomb(t, 65535, 65535),
		"jpeg 9000×9000":  jpegBomb(jpg, 9000, 9000),
		"jpeg 65535×1500": jpegBomb(jpg, 65535, 1500),
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := Wrap(&bytes.Buffer{}, bytes.NewReader(data), "", request())
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("accepted")
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
				t.Errorf("allocated %d bytes before refusing: %v", n, err)
			}
			t.Log(err)
		})
	}
}
