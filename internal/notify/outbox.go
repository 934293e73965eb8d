package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// OutboxMessage is one message written to the Outbox.
type OutboxMessage struct {
	ID        string    `json:"id"`
	To        string    `json:"to"` // E.164
	Channel   Channel   `json:"channel"`
	Text      string    `json:"text"`
	Reference string    `json:"reference,omitempty"`
	SentAt    time.Time `json:"sent_at"`
}

// outboxRecent is how many messages the Outbox keeps in memory for
// Recent; the file keeps them all.
const outboxRecent = 1000

// Outbox is the default Notifier: instead of reaching a phone it appends
// each message as one JSON line to a file (fsynced, mode 0600), so that a
// local run works end to end and tests can read the sign-in code they were
// sent. It is also where voice messages go while Molar has no voice
// provider.
//
// Everything is kept in the file, which grows without bound: the Outbox is
// for local runs, tests and a low volume of voice messages. Reopening the
// file restores Recent and Latest. An Outbox is safe for concurrent use.
type Outbox struct {
	log *slog.Logger
	now func() time.Time

	mu     sync.Mutex
	file   *jsonlFile
	recent []OutboxMessage          // oldest first, at most outboxRecent
	latest map[string]OutboxMessage // by number
	ids    map[string]struct{}      // every message ID, for Status
}

// OpenOutbox opens, or creates, the outbox file at path and loads the
// messages already in it. log may be nil.
func OpenOutbox(path string, log *slog.Logger) (*Outbox, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o := &Outbox{
		log:    log,
		now:    time.Now,
		latest: make(map[string]OutboxMessage),
		ids:    make(map[string]struct{}),
	}
	f, torn, err := openJSONL(path, func(_ int, line []byte) error {
		var m OutboxMessage
		if err := json.Unmarshal(line, &m); err != nil {
			return fmt.Errorf("decode outbox message: %w", err)
		}
		o.remember(m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open outbox: %w", err)
	}
	if torn > 0 {
		log.Warn("outbox: cut a torn last line left by a crash", "path", path, "bytes", torn)
	}
	o.file = f
	return o, nil
}

func (o *Outbox) remember(m OutboxMessage) {
	if len(o.recent) == outboxRecent {
		o.recent = slices.Delete(o.recent, 0, outboxRecent/10)
	}
	o.recent = append(o.recent, m)
	o.ids[m.ID] = struct{}{}
	if prev, ok := o.latest[m.To]; !ok || !m.SentAt.Before(prev.SentAt) {
		o.latest[m.To] = m
	}
}

// Send validates m as a provider would and writes it to the outbox file.
// It returns once the message is on disk.
func (o *Outbox) Send(ctx context.Context, m Message) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("write %s message to outbox: %w", m.Channel, err)
	}
	m, err := m.normalized()
	if err != nil {
		return "", fmt.Errorf("write message to outbox: %w", err)
	}
	om := OutboxMessage{
		ID:        newID(),
		To:        m.To,
		Channel:   m.Channel,
		Text:      m.Text,
		Reference: m.Reference,
		SentAt:    o.now().UTC(),
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.file == nil {
		return "", fmt.Errorf("write %s message to outbox: outbox is closed", m.Channel)
	}
	if err := o.file.append(om); err != nil {
		return "", fmt.Errorf("write %s message to outbox: %w", m.Channel, err)
	}
	o.remember(om)
	// Never log the text: it may be a sign-in code.
	o.log.Info("notify: message written to outbox", "id", om.ID, "channel", om.Channel, "to", maskPhone(om.To))
	return om.ID, nil
}

// Status reports a message in the outbox as delivered: for the outbox,
// being written is being delivered. It returns ErrNotFound for other IDs.
func (o *Outbox) Status(ctx context.Context, notificationID string) (Status, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.ids[notificationID]; !ok {
		return "", fmt.Errorf("outbox status of %s: %w", notificationID, ErrNotFound)
	}
	return StatusDelivered, nil
}

// Recent returns up to limit of the most recent messages, newest first.
func (o *Outbox) Recent(limit int) []OutboxMessage {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := min(max(limit, 0), len(o.recent))
	out := make([]OutboxMessage, 0, n)
	for i := len(o.recent) - 1; len(out) < n; i-- {
		out = append(out, o.recent[i])
	}
	return out
}

// Latest returns the most recent message to the phone number to, written
// in any form NormalizeUKPhone accepts.
func (o *Outbox) Latest(to string) (OutboxMessage, bool) {
	e164, err := NormalizeUKPhone(to)
	if err != nil {
		return OutboxMessage{}, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	m, ok := o.latest[e164]
	return m, ok
}

// Close closes the outbox file. Sends after Close fail.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.file == nil {
		return nil
	}
	err := o.file.close()
	o.file = nil
	return err
}
