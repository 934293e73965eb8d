package render

import (
	"image"
	"math"

	"golang.org/x/image/draw"
)

// fit returns the size of a w×h image fitted inside the viewport of o,
// keeping its aspect ratio: the largest scale at which it fits both bounds
// that are set, but never above 1 unless o.Upscale. Sides are at least 1.
func fit(w, h int, o Options) (int, int) {
	scale := math.Inf(1)
	if o.Width > 0 {
		scale = float64(o.Width) / float64(w)
	}
	if o.Height > 0 {
		scale = min(scale, float64(o.Height)/float64(h))
	}
	if math.IsInf(scale, 1) || scale > 1 && !o.Upscale || scale == 1 {
		return w, h
	}
	fw, fh := max(1, int(math.Round(float64(w)*scale))), max(1, int(math.Round(float64(h)*scale)))
	// Rounding must not overflow the bound that set the scale.
	if o.Width > 0 {
		fw = min(fw, o.Width)
	}
	if o.Height > 0 {
		fh = min(fh, o.Height)
	}
	return fw, fh
}

// Resizing to w×h from a larger image happens in two steps. First the
// image shrinks by whole factors, each output pixel the mean of a block of
// input pixels: an area filter, which keeps a radiograph's fine lines and
// noise from aliasing, costs one addition per input pixel and runs on all
// CPUs. What is left, a reduction by less than 2 or an enlargement, goes
// to an x/image/draw scaler.

// blockFactors returns the whole factors by which a w×h image shrinks on
// its way to tw×th: as large as possible without going below the target.
func blockFactors(w, h, tw, th int) (kx, ky int) {
	return max(1, w/tw), max(1, h/th)
}

// grayImage maps the w×h stored values through lut and averages kx×ky
// blocks, in one pass so that the full-size 8-bit image is never made.
func grayImage(values []uint16, w, h int, lut *[1 << 16]uint8, kx, ky int) *image.Gray {
	if kx == 1 && ky == 1 {
		g := image.NewGray(image.Rect(0, 0, w, h))
		parallel(len(values), pixelGrain, func(lo, hi int) {
			applyLUT(g.Pix[lo:hi], values[lo:hi], lut)
		})
		return g
	}
	g := image.NewGray(image.Rect(0, 0, (w+kx-1)/kx, (h+ky-1)/ky))
	blockMean(g.Pix, w, h, 1, kx, ky, func(sums []uint32, y int) {
		addLUTRow(sums, values[y*w:(y+1)*w], lut)
	})
	return g
}

// rgbaImage makes an opaque RGBA image of w×h RGB bytes, inverted if
// asked, and averages kx×ky blocks.
func rgbaImage(rgb []byte, w, h int, invert bool, kx, ky int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	var flip byte
	if invert {
		flip = 0xFF
	}
	parallel(w*h, pixelGrain, func(lo, hi int) {
		dst, src := m.Pix[4*lo:4*hi], rgb[3*lo:3*hi]
		for i := range hi - lo {
			dst[4*i] = src[3*i] ^ flip
			dst[4*i+1] = src[3*i+1] ^ flip
			dst[4*i+2] = src[3*i+2] ^ flip
			dst[4*i+3] = 0xFF
		}
	})
	if kx == 1 && ky == 1 {
		return m
	}
	out := image.NewRGBA(image.Rect(0, 0, (w+kx-1)/kx, (h+ky-1)/ky))
	blockMean(out.Pix, w, h, 4, kx, ky, func(sums []uint32, y int) {
		addRow(sums, m.Pix[y*m.Stride:y*m.Stride+4*w])
	})
	return out
}

// blockMean averages kx×ky blocks of a w×h image of ch channels into dst,
// rows packed: each output value is the rounded mean of its block. Blocks
// at the right and bottom edges may be smaller: every input pixel counts.
// addRow adds the channel values of input row y to sums (w×ch of them).
func blockMean(dst []byte, w, h, ch, kx, ky int, addRow func(sums []uint32, y int)) {
	oh := (h + ky - 1) / ky
	parallel(oh, max(1, pixelGrain/(w*ky)), func(lo, hi int) {
		// Column sums of a block's rows: at most 65535×255, so 32 bits.
		sums := make([]uint32, w*ch)
		for oy := lo; oy < hi; oy++ {
			y0, y1 := oy*ky, min(oy*ky+ky, h)
			clear(sums)
			for y := y0; y < y1; y++ {
				addRow(sums, y)
			}
			meanRow(dst[oy*((w+kx-1)/kx)*ch:], sums, w, ch, kx, y1-y0)
		}
	})
}

// meanRow writes the means of kx-wide blocks of column sums over rows
// input rows.
func meanRow(out []byte, sums []uint32, w, ch, kx, rows int) {
	ow := (w + kx - 1) / kx
	out = out[:ow*ch]
	// Multiplying by the reciprocal: a division per pixel took most of
	// the time. Only an edge block has another size.
	n, inv := 0, 0.0
	for ox := range ow {
		x0, x1 := ox*kx, min(ox*kx+kx, w)
		if m := (x1 - x0) * rows; m != n {
			n, inv = m, 1/float64(m)
		}
		if ch == 1 {
			out[ox] = mean(sums[x0:x1], inv)
			continue
		}
		block := sums[x0*ch : x1*ch]
		for c := range ch {
			var t int64
			for i := c; i < len(block); i += ch {
				t += int64(block[i])
			}
			out[ox*ch+c] = uint8(float64(t)*inv + 0.5)
		}
	}
}

// mean returns the rounded sum of s times inv. The sum can reach
// MaxPixels×255, so it takes 64 bits; signed, because converting int64
// to float64 is one instruction and uint64 several.
func mean(s []uint32, inv float64) uint8 {
	var t int64
	for _, v := range s {
		t += int64(v)
	}
	return uint8(float64(t)*inv + 0.5)
}

func addRow(sums []uint32, row []byte) {
	sums = sums[:len(row)]
	for i, v := range row {
		sums[i] += uint32(v)
	}
}

func addLUTRow(sums []uint32, row []uint16, lut *[1 << 16]uint8) {
	sums = sums[:len(row)]
	for i, v := range row {
		sums[i] += uint32(lut[v])
	}
}

// scale finishes resizing img (an *image.Gray or *image.RGBA) to w×h with
// scaler (draw.ApproxBiLinear if nil), keeping its type.
func scale(img image.Image, w, h int, scaler draw.Scaler) image.Image {
	b := img.Bounds()
	if b.Dx() == w && b.Dy() == h {
		return img
	}
	if scaler == nil {
		scaler = draw.ApproxBiLinear
	}
	// x/image/draw's fast paths write *image.RGBA; into an *image.Gray it
	// takes a generic path that allocates per pixel.
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	scaler.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	if _, ok := img.(*image.Gray); !ok {
		return dst
	}
	g := image.NewGray(dst.Bounds())
	for i := range g.Pix {
		g.Pix[i] = dst.Pix[4*i]
	}
	return g
}
