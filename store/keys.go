package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Index key layout. Every key starts with one byte naming its table;
// string components are escaped so that byte order is component order:
// 0x00 becomes 0x00 0xFF and each component ends with 0x00 0x01.
//
//	'P' patientKey                      patient record
//	'T' study                           study record
//	'S' study series                    series record
//	'I' study series sop                instance record
//	'M' study series sop                instance DICOM JSON
//	'u' sop                             -> study, series
//	'v' series                          -> study
//	'x' index value study [series]      secondary indexes (see indexName*)
//	'B' blobID(8, big endian)           -> sop: every blob the index owns
//	'D' blobID(8)                       blob whose unlink may not have happened
//	'b' blobID(8)                       -> bytes of a small instance not yet in its file (intake.go)
//	'm' name                            store metadata (format, blob lease)
//	'C' seq(8, big endian)              -> study, series, sop: the change feed
const (
	tPatient    byte = 'P'
	tStudy      byte = 'T'
	tSeries     byte = 'S'
	tInstance   byte = 'I'
	tMetadata   byte = 'M'
	tSOP        byte = 'u'
	tSeriesUID  byte = 'v'
	tIndex      byte = 'x'
	tBlob       byte = 'B'
	tDeleteBlob byte = 'D'
	tInlineBlob byte = 'b'
	tMeta       byte = 'm'
	tChange     byte = 'C'
)

// Secondary index names ('x' table).
const (
	ixAccession      = "acc"  // AccessionNumber -> study
	ixPatientID      = "pid"  // PatientID -> study
	ixPatientName    = "pn"   // normalised full PatientName -> study
	ixNameWord       = "pnw"  // each normalised name component -> study
	ixStudyDate      = "date" // StudyDate -> study
	ixStudyModality  = "mod"  // each of ModalitiesInStudy -> study
	ixSeriesModality = "smod" // Modality -> study, series
)

func appendComponent(dst []byte, s string) []byte {
	dst = appendEscaped(dst, s)
	return append(dst, 0x00, 0x01)
}

func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			dst = append(dst, 0x00, 0xFF)
		} else {
			dst = append(dst, s[i])
		}
	}
	return dst
}

// key builds a key from a table byte and string components.
func key(table byte, parts ...string) []byte {
	n := 1
	for _, p := range parts {
		n += len(p) + 2
	}
	k := make([]byte, 1, n)
	k[0] = table
	for _, p := range parts {
		k = appendComponent(k, p)
	}
	return k
}

func indexKey(name, value string, uids ...string) []byte {
	return key(tIndex, append([]string{name, value}, uids...)...)
}

// indexPrefix returns the key prefix of all index entries whose value
// starts with prefix.
func indexPrefix(name, prefix string) []byte {
	k := key(tIndex, name)
	return appendEscaped(k, prefix)
}

func blobKey(table byte, id uint64) []byte {
	k := make([]byte, 9)
	k[0] = table
	binary.BigEndian.PutUint64(k[1:], id)
	return k
}

// decodeKey splits a key into its table and string components.
func decodeKey(k []byte) (byte, []string, error) {
	if len(k) == 0 {
		return 0, nil, fmt.Errorf("empty key")
	}
	table := k[0]
	var parts []string
	rest := k[1:]
	for len(rest) > 0 {
		var b []byte
		i := 0
		for {
			j := bytes.IndexByte(rest[i:], 0)
			if j < 0 || i+j+1 >= len(rest) {
				return 0, nil, fmt.Errorf("key %q: unterminated component", k)
			}
			j += i
			b = append(b, rest[i:j]...)
			if rest[j+1] == 0x01 {
				rest = rest[j+2:]
				break
			}
			if rest[j+1] != 0xFF {
				return 0, nil, fmt.Errorf("key %q: bad escape", k)
			}
			b = append(b, 0)
			i = j + 2
		}
		parts = append(parts, string(b))
	}
	return table, parts, nil
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
