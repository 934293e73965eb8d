package render

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"slices"
	"testing"
)

// grey decodes a frame of 16-bit values and renders it at its own size,
// returning the grey levels.
func grey(t *testing.T, in Info, values []uint16, opts Options) []uint8 {
	t.Helper()
	f, err := Decode(le16(values...), in)
	if err != nil {
		t.Fatal(err)
	}
	img, err := f.Render(opts)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("monochrome frame rendered as %T, want *image.Gray", img)
	}
	return g.Pix
}

// The expected grey levels below are worked by hand from PS3.3 C.11.2.1.2
// and rounded to nearest.
func TestRenderWindow(t *testing.T) {
	for _, tc := range []struct {
		name   string
		info   func(Info) Info
		opts   Options
		values []uint16
		want   []uint8
	}{
		{
			// LINEAR, c 100 w 21: x ≤ 89.5 is 0, x > 109.5 is 255,
			// else ((x - 99.5) / 20 + 0.5) × 255.
			name: "LINEAR edges and centre", opts: Options{Window: Window{Center: 100, Width: 21}},
			values: []uint16{0, 89, 90, 100, 109, 110, 4095},
			want:   []uint8{0, 0, 6, 134, 249, 255, 255},
		},
		{
			name: "LINEAR whole 12-bit range", opts: Options{Window: Window{Center: 2048, Width: 4096}},
			values: []uint16{0, 2048, 4095},
			want:   []uint8{0, 128, 255},
		},
		{
			// LINEAR_EXACT, c 100 w 20: x ≤ 90 is 0, x > 110 is 255,
			// else ((x - 100) / 20 + 0.5) × 255.
			name: "LINEAR_EXACT", opts: Options{Window: Window{Center: 100, Width: 20}, Function: LinearExact},
			values: []uint16{90, 91, 100, 105, 110, 111},
			want:   []uint8{0, 13, 128, 191, 255, 255},
		},
		{
			// SIGMOID: 255 / (1 + exp(-4 (x - 100) / 20)).
			name: "SIGMOID", opts: Options{Window: Window{Center: 100, Width: 20}, Function: Sigmoid},
			values: []uint16{0, 90, 100, 110, 4095},
			want:   []uint8{0, 30, 128, 225, 255},
		},
		{
			name: "dataset window and function",
			info: func(in Info) Info {
				in.Window, in.VOIFunction = Window{Center: 100, Width: 20}, LinearExact
				return in
			},
			values: []uint16{90, 100, 105},
			want:   []uint8{0, 128, 191},
		},
		{
			name: "options override the dataset's window",
			info: func(in Info) Info {
				in.Window = Window{Center: 3000, Width: 10}
				return in
			},
			opts:   Options{Window: Window{Center: 100, Width: 21}},
			values: []uint16{90, 100},
			want:   []uint8{6, 134},
		},
		{
			// Without a window the frame's range is used: minimum black,
			// maximum white, the middle half way.
			name: "window from the frame's range", values: []uint16{100, 200, 300},
			want: []uint8{0, 128, 255},
		},
		{
			name: "a dataset window of width 0 is ignored",
			info: func(in Info) Info {
				in.Window = Window{Center: 200, Width: 0.5}
				return in
			},
			values: []uint16{100, 200, 300},
			want:   []uint8{0, 128, 255},
		},
		{
			// Stored 500 is modality 0: with slope 2 and intercept -1000,
			// LINEAR c 0 w 401 gives ((x + 0.5) / 400 + 0.5) × 255.
			name: "rescale slope and intercept",
			info: func(in Info) Info {
				in.RescaleSlope, in.RescaleIntercept = 2, -1000
				return in
			},
			opts:   Options{Window: Window{Center: 0, Width: 401}},
			values: []uint16{300, 400, 500, 550, 600},
			want:   []uint8{0, 0, 128, 192, 255},
		},
		{
			name: "negative slope reverses the range window",
			info: func(in Info) Info {
				in.RescaleSlope = -1
				return in
			},
			values: []uint16{100, 200, 300},
			want:   []uint8{255, 128, 0},
		},
		{
			// Signed 12-bit: 0x800 is -2048, 0xFFF is -1, 0x7FF 2047.
			name: "signed values",
			info: func(in Info) Info {
				in.PixelRepresentation = 1
				return in
			},
			opts:   Options{Window: Window{Center: 0, Width: 4096}},
			values: []uint16{0x800, 0xFFF, 0x000, 0x7FF},
			want:   []uint8{0, 127, 128, 255},
		},
		{
			name: "MONOCHROME1 is inverted",
			info: func(in Info) Info {
				in.Photometric = Monochrome1
				return in
			},
			opts:   Options{Window: Window{Center: 100, Width: 21}},
			values: []uint16{0, 90, 100, 4095},
			want:   []uint8{255, 249, 121, 0},
		},
		{
			name: "Invert option", opts: Options{Window: Window{Center: 100, Width: 21}, Invert: true},
			values: []uint16{0, 90, 100, 4095},
			want:   []uint8{255, 249, 121, 0},
		},
		{
			name: "Invert option on MONOCHROME1 undoes its inversion",
			info: func(in Info) Info {
				in.Photometric = Monochrome1
				return in
			},
			opts:   Options{Window: Window{Center: 100, Width: 21}, Invert: true},
			values: []uint16{0, 90, 100, 4095},
			want:   []uint8{0, 6, 134, 255},
		},
	} {
		in := mono(1, len(tc.values), 16, 12)
		if tc.info != nil {
			in = tc.info(in)
		}
		got := grey(t, in, tc.values, tc.opts)
		if !bytes.Equal(got, tc.want) {
			t.Errorf("%s: values %d render as %d, want %d", tc.name, tc.values, got, tc.want)
		}
	}
}

func TestRenderBadOptions(t *testing.T) {
	f, err := Decode(le16(1, 2, 3, 4), mono(2, 2, 16, 12))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts Options
		want error
	}{
		{"negative viewport", Options{Width: -1}, ErrBadOptions},
		{"quality above 100", Options{Quality: 101}, ErrBadOptions},
		{"unknown function", Options{Function: "CURVY"}, ErrBadOptions},
		{"LINEAR window narrower than 1", Options{Window: Window{Center: 5, Width: 0.5}}, ErrBadOptions},
		{"SIGMOID window of negative width", Options{Window: Window{Center: 5, Width: -3}, Function: Sigmoid}, ErrBadOptions},
		{"enlarged past MaxPixels", Options{Width: 1 << 16, Height: 1 << 16, Upscale: true}, ErrBadOptions},
		{"unknown format", Options{Format: "image/gif"}, ErrUnsupported},
	} {
		_, err := f.Render(tc.opts)
		if err == nil {
			err = Encode(&bytes.Buffer{}, image.NewGray(image.Rect(0, 0, 1, 1)), tc.opts)
		}
		wantErr(t, tc.name, err, tc.want)
	}
}

func TestFit(t *testing.T) {
	for _, tc := range []struct {
		w, h int
		opts Options
		want [2]int
	}{
		{3000, 1500, Options{}, [2]int{3000, 1500}},
		{3000, 1500, Options{Width: 1000}, [2]int{1000, 500}},
		{3000, 1500, Options{Height: 300}, [2]int{600, 300}},
		{3000, 1500, Options{Width: 1000, Height: 100}, [2]int{200, 100}},
		{3000, 1500, Options{Width: 128, Height: 128}, [2]int{128, 64}},
		{1500, 3000, Options{Width: 128, Height: 128}, [2]int{64, 128}},
		{1000, 999, Options{Width: 10, Height: 10}, [2]int{10, 10}},
		{100, 50, Options{Width: 1000}, [2]int{100, 50}},
		{100, 50, Options{Width: 1000, Upscale: true}, [2]int{1000, 500}},
		{1, 1000, Options{Width: 10}, [2]int{1, 1000}},
		{1, 1000, Options{Height: 10}, [2]int{1, 10}},
	} {
		w, h := fit(tc.w, tc.h, tc.opts)
		if [2]int{w, h} != tc.want {
			t.Errorf("%d×%d in viewport %d×%d (upscale %v): %d×%d, want %d×%d",
				tc.w, tc.h, tc.opts.Width, tc.opts.Height, tc.opts.Upscale, w, h, tc.want[0], tc.want[1])
		}
	}
}

// TestRenderOutput renders through Render and checks what was written: its
// format, colour model and size.
func TestRenderOutput(t *testing.T) {
	values := make([]uint16, 60*90)
	for i := range values {
		values[i] = uint16(i % 4096)
	}
	monoData := le16(values...)
	rgbData := make([]byte, 3*60*90)
	for i := range rgbData {
		rgbData[i] = byte(i)
	}
	for _, tc := range []struct {
		name       string
		info       Info
		data       []byte
		opts       Options
		thumbnail  bool
		format     string
		model      color.Model
		dimensions [2]int
	}{
		{"JPEG by default", mono(60, 90, 16, 12), monoData, Options{}, false, "jpeg", color.GrayModel, [2]int{90, 60}},
		{"PNG", mono(60, 90, 16, 12), monoData, Options{Format: PNG}, false, "png", color.GrayModel, [2]int{90, 60}},
		{"JPEG viewport", mono(60, 90, 16, 12), monoData, Options{Format: JPEG, Width: 30, Quality: 50}, false, "jpeg", color.GrayModel, [2]int{30, 20}},
		{"PNG viewport, fractional", mono(60, 90, 16, 12), monoData, Options{Format: PNG, Height: 25}, false, "png", color.GrayModel, [2]int{38, 25}},
		{"colour JPEG", colour(60, 90, RGB, 0), rgbData, Options{}, false, "jpeg", color.YCbCrModel, [2]int{90, 60}},
		{"colour PNG, shrunk", colour(60, 90, RGB, 0), rgbData, Options{Format: PNG, Width: 45}, false, "png", color.RGBAModel, [2]int{45, 30}},
		{"thumbnail", mono(60, 90, 16, 12), monoData, Options{Width: 64, Height: 64}, true, "jpeg", color.GrayModel, [2]int{64, 43}},
		{"thumbnail never enlarges", mono(60, 90, 16, 12), monoData, Options{}, true, "jpeg", color.GrayModel, [2]int{90, 60}},
	} {
		var buf bytes.Buffer
		var err error
		if tc.thumbnail {
			err = Thumbnail(&buf, tc.data, tc.info, tc.opts)
		} else {
			err = Render(&buf, tc.data, tc.info, tc.opts)
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Errorf("%s: output does not decode: %v", tc.name, err)
			continue
		}
		if format != tc.format || cfg.ColorModel != tc.model || [2]int{cfg.Width, cfg.Height} != tc.dimensions {
			t.Errorf("%s: wrote %s %d×%d in %T, want %s %d×%d in %T", tc.name,
				format, cfg.Width, cfg.Height, cfg.ColorModel, tc.format, tc.dimensions[0], tc.dimensions[1], tc.model)
		}
	}
}

// TestThumbnailSize checks the default viewport on an image larger than it.
func TestThumbnailSize(t *testing.T) {
	var buf bytes.Buffer
	if err := Thumbnail(&buf, make([]byte, 300*200), mono(200, 300, 8, 8), Options{Format: PNG}); err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(&buf)
	if err != nil || cfg.Width != ThumbnailSize || cfg.Height != 85 {
		t.Errorf("thumbnail of 300×200 is %d×%d (%v), want %d×85", cfg.Width, cfg.Height, err, ThumbnailSize)
	}
}

func TestRenderColour(t *testing.T) {
	f, err := Decode([]byte{255, 0, 0, 10, 20, 30}, colour(1, 2, RGB, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		invert bool
		want   []byte
	}{
		{false, []byte{255, 0, 0, 255, 10, 20, 30, 255}},
		{true, []byte{0, 255, 255, 255, 245, 235, 225, 255}},
	} {
		img, err := f.Render(Options{Invert: tc.invert, Window: Window{Center: 1, Width: 1}})
		if err != nil {
			t.Fatal(err)
		}
		m, ok := img.(*image.RGBA)
		if !ok || !slices.Equal(m.Pix, tc.want) {
			t.Errorf("invert %v: rendered %T %v, want RGBA %v", tc.invert, img, m, tc.want)
		}
	}
}
