package sc

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
)

// jpegPixelsPerByte bounds how many pixels one byte of a JPEG can hold.
// Every 8×8 block costs at least a one-bit DC code, in sequential and
// progressive files alike: 512 pixels a byte for greyscale, fewer with
// colour. A header that claims more pixels than 1024 times its file's
// length describes data that is not there, and is refused before
// image/jpeg allocates the whole image for it. render uses the same bound.
const jpegPixelsPerByte = 1024

// jpegComponent is one component of a JPEG frame header.
type jpegComponent struct {
	id   byte
	h, v int // sampling factors
}

// jpegInfo is what the marker walk learns about a JPEG file.
type jpegInfo struct {
	sof           byte // the frame header's marker, 0xC0 to 0xCF
	precision     int  // bits per sample
	width, height int
	comps         []jpegComponent
	jfif          bool // an APP0 "JFIF" segment
	adobe         bool // an APP14 "Adobe" segment
	adobeXform    byte // its colour transform: 0 none (RGB, CMYK), 1 YCbCr, 2 YCCK
	end           int  // offset just past the EOI marker
}

// sofNames names the frame types, for error messages.
var sofNames = map[byte]string{
	0xC0: "baseline", 0xC1: "extended sequential", 0xC2: "progressive", 0xC3: "lossless",
	0xC5: "differential sequential", 0xC6: "differential progressive", 0xC7: "differential lossless",
	0xC9: "arithmetic extended sequential", 0xCA: "arithmetic progressive", 0xCB: "arithmetic lossless",
	0xCD: "arithmetic differential sequential", 0xCE: "arithmetic differential progressive",
	0xCF: "arithmetic differential lossless",
}

// parseJPEG walks the markers of a JPEG interchange file (ITU T.81 Annex B)
// from SOI to EOI: it finds the frame header, notes JFIF and Adobe
// segments, and steps over every scan's entropy-coded data, so a file cut
// short anywhere is reported as truncated. It does not decode.
func parseJPEG(b []byte) (jpegInfo, error) {
	var info jpegInfo
	if len(b) < 2 || b[0] != 0xFF || b[1] != 0xD8 {
		return info, fmt.Errorf("%w: JPEG does not start with an SOI marker", ErrNotImage)
	}
	sawSOF, sawSOS := false, false
	i := 2
	for {
		if i >= len(b) {
			return info, fmt.Errorf("%w: JPEG ends after %d bytes without an EOI marker (truncated upload?)", ErrCorrupt, len(b))
		}
		if b[i] != 0xFF {
			return info, fmt.Errorf("%w: JPEG has byte 0x%02X where a marker should be, at offset %d", ErrCorrupt, b[i], i)
		}
		for i < len(b) && b[i] == 0xFF { // fill bytes may precede a marker
			i++
		}
		if i >= len(b) {
			return info, fmt.Errorf("%w: JPEG ends inside a marker (truncated upload?)", ErrCorrupt)
		}
		m := b[i]
		at := i - 1
		i++
		switch {
		case m == 0xD9: // EOI
			if !sawSOS {
				return info, fmt.Errorf("%w: JPEG has no image data (no SOS marker before EOI)", ErrCorrupt)
			}
			info.end = i
			return info, nil
		case m == 0xD8:
			return info, fmt.Errorf("%w: JPEG has a second SOI marker at offset %d", ErrCorrupt, at)
		case m == 0x00:
			return info, fmt.Errorf("%w: JPEG has a stuffed zero byte outside a scan, at offset %d", ErrCorrupt, at)
		case m == 0x01 || m >= 0xD0 && m <= 0xD7: // TEM, RSTn: no length
			continue
		}
		if i+2 > len(b) {
			return info, fmt.Errorf("%w: JPEG ends inside the length of marker 0xFF%02X (truncated upload?)", ErrCorrupt, m)
		}
		n := int(b[i])<<8 | int(b[i+1])
		if n < 2 {
			return info, fmt.Errorf("%w: JPEG marker 0xFF%02X at offset %d has length %d", ErrCorrupt, m, at, n)
		}
		if i+n > len(b) {
			return info, fmt.Errorf("%w: JPEG ends inside marker segment 0xFF%02X at offset %d (truncated upload?)", ErrCorrupt, m, at)
		}
		seg := b[i+2 : i+n]
		i += n
		switch {
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			if sawSOF {
				// Hierarchical files have a frame per resolution.
				return info, fmt.Errorf("%w: JPEG has more than one frame header (a hierarchical JPEG)", ErrUnsupported)
			}
			sawSOF = true
			if err := info.parseSOF(m, seg); err != nil {
				return info, err
			}
		case m == 0xDA: // SOS, then entropy-coded data up to the next marker
			if !sawSOF {
				return info, fmt.Errorf("%w: JPEG has a scan before its frame header", ErrCorrupt)
			}
			sawSOS = true
			var ok bool
			if i, ok = skipEntropyCoded(b, i); !ok {
				return info, fmt.Errorf("%w: JPEG ends inside its image data, without an EOI marker (truncated upload?)", ErrCorrupt)
			}
		case m == 0xDC: // DNL
			return info, fmt.Errorf("%w: JPEG defines its height in a DNL marker", ErrUnsupported)
		case m == 0xE0 && bytes.HasPrefix(seg, []byte("JFIF\x00")):
			info.jfif = true
		case m == 0xEE && len(seg) >= 12 && bytes.HasPrefix(seg, []byte("Adobe")):
			info.adobe, info.adobeXform = true, seg[11]
		}
	}
}

// parseSOF reads a frame header (T.81 B.2.2).
func (info *jpegInfo) parseSOF(m byte, seg []byte) error {
	if len(seg) < 6 {
		return fmt.Errorf("%w: JPEG frame header of %d bytes", ErrCorrupt, len(seg))
	}
	info.sof = m
	info.precision = int(seg[0])
	info.height = int(seg[1])<<8 | int(seg[2])
	info.width = int(seg[3])<<8 | int(seg[4])
	nc := int(seg[5])
	if nc == 0 || len(seg) != 6+3*nc {
		return fmt.Errorf("%w: JPEG frame header of %d bytes for %d components", ErrCorrupt, len(seg), nc)
	}
	for c := range nc {
		p := seg[6+3*c:]
		h, v := int(p[1]>>4), int(p[1]&0x0F)
		if h < 1 || h > 4 || v < 1 || v > 4 {
			return fmt.Errorf("%w: JPEG component %d has sampling factors %d×%d", ErrCorrupt, c+1, h, v)
		}
		info.comps = append(info.comps, jpegComponent{id: p[0], h: h, v: v})
	}
	switch {
	case info.width == 0:
		return fmt.Errorf("%w: JPEG frame is 0 pixels wide", ErrCorrupt)
	case info.height == 0:
		return fmt.Errorf("%w: JPEG defines its height in a DNL marker", ErrUnsupported)
	}
	return nil
}

// skipEntropyCoded returns the offset of the marker that ends the
// entropy-coded data starting at i: the first 0xFF not followed by a
// stuffed zero, a restart marker or another 0xFF.
func skipEntropyCoded(b []byte, i int) (int, bool) {
	for {
		j := bytes.IndexByte(b[i:], 0xFF)
		if j < 0 {
			return len(b), false
		}
		i += j
		if i+1 >= len(b) {
			return len(b), false
		}
		switch n := b[i+1]; {
		case n == 0x00 || n >= 0xD0 && n <= 0xD7:
			i += 2
		case n == 0xFF:
			i++
		default:
			return i, true
		}
	}
}

// encapsulable reports whether the file can be wrapped as it is: an 8-bit
// baseline frame of one or three components. Anything else image/jpeg can
// read is decoded; the rest is refused.
func (info *jpegInfo) encapsulable() bool {
	return info.sof == 0xC0 && info.precision == 8 && (len(info.comps) == 1 || len(info.comps) == 3)
}

// decodable reports whether image/jpeg can read the frame, and if not why.
func (info *jpegInfo) decodable() error {
	name := sofNames[info.sof]
	switch {
	case info.sof != 0xC0 && info.sof != 0xC1 && info.sof != 0xC2:
		return fmt.Errorf("%w: %s JPEG (marker 0xFF%02X); save the image as a baseline JPEG or PNG", ErrUnsupported, name, info.sof)
	case info.precision != 8:
		return fmt.Errorf("%w: %s JPEG with %d-bit samples; save the image as a PNG", ErrUnsupported, name, info.precision)
	case len(info.comps) != 1 && len(info.comps) != 3 && len(info.comps) != 4:
		return fmt.Errorf("%w: JPEG with %d colour components", ErrUnsupported, len(info.comps))
	}
	return nil
}

// photometric returns the Photometric Interpretation of a one- or
// three-component frame. The colour space is decided as libjpeg decides
// it: a JFIF file is YCbCr; otherwise an Adobe APP14 segment's transform
// says, 0 meaning untransformed RGB; otherwise component IDs 'R', 'G', 'B'
// mean RGB. PS3.5 8.2.1 allows only YBR_FULL_422 and RGB for three
// components in the lossy JPEG transfer syntaxes: YBR_FULL_422 names the
// YCbCr colour space whatever the sampling factors, which the frame header
// gives (dciodvfy refuses YBR_FULL for a 4:4:4 frame).
func (info *jpegInfo) photometric() string {
	c := info.comps
	if len(c) == 1 {
		return "MONOCHROME2"
	}
	var rgb bool
	switch {
	case info.jfif:
	case info.adobe:
		rgb = info.adobeXform == 0
	default:
		rgb = c[0].id == 'R' && c[1].id == 'G' && c[2].id == 'B'
	}
	if rgb {
		return "RGB"
	}
	return "YBR_FULL_422"
}

// decodeJPEG decodes a JPEG whose header parseJPEG has checked and
// checkSize has bounded.
func decodeJPEG(b []byte) (image.Image, error) {
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, jpegError(err)
	}
	return img, nil
}

// jpegError classifies image/jpeg's errors.
func jpegError(err error) error {
	var unsupported jpeg.UnsupportedError
	switch {
	case errors.As(err, &unsupported):
		return fmt.Errorf("%w: JPEG: %v", ErrUnsupported, err)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fmt.Errorf("%w: JPEG image data is truncated", ErrCorrupt)
	}
	return fmt.Errorf("%w: JPEG: %v", ErrCorrupt, err)
}

// checkDecoded verifies that image/jpeg read a wrapped baseline file as
// the attributes describe it, so a viewer decoding the fragment shows what
// the upload showed.
func checkDecoded(img image.Image, info *jpegInfo, photometric string) error {
	if img.Bounds() != image.Rect(0, 0, info.width, info.height) {
		return fmt.Errorf("%w: JPEG decodes to %v, its header says %d×%d", ErrCorrupt, img.Bounds(), info.width, info.height)
	}
	var want string
	switch img.(type) {
	case *image.Gray:
		want = "MONOCHROME2"
	case *image.YCbCr:
		want = "YBR_FULL_422"
	case *image.RGBA:
		want = "RGB"
	}
	if want != photometric {
		return fmt.Errorf("%w: JPEG's colour space is ambiguous (markers say %s, image/jpeg decodes %T)", ErrUnsupported, photometric, img)
	}
	return nil
}
