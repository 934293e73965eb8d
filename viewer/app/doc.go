// Package app is Molar's browser application: the pages practices,
// triagers, providers, service definers, analysts, administrators and
// patients use, as HTML shells and plain JavaScript modules embedded in the
// binary (no CDN: NHS networks are often closed). The pages read and write
// through the JSON API (/api/, package referral), the session endpoint
// (/auth/session) and DICOMweb; the film viewer comes from viewer/film.
//
// It holds no patient data and reads no store: a page is served only to a
// role the matrix lets through (asked of its Guard), and the data it shows
// is fetched by the page from APIs that check and audit each read again.
package app
