package notify

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTestOutbox(t *testing.T, path string) *Outbox {
	t.Helper()
	o, err := OpenOutbox(path, nil)
	if err != nil {
		t.Fatalf("OpenOutbox: %v", err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func fileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestOutboxPersistsAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify", "outbox.jsonl")
	o := openTestOutbox(t, path)
	ctx := context.Background()
	sent := []Message{
		{To: "07700 900456", Channel: SMS, Text: "first", Reference: "a"},
		{To: "020 7946 0000", Channel: Voice, Text: "second"},
		{To: "+44 7700 900456", Channel: SMS, Text: "third", Reference: "c"},
	}
	var ids []string
	for _, m := range sent {
		id, err := o.Send(ctx, m)
		if err != nil {
			t.Fatalf("Send(%+v): %v", m, err)
		}
		ids = append(ids, id)
	}
	check := func(o *Outbox) {
		t.Helper()
		recent := o.Recent(10)
		if len(recent) != 3 || recent[0].ID != ids[2] || recent[1].ID != ids[1] || recent[2].ID != ids[0] {
			t.Fatalf("Recent = %+v, want the three messages newest first", recent)
		}
		if got := o.Recent(1); len(got) != 1 || got[0].Text != "third" {
			t.Errorf("Recent(1) = %+v", got)
		}
		// Any way of writing the number finds it.
		latest, ok := o.Latest("0044 7700 900 456")
		if !ok || latest.ID != ids[2] || latest.Text != "third" || latest.To != "+447700900456" || latest.Reference != "c" {
			t.Errorf("Latest = %+v, %v; want the third message", latest, ok)
		}
		if _, ok := o.Latest("07700 900999"); ok {
			t.Error("Latest found a message to a number never sent to")
		}
		if _, ok := o.Latest("not a number"); ok {
			t.Error("Latest found a message for an invalid number")
		}
		if s, err := o.Status(ctx, ids[1]); err != nil || s != StatusDelivered {
			t.Errorf("Status = %q, %v; want delivered", s, err)
		}
		if _, err := o.Status(ctx, newID()); !errors.Is(err, ErrNotFound) {
			t.Errorf("Status of unknown ID: %v, want ErrNotFound", err)
		}
	}
	check(o)
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Send(ctx, sent[0]); err == nil {
		t.Error("Send after Close succeeded")
	}

	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("outbox file mode %v, want 0600", perm)
	}
	lines := fileLines(t, path)
	if len(lines) != 3 {
		t.Fatalf("file has %d lines, want 3", len(lines))
	}
	for _, line := range lines {
		var m OutboxMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil || m.ID == "" || m.SentAt.IsZero() {
			t.Errorf("line %q is not a message: %v", line, err)
		}
	}

	reopened := openTestOutbox(t, path)
	check(reopened)
	if _, err := reopened.Send(ctx, Message{To: "07700900456", Channel: SMS, Text: "fourth"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := reopened.Latest("07700900456"); got.Text != "fourth" {
		t.Errorf("Latest after reopen and send = %q, want fourth", got.Text)
	}
}

func TestOutboxTightensPermissions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.jsonl")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	openTestOutbox(t, path)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("outbox file mode %v after open, want 0600", perm)
	}
}

// A sign-in flow's test reads the code it was sent from the outbox.
func TestOutboxLoginCodeEndToEnd(t *testing.T) {
	o := openTestOutbox(t, filepath.Join(t.TempDir(), "outbox.jsonl"))
	for _, ch := range []Channel{SMS, Voice} {
		text, err := LoginCodeText(ch, "482913", 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := o.Send(context.Background(), Message{To: "07700900456", Channel: ch, Text: text}); err != nil {
			t.Fatal(err)
		}
		m, ok := o.Latest("+447700900456")
		if !ok || m.Channel != ch {
			t.Fatalf("Latest = %+v, %v", m, ok)
		}
		digits := strings.Join(regexp.MustCompile(`\d`).FindAllString(strings.Split(m.Text, "expires")[0], 6), "")
		if digits != "482913" {
			t.Errorf("%s: code read back from %q is %q", ch, m.Text, digits)
		}
	}
}

func TestOutboxCutsTornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.jsonl")
	o := openTestOutbox(t, path)
	if _, err := o.Send(context.Background(), Message{To: "07700900456", Channel: SMS, Text: "kept"}); err != nil {
		t.Fatal(err)
	}
	o.Close()
	// What a crash in the middle of an append leaves.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id":"torn","to":"+4477`)
	f.Close()

	o = openTestOutbox(t, path)
	if got := o.Recent(10); len(got) != 1 || got[0].Text != "kept" {
		t.Fatalf("after a torn line, Recent = %+v", got)
	}
	if _, err := o.Send(context.Background(), Message{To: "07700900456", Channel: SMS, Text: "after"}); err != nil {
		t.Fatal(err)
	}
	o.Close()
	if lines := fileLines(t, path); len(lines) != 2 || strings.Contains(lines[1], "torn") {
		t.Errorf("file lines = %q, want kept and after only", lines)
	}
	if got := openTestOutbox(t, path).Recent(10); len(got) != 2 {
		t.Errorf("Recent after second reopen = %d messages, want 2", len(got))
	}
}

func TestOutboxRefusesCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.jsonl")
	content := `{"id":"a","to":"+447700900456","channel":"sms","text":"x","sent_at":"2026-01-01T00:00:00Z"}` + "\n" +
		"not json\n" +
		`{"id":"b","to":"+447700900456","channel":"sms","text":"y","sent_at":"2026-01-01T00:00:01Z"}` + "\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenOutbox(path, nil)
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("OpenOutbox of a corrupt file: %v, want an error naming line 2", err)
	}
}

func TestOutboxRejects(t *testing.T) {
	o := openTestOutbox(t, filepath.Join(t.TempDir(), "outbox.jsonl"))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		m    Message
		want error
	}{
		{"invalid number", context.Background(), Message{To: "0770", Channel: SMS, Text: "x"}, ErrInvalidPhone},
		{"sms to landline", context.Background(), Message{To: "020 7946 0000", Channel: SMS, Text: "x"}, ErrNotMobile},
		{"empty text", context.Background(), Message{To: "07700900456", Channel: SMS}, ErrInvalidMessage},
		{"cancelled", cancelled, Message{To: "07700900456", Channel: SMS, Text: "x"}, context.Canceled},
	}
	for _, tc := range tests {
		if _, err := o.Send(tc.ctx, tc.m); !errors.Is(err, tc.want) {
			t.Errorf("%s: Send error = %v, want %v", tc.name, err, tc.want)
		}
	}
	if got := o.Recent(10); len(got) != 0 {
		t.Errorf("rejected messages were written: %+v", got)
	}
}

func TestOutboxConcurrentSends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.jsonl")
	o := openTestOutbox(t, path)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				to := fmt.Sprintf("077009%05d", w)
				if _, err := o.Send(context.Background(), Message{To: to, Channel: SMS, Text: fmt.Sprintf("%d/%d", w, i)}); err != nil {
					t.Error(err)
					return
				}
				o.Recent(5)
				o.Latest(to)
			}
		})
	}
	wg.Wait()
	if got := len(o.Recent(1000)); got != workers*each {
		t.Errorf("Recent has %d messages, want %d", got, workers*each)
	}
	for w := range workers {
		m, ok := o.Latest(fmt.Sprintf("077009%05d", w))
		if !ok || m.Text != fmt.Sprintf("%d/%d", w, each-1) {
			t.Errorf("Latest for worker %d = %q, want its last message", w, m.Text)
		}
	}
	o.Close()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("line %d is not JSON: interleaved writes?", n+1)
		}
	}
	if n != workers*each {
		t.Errorf("file has %d lines, want %d", n, workers*each)
	}
}
