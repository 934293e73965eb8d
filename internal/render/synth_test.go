package render

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"image/png"
	"maps"
	"slices"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// synthFrame writes a synthetic instance, parses it as the archive does
// and returns its Info and the bytes of its first frame.
func synthFrame(t *testing.T, spec synth.Spec) (Info, []byte) {
	t.Helper()
	b, err := synth.Bytes(spec)
	if err != nil {
		t.Fatal(err)
	}
	f, err := dcm.ParsePart10(bytes.NewReader(b), dcm.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := InfoFrom(f.Dataset, f.TransferSyntax)
	if err != nil {
		t.Fatal(err)
	}
	frames, err := dcm.Frames(f.Dataset)
	if err != nil || frames.Len() != 1 {
		t.Fatalf("frames: %v, %d of them", err, frames.Len())
	}
	var data []byte
	for _, seg := range frames.At(0) {
		data = append(data, b[seg.Offset:seg.Offset+seg.Length]...)
	}
	return info, data
}

// TestRenderSynthetic renders instances made by internal/synth end to end
// and checks the image against the generator's own stored values.
func TestRenderSynthetic(t *testing.T) {
	const rows, cols, bits, seed = 200, 300, 12, 7
	stored := synth.Pixels(rows, cols, bits, seed)
	value := func(i int) int { return int(binary.LittleEndian.Uint16(stored[2*i:])) }

	t.Run("range window", func(t *testing.T) {
		info, data := synthFrame(t, synth.Spec{Rows: rows, Columns: cols, BitsStored: bits, Seed: seed})
		var buf bytes.Buffer
		if err := Render(&buf, data, info, Options{Format: PNG}); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(&buf)
		if err != nil {
			t.Fatal(err)
		}
		g, ok := img.(*image.Gray)
		if !ok || g.Rect != image.Rect(0, 0, cols, rows) {
			t.Fatalf("rendered %T %v, want *image.Gray of %d×%d", img, img.Bounds(), cols, rows)
		}
		// The darkest stored value is black, the brightest white, and
		// brighter stored values are never darker.
		lo, hi := 0, 0
		for i := range rows * cols {
			if value(i) < value(lo) {
				lo = i
			}
			if value(i) > value(hi) {
				hi = i
			}
		}
		if g.Pix[lo] != 0 || g.Pix[hi] != 255 {
			t.Errorf("darkest pixel renders as %d, brightest as %d; want 0 and 255", g.Pix[lo], g.Pix[hi])
		}
		levels := make(map[int]uint8)
		for i := range rows * cols {
			levels[value(i)] = g.Pix[i]
		}
		keys := slices.Sorted(maps.Keys(levels))
		for i := 1; i < len(keys); i++ {
			if a, b := keys[i-1], keys[i]; levels[a] > levels[b] {
				t.Fatalf("stored %d renders as %d, brighter stored %d as %d", a, levels[a], b, levels[b])
			}
		}
	})

	t.Run("dataset window, MONOCHROME1", func(t *testing.T) {
		info, data := synthFrame(t, synth.Spec{
			Rows: rows, Columns: cols, BitsStored: bits, Seed: seed,
			Extra: map[dcm.Tag]synth.Value{
				dcm.PhotometricInterpretation: {VR: dcm.CS, Value: "MONOCHROME1"},
				tagWindowCenter:               {VR: dcm.DS, Value: "2048"},
				tagWindowWidth:                {VR: dcm.DS, Value: "1024"},
			},
		})
		if info.Photometric != Monochrome1 || info.Window != (Window{Center: 2048, Width: 1024}) {
			t.Fatalf("Info from the dataset: %+v", info)
		}
		var buf bytes.Buffer
		if err := Render(&buf, data, info, Options{Format: PNG}); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(&buf)
		if err != nil {
			t.Fatal(err)
		}
		g := img.(*image.Gray)
		// LINEAR c 2048 w 1024: 1536 and below are black, white above
		// 2559; MONOCHROME1 shows them the other way round.
		var below, above int
		for i := range rows * cols {
			switch v := value(i); {
			case v <= 1536:
				below++
				if g.Pix[i] != 255 {
					t.Fatalf("stored %d renders as %d, want 255", v, g.Pix[i])
				}
			case v > 2559:
				above++
				if g.Pix[i] != 0 {
					t.Fatalf("stored %d renders as %d, want 0", v, g.Pix[i])
				}
			}
		}
		if below == 0 || above == 0 {
			t.Errorf("the synthetic image has %d pixels below the window and %d above; the test needs both", below, above)
		}
	})

	t.Run("thumbnail", func(t *testing.T) {
		info, data := synthFrame(t, synth.Spec{Rows: rows, Columns: cols, BitsStored: bits, Seed: seed})
		var buf bytes.Buffer
		if err := Thumbnail(&buf, data, info, Options{}); err != nil {
			t.Fatal(err)
		}
		cfg, err := jpeg.DecodeConfig(&buf)
		if err != nil || cfg.Width != 128 || cfg.Height != 85 {
			t.Errorf("thumbnail is %d×%d (%v), want 128×85", cfg.Width, cfg.Height, err)
		}
	})
}
