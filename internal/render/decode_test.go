package render

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"slices"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
)

func TestDecodeNativeMonochrome(t *testing.T) {
	bigEndian := func(in Info) Info {
		in.TransferSyntax = syntax(dcm.ExplicitVRBigEndian)
		return in
	}
	signed := func(in Info) Info {
		in.PixelRepresentation = 1
		return in
	}
	for _, tc := range []struct {
		name string
		info Info
		data []byte
		want []uint16 // stored bits, as Frame.Gray holds them
		// values as signed or unsigned integers, as storedValue reads them
		values []int32
	}{
		{
			name: "8-bit unsigned", info: mono(1, 4, 8, 8),
			data: []byte{0, 1, 128, 255}, want: []uint16{0, 1, 128, 255}, values: []int32{0, 1, 128, 255},
		},
		{
			name: "8-bit signed", info: signed(mono(1, 4, 8, 8)),
			data: []byte{0, 1, 0x80, 0xFF}, want: []uint16{0, 1, 0x80, 0xFF}, values: []int32{0, 1, -128, -1},
		},
		{
			name: "16-bit, 12 stored, high bits masked", info: mono(1, 4, 16, 12),
			data: le16(0, 0x0FFF, 0xF123, 0x8800), want: []uint16{0, 0x0FFF, 0x0123, 0x0800}, values: []int32{0, 4095, 0x123, 2048},
		},
		{
			name: "16-bit, 12 stored, signed", info: signed(mono(1, 4, 16, 12)),
			data: le16(0x0FFF, 0x0800, 0x07FF, 0xF001), want: []uint16{0x0FFF, 0x0800, 0x07FF, 0x0001}, values: []int32{-1, -2048, 2047, 1},
		},
		{
			name: "16-bit, 16 stored, signed", info: signed(mono(1, 3, 16, 16)),
			data: le16(0xFFFF, 0x8000, 0x7FFF), want: []uint16{0xFFFF, 0x8000, 0x7FFF}, values: []int32{-1, -32768, 32767},
		},
		{
			name: "16-bit big endian", info: bigEndian(mono(1, 5, 16, 16)),
			data: be16(1, 0x0102, 0xABCD, 0, 65535), want: []uint16{1, 0x0102, 0xABCD, 0, 65535}, values: []int32{1, 0x0102, 0xABCD, 0, 65535},
		},
		{
			name: "high bit above bits stored", info: func() Info { in := mono(1, 2, 16, 12); in.HighBit = 13; return in }(),
			data: le16(0x3FFC, 0xC004), want: []uint16{0x0FFF, 0x0001}, values: []int32{4095, 1},
		},
		{
			name: "5 pixels: more than one load of four", info: mono(1, 5, 16, 12),
			data: le16(1, 2, 3, 4, 5), want: []uint16{1, 2, 3, 4, 5}, values: []int32{1, 2, 3, 4, 5},
		},
		{
			name: "padding after the frame is ignored", info: mono(1, 2, 8, 8),
			data: []byte{7, 9, 0}, want: []uint16{7, 9}, values: []int32{7, 9},
		},
	} {
		f, err := Decode(tc.data, tc.info)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !slices.Equal(f.Gray, tc.want) {
			t.Errorf("%s: stored values %#x, want %#x", tc.name, f.Gray, tc.want)
		}
		var values []int32
		for _, v := range f.Gray {
			values = append(values, storedValue(v, f.Info.BitsStored, f.Info.signed()))
		}
		if !slices.Equal(values, tc.values) {
			t.Errorf("%s: values %d, want %d", tc.name, values, tc.values)
		}
	}
}

func TestDecodeNativeColour(t *testing.T) {
	// Two pixels: pure red and a grey.
	red, grey := []byte{255, 0, 0}, []byte{90, 90, 90}
	want := slices.Concat(red, grey)
	sixteen := func(in Info) Info {
		in.BitsAllocated, in.BitsStored, in.HighBit = 16, 16, 15
		return in
	}
	// The YBR values of red and grey under PS3.3 C.7.6.3.1.2's equations.
	y, cb, cr := color.RGBToYCbCr(255, 0, 0)
	for _, tc := range []struct {
		name string
		info Info
		data []byte
		tol  int
	}{
		{"RGB by pixel", colour(1, 2, RGB, 0), []byte{255, 0, 0, 90, 90, 90}, 0},
		{"RGB by plane", colour(1, 2, RGB, 1), []byte{255, 90, 0, 90, 0, 90}, 0},
		{"RGB 16-bit keeps the top 8 bits", sixteen(colour(1, 2, RGB, 0)), le16(0xFF12, 0x34, 0x56, 0x5A00, 0x5AFF, 0x5A80), 0},
		{"YBR_FULL", colour(1, 2, YBRFull, 0), []byte{y, cb, cr, 90, 128, 128}, 2},
		{"YBR_FULL by plane", colour(1, 2, YBRFull, 1), []byte{y, 90, cb, 128, cr, 128}, 2},
		{"YBR_FULL_422", colour(1, 2, YBRFull422, 0), []byte{90, 90, 128, 128}, 0},
	} {
		f, err := Decode(tc.data, tc.info)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		w := want
		if tc.info.Photometric == YBRFull422 {
			w = slices.Concat(grey, grey)
		}
		if !near(f.RGB, w, tc.tol) {
			t.Errorf("%s: RGB %v, want %v", tc.name, f.RGB, w)
		}
		if f.Info.Photometric != RGB || f.Info.PlanarConfiguration != 0 || f.Info.BitsStored != 8 {
			t.Errorf("%s: decoded frame described as %s, planar %d, %d bits; want 8-bit RGB by pixel",
				tc.name, f.Info.Photometric, f.Info.PlanarConfiguration, f.Info.BitsStored)
		}
	}
}

// near reports whether a and b have the same length and differ by at most
// tol in each byte.
func near(a, b []byte, tol int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if d := int(a[i]) - int(b[i]); d < -tol || d > tol {
			return false
		}
	}
	return true
}

func TestDecodeRLE(t *testing.T) {
	ts := syntax(dcm.RLELossless)
	// 300 pixels: runs long enough for replicate packets, and literals.
	values := make([]uint16, 300)
	for i := range values {
		values[i] = uint16(i / 40 * 500)
		if i%7 == 0 {
			values[i] = uint16(i * 13)
		}
	}
	in16 := mono(15, 20, 16, 16)
	in16.TransferSyntax = ts

	rgb := make([]byte, 3*200)
	for i := range rgb {
		rgb[i] = byte(i / 30 * 9)
	}
	inRGB := colour(10, 20, RGB, 1) // the RLE decoder ignores planar configuration
	inRGB.TransferSyntax = ts

	in8 := mono(2, 3, 8, 8)
	in8.TransferSyntax = ts

	for _, tc := range []struct {
		name    string
		info    Info
		native  []byte
		samples int
		bytes   int
	}{
		{"16-bit monochrome", in16, le16(values...), 1, 2},
		{"8-bit RGB", inRGB, rgb, 3, 1},
		{"8-bit monochrome", in8, []byte{4, 4, 4, 4, 9, 1}, 1, 1},
	} {
		frame := rleEncode(tc.native, tc.samples, tc.bytes)
		f, err := Decode(frame, tc.info)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		native := mono(tc.info.Rows, tc.info.Columns, tc.info.BitsAllocated, tc.info.BitsStored)
		native.SamplesPerPixel, native.Photometric = tc.info.SamplesPerPixel, tc.info.Photometric
		want, err := Decode(tc.native, native)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(f.Gray, want.Gray) || !bytes.Equal(f.RGB, want.RGB) {
			t.Errorf("%s: RLE round trip differs from the native frame", tc.name)
		}
		if f.Info.TransferSyntax.UID != dcm.RLELossless {
			t.Errorf("%s: decoded frame's transfer syntax is %s", tc.name, f.Info.TransferSyntax.UID)
		}
	}
}

// encodeJPEG encodes img as a baseline JPEG.
func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeJPEGBaseline(t *testing.T) {
	ts := syntax(dcm.JPEGBaseline8Bit)

	g := image.NewGray(image.Rect(0, 0, 32, 16))
	for y := range 16 {
		for x := range 32 {
			g.SetGray(x, y, color.Gray{Y: uint8(x * 8)})
		}
	}
	in := mono(16, 32, 8, 8)
	in.TransferSyntax = ts
	f, err := Decode(encodeJPEG(t, g), in)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range f.Gray {
		if d := int(v) - int(g.Pix[i]); d < -3 || d > 3 {
			t.Fatalf("grey pixel %d is %d, encoded %d", i, v, g.Pix[i])
		}
	}

	// Colour in 16×16 blocks, so that chroma subsampling loses nothing.
	c := image.NewRGBA(image.Rect(0, 0, 32, 16))
	blocks := []color.RGBA{{200, 30, 40, 255}, {20, 60, 220, 255}}
	for y := range 16 {
		for x := range 32 {
			c.SetRGBA(x, y, blocks[x/16])
		}
	}
	inc := colour(16, 32, YBRFull422, 0)
	inc.TransferSyntax = ts
	f, err = Decode(encodeJPEG(t, c), inc)
	if err != nil {
		t.Fatal(err)
	}
	for p := range 32 * 16 {
		b := blocks[p%32/16]
		if !near(f.RGB[3*p:3*p+3], []byte{b.R, b.G, b.B}, 4) {
			t.Fatalf("colour pixel %d is %v, encoded %v", p, f.RGB[3*p:3*p+3], b)
		}
	}
	if f.Info.Photometric != RGB {
		t.Errorf("decoded colour JPEG described as %s, want RGB", f.Info.Photometric)
	}
}

func TestDecodeUnsupportedSyntax(t *testing.T) {
	for _, uid := range []string{
		dcm.JPEGLossless, dcm.JPEGLosslessSV1, dcm.JPEGLSLossless, dcm.JPEGLSNearLossless,
		dcm.JPEG2000Lossless, dcm.JPEG2000, "1.2.3.4.5.6",
	} {
		in := mono(2, 2, 16, 12)
		in.TransferSyntax = syntax(uid)
		_, err := Decode([]byte{0xFF, 0xD8, 0xFF, 0xD9}, in)
		var use *UnsupportedSyntaxError
		if !errors.As(err, &use) || use.TransferSyntax.UID != uid || !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: got %v, want an UnsupportedSyntaxError naming it", uid, err)
		}
	}
}

// TestDecoders checks the seam for later decoders: a map entry for a
// syntax is used, and what it returns is checked.
func TestDecoders(t *testing.T) {
	in := mono(1, 2, 16, 16)
	in.TransferSyntax = syntax(dcm.JPEG2000Lossless)
	d := Builtin()
	d[dcm.JPEG2000Lossless] = DecoderFunc(func(data []byte, info Info) (*Frame, error) {
		return &Frame{Info: info, Gray: []uint16{uint16(len(data)), 7}}, nil
	})
	f, err := d.Decode([]byte{1, 2, 3}, in)
	if err != nil || !slices.Equal(f.Gray, []uint16{3, 7}) {
		t.Errorf("registered decoder: frame %v, error %v", f, err)
	}

	d[dcm.JPEG2000Lossless] = DecoderFunc(func(data []byte, info Info) (*Frame, error) {
		return &Frame{Info: info, Gray: []uint16{1}}, nil
	})
	_, err = d.Decode(nil, in)
	wantErr(t, "decoder returning too few pixels", err, ErrInvalid)
}

func TestDecodeMalformed(t *testing.T) {
	rle := func(in Info) Info { in.TransferSyntax = syntax(dcm.RLELossless); return in }
	jpg := func(in Info) Info { in.TransferSyntax = syntax(dcm.JPEGBaseline8Bit); return in }

	goodRLE := rleEncode([]byte{1, 2, 3, 4}, 1, 1)
	wrongCount := bytes.Clone(goodRLE)
	wrongCount[0] = 2
	badOffset := bytes.Clone(goodRLE)
	badOffset[4] = 200
	gray := image.NewGray(image.Rect(0, 0, 16, 8))
	goodJPEG := encodeJPEG(t, gray)
	// A JPEG Extended header with 12-bit samples, which image/jpeg lacks.
	twelveBit := []byte{0xFF, 0xD8, 0xFF, 0xC1, 0, 11, 12, 0, 8, 0, 16, 1, 1, 0x11, 0}

	for _, tc := range []struct {
		name string
		info Info
		data []byte
		want error
	}{
		{"native truncated", mono(2, 2, 16, 12), le16(1, 2, 3), ErrInvalid},
		{"native empty", mono(2, 2, 8, 8), nil, ErrInvalid},
		{"rows×columns beyond the data", mono(100, 100, 16, 16), le16(1, 2, 3, 4), ErrInvalid},
		{"absurd dimensions", mono(65535, 65535, 16, 16), le16(1), ErrUnsupported},
		{"no transfer syntax", Info{Rows: 1, Columns: 1}, []byte{0}, ErrInvalid},
		{"bits stored zero", mono(1, 1, 8, 0), []byte{0}, ErrInvalid},
		{"YBR_FULL_422 with odd columns", colour(1, 3, YBRFull422, 0), make([]byte, 6), ErrInvalid},
		{"RLE header cut", rle(mono(2, 2, 8, 8)), goodRLE[:40], ErrInvalid},
		{"RLE segment count", rle(mono(2, 2, 8, 8)), wrongCount, dcm.ErrMalformed},
		{"RLE offset past the end", rle(mono(2, 2, 8, 8)), badOffset, ErrInvalid},
		{"RLE segment too short", rle(mono(2, 2, 8, 8)), append(goodRLE[:64:64], 0x01, 7, 8), ErrInvalid},
		{"RLE far too short for its size", rle(mono(4096, 4096, 16, 16)), goodRLE, ErrInvalid},
		{"RLE of YBR_FULL_422", rle(colour(2, 2, YBRFull422, 0)), goodRLE, ErrUnsupported},
		{"JPEG garbage", jpg(mono(8, 16, 8, 8)), []byte("not a JPEG at all, just text"), ErrInvalid},
		{"JPEG truncated", jpg(mono(8, 16, 8, 8)), goodJPEG[:len(goodJPEG)/2], ErrInvalid},
		{"JPEG size differs from the dataset", jpg(mono(16, 16, 8, 8)), goodJPEG, ErrInvalid},
		{"JPEG grey in a colour image", jpg(colour(8, 16, YBRFull422, 0)), goodJPEG, ErrInvalid},
		{"JPEG 12-bit", jpg(mono(8, 16, 16, 12)), twelveBit, ErrUnsupported},
		{"JPEG header claiming a huge image", jpg(mono(16000, 16000, 8, 8)),
			[]byte{0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0x3E, 0x80, 0x3E, 0x80, 1, 1, 0x11, 0, 0xFF, 0xD9}, ErrInvalid},
	} {
		_, err := Decode(tc.data, tc.info)
		wantErr(t, tc.name, err, tc.want)
	}
}

// TestDecodeLarge decodes frames big enough to be cut between goroutines
// and checks every pixel, the ones at the cuts included.
func TestDecodeLarge(t *testing.T) {
	const rows, cols = 400, 601 // odd: the cuts fall mid-row and mid-load
	values := make([]uint16, rows*cols)
	for i := range values {
		values[i] = uint16(i*7919) & 0x0FFF
	}
	in := mono(rows, cols, 16, 12)
	for _, tc := range []struct {
		name string
		ts   string
		data []byte
	}{
		{"little endian", dcm.ExplicitVRLittleEndian, le16(values...)},
		{"big endian", dcm.ExplicitVRBigEndian, be16(values...)},
	} {
		in.TransferSyntax = syntax(tc.ts)
		f, err := Decode(tc.data, in)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(f.Gray, values) {
			t.Errorf("%s: decoded values differ", tc.name)
		}
		img, err := f.Render(Options{Window: Window{Center: 2048, Width: 4096}, Format: PNG})
		if err != nil {
			t.Fatal(err)
		}
		g := img.(*image.Gray)
		for i, v := range values {
			// The window maps 0…4095 onto 0…255: v/16 give or take one.
			if d := int(g.Pix[i]) - int(v)/16; d < -1 || d > 1 {
				t.Fatalf("%s: pixel %d of value %d renders as %d", tc.name, i, v, g.Pix[i])
			}
		}
	}

	rgb := make([]byte, 3*rows*cols)
	for i := range rgb {
		rgb[i] = byte(i * 31)
	}
	planes := make([]byte, len(rgb))
	for p := range rows * cols {
		for c := range 3 {
			planes[c*rows*cols+p] = rgb[3*p+c]
		}
	}
	for planar, data := range [][]byte{rgb, planes} {
		f, err := Decode(data, colour(rows, cols, RGB, planar))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.RGB, rgb) {
			t.Errorf("planar configuration %d: decoded colour differs", planar)
		}
		img, err := f.Render(Options{Invert: true})
		if err != nil {
			t.Fatal(err)
		}
		m := img.(*image.RGBA)
		for p := range rows * cols {
			if !bytes.Equal(m.Pix[4*p:4*p+4], []byte{^rgb[3*p], ^rgb[3*p+1], ^rgb[3*p+2], 255}) {
				t.Fatalf("planar configuration %d: pixel %d renders as %v", planar, p, m.Pix[4*p:4*p+4])
			}
		}
	}
}
