package sc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"strings"
)

// pngSignature starts every PNG file.
const pngSignature = "\x89PNG\r\n\x1a\n"

// deflateMaxRatio bounds how many bytes one byte of zlib data inflates to:
// deflate's longest match costs just over a bit for 258 bytes, 1032:1.
// The margin covers the zlib framing of very small files.
const deflateMaxRatio = 1100

// pngHeader is a PNG's IHDR chunk.
type pngHeader struct {
	width, height int
	depth         int // bits per sample
	colourType    int // 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA
}

// parsePNGHeader reads the IHDR chunk, which PNG requires first, and
// checks that the file is long enough to hold the pixels it declares.
func parsePNGHeader(b []byte) (pngHeader, error) {
	var h pngHeader
	if len(b) < 8+8+13+4 {
		return h, fmt.Errorf("%w: PNG of %d bytes is too short for its header (truncated upload?)", ErrCorrupt, len(b))
	}
	chunk := b[8:]
	if binary.BigEndian.Uint32(chunk) != 13 || string(chunk[4:8]) != "IHDR" {
		return h, fmt.Errorf("%w: PNG does not start with an IHDR chunk", ErrCorrupt)
	}
	d := chunk[8:21]
	w, ht := binary.BigEndian.Uint32(d), binary.BigEndian.Uint32(d[4:])
	h.depth, h.colourType = int(d[8]), int(d[9])
	if w == 0 || ht == 0 || w > 1<<31-1 || ht > 1<<31-1 {
		return h, fmt.Errorf("%w: PNG declares %d×%d pixels", ErrCorrupt, w, ht)
	}
	h.width, h.height = int(w), int(ht)
	var channels int
	switch h.colourType {
	case 0, 3:
		channels = 1
	case 2:
		channels = 3
	case 4:
		channels = 2
	case 6:
		channels = 4
	default:
		return h, fmt.Errorf("%w: PNG colour type %d", ErrCorrupt, h.colourType)
	}
	if h.depth != 1 && h.depth != 2 && h.depth != 4 && h.depth != 8 && h.depth != 16 {
		return h, fmt.Errorf("%w: PNG bit depth %d", ErrCorrupt, h.depth)
	}
	if err := checkSize(h.width, h.height); err != nil {
		return h, err
	}
	// The scanlines, without their filter bytes, are a lower bound on
	// the inflated data whichever way the image is interlaced.
	raw := int64(h.height) * ((int64(h.width)*int64(h.depth*channels) + 7) / 8)
	if int64(len(b))*deflateMaxRatio < raw {
		return h, fmt.Errorf("%w: PNG of %d bytes cannot hold the %d×%d pixels it declares (a truncated file or a decompression bomb)",
			ErrCorrupt, len(b), h.width, h.height)
	}
	return h, nil
}

// decodePNG decodes a PNG whose header parsePNGHeader has checked.
func decodePNG(b []byte) (image.Image, error) {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		var unsupported png.UnsupportedError
		var format png.FormatError
		switch {
		case errors.As(err, &unsupported):
			return nil, fmt.Errorf("%w: PNG: %v", ErrUnsupported, err)
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF),
			// image/png reports data that ends early as format errors.
			errors.As(err, &format) && (strings.Contains(string(format), "EOF") || strings.Contains(string(format), "not enough pixel data")):
			return nil, fmt.Errorf("%w: PNG image data is truncated", ErrCorrupt)
		}
		return nil, fmt.Errorf("%w: PNG: %v", ErrCorrupt, err)
	}
	return img, nil
}
