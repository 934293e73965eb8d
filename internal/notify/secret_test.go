package notify

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// The API key's secret must not reach logs or error strings, whatever
// happens: successful sends, refused keys, retries, and an operator
// logging or printing the configuration.
func TestSecretNeverLoggedOrInErrors(t *testing.T) {
	env := newTrackerEnv(t, envOptions{})
	ctx := context.Background()
	var errs []error

	// Sends that succeed, fail for good, and are retried.
	env.fake.failNextSends(failServer)
	for _, number := range []string{testNumberDelivered, testNumberPermanentFailure} {
		d, err := env.tracker.Send(ctx, sms(number, "hello"))
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the send", func() bool {
			got, _ := env.tracker.Get(d.ID)
			return got.State == DeliveryAwaiting
		})
		env.fake.settle()
		if got := env.delivery(t, d.ID); got.LastError != "" {
			errs = append(errs, errors.New(got.LastError))
		}
	}

	// A key Notify refuses, through the client and through a tracker.
	wrongKey := env.fake.wrongSecretKey()
	bad := newTestClient(t, env.fake, env.log, func(c *GovUKConfig) { c.APIKey = mustParseKey(t, wrongKey) })
	_, err := bad.Send(ctx, sms(testNumberDelivered, "hello"))
	errs = append(errs, err)
	tr, err := OpenTracker(TrackerConfig{Path: filepath.Join(t.TempDir(), "d.jsonl"), Sender: bad, Logger: env.log})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	d, err := tr.Send(ctx, sms(testNumberDelivered, "hello"))
	if err == nil {
		t.Fatal("send with a refused key succeeded")
	}
	errs = append(errs, err, errors.New(d.LastError))
	_, err = ParseAPIKey(wrongKey[:len(wrongKey)-1])
	errs = append(errs, err)

	// An operator logs and prints what they have to hand.
	cfg := GovUKConfig{APIKey: mustParseKey(t, env.fake.apiKey()), SMSTemplateID: env.fake.templateID}
	env.log.Info("notify configured", "client", env.client, "bad_client", bad, "config", cfg, "key", cfg.APIKey)
	printed := fmt.Sprintf("%v %+v %#v %v %+v %+v", env.client, env.client, cfg, cfg, *env.client, *bad)

	logs := env.logs.String()
	if !strings.Contains(logs, "GOV.UK Notify request") || !strings.Contains(logs, "delivery failed") {
		t.Fatalf("the flows above did not log as expected:\n%s", logs)
	}
	for _, secret := range []string{env.fake.secret, wrongKey[len(wrongKey)-36:]} {
		if strings.Contains(logs, secret) {
			t.Errorf("secret in logs:\n%s", logs)
		}
		if strings.Contains(printed, secret) {
			t.Errorf("secret printed: %s", printed)
		}
		for _, err := range errs {
			if err == nil {
				t.Fatal("expected an error")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("secret in error %q", err)
			}
		}
	}
	// Nor are message texts or whole phone numbers logged.
	if strings.Contains(logs, "hello") || strings.Contains(logs, "7700900456") {
		t.Errorf("message text or phone number in logs:\n%s", logs)
	}
}
