package render

import (
	"errors"
	"image"
	"io"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
)

// fuzzSyntaxes are the transfer syntaxes FuzzDecode picks from: every
// builtin decoder, and one without a decoder.
var fuzzSyntaxes = []string{
	dcm.ExplicitVRLittleEndian, dcm.ExplicitVRBigEndian, dcm.RLELossless,
	dcm.JPEGBaseline8Bit, dcm.JPEG2000,
}

var fuzzPhotometrics = []Photometric{Monochrome2, Monochrome1, RGB, YBRFull, YBRFull422, "PALETTE COLOR"}

// fuzzInfo makes small image attributes, valid or not, from fuzzed bytes.
func fuzzInfo(syntaxIndex, rows, cols, bits, flags uint8) Info {
	in := Info{
		Rows:                int(rows % 65),
		Columns:             int(cols % 65),
		BitsAllocated:       8,
		BitsStored:          int(bits&0x0F) + 1,
		PixelRepresentation: int(flags & 1),
		PlanarConfiguration: int(flags >> 1 & 1),
		Photometric:         fuzzPhotometrics[int(flags>>2)%len(fuzzPhotometrics)],
		NumberOfFrames:      1,
		RescaleSlope:        1,
		TransferSyntax:      syntax(fuzzSyntaxes[int(syntaxIndex)%len(fuzzSyntaxes)]),
	}
	if bits&0x80 != 0 {
		in.BitsAllocated = 16
	}
	in.HighBit = in.BitsStored - 1 + int(bits>>4&3)
	in.SamplesPerPixel = 1
	if !in.Photometric.IsMonochrome() {
		in.SamplesPerPixel = 3
	}
	if flags&0x80 != 0 {
		in.SamplesPerPixel = 4 - in.SamplesPerPixel // the wrong count
	}
	return in
}

// FuzzDecode feeds arbitrary frame bytes, under arbitrary small image
// attributes, to the decoders. Decode must return a frame or an error
// wrapping ErrInvalid or ErrUnsupported, never panic; a frame it returns
// must render.
func FuzzDecode(f *testing.F) {
	values := make([]uint16, 16)
	for i := range values {
		values[i] = uint16(i * 250)
	}
	gray := image.NewGray(image.Rect(0, 0, 8, 8))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 4)
	}
	mono8 := []byte{1, 1, 1, 1, 2, 3, 4, 5, 5, 5, 9, 9, 0, 0, 0, 7}
	badRLE := rleEncode(mono8, 1, 1)
	badRLE[4] = 0xF0

	// syntax, rows, cols, bits (0x80: 16 allocated; low nibble: stored-1), flags, data
	f.Add(uint8(0), uint8(4), uint8(4), uint8(0x8B), uint8(0), le16(values...))        // 16-bit, 12 stored
	f.Add(uint8(1), uint8(4), uint8(4), uint8(0x8F), uint8(1), be16(values...))        // big endian, signed
	f.Add(uint8(2), uint8(4), uint8(4), uint8(0x07), uint8(0), rleEncode(mono8, 1, 1)) // RLE 8-bit
	f.Add(uint8(2), uint8(4), uint8(4), uint8(0x8F), uint8(0), rleEncode(le16(values...), 1, 2))
	f.Add(uint8(2), uint8(4), uint8(4), uint8(0x07), uint8(0), badRLE)                      // corrupt offset
	f.Add(uint8(3), uint8(8), uint8(8), uint8(0x07), uint8(0), encodeJPEG(f, gray))         // JPEG
	f.Add(uint8(0), uint8(2), uint8(2), uint8(0x07), uint8(2<<2|2), []byte("RRGGBBxyzabc")) // RGB by plane
	f.Add(uint8(0), uint8(2), uint8(2), uint8(0x07), uint8(4<<2), []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(uint8(0), uint8(64), uint8(64), uint8(0x8B), uint8(0), le16(values...)) // truncated
	f.Add(uint8(4), uint8(4), uint8(4), uint8(0x8B), uint8(0), []byte{0xFF, 0x4F, 0xFF, 0x51})

	f.Fuzz(func(t *testing.T, syntaxIndex, rows, cols, bits, flags uint8, data []byte) {
		info := fuzzInfo(syntaxIndex, rows, cols, bits, flags)
		fr, err := Decode(data, info)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v wraps neither ErrInvalid nor ErrUnsupported", err)
			}
			return
		}
		img, err := fr.Render(Options{Width: 16, Height: 16})
		if err != nil {
			t.Fatalf("decoded %+v, but rendering fails: %v", fr.Info, err)
		}
		if err := Encode(io.Discard, img, Options{Format: PNG}); err != nil {
			t.Fatal(err)
		}
	})
}
