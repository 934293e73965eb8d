// Package dicomweb serves PS3.18 over HTTP: STOW-RS, QIDO-RS, WADO-RS
// (instances, metadata, frames, bulk data, rendered images and thumbnails)
// and WADO-URI, on top of the archive.
//
// It owns the HTTP side of those services: routes, content negotiation,
// multipart bodies, status codes, caching headers, CORS. Who may call it is
// decided by the Guard it is given, and what was read is reported to its
// Recorder; it must not make access decisions of its own, reach into
// another protocol package (dimse) or touch the archive except through the
// Archive interface.
package dicomweb
