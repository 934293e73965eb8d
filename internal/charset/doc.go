// Package charset decodes DICOM text values to UTF-8 according to the
// Specific Character Set attribute (0008,0005).
//
// It owns the mapping from the Defined Terms of PS3.3 C.12.1.1.2 to byte
// decoders and the ISO 2022 code-extension state machine of PS3.5 6.1.2.5
// (escape sequences designating G0/G1, and the return to the initial
// character set at value, component-group, component and line boundaries).
//
// It is deliberately a leaf: it knows bytes and character sets only. It must
// not touch storage or network protocols and must not import any other Molar
// package, so that the parser, the indexer and the web layer can all share it
// without import cycles. Trimming of padding and splitting of values are the
// caller's business (they depend on the VR, not on the character set).
//
// Decoding is lenient by design, because an archive has to ingest what
// modalities actually send: unknown terms fall back to ISO-8859-1 (reported
// as an error by Parse, but still usable), unknown escape sequences become
// U+FFFD, and invalid bytes become U+FFFD. Decode never panics and always
// returns valid UTF-8.
package charset
