package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/molar-pacs/molar/internal/pebbledb"
)

// Options configure a Log.
type Options struct {
	// Dir is the log's Pebble database, created if missing. It must not be
	// shared with anything else, the archive index included.
	Dir    string
	Logger *slog.Logger // nil: discard
}

// Log is the audit log. It is safe for concurrent use.
type Log struct {
	db  *pebble.DB
	log *slog.Logger

	queue chan *recordReq
	stop  chan struct{}
	wg    sync.WaitGroup

	// The head of the chain: the newest entry's sequence number and the
	// hash of its value. Only the committer writes them, under headMu.
	headMu   sync.Mutex
	headSeq  uint64
	headHash [32]byte

	entries, commits atomic.Int64
	// entryReads counts entries read by searches, so tests can tell an
	// index walk from a scan.
	entryReads atomic.Int64

	// closeMu orders Close after every queueing and every read: once
	// closed is set nothing reaches the committer after it has drained
	// (the recorder would wait forever) and nothing reads the closed
	// database (Pebble panics).
	closeMu sync.RWMutex
	closed  bool

	closeOnce sync.Once
	closeErr  error
}

// ErrClosed is returned by calls on a closed Log.
var ErrClosed = errors.New("audit log is closed")

// Open opens the log in opts.Dir, creating it if needed.
func Open(ctx context.Context, opts Options) (*Log, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("audit open: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Dir == "" {
		return nil, errors.New("audit open: no directory")
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("audit open: %w", err)
	}
	db, err := openPebble(opts.Dir, opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("audit open: %w", err)
	}
	l := &Log{
		db:    db,
		log:   opts.Logger,
		queue: make(chan *recordReq, maxGroup),
		stop:  make(chan struct{}),
	}
	if err := l.load(); err != nil {
		db.Close()
		return nil, fmt.Errorf("audit open %s: %w", opts.Dir, err)
	}
	l.log.Info("audit log opened", "dir", opts.Dir, "head_seq", l.headSeq,
		"head_sha256", hex.EncodeToString(l.headHash[:]))
	l.wg.Add(1)
	go l.commitLoop()
	return l, nil
}

// openPebble opens the database as the archive opens its index: the newest
// format, Pebble's chatter kept out of the log.
func openPebble(dir string, log *slog.Logger) (*pebble.DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The log is written far more than read; a small cache holds the
	// recent entries searches mostly ask for.
	return pebbledb.Open(dir, pebbledb.Options{CacheSize: 32 << 20, Name: "audit", Logger: log})
}

// load checks the format, creating the log if the database is empty, and
// finds the head of the chain.
func (l *Log) load() error {
	v, closer, err := l.db.Get(formatKey)
	switch {
	case err == nil:
		ok := bytes.Equal(v, []byte{formatVersion})
		closer.Close()
		if !ok {
			return fmt.Errorf("log format %x: this build reads format %d", v, formatVersion)
		}
	case errors.Is(err, pebble.ErrNotFound):
		empty, err := l.isEmpty()
		if err != nil {
			return err
		}
		if !empty {
			return errors.New("the database is not an audit log")
		}
		if err := l.db.Set(formatKey, []byte{formatVersion}, pebble.Sync); err != nil {
			return fmt.Errorf("write format: %w", err)
		}
	default:
		return fmt.Errorf("read format: %w", err)
	}

	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tEntry}, UpperBound: []byte{tEntry + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	if !it.Last() {
		return it.Error()
	}
	k := it.Key()
	v, err = it.ValueAndErr()
	if err != nil {
		return fmt.Errorf("read newest entry: %w", err)
	}
	if len(k) != 9 {
		return fmt.Errorf("newest entry key %x is malformed", k)
	}
	// The chain goes on from the stored bytes whatever they hold: a log
	// that was tampered with must still record, and Verify reports the
	// damage.
	l.headSeq = binary.BigEndian.Uint64(k[1:])
	l.headHash = sha256.Sum256(v)
	if len(v) < valueHeaderLen || v[0] != formatVersion || binary.BigEndian.Uint64(v[1:9]) != l.headSeq {
		l.log.Error("audit log: the newest entry is malformed; run Verify", "seq", l.headSeq)
	}
	return nil
}

func (l *Log) isEmpty() (bool, error) {
	it, err := l.db.NewIter(nil)
	if err != nil {
		return false, err
	}
	empty := !it.First()
	if err := it.Close(); err != nil {
		return false, err
	}
	return empty, nil
}

// head returns the newest committed entry's sequence number and hash.
func (l *Log) head() (uint64, [32]byte) {
	l.headMu.Lock()
	defer l.headMu.Unlock()
	return l.headSeq, l.headHash
}

// whileOpen runs fn unless the log is closed; Close waits for it.
func (l *Log) whileOpen(fn func() error) error {
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	return fn()
}

// Close waits for queued entries to be committed and closes the database.
// It waits for searches, exports and verifications in progress too.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.closeMu.Lock()
		l.closed = true
		l.closeMu.Unlock()
		close(l.stop)
		l.wg.Wait()
		seq, sum := l.head()
		l.log.Info("audit log closed", "head_seq", seq, "head_sha256", hex.EncodeToString(sum[:]))
		if err := l.db.Close(); err != nil {
			l.closeErr = fmt.Errorf("audit close: %w", err)
		}
	})
	return l.closeErr
}

// Stats are counters since Open.
type Stats struct {
	// Entries recorded durably.
	Entries int64
	// Commits is the number of synced batches that recorded them: one
	// fsync each. Entries/Commits is how many recorders share an fsync.
	Commits int64
}

// Stats returns the counters.
func (l *Log) Stats() Stats {
	return Stats{Entries: l.entries.Load(), Commits: l.commits.Load()}
}
