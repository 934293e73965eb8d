package render

import (
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"
)

// Format is an output media type.
type Format string

// The formats Encode writes.
const (
	JPEG Format = "image/jpeg"
	PNG  Format = "image/png"
)

// DefaultQuality is the JPEG quality when Options.Quality is 0.
const DefaultQuality = 90

// ThumbnailSize is the side of the square Thumbnail fits images into when
// the options give no viewport.
const ThumbnailSize = 128

// Options say how to render a frame. The zero value renders the whole
// frame at its own size with the dataset's window, as a JPEG of
// DefaultQuality.
type Options struct {
	// Window replaces the dataset's window when it is not zero. Without
	// either, the window spans the frame's modality values, minimum to
	// maximum.
	Window Window
	// Function replaces the dataset's VOI LUT Function when set (PS3.18
	// window=center,width,shape).
	Function VOIFunction

	// Width and Height are the viewport (PS3.18 viewport=vw,vh): the image
	// is scaled to fit inside it, keeping its aspect ratio. 0 leaves that
	// side unbounded.
	Width, Height int
	// Upscale allows enlarging an image smaller than the viewport. It is
	// off by default: enlarging adds no detail, only bytes, and a browser
	// enlarges an image as well as we could.
	Upscale bool
	// Scaler does what resizing is left after the image has been shrunk
	// by whole factors, averaging blocks of pixels: a reduction by less
	// than 2, or an enlargement. nil means draw.ApproxBiLinear. The block
	// averaging is an area filter, which keeps a radiograph's noise and
	// fine lines from aliasing; x/image/draw alone either aliases
	// (ApproxBiLinear blends the 2×2 pixels nearest each sample point, so
	// at a whole ratio it samples: a 3× reduction of pure noise keeps all
	// of it, where averaging keeps a third) or is slow (CatmullRom takes
	// 65–85 ms for 3000×1500 to 1000×500 on the 2-core development
	// machine, as it filters every source row into float64 RGBA). After
	// the averaging ApproxBiLinear is enough: about 10 ms for the 1.46×
	// left of 3000×1500 to 1024×512, where CatmullRom takes 35–55 ms.
	// BenchmarkDownscale measures the choices.
	Scaler draw.Scaler

	// Invert reverses the grey scale (or the colours), on top of the
	// inversion MONOCHROME1 always gets.
	Invert bool

	// Format is the output media type; "" means JPEG.
	Format Format
	// Quality is the JPEG quality, 1 to 100; 0 means DefaultQuality.
	Quality int
}

// check validates what can be checked without the frame.
func (o *Options) check() error {
	switch {
	case o.Width < 0 || o.Height < 0:
		return fmt.Errorf("%w: viewport %d×%d", ErrBadOptions, o.Width, o.Height)
	case o.Quality < 0 || o.Quality > 100:
		return fmt.Errorf("%w: JPEG quality %d is not within 1 to 100", ErrBadOptions, o.Quality)
	case o.Function != "" && !o.Function.known():
		return fmt.Errorf("%w: VOI LUT function %q", ErrBadOptions, o.Function)
	case o.Format != "" && o.Format != JPEG && o.Format != PNG:
		return fmt.Errorf("%w: output format %q", ErrUnsupported, o.Format)
	}
	return nil
}

// Render renders one frame, its bytes as store.Instance.Frame returns them,
// with the Builtin decoders, and encodes it to w.
func Render(w io.Writer, data []byte, info Info, opts Options) error {
	if err := opts.check(); err != nil {
		return err
	}
	f, err := Decode(data, info)
	if err != nil {
		return err
	}
	img, err := f.Render(opts)
	if err != nil {
		return err
	}
	return Encode(w, img, opts)
}

// Thumbnail is Render with the viewport ThumbnailSize square unless opts
// has one.
func Thumbnail(w io.Writer, data []byte, info Info, opts Options) error {
	if opts.Width == 0 && opts.Height == 0 {
		opts.Width, opts.Height = ThumbnailSize, ThumbnailSize
	}
	return Render(w, data, info, opts)
}

// Render renders the frame for display: an *image.Gray for monochrome
// frames, after the modality rescale, the VOI window and the polarity; an
// opaque *image.RGBA for colour ones. Either is then fitted to the
// viewport.
func (f *Frame) Render(opts Options) (image.Image, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if err := f.check(); err != nil {
		return nil, fmt.Errorf("render frame: %w", err)
	}
	in := f.Info
	w, h := fit(in.Columns, in.Rows, opts)
	if int64(w)*int64(h) > MaxPixels {
		return nil, fmt.Errorf("%w: output of %d×%d pixels", ErrBadOptions, w, h)
	}
	kx, ky := blockFactors(in.Columns, in.Rows, w, h)
	var img image.Image
	if f.Gray != nil {
		lut, err := f.lut(opts)
		if err != nil {
			return nil, err
		}
		img = grayImage(f.Gray, in.Columns, in.Rows, lut, kx, ky)
	} else {
		img = rgbaImage(f.RGB, in.Columns, in.Rows, opts.Invert, kx, ky)
	}
	return scale(img, w, h, opts.Scaler), nil
}

// Encode writes img in opts.Format: grey images as 8-bit greyscale JPEG or
// PNG, colour ones as RGB.
func Encode(w io.Writer, img image.Image, opts Options) error {
	if err := opts.check(); err != nil {
		return err
	}
	format := opts.Format
	if format == "" {
		format = JPEG
	}
	var err error
	switch format {
	case JPEG:
		q := opts.Quality
		if q == 0 {
			q = DefaultQuality
		}
		err = jpeg.Encode(w, img, &jpeg.Options{Quality: q})
	case PNG:
		// Radiographs are noisy: on the 1000×500 rendering of the
		// synthetic panoramic, the default level took 50 ms for 289 KB,
		// BestSpeed 32 ms for 281 KB.
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		err = enc.Encode(w, img)
	}
	if err != nil {
		return fmt.Errorf("encode %s: %w", format, err)
	}
	return nil
}
