package store

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"
)

// reader is what the live index and a snapshot of it both offer.
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIterWithContext(ctx context.Context, o *pebble.IterOptions) (*pebble.Iterator, error)
}

// view reads the index through one reader: the live index for the
// committer and retrieval, a snapshot for a query, so that counts and the
// instances they count come from one state even while groups commit.
type view struct{ rd reader }

// scan calls fn for every key in [from, to).
func (v view) scan(ctx context.Context, from, to []byte, fn func(k, v []byte) error) error {
	it, err := v.rd.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: from, UpperBound: to})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if err := fn(it.Key(), val); err != nil {
			return err
		}
	}
	return it.Error()
}

// scanParts calls fn for every key with prefix, split into its string
// components, of which there must be n.
func (v view) scanParts(ctx context.Context, prefix []byte, n int, fn func(parts []string, v []byte) error) error {
	return v.scan(ctx, prefix, prefixEnd(prefix), func(k, val []byte) error {
		_, parts, err := decodeKey(k)
		if err != nil || len(parts) != n {
			return fmt.Errorf("corrupt index key %q", k)
		}
		return fn(parts, val)
	})
}

// lookup reads a UID lookup entry: tSOP gives a SOP Instance UID's study
// and series, tSeriesUID a series' study. It returns nil when the UID is
// not stored.
func (v view) lookup(table byte, uid string) ([]string, error) {
	val, err := v.get(key(table, uid))
	if err != nil || val == nil {
		return nil, err
	}
	want := 2
	if table == tSeriesUID {
		want = 1
	}
	_, parts, err := decodeKey(append([]byte{table}, val...))
	if err != nil || len(parts) != want {
		return nil, fmt.Errorf("corrupt lookup entry for %s", uid)
	}
	return parts, nil
}

// getRecord reads and decodes the record at k; it returns nil, nil when
// there is none.
func getRecord[R any](v view, k []byte, decode func([]byte) (*R, error)) (*R, error) {
	val, err := v.get(k)
	if err != nil || val == nil {
		return nil, err
	}
	return decode(val)
}

// get returns a copy of the value at k, or nil if absent.
func (v view) get(k []byte) ([]byte, error) {
	val, closer, err := v.rd.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	out := make([]byte, len(val))
	copy(out, val)
	return out, nil
}
