package render

import (
	"fmt"
	"math"
	"strconv"

	"github.com/molar-pacs/molar/internal/dcm"
)

// Attributes of the Image Pixel (PS3.3 C.7.6.3), Modality LUT (C.11.1) and
// VOI LUT (C.11.2) modules that dcm does not name.
const (
	tagPlanarConfiguration dcm.Tag = 0x00280006
	tagHighBit             dcm.Tag = 0x00280102
	tagWindowCenter        dcm.Tag = 0x00281050
	tagWindowWidth         dcm.Tag = 0x00281051
	tagRescaleIntercept    dcm.Tag = 0x00281052
	tagRescaleSlope        dcm.Tag = 0x00281053
	tagVOILUTFunction      dcm.Tag = 0x00281056
)

// MaxPixels bounds Rows×Columns. Larger frames are refused before anything
// is allocated for them: 2^28 pixels of 16-bit samples are already 512 MiB.
const MaxPixels = 1 << 28

// Photometric is a Photometric Interpretation (0028,0004), PS3.3
// C.7.6.3.1.2: how samples make up a pixel.
type Photometric string

// The photometric interpretations Render accepts. PALETTE COLOR and the
// partial-range and JPEG 2000 YBR models are refused with ErrUnsupported.
const (
	Monochrome1 Photometric = "MONOCHROME1" // grey, minimum value white
	Monochrome2 Photometric = "MONOCHROME2" // grey, minimum value black
	RGB         Photometric = "RGB"
	YBRFull     Photometric = "YBR_FULL"
	// YBRFull422 stores each horizontal pair of pixels as Y Y Cb Cr.
	YBRFull422 Photometric = "YBR_FULL_422"
)

// IsMonochrome reports whether p is MONOCHROME1 or MONOCHROME2.
func (p Photometric) IsMonochrome() bool { return p == Monochrome1 || p == Monochrome2 }

// VOIFunction is a VOI LUT Function (0028,1056), PS3.3 C.11.2.1.3: the
// curve that maps a window of modality values to display values.
type VOIFunction string

// The VOI LUT functions of PS3.3 C.11.2.1.2.
const (
	Linear      VOIFunction = "LINEAR"
	LinearExact VOIFunction = "LINEAR_EXACT"
	Sigmoid     VOIFunction = "SIGMOID"
)

func (f VOIFunction) known() bool { return f == Linear || f == LinearExact || f == Sigmoid }

// Window is a VOI window in modality values (after rescale), as Window
// Center (0028,1050) and Window Width (0028,1051) give it. The zero Window
// means none.
type Window struct {
	Center, Width float64
}

// IsZero reports whether w is the zero Window: no window given.
func (w Window) IsZero() bool { return w == Window{} }

// usableWith reports whether f can apply w: LINEAR needs a width of at
// least 1, the other functions a positive width (PS3.3 C.11.2.1.2).
func (w Window) usableWith(f VOIFunction) bool {
	if math.IsNaN(w.Center) || math.IsInf(w.Center, 0) || math.IsInf(w.Width, 0) {
		return false
	}
	if f == Linear {
		return w.Width >= 1
	}
	return w.Width > 0
}

// Info is what decoding and rendering need to know about an image: its
// Image Pixel module, rescale, window and transfer syntax.
type Info struct {
	Rows, Columns       int
	SamplesPerPixel     int
	Photometric         Photometric
	BitsAllocated       int // 8 or 16
	BitsStored          int
	HighBit             int
	PixelRepresentation int // 0 unsigned, 1 two's complement
	PlanarConfiguration int // 0 colour-by-pixel, 1 colour-by-plane
	NumberOfFrames      int

	// The Modality LUT as a linear function; 1 and 0 when the dataset has
	// none.
	RescaleSlope, RescaleIntercept float64

	// The dataset's first window, zero if it has none, and its function.
	// A window too narrow for its function (some devices write a width of
	// 0 for "no window") is ignored when rendering.
	Window      Window
	VOIFunction VOIFunction

	TransferSyntax dcm.TransferSyntax
}

// InfoFrom reads an Info from a parsed dataset whose pixel data is encoded
// in ts. Missing or unusable values give errors wrapping ErrInvalid or,
// for images this package cannot render, ErrUnsupported.
func InfoFrom(ds *dcm.Dataset, ts dcm.TransferSyntax) (Info, error) {
	in := Info{TransferSyntax: ts}
	// Type 1 attributes (def < 0) must be present; the others have the
	// defaults PS3.3 implies when they are absent.
	for _, a := range []struct {
		tag  dcm.Tag
		name string
		dst  *int
		def  int
	}{
		{dcm.Rows, "Rows", &in.Rows, -1},
		{dcm.Columns, "Columns", &in.Columns, -1},
		{dcm.BitsAllocated, "Bits Allocated", &in.BitsAllocated, -1},
		{dcm.BitsStored, "Bits Stored", &in.BitsStored, -1},
		{dcm.SamplesPerPixel, "Samples per Pixel", &in.SamplesPerPixel, 1},
		{dcm.PixelRepresentation, "Pixel Representation", &in.PixelRepresentation, 0},
		{tagPlanarConfiguration, "Planar Configuration", &in.PlanarConfiguration, 0},
		{dcm.NumberOfFrames, "Number of Frames", &in.NumberOfFrames, 1},
	} {
		v, ok := ds.Int(a.tag)
		switch {
		case ok:
			*a.dst = v
		case a.def < 0:
			return Info{}, fmt.Errorf("%w: no %s %s", ErrInvalid, a.name, a.tag)
		default:
			*a.dst = a.def
		}
	}
	if hb, ok := ds.Int(tagHighBit); ok {
		in.HighBit = hb
	} else {
		in.HighBit = in.BitsStored - 1
	}
	in.Photometric = Photometric(ds.String(dcm.PhotometricInterpretation))
	if in.Photometric == "" {
		return Info{}, fmt.Errorf("%w: no Photometric Interpretation %s", ErrInvalid, dcm.PhotometricInterpretation)
	}

	var err error
	var ok bool
	if in.RescaleSlope, ok, err = decimal(ds, tagRescaleSlope, "Rescale Slope"); err != nil {
		return Info{}, err
	} else if !ok {
		in.RescaleSlope = 1
	}
	if in.RescaleIntercept, _, err = decimal(ds, tagRescaleIntercept, "Rescale Intercept"); err != nil {
		return Info{}, err
	}
	center, hasCenter, err := decimal(ds, tagWindowCenter, "Window Center")
	if err != nil {
		return Info{}, err
	}
	width, hasWidth, err := decimal(ds, tagWindowWidth, "Window Width")
	if err != nil {
		return Info{}, err
	}
	if hasCenter && hasWidth {
		in.Window = Window{Center: center, Width: width}
	}
	in.VOIFunction = Linear
	if f := VOIFunction(ds.String(tagVOILUTFunction)); f != "" {
		if !f.known() {
			return Info{}, fmt.Errorf("%w: VOI LUT Function %s is %q", ErrUnsupported, tagVOILUTFunction, f)
		}
		in.VOIFunction = f
	}
	if err := in.validate(); err != nil {
		return Info{}, err
	}
	return in, nil
}

// decimal reads the first value of a DS element; ok is false when the
// element is absent or empty.
func decimal(ds *dcm.Dataset, t dcm.Tag, name string) (v float64, ok bool, err error) {
	s := ds.String(t)
	if s == "" {
		return 0, false, nil
	}
	v, err = strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false, fmt.Errorf("%w: %s %s is %q, not a decimal number", ErrInvalid, name, t, s)
	}
	return v, true, nil
}

// validate checks that the attributes describe pixels this package can
// decode, before anything is allocated for them. Decode calls it, since
// an Info need not come from InfoFrom.
func (in Info) validate() error {
	switch {
	case in.Rows < 1 || in.Columns < 1:
		return fmt.Errorf("%w: %d rows of %d columns", ErrInvalid, in.Rows, in.Columns)
	case int64(in.Rows)*int64(in.Columns) > MaxPixels:
		return fmt.Errorf("%w: %d×%d pixels is more than the %d this renderer allows", ErrUnsupported, in.Columns, in.Rows, MaxPixels)
	case in.BitsAllocated == 1 || in.BitsAllocated == 32 || in.BitsAllocated == 64:
		return fmt.Errorf("%w: %d bits allocated per sample", ErrUnsupported, in.BitsAllocated)
	case in.BitsAllocated != 8 && in.BitsAllocated != 16:
		return fmt.Errorf("%w: Bits Allocated is %d", ErrInvalid, in.BitsAllocated)
	case in.BitsStored < 1 || in.BitsStored > in.BitsAllocated:
		return fmt.Errorf("%w: %d bits stored in %d allocated", ErrInvalid, in.BitsStored, in.BitsAllocated)
	case in.HighBit < in.BitsStored-1 || in.HighBit >= in.BitsAllocated:
		return fmt.Errorf("%w: high bit %d for %d bits stored in %d allocated", ErrInvalid, in.HighBit, in.BitsStored, in.BitsAllocated)
	case in.PixelRepresentation != 0 && in.PixelRepresentation != 1:
		return fmt.Errorf("%w: Pixel Representation is %d", ErrInvalid, in.PixelRepresentation)
	case in.PlanarConfiguration != 0 && in.PlanarConfiguration != 1:
		return fmt.Errorf("%w: Planar Configuration is %d", ErrInvalid, in.PlanarConfiguration)
	case in.NumberOfFrames < 1:
		return fmt.Errorf("%w: Number of Frames is %d", ErrInvalid, in.NumberOfFrames)
	case in.RescaleSlope == 0 || math.IsNaN(in.RescaleSlope) || math.IsInf(in.RescaleSlope, 0) ||
		math.IsNaN(in.RescaleIntercept) || math.IsInf(in.RescaleIntercept, 0):
		return fmt.Errorf("%w: rescale slope %g and intercept %g", ErrInvalid, in.RescaleSlope, in.RescaleIntercept)
	case in.VOIFunction != "" && !in.VOIFunction.known():
		return fmt.Errorf("%w: VOI LUT Function %q", ErrUnsupported, in.VOIFunction)
	}
	switch in.Photometric {
	case Monochrome1, Monochrome2:
		if in.SamplesPerPixel != 1 {
			return fmt.Errorf("%w: %s with %d samples per pixel", ErrInvalid, in.Photometric, in.SamplesPerPixel)
		}
	case RGB, YBRFull, YBRFull422:
		if in.SamplesPerPixel != 3 {
			return fmt.Errorf("%w: %s with %d samples per pixel", ErrInvalid, in.Photometric, in.SamplesPerPixel)
		}
		if in.PixelRepresentation != 0 {
			return fmt.Errorf("%w: signed %s samples", ErrUnsupported, in.Photometric)
		}
	case "":
		return fmt.Errorf("%w: no Photometric Interpretation", ErrInvalid)
	default:
		return fmt.Errorf("%w: photometric interpretation %s", ErrUnsupported, in.Photometric)
	}
	return nil
}

// signed reports whether stored values are two's complement.
func (in Info) signed() bool { return in.PixelRepresentation == 1 }

// pixels returns Rows×Columns; validate has bounded it.
func (in Info) pixels() int { return in.Rows * in.Columns }
