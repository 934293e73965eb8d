package render

import (
	"encoding/binary"
	"fmt"
	"image/color"
)

// decodeNative decodes uncompressed pixel data (PS3.5 8.1): samples of
// BitsAllocated bits in the transfer syntax's byte order, each holding
// BitsStored bits whose top is HighBit.
//
// 8-bit samples are read byte by byte, as OB holds them. Explicit VR big
// endian pixel data of 8-bit samples encoded as OW has each pair of bytes
// swapped, which this does not undo: Info does not carry the VR, and that
// syntax is retired and rare.
func decodeNative(data []byte, in Info) (*Frame, error) {
	bytesPerSample := in.BitsAllocated / 8
	stored := in.SamplesPerPixel
	if in.Photometric == YBRFull422 {
		// Each horizontal pair of pixels is Y Y Cb Cr: two samples a pixel.
		if in.Columns%2 != 0 || in.PlanarConfiguration != 0 {
			return nil, fmt.Errorf("%w: %s with %d columns and planar configuration %d", ErrInvalid, in.Photometric, in.Columns, in.PlanarConfiguration)
		}
		stored = 2
	}
	n := in.pixels() * stored
	if need := n * bytesPerSample; len(data) < need {
		return nil, fmt.Errorf("%w: frame has %d bytes, %d×%d pixels of %d samples of %d bits need %d",
			ErrInvalid, len(data), in.Columns, in.Rows, stored, in.BitsAllocated, need)
	}
	samples := make([]uint16, n)
	unpack(samples, data, bytesPerSample, in.TransferSyntax.BigEndian, uint(in.HighBit+1-in.BitsStored), uint16(1<<in.BitsStored-1))
	if in.Photometric.IsMonochrome() {
		return &Frame{Info: in, Gray: samples}, nil
	}
	return &Frame{Info: asRGB(in), RGB: toRGB(samples, in)}, nil
}

// unpack reads len(dst) samples of bytesPerSample bytes from src, keeping
// the stored bits: shifted down by shift and masked with mask.
func unpack(dst []uint16, src []byte, bytesPerSample int, bigEndian bool, shift uint, mask uint16) {
	parallel(len(dst), pixelGrain, func(lo, hi int) {
		switch {
		case bytesPerSample == 1:
			unpack8(dst[lo:hi], src[lo:hi], shift, mask)
		case bigEndian:
			unpack16BE(dst[lo:hi], src[2*lo:2*hi], shift, mask)
		default:
			unpack16LE(dst[lo:hi], src[2*lo:2*hi], shift, mask)
		}
	})
}

// The loops are functions of their own, not part of unpack's closure: a
// closure's captured variables are reloaded on every iteration, which
// made the loop three times slower.

func unpack8(dst []uint16, src []byte, shift uint, mask uint16) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = uint16(v>>shift) & mask
	}
}

// unpack16LE reads four samples a load: one at a time, bounds checks
// cost as much again.
func unpack16LE(dst []uint16, src []byte, shift uint, mask uint16) {
	for len(dst) >= 4 && len(src) >= 8 {
		v := binary.LittleEndian.Uint64(src)
		dst[0] = uint16(v) >> shift & mask
		dst[1] = uint16(v>>16) >> shift & mask
		dst[2] = uint16(v>>32) >> shift & mask
		dst[3] = uint16(v>>48) >> shift & mask
		dst, src = dst[4:], src[8:]
	}
	for i := range dst {
		dst[i] = binary.LittleEndian.Uint16(src[2*i:]) >> shift & mask
	}
}

func unpack16BE(dst []uint16, src []byte, shift uint, mask uint16) {
	for len(dst) >= 4 && len(src) >= 8 {
		v := binary.BigEndian.Uint64(src)
		dst[0] = uint16(v>>48) >> shift & mask
		dst[1] = uint16(v>>32) >> shift & mask
		dst[2] = uint16(v>>16) >> shift & mask
		dst[3] = uint16(v) >> shift & mask
		dst, src = dst[4:], src[8:]
	}
	for i := range dst {
		dst[i] = binary.BigEndian.Uint16(src[2*i:]) >> shift & mask
	}
}

// asRGB returns in describing the 8-bit colour-by-pixel RGB toRGB makes.
func asRGB(in Info) Info {
	in.Photometric = RGB
	in.SamplesPerPixel = 3
	in.BitsAllocated, in.BitsStored, in.HighBit = 8, 8, 7
	in.PlanarConfiguration = 0
	return in
}

// toRGB turns colour samples (from unpack) into 8-bit RGB, colour by pixel.
// Colour images skip the modality and VOI transformations (PS3.4 N.2 applies
// them to greyscale only); samples of more than 8 bits keep their top 8.
func toRGB(s []uint16, in Info) []byte {
	n := in.pixels()
	to8 := func(v uint16) uint8 {
		if in.BitsStored >= 8 {
			return uint8(v >> (in.BitsStored - 8))
		}
		return uint8(v << (8 - in.BitsStored))
	}
	// sample returns sample c (0, 1, 2) of pixel p.
	sample := func(p, c int) uint8 { return to8(s[3*p+c]) }
	if in.PlanarConfiguration == 1 {
		sample = func(p, c int) uint8 { return to8(s[c*n+p]) }
	}
	out := make([]byte, 3*n)
	parallel(n, pixelGrain, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			o := out[3*p : 3*p+3]
			switch in.Photometric {
			case RGB:
				o[0], o[1], o[2] = sample(p, 0), sample(p, 1), sample(p, 2)
			case YBRFull:
				// The full-range conversion of PS3.3 C.7.6.3.1.2 is JFIF's,
				// which color.YCbCrToRGB implements.
				o[0], o[1], o[2] = color.YCbCrToRGB(sample(p, 0), sample(p, 1), sample(p, 2))
			case YBRFull422:
				pair := 4 * (p / 2)
				y := to8(s[pair+p%2])
				o[0], o[1], o[2] = color.YCbCrToRGB(y, to8(s[pair+2]), to8(s[pair+3]))
			}
		}
	})
	return out
}
