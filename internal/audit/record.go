package audit

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// recordReq is one entry waiting for the committer.
type recordReq struct {
	entry Entry  // prepared; Seq set by the committer
	body  []byte // entry's JSON (entryV1)
	err   error
	done  chan struct{}
}

// maxGroup bounds how many entries share one fsync, and the queue.
const maxGroup = 512

// Record appends e to the log and returns once it is durable. Seq is
// assigned by the log; Time is set to now if zero. Record refuses an entry
// without an Action, with an Outcome other than the three defined, with a
// field longer than 2 KiB or with a time before 1970 or after 2261.
// Invalid UTF-8 in a field is replaced by U+FFFD before the entry is
// stored and indexed.
//
// ctx bounds only the wait for the committer to accept the entry: once
// accepted it is committed whatever ctx does, and Record waits to report
// whether it was, since the caller must know.
func (l *Log) Record(ctx context.Context, e Entry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("audit record: %w", err)
	}
	e, err := prepare(e, time.Now())
	if err != nil {
		return fmt.Errorf("audit record: %w", err)
	}
	body, err := encodeBody(&e)
	if err != nil {
		return fmt.Errorf("audit record: %w", err)
	}
	req := &recordReq{entry: e, body: body, done: make(chan struct{})}
	err = l.whileOpen(func() error {
		select {
		case l.queue <- req:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if err != nil {
		return fmt.Errorf("audit record: %w", err)
	}
	<-req.done
	if req.err != nil {
		return fmt.Errorf("audit record: %w", req.err)
	}
	return nil
}

// commitLoop is the log's single writer. Entries that arrive while one
// group is being synced form the next group, so concurrent recorders share
// fsyncs instead of queueing behind each other's.
func (l *Log) commitLoop() {
	defer l.wg.Done()
	for {
		select {
		case req := <-l.queue:
			l.commitGroup(l.gather(req))
		case <-l.stop:
			// Close stops new entries before signalling; commit the ones
			// already queued.
			for {
				select {
				case req := <-l.queue:
					l.commitGroup(l.gather(req))
				default:
					return
				}
			}
		}
	}
}

// gather returns first and whatever else is queued, up to maxGroup.
func (l *Log) gather(first *recordReq) []*recordReq {
	group := []*recordReq{first}
	for len(group) < maxGroup {
		select {
		case req := <-l.queue:
			group = append(group, req)
		default:
			return group
		}
	}
	return group
}

// commitGroup numbers and chains the group's entries, writes them and
// their index entries in one batch and syncs it. The head moves only once
// the batch is durable, so a failed commit leaves no gap in the sequence.
func (l *Log) commitGroup(group []*recordReq) {
	seq, prev := l.headSeq, l.headHash // only this goroutine writes them
	b := l.db.NewBatch()
	defer b.Close()
	err := func() error {
		for _, req := range group {
			seq++
			req.entry.Seq = seq
			v := encodeValue(seq, &prev, req.body)
			prev = sha256.Sum256(v)
			if err := b.Set(entryKey(seq), v, nil); err != nil {
				return err
			}
			for _, k := range indexKeys(&req.entry) {
				if err := b.Set(k, nil, nil); err != nil {
					return err
				}
			}
		}
		return b.Commit(pebble.Sync)
	}()
	if err != nil {
		err = fmt.Errorf("commit: %w", err)
		l.log.Error("audit commit failed", "err", err, "entries", len(group))
	} else {
		l.headMu.Lock()
		l.headSeq, l.headHash = seq, prev
		l.headMu.Unlock()
		l.entries.Add(int64(len(group)))
		l.commits.Add(1)
	}
	for _, req := range group {
		req.err = err
		close(req.done)
	}
}
