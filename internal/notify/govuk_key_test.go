package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// The example key from GOV.UK Notify's documentation.
const (
	docKey       = "my_test_key-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0"
	docServiceID = "26785a09-ab16-4eb0-8407-a37497a57506"
	docSecret    = "3d844edf-8d35-48ac-975b-e847b4f122b0"
)

func TestParseAPIKey(t *testing.T) {
	tests := []struct {
		in, name string
	}{
		{docKey, "my_test_key"},
		{"  " + docKey + "\n", "my_test_key"},
		{"molar-live-key-" + docServiceID + "-" + docSecret, "molar-live-key"}, // hyphens in the name
	}
	for _, tc := range tests {
		k, err := ParseAPIKey(tc.in)
		if err != nil {
			t.Fatalf("ParseAPIKey(%q): %v", tc.in, err)
		}
		if k.Name() != tc.name || k.ServiceID() != docServiceID || string(*k.secret) != docSecret {
			t.Errorf("ParseAPIKey(%q) = name %q, service %q", tc.in, k.Name(), k.ServiceID())
		}
	}
}

func TestParseAPIKeyErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", "0 characters"},
		{"secret only", docSecret, "36 characters"},
		{"no name", "-" + docServiceID + "-" + docSecret, "74 characters"},
		{"no dash before secret", "name-" + docServiceID + "x" + docSecret, "no '-' before the secret"},
		{"no dash before service", "namex" + docServiceID + "-" + docSecret, "between the key name and the service ID"},
		{"service not a UUID", "name-" + strings.Repeat("z", 36) + "-" + docSecret, "service ID is not a UUID"},
		{"secret not a UUID", "name-" + docServiceID + "-" + strings.Repeat("z", 36), "secret is not a UUID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAPIKey(tc.in)
			if !errors.Is(err, ErrInvalidAPIKey) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseAPIKey error = %v, want ErrInvalidAPIKey containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), docSecret) || strings.Contains(err.Error(), "zzzz") {
				t.Errorf("error %q repeats part of the key", err)
			}
		})
	}
}

func TestAPIKeyNeverShowsSecret(t *testing.T) {
	k := mustParseKey(t, docKey)
	type wrapper struct {
		Key APIKey
		key APIKey
	}
	w := wrapper{k, k}
	var outputs []string
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		outputs = append(outputs, fmt.Sprintf(format, k), fmt.Sprintf(format, w), fmt.Sprintf(format, &w))
	}
	j, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(j))
	var text, jsonLog strings.Builder
	slog.New(slog.NewTextHandler(&text, nil)).Info("key", "key", k, "wrapper", w)
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("key", "key", k, "wrapper", w)
	outputs = append(outputs, text.String(), jsonLog.String())

	hexSecret := fmt.Sprintf("%x", docSecret)
	for _, out := range outputs {
		if strings.Contains(out, docSecret) || strings.Contains(out, hexSecret) || strings.Contains(out, "3d844edf") {
			t.Errorf("secret shown in %q", out)
		}
	}
	if got, want := k.String(), "my_test_key-"+docServiceID+"-[REDACTED]"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !strings.Contains(text.String(), docServiceID) {
		t.Errorf("log %q should name the service", text.String())
	}
}

func TestBearerToken(t *testing.T) {
	k := mustParseKey(t, docKey)
	now := time.Unix(1568818578, 0)
	token := k.bearerToken(now)
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts, want 3", token, len(parts))
	}
	dec := func(s string) string {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("part %q is not unpadded base64url: %v", s, err)
		}
		return string(b)
	}
	if got, want := dec(parts[0]), `{"typ":"JWT","alg":"HS256"}`; got != want {
		t.Errorf("header = %s, want %s", got, want)
	}
	var claims map[string]any
	if err := json.Unmarshal([]byte(dec(parts[1])), &claims); err != nil {
		t.Fatal(err)
	}
	if claims["iss"] != docServiceID || claims["iat"] != float64(1568818578) || len(claims) != 2 {
		t.Errorf("claims = %v, want iss %s and iat 1568818578 only", claims, docServiceID)
	}
	mac := hmac.New(sha256.New, []byte(docSecret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if got := dec(parts[2]); !hmac.Equal([]byte(got), mac.Sum(nil)) {
		t.Error("signature is not HMAC-SHA256 of header.claims with the secret")
	}
	if strings.Contains(token, docSecret) {
		t.Error("token contains the secret")
	}
}
