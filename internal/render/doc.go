// Package render decodes the pixels of one DICOM frame and renders them for
// display: the modality LUT (rescale slope and intercept), the VOI window
// and its function, MONOCHROME1 polarity, colour models, resizing to a
// viewport and JPEG or PNG encoding. It serves the browser viewer and the
// DICOMweb rendered and thumbnail resources, but knows nothing of HTTP,
// the store or any protocol: callers hand it a frame's bytes (as
// store.Instance.Frame returns them) and the Info built from the parsed
// dataset.
//
// The pipeline is Decode (frame bytes to a Frame of stored values),
// Frame.Render (stored values to an 8-bit image.Gray or an image.RGBA) and
// Encode; Render and Thumbnail run all three.
//
// Decoding covers the native transfer syntaxes, RLE Lossless and 8-bit
// JPEG (baseline and extended, through image/jpeg). Any other syntax
// gives an *UnsupportedSyntaxError; a Decoders map keyed by transfer
// syntax UID is the seam where further decoders (JPEG lossless, JPEG-LS,
// JPEG 2000) plug in.
//
// Monochrome frames are rendered through a lookup table indexed by stored
// value (2^BitsStored entries), so the per-pixel work is one table load
// whatever the window function; downscaling averages whole blocks of
// pixels first, then finishes the fractional rest with
// golang.org/x/image/draw (see Options.Scaler for why).
//
// Not applied, as yet: Modality LUT and VOI LUT sequences, Presentation
// LUT Shape, Pixel Padding Value, overlays, ICC profiles.
package render
