package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Filter selects entries. Zero fields select everything.
type Filter struct {
	URN       string
	NHSNumber string // spaces and hyphens are ignored
	User      string
	// From (inclusive) and To (exclusive) bound Entry.Time.
	From, To time.Time
	// Limit caps the entries returned: for Search, 0 means DefaultLimit and
	// more than MaxLimit means MaxLimit; for Export, 0 means no cap.
	Limit int
	// After is a Page.Next: return the entries that follow that page.
	After string
}

// Search page sizes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Page is one page of search results.
type Page struct {
	Entries []Entry `json:"entries"`
	// Next is the cursor for the following page (Filter.After), or empty
	// if this page holds the last matching entries.
	Next string `json:"next,omitempty"`
}

// ErrBadFilter is wrapped by the errors of filters that cannot be run: a
// malformed cursor, From after To.
var ErrBadFilter = errors.New("bad filter")

// Search returns the entries matching f, newest first (by Time, then Seq).
// When f names a URN, NHS number or user it walks that key's index, in
// that order of preference, and checks the other keys on each entry found.
func (l *Log) Search(ctx context.Context, f Filter) (Page, error) {
	q, err := plan(f)
	if err != nil {
		return Page{}, fmt.Errorf("audit search: %w", err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	entries, more, err := l.page(ctx, q, limit)
	if err != nil {
		return Page{}, fmt.Errorf("audit search: %w", err)
	}
	p := Page{Entries: entries}
	if more {
		p.Next = encodeCursor(posOf(&entries[len(entries)-1]))
	}
	return p, nil
}

// exportPage is how many entries Export reads at a time. Between pages it
// holds no iterator or lock, so a slow reader of the export holds up
// neither Close nor Pebble's compactions.
const exportPage = 256

// Export writes the entries matching f to w as JSON lines, one Entry per
// line, in Search's order. It streams: memory does not grow with the log.
func (l *Log) Export(ctx context.Context, f Filter, w io.Writer) error {
	q, err := plan(f)
	if err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	remaining := f.Limit // <= 0: no cap
	for {
		n := exportPage
		if remaining > 0 {
			n = min(n, remaining)
		}
		entries, more, err := l.page(ctx, q, n)
		if err != nil {
			return fmt.Errorf("audit export: %w", err)
		}
		for i := range entries {
			if err := enc.Encode(&entries[i]); err != nil {
				return fmt.Errorf("audit export: %w", err)
			}
		}
		if remaining > 0 {
			if remaining -= len(entries); remaining == 0 {
				more = false
			}
		}
		if !more {
			break
		}
		q.below(posOf(&entries[len(entries)-1]))
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	return nil
}

// query is a filter compiled to an index walk.
type query struct {
	prefix       []byte // the index and key walked
	lower, upper []byte // the walk's bounds within it
	urn, nhs     string // keys checked on each entry found
	user         string
	from, to     int64 // Unix nanoseconds, [from, to)
}

func plan(f Filter) (*query, error) {
	q := &query{urn: f.URN, nhs: normalNHS(f.NHSNumber), user: f.User, from: 0, to: maxTime.UnixNano()}
	if !f.From.IsZero() {
		q.from = clampNanos(f.From)
	}
	if !f.To.IsZero() {
		q.to = clampNanos(f.To)
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.From.After(f.To) {
		return nil, fmt.Errorf("%w: from %s is after to %s", ErrBadFilter,
			f.From.Format(time.RFC3339Nano), f.To.Format(time.RFC3339Nano))
	}
	switch {
	case q.urn != "":
		q.prefix = indexPrefix(tURN, q.urn)
	case q.nhs != "":
		q.prefix = indexPrefix(tNHS, q.nhs)
	case q.user != "":
		q.prefix = indexPrefix(tUser, q.user)
	default:
		q.prefix = indexPrefix(tTime, "")
	}
	q.lower = appendPos(bytes.Clone(q.prefix), pos{nanos: q.from})
	q.upper = appendPos(bytes.Clone(q.prefix), pos{nanos: q.to})
	if f.After != "" {
		p, err := decodeCursor(f.After)
		if err != nil {
			return nil, err
		}
		q.below(p)
	}
	return q, nil
}

// clampNanos maps t into the range entries' times can have.
func clampNanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return 0
	case t.After(maxTime):
		return maxTime.UnixNano()
	}
	return t.UnixNano()
}

// below narrows the walk to entries older than p.
func (q *query) below(p pos) {
	if k := appendPos(bytes.Clone(q.prefix), p); bytes.Compare(k, q.upper) < 0 {
		q.upper = k
	}
}

// matches reports whether e, found in the index at p, satisfies q.
func (q *query) matches(e *Entry, p pos) bool {
	return (q.urn == "" || e.URN == q.urn) &&
		(q.nhs == "" || normalNHS(e.NHSNumber) == q.nhs) &&
		(q.user == "" || e.User == q.user) &&
		p.nanos >= q.from && p.nanos < q.to
}

// page walks q's index from its upper bound down and returns up to limit
// matching entries, and whether more match beyond them.
func (l *Log) page(ctx context.Context, q *query, limit int) (entries []Entry, more bool, err error) {
	entries = make([]Entry, 0, min(limit, 64))
	err = l.whileOpen(func() error {
		it, err := l.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: q.lower, UpperBound: q.upper})
		if err != nil {
			return err
		}
		err = func() error {
			n := 0
			for valid := it.Last(); valid; valid = it.Prev() {
				if n++; n%256 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				p, ok := posFromKey(it.Key())
				if !ok {
					l.log.Warn("audit index key is malformed; run Verify", "key", fmt.Sprintf("%x", it.Key()))
					continue
				}
				e, err := l.entry(p.seq)
				if err != nil {
					return err
				}
				// An index key that disagrees with its entry was not
				// written by Record; Verify reports it, Search skips it.
				if e == nil || posOf(e) != p {
					l.log.Warn("audit index key does not match an entry; run Verify", "seq", p.seq)
					continue
				}
				if !q.matches(e, p) {
					continue
				}
				if len(entries) == limit {
					more = true
					return nil
				}
				entries = append(entries, *e)
			}
			return it.Error()
		}()
		if cerr := it.Close(); err == nil {
			err = cerr
		}
		return err
	})
	return entries, more, err
}

// entry reads entry seq; nil if there is none.
func (l *Log) entry(seq uint64) (*Entry, error) {
	l.entryReads.Add(1)
	v, closer, err := l.db.Get(entryKey(seq))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read entry %d: %w", seq, err)
	}
	defer closer.Close()
	e, _, err := decodeValue(v)
	if err != nil {
		return nil, fmt.Errorf("entry %d: %w", seq, err)
	}
	return &e, nil
}
