package notify_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/molar-pacs/molar/internal/notify"
)

// How the server wires the package: SMS through GOV.UK Notify, voice to
// the outbox, a tracker for receipts and retries, and two handlers for the
// caller to mount behind its own routing and authorisation.
func Example() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	logger := slog.Default()
	dir := "/var/lib/molar/notify"

	outbox, err := notify.OpenOutbox(filepath.Join(dir, "outbox.jsonl"), logger)
	if err != nil {
		log.Fatal(err)
	}
	defer outbox.Close()
	key, err := notify.ParseAPIKey(os.Getenv("MOLAR_NOTIFY_API_KEY"))
	if err != nil {
		log.Fatal(err) // says what is wrong with the key, never what it is
	}
	govuk, err := notify.NewGovUKClient(notify.GovUKConfig{
		APIKey:        key,
		SMSTemplateID: os.Getenv("MOLAR_NOTIFY_SMS_TEMPLATE"), // a template that is just ((body))
		Logger:        logger,
	})
	if err != nil {
		log.Fatal(err)
	}
	tracker, err := notify.OpenTracker(notify.TrackerConfig{
		Path:           filepath.Join(dir, "deliveries.jsonl"),
		Sender:         &notify.Router{SMS: govuk, Voice: outbox},
		StatusCheckers: map[notify.Channel]notify.StatusChecker{notify.SMS: govuk, notify.Voice: outbox},
		CallbackToken:  os.Getenv("MOLAR_NOTIFY_CALLBACK_TOKEN"),
		Logger:         logger,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer tracker.Close()
	go tracker.Run(ctx) // stops with ctx

	mux := http.NewServeMux()
	mux.Handle("POST /notify/callback", tracker.CallbackHandler())
	mux.Handle("GET /admin/outbox", requireAdmin(notify.AdminHandler(outbox, tracker, logger)))

	text, err := notify.LoginCodeText(notify.SMS, "123456", 10*time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	d, err := tracker.Send(ctx, notify.Message{
		To: "07700 900123", Channel: notify.SMS, Text: text,
		Reference: "signin", ExpiresAt: time.Now().Add(10 * time.Minute),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.State)
}

// requireAdmin stands for the server's own authorisation.
func requireAdmin(h http.Handler) http.Handler { return h }

// A local run, or a test, reads the sign-in code it was sent.
func ExampleOutbox_Latest() {
	dir, err := os.MkdirTemp("", "outbox")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	outbox, err := notify.OpenOutbox(filepath.Join(dir, "outbox.jsonl"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer outbox.Close()

	text, _ := notify.LoginCodeText(notify.SMS, "482913", 10*time.Minute)
	if _, err := outbox.Send(context.Background(), notify.Message{To: "07700 900123", Channel: notify.SMS, Text: text}); err != nil {
		log.Fatal(err)
	}
	m, _ := outbox.Latest("+447700900123")
	fmt.Println(m.To, m.Text)
	// Output: +447700900123 Your Molar sign-in code is 482913. It expires in 10 minutes. Do not share it with anyone.
}
