package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/molar-pacs/molar/internal/config"
	"github.com/molar-pacs/molar/internal/notify"
)

// messaging is what serve runs for texts and calls.
type messaging struct {
	outbox  *notify.Outbox
	tracker *notify.Tracker
}

// openMessaging opens the outbox and the delivery tracker: SMS through
// GOV.UK Notify when an API key is configured, everything else (and
// everything, without a key) to the outbox.
func openMessaging(cfg *config.Config, log *slog.Logger) (*messaging, error) {
	dir := filepath.Join(cfg.DataDir, "notify")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("notify directory: %w", err)
	}
	log = log.With("component", "notify")
	outbox, err := notify.OpenOutbox(filepath.Join(dir, "outbox.jsonl"), log)
	if err != nil {
		return nil, err
	}
	sender := &notify.Router{SMS: outbox, Voice: outbox}
	checkers := map[notify.Channel]notify.StatusChecker{notify.SMS: outbox, notify.Voice: outbox}
	if cfg.Notify.GovUKAPIKey != "" {
		key, err := notify.ParseAPIKey(cfg.Notify.GovUKAPIKey)
		if err != nil {
			outbox.Close()
			return nil, err
		}
		govuk, err := notify.NewGovUKClient(notify.GovUKConfig{APIKey: key, SMSTemplateID: cfg.Notify.SMSTemplateID,
			BaseURL: cfg.Notify.BaseURL, Logger: log})
		if err != nil {
			outbox.Close()
			return nil, err
		}
		sender.SMS, checkers[notify.SMS] = govuk, govuk
	}
	tracker, err := notify.OpenTracker(notify.TrackerConfig{Path: filepath.Join(dir, "deliveries.jsonl"),
		Sender: sender, StatusCheckers: checkers, CallbackToken: cfg.Notify.CallbackToken, Logger: log})
	if err != nil {
		outbox.Close()
		return nil, err
	}
	return &messaging{outbox: outbox, tracker: tracker}, nil
}

// run follows deliveries (retries, polls) until ctx ends.
func (m *messaging) run(ctx context.Context, log *slog.Logger) {
	if err := m.tracker.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("notify: delivery tracker stopped", "err", err)
	}
}

func (m *messaging) Close() error {
	return errors.Join(m.tracker.Close(), m.outbox.Close())
}
