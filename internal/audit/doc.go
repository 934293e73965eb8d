// Package audit is Molar's access audit log. Every access to clinical data
// or to a film (a referral viewed, a study retrieved over DICOMweb or DIMSE,
// a frame rendered, the viewer opened) is recorded in an append-only log
// that can be searched and exported but never altered.
//
// It owns the log: recording (Log.Record), search and export (Log.Search,
// Log.Export and the HTTP handler over them, NewHandler) and the integrity
// check (Log.Verify). It must not touch anything else: it makes no
// authorisation decisions (callers decide who may do what, record what
// happened, and decide who may read the log), routes no HTTP beyond the one
// handler it offers, and imports no other Molar package.
//
// # Recording
//
// Record returns only once the entry is durable: written to Pebble's
// write-ahead log and fsynced, as the archive index is. Concurrent
// recorders share fsyncs: a single committer goroutine takes every entry
// queued while the previous group was being synced, assigns sequence
// numbers and commits them as one batch. Callers are expected to record an
// access before they send the data and not to send it if Record fails, so
// that an access which could not be recorded does not happen. The context
// bounds only the wait for a place in the queue; a recorder whose client
// has gone away should still record, with context.WithoutCancel.
//
// # Outcomes and denials
//
// Every attempt is recorded, including refused ones, and Entry.Outcome
// says what became of it:
//
//   - "ok" (OutcomeOK): authorised, and the data was served, in whole or
//     in part. Only these entries are clinical reads.
//   - "denied" (OutcomeDenied): refused by authorisation; no clinical data
//     left the server. Entry.Detail says why.
//   - "failed" (OutcomeFailed): authorised, but nothing was served because
//     the thing asked for does not exist or the server failed.
//
// So "who has read this patient's films" is a search filtered to "ok", and
// an attempt that was refused shows up as "denied", never as a read.
//
// # Order and search
//
// Entries are numbered 1, 2, 3, ... in commit order (Entry.Seq). Search
// and Export return entries newest first: by Entry.Time descending, ties
// broken by Seq descending. Each entry is indexed by time and, when set, by
// URN, NHS number and user, each index ordered by (time, seq), so a search
// on one of those keys walks that key's index within the time range
// instead of scanning the log. NHS numbers are compared without spaces or
// hyphens; every other key is matched exactly.
//
// # Tamper evidence
//
// No API alters or deletes an entry. In addition each stored entry carries
// the SHA-256 of the previous entry's stored bytes, and Verify walks the
// log checking that chain, that sequence numbers have no gaps and that
// every index entry is present and accounted for.
//
// This detects accidental corruption and edits made without rewriting the
// chain: an altered, inserted or removed entry (other than the newest),
// and an index entry removed to hide an access from search or forged to
// add one. While the process that wrote them runs, the newest entries are
// covered too: Verify checks the log still reaches, unchanged, the last
// entry this process committed. It does not stop someone who can write the
// database files while Molar is stopped from removing or altering the
// newest entries, from appending entries with correct hashes, or from
// rewriting the chain from some entry onwards; nothing held only inside
// the log can. Open and Close write the head of the chain (newest sequence
// number and its hash) to the structured log, so an operator who keeps
// those lines elsewhere can show later that the log still extends them.
//
// # Storage
//
// The log is a Pebble database of its own (Options.Dir), opened like the
// archive index. Keys start with a table byte; string components are
// escaped (00 becomes 00 FF, each component ends 00 01) so byte order is
// component order; times (Unix nanoseconds) and sequence numbers are
// 8-byte big-endian.
//
//	'e' seq                       the entry (value below)
//	't' time seq                  time index
//	'r' urn time seq              URN index
//	'n' nhs time seq              NHS number index (spaces, hyphens removed)
//	'u' user time seq             user index
//	'm' name                      metadata: the format version
//
// An entry's value is a format version byte (1), its sequence number, the
// SHA-256 of the previous entry's value (zeros for the first) and the entry
// as a JSON object. A newer format is refused, not misread.
package audit
