package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func sms(to, text string) Message {
	return Message{To: to, Channel: SMS, Text: text, Reference: "ref-" + to}
}

func TestTrackerDeliveredByCallback(t *testing.T) {
	env := newTrackerEnv(t, envOptions{})
	d, err := env.tracker.Send(context.Background(), sms(testNumberDelivered, "Your code is 123456"))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if d.State != DeliveryAwaiting || d.Status != StatusCreated || d.Attempts != 1 || !isUUID(d.NotificationID) {
		t.Fatalf("after Send: %+v", d)
	}
	if d.Message.To != "+447700900456" {
		t.Errorf("tracked number %q, want E.164", d.Message.To)
	}
	if n := env.fake.settle(); n != 1 {
		t.Fatalf("settled %d, want 1", n)
	}
	got := env.delivery(t, d.ID) // the callback has been handled when settle returns
	if got.State != DeliveryDelivered || got.Status != StatusDelivered || got.Attempts != 1 {
		t.Errorf("after receipt: %+v", got)
	}
	if got.Message.Text != "" {
		t.Errorf("text %q kept after delivery, want it erased", got.Message.Text)
	}
	if len(env.tracker.Failed()) != 0 {
		t.Errorf("Failed = %+v, want none", env.tracker.Failed())
	}
}

func TestTrackerPermanentFailureIsFinal(t *testing.T) {
	env := newTrackerEnv(t, envOptions{})
	d, err := env.tracker.Send(context.Background(), sms(testNumberPermanentFailure, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	env.fake.settle()
	got := env.delivery(t, d.ID)
	if got.State != DeliveryFailed || got.Status != StatusPermanentFailure || !strings.Contains(got.LastError, "not retried") {
		t.Fatalf("after permanent-failure: %+v", got)
	}
	// Retry waits here are a few milliseconds: give any retry ample time.
	time.Sleep(100 * time.Millisecond)
	if n := env.fake.acceptedSends(); n != 1 {
		t.Errorf("Notify got %d sends, want 1: a permanent failure must not be retried", n)
	}
	failed := env.tracker.Failed()
	if len(failed) != 1 || failed[0].ID != d.ID || failed[0].Attempts != 1 {
		t.Errorf("Failed = %+v, want the one delivery", failed)
	}
}

func TestTrackerTemporaryFailureRetriedThenDelivered(t *testing.T) {
	env := newTrackerEnv(t, envOptions{})
	env.fake.script(testNumberDelivered, StatusTemporaryFailure, StatusDelivered)
	d, err := env.tracker.Send(context.Background(), sms(testNumberDelivered, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	env.fake.settle() // temporary-failure: the tracker schedules a resend
	waitFor(t, "the resend", func() bool { return env.fake.acceptedSends() == 2 })
	waitFor(t, "the resend to be recorded", func() bool {
		got, _ := env.tracker.Get(d.ID)
		return got.State == DeliveryAwaiting
	})
	env.fake.settle()
	got := env.waitState(t, d.ID, DeliveryDelivered)
	if got.Attempts != 2 || len(got.EarlierNotificationIDs) != 1 ||
		got.EarlierNotificationIDs[0] != d.NotificationID || got.NotificationID == d.NotificationID {
		t.Errorf("after retry: %+v (first notification %s)", got, d.NotificationID)
	}
}

func TestTrackerTemporaryFailureExhausted(t *testing.T) {
	env := newTrackerEnv(t, envOptions{})
	d, err := env.tracker.Send(context.Background(), sms(testNumberTemporaryFailure, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 3; attempt++ {
		waitFor(t, "a send", func() bool { return env.fake.acceptedSends() == attempt })
		waitFor(t, "the send to be recorded", func() bool {
			got, _ := env.tracker.Get(d.ID)
			return got.State == DeliveryAwaiting && got.Attempts == attempt
		})
		env.fake.settle()
	}
	got := env.waitState(t, d.ID, DeliveryFailed)
	if got.Attempts != 3 || got.Status != StatusTemporaryFailure || got.LastError != "temporary-failure after 3 attempts" {
		t.Errorf("after three temporary failures: %+v", got)
	}
	time.Sleep(100 * time.Millisecond)
	if n := env.fake.acceptedSends(); n != 3 {
		t.Errorf("Notify got %d sends, want MaxAttempts = 3", n)
	}
	if failed := env.tracker.Failed(); len(failed) != 1 || failed[0].ID != d.ID {
		t.Errorf("Failed = %+v", failed)
	}
}

func TestTrackerRetriesRefusedSends(t *testing.T) {
	tests := []struct {
		name      string
		failures  []fakeFailure
		wantState DeliveryState
		wantError string
		requests  int
	}{
		{"429 then 500 then accepted", []fakeFailure{failRateLimit, failServer}, DeliveryDelivered, "", 3},
		{"500 three times", []fakeFailure{failServer, failServer, failServer}, DeliveryFailed, "HTTP 500", 3},
		{"daily limit is not retried", []fakeFailure{failDailyLimit}, DeliveryFailed, "TooManyRequestsError", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newTrackerEnv(t, envOptions{})
			env.fake.failNextSends(tc.failures...)
			d, err := env.tracker.Send(context.Background(), sms(testNumberDelivered, "hello"))
			if d.Attempts != 1 {
				t.Errorf("first Send: %d attempts, want 1", d.Attempts)
			}
			if tc.requests > 1 {
				// Retryable: Send hands the message to Run without an error.
				if err != nil || d.State != DeliveryRetrying || d.NextAttemptAt.IsZero() {
					t.Fatalf("Send = %+v, %v; want a scheduled retry", d, err)
				}
			}
			waitFor(t, "a final state", func() bool {
				got, _ := env.tracker.Get(d.ID)
				if got.State == DeliveryAwaiting {
					env.fake.settle()
				}
				return got.State.Final()
			})
			got := env.delivery(t, d.ID)
			if got.State != tc.wantState || !strings.Contains(got.LastError, tc.wantError) || got.Attempts != tc.requests {
				t.Errorf("final: %+v; want %s with error %q after %d attempts", got, tc.wantState, tc.wantError, tc.requests)
			}
			if n := env.fake.requestCount(); n != tc.requests {
				t.Errorf("Notify got %d requests, want %d", n, tc.requests)
			}
		})
	}
}

func TestTrackerBadAPIKey(t *testing.T) {
	env := newTrackerEnv(t, envOptions{client: []func(*GovUKConfig){func(c *GovUKConfig) {
		c.APIKey = mustParseKey(t, "molar_test-"+newID()+"-"+newID())
	}}})
	d, err := env.tracker.Send(context.Background(), sms(testNumberDelivered, "hello"))
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "HTTP 403") || !strings.Contains(err.Error(), "AuthError") {
		t.Fatalf("Send with a key Notify refuses: %v, want a 403 matching ErrAuth", err)
	}
	if d.State != DeliveryFailed || !strings.Contains(d.LastError, "Invalid token") {
		t.Errorf("delivery = %+v, want failed with Notify's reason", d)
	}
	time.Sleep(50 * time.Millisecond)
	if n := env.fake.requestCount(); n != 1 {
		t.Errorf("Notify got %d requests, want 1: a refused key is not retried", n)
	}
	if failed := env.tracker.Failed(); len(failed) != 1 {
		t.Errorf("Failed = %+v, want the delivery", failed)
	}
}

func TestCallbackHandler(t *testing.T) {
	env := newTrackerEnv(t, envOptions{noCallback: true})
	d, err := env.tracker.Send(context.Background(), sms(testNumberDelivered, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	receipt := map[string]any{
		"id": d.NotificationID, "reference": d.Message.Reference, "to": "07700900456", "status": "delivered",
		"created_at": "2026-05-14T12:15:30.000000Z", "completed_at": "2026-05-14T12:15:31.000000Z",
		"sent_at": "2026-05-14T12:15:30.500000Z", "notification_type": "sms",
	}
	bearer := "Bearer " + testCallbackToken
	tests := []struct {
		name          string
		authorization string
		body          any
		want          int
	}{
		{"no token", "", receipt, http.StatusUnauthorized},
		{"wrong token", "Bearer not-the-token-at-all", receipt, http.StatusUnauthorized},
		{"token prefix", "Bearer " + testCallbackToken[:20], receipt, http.StatusUnauthorized},
		{"token as basic auth", "Basic " + testCallbackToken, receipt, http.StatusUnauthorized},
		{"bad JSON", bearer, []byte(`{"id":`), http.StatusBadRequest},
		{"unknown status", bearer, map[string]any{"id": d.NotificationID, "status": "lost"}, http.StatusBadRequest},
		{"no id", bearer, map[string]any{"status": "delivered"}, http.StatusBadRequest},
		{"bad timestamp", bearer, map[string]any{"id": d.NotificationID, "status": "delivered", "created_at": "yesterday"}, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := postReceipt(t, env.callbackURL, tc.authorization, tc.body); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
			if got := env.delivery(t, d.ID); got.State != DeliveryAwaiting {
				t.Errorf("a refused receipt changed the delivery: %+v", got)
			}
		})
	}

	resp, err := http.Get(env.callbackURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", resp.StatusCode)
	}

	// The scheme is case-insensitive.
	if got := postReceipt(t, env.callbackURL, "bearer "+testCallbackToken, receipt); got != http.StatusNoContent {
		t.Fatalf("good receipt: status %d, want 204", got)
	}
	if got := env.delivery(t, d.ID); got.State != DeliveryDelivered || got.Status != StatusDelivered {
		t.Errorf("after a good receipt: %+v", got)
	}
	// Notify repeats receipts it thinks failed; a repeat changes nothing.
	if got := postReceipt(t, env.callbackURL, bearer, receipt); got != http.StatusNoContent {
		t.Errorf("repeated receipt: status %d, want 204", got)
	}
	// A receipt for a notification we did not send is acknowledged, so
	// Notify stops repeating it.
	unknown := map[string]any{"id": newID(), "status": "delivered"}
	if got := postReceipt(t, env.callbackURL, bearer, unknown); got != http.StatusNoContent {
		t.Errorf("unknown notification: status %d, want 204", got)
	}
}

func TestCallbackHandlerWithoutToken(t *testing.T) {
	env := newTrackerEnv(t, envOptions{noRun: true, tracker: func(c *TrackerConfig) { c.CallbackToken = "" }})
	for _, auth := range []string{"", "Bearer ", "Bearer " + testCallbackToken} {
		if got := postReceipt(t, env.callbackURL, auth, map[string]any{"id": newID(), "status": "delivered"}); got != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d, want 401", auth, got)
		}
	}
	if _, err := OpenTracker(TrackerConfig{Path: env.cfg.Path + ".2", Sender: env.outbox, CallbackToken: "short"}); err == nil {
		t.Error("OpenTracker accepted a 5-character callback token")
	}
}

func TestTrackerRepeatedFailureReceiptResendsOnce(t *testing.T) {
	env := newTrackerEnv(t, envOptions{noCallback: true, tracker: func(c *TrackerConfig) {
		c.RetryDelay, c.MaxRetryDelay = time.Hour, time.Hour // the resend stays scheduled
	}})
	d, err := env.tracker.Send(context.Background(), sms(testNumberDelivered, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	failure := map[string]any{"id": d.NotificationID, "status": "temporary-failure"}
	for range 3 {
		if got := postReceipt(t, env.callbackURL, "Bearer "+testCallbackToken, failure); got != http.StatusNoContent {
			t.Fatalf("status %d", got)
		}
	}
	got := env.delivery(t, d.ID)
	if got.State != DeliveryRetrying || got.Attempts != 1 {
		t.Errorf("after three copies of one receipt: %+v, want one retry scheduled", got)
	}
}

func TestTrackerLateReceiptForEarlierSend(t *testing.T) {
	env := newTrackerEnv(t, envOptions{})
	env.fake.script(testNumberDelivered, StatusTemporaryFailure)
	env.fake.script(testNumberDelivered, StatusTemporaryFailure)
	d, err := env.tracker.Send(context.Background(), sms(testNumberDelivered, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	env.fake.settle()
	waitFor(t, "the resend to be recorded", func() bool {
		got, _ := env.tracker.Get(d.ID)
		return got.State == DeliveryAwaiting && got.Attempts == 2
	})
	// The first send, reported failed, reaches the phone after all.
	late := map[string]any{"id": d.NotificationID, "status": "delivered"}
	if got := postReceipt(t, env.callbackURL, "Bearer "+testCallbackToken, late); got != http.StatusNoContent {
		t.Fatalf("status %d", got)
	}
	got := env.delivery(t, d.ID)
	if got.State != DeliveryDelivered {
		t.Fatalf("after a late delivered receipt for the first send: %+v", got)
	}
	env.fake.settle() // the second send's temporary failure must not reopen it
	time.Sleep(50 * time.Millisecond)
	if got := env.delivery(t, d.ID); got.State != DeliveryDelivered || env.fake.acceptedSends() != 2 {
		t.Errorf("after the second send failed: %+v, %d sends", got, env.fake.acceptedSends())
	}
}

func TestTrackerReceiptBeforeSendReturns(t *testing.T) {
	// Notify can answer a callback before our send has recorded the ID.
	var tr *Tracker
	sender := notifierFunc(func(ctx context.Context, m Message) (string, error) {
		id := newID()
		if err := tr.applyReceipt(id, StatusDelivered); err != nil {
			return "", err
		}
		return id, nil
	})
	var err error
	tr, err = OpenTracker(TrackerConfig{Path: t.TempDir() + "/deliveries.jsonl", Sender: sender})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	d, err := tr.Send(context.Background(), sms(testNumberDelivered, "hello"))
	if err != nil || d.State != DeliveryDelivered {
		t.Errorf("Send = %+v, %v; want delivered by the early receipt", d, err)
	}
}

func TestTrackerPollsWithoutCallback(t *testing.T) {
	env := newTrackerEnv(t, envOptions{noCallback: true, tracker: func(c *TrackerConfig) {
		c.StatusCheckers[SMS] = c.Sender.(*Router).SMS.(*GovUKClient)
	}})
	delivered, err := env.tracker.Send(context.Background(), sms(testNumberDelivered, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	failed, err := env.tracker.Send(context.Background(), sms(testNumberPermanentFailure, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond) // polls see "created" and change nothing
	if got := env.delivery(t, delivered.ID); got.State != DeliveryAwaiting {
		t.Fatalf("before delivery: %+v", got)
	}
	env.fake.settle() // no callback: only a poll can tell
	env.waitState(t, delivered.ID, DeliveryDelivered)
	if got := env.waitState(t, failed.ID, DeliveryFailed); got.Status != StatusPermanentFailure {
		t.Errorf("polled failure: %+v", got)
	}
}

func TestTrackerPollOfUnknownNotificationFails(t *testing.T) {
	// Smoke test numbers get an ID Notify keeps no status for.
	env := newTrackerEnv(t, envOptions{noCallback: true, tracker: func(c *TrackerConfig) {
		c.StatusCheckers[SMS] = c.Sender.(*Router).SMS.(*GovUKClient)
	}})
	d, err := env.tracker.Send(context.Background(), sms(smokeTestNumbers[0], "smoke"))
	if err != nil {
		t.Fatal(err)
	}
	got := env.waitState(t, d.ID, DeliveryFailed)
	if !strings.Contains(got.LastError, "no record") {
		t.Errorf("LastError = %q", got.LastError)
	}
}

func TestTrackerVoiceGoesToOutbox(t *testing.T) {
	env := newTrackerEnv(t, envOptions{})
	text, err := LoginCodeText(Voice, "654321", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	d, err := env.tracker.Send(context.Background(), Message{To: "020 7946 0000", Channel: Voice, Text: text})
	if err != nil {
		t.Fatalf("Send voice: %v", err)
	}
	m, ok := env.outbox.Latest("020 7946 0000")
	if !ok || m.ID != d.NotificationID || m.Text != text || m.Channel != Voice {
		t.Errorf("outbox latest = %+v, %v; want the voice message", m, ok)
	}
	if n := env.fake.requestCount(); n != 0 {
		t.Errorf("GOV.UK Notify got %d requests for a voice message", n)
	}
	env.waitState(t, d.ID, DeliveryDelivered) // the outbox's status, polled
}

func TestTrackerKeepsStateAcrossRestart(t *testing.T) {
	env := newTrackerEnv(t, envOptions{noRun: true, tracker: func(c *TrackerConfig) {
		c.RetryDelay, c.MaxRetryDelay = time.Hour, time.Hour
	}})
	ctx := context.Background()
	env.fake.failNextSends(failServer)
	pending, err := env.tracker.Send(ctx, sms(testNumberDelivered, "retry me"))
	if err != nil || pending.State != DeliveryRetrying {
		t.Fatalf("Send = %+v, %v; want a scheduled retry", pending, err)
	}
	failed, err := env.tracker.Send(ctx, sms(testNumberPermanentFailure, "doomed"))
	if err != nil {
		t.Fatal(err)
	}
	env.fake.settle()
	if got := env.delivery(t, failed.ID); got.State != DeliveryFailed {
		t.Fatalf("permanent failure: %+v", got)
	}
	if err := env.tracker.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(env.cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("state file mode %v, want 0600", perm)
	}

	// A restart two hours later: the retry is due.
	cfg := env.cfg
	cfg.Clock = func() time.Time { return time.Now().Add(2 * time.Hour) }
	reopened, err := OpenTracker(cfg)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { reopened.Close() })
	if lines := fileLines(t, cfg.Path); len(lines) != 2 {
		t.Errorf("state file has %d lines after reopening, want one a delivery (2)", len(lines))
	}
	if b, _ := os.ReadFile(cfg.Path); strings.Contains(string(b), "doomed") {
		t.Error("the text of a failed delivery stayed in the state file after compaction")
	}
	got, ok := reopened.Get(pending.ID)
	if !ok || got.State != DeliveryRetrying || got.Message.Text != "retry me" || !got.NextAttemptAt.Equal(pending.NextAttemptAt) {
		t.Fatalf("pending retry after reopen = %+v, %v", got, ok)
	}
	if f := reopened.Failed(); len(f) != 1 || f[0].ID != failed.ID {
		t.Errorf("Failed after reopen = %+v", f)
	}
	env.fake.setCallback("", "") // the new tracker has no callback server
	startRun(t, reopened)
	// Accepted so far: the permanent failure. Refused: the first send.
	waitFor(t, "the retry after restart", func() bool { return env.fake.acceptedSends() == 2 })
	waitFor(t, "the retry to be recorded", func() bool {
		got, _ := reopened.Get(pending.ID)
		return got.State == DeliveryAwaiting
	})
	env.fake.settle()
	// No callback: deliver the receipt as Notify would.
	got, _ = reopened.Get(pending.ID)
	if err := reopened.applyReceipt(got.NotificationID, StatusDelivered); err != nil {
		t.Fatal(err)
	}
	if got, _ := reopened.Get(pending.ID); got.State != DeliveryDelivered || got.Attempts != 2 {
		t.Errorf("after restart and retry: %+v", got)
	}
}

func TestTrackerDoesNotSendExpiredMessages(t *testing.T) {
	env := newTrackerEnv(t, envOptions{tracker: func(c *TrackerConfig) {
		c.RetryDelay, c.MaxRetryDelay = 10*time.Second, 10*time.Second
	}})
	ctx := context.Background()
	m := sms(testNumberTemporaryFailure, "code 111111")
	m.ExpiresAt = time.Now().Add(time.Second)
	d, err := env.tracker.Send(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	env.fake.settle()
	got := env.delivery(t, d.ID)
	if got.State != DeliveryFailed || !strings.Contains(got.LastError, "expires before") {
		t.Errorf("a code that expires before its retry: %+v, want failed", got)
	}

	m.ExpiresAt = time.Now().Add(-time.Second)
	if _, err := env.tracker.Send(ctx, m); !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("Send of an expired message: %v, want ErrInvalidMessage", err)
	}
}

func TestTrackerRejectsInvalidMessages(t *testing.T) {
	env := newTrackerEnv(t, envOptions{noRun: true})
	if _, err := env.tracker.Send(context.Background(), sms("020 7946 0000", "hi")); !errors.Is(err, ErrNotMobile) {
		t.Errorf("SMS to a landline: %v, want ErrNotMobile", err)
	}
	if len(env.tracker.Deliveries()) != 0 {
		t.Error("an invalid message was tracked")
	}
}

func TestTrackerInterruptedSendIsNotAnAttempt(t *testing.T) {
	var calls atomic.Int32
	sender := notifierFunc(func(ctx context.Context, m Message) (string, error) {
		if calls.Add(1) == 1 {
			<-ctx.Done() // the caller gives up mid-send
			return "", ctx.Err()
		}
		return newID(), nil
	})
	tr, err := OpenTracker(TrackerConfig{Path: t.TempDir() + "/deliveries.jsonl", Sender: sender, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	d, err := tr.Send(ctx, sms(testNumberDelivered, "hi"))
	if err != nil || d.State != DeliveryRetrying || d.Attempts != 0 {
		t.Fatalf("interrupted Send = %+v, %v; want a retry that used no attempt", d, err)
	}
	startRun(t, tr)
	waitFor(t, "the send", func() bool {
		got, _ := tr.Get(d.ID)
		return got.State == DeliveryAwaiting && got.Attempts == 1
	})
}

func TestTrackerRunStopsAndRunsOnce(t *testing.T) {
	env := newTrackerEnv(t, envOptions{noRun: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.tracker.Run(ctx) }()
	time.Sleep(10 * time.Millisecond)
	if err := env.tracker.Run(context.Background()); err == nil {
		t.Error("a second Run started while the first was running")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

// testClock is a clock a test moves forward by hand.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func TestTrackerGivesUpWithoutNews(t *testing.T) {
	var clock testClock
	env := newTrackerEnv(t, envOptions{noRun: true, noCallback: true, tracker: func(c *TrackerConfig) { c.Clock = clock.now }})
	d, err := env.tracker.Send(context.Background(), sms(testNumberDelivered, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	clock.advance(95 * time.Hour)
	env.tracker.processDue(context.Background())
	if got := env.delivery(t, d.ID); got.State != DeliveryAwaiting {
		t.Fatalf("after 95 hours without news: %+v, want still awaiting", got)
	}
	clock.advance(2 * time.Hour)
	env.tracker.processDue(context.Background())
	if got := env.delivery(t, d.ID); got.State != DeliveryFailed || !strings.Contains(got.LastError, "no news") {
		t.Errorf("after 97 hours without news: %+v, want failed", got)
	}
}

func TestTrackerExpiryStopsScheduledRetry(t *testing.T) {
	var clock testClock
	env := newTrackerEnv(t, envOptions{noRun: true, tracker: func(c *TrackerConfig) {
		c.Clock = clock.now
		c.RetryDelay, c.MaxRetryDelay = time.Minute, time.Minute
	}})
	env.fake.failNextSends(failServer)
	m := sms(testNumberDelivered, "code 222222")
	m.ExpiresAt = clock.now().Add(10 * time.Minute)
	d, err := env.tracker.Send(context.Background(), m)
	if err != nil || d.State != DeliveryRetrying {
		t.Fatalf("Send = %+v, %v; want a retry scheduled before expiry", d, err)
	}
	clock.advance(11 * time.Minute) // the process was busy, or down, until after expiry
	env.tracker.processDue(context.Background())
	got := env.delivery(t, d.ID)
	if got.State != DeliveryFailed || got.Attempts != 1 || !strings.Contains(got.LastError, "expired") {
		t.Errorf("retry due after expiry: %+v, want failed after 1 attempt", got)
	}
	if n := env.fake.requestCount(); n != 1 {
		t.Errorf("Notify got %d requests, want 1: an expired code is not sent", n)
	}
}

func TestTrackerCompactsAndForgetsOldDeliveries(t *testing.T) {
	var clock testClock
	env := newTrackerEnv(t, envOptions{noRun: true, tracker: func(c *TrackerConfig) {
		c.Clock = clock.now
		c.Retention = time.Hour
	}})
	ctx := context.Background()
	const n = 120
	for i := range n {
		if _, err := env.tracker.Send(ctx, Message{To: "020 7946 0000", Channel: Voice, Text: fmt.Sprintf("secret-text-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	clock.advance(time.Second)
	env.tracker.processDue(ctx) // polls the outbox: all delivered
	if got := len(fileLines(t, env.cfg.Path)); got != 3*n {
		t.Fatalf("state file has %d lines, want 3 a delivery (%d)", got, 3*n)
	}
	env.tracker.maintain()
	b, err := os.ReadFile(env.cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(fileLines(t, env.cfg.Path)); got != n {
		t.Errorf("after compaction the file has %d lines, want %d", got, n)
	}
	if strings.Contains(string(b), "secret-text") {
		t.Error("compaction kept the texts of delivered messages")
	}
	for _, d := range env.tracker.Deliveries() {
		if d.State != DeliveryDelivered {
			t.Fatalf("delivery %+v, want delivered", d)
		}
	}

	// Appends go on after compaction, and a reopen sees them all.
	if _, err := env.tracker.Send(ctx, Message{To: "020 7946 0000", Channel: Voice, Text: "later"}); err != nil {
		t.Fatal(err)
	}
	env.tracker.Close()
	reopened, err := OpenTracker(env.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(reopened.Deliveries()); got != n+1 {
		t.Errorf("reopened tracker has %d deliveries, want %d", got, n+1)
	}
	reopened.Close()

	// Past the retention period, final deliveries are forgotten; the
	// one still awaiting its receipt is kept.
	clock.advance(2 * time.Hour)
	reopened, err = OpenTracker(env.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	if ds := reopened.Deliveries(); len(ds) != 1 || ds[0].State != DeliveryAwaiting {
		t.Errorf("after the retention period: %d deliveries (%+v), want the awaiting one", len(ds), ds)
	}
	if got := len(fileLines(t, env.cfg.Path)); got != 1 {
		t.Errorf("state file has %d lines, want 1", got)
	}
}
