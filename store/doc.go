// Package store is Molar's archive: each instance's bytes exactly as
// received in a blob store, and a Pebble index of patients, studies, series
// and instances with the attributes C-FIND and QIDO-RS match and return,
// secondary indexes for the keys users query, each instance's DICOM JSON and
// the byte ranges of its frames and bulk data.
//
// It owns ingest (streamed, durable, group-committed), the one query engine
// both query protocols compile to, retrieval, deletion and the consistency
// check. It knows DICOM attributes, not protocols: it must not import dimse,
// dicomweb or anything HTTP.
package store
