// Package webbench holds the side-by-side DICOMweb benchmarks: Molar's
// STOW-RS (`molar serve`, /dicom-web) against Orthanc's DICOMweb plugin,
// both run as real processes on fresh stores and driven by the same Go
// HTTP client the way a practice's upload client drives them: one
// multipart/related request per few instances, over one or two
// connections.
//
// It owns only benchmarks and their helpers, all in test files: the
// STOW-RS client and its checks of the responses. The corpus of synthetic
// dental films, kept in memory, whose UIDs are rewritten between
// iterations, and molar serve and Orthanc with their configurations, come
// from internal/benchpeer, which internal/dimsebench shares. Nothing here
// is part of the server; it must not be imported. `go test` runs only its
// quick self-checks.
//
//	go test -run '^$' -bench STOW -benchtime 1x ./internal/webbench/
//
// It needs Orthanc and its DICOMweb plugin (the Debian packages orthanc
// and orthanc-dicomweb) installed, and fails, never skips, without them.
package webbench
