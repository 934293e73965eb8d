package audit

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// Tables: the first byte of every key (see the package documentation).
const (
	tEntry byte = 'e'
	tTime  byte = 't'
	tURN   byte = 'r'
	tNHS   byte = 'n'
	tUser  byte = 'u'
	tMeta  byte = 'm'
)

// indexTables are the tables Verify accounts for.
var indexTables = []byte{tTime, tURN, tNHS, tUser}

// formatVersion is the layout of keys and values. It is stored under
// formatKey when the log is created, and is the first byte of each value.
const formatVersion = 1

var formatKey = []byte{tMeta, 'f', 'o', 'r', 'm', 'a', 't'}

func entryKey(seq uint64) []byte {
	k := make([]byte, 9)
	k[0] = tEntry
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

// pos is where an entry sits in every index: time order, then commit order.
type pos struct {
	nanos int64 // Unix nanoseconds, never negative (see minTime)
	seq   uint64
}

func posOf(e *Entry) pos { return pos{e.Time.UnixNano(), e.Seq} }

const posLen = 16

func appendPos(dst []byte, p pos) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(p.nanos))
	return binary.BigEndian.AppendUint64(dst, p.seq)
}

// posFromKey reads the position every index key ends with.
func posFromKey(k []byte) (pos, bool) {
	if len(k) < 1+posLen {
		return pos{}, false
	}
	return decodePos(k[len(k)-posLen:])
}

func decodePos(b []byte) (pos, bool) {
	if len(b) != posLen {
		return pos{}, false
	}
	nanos := binary.BigEndian.Uint64(b)
	if nanos > 1<<63-1 {
		return pos{}, false
	}
	return pos{int64(nanos), binary.BigEndian.Uint64(b[8:])}, true
}

// indexPrefix is the prefix of table's keys for value: the table byte and,
// except for the time index, the escaped value.
func indexPrefix(table byte, value string) []byte {
	k := make([]byte, 1, 1+len(value)+2+posLen)
	k[0] = table
	if table == tTime {
		return k
	}
	for i := 0; i < len(value); i++ {
		if value[i] == 0 {
			k = append(k, 0x00, 0xFF)
		} else {
			k = append(k, value[i])
		}
	}
	return append(k, 0x00, 0x01)
}

func indexKey(table byte, value string, p pos) []byte {
	return appendPos(indexPrefix(table, value), p)
}

// indexKeys returns the index entries of e (Seq set).
func indexKeys(e *Entry) [][]byte {
	p := posOf(e)
	keys := [][]byte{indexKey(tTime, "", p)}
	if e.URN != "" {
		keys = append(keys, indexKey(tURN, e.URN, p))
	}
	if nhs := normalNHS(e.NHSNumber); nhs != "" {
		keys = append(keys, indexKey(tNHS, nhs, p))
	}
	if e.User != "" {
		keys = append(keys, indexKey(tUser, e.User, p))
	}
	return keys
}

// Value layout, format 1:
//
//	[0]      formatVersion
//	[1:9]    seq, big endian
//	[9:41]   SHA-256 of the previous entry's value; zeros for seq 1
//	[41:]    the entry as a JSON object (entryV1)
const (
	valueHeaderLen = 1 + 8 + 32
)

// entryV1 is the JSON of format 1. It is its own type so that a change to
// Entry cannot silently change what is stored: the conversions below stop
// compiling, and whoever changed Entry decides whether format 1 can carry
// the change (a new optional field) or a format 2 is needed. Seq is in the
// value's header, not the JSON.
type entryV1 struct {
	Seq        uint64    `json:"-"`
	Time       time.Time `json:"time"`
	User       string    `json:"user,omitempty"`
	Role       string    `json:"role,omitempty"`
	Org        string    `json:"org,omitempty"`
	OnBehalfOf string    `json:"on_behalf_of,omitempty"`
	URN        string    `json:"urn,omitempty"`
	NHSNumber  string    `json:"nhs_number,omitempty"`
	Action     string    `json:"action"`
	Resource   string    `json:"resource,omitempty"`
	ClientAddr string    `json:"client_addr,omitempty"`
	CallingAE  string    `json:"calling_ae,omitempty"`
	Outcome    Outcome   `json:"outcome"`
	Detail     string    `json:"detail,omitempty"`
}

// encodeBody is the JSON part of an entry's value. It runs in the
// recorder's goroutine, leaving the committer only the header and hash.
func encodeBody(e *Entry) ([]byte, error) {
	return json.Marshal(entryV1(*e))
}

// encodeValue builds a stored value from its parts.
func encodeValue(seq uint64, prev *[32]byte, body []byte) []byte {
	v := make([]byte, valueHeaderLen, valueHeaderLen+len(body))
	v[0] = formatVersion
	binary.BigEndian.PutUint64(v[1:9], seq)
	copy(v[9:41], prev[:])
	return append(v, body...)
}

// decodeValue splits a stored value into the entry (Seq set from the
// header) and the hash of its predecessor.
func decodeValue(v []byte) (Entry, [32]byte, error) {
	var prev [32]byte
	if len(v) == 0 {
		return Entry{}, prev, fmt.Errorf("empty entry value")
	}
	if v[0] != formatVersion {
		return Entry{}, prev, fmt.Errorf("entry format %d: this build reads format %d", v[0], formatVersion)
	}
	if len(v) < valueHeaderLen {
		return Entry{}, prev, fmt.Errorf("entry value of %d bytes is truncated", len(v))
	}
	var ev entryV1
	if err := json.Unmarshal(v[valueHeaderLen:], &ev); err != nil {
		return Entry{}, prev, fmt.Errorf("entry JSON: %w", err)
	}
	e := Entry(ev)
	e.Seq = binary.BigEndian.Uint64(v[1:9])
	copy(prev[:], v[9:41])
	return e, prev, nil
}

// A cursor is the position of the last entry of a page; the next page
// starts just below it. It is opaque to clients, and is valid for any
// filter, though it only makes sense with the one that produced it.
func encodeCursor(p pos) string {
	return base64.RawURLEncoding.EncodeToString(appendPos(nil, p))
}

func decodeCursor(s string) (pos, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	p, ok := decodePos(b)
	if err != nil || !ok {
		return pos{}, fmt.Errorf("%w: cursor %q is not one this log issued", ErrBadFilter, s)
	}
	return p, nil
}
