// Package pebbledb opens the Pebble databases Molar keeps (the archive's
// index, the audit log, the accounts) the one way DESIGN.md asks: the
// newest format, a quiet logger, and Bloom filters. It owns no data and
// must not know what the databases hold.
package pebbledb

import (
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// Options are what differs between Molar's databases.
type Options struct {
	// CacheSize is the block cache in bytes; 0 leaves Pebble's default.
	CacheSize int64
	// MemTableSize is the steady-state memtable size in bytes; 0 leaves
	// Pebble's default (4 MB).
	MemTableSize uint64
	// Name labels Pebble's errors in the log ("index", "audit", …).
	Name   string
	Logger *slog.Logger // nil: discard
}

// Open opens (creating if needed) the database in dir. Bloom filters are on
// at every level: each of Molar's databases answers point look-ups of keys
// that are mostly absent (new UIDs at ingest, index keys in searches), and
// a filter spares each a read of every table.
func Open(dir string, o Options) (*pebble.DB, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := &pebble.Options{
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             quietLogger{log: log, name: o.Name},
	}
	if o.MemTableSize > 0 {
		opts.MemTableSize = o.MemTableSize
	}
	if o.CacheSize > 0 {
		cache := pebble.NewCache(o.CacheSize)
		defer cache.Unref()
		opts.Cache = cache
	}
	// The setting carries to all levels.
	opts.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open pebble %s: %w", dir, err)
	}
	return db, nil
}

// quietLogger drops Pebble's informational chatter and sends its errors to
// the structured log.
type quietLogger struct {
	log  *slog.Logger
	name string
}

func (quietLogger) Infof(string, ...any) {}

func (l quietLogger) Errorf(format string, args ...any) {
	l.log.Error("pebble", "db", l.name, "msg", fmt.Sprintf(format, args...))
}

func (l quietLogger) Fatalf(format string, args ...any) {
	l.log.Error("pebble fatal", "db", l.name, "msg", fmt.Sprintf(format, args...))
	panic(fmt.Sprintf(format, args...))
}
