// Package sc wraps a JPEG or PNG image that a dental practice uploads
// through the browser (a scanned or exported radiograph, or a photograph)
// as a DICOM Secondary Capture Image (SOP Class 1.2.840.10008.5.1.4.1.1.7,
// PS3.3 A.8.1), carrying the referral's patient, URN and exposure date, so
// that it can be ingested like any other instance. It never writes an
// intra-oral or DX object: the upload was not acquired by Molar, and an SC
// instance says so.
//
// Wrap is the whole API. A baseline JPEG (SOF0, 8-bit) is encapsulated
// unchanged in the JPEG Baseline transfer syntax, so the practice's bytes
// are kept and not compressed a second time. Every other JPEG that
// image/jpeg decodes (progressive, 8-bit extended sequential, CMYK) and
// every PNG is decoded and stored as native pixels in Explicit VR Little
// Endian. JPEGs that image/jpeg cannot decode (12-bit, lossless,
// arithmetic-coded, hierarchical) are refused with ErrUnsupported.
//
// Choices this package makes (see Request for the fields):
//   - Modality defaults to OT. A caller may name the modality of the
//     original image (IO, PX, XC for a photograph, …): the SC Equipment
//     module defines Modality as the source equipment's (PS3.3 C.8.6.1),
//     while the SOP class keeps saying the instance is a secondary capture.
//   - Conversion Type defaults to WSD (workstation): the file was produced
//     on the practice's computer, by imaging software or a scanner driver.
//     A caller that knows better may say DF (digitized film), SD, SI, ….
//   - Transparent pixels of a PNG are composited over black: premultiplied
//     alpha, the MONOCHROME2 background of a radiograph (white would look
//     radiopaque).
//   - A colour image whose pixels all have equal red, green and blue (a
//     radiograph saved as RGB) is stored as MONOCHROME2, at its bit depth,
//     so the viewer can window it. 16-bit colour PNGs keep 16 bits.
//   - Burned In Annotation is written only when the caller knows it; an
//     export may well have the patient's name stamped in, so absent
//     ("unknown") is the default rather than a claim of NO.
//   - A wrapped colour JPEG is YBR_FULL_422 whatever its chroma sampling
//     (4:2:0, 4:2:2, 4:4:4): PS3.5 8.2.1 allows only YBR_FULL_422 and RGB
//     for three components in JPEG Baseline, and the frame header carries
//     the sampling. RGB only when the file says its components are
//     untransformed (an Adobe APP14 transform of 0, or IDs 'R','G','B'
//     without JFIF), as libjpeg and image/jpeg read them.
//   - Lossy Image Compression is 01 (ISO_10918_1) for every JPEG, decoded
//     or not, and 00 for PNG.
//   - Laterality is written as Image Laterality; unknown, the series'
//     Laterality is written empty (type 2C: "unknown").
//   - Bytes after a JPEG's end-of-image marker (an appended thumbnail or
//     "motion photo" video) are not part of the image and are dropped.
//
// The package knows DICOM encoding and image formats only: it must not
// import store, dimse, dicomweb or the HTTP layer, and it does not ingest
// what it writes. Text goes through dcm.AppendAttrs; only the Pixel Data
// element, which AppendAttrs cannot take as text, is encoded here.
package sc
