package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Small instances are made durable in the index, not in a file of their
// own. On this kind of disk a new file costs a create, an fsync and a
// directory fsync (three journal commits' worth of waiting and about
// 0.2 ms of kernel CPU), while the index's write-ahead log is synced once
// per group commit anyway. A C-STORE of a 10 kB instance is one request
// at a time on its association, so that difference is most of its answer
// time.
//
// The bytes go into the same batch as the instance's records (table 'b',
// blob ID → bytes) and are acknowledged with it. The spiller later writes
// them out to blob files, as every other instance is stored, and then
// removes them from the index: once the archive has been idle for
// spillIdle, and at Close and Open. So the blob files are the whole
// archive again within moments of a burst, and always after a clean stop
// ("molar fsck --repair" rebuilds the index from them).
//
// Writing a file per instance (create, fsync, directory fsync) is the very
// cost inline storage takes off the C-STORE's answer, and on a 2-core
// machine a spill running beside a burst slowed it by a quarter. So the
// spiller gives way: it stops after the batch in hand when new inline
// instances arrive, and waits for the next pause. Only when more than
// spillHeld bytes are waiting does it spill through a burst, so that what
// a clean stop has to write out stays bounded.

// inlineMax is the largest instance (Part 10 bytes) held in the index.
const inlineMax = 64 << 10

const (
	spillIdle  = 500 * time.Millisecond
	spillHeld  = 128 << 20
	spillBatch = 32
)

// intake receives an instance's bytes: in memory while they fit in
// inlineMax, then in a blob file.
type intake struct {
	s   *Store
	id  uint64
	buf []byte
	w   BlobWriter // nil while the bytes are in buf
}

func (in *intake) Write(p []byte) (int, error) {
	if in.w == nil {
		if len(in.buf)+len(p) <= inlineMax {
			in.buf = append(in.buf, p...)
			return len(p), nil
		}
		w, err := in.s.blobs.Create(in.id)
		if err != nil {
			return 0, err
		}
		if _, err := w.Write(in.buf); err != nil {
			w.Abort()
			return 0, err
		}
		in.w, in.buf = w, nil
	}
	return in.w.Write(p)
}

// inline returns the bytes when they are to be held in the index, else
// nil.
func (in *intake) inline() []byte {
	if in.w != nil {
		return nil
	}
	if in.buf == nil {
		return []byte{}
	}
	return in.buf
}

// commit makes a file's bytes durable; inline bytes become durable with
// the index.
func (in *intake) commit() error {
	if in.w == nil {
		return nil
	}
	return in.w.Commit()
}

func (in *intake) abort() {
	if in.w != nil {
		in.w.Abort()
	}
}

// memBlob is a blob held in memory.
type memBlob struct{ *bytes.Reader }

func (memBlob) Close() error { return nil }

// openBlob opens blob id, wherever it is: among pending (this commit
// group's inline bytes, not yet in the index), in the index, or in a file.
func (s *Store) openBlob(id uint64, pending map[uint64][]byte) (Blob, error) {
	if b, ok := pending[id]; ok {
		return memBlob{bytes.NewReader(b)}, nil
	}
	held, err := s.get(blobKey(tInlineBlob, id))
	if err != nil {
		return nil, fmt.Errorf("open blob %x: %w", id, err)
	}
	if held != nil {
		return memBlob{bytes.NewReader(held)}, nil
	}
	return s.blobs.Open(id)
}

// spiller is the background half of inline storage.
type spiller struct {
	// held estimates the inline bytes not yet written out: added at each
	// commit, taken off as batches are spilled, zero when none are left.
	// Instances deleted before their spill are not taken off, so between
	// spills it errs high, which only spills sooner.
	held atomic.Int64
	wake chan struct{} // a group with inline bytes committed
	idle time.Duration // spillIdle, but for tests
}

func newSpiller(idle time.Duration) *spiller {
	return &spiller{wake: make(chan struct{}, 1), idle: idle}
}

// committed is called by the committer after a group with n inline bytes.
func (sp *spiller) committed(n int64) {
	if n == 0 {
		return
	}
	sp.held.Add(n)
	select {
	case sp.wake <- struct{}{}:
	default:
	}
}

// spilled takes n bytes written out off held.
func (sp *spiller) spilled(n int64) {
	if sp.held.Add(-n) < 0 {
		sp.held.Store(0)
	}
}

// interrupted reports whether inline instances arrived since the spiller
// last looked, and it should give way to them.
func (sp *spiller) interrupted() bool {
	if sp.held.Load() >= spillHeld {
		return false
	}
	select {
	case <-sp.wake:
		return true
	default:
		return false
	}
}

// errInterrupted: the spill gave way to new instances.
var errInterrupted = errors.New("spill interrupted")

// spillLoop writes inline blobs out to files when the archive is idle (or
// holds too much inline), until the store closes.
func (s *Store) spillLoop() {
	defer s.wg.Done()
	sp := s.spill
	for {
		select {
		case <-s.stop:
			return
		case <-sp.wake:
		}
		for {
			if !s.awaitPause() {
				return
			}
			err := s.spillAll(s.spillThroughCommitter, sp.interrupted)
			if errors.Is(err, errInterrupted) {
				continue
			}
			if err != nil {
				s.log.Error("store: writing inline instances to blob files", "err", err)
			}
			break
		}
	}
}

// awaitPause waits until no inline instance has been committed for
// spillIdle, or spillHeld bytes are held; false if the store closes.
func (s *Store) awaitPause() bool {
	sp := s.spill
	for sp.held.Load() < spillHeld {
		select {
		case <-s.stop:
			return false
		case <-sp.wake:
			continue
		case <-time.After(sp.idle):
		}
		break
	}
	return true
}

// spillAll writes every inline blob to its file, spillBatch at a time,
// and has done(ids) drop them from the index. Between batches it stops
// with errInterrupted if interrupted (nil: never) says so.
func (s *Store) spillAll(done func(ids []uint64) error, interrupted func() bool) error {
	for {
		if interrupted != nil && interrupted() {
			return errInterrupted
		}
		var size int64 // of this batch
		// No whileOpen: the index closes only after the spiller has
		// stopped (it is one of the store's goroutines) or, at Close,
		// after this.
		var ids []uint64
		err := s.scan(context.Background(), []byte{tInlineBlob}, prefixEnd([]byte{tInlineBlob}), func(k, v []byte) error {
			if len(k) != 9 {
				return fmt.Errorf("corrupt inline blob key %x", k)
			}
			id := binary.BigEndian.Uint64(k[1:])
			if err := s.writeBlobFile(id, v); err != nil {
				return err
			}
			ids = append(ids, id)
			size += int64(len(v))
			if len(ids) == spillBatch {
				return errBatchFull
			}
			return nil
		})
		if err != nil && !errors.Is(err, errBatchFull) {
			return err
		}
		if len(ids) == 0 {
			if s.spill != nil {
				// Nothing is held: forget what deletions left counted.
				s.spill.held.Store(0)
			}
			return nil
		}
		if err := s.blobs.Sync(ids); err != nil {
			return err
		}
		if err := done(ids); err != nil {
			return err
		}
		if s.spill != nil { // nil in Repair's bare store
			s.spill.spilled(size)
		}
	}
}

var errBatchFull = errors.New("batch full")

// writeBlobFile writes (or, after a crash part-way through a spill,
// rewrites) blob id's file and syncs it.
func (s *Store) writeBlobFile(id uint64, data []byte) error {
	if err := s.blobs.Remove(id); err != nil {
		return err
	}
	w, err := s.blobs.Create(id)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return fmt.Errorf("write blob %x: %w", id, err)
	}
	return w.Commit()
}

// spillThroughCommitter drops spilled blobs from the index through the
// committer, which alone sees whether each is still owned (an instance may
// have been deleted or replaced while its file was written).
func (s *Store) spillThroughCommitter(ids []uint64) error {
	_, err := s.commit(context.Background(), &commitReq{spilled: ids})
	return err
}

// spillDirect drops spilled blobs from the index when no committer runs
// (Open, Close): every inline blob is owned then.
func (s *Store) spillDirect(ids []uint64) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, id := range ids {
		if err := b.Delete(blobKey(tInlineBlob, id), nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync)
}

// isInline reports whether blob id is held in the index (committed, or
// added earlier in this group) rather than in a file.
func (t *txn) isInline(id uint64) (bool, error) {
	if _, ok := t.inline[id]; ok {
		return true, nil
	}
	v, err := t.s.get(blobKey(tInlineBlob, id))
	return v != nil, err
}

// spilled applies a spill in the committer: a blob still owned leaves the
// index (its file has the bytes); one no longer owned was deleted while
// it was written, so its new file goes.
func (t *txn) spilled(ids []uint64) error {
	for _, id := range ids {
		owner, err := t.s.get(blobKey(tBlob, id))
		if err != nil {
			return err
		}
		if owner == nil || t.removed[id] {
			t.discard = append(t.discard, id)
			continue
		}
		if err := t.del(blobKey(tInlineBlob, id)); err != nil {
			return err
		}
	}
	return nil
}
