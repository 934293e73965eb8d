// Package synth writes synthetic dental DICOM instances (intra-oral IO and
// panoramic PX films) for tests, benchmarks and the demo data. Output is
// deterministic for a given Spec. It must not be used by the server's
// request paths.
package synth
