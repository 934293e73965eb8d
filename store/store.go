package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/molar-pacs/molar/internal/pebbledb"
)

// DuplicatePolicy says what happens when an instance arrives whose SOP
// Instance UID is already stored with different bytes. Identical bytes are
// always a success.
type DuplicatePolicy int

const (
	// RejectDuplicates refuses the new instance with a Conflict reason.
	RejectDuplicates DuplicatePolicy = iota
	// ReplaceDuplicates keeps the newest instance and deletes the old one.
	ReplaceDuplicates
)

// ParseDuplicatePolicy reads "reject" or "replace".
func ParseDuplicatePolicy(s string) (DuplicatePolicy, error) {
	switch s {
	case "reject", "":
		return RejectDuplicates, nil
	case "replace":
		return ReplaceDuplicates, nil
	}
	return 0, fmt.Errorf("duplicate policy %q: want reject or replace", s)
}

func (p DuplicatePolicy) String() string {
	if p == ReplaceDuplicates {
		return "replace"
	}
	return "reject"
}

// Options configure a Store.
type Options struct {
	// Dir holds the index (Dir/index) and, unless Blobs is set, the blobs
	// (Dir/blobs).
	Dir        string
	Duplicates DuplicatePolicy
	Blobs      Blobs // nil: files under Dir/blobs
	Logger     *slog.Logger
	// CacheSize is Pebble's block cache in bytes; 0 picks defaultCacheSize.
	CacheSize int64

	// spillIdle, for tests, replaces the constant of that name.
	spillIdle time.Duration
}

// indexMemTable is the index's memtable size; see openPebble.
const indexMemTable = 64 << 20

// defaultCacheSize holds the hot part of a million-instance index (the
// study, series and secondary-index tables queries touch are about 150 MB).
const defaultCacheSize = 256 << 20

// Store is the archive. It is safe for concurrent use.
type Store struct {
	view   // reads of the live index
	db     *pebble.DB
	blobs  Blobs
	log    *slog.Logger
	policy DuplicatePolicy
	lease  *blobLease

	commits chan *commitReq
	stop    chan struct{}
	wg      sync.WaitGroup

	counters counters
	feed     changeFeed
	spill    *spiller

	// closeMu orders Close after every writer step that touches the index
	// or queues a commit: once closed is set no request can reach the
	// committer after it has drained its queue (it would wait forever),
	// and no lease write can hit the closed index (Pebble panics).
	closeMu sync.RWMutex
	closed  bool

	closeOnce sync.Once
	closeErr  error
}

// ErrClosed is returned by writes to a closed store.
var ErrClosed = errors.New("store is closed")

// whileOpen runs fn unless the store is closed; Close waits for it.
func (s *Store) whileOpen(fn func() error) error {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return fn()
}

// Open opens (creating if needed) the store in opts.Dir and recovers from
// any crash: blobs written but never indexed are removed, deletions that
// were indexed but not yet applied to blobs are finished.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Dir == "" {
		return nil, errors.New("open store: no directory")
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	blobs := opts.Blobs
	if blobs == nil {
		fb, err := NewFileBlobs(filepath.Join(opts.Dir, "blobs"))
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		blobs = fb
	}
	db, err := openPebble(filepath.Join(opts.Dir, "index"), opts.CacheSize, opts.Logger)
	if err != nil {
		return nil, err
	}
	s := &Store{
		view:    view{rd: db},
		db:      db,
		blobs:   blobs,
		log:     opts.Logger,
		policy:  opts.Duplicates,
		commits: make(chan *commitReq, 256),
		stop:    make(chan struct{}),
		spill:   newSpiller(cmp.Or(opts.spillIdle, spillIdle)),
	}
	if err := s.recover(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: recover: %w", err)
	}
	// Inline instances of a run that did not stop cleanly.
	if err := s.spillAll(s.spillDirect, nil); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: write inline instances to blob files: %w", err)
	}
	if s.feed.last, err = lastChange(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: read change feed: %w", err)
	}
	s.wg.Add(2)
	go s.commitLoop()
	go s.spillLoop()
	return s, nil
}

func openPebble(dir string, cacheSize int64, log *slog.Logger) (*pebble.DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cacheSize <= 0 {
		cacheSize = defaultCacheSize
	}
	// The memtable holds inline instances (intake.go) until they are
	// written out: large enough for a burst of them, whose bytes are
	// then deleted in the next pause before a flush copies them into the
	// LSM tree. A longer run of them is flushed like any other data.
	db, err := pebbledb.Open(dir, pebbledb.Options{CacheSize: cacheSize, MemTableSize: indexMemTable, Name: "index", Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	return db, nil
}

// Close waits for in-flight commits, records a clean blob lease and closes
// the index.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closeMu.Lock()
		s.closed = true
		s.closeMu.Unlock()
		close(s.stop)
		s.wg.Wait()
		// Leave every instance in its blob file, where fsck --repair
		// finds it.
		if err := s.spillAll(s.spillDirect, nil); err != nil {
			s.closeErr = fmt.Errorf("close store: write inline instances to blob files: %w", err)
		}
		if err := s.lease.close(); err != nil && s.closeErr == nil {
			s.closeErr = err
		}
		if err := s.db.Close(); err != nil && s.closeErr == nil {
			s.closeErr = fmt.Errorf("close index: %w", err)
		}
	})
	return s.closeErr
}

// recover runs at Open, before any writer exists.
func (s *Store) recover(ctx context.Context) error {
	// Deletions committed to the index whose blobs may still exist.
	var pending []uint64
	if err := s.scan(ctx, []byte{tDeleteBlob}, prefixEnd([]byte{tDeleteBlob}), func(k, _ []byte) error {
		if len(k) == 9 {
			pending = append(pending, binary.BigEndian.Uint64(k[1:]))
		}
		return nil
	}); err != nil {
		return err
	}
	if len(pending) > 0 {
		if err := s.finishBlobDeletes(pending); err != nil {
			return err
		}
		s.log.Info("store recovery: finished interrupted deletions", "blobs", len(pending))
	}

	lease, err := loadLease(s.db)
	if err != nil {
		return err
	}
	// Blobs in the last lease that the index does not own were being written
	// when the process stopped: no one was told they were stored.
	removed := 0
	err = s.blobs.Walk(lease.floor, lease.high, func(id uint64, _ int64) error {
		_, closer, err := s.db.Get(blobKey(tBlob, id))
		if err == nil {
			closer.Close()
			return nil
		}
		if !errors.Is(err, pebble.ErrNotFound) {
			return err
		}
		removed++
		return s.blobs.Remove(id)
	})
	if err != nil {
		return fmt.Errorf("sweep unindexed blobs: %w", err)
	}
	if removed > 0 {
		s.log.Info("store recovery: removed blobs of unacknowledged instances", "blobs", removed)
	}
	s.lease = lease
	return lease.start()
}

func (s *Store) finishBlobDeletes(ids []uint64) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, id := range ids {
		if err := s.blobs.Remove(id); err != nil {
			return err
		}
		if err := b.Delete(blobKey(tDeleteBlob, id), nil); err != nil {
			return err
		}
	}
	// The 'D' keys may go only once the unlinks are durable: a later
	// synced commit can make their removal durable, and a power cut would
	// then leave blobs nothing refers to and nothing will remove.
	if err := s.blobs.Sync(ids); err != nil {
		return err
	}
	return b.Commit(pebble.NoSync)
}

// blobLease hands out blob IDs. IDs are reserved in blocks whose bounds are
// written to the index (with fsync) before any blob in the block exists, so
// after a crash only blobs in [floor, high) need checking against the index.
type blobLease struct {
	db *pebble.DB

	mu       sync.Mutex
	next     uint64
	high     uint64
	floor    uint64
	inflight map[uint64]struct{}
}

const leaseBlock = 4096

var leaseKey = []byte{tMeta, 'l', 'e', 'a', 's', 'e'}

func loadLease(db *pebble.DB) (*blobLease, error) {
	l := &blobLease{db: db, next: 1, high: 1, floor: 1, inflight: map[uint64]struct{}{}}
	v, closer, err := db.Get(leaseKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read blob lease: %w", err)
	}
	defer closer.Close()
	if len(v) != 16 {
		return nil, fmt.Errorf("read blob lease: corrupt value")
	}
	l.floor = binary.BigEndian.Uint64(v)
	l.high = binary.BigEndian.Uint64(v[8:])
	l.next = l.high
	return l, nil
}

// start begins a fresh block above everything handed out before.
func (l *blobLease) start() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.floor = l.next
	return l.extendLocked()
}

func (l *blobLease) extendLocked() error {
	floor := l.next
	for id := range l.inflight {
		floor = min(floor, id)
	}
	high := l.next + leaseBlock
	if err := l.write(floor, high); err != nil {
		return err
	}
	l.floor, l.high = floor, high
	return nil
}

func (l *blobLease) write(floor, high uint64) error {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, floor)
	binary.BigEndian.PutUint64(v[8:], high)
	if err := l.db.Set(leaseKey, v, pebble.Sync); err != nil {
		return fmt.Errorf("write blob lease: %w", err)
	}
	return nil
}

func (l *blobLease) alloc() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.next >= l.high {
		if err := l.extendLocked(); err != nil {
			return 0, err
		}
	}
	id := l.next
	l.next++
	l.inflight[id] = struct{}{}
	return id, nil
}

func (l *blobLease) release(id uint64) {
	l.mu.Lock()
	delete(l.inflight, id)
	l.mu.Unlock()
}

// close records that nothing is in flight, so the next Open checks no blob.
func (l *blobLease) close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.inflight) > 0 {
		return nil
	}
	return l.write(l.next, l.next)
}
