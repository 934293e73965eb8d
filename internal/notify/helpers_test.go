package notify

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testLogger logs everything, down to Debug, into a buffer.
func testLogger() (*slog.Logger, *syncBuffer) {
	var b syncBuffer
	return slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), &b
}

// waitFor polls cond until it holds, failing the test after 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func mustParseKey(t *testing.T, s string) APIKey {
	t.Helper()
	k, err := ParseAPIKey(s)
	if err != nil {
		t.Fatalf("ParseAPIKey: %v", err)
	}
	return k
}

func newTestClient(t *testing.T, f *fakeNotify, log *slog.Logger, mods ...func(*GovUKConfig)) *GovUKClient {
	t.Helper()
	cfg := GovUKConfig{
		APIKey:        mustParseKey(t, f.apiKey()),
		SMSTemplateID: f.templateID,
		BaseURL:       f.srv.URL,
		Timeout:       2 * time.Second,
		UserAgent:     "molar-test",
		Logger:        log,
	}
	for _, mod := range mods {
		mod(&cfg)
	}
	c, err := NewGovUKClient(cfg)
	if err != nil {
		t.Fatalf("NewGovUKClient: %v", err)
	}
	return c
}

const testCallbackToken = "callback-token-for-tests-0123456789"

// trackerEnv is a Tracker sending SMS through a client of a fake Notify
// and voice to an outbox, with its callback handler served locally and
// registered with the fake.
type trackerEnv struct {
	fake        *fakeNotify
	client      *GovUKClient
	outbox      *Outbox
	tracker     *Tracker
	cfg         TrackerConfig
	callbackURL string
	log         *slog.Logger
	logs        *syncBuffer
}

type envOptions struct {
	noRun      bool // do not start Run
	noCallback bool // the fake sends no receipts
	client     []func(*GovUKConfig)
	tracker    func(*TrackerConfig)
}

func newTrackerEnv(t *testing.T, opts envOptions) *trackerEnv {
	t.Helper()
	env := &trackerEnv{fake: newFakeNotify(t)}
	log, logs := testLogger()
	env.log, env.logs = log, logs
	env.client = newTestClient(t, env.fake, log, opts.client...)
	dir := t.TempDir()
	var err error
	env.outbox, err = OpenOutbox(filepath.Join(dir, "outbox.jsonl"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.outbox.Close() })
	env.cfg = TrackerConfig{
		Path:           filepath.Join(dir, "deliveries.jsonl"),
		Sender:         &Router{SMS: env.client, Voice: env.outbox},
		StatusCheckers: map[Channel]StatusChecker{Voice: env.outbox},
		CallbackToken:  testCallbackToken,
		MaxAttempts:    3,
		RetryDelay:     4 * time.Millisecond,
		MaxRetryDelay:  20 * time.Millisecond,
		PollAfter:      10 * time.Millisecond,
		Logger:         log,
	}
	if opts.tracker != nil {
		opts.tracker(&env.cfg)
	}
	env.tracker, err = OpenTracker(env.cfg)
	if err != nil {
		t.Fatalf("OpenTracker: %v", err)
	}
	t.Cleanup(func() { env.tracker.Close() })
	cb := httptest.NewServer(env.tracker.CallbackHandler())
	t.Cleanup(cb.Close)
	env.callbackURL = cb.URL
	if !opts.noCallback {
		env.fake.setCallback(cb.URL, testCallbackToken)
	}
	if !opts.noRun {
		startRun(t, env.tracker)
	}
	return env
}

// startRun runs tr.Run until the test ends and checks that it stops when
// its context is cancelled: nothing is left running after a test.
func startRun(t *testing.T, tr *Tracker) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not stop within 5s of its context being cancelled")
		}
	})
}

func (env *trackerEnv) delivery(t *testing.T, id string) Delivery {
	t.Helper()
	d, ok := env.tracker.Get(id)
	if !ok {
		t.Fatalf("delivery %s not tracked", id)
	}
	return d
}

func (env *trackerEnv) waitState(t *testing.T, id string, want DeliveryState) Delivery {
	t.Helper()
	waitFor(t, "delivery state "+string(want), func() bool {
		d, _ := env.tracker.Get(id)
		return d.State == want
	})
	return env.delivery(t, id)
}

// notifierFunc adapts a function to Notifier.
type notifierFunc func(ctx context.Context, m Message) (string, error)

func (f notifierFunc) Send(ctx context.Context, m Message) (string, error) { return f(ctx, m) }
