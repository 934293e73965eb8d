package notify

import (
	"encoding/json"
	"html/template"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// AdminHandler returns a page listing the outbox's recent messages, newest
// first, and the tracker's failed deliveries, as HTML or, for ?format=json
// or a request that accepts application/json but not text/html, as JSON:
//
//	{"messages": [OutboxMessage…], "failed": [Delivery…]}
//
// ?limit=N (default 50, at most 1000) bounds the messages listed. Either
// source may be nil.
//
// The page shows message texts, sign-in codes included, and phone
// numbers: the caller must already have decided that the request comes
// from an administrator (or that this is a local run) before it gets here.
// The handler itself does no authorisation.
func AdminHandler(o *Outbox, t *Tracker, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		limit := 50
		if s := r.URL.Query().Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				http.Error(w, "limit must be a positive number", http.StatusBadRequest)
				return
			}
			limit = min(n, outboxRecent)
		}
		page := adminData{Messages: []OutboxMessage{}, Failed: []Delivery{}}
		if o != nil {
			page.Messages = o.Recent(limit)
		}
		if t != nil {
			page.Failed = t.Failed()
		}
		// Codes and phone numbers: keep them out of caches and frames.
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
		if wantsJSON(r) {
			h.Set("Content-Type", "application/json")
			if err := json.NewEncoder(w).Encode(page); err != nil {
				log.Warn("notify: write outbox JSON", "error", err)
			}
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		if err := adminPage.Execute(w, page); err != nil {
			log.Warn("notify: write outbox page", "error", err)
		}
	})
}

type adminData struct {
	Messages []OutboxMessage `json:"messages"`
	Failed   []Delivery      `json:"failed"`
}

func wantsJSON(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "json":
		return true
	case "html":
		return false
	}
	acceptsJSON, acceptsHTML := false, false
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		switch mt {
		case "application/json":
			acceptsJSON = true
		case "text/html":
			acceptsHTML = true
		}
	}
	return acceptsJSON && !acceptsHTML
}

var adminPage = template.Must(template.New("outbox").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Molar outbox</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; }
table { border-collapse: collapse; margin-bottom: 2rem; }
th, td { border: 1px solid #bbb; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #eee; }
.text { white-space: pre-wrap; max-width: 40rem; }
</style>
</head>
<body>
<h1>Outbox</h1>
<p>Messages written here instead of being sent to a phone, newest first.</p>
{{if .Messages}}
<table>
<thead><tr><th>Sent (UTC)</th><th>Channel</th><th>To</th><th>Reference</th><th>Text</th><th>ID</th></tr></thead>
<tbody>
{{range .Messages}}<tr><td>{{when .SentAt}}</td><td>{{.Channel}}</td><td>{{.To}}</td><td>{{.Reference}}</td><td class="text">{{.Text}}</td><td>{{.ID}}</td></tr>
{{end}}</tbody>
</table>
{{else}}<p>No messages.</p>
{{end}}
<h2>Failed deliveries</h2>
{{if .Failed}}
<table>
<thead><tr><th>Last update (UTC)</th><th>Channel</th><th>To</th><th>Reference</th><th>Attempts</th><th>Status</th><th>Why</th><th>Notification ID</th></tr></thead>
<tbody>
{{range .Failed}}<tr><td>{{when .UpdatedAt}}</td><td>{{.Message.Channel}}</td><td>{{.Message.To}}</td><td>{{.Message.Reference}}</td><td>{{.Attempts}}</td><td>{{.Status}}</td><td>{{.LastError}}</td><td>{{.NotificationID}}</td></tr>
{{end}}</tbody>
</table>
{{else}}<p>No failed deliveries.</p>
{{end}}
</body>
</html>
`))
