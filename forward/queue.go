package forward

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/molar-pacs/molar/dimse"
	"github.com/molar-pacs/molar/internal/pebbledb"
	"github.com/molar-pacs/molar/store"
)

// Source is what the queue reads of the archive (store.Store has it).
type Source interface {
	ListInstances(ctx context.Context, study, series string, fn func(store.InstanceRef) error) error
	OpenInstance(ctx context.Context, sop string) (*store.Instance, error)
}

// Errors callers may test for.
var (
	ErrNotFound = errors.New("no such job")
	// ErrConflict: the job's state does not allow what was asked.
	ErrConflict = errors.New("not possible in the job's state")
	ErrClosed   = errors.New("forward queue is closed")
)

// Config configures a Queue. Dir and Source are required.
type Config struct {
	// Dir is the queue's Pebble database (e.g. DATA/forward).
	Dir    string
	Source Source
	// Dialer opens the associations; its CallingAE is our AE title.
	// Default: calling AE title MOLAR and dimse's default timeouts.
	Dialer *dimse.Dialer
	// Concurrency is how many jobs are sent at once (default 2).
	Concurrency int
	// MaxAge is how long a failing job is retried, from its creation or
	// an administrator's Retry (default 7 days).
	MaxAge time.Duration
	// Backoff is the wait between failed attempts (default
	// Exponential(30 s, 1 h, 0.25)).
	Backoff Backoff
	Clock   Clock // default: the system clock
	Logger  *slog.Logger
}

// Queue is the durable forwarding queue. Its methods are safe for
// concurrent use; Run sends the jobs.
type Queue struct {
	db          *pebble.DB
	src         Source
	dialer      *dimse.Dialer
	concurrency int
	maxAge      time.Duration
	backoff     Backoff
	clock       Clock
	log         *slog.Logger

	// mu serialises every read-modify-write of the database and guards
	// the fields below.
	mu       sync.Mutex
	due      map[string]time.Time // jobs waiting for an attempt: when
	active   map[string]context.CancelFunc
	lastNano int64 // time part of the last job ID issued
	running  bool
	closing  bool // Close has begun: public methods refuse
	dbClosed bool

	wake    chan struct{}
	stopCtx context.Context // ends when Close begins
	stop    context.CancelFunc
	wg      sync.WaitGroup // Run
}

// Open opens (creating if needed) the queue in cfg.Dir. Jobs that were
// being sent when the process stopped are queued again, to resume at the
// first instance not acknowledged.
func Open(ctx context.Context, cfg Config) (*Queue, error) {
	if cfg.Dir == "" || cfg.Source == nil {
		return nil, errors.New("open forward queue: Dir and Source are required")
	}
	q := &Queue{
		src: cfg.Source, dialer: cfg.Dialer, concurrency: cfg.Concurrency, maxAge: cfg.MaxAge,
		backoff: cfg.Backoff, clock: cfg.Clock, log: cfg.Logger,
		due: map[string]time.Time{}, active: map[string]context.CancelFunc{},
		wake: make(chan struct{}, 1),
	}
	if q.log == nil {
		q.log = slog.New(slog.DiscardHandler)
	}
	if q.dialer == nil {
		q.dialer = &dimse.Dialer{CallingAE: "MOLAR", Log: q.log}
	}
	if q.concurrency <= 0 {
		q.concurrency = DefaultConcurrency
	}
	if q.maxAge <= 0 {
		q.maxAge = DefaultMaxAge
	}
	if q.backoff == nil {
		q.backoff = Exponential(DefaultInitialDelay, DefaultMaxDelay, DefaultJitter)
	}
	if q.clock == nil {
		q.clock = systemClock{}
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open forward queue %s: %w", cfg.Dir, err)
	}
	db, err := pebbledb.Open(cfg.Dir, pebbledb.Options{Name: "forward", Logger: q.log})
	if err != nil {
		return nil, fmt.Errorf("open forward queue: %w", err)
	}
	q.db = db
	if err := checkFormat(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open forward queue %s: %w", cfg.Dir, err)
	}
	if err := q.load(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open forward queue %s: %w", cfg.Dir, err)
	}
	q.stopCtx, q.stop = context.WithCancel(context.Background())
	return q, nil
}

// load schedules the jobs not yet final and requeues those that were
// being sent.
func (q *Queue) load(ctx context.Context) error {
	now := q.clock.Now()
	b := q.db.NewBatch()
	defer b.Close()
	var resumed []*jobRec
	err := scan(ctx, q.db, []byte{tJob}, []byte{tJob + 1}, false, func(k, v []byte) error {
		var r jobRec
		if err := decode(v, &r); err != nil {
			return fmt.Errorf("job %s: %w", k[1:], err)
		}
		if n, ok := idNano(r.ID); ok {
			q.lastNano = max(q.lastNano, n)
		}
		if r.State.Final() {
			return nil
		}
		if r.State == Sending {
			r.State, r.NextAttempt, r.Updated = Queued, now, now
			if err := setJSON(b, jobKey(r.ID), &r); err != nil {
				return err
			}
			resumed = append(resumed, &r)
		}
		q.due[r.ID] = r.NextAttempt
		return nil
	})
	if err != nil {
		return fmt.Errorf("load jobs: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("requeue interrupted jobs: %w", err)
	}
	for _, r := range resumed {
		q.log.Info("forward: job was being sent when Molar stopped; resuming", "job", r.ID, "urn", r.Reference,
			"ae", r.Node.AETitle, "host", r.Node.Host, "port", r.Node.Port, "sent", r.Sent, "total", r.Total)
	}
	return nil
}

// Close stops Run (sends in progress are aborted and their jobs queued
// again) and closes the database.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closing {
		q.mu.Unlock()
		return nil
	}
	q.closing = true
	q.mu.Unlock()
	q.stop()
	q.wg.Wait()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dbClosed = true
	if err := q.db.Close(); err != nil {
		return fmt.Errorf("close forward queue: %w", err)
	}
	return nil
}

// enter locks mu for a public method, unless the queue is closing.
func (q *Queue) enter() error {
	q.mu.Lock()
	if q.closing {
		q.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// signal wakes Run.
func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// newID returns a job ID: 16 hex digits of creation time in nanoseconds
// (strictly increasing, so keys sort by creation) and 8 random ones.
func (q *Queue) newIDLocked(now time.Time) string {
	n := max(now.UnixNano(), q.lastNano+1)
	q.lastNano = n
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(n))
	rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

func idNano(id string) (int64, bool) {
	if !validID(id) {
		return 0, false
	}
	b, _ := hex.DecodeString(id[:16])
	return int64(binary.BigEndian.Uint64(b)), true
}

func validID(id string) bool {
	if len(id) != 24 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Enqueue adds a job and returns its ID; when a job with the same
// identity (Reference, Node, studies; see the package documentation) is
// pending, it returns that job's ID and changes nothing. Errors wrapping
// ErrInvalid name what is wrong with j.
func (q *Queue) Enqueue(ctx context.Context, j Job) (string, error) {
	j, err := j.validate()
	if err != nil {
		return "", fmt.Errorf("enqueue: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	ident := j.identity()
	if err := q.enter(); err != nil {
		return "", err
	}
	defer q.mu.Unlock()
	if id, err := q.pendingLocked(ident); err != nil || id != "" {
		if id != "" {
			q.log.Info("forward: job already pending; not enqueued again", "job", id, "urn", j.Reference)
		}
		return id, err
	}
	now := q.clock.Now()
	r := &jobRec{
		ID: q.newIDLocked(now), Reference: j.Reference, Reason: j.Reason, Node: j.Node, Studies: j.Studies,
		Identity: ident, State: Queued, NextAttempt: now, GiveUpAt: now.Add(q.maxAge), Created: now, Updated: now,
	}
	b := q.db.NewBatch()
	defer b.Close()
	if err := setJSON(b, jobKey(r.ID), r); err != nil {
		return "", fmt.Errorf("enqueue: %w", err)
	}
	b.Set(identityKey(ident), []byte(r.ID), nil)
	b.Set(referenceKey(r.Reference, r.ID), nil, nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return "", fmt.Errorf("enqueue job for %s: %w", r.Reference, err)
	}
	q.due[r.ID] = now
	q.signal()
	q.log.Info("forward: job queued", "job", r.ID, "urn", r.Reference, "ae", r.Node.AETitle,
		"host", r.Node.Host, "port", r.Node.Port, "studies", len(r.Studies))
	return r.ID, nil
}

// pendingLocked returns the ID of the pending job with identity ident, if
// any.
func (q *Queue) pendingLocked(ident []byte) (string, error) {
	v, closer, err := q.db.Get(identityKey(ident))
	if errors.Is(err, pebble.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up a pending job: %w", err)
	}
	id := string(v)
	closer.Close()
	r, err := getJob(q.db, id)
	if err != nil {
		return "", err
	}
	if r == nil || r.State.Final() {
		// Not written that way; tolerate it rather than block the key.
		return "", nil
	}
	return id, nil
}

// Job returns a job with the outcome of each of its instances.
func (q *Queue) Job(ctx context.Context, id string) (JobStatus, error) {
	if !validID(id) {
		return JobStatus{}, fmt.Errorf("job %q: %w", id, ErrNotFound)
	}
	if err := q.enter(); err != nil {
		return JobStatus{}, err
	}
	defer q.mu.Unlock()
	r, err := getJob(q.db, id)
	if err != nil {
		return JobStatus{}, err
	}
	if r == nil {
		return JobStatus{}, fmt.Errorf("job %s: %w", id, ErrNotFound)
	}
	st := r.status()
	insts, order, err := instances(ctx, q.db, id)
	if err != nil {
		return JobStatus{}, err
	}
	st.Instances = make([]InstanceStatus, 0, len(order))
	for _, sop := range order {
		in := insts[sop]
		st.Instances = append(st.Instances, InstanceStatus{StudyUID: in.Study, SeriesUID: in.Series,
			SOPInstanceUID: sop, SOPClassUID: in.SOPClass, State: in.State, Status: in.Status,
			Comment: in.Comment, Updated: in.Updated})
	}
	return st, nil
}

// Jobs lists jobs, newest first (without their instances).
func (q *Queue) Jobs(ctx context.Context, f Filter) ([]JobStatus, error) {
	for _, s := range f.States {
		if !s.valid() {
			return nil, fmt.Errorf("list jobs: state %q: %w", s, ErrInvalid)
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	limit = min(limit, maxLimit)
	if err := q.enter(); err != nil {
		return nil, err
	}
	defer q.mu.Unlock()
	out := []JobStatus{}
	errEnough := errors.New("enough")
	keep := func(r *jobRec) error {
		if len(f.States) == 0 || slices.Contains(f.States, r.State) {
			out = append(out, r.status())
		}
		if len(out) == limit {
			return errEnough
		}
		return nil
	}
	var err error
	if f.Reference != "" {
		prefix := referencePrefix(f.Reference)
		err = scan(ctx, q.db, prefix, prefixEnd(prefix), true, func(k, _ []byte) error {
			r, err := getJob(q.db, string(k[len(prefix):]))
			if err != nil || r == nil {
				return err
			}
			return keep(r)
		})
	} else {
		err = scan(ctx, q.db, []byte{tJob}, []byte{tJob + 1}, true, func(k, v []byte) error {
			var r jobRec
			if err := decode(v, &r); err != nil {
				return fmt.Errorf("job %s: %w", k[1:], err)
			}
			return keep(&r)
		})
	}
	if err != nil && !errors.Is(err, errEnough) {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return out, nil
}

// Retry makes a job due now. A job waiting (queued or retry-wait) gets its
// next attempt now; a failed or cancelled one is queued again, its failed
// instances are to be sent again (an administrator retries after the node
// was fixed), and it is retried for MaxAge from now. A job being sent or
// done is an ErrConflict; so is reviving a job when another with the same
// identity has been enqueued since.
func (q *Queue) Retry(ctx context.Context, id string) error {
	if !validID(id) {
		return fmt.Errorf("retry job %q: %w", id, ErrNotFound)
	}
	if err := q.enter(); err != nil {
		return err
	}
	defer q.mu.Unlock()
	r, err := getJob(q.db, id)
	if err != nil {
		return err
	}
	if r == nil {
		return fmt.Errorf("retry job %s: %w", id, ErrNotFound)
	}
	b := q.db.NewBatch()
	defer b.Close()
	switch r.State {
	case Sending:
		return fmt.Errorf("retry job %s: it is being sent: %w", id, ErrConflict)
	case Done:
		return fmt.Errorf("retry job %s: it is done; enqueue it again to send it again: %w", id, ErrConflict)
	case Failed, Cancelled:
		other, err := q.pendingLocked(r.Identity)
		if err != nil {
			return err
		}
		if other != "" && other != id {
			return fmt.Errorf("retry job %s: job %s for the same referral, node and studies is pending: %w", id, other, ErrConflict)
		}
		insts, order, err := instances(ctx, q.db, id)
		if err != nil {
			return err
		}
		for _, sop := range order {
			if in := insts[sop]; in.State == InstanceFailed {
				in.State = InstancePending
				if err := setJSON(b, instanceKey(id, sop), in); err != nil {
					return err
				}
				r.Failed--
			}
		}
		b.Set(identityKey(r.Identity), []byte(id), nil)
	}
	now := q.clock.Now()
	r.State, r.NextAttempt, r.GiveUpAt, r.Updated = Queued, now, now.Add(q.maxAge), now
	r.Failures = 0
	if err := setJSON(b, jobKey(id), r); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("retry job %s: %w", id, err)
	}
	q.due[id] = now
	q.signal()
	q.log.Info("forward: job retried by request", "job", id, "urn", r.Reference)
	return nil
}

// Cancel stops a job: it is not attempted again, and a send in progress is
// aborted. A cancelled job stays listed; cancelling it again does nothing.
// A job that is done or failed is an ErrConflict.
func (q *Queue) Cancel(ctx context.Context, id string) error {
	if !validID(id) {
		return fmt.Errorf("cancel job %q: %w", id, ErrNotFound)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := q.enter(); err != nil {
		return err
	}
	defer q.mu.Unlock()
	r, err := getJob(q.db, id)
	if err != nil {
		return err
	}
	switch {
	case r == nil:
		return fmt.Errorf("cancel job %s: %w", id, ErrNotFound)
	case r.State == Cancelled:
		return nil
	case r.State.Final():
		return fmt.Errorf("cancel job %s: it is %s: %w", id, r.State, ErrConflict)
	}
	now := q.clock.Now()
	r.State, r.NextAttempt, r.Updated = Cancelled, time.Time{}, now
	b := q.db.NewBatch()
	defer b.Close()
	if err := setJSON(b, jobKey(id), r); err != nil {
		return err
	}
	b.Delete(identityKey(r.Identity), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("cancel job %s: %w", id, err)
	}
	delete(q.due, id)
	if cancel := q.active[id]; cancel != nil {
		cancel()
	}
	q.log.Info("forward: job cancelled", "job", id, "urn", r.Reference)
	return nil
}
