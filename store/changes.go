package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// Change is one entry of the change feed: an instance that was stored
// (or replaced) and acknowledged. Seq increases with every change; it may
// skip numbers (a group whose commit failed used some and wrote none).
type Change struct {
	Seq                                 uint64
	StudyUID, SeriesUID, SOPInstanceUID string
}

// changeFeed hands out sequence numbers (on the committer goroutine only)
// and wakes readers waiting for the next commit.
type changeFeed struct {
	last uint64 // the committer's: last number handed out

	mu   sync.Mutex
	wake chan struct{} // closed when a group with changes commits
}

func (f *changeFeed) next() uint64 {
	f.last++
	return f.last
}

// published wakes everyone waiting in Changed.
func (f *changeFeed) published() {
	f.mu.Lock()
	if f.wake != nil {
		close(f.wake)
		f.wake = nil
	}
	f.mu.Unlock()
}

// Changed returns a channel that is closed once changes committed after
// the call can be read. Readers call it before reading the feed, so that a
// commit landing between their read and their wait still wakes them.
func (s *Store) Changed() <-chan struct{} {
	s.feed.mu.Lock()
	defer s.feed.mu.Unlock()
	if s.feed.wake == nil {
		s.feed.wake = make(chan struct{})
	}
	return s.feed.wake
}

// Changes returns up to limit changes with Seq > after, oldest first. The
// feed is written in the same batch as the instance it names, so a change
// is visible exactly when the instance is: consumers that remember the
// last Seq they handled see every stored instance once, across crashes.
func (s *Store) Changes(ctx context.Context, after uint64, limit int) ([]Change, error) {
	if limit <= 0 {
		limit = 1000
	}
	if after == ^uint64(0) {
		return nil, nil
	}
	var out []Change
	from := changeKey(after + 1)
	err := s.scan(ctx, from, prefixEnd([]byte{tChange}), func(k, v []byte) error {
		if len(out) == limit {
			return errStop
		}
		c, err := decodeChange(k, v)
		if err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, fmt.Errorf("read change feed after %d: %w", after, err)
	}
	return out, nil
}

// LastChange is the sequence number of the newest change, 0 if none.
func (s *Store) LastChange(ctx context.Context) (uint64, error) {
	return lastChange(ctx, s.db)
}

func lastChange(ctx context.Context, rd reader) (uint64, error) {
	it, err := rd.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{tChange}, UpperBound: prefixEnd([]byte{tChange})})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	if len(it.Key()) != 9 {
		return 0, fmt.Errorf("corrupt change key %q", it.Key())
	}
	return binary.BigEndian.Uint64(it.Key()[1:]), nil
}

func changeKey(seq uint64) []byte { return blobKey(tChange, seq) }

func encodeChange(study, series, sop string) []byte { return key(0, study, series, sop)[1:] }

func decodeChange(k, v []byte) (Change, error) {
	if len(k) != 9 {
		return Change{}, fmt.Errorf("corrupt change key %q", k)
	}
	_, parts, err := decodeKey(append([]byte{0}, v...))
	if err != nil || len(parts) != 3 {
		return Change{}, fmt.Errorf("corrupt change %x", k)
	}
	return Change{Seq: binary.BigEndian.Uint64(k[1:]), StudyUID: parts[0], SeriesUID: parts[1], SOPInstanceUID: parts[2]}, nil
}
