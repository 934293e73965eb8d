package render

import (
	"fmt"

	"github.com/molar-pacs/molar/internal/dcm"
)

// decodeRLE decodes an RLE Lossless frame (PS3.5 Annex G).
func decodeRLE(data []byte, in Info) (*Frame, error) {
	if in.Photometric == YBRFull422 {
		// An RLE segment holds one byte of every pixel (PS3.5 G.2), a
		// layout chroma shared by two pixels does not fit.
		return nil, fmt.Errorf("%w: RLE Lossless with %s", ErrUnsupported, in.Photometric)
	}
	bytesPerSample := in.BitsAllocated / 8
	segments := in.SamplesPerPixel * bytesPerSample
	pixels := in.pixels()
	// A segment's two-byte repeat packet makes at most 128 bytes, so a
	// frame shorter than this cannot hold the pixels its header claims:
	// refuse it before allocating for them.
	if least := 64 + segments*2*((pixels+127)/128); len(data) < least {
		return nil, fmt.Errorf("%w: RLE frame of %d bytes cannot hold %d×%d pixels of %d segments (at least %d bytes)",
			ErrInvalid, len(data), in.Columns, in.Rows, segments, least)
	}
	raw := make([]byte, pixels*segments)
	if err := dcm.DecodeRLEFrame(raw, data, in.SamplesPerPixel, bytesPerSample); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	// Decoded, the frame is native little endian pixel data, colour by
	// pixel whatever Planar Configuration says (the segments were planes
	// either way).
	native := in
	native.TransferSyntax.BigEndian = false
	native.PlanarConfiguration = 0
	f, err := decodeNative(raw, native)
	if err != nil {
		return nil, err
	}
	f.Info.TransferSyntax = in.TransferSyntax
	return f, nil
}
