package render

import (
	"fmt"
	"math"
	"sync"
)

// lut builds the table that maps a stored value (Gray's values index it
// directly) to its displayed grey: modality rescale, VOI function,
// polarity. A full 2^16 table lets the per-pixel loop index it with a
// uint16 without bounds checks; entries past 2^BitsStored repeat the
// table, as if masked.
func (f *Frame) lut(opts Options) (*[1 << 16]uint8, error) {
	in := f.Info
	fn := opts.Function
	if fn == "" {
		fn = in.VOIFunction
	}
	if fn == "" {
		fn = Linear
	}
	win := opts.Window
	switch {
	case !win.IsZero():
		if !win.usableWith(fn) {
			return nil, fmt.Errorf("%w: window center %g width %g for %s", ErrBadOptions, win.Center, win.Width, fn)
		}
	case in.Window.usableWith(fn):
		win = in.Window
	default:
		win = f.rangeWindow(fn)
	}
	invert := (in.Photometric == Monochrome1) != opts.Invert

	lut := new([1 << 16]uint8)
	n := 1 << in.BitsStored
	for i := range n {
		x := float64(storedValue(uint16(i), in.BitsStored, in.signed()))*in.RescaleSlope + in.RescaleIntercept
		v := uint8(math.Round(max(0, min(255, voi(fn, win, x)))))
		if invert {
			v = 255 - v
		}
		lut[i] = v
	}
	for i := n; i < len(lut); i++ {
		lut[i] = lut[i&(n-1)]
	}
	return lut, nil
}

// storedValue interprets the low bits of v as a stored value: two's
// complement when signed.
func storedValue(v uint16, bits int, signed bool) int32 {
	if !signed {
		return int32(v)
	}
	shift := 16 - bits
	return int32(int16(v<<shift)) >> shift
}

// voi applies the VOI LUT function fn with window w to the modality value
// x, giving a display value from 0 to 255 (PS3.3 C.11.2.1.2).
func voi(fn VOIFunction, w Window, x float64) float64 {
	const ymax = 255
	switch fn {
	case LinearExact:
		switch {
		case x <= w.Center-w.Width/2:
			return 0
		case x > w.Center+w.Width/2:
			return ymax
		}
		return ((x-w.Center)/w.Width + 0.5) * ymax
	case Sigmoid:
		return ymax / (1 + math.Exp(-4*(x-w.Center)/w.Width))
	default:
		switch {
		case x <= w.Center-0.5-(w.Width-1)/2:
			return 0
		case x > w.Center-0.5+(w.Width-1)/2:
			return ymax
		}
		return ((x-(w.Center-0.5))/(w.Width-1) + 0.5) * ymax
	}
}

// rangeWindow returns the window that spans the frame's modality values:
// for LINEAR, the minimum maps to 0 and the maximum to 255.
func (f *Frame) rangeWindow(fn VOIFunction) Window {
	in := f.Info
	lo, hi := storedRange(f.Gray, in.BitsStored, in.signed())
	a := float64(lo)*in.RescaleSlope + in.RescaleIntercept
	b := float64(hi)*in.RescaleSlope + in.RescaleIntercept
	a, b = min(a, b), max(a, b)
	if fn == Linear {
		// Inverting C.11.2.1.2's thresholds: x ≤ a gives 0, x > b - 1
		// begins the top step, and b itself gives 255.
		return Window{Center: (a + b + 1) / 2, Width: b - a + 1}
	}
	return Window{Center: (a + b) / 2, Width: max(b-a, 1)}
}

// storedRange returns the least and greatest stored values of gray.
func storedRange(gray []uint16, bits int, signed bool) (lo, hi int32) {
	var mu sync.Mutex
	lo, hi = math.MaxInt32, math.MinInt32
	parallel(len(gray), pixelGrain, func(a, b int) {
		l, h := rangeOf(gray[a:b], bits, signed)
		mu.Lock()
		lo, hi = min(lo, l), max(hi, h)
		mu.Unlock()
	})
	return lo, hi
}

// rangeOf is storedRange's loop (see unpack8 for why loops are not left
// in closures).
func rangeOf(gray []uint16, bits int, signed bool) (lo, hi int32) {
	if signed {
		lo, hi = math.MaxInt32, math.MinInt32
		for _, v := range gray {
			x := storedValue(v, bits, true)
			lo, hi = min(lo, x), max(hi, x)
		}
		return lo, hi
	}
	// Two pairs of running extremes, so that each comparison need not
	// wait for the one before.
	l0, h0, l1, h1 := uint16(math.MaxUint16), uint16(0), uint16(math.MaxUint16), uint16(0)
	for len(gray) >= 2 {
		l0, h0 = min(l0, gray[0]), max(h0, gray[0])
		l1, h1 = min(l1, gray[1]), max(h1, gray[1])
		gray = gray[2:]
	}
	for _, v := range gray {
		l0, h0 = min(l0, v), max(h0, v)
	}
	return int32(min(l0, l1)), int32(max(h0, h1))
}

// applyLUT maps src through lut into dst.
func applyLUT(dst []uint8, src []uint16, lut *[1 << 16]uint8) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = lut[v]
	}
}
