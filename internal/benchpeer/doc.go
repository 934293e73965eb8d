// Package benchpeer is what the side-by-side benchmarks (internal/dimsebench,
// internal/webbench) share: a work directory under benchdata.Dir, the molar
// binary built once per test binary, molar serve and Orthanc started as
// child processes on fresh stores and free ports (their own process groups,
// logs whose tails go into failure messages, a clean stop), and a corpus of
// synthetic dental films (internal/synth) whose UIDs, patients and referrals
// are rewritten between iterations, so that no iteration resends an
// instance.
//
// What only one benchmark uses stays there: storescp and the DCMTK tools in
// dimsebench, the STOW-RS client in webbench.
//
// It is for benchmarks only; nothing on a request path may import it.
package benchpeer
