package render

import (
	"fmt"
	"image"
	"io"
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/image/draw"

	"github.com/molar-pacs/molar/internal/synth"
)

// BenchmarkRenderOPG renders a 3000×1500 16-bit panoramic (MONOCHROME2)
// to a 1000-pixel-wide JPEG: decode, window, shrink, encode. The target is
// 60 ms on the 2-core development machine. The dataset has no window, so
// each run also finds the frame's range, the slowest case. Width 1024 adds
// the fractional step after the block averaging (see Options.Scaler).
func BenchmarkRenderOPG(b *testing.B) {
	const rows, cols = 1500, 3000
	for _, bits := range []int{12, 16} {
		data := synth.Pixels(rows, cols, bits, 1)
		info := mono(rows, cols, 16, bits)
		for _, width := range []int{1000, 1024} {
			b.Run(fmt.Sprintf("bits=%d/width=%d", bits, width), func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					if err := Render(io.Discard, data, info, Options{Width: width}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
			})
		}
	}
}

// noisy returns a w×h image of uniform random grey levels: the pixel
// noise of a radiograph at its worst.
func noisy(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range g.Pix {
		g.Pix[i] = uint8(r.IntN(256))
	}
	return g
}

// noiseLeft returns the standard deviation of img's grey (or red) levels
// relative to src's. Averaging k×k blocks of independent noise leaves 1/k
// of it; a filter that leaves more folds fine detail into coarse
// patterns (aliasing), which on a radiograph reads as texture that is not
// there.
func noiseLeft(img image.Image, src *image.Gray) float64 {
	var levels []uint8
	switch m := img.(type) {
	case *image.Gray:
		levels = m.Pix
	case *image.RGBA:
		for i := 0; i < len(m.Pix); i += 4 {
			levels = append(levels, m.Pix[i])
		}
	}
	return stddev(levels) / stddev(src.Pix)
}

func stddev(v []uint8) float64 {
	var sum, sq float64
	for _, x := range v {
		sum += float64(x)
		sq += float64(x) * float64(x)
	}
	n := float64(len(v))
	return math.Sqrt(sq/n - (sum/n)*(sum/n))
}

// BenchmarkDownscale compares ways to shrink a 3000×1500 panoramic's 8-bit
// image, reporting time and the noise each leaves (see noiseLeft; 0.33 is
// a perfect 3×3 average). x/image/draw's CatmullRom is a proper
// downscaling filter but slow (it keeps a float64 RGBA copy of every
// source row); ApproxBiLinear is fast but blends only 2×2 neighbours, so
// at 3× it passes much of the noise. Averaging whole blocks first and
// leaving the rest (less than 2×) to ApproxBiLinear is what Render does.
func BenchmarkDownscale(b *testing.B) {
	const w, h = 3000, 1500
	src := noisy(w, h)
	values := make([]uint16, w*h)
	for i, v := range src.Pix {
		values[i] = uint16(v)
	}
	identity := new([1 << 16]uint8)
	for i := range identity {
		identity[i] = uint8(i)
	}
	drawTo := func(s draw.Scaler) func(tw, th int) image.Image {
		return func(tw, th int) image.Image {
			dst := image.NewRGBA(image.Rect(0, 0, tw, th))
			s.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
			return dst
		}
	}
	blocksThen := func(s draw.Scaler) func(tw, th int) image.Image {
		return func(tw, th int) image.Image {
			kx, ky := blockFactors(w, h, tw, th)
			return scale(grayImage(values, w, h, identity, kx, ky), tw, th, s)
		}
	}
	for _, tw := range []int{1000, 1024} {
		for _, m := range []struct {
			name   string
			resize func(tw, th int) image.Image
		}{
			{"CatmullRom", drawTo(draw.CatmullRom)},
			{"ApproxBiLinear", drawTo(draw.ApproxBiLinear)},
			{"blocks+CatmullRom", blocksThen(draw.CatmullRom)},
			{"blocks+ApproxBiLinear", blocksThen(draw.ApproxBiLinear)},
		} {
			b.Run(fmt.Sprintf("to%d/%s", tw, m.name), func(b *testing.B) {
				var out image.Image
				for b.Loop() {
					out = m.resize(tw, tw/2)
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
				b.ReportMetric(noiseLeft(out, src), "noise-left")
			})
		}
	}
}
