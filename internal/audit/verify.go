package audit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// ErrTampered is wrapped by Verify's error when the log is not as Record
// left it.
var ErrTampered = errors.New("audit log integrity check failed")

// Verify walks the whole log, oldest first, and checks that entries are
// numbered 1, 2, 3, ... without gaps, that each carries the hash of the one
// before, that each is in every index it belongs to and that the indexes
// hold nothing else. It reports the first break, wrapping ErrTampered; n is
// the number of entries before the first one the break implicates (all of
// them if there is none). Other errors (I/O, ctx) do not wrap ErrTampered.
// See the package documentation for what this does not detect.
//
// Verify reads a snapshot, so recording goes on meanwhile; Close waits for
// it to finish.
func (l *Log) Verify(ctx context.Context) (n int, err error) {
	err = l.whileOpen(func() error {
		// The head is read before the snapshot is taken, so the snapshot
		// holds at least the entries up to it.
		headSeq, headHash := l.head()
		snap := l.db.NewSnapshot()
		defer snap.Close()
		n, err = verifySnapshot(ctx, snap, headSeq, headHash)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("audit verify: %w", err)
	}
	l.log.Info("audit log verified", "entries", n)
	return n, nil
}

// verifySnapshot is Verify on one snapshot. headSeq and headHash are the
// newest entry this process committed, which must still be there and
// unchanged.
func verifySnapshot(ctx context.Context, snap *pebble.Snapshot, headSeq uint64, headHash [32]byte) (int, error) {
	it, err := snap.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{tEntry}, UpperBound: []byte{tEntry + 1}})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	var prev [32]byte // the hash entry 1 links to
	next := uint64(1) // the entry expected next
	indexed := map[byte]int{}
	for valid := it.First(); valid; valid = it.Next() {
		if next%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return int(next - 1), err
			}
		}
		k := it.Key()
		if len(k) != 9 {
			return int(next - 1), broken(next, "a malformed key %x stands in its place", k)
		}
		if seq := binary.BigEndian.Uint64(k[1:]); seq != next {
			return int(next - 1), broken(next, "missing (the next entry is %d)", seq)
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return int(next - 1), fmt.Errorf("read entry %d: %w", next, err)
		}
		e, linked, err := decodeValue(v)
		if err != nil {
			return int(next - 1), broken(next, "%v", err)
		}
		if e.Seq != next {
			return int(next - 1), broken(next, "its value is numbered %d", e.Seq)
		}
		if linked != prev {
			if next == 1 {
				return 0, broken(1, "does not start the chain")
			}
			return int(next - 2), fmt.Errorf("entry %d does not carry the hash of entry %d: one of them was altered: %w",
				next, next-1, ErrTampered)
		}
		sum := sha256.Sum256(v)
		if next == headSeq && sum != headHash {
			return int(next - 1), broken(next, "differs from what this process committed")
		}
		for _, ik := range indexKeys(&e) {
			_, closer, err := snap.Get(ik)
			if errors.Is(err, pebble.ErrNotFound) {
				return int(next - 1), broken(next, "missing from the %s index, hidden from search", tableName(ik[0]))
			}
			if err != nil {
				return int(next - 1), fmt.Errorf("read %s index: %w", tableName(ik[0]), err)
			}
			closer.Close()
			indexed[ik[0]]++
		}
		prev = sum
		next++
	}
	if err := it.Error(); err != nil {
		return int(next - 1), err
	}
	n := int(next - 1)
	if uint64(n) < headSeq {
		return n, fmt.Errorf("the log ends at entry %d but this process committed entries up to %d: %w",
			n, headSeq, ErrTampered)
	}
	// Every entry's index keys are present; equal counts mean there are no
	// others, which would add entries to searches on keys they lack.
	for _, t := range indexTables {
		c, err := countKeys(ctx, snap, t)
		if err != nil {
			return n, err
		}
		if c != indexed[t] {
			return n, fmt.Errorf("the %s index has %d keys but the entries account for %d: %w",
				tableName(t), c, indexed[t], ErrTampered)
		}
	}
	return n, nil
}

func broken(seq uint64, format string, args ...any) error {
	return fmt.Errorf("entry %d: %s: %w", seq, fmt.Sprintf(format, args...), ErrTampered)
}

func countKeys(ctx context.Context, snap *pebble.Snapshot, table byte) (int, error) {
	it, err := snap.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{table}, UpperBound: []byte{table + 1}})
	if err != nil {
		return 0, err
	}
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				it.Close()
				return 0, err
			}
		}
	}
	if err := it.Close(); err != nil {
		return 0, fmt.Errorf("count %s index: %w", tableName(table), err)
	}
	return n, nil
}

func tableName(t byte) string {
	switch t {
	case tTime:
		return "time"
	case tURN:
		return "URN"
	case tNHS:
		return "NHS number"
	case tUser:
		return "user"
	}
	return fmt.Sprintf("%q", t)
}
