package render

import (
	"image"
	"slices"
	"testing"

	"golang.org/x/image/draw"
)

func TestBlockMean(t *testing.T) {
	// 5×3 grey through an identity table: 2×2 blocks, the last column
	// and row narrower.
	identity := new([1 << 16]uint8)
	for i := range identity {
		identity[i] = uint8(i)
	}
	values := []uint16{
		0, 10, 20, 30, 100,
		10, 20, 30, 41, 200,
		50, 60, 7, 8, 9,
	}
	got := grayImage(values, 5, 3, identity, 2, 2)
	want := []byte{
		10, 30, 150, // (0+10+10+20)/4, (20+30+30+41)/4 = 30.25, (100+200)/2
		55, 8, 9, // (50+60)/2, (7+8)/2 = 7.5 rounds up, 9
	}
	if got.Rect != image.Rect(0, 0, 3, 2) || !slices.Equal(got.Pix, want) {
		t.Errorf("grey blocks: %v %v, want 3×2 %v", got.Rect, got.Pix, want)
	}
	if full := grayImage(values, 5, 3, identity, 1, 1); !slices.Equal(full.Pix, []byte{
		0, 10, 20, 30, 100, 10, 20, 30, 41, 200, 50, 60, 7, 8, 9}) {
		t.Errorf("grey at full size: %v", full.Pix)
	}

	// RGBA keeps its channels apart.
	gotRGBA := rgbaImage([]byte{10, 100, 200, 20, 0, 100}, 2, 1, false, 2, 1)
	if want := []byte{15, 50, 150, 255}; !slices.Equal(gotRGBA.Pix, want) {
		t.Errorf("RGBA blocks: %v, want %v", gotRGBA.Pix, want)
	}
}

// recordingScaler is a draw.Scaler that notes the sizes it was asked for.
type recordingScaler struct{ src, dst image.Rectangle }

func (r *recordingScaler) Scale(dst draw.Image, dr image.Rectangle, src image.Image, sr image.Rectangle, op draw.Op, opts *draw.Options) {
	r.src, r.dst = sr, dr
	draw.NearestNeighbor.Scale(dst, dr, src, sr, op, opts)
}

// TestResizeSteps checks how the work is split between block averaging
// and the scaler.
func TestResizeSteps(t *testing.T) {
	const w, h = 3000, 1500
	f, err := Decode(make([]byte, w*h), mono(h, w, 8, 8))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		opts     Options
		scaled   image.Rectangle // what the scaler gets after averaging; empty if not called
		scaledTo image.Rectangle
	}{
		// A whole factor: averaging alone does it.
		{"to 1000×500", Options{Width: 1000}, image.Rectangle{}, image.Rectangle{}},
		// Averaged 2×2 to 1500×750, then scaled by 1.46.
		{"to 1024×512", Options{Width: 1024}, image.Rect(0, 0, 1500, 750), image.Rect(0, 0, 1024, 512)},
		// Enlarging is the scaler's alone.
		{"to 6000×3000", Options{Width: 6000, Upscale: true}, image.Rect(0, 0, w, h), image.Rect(0, 0, 6000, 3000)},
	} {
		rec := &recordingScaler{}
		tc.opts.Scaler = rec
		img, err := f.Render(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := img.(*image.Gray); !ok || img.Bounds().Dx() != tc.opts.Width {
			t.Errorf("%s: got %T %v", tc.name, img, img.Bounds())
		}
		if rec.src != tc.scaled || rec.dst != tc.scaledTo {
			t.Errorf("%s: scaler asked for %v to %v, want %v to %v", tc.name, rec.src, rec.dst, tc.scaled, tc.scaledTo)
		}
	}

	// The default scaler, on colour.
	m := image.NewRGBA(image.Rect(0, 0, 300, 200))
	if out := scale(m, 128, 85, nil); out.Bounds() != image.Rect(0, 0, 128, 85) {
		t.Errorf("colour scaled to 128×85 gave %v", out.Bounds())
	} else if _, ok := out.(*image.RGBA); !ok {
		t.Errorf("colour scaled gave %T, want *image.RGBA", out)
	}
}

// TestDownscaleAveragesNoise checks that shrinking filters rather than
// samples: averaging k×k pixels of independent noise leaves 1/k of it,
// sampling leaves all of it (see noiseLeft).
func TestDownscaleAveragesNoise(t *testing.T) {
	const w, h = 600, 300
	src := noisy(w, h)
	f := &Frame{Info: mono(h, w, 8, 8), Gray: make([]uint16, w*h)}
	for i, v := range src.Pix {
		f.Gray[i] = uint16(v)
	}
	for _, tc := range []struct {
		width int
		most  float64
	}{
		{200, 0.34}, // 3×3 blocks: a third
		{150, 0.26}, // 4×4 blocks: a quarter
		{190, 0.34}, // 3×3 blocks, then 1.05× with ApproxBiLinear
		{140, 0.26}, // 4×4 blocks, then 1.07×
	} {
		img, err := f.Render(Options{Width: tc.width, Window: Window{Center: 128, Width: 256}})
		if err != nil {
			t.Fatal(err)
		}
		if got := noiseLeft(img, src); got > tc.most {
			t.Errorf("shrunk to %d wide, %.3f of the noise is left, want at most %.2f", tc.width, got, tc.most)
		}
	}
}
