package render

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
)

// jpegPixelsPerByte bounds how many pixels a byte of baseline JPEG can
// hold: a flat 8×8 block takes at least a 1-bit DC code and a 1-bit
// end-of-block, 256 pixels a byte, and chroma subsampling makes it about
// 170. Four times that margin still refuses a header that claims a huge
// image over a few bytes, which image/jpeg would allocate in full before
// finding the data missing.
const jpegPixelsPerByte = 1024

// decodeJPEG decodes an 8-bit JPEG frame (baseline, or extended with 8-bit
// samples) with image/jpeg, which also converts colour to RGB as JFIF and
// Adobe markers direct: DICOM's YBR_FULL_422 and RGB JPEG frames alike.
func decodeJPEG(data []byte, in Info) (*Frame, error) {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, jpegError(err)
	}
	if cfg.Width != in.Columns || cfg.Height != in.Rows {
		return nil, fmt.Errorf("%w: JPEG frame is %d×%d, the dataset says %d×%d", ErrInvalid, cfg.Width, cfg.Height, in.Columns, in.Rows)
	}
	if int64(len(data))*jpegPixelsPerByte < int64(in.pixels()) {
		return nil, fmt.Errorf("%w: JPEG frame of %d bytes cannot hold %d×%d pixels", ErrInvalid, len(data), in.Columns, in.Rows)
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, jpegError(err)
	}
	if img.Bounds() != image.Rect(0, 0, in.Columns, in.Rows) {
		return nil, fmt.Errorf("%w: JPEG frame decodes to %v, its header says %d×%d", ErrInvalid, img.Bounds(), in.Columns, in.Rows)
	}
	mono := in.Photometric.IsMonochrome()
	switch m := img.(type) {
	case *image.Gray:
		if !mono {
			return nil, fmt.Errorf("%w: greyscale JPEG frame in a %s image", ErrInvalid, in.Photometric)
		}
		out := make([]uint16, in.pixels())
		for y := range in.Rows {
			row := m.Pix[y*m.Stride : y*m.Stride+in.Columns]
			o := out[y*in.Columns:]
			for x, v := range row {
				o[x] = uint16(v)
			}
		}
		// JPEG samples are 8 bits, whatever Bits Stored claims; signed
		// images keep their two's complement bit patterns (PS3.5 8.2.1).
		in.BitsAllocated, in.BitsStored, in.HighBit = 8, 8, 7
		return &Frame{Info: in, Gray: out}, nil
	case *image.YCbCr, *image.RGBA:
		if mono {
			return nil, fmt.Errorf("%w: colour JPEG frame in a %s image", ErrInvalid, in.Photometric)
		}
		return &Frame{Info: asRGB(in), RGB: rgbOf(img, in.Columns, in.Rows)}, nil
	default:
		return nil, fmt.Errorf("%w: JPEG frame in colour model %T", ErrUnsupported, img)
	}
}

// rgbOf copies a decoded colour JPEG into 8-bit RGB bytes.
func rgbOf(img image.Image, w, h int) []byte {
	out := make([]byte, 0, 3*w*h)
	switch m := img.(type) {
	case *image.YCbCr:
		for y := range h {
			for x := range w {
				yi, ci := m.YOffset(x, y), m.COffset(x, y)
				r, g, b := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				out = append(out, r, g, b)
			}
		}
	case *image.RGBA:
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < len(row); x += 4 {
				out = append(out, row[x], row[x+1], row[x+2])
			}
		}
	}
	return out
}

// jpegError classifies image/jpeg's errors: features it lacks (12-bit
// samples, lossless, arithmetic coding) are ErrUnsupported, anything else
// a corrupt frame.
func jpegError(err error) error {
	var unsupported jpeg.UnsupportedError
	switch {
	case errors.As(err, &unsupported):
		return fmt.Errorf("%w: JPEG: %v", ErrUnsupported, err)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fmt.Errorf("%w: JPEG frame is truncated", ErrInvalid)
	}
	return fmt.Errorf("%w: JPEG: %v", ErrInvalid, err)
}
