package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Channel is how a message reaches the recipient's phone.
type Channel string

// The channels Molar uses. A user chooses SMS or Voice for sign-in codes.
const (
	SMS   Channel = "sms"
	Voice Channel = "voice"
)

// Message is one message to one phone.
type Message struct {
	// To is a UK phone number in any form NormalizeUKPhone accepts.
	// Notifiers store and send it in E.164 form (+44…).
	To      string  `json:"to"`
	Channel Channel `json:"channel"`
	// Text is what the recipient reads or hears. Build it with LoginCodeText
	// or ReferralURNText: it must carry no clinical content.
	Text string `json:"text"`
	// Reference is the caller's own identifier for the message, passed to
	// the provider and back in delivery receipts. Like Notify's reference it
	// must not contain personal information.
	Reference string `json:"reference,omitempty"`
	// ExpiresAt, if set, is when the message stops being useful (a sign-in
	// code's expiry). Notifiers ignore it; the Tracker never sends or
	// resends a message after it.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Notifier sends one message and returns the provider's ID for it.
//
// A nil error means the provider accepted the message, not that it was
// delivered: delivery is reported later (see Tracker).
type Notifier interface {
	Send(ctx context.Context, m Message) (notificationID string, err error)
}

// StatusChecker looks up the delivery status of a message a Notifier sent.
// It returns an error matching ErrNotFound if the provider has no record of
// the ID.
type StatusChecker interface {
	Status(ctx context.Context, notificationID string) (Status, error)
}

// Status is a message's delivery status, in GOV.UK Notify's vocabulary.
type Status string

// The statuses of a text message, as GOV.UK Notify documents them.
const (
	StatusCreated          Status = "created"           // queued at the provider
	StatusSending          Status = "sending"           // handed to the network
	StatusPending          Status = "pending"           // waiting for the handset
	StatusSent             Status = "sent"              // sent internationally; no more news will come
	StatusDelivered        Status = "delivered"         // delivered
	StatusPermanentFailure Status = "permanent-failure" // the number is wrong: never retry
	StatusTemporaryFailure Status = "temporary-failure" // phone off or full for 72 hours: may retry
	StatusTechnicalFailure Status = "technical-failure" // Notify could not reach its provider: retry
)

// Known reports whether s is one of the statuses above.
func (s Status) Known() bool {
	switch s {
	case StatusCreated, StatusSending, StatusPending, StatusSent, StatusDelivered,
		StatusPermanentFailure, StatusTemporaryFailure, StatusTechnicalFailure:
		return true
	}
	return false
}

// Final reports whether no further status will follow s.
func (s Status) Final() bool {
	return s == StatusSent || s == StatusDelivered || s.Failed()
}

// Failed reports whether s is one of the failure statuses.
func (s Status) Failed() bool {
	return s == StatusPermanentFailure || s == StatusTemporaryFailure || s == StatusTechnicalFailure
}

// Retryable reports whether sending the message again may succeed, which
// Notify says of temporary and technical failures and never of permanent
// ones.
func (s Status) Retryable() bool {
	return s == StatusTemporaryFailure || s == StatusTechnicalFailure
}

// Errors a Notifier returns, to be tested with errors.Is.
var (
	// ErrUnsupportedChannel is returned for a channel the Notifier cannot
	// send on, such as Voice to GOV.UK Notify.
	ErrUnsupportedChannel = errors.New("notify: channel not supported")
	// ErrInvalidPhone is returned for a number that is not a UK phone number.
	ErrInvalidPhone = errors.New("notify: invalid phone number")
	// ErrNotMobile is returned for an SMS to a valid UK number that cannot
	// receive text messages (a landline).
	ErrNotMobile = errors.New("notify: not a UK mobile number")
	// ErrInvalidMessage is returned for an empty or over-long text or
	// reference.
	ErrInvalidMessage = errors.New("notify: invalid message")
	// ErrNotFound is returned when a provider has no record of a
	// notification ID.
	ErrNotFound = errors.New("notify: notification not found")
)

// Limits GOV.UK Notify enforces; the outbox enforces them too, so that a
// message that works locally also works nationally.
const (
	maxTextLength      = 918 // "Text messages cannot be longer than 918 characters"
	maxReferenceLength = 1000
)

// normalized returns m with its number in E.164 form, or an error saying
// why m cannot be sent.
func (m Message) normalized() (Message, error) {
	switch m.Channel {
	case SMS, Voice:
	default:
		return m, fmt.Errorf("%w: %q", ErrUnsupportedChannel, m.Channel)
	}
	to, err := NormalizeUKPhone(m.To)
	if err != nil {
		return m, err
	}
	if m.Channel == SMS && !IsUKMobile(to) {
		return m, fmt.Errorf("%w: text messages need a number starting 07", ErrNotMobile)
	}
	m.To = to
	if strings.TrimSpace(m.Text) == "" {
		return m, fmt.Errorf("%w: empty text", ErrInvalidMessage)
	}
	if n := utf8.RuneCountInString(m.Text); n > maxTextLength {
		return m, fmt.Errorf("%w: text is %d characters, more than %d", ErrInvalidMessage, n, maxTextLength)
	}
	if len(m.Reference) > maxReferenceLength {
		return m, fmt.Errorf("%w: reference longer than %d characters", ErrInvalidMessage, maxReferenceLength)
	}
	return m, nil
}

// Router is a Notifier that sends each channel through its own Notifier.
// Production sends SMS through GOV.UK Notify, which has no voice channel,
// and voice to the Outbox until a voice provider is chosen:
//
//	&Router{SMS: govuk, Voice: outbox}
//
// A channel with no Notifier fails with ErrUnsupportedChannel.
type Router struct {
	SMS   Notifier
	Voice Notifier
}

// Send sends m through the Notifier for its channel.
func (r *Router) Send(ctx context.Context, m Message) (string, error) {
	var n Notifier
	switch m.Channel {
	case SMS:
		n = r.SMS
	case Voice:
		n = r.Voice
	}
	if n == nil {
		return "", fmt.Errorf("route %q message: %w", m.Channel, ErrUnsupportedChannel)
	}
	return n.Send(ctx, m)
}
