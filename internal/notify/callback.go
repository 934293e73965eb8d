package notify

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
)

// receipt is a GOV.UK Notify delivery receipt, POSTed to our callback URL:
// {"id", "reference", "to", "status", "created_at", "completed_at",
// "sent_at", "notification_type", "template_id", "template_version"}.
// Only the ID and status drive tracking; the times are checked for form.
type receipt struct {
	ID               string     `json:"id"`
	Reference        string     `json:"reference"`
	To               string     `json:"to"`
	Status           Status     `json:"status"`
	CreatedAt        notifyTime `json:"created_at"`
	CompletedAt      notifyTime `json:"completed_at"`
	SentAt           notifyTime `json:"sent_at"`
	NotificationType string     `json:"notification_type"`
}

// maxReceipt bounds a receipt's body; real ones are a few hundred bytes.
const maxReceipt = 64 << 10

// CallbackHandler returns the handler for Notify's delivery receipts, to be
// mounted at the callback URL configured in Notify. Notify authenticates
// with "Authorization: Bearer <CallbackToken>", which the handler checks in
// constant time; that is the only authorisation it does.
//
// It answers 204 once the receipt is recorded (or is for a message it does
// not track), 401 without the right token, 405 for anything but POST, 400
// for a body that is not a receipt, and 500 if the state cannot be saved, so
// that Notify sends the receipt again.
func (t *Tracker) CallbackHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !t.callbackAuthorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="notify-callback"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var rc receipt
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxReceipt)).Decode(&rc); err != nil {
			http.Error(w, "body is not a delivery receipt: "+err.Error(), http.StatusBadRequest)
			return
		}
		if rc.ID == "" || !rc.Status.Known() {
			http.Error(w, "delivery receipt needs an id and a known status", http.StatusBadRequest)
			return
		}
		if rc.NotificationType != "" && rc.NotificationType != "sms" {
			// Email or letter receipts for another use of the service.
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if err := t.applyReceipt(rc.ID, rc.Status); err != nil {
			t.log.Error("notify: cannot record delivery receipt", "notification_id", rc.ID, "error", err)
			http.Error(w, "cannot record receipt", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// callbackAuthorized compares the bearer token with ours in constant time.
// Comparing hashes keeps the time independent of the token's length too.
func (t *Tracker) callbackAuthorized(r *http.Request) bool {
	if t.tokenHash == nil {
		return false
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(got[:], t.tokenHash[:]) == 1
}
