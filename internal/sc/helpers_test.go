package sc

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/dcm"
)

// testNow is the capture time of every test request.
var testNow = time.Date(2026, 3, 14, 9, 26, 53, 0, time.FixedZone("BST", 3600))

// request returns a complete, valid request; tests change what they need.
func request() Request {
	return Request{
		Patient: Patient{
			Name: "SMITH^JOHN", ID: "9434765919", BirthDate: "19800229", Sex: "M",
		},
		AccessionNumber:         "URN26A0001",
		IssuerOfAccessionNumber: "MOLAR",
		ExposureDate:            "20260310",
		Description:             "Periapical LR6",
		InstitutionName:         "High Street Dental Practice",
		ReferringPhysicianName:  "JONES^ANNA^^DR",
		OperatorName:            "PATEL^RAVI",
		Now:                     testNow,
	}
}

// pattern returns a value in 0..255 for pixel x, y of channel c that
// varies in both directions and between channels.
func pattern(x, y, c int) uint8 {
	v := (x*7 + y*13 + c*71) % 256
	if x > 10 && x < 20 && y > 5 {
		v = 230 - c*40 // a bright "tooth"
	}
	return uint8(v)
}

func greyImage(w, h int) *image.Gray {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetGray(x, y, color.Gray{pattern(x, y, 0)})
		}
	}
	return m
}

func colourImage(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetRGBA(x, y, color.RGBA{pattern(x, y, 0), pattern(x, y, 1), pattern(x, y, 2), 0xFF})
		}
	}
	return m
}

// grey16Image uses the full 16 bits, so a lost low byte shows.
func grey16Image(w, h int) *image.Gray16 {
	m := image.NewGray16(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetGray16(x, y, color.Gray16{uint16(x*2011+y*977) ^ uint16(pattern(x, y, 1))})
		}
	}
	return m
}

// alphaImage has every alpha from transparent to opaque.
func alphaImage(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA(x, y, color.NRGBA{pattern(x, y, 0), pattern(x, y, 1), pattern(x, y, 2), uint8((x*37 + y*11) % 256)})
		}
	}
	return m
}

// greyAsRGB is a radiograph saved as an RGB PNG.
func greyAsRGB(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := pattern(x, y, 0)
			m.SetNRGBA(x, y, color.NRGBA{v, v, v, 0xFF})
		}
	}
	return m
}

func colour16Image(w, h int) *image.NRGBA64 {
	m := image.NewNRGBA64(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA64(x, y, color.NRGBA64{uint16(x * 1553), uint16(y * 2081), uint16(x*y*31 + 7), 0xFFFF})
		}
	}
	return m
}

func palettedImage(w, h int) *image.Paletted {
	pal := color.Palette{color.RGBA{0, 0, 0, 255}, color.RGBA{200, 30, 30, 255}, color.RGBA{30, 200, 30, 255}, color.RGBA{250, 250, 250, 255}}
	m := image.NewPaletted(image.Rect(0, 0, w, h), pal)
	for y := range h {
		for x := range w {
			m.SetColorIndex(x, y, uint8((x/3+y/2)%4))
		}
	}
	return m
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withComment inserts a COM segment of n bytes after SOI, to change a
// JPEG's length without changing its image.
func withComment(jpg []byte, n int) []byte {
	out := append([]byte{}, jpg[:2]...)
	out = append(out, 0xFF, 0xFE, byte((n+2)>>8), byte(n+2))
	out = append(out, bytes.Repeat([]byte("c"), n)...)
	return append(out, jpg[2:]...)
}

// expectedSamples returns img as this package should store it natively:
// premultiplied (over black) samples from color.Color.RGBA, the top byte
// for 8 bits, one sample a pixel when grey.
func expectedSamples(img image.Image, bits int, grey bool) []byte {
	var out []byte
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			var rgb [3]uint32
			if m, ok := img.(*image.YCbCr); ok {
				// image/jpeg's own conversion, which render uses too.
				c := m.YCbCrAt(x, y)
				r, g, bl := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
				rgb = [3]uint32{uint32(r) * 0x101, uint32(g) * 0x101, uint32(bl) * 0x101}
			} else {
				rgb[0], rgb[1], rgb[2], _ = img.At(x, y).RGBA()
			}
			n := 3
			if grey {
				n = 1
			}
			for _, v := range rgb[:n] {
				if bits == 8 {
					out = append(out, byte(v>>8))
				} else {
					out = binary.LittleEndian.AppendUint16(out, uint16(v))
				}
			}
		}
	}
	return out
}

// parse reads a Part 10 file with our parser, keeping every value.
func parse(t testing.TB, b []byte) *dcm.File {
	t.Helper()
	f, err := dcm.ParsePart10(bytes.NewReader(b), dcm.ParseOptions{MaxInlineBinary: 1 << 30, MaxInlineValue: 1 << 30})
	if err != nil {
		t.Fatalf("our parser: %v", err)
	}
	return f
}

// frame returns the bytes of the file's only frame: native pixel data, or
// its fragments concatenated.
func frame(t testing.TB, f *dcm.File, b []byte) []byte {
	t.Helper()
	frames, err := dcm.Frames(f.Dataset)
	if err != nil || frames.Len() != 1 {
		t.Fatalf("Frames: %d frames, %v", frames.Len(), err)
	}
	var out []byte
	for _, s := range frames.At(0) {
		out = append(out, b[s.Offset:s.Offset+s.Length]...)
	}
	return out
}

// jpegBomb returns jpg with its frame header claiming w×h pixels.
func jpegBomb(jpg []byte, w, h int) []byte {
	b := append([]byte{}, jpg...)
	i := bytes.Index(b, []byte{0xFF, 0xC0})
	b[i+5], b[i+6] = byte(h>>8), byte(h)
	b[i+7], b[i+8] = byte(w>>8), byte(w)
	return b
}

// corruptScan returns jpg with its entropy-coded data replaced by one-bits
// (0xFF, stuffed), which no Huffman table decodes.
func corruptScan(jpg []byte) []byte {
	b := append([]byte{}, jpg...)
	sos := bytes.Index(b, []byte{0xFF, 0xDA})
	start := sos + 2 + (int(b[sos+2])<<8 | int(b[sos+3]))
	for i := start; i < len(b)-2; i++ {
		b[i] = 0x00
		if (i-start)%2 == 0 {
			b[i] = 0xFF
		}
	}
	return b
}

// pngBomb returns a PNG declaring w×h 8-bit grey pixels whose IDAT is a
// few bytes of zlib: a decompression bomb, or a truncated file.
func pngBomb(t testing.TB, w, h uint32) []byte {
	t.Helper()
	var out bytes.Buffer
	out.WriteString(pngSignature)
	chunk := func(typ string, data []byte) {
		binary.Write(&out, binary.BigEndian, uint32(len(data)))
		c := append([]byte(typ), data...)
		out.Write(c)
		binary.Write(&out, binary.BigEndian, crc32.ChecksumIEEE(c))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	chunk("IHDR", append(ihdr, 8, 0, 0, 0, 0))
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(make([]byte, 4096))
	zw.Close()
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return out.Bytes()
}

// badCRC returns p with the CRC of its first IDAT chunk broken.
func badCRC(p []byte) []byte {
	b := append([]byte{}, p...)
	i := bytes.Index(b, []byte("IDAT"))
	n := int(binary.BigEndian.Uint32(b[i-4:]))
	b[i+4+n] ^= 0xFF
	return b
}
