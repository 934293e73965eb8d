// Package viewer is Molar's browser application. For now it holds the
// archive browser: studies, their series and instances, and a download of
// each instance as stored, so a newcomer can click through the demo data.
// The referral pages and the film viewer of later issues grow here.
//
// It reads the archive through a small interface and must not import the
// protocol packages. Every page shows patient data, so every route goes
// through the Access check.
package viewer
