// Package film is the film viewer: the browser component clinical triagers
// read a referral's intraoral and panoramic films with, and the HTTP
// handler that serves it.
//
// It owns the viewer's assets (film.js, an ES module with no dependencies,
// and film.css), embedded in the binary, and their caching headers. The
// page that mounts the handler (say at /assets/film/) decides who may see
// which films.
//
// It must not touch the archive or make access decisions: the viewer runs
// in the browser and reads films only through DICOMweb (metadata,
// thumbnails, renderings and WADO-RS frames), so every read passes the
// DICOMweb Guard and is audited there.
package film
