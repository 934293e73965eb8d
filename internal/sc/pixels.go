package sc

import (
	"encoding/binary"
	"image"
	"image/color"
)

// native is a decoded image as DICOM native pixel data: samples interleaved
// by pixel (Planar Configuration 0), 16-bit samples little endian.
type native struct {
	data        []byte
	samples     int // 1 or 3
	bits        int // 8 or 16, allocated and stored
	photometric string
}

// toNative converts img to native pixel data. Greyscale images, and colour
// images whose every pixel has equal red, green and blue, become
// MONOCHROME2; the rest RGB. Images of 16-bit samples keep 16 bits.
// Colours are alpha-premultiplied, which is compositing over black.
func toNative(img image.Image) native {
	switch m := img.(type) {
	case *image.Gray:
		return native{data: grayBytes(m), samples: 1, bits: 8, photometric: "MONOCHROME2"}
	case *image.Gray16:
		return native{data: gray16Bytes(m), samples: 1, bits: 16, photometric: "MONOCHROME2"}
	}
	var n native
	if deep(img) {
		n = native{data: rgb16Bytes(img), samples: 3, bits: 16, photometric: "RGB"}
	} else {
		n = native{data: rgb8Bytes(img), samples: 3, bits: 8, photometric: "RGB"}
	}
	if grey, ok := toGrey(n.data, n.bits/8); ok {
		n.data, n.samples, n.photometric = grey, 1, "MONOCHROME2"
	}
	return n
}

// deep reports whether img has more than 8 bits a sample.
func deep(img image.Image) bool {
	switch img.(type) {
	case *image.RGBA64, *image.NRGBA64, *image.Gray16, *image.Alpha16:
		return true
	case *image.Paletted:
		return false
	}
	// PNG's 16-bit images come as the types above; be generous with others.
	switch img.ColorModel() {
	case color.RGBA64Model, color.NRGBA64Model, color.Gray16Model, color.Alpha16Model:
		return true
	}
	return false
}

func grayBytes(m *image.Gray) []byte {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	out := make([]byte, 0, w*h)
	for y := range h {
		o := m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y+y)
		out = append(out, m.Pix[o:o+w]...)
	}
	return out
}

func gray16Bytes(m *image.Gray16) []byte {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	out := make([]byte, 0, 2*w*h)
	for y := range h {
		o := m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y+y)
		row := m.Pix[o : o+2*w]
		for x := 0; x < len(row); x += 2 {
			out = append(out, row[x+1], row[x]) // big endian in Go, little in DICOM
		}
	}
	return out
}

// rgb8Bytes returns img as 8-bit RGB, premultiplied by alpha: each sample
// is the top byte of what color.Color.RGBA returns, with fast paths for the
// types image/jpeg and image/png return.
func rgb8Bytes(img image.Image) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := make([]byte, 0, 3*w*h)
	switch m := img.(type) {
	case *image.RGBA: // already premultiplied
		for y := b.Min.Y; y < b.Max.Y; y++ {
			o := m.PixOffset(b.Min.X, y)
			row := m.Pix[o : o+4*w]
			for x := 0; x < len(row); x += 4 {
				out = append(out, row[x], row[x+1], row[x+2])
			}
		}
	case *image.NRGBA:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			o := m.PixOffset(b.Min.X, y)
			row := m.Pix[o : o+4*w]
			for x := 0; x < len(row); x += 4 {
				a := row[x+3]
				if a == 0xFF {
					out = append(out, row[x], row[x+1], row[x+2])
				} else {
					out = append(out, premultiply8(row[x], a), premultiply8(row[x+1], a), premultiply8(row[x+2], a))
				}
			}
		}
	case *image.YCbCr:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl := color.YCbCrToRGB(m.Y[m.YOffset(x, y)], m.Cb[m.COffset(x, y)], m.Cr[m.COffset(x, y)])
				out = append(out, r, g, bl)
			}
		}
	case *image.Paletted:
		rgb := make([][3]byte, len(m.Palette))
		for i, c := range m.Palette {
			r, g, bl, _ := c.RGBA()
			rgb[i] = [3]byte{byte(r >> 8), byte(g >> 8), byte(bl >> 8)}
		}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			o := m.PixOffset(b.Min.X, y)
			for _, p := range m.Pix[o : o+w] {
				if int(p) < len(rgb) {
					out = append(out, rgb[p][:]...)
				} else {
					out = append(out, 0, 0, 0) // as color.Palette's At: opaque black
				}
			}
		}
	default: // CMYK from Adobe JPEGs, and anything else
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				out = append(out, byte(r>>8), byte(g>>8), byte(bl>>8))
			}
		}
	}
	return out
}

// premultiply8 is the top byte of what color.NRGBA.RGBA returns.
func premultiply8(c, a uint8) uint8 {
	v := uint32(c) * 0x101 * (uint32(a) * 0x101) / 0xFFFF
	return uint8(v >> 8)
}

// rgb16Bytes returns img as 16-bit little endian RGB, premultiplied by
// alpha, as color.Color.RGBA returns it.
func rgb16Bytes(img image.Image) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := make([]byte, 0, 6*w*h)
	put := func(r, g, bl uint32) {
		out = binary.LittleEndian.AppendUint16(out, uint16(r))
		out = binary.LittleEndian.AppendUint16(out, uint16(g))
		out = binary.LittleEndian.AppendUint16(out, uint16(bl))
	}
	switch m := img.(type) {
	case *image.RGBA64:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := m.RGBA64At(x, y)
				put(uint32(c.R), uint32(c.G), uint32(c.B))
			}
		}
	case *image.NRGBA64:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := m.RGBA64At(x, y) // premultiplies
				put(uint32(c.R), uint32(c.G), uint32(c.B))
			}
		}
	default:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				put(r, g, bl)
			}
		}
	}
	return out
}

// toGrey returns the first sample of each pixel when every pixel of rgb
// (three samples of size bytes each) has three equal samples. It reuses
// rgb's memory.
func toGrey(rgb []byte, size int) ([]byte, bool) {
	px := 3 * size
	for i := 0; i+px <= len(rgb); i += px {
		for k := range size {
			if rgb[i+k] != rgb[i+size+k] || rgb[i+k] != rgb[i+2*size+k] {
				return nil, false
			}
		}
	}
	out := rgb[:0]
	for i := 0; i+px <= len(rgb); i += px {
		out = append(out, rgb[i:i+size]...)
	}
	return out, true
}
