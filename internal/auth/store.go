package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/molar-pacs/molar/internal/pebbledb"
)

// Key tables (see the package documentation).
const (
	tMeta        = 'm'
	tOrg         = 'o'
	tUser        = 'u'
	tEmail       = 'e'
	tSession     = 's'
	tUserSession = 'x'
	tPending     = 'p'
	tThrottle    = 't'
	tCredential  = 'c'
	tSecretHash  = 'h'
)

// formatVersion is the value encoding written; a value with a higher
// version byte was written by a newer Molar and is refused, not misread.
const formatVersion = 1

var errNewerFormat = errors.New("stored by a newer version of Molar")

// db is the Pebble database with the versioned JSON value encoding.
type db struct {
	p *pebble.DB
	// mu orders close after every read and commit: Pebble panics on a
	// closed database, and a request may still be running at shutdown.
	mu     sync.RWMutex
	closed bool
}

func openDB(dir string, log *slog.Logger) (*db, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open auth database %s: %w", dir, err)
	}
	p, err := pebbledb.Open(dir, pebbledb.Options{Name: "auth", Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open auth database %s: %w", dir, err)
	}
	d := &db{p: p}
	if err := d.checkFormat(); err != nil {
		p.Close()
		return nil, fmt.Errorf("open auth database %s: %w", dir, err)
	}
	return d, nil
}

// checkFormat records the format version in a new database and refuses a
// database written by a newer Molar.
func (d *db) checkFormat() error {
	k := key(tMeta, "format")
	v, closer, err := d.p.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return d.p.Set(k, []byte{formatVersion}, pebble.Sync)
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	if len(v) != 1 || v[0] > formatVersion {
		return fmt.Errorf("database format %v: %w", v, errNewerFormat)
	}
	return nil
}

func (d *db) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	return d.p.Close()
}

// enter holds off close while a read or commit runs.
func (d *db) enter() error {
	d.mu.RLock()
	if d.closed {
		d.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (d *db) leave() { d.mu.RUnlock() }

// key builds a key from a table byte and parts, joined by 0 bytes. Parts
// are IDs, ODS codes, email addresses and hashes: none contains a 0 byte
// but hashes, which only ever come last.
func key(table byte, parts ...string) []byte {
	k := []byte{table}
	for i, p := range parts {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, p...)
	}
	return k
}

func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append([]byte{formatVersion}, b...), nil
}

func decode(b []byte, v any) error {
	if len(b) == 0 {
		return errors.New("empty stored value")
	}
	if b[0] > formatVersion {
		return fmt.Errorf("value format %d: %w", b[0], errNewerFormat)
	}
	if b[0] != formatVersion {
		return fmt.Errorf("unknown value format %d", b[0])
	}
	return json.Unmarshal(b[1:], v)
}

// get reads the value at k into v. It reports false if there is none.
func (d *db) get(k []byte, v any) (bool, error) {
	if err := d.enter(); err != nil {
		return false, err
	}
	defer d.leave()
	b, closer, err := d.p.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer closer.Close()
	if err := decode(b, v); err != nil {
		return false, fmt.Errorf("decode %q: %w", k[:1], err)
	}
	return true, nil
}

// getRaw reads the bytes at k (index entries whose value is a plain ID).
func (d *db) getRaw(k []byte) ([]byte, bool, error) {
	if err := d.enter(); err != nil {
		return nil, false, err
	}
	defer d.leave()
	b, closer, err := d.p.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer closer.Close()
	return append([]byte(nil), b...), true, nil
}

// batch collects writes to commit together, durably.
type batch struct {
	d    *db
	b    *pebble.Batch
	err  error
	done bool // committed or discarded: the Pebble batch is closed
}

func (d *db) batch() *batch { return &batch{d: d, b: d.p.NewBatch()} }

func (b *batch) put(k []byte, v any) {
	if b.err != nil {
		return
	}
	enc, err := encode(v)
	if err != nil {
		b.err = err
		return
	}
	b.err = b.b.Set(k, enc, nil)
}

func (b *batch) putRaw(k, v []byte) {
	if b.err == nil {
		b.err = b.b.Set(k, v, nil)
	}
}

func (b *batch) del(k []byte) {
	if b.err == nil {
		b.err = b.b.Delete(k, nil)
	}
}

// commit writes the batch with an fsync: an account change, a session or
// a revoked key must survive a crash once the caller has been told.
func (b *batch) commit() error {
	if b.done {
		return errors.New("batch already committed or discarded")
	}
	b.done = true
	defer b.b.Close()
	if b.err != nil {
		return b.err
	}
	if err := b.d.enter(); err != nil {
		return err
	}
	defer b.d.leave()
	return b.b.Commit(pebble.Sync)
}

// discard drops the batch unwritten; after commit it does nothing, so it
// can be deferred.
func (b *batch) discard() {
	if !b.done {
		b.done = true
		b.b.Close()
	}
}

// scan calls fn with each key and value whose key starts with prefix, in
// key order, until fn returns false or an error.
func (d *db) scan(prefix []byte, fn func(k, v []byte) (bool, error)) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	it, err := d.p.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		more, err := fn(it.Key(), it.Value())
		if err != nil {
			it.Close()
			return err
		}
		if !more {
			break
		}
	}
	if err := it.Error(); err != nil {
		it.Close()
		return err
	}
	return it.Close()
}

// prefixEnd is the first key after every key starting with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
