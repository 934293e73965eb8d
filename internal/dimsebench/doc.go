// Package dimsebench holds the side-by-side DIMSE benchmarks: Molar's DICOM
// listener (`molar serve --dicom`) against Orthanc and DCMTK's storescp,
// driven by the real DCMTK tools (storescu, movescu, echoscu) as a modality
// or a hospital PACS would drive them.
//
// It owns only benchmarks and their DIMSE helpers, all in test files:
// storescp and the DCMTK tools, and waiting for a receiver to answer
// C-ECHO. The corpus of synthetic dental films whose UIDs are rewritten
// between iterations, and molar serve and Orthanc with their
// configurations, come from internal/benchpeer, which internal/webbench
// shares. Nothing here is part of the server; it must not be imported.
// The targets its results are judged against are rows of
// internal/benchtable/targets.go; `make bench` runs it, `make test` runs
// only its quick self-checks.
//
//	go test -run '^$' -bench . -benchtime 1x ./internal/dimsebench/
//
// It needs DCMTK (storescu, storescp, movescu, echoscu) and Orthanc (the
// Debian package orthanc) installed, and fails, never skips, without them.
package dimsebench
