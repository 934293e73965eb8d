package notify

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DeliveryState is where a tracked message stands.
type DeliveryState string

// The states of a Delivery. Delivered and Failed are final.
const (
	DeliveryAwaiting  DeliveryState = "awaiting-receipt" // the provider accepted it; waiting for the outcome
	DeliveryRetrying  DeliveryState = "retry-scheduled"  // a send is due at NextAttemptAt
	DeliveryDelivered DeliveryState = "delivered"
	DeliveryFailed    DeliveryState = "failed" // see LastError; listed for administrators
)

// Final reports whether s can no longer change.
func (s DeliveryState) Final() bool { return s == DeliveryDelivered || s == DeliveryFailed }

// Delivery is a tracked message: every send of it and its latest known
// status.
type Delivery struct {
	ID string `json:"id"` // the Tracker's own
	// Message is what is being sent. Once the delivery is final its Text is
	// erased, and the next compaction of the state file removes the
	// earlier records that had it: a sign-in code has no business staying
	// on disk.
	Message Message `json:"message"`
	// NotificationID is the provider's ID for the latest send;
	// EarlierNotificationIDs those of the sends before it.
	NotificationID         string        `json:"notification_id,omitempty"`
	EarlierNotificationIDs []string      `json:"earlier_notification_ids,omitempty"`
	Status                 Status        `json:"status,omitempty"` // the provider's latest word
	State                  DeliveryState `json:"state"`
	Attempts               int           `json:"attempts"` // sends made, successful or not
	NextAttemptAt          time.Time     `json:"next_attempt_at,omitzero"`
	LastError              string        `json:"last_error,omitempty"`
	CreatedAt              time.Time     `json:"created_at"`
	UpdatedAt              time.Time     `json:"updated_at"`
}

// TrackerConfig configures a Tracker. Path and Sender are required.
type TrackerConfig struct {
	// Path is the JSON-lines file the tracking state is kept in, for
	// example next to the outbox file.
	Path   string
	Sender Notifier
	// StatusCheckers look up the status of messages sent on each channel,
	// for those whose receipt has not come by callback within PollAfter.
	// A channel without one waits for callbacks only. Production:
	//
	//	map[Channel]StatusChecker{SMS: govuk, Voice: outbox}
	StatusCheckers map[Channel]StatusChecker
	// CallbackToken is the bearer token Notify sends with delivery
	// receipts (at least 10 characters, Notify's minimum). If empty, the
	// callback handler refuses every request.
	CallbackToken string
	// MaxAttempts bounds the sends of one message; the default is 3.
	MaxAttempts int
	// RetryDelay is the wait before the first retry, doubling for each
	// further one up to MaxRetryDelay; the defaults are 30 seconds and 10
	// minutes. Each wait is drawn between half and all of its value, so
	// that messages failing together do not retry together.
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
	// PollAfter is how long a message waits for its receipt before its
	// status is polled, and then between polls; the default is 2 minutes.
	PollAfter time.Duration
	// Retention is how long final deliveries are kept; the default is 30
	// days. Older ones are dropped when the Tracker is opened.
	Retention time.Duration
	Logger    *slog.Logger
	// Clock defaults to time.Now.
	Clock func() time.Time
}

// Tracker sends messages through a Notifier and follows each to delivery:
// it takes Notify's delivery receipts (CallbackHandler), polls for those
// that do not come, and sends again when a retry can help — a temporary or
// technical failure, or a send refused with HTTP 429 or 5xx — with bounded,
// growing waits and at most MaxAttempts sends. A permanent failure is
// final: Notify says the number is wrong, and sending again only costs
// money. Failed deliveries stay listed (Failed) for an administrator.
//
// State is appended to a JSON-lines file (fsynced, mode 0600) so that a
// restart forgets no scheduled retry. Sending is at least once: a message
// whose send was under way when the process died is sent again.
//
// Retries and polls happen in Run, which stops when its context ends.
// A Tracker is safe for concurrent use.
type Tracker struct {
	sender      Notifier
	checkers    map[Channel]StatusChecker
	tokenHash   *[sha256.Size]byte // nil: no callback is accepted
	maxAttempts int
	retryDelay  time.Duration
	maxDelay    time.Duration
	pollAfter   time.Duration
	retention   time.Duration
	log         *slog.Logger
	clock       func() time.Time

	wake    chan struct{} // nudges Run when new work is scheduled
	running atomic.Bool

	mu             sync.Mutex
	file           *jsonlFile
	lines          int                    // records in file
	entries        map[string]*trackEntry // by Delivery.ID
	byNotification map[string]string      // every provider ID sent → Delivery.ID
	orphans        map[string]orphanReceipt
}

type trackEntry struct {
	d         Delivery
	busy      bool      // a send or a poll is under way
	checkedAt time.Time // last poll
}

// orphanReceipt is a receipt that came before its send's result was
// recorded; applied when it is.
type orphanReceipt struct {
	status Status
	at     time.Time
}

const (
	maxOrphans   = 1000
	orphanMaxAge = 10 * time.Minute
	maxIdle      = time.Minute // Run looks around at least this often
	// receiptTimeout is how long a sent message may go without news before
	// it is counted as failed. Notify reports a temporary failure after 72
	// hours of trying; a day more allows for a late receipt.
	receiptTimeout = 96 * time.Hour
)

// OpenTracker opens, or creates, the tracking file and loads the
// deliveries in it. Call Run to retry and poll.
func OpenTracker(cfg TrackerConfig) (*Tracker, error) {
	switch {
	case cfg.Path == "":
		return nil, errors.New("open delivery tracker: no state file path")
	case cfg.Sender == nil:
		return nil, errors.New("open delivery tracker: no sender")
	case cfg.CallbackToken != "" && len(cfg.CallbackToken) < 10:
		return nil, errors.New("open delivery tracker: callback token shorter than 10 characters")
	}
	t := &Tracker{
		sender:         cfg.Sender,
		checkers:       make(map[Channel]StatusChecker),
		maxAttempts:    cmp.Or(max(cfg.MaxAttempts, 0), 3),
		retryDelay:     cmp.Or(max(cfg.RetryDelay, 0), 30*time.Second),
		maxDelay:       cmp.Or(max(cfg.MaxRetryDelay, 0), 10*time.Minute),
		pollAfter:      cmp.Or(max(cfg.PollAfter, 0), 2*time.Minute),
		log:            cfg.Logger,
		clock:          cfg.Clock,
		wake:           make(chan struct{}, 1),
		entries:        make(map[string]*trackEntry),
		byNotification: make(map[string]string),
		orphans:        make(map[string]orphanReceipt),
	}
	for ch, c := range cfg.StatusCheckers {
		if c != nil {
			t.checkers[ch] = c
		}
	}
	if cfg.CallbackToken != "" {
		h := sha256.Sum256([]byte(cfg.CallbackToken))
		t.tokenHash = &h
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.clock == nil {
		t.clock = time.Now
	}
	t.retention = cmp.Or(max(cfg.Retention, 0), 30*24*time.Hour)

	lines := 0
	latest := make(map[string]Delivery)
	f, torn, err := openJSONL(cfg.Path, func(_ int, line []byte) error {
		var d Delivery
		if err := json.Unmarshal(line, &d); err != nil {
			return fmt.Errorf("decode delivery: %w", err)
		}
		if d.ID == "" {
			return errors.New("delivery without an ID")
		}
		lines++
		latest[d.ID] = d // later lines are later states
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open delivery tracker: %w", err)
	}
	if torn > 0 {
		t.log.Warn("notify: cut a torn last line left by a crash", "path", cfg.Path, "bytes", torn)
	}
	t.file, t.lines = f, lines
	for _, d := range latest {
		t.entries[d.ID] = &trackEntry{d: d}
		for _, id := range d.EarlierNotificationIDs {
			t.byNotification[id] = d.ID
		}
		if d.NotificationID != "" {
			t.byNotification[d.NotificationID] = d.ID
		}
	}
	t.mu.Lock()
	err = t.compactLocked()
	t.mu.Unlock()
	if err != nil {
		f.close()
		return nil, fmt.Errorf("open delivery tracker: %w", err)
	}
	return t, nil
}

// compactLocked forgets final deliveries older than the retention period
// and, if the file has more lines than deliveries, rewrites it with one
// line a delivery. The file is append-only in between, so this is also
// what removes the earlier snapshots of a delivery, texts included.
func (t *Tracker) compactLocked() error {
	cutoff := t.now().Add(-t.retention)
	kept := make([]Delivery, 0, len(t.entries))
	for id, e := range t.entries {
		if e.d.State.Final() && e.d.UpdatedAt.Before(cutoff) && !e.busy {
			delete(t.entries, id)
			delete(t.byNotification, e.d.NotificationID)
			for _, nid := range e.d.EarlierNotificationIDs {
				delete(t.byNotification, nid)
			}
			continue
		}
		kept = append(kept, e.d)
	}
	if t.file == nil || t.lines == len(kept) {
		return nil
	}
	slices.SortFunc(kept, func(a, b Delivery) int { return a.CreatedAt.Compare(b.CreatedAt) })
	if err := rewriteJSONL(t.file, kept); err != nil {
		return err
	}
	t.lines = len(kept)
	return nil
}

// maintain compacts the file once it has grown to well over one line a
// delivery, so that a long-running server's state file stays bounded.
func (t *Tracker) maintain() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lines < 2*len(t.entries)+100 {
		return
	}
	if err := t.compactLocked(); err != nil {
		t.log.Error("notify: cannot compact delivery state", "error", err)
	}
}

func (t *Tracker) now() time.Time { return t.clock().UTC() }

// signal wakes Run without blocking.
func (t *Tracker) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Send validates m, records it, and makes the first send with ctx.
//
// An invalid message is refused with an error and not recorded. Otherwise
// Send returns an error, and records the delivery as failed, only when the
// send failed in a way no retry can mend (a refused API key, a number the
// provider rejects). When a retry can help, the delivery comes back in
// state DeliveryRetrying with a nil error, and Run sends it again; if ctx
// ends during the send, likewise, without counting it as an attempt.
func (t *Tracker) Send(ctx context.Context, m Message) (Delivery, error) {
	m, err := m.normalized()
	if err != nil {
		return Delivery{}, fmt.Errorf("track message: %w", err)
	}
	now := t.now()
	if expired(m, now) {
		return Delivery{}, fmt.Errorf("track message: %w: it expired at %v", ErrInvalidMessage, m.ExpiresAt)
	}
	// Recorded before sending: if the process dies during the send, the
	// message is sent again after the restart rather than lost.
	e := &trackEntry{
		busy: true, // ours until the first send is done, not Run's
		d: Delivery{
			ID: newID(), Message: m, State: DeliveryRetrying, NextAttemptAt: now,
			CreatedAt: now, UpdatedAt: now,
		},
	}
	t.mu.Lock()
	if err := t.persistLocked(e.d); err != nil {
		t.mu.Unlock()
		return Delivery{}, fmt.Errorf("track message: %w", err)
	}
	t.entries[e.d.ID] = e
	t.mu.Unlock()
	return t.attempt(ctx, e)
}

func expired(m Message, now time.Time) bool {
	return !m.ExpiresAt.IsZero() && !now.Before(m.ExpiresAt)
}

// attempt sends e's message once. The caller has marked e busy.
func (t *Tracker) attempt(ctx context.Context, e *trackEntry) (Delivery, error) {
	t.mu.Lock()
	m := e.d.Message
	t.mu.Unlock()

	var (
		id      string
		sendErr error
	)
	isExpired := expired(m, t.now())
	if !isExpired {
		id, sendErr = t.sender.Send(ctx, m)
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	e.busy = false
	d := &e.d
	now := t.now()
	d.UpdatedAt = now
	log := t.log.With("delivery", d.ID, "channel", m.Channel, "to", maskPhone(m.To))
	var result error
	switch {
	case d.State.Final():
		// A receipt for an earlier send settled it meanwhile.
		if sendErr == nil && !isExpired {
			t.byNotification[id] = d.ID
			d.EarlierNotificationIDs = append(d.EarlierNotificationIDs, id)
		}
	case isExpired:
		t.failLocked(d, "expired before it could be sent again")
	case sendErr == nil:
		d.Attempts++
		if d.NotificationID != "" {
			d.EarlierNotificationIDs = append(d.EarlierNotificationIDs, d.NotificationID)
		}
		d.NotificationID, d.Status, d.State = id, StatusCreated, DeliveryAwaiting
		d.NextAttemptAt, d.LastError = time.Time{}, ""
		t.byNotification[id] = d.ID
		log.Info("notify: message sent", "notification_id", id, "attempt", d.Attempts)
		if o, ok := t.orphans[id]; ok {
			delete(t.orphans, id)
			t.applyStatusLocked(e, id, o.status)
		}
	case ctx.Err() != nil:
		// Our caller or Run stopped: the send was cut short, not refused,
		// so it does not count as an attempt.
		d.State, d.NextAttemptAt = DeliveryRetrying, now
		d.LastError = "interrupted: " + sendErr.Error()
		log.Info("notify: send interrupted; will send again", "error", sendErr)
	case retryableError(sendErr) && d.Attempts+1 < t.maxAttempts:
		d.Attempts++
		t.scheduleRetryLocked(d, now, retryAfter(sendErr), sendErr.Error())
	default:
		d.Attempts++
		t.failLocked(d, "send: "+sendErr.Error())
		result = fmt.Errorf("send %s message (attempt %d): %w", m.Channel, d.Attempts, sendErr)
	}
	if err := t.persistLocked(*d); err != nil {
		log.Error("notify: cannot record delivery state", "error", err)
		if result == nil {
			result = err
		}
	}
	t.signal() // the delivery may now need polling
	return cloneDelivery(*d), result
}

// retryableError reports whether a failed send may succeed later: the
// provider says so (an *APIError for HTTP 429 or 5xx), or the request
// never got an answer (a network error or a timeout). A request that timed
// out may have been accepted, so a retry can send the message twice; for a
// sign-in code or a reference that beats not sending it.
func retryableError(err error) bool {
	var r interface{ Retryable() bool }
	if errors.As(err, &r) {
		return r.Retryable()
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded)
}

func retryAfter(err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.RetryAfter
	}
	return 0
}

// scheduleRetryLocked schedules the next send of d, which has had
// d.Attempts, or fails d if the wait would outlast the message.
func (t *Tracker) scheduleRetryLocked(d *Delivery, now time.Time, atLeast time.Duration, reason string) {
	wait := t.retryDelay << min(d.Attempts-1, 20)
	if wait <= 0 || wait > t.maxDelay {
		wait = t.maxDelay
	}
	wait = wait/2 + rand.N(wait/2+1)
	wait = min(max(wait, atLeast), t.maxDelay)
	next := now.Add(wait)
	if !d.Message.ExpiresAt.IsZero() && !next.Before(d.Message.ExpiresAt) {
		t.failLocked(d, reason+"; the message expires before it could be sent again")
		return
	}
	d.State, d.NextAttemptAt, d.LastError = DeliveryRetrying, next, reason
	t.log.Info("notify: send failed; retry scheduled", "delivery", d.ID, "attempt", d.Attempts,
		"retry_in", wait, "error", reason)
	t.signal()
}

func (t *Tracker) failLocked(d *Delivery, reason string) {
	d.State, d.NextAttemptAt, d.LastError = DeliveryFailed, time.Time{}, reason
	d.Message.Text = ""
	t.log.Warn("notify: delivery failed", "delivery", d.ID, "channel", d.Message.Channel,
		"to", maskPhone(d.Message.To), "attempts", d.Attempts, "error", reason)
}

func (t *Tracker) deliverLocked(d *Delivery) {
	d.State, d.NextAttemptAt, d.LastError = DeliveryDelivered, time.Time{}, ""
	d.Message.Text = ""
	t.log.Info("notify: message delivered", "delivery", d.ID, "notification_id", d.NotificationID,
		"attempts", d.Attempts)
}

// applyStatusLocked applies the provider's status for notification id to
// e, reporting whether anything changed. A final delivery never changes:
// receipts and polls may arrive late, twice, or out of order.
func (t *Tracker) applyStatusLocked(e *trackEntry, id string, s Status) bool {
	d := &e.d
	if d.State.Final() {
		return false
	}
	now := t.now()
	if id != d.NotificationID {
		// An earlier send: only its success matters now, and it settles
		// the delivery whatever the later sends are doing.
		if s != StatusDelivered && s != StatusSent {
			return false
		}
		d.Status, d.UpdatedAt = s, now
		t.deliverLocked(d)
		return true
	}
	if d.State != DeliveryAwaiting || d.Status == s {
		return false // already acted on: a repeated receipt
	}
	d.Status, d.UpdatedAt = s, now
	switch {
	case s == StatusDelivered || s == StatusSent:
		t.deliverLocked(d)
	case s == StatusPermanentFailure:
		t.failLocked(d, "permanent-failure: the number is wrong or cannot take messages; not retried")
	case s.Retryable() && d.Attempts < t.maxAttempts:
		t.scheduleRetryLocked(d, now, 0, string(s))
	case s.Retryable():
		t.failLocked(d, fmt.Sprintf("%s after %d attempts", s, d.Attempts))
	}
	return true
}

func (t *Tracker) persistLocked(d Delivery) error {
	if t.file == nil {
		return errors.New("record delivery: tracker is closed")
	}
	if err := t.file.append(d); err != nil {
		return fmt.Errorf("record delivery: %w", err)
	}
	t.lines++
	return nil
}

// applyReceipt applies a delivery receipt from Notify.
func (t *Tracker) applyReceipt(id string, s Status) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	did, ok := t.byNotification[id]
	if !ok {
		// Most likely the send's result is still on its way back to us.
		now := t.now()
		if len(t.orphans) >= maxOrphans {
			for k, o := range t.orphans {
				if now.Sub(o.at) > orphanMaxAge {
					delete(t.orphans, k)
				}
			}
		}
		if len(t.orphans) < maxOrphans {
			t.orphans[id] = orphanReceipt{status: s, at: now}
		}
		t.log.Info("notify: receipt for a notification not (yet) tracked", "notification_id", id, "status", s)
		return nil
	}
	e := t.entries[did]
	if e == nil || !t.applyStatusLocked(e, id, s) {
		return nil
	}
	return t.persistLocked(e.d)
}

// Run retries and polls until ctx ends, then returns ctx's error. Only one
// Run may be active at a time.
func (t *Tracker) Run(ctx context.Context) error {
	if !t.running.CompareAndSwap(false, true) {
		return errors.New("delivery tracker: Run is already running")
	}
	defer t.running.Store(false)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		case <-t.wake:
		}
		t.processDue(ctx)
		t.maintain()
		timer.Reset(t.untilNextWork())
	}
}

// processDue makes the sends and polls that are due.
func (t *Tracker) processDue(ctx context.Context) {
	now := t.now()
	var sends, polls []*trackEntry
	t.mu.Lock()
	for _, e := range t.entries {
		if e.busy {
			continue
		}
		switch {
		case e.d.State == DeliveryRetrying && !e.d.NextAttemptAt.After(now):
			sends = append(sends, e)
		case e.d.State == DeliveryAwaiting && now.Sub(e.d.UpdatedAt) > receiptTimeout:
			e.d.UpdatedAt = now
			t.failLocked(&e.d, fmt.Sprintf("no news of the message for %v", receiptTimeout))
			if err := t.persistLocked(e.d); err != nil {
				t.log.Error("notify: cannot record delivery state", "error", err)
			}
			continue
		case e.d.State == DeliveryAwaiting && t.checkers[e.d.Message.Channel] != nil && !t.pollDue(e).After(now):
			polls = append(polls, e)
		default:
			continue
		}
		e.busy = true
	}
	t.mu.Unlock()
	for _, e := range sends {
		if ctx.Err() != nil {
			t.release(e)
			continue
		}
		t.attempt(ctx, e)
	}
	for _, e := range polls {
		if ctx.Err() != nil {
			t.release(e)
			continue
		}
		t.poll(ctx, e)
	}
}

func (t *Tracker) release(e *trackEntry) {
	t.mu.Lock()
	e.busy = false
	t.mu.Unlock()
}

func (t *Tracker) pollDue(e *trackEntry) time.Time {
	last := e.d.UpdatedAt
	if e.checkedAt.After(last) {
		last = e.checkedAt
	}
	return last.Add(t.pollAfter)
}

// untilNextWork is how long Run may sleep.
func (t *Tracker) untilNextWork() time.Duration {
	now := t.now()
	next := now.Add(maxIdle)
	t.mu.Lock()
	for _, e := range t.entries {
		if e.busy {
			continue
		}
		switch {
		case e.d.State == DeliveryRetrying && e.d.NextAttemptAt.Before(next):
			next = e.d.NextAttemptAt
		case e.d.State == DeliveryAwaiting && t.checkers[e.d.Message.Channel] != nil:
			if p := t.pollDue(e); p.Before(next) {
				next = p
			}
		}
	}
	t.mu.Unlock()
	return max(next.Sub(now), time.Millisecond)
}

// poll asks the provider for the status of e's latest send. The caller
// has marked e busy.
func (t *Tracker) poll(ctx context.Context, e *trackEntry) {
	t.mu.Lock()
	id, ch := e.d.NotificationID, e.d.Message.Channel
	t.mu.Unlock()
	s, err := t.checkers[ch].Status(ctx, id)

	t.mu.Lock()
	defer t.mu.Unlock()
	e.busy, e.checkedAt = false, t.now()
	changed := false
	switch {
	case err == nil && s.Known():
		changed = t.applyStatusLocked(e, id, s)
	case err == nil:
		t.log.Warn("notify: provider returned an unknown status", "delivery", e.d.ID, "notification_id", id, "status", s)
	case errors.Is(err, ErrNotFound) && e.d.State == DeliveryAwaiting && id == e.d.NotificationID:
		// Notify keeps statuses for 7 days and has none for smoke-test
		// numbers; either way no receipt will come.
		e.d.UpdatedAt = e.checkedAt
		t.failLocked(&e.d, "the provider has no record of notification "+id)
		changed = true
	case ctx.Err() == nil:
		t.log.Warn("notify: status poll failed; will poll again", "delivery", e.d.ID, "notification_id", id, "error", err)
	}
	if changed {
		if err := t.persistLocked(e.d); err != nil {
			t.log.Error("notify: cannot record delivery state", "error", err)
		}
	}
}

// Get returns the delivery with the Tracker's ID id.
func (t *Tracker) Get(id string) (Delivery, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[id]
	if !ok {
		return Delivery{}, false
	}
	return cloneDelivery(e.d), true
}

// Deliveries returns every delivery kept, newest first.
func (t *Tracker) Deliveries() []Delivery {
	return t.list(func(Delivery) bool { return true })
}

// Failed returns the deliveries that failed for good, most recently
// failed first, for an administrator to follow up.
func (t *Tracker) Failed() []Delivery {
	out := t.list(func(d Delivery) bool { return d.State == DeliveryFailed })
	slices.SortStableFunc(out, func(a, b Delivery) int { return b.UpdatedAt.Compare(a.UpdatedAt) })
	return out
}

func (t *Tracker) list(keep func(Delivery) bool) []Delivery {
	t.mu.Lock()
	var out []Delivery
	for _, e := range t.entries {
		if keep(e.d) {
			out = append(out, cloneDelivery(e.d))
		}
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b Delivery) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

func cloneDelivery(d Delivery) Delivery {
	d.EarlierNotificationIDs = slices.Clone(d.EarlierNotificationIDs)
	return d
}

// Close closes the tracking file. Stop Run first: state changes after
// Close are lost.
func (t *Tracker) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.file == nil {
		return nil
	}
	err := t.file.close()
	t.file = nil
	return err
}
