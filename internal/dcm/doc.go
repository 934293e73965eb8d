// Package dcm holds the DICOM vocabulary Molar's packages share: tags, value
// representations, transfer syntaxes, a streaming Part 10 parser that records
// where every value lives in the byte stream, character-set decoding, the
// DICOM JSON model (PS3.18 Annex F) and UID generation.
//
// It knows the DICOM encoding, not storage or protocols: it must not import
// store, dimse or dicomweb. The data dictionary comes from
// github.com/suyashkumar/dicom/pkg/tag; parsing is our own because the archive
// needs byte offsets and bounded memory, which that parser does not offer.
package dcm
