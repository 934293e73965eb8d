package forward

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/molar-pacs/molar/store"
)

// Run sends due jobs, Config.Concurrency at a time, until ctx ends or the
// queue is closed; then it aborts the sends in progress (their jobs are
// queued again), waits for them and returns nil. Only one Run may run.
func (q *Queue) Run(ctx context.Context) error {
	if err := q.enter(); err != nil {
		return err
	}
	if q.running {
		q.mu.Unlock()
		return errors.New("forward queue: Run is already running")
	}
	q.running = true
	q.wg.Add(1)
	q.mu.Unlock()
	defer q.wg.Done()
	defer func() {
		q.mu.Lock()
		q.running = false
		q.mu.Unlock()
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(q.stopCtx, cancel)
	defer stop()

	var sends sync.WaitGroup
	for {
		picked, wait := q.pick(ctx)
		for _, p := range picked {
			sends.Add(1)
			go func() {
				defer sends.Done()
				q.attempt(p.ctx, p.id)
			}()
		}
		var timer <-chan time.Time
		if wait >= 0 {
			timer = q.clock.After(wait)
		}
		select {
		case <-ctx.Done():
			sends.Wait()
			return nil
		case <-q.wake:
		case <-timer:
		}
	}
}

type picked struct {
	id  string
	ctx context.Context
}

// pick takes the due jobs there is room for, oldest due first, and says
// how long until the next one is due (-1: none is waiting).
func (q *Queue) pick(ctx context.Context) ([]picked, time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if ctx.Err() != nil {
		return nil, -1
	}
	now := q.clock.Now()
	type dueJob struct {
		id string
		at time.Time
	}
	var ready []dueJob
	wait := time.Duration(-1)
	for id, at := range q.due {
		if _, busy := q.active[id]; busy {
			continue
		}
		if !at.After(now) {
			ready = append(ready, dueJob{id, at})
		} else if d := at.Sub(now); wait < 0 || d < wait {
			wait = d
		}
	}
	slices.SortFunc(ready, func(a, b dueJob) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.id, b.id)) })
	var out []picked
	for _, j := range ready {
		if len(q.active) >= q.concurrency {
			break
		}
		jctx, cancel := context.WithCancel(ctx)
		q.active[j.id] = cancel
		delete(q.due, j.id)
		out = append(out, picked{j.id, jctx})
	}
	return out, wait
}

// attempt makes one attempt at job id.
func (q *Queue) attempt(ctx context.Context, id string) {
	defer func() {
		q.mu.Lock()
		if cancel := q.active[id]; cancel != nil {
			cancel()
		}
		delete(q.active, id)
		q.mu.Unlock()
		q.signal()
	}()
	r, err := q.begin(id)
	if err != nil {
		q.log.Error("forward: cannot start an attempt", "job", id, "err", err)
		q.requeueAfterLocalError(id)
		return
	}
	if r == nil {
		return // cancelled or retried meanwhile
	}
	log := q.log.With("job", id, "urn", r.Reference, "ae", r.Node.AETitle, "host", r.Node.Host,
		"port", r.Node.Port, "attempt", r.Attempts)
	log.Info("forward: attempt started", "studies", len(r.Studies), "total", r.Total, "sent", r.Sent, "failed", r.Failed)
	started := time.Now() // for the log: how long the work took
	sendErr := q.send(ctx, r, log)
	q.end(ctx, id, sendErr, started, log)
}

// begin marks job id as being sent and counts the attempt; nil when the
// job is no longer waiting.
func (q *Queue) begin(id string) (*jobRec, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dbClosed {
		return nil, ErrClosed
	}
	r, err := getJob(q.db, id)
	if err != nil || r == nil || (r.State != Queued && r.State != RetryWait) {
		return nil, err
	}
	now := q.clock.Now()
	r.State, r.Attempts, r.NextAttempt, r.Updated = Sending, r.Attempts+1, time.Time{}, now
	if err := q.putJobLocked(r); err != nil {
		return nil, fmt.Errorf("mark job %s as sending: %w", id, err)
	}
	return r, nil
}

// requeueAfterLocalError puts a job that could not even be started back
// in the schedule, a backoff away.
func (q *Queue) requeueAfterLocalError(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closing {
		q.due[id] = q.clock.Now().Add(q.backoff(1))
	}
}

func (q *Queue) putJobLocked(r *jobRec) error {
	b := q.db.NewBatch()
	defer b.Close()
	if err := setJSON(b, jobKey(r.ID), r); err != nil {
		return err
	}
	return b.Commit(pebble.Sync)
}

// pendingInstance is an instance of the job still to send.
type pendingInstance struct {
	ref store.InstanceRef
	rec *instRec
}

// plan lists the studies' instances, records those new to the job and
// those that left the archive, and returns the instances to send, in the
// archive's order.
func (q *Queue) plan(ctx context.Context, r *jobRec) ([]pendingInstance, error) {
	var refs []store.InstanceRef
	for _, study := range r.Studies {
		n := 0
		err := q.src.ListInstances(ctx, study, "", func(ref store.InstanceRef) error {
			refs = append(refs, ref)
			n++
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list the instances of study %s: %w", study, err)
		}
		if n == 0 {
			return nil, fmt.Errorf("study %s has no instances in the archive (yet)", study)
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dbClosed {
		return nil, ErrClosed
	}
	insts, _, err := instances(ctx, q.db, r.ID)
	if err != nil {
		return nil, err
	}
	cur, err := getJob(q.db, r.ID)
	if err != nil {
		return nil, err
	}
	if cur == nil || cur.State != Sending {
		return nil, context.Canceled // cancelled meanwhile; end sees why
	}
	now := q.clock.Now()
	b := q.db.NewBatch()
	defer b.Close()
	var out []pendingInstance
	listed := map[string]bool{}
	for _, ref := range refs {
		listed[ref.SOPInstanceUID] = true
		in := insts[ref.SOPInstanceUID]
		if in == nil {
			in = &instRec{Study: ref.StudyUID, Series: ref.SeriesUID, SOPClass: ref.SOPClassUID, State: InstancePending, Updated: now}
			if err := setJSON(b, instanceKey(r.ID, ref.SOPInstanceUID), in); err != nil {
				return nil, err
			}
			cur.Total++
		}
		if in.State == InstancePending {
			out = append(out, pendingInstance{ref: ref, rec: in})
		}
	}
	for sop, in := range insts {
		if in.State == InstancePending && !listed[sop] {
			in.State, in.Comment, in.Updated = InstanceFailed, "no longer in the archive", now
			if err := setJSON(b, instanceKey(r.ID, sop), in); err != nil {
				return nil, err
			}
			cur.Failed++
		}
	}
	if b.Empty() {
		return out, nil
	}
	cur.Updated = now
	if err := setJSON(b, jobKey(r.ID), cur); err != nil {
		return nil, err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return nil, fmt.Errorf("record the instances of job %s: %w", r.ID, err)
	}
	*r = *cur
	return out, nil
}

// record stores the outcome of one instance and updates the job's counts.
// Only the job's own attempt writes its instance records.
func (q *Queue) record(id, sop string, in *instRec, from InstanceState) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dbClosed {
		return ErrClosed
	}
	r, err := getJob(q.db, id)
	if err != nil {
		return err
	}
	if r == nil {
		return fmt.Errorf("job %s: %w", id, ErrNotFound)
	}
	b := q.db.NewBatch()
	defer b.Close()
	in.Updated = q.clock.Now()
	if err := setJSON(b, instanceKey(id, sop), in); err != nil {
		return err
	}
	if from == InstancePending {
		switch in.State {
		case InstanceSent:
			r.Sent++
		case InstanceFailed:
			r.Failed++
		}
	}
	r.Updated = in.Updated
	if err := setJSON(b, jobKey(id), r); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("record instance %s of job %s: %w", sop, id, err)
	}
	return nil
}

// end records the attempt's outcome: done or failed when nothing is left
// to send, retry-wait (or failed, past GiveUpAt) when the attempt failed,
// queued again when it was interrupted by shutdown.
func (q *Queue) end(ctx context.Context, id string, sendErr error, started time.Time, log *slog.Logger) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dbClosed {
		log.Error("forward: queue closed before the attempt's end was recorded")
		return
	}
	r, err := getJob(q.db, id)
	if err != nil || r == nil {
		log.Error("forward: cannot record the attempt's end", "err", errOr(err, ErrNotFound))
		return
	}
	if r.State != Sending {
		// Cancelled while sending: Cancel has written the state.
		log.Info("forward: attempt stopped", "state", r.State, "total", r.Total, "sent", r.Sent, "failed", r.Failed)
		return
	}
	now := q.clock.Now()
	r.Updated = now
	dropIdentity := false
	level := slog.LevelInfo
	switch {
	case sendErr != nil && ctx.Err() != nil:
		// Shutdown (Cancel would have changed the state): not the node's
		// fault, so no failure is counted and no backoff applies.
		r.State, r.NextAttempt = Queued, now
	case sendErr == nil && r.Sent+r.Failed >= r.Total:
		r.NextAttempt, r.Failures = time.Time{}, 0
		if r.Failed == 0 {
			r.State, r.LastError = Done, ""
		} else {
			r.State, r.LastError = Failed, q.failureSummaryLocked(ctx, id, r.Failed)
			level = slog.LevelWarn
		}
		dropIdentity = true
	default:
		if sendErr == nil {
			sendErr = errors.New("instances left unsent")
		}
		level = slog.LevelWarn
		r.Failures++
		r.LastError = sendErr.Error()
		if !now.Before(r.GiveUpAt) {
			r.State, r.NextAttempt = Failed, time.Time{}
			r.LastError = fmt.Sprintf("gave up after %d attempts over %v: %s", r.Attempts,
				now.Sub(r.Created).Round(time.Second), sendErr)
			dropIdentity = true
		} else {
			r.State = RetryWait
			r.NextAttempt = now.Add(q.backoff(r.Failures))
			if r.NextAttempt.After(r.GiveUpAt) {
				r.NextAttempt = r.GiveUpAt // one last attempt at the limit
			}
		}
	}
	b := q.db.NewBatch()
	defer b.Close()
	if err := setJSON(b, jobKey(id), r); err != nil {
		log.Error("forward: cannot record the attempt's end", "err", err)
		return
	}
	if dropIdentity {
		b.Delete(identityKey(r.Identity), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		// The job stays "sending" on disk and resumes at the next start.
		log.Error("forward: cannot record the attempt's end", "err", err)
		return
	}
	if !r.State.Final() {
		q.due[id] = r.NextAttempt
	}
	attrs := []any{"state", r.State, "total", r.Total, "sent", r.Sent, "failed", r.Failed,
		"took", time.Since(started).Round(time.Millisecond)}
	if !r.NextAttempt.IsZero() {
		attrs = append(attrs, "next_attempt", r.NextAttempt)
	}
	if r.LastError != "" && r.State != Queued {
		attrs = append(attrs, "err", r.LastError)
	}
	log.Log(context.WithoutCancel(ctx), level, "forward: attempt ended", attrs...)
}

// failureSummaryLocked says which instances failed for good, for
// LastError.
func (q *Queue) failureSummaryLocked(ctx context.Context, id string, failed int) string {
	insts, order, err := instances(context.WithoutCancel(ctx), q.db, id)
	if err != nil {
		return fmt.Sprintf("%d instances could not be delivered", failed)
	}
	for _, sop := range order {
		if in := insts[sop]; in.State == InstanceFailed {
			first := "instance " + sop
			if in.Status != "" {
				first += " status " + in.Status
			}
			if in.Comment != "" {
				first += ": " + in.Comment
			}
			if failed == 1 {
				return "1 instance could not be delivered: " + first
			}
			return fmt.Sprintf("%d instances could not be delivered; the first: %s", failed, first)
		}
	}
	return fmt.Sprintf("%d instances could not be delivered", failed)
}

func errOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}
