package render

import (
	"fmt"

	"github.com/molar-pacs/molar/internal/dcm"
)

// Frame is one decoded frame: stored values, before any modality or VOI
// transformation, so that one decode can be rendered with many windows.
type Frame struct {
	// Info describes the pixels below. It is the Info the frame was
	// decoded with, changed where decoding changed the representation:
	// colour frames become 8-bit RGB, colour-by-pixel; JPEG frames have 8
	// bits stored.
	Info Info

	// Gray holds a monochrome frame, row by row, one value per pixel:
	// Info.BitsStored bits as stored, so two's complement values are not
	// sign extended. That way they index a lookup table of
	// 2^BitsStored entries directly.
	Gray []uint16

	// RGB holds a colour frame, row by row, three bytes per pixel.
	RGB []byte
}

// check verifies that a decoder returned what Info promises, so that
// rendering can index the pixels without further checks.
func (f *Frame) check() error {
	if err := f.Info.validate(); err != nil {
		return err
	}
	n := f.Info.pixels()
	switch {
	case f.Info.Photometric.IsMonochrome():
		if len(f.Gray) != n || f.RGB != nil {
			return fmt.Errorf("%w: frame has %d grey values and %d colour bytes for %d monochrome pixels", ErrInvalid, len(f.Gray), len(f.RGB), n)
		}
	case f.Info.Photometric == RGB && f.Info.BitsStored == 8 && f.Info.PlanarConfiguration == 0:
		if len(f.RGB) != 3*n || f.Gray != nil {
			return fmt.Errorf("%w: frame has %d grey values and %d colour bytes for %d colour pixels", ErrInvalid, len(f.Gray), len(f.RGB), n)
		}
	default:
		return fmt.Errorf("%w: frame of %s pixels of %d bits, want monochrome or 8-bit RGB by pixel", ErrInvalid, f.Info.Photometric, f.Info.BitsStored)
	}
	return nil
}

// A Decoder decodes frames of the transfer syntaxes it is registered for.
type Decoder interface {
	// Decode decodes data, one frame's bytes (native pixel data, or the
	// frame's fragments concatenated), described by info, which has
	// been validated.
	Decode(data []byte, info Info) (*Frame, error)
}

// DecoderFunc adapts a function to the Decoder interface.
type DecoderFunc func(data []byte, info Info) (*Frame, error)

// Decode calls fn(data, info).
func (fn DecoderFunc) Decode(data []byte, info Info) (*Frame, error) { return fn(data, info) }

// Decoders maps transfer syntax UIDs to their decoders. Builtin returns
// this package's; later decoders (JPEG lossless, or cgo JPEG-LS and JPEG
// 2000 behind a build tag) are added to such a map by the code that wires
// them, so nothing here is global.
type Decoders map[string]Decoder

// Builtin returns a new map of the decoders this package has: the native
// syntaxes (implicit and explicit VR little endian, deflated, explicit VR
// big endian), RLE Lossless, and JPEG Baseline and Extended for 8-bit
// samples.
func Builtin() Decoders {
	native := DecoderFunc(decodeNative)
	return Decoders{
		dcm.ImplicitVRLittleEndian:         native,
		dcm.ExplicitVRLittleEndian:         native,
		dcm.DeflatedExplicitVRLittleEndian: native, // store.Instance.Frame inflates
		dcm.ExplicitVRBigEndian:            native,
		dcm.RLELossless:                    DecoderFunc(decodeRLE),
		dcm.JPEGBaseline8Bit:               DecoderFunc(decodeJPEG),
		// image/jpeg reads the extended process's 8-bit frames and
		// refuses 12-bit ones with an error that becomes ErrUnsupported.
		dcm.JPEGExtended12Bit: DecoderFunc(decodeJPEG),
	}
}

// Decode decodes one frame with the decoder for info.TransferSyntax. A
// syntax without one gives an *UnsupportedSyntaxError.
func (d Decoders) Decode(data []byte, info Info) (*Frame, error) {
	if info.TransferSyntax.UID == "" {
		return nil, fmt.Errorf("decode frame: %w: no transfer syntax", ErrInvalid)
	}
	if err := info.validate(); err != nil {
		return nil, fmt.Errorf("decode frame: %w", err)
	}
	dec, ok := d[info.TransferSyntax.UID]
	if !ok {
		return nil, &UnsupportedSyntaxError{TransferSyntax: info.TransferSyntax}
	}
	f, err := dec.Decode(data, info)
	switch {
	case err == nil && f == nil:
		err = fmt.Errorf("%w: decoder returned no frame", ErrInvalid)
	case err == nil:
		err = f.check()
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s frame: %w", info.TransferSyntax.Name, err)
	}
	return f, nil
}

// Decode decodes one frame with the Builtin decoders.
func Decode(data []byte, info Info) (*Frame, error) {
	return Builtin().Decode(data, info)
}
