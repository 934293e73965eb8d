package notify

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

func TestAdminHandler(t *testing.T) {
	dir := t.TempDir()
	outbox := openTestOutbox(t, filepath.Join(dir, "outbox.jsonl"))
	ctx := context.Background()
	if _, err := outbox.Send(ctx, Message{To: "07700900456", Channel: SMS, Text: "Your code is 111111", Reference: "<b>ref</b>"}); err != nil {
		t.Fatal(err)
	}
	if _, err := outbox.Send(ctx, Message{To: "020 7946 0000", Channel: Voice, Text: "Your code is 2, 2, 2"}); err != nil {
		t.Fatal(err)
	}
	refusing := notifierFunc(func(context.Context, Message) (string, error) {
		return "", errors.New("number barred by the network")
	})
	tr, err := OpenTracker(TrackerConfig{Path: filepath.Join(dir, "deliveries.jsonl"), Sender: refusing})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Send(ctx, Message{To: "07700900789", Channel: SMS, Text: "secret 333333", Reference: "failed-ref"}); err == nil {
		t.Fatal("Send through a refusing notifier succeeded")
	}
	h := AdminHandler(outbox, tr, nil)

	get := func(target, accept string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	t.Run("html", func(t *testing.T) {
		rec := get("/admin/outbox", "text/html,application/xhtml+xml,application/json;q=0.9")
		body := rec.Body.String()
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
		}
		if !strings.Contains(body, "&lt;b&gt;ref&lt;/b&gt;") || strings.Contains(body, "<b>ref</b>") {
			t.Error("page does not escape HTML in a reference")
		}
		text := html.UnescapeString(body)
		for _, want := range []string{
			"Your code is 111111", "Your code is 2, 2, 2", "+447700900456", "+442079460000",
			"Failed deliveries", "failed-ref", "number barred by the network", "+447700900789",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		if strings.Contains(body, "secret 333333") {
			t.Error("page shows the text of a failed delivery, which should have been erased")
		}
		if strings.Index(body, "2, 2, 2") > strings.Index(body, "111111") {
			t.Error("messages are not newest first")
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", rec.Header().Get("Cache-Control"))
		}
	})

	for _, tc := range []struct{ name, target, accept string }{
		{"format=json", "/admin/outbox?format=json", ""},
		{"Accept", "/admin/outbox", "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(tc.target, tc.accept)
			if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			var page struct {
				Messages []OutboxMessage `json:"messages"`
				Failed   []Delivery      `json:"failed"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
				t.Fatal(err)
			}
			if len(page.Messages) != 2 || page.Messages[0].Channel != Voice || page.Messages[1].Reference != "<b>ref</b>" {
				t.Errorf("messages = %+v", page.Messages)
			}
			if len(page.Failed) != 1 || page.Failed[0].State != DeliveryFailed || page.Failed[0].Message.Reference != "failed-ref" {
				t.Errorf("failed = %+v", page.Failed)
			}
		})
	}

	t.Run("limit", func(t *testing.T) {
		rec := get("/admin/outbox?format=json&limit=1", "")
		var page struct{ Messages []OutboxMessage }
		json.Unmarshal(rec.Body.Bytes(), &page)
		if len(page.Messages) != 1 {
			t.Errorf("limit=1 gave %d messages", len(page.Messages))
		}
		if rec := get("/admin/outbox?limit=lots", ""); rec.Code != http.StatusBadRequest {
			t.Errorf("limit=lots: status %d, want 400", rec.Code)
		}
	})

	t.Run("post", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/admin/outbox", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST: status %d, want 405", rec.Code)
		}
	})

	t.Run("no sources", func(t *testing.T) {
		rec := httptest.NewRecorder()
		AdminHandler(nil, nil, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/?format=json", nil))
		if got := strings.TrimSpace(rec.Body.String()); got != `{"messages":[],"failed":[]}` {
			t.Errorf("empty page = %s", got)
		}
	})
}
