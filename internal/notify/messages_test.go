package notify

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestLoginCodeText(t *testing.T) {
	tests := []struct {
		ch       Channel
		code     string
		validFor time.Duration
		want     string
	}{
		{SMS, "123456", 10 * time.Minute, "Your Molar sign-in code is 123456. It expires in 10 minutes. Do not share it with anyone."},
		{SMS, "0042", time.Minute, "Your Molar sign-in code is 0042. It expires in 1 minute. Do not share it with anyone."},
		{SMS, "123456", 90 * time.Second, "Your Molar sign-in code is 123456. It expires in 2 minutes. Do not share it with anyone."},
		{Voice, "123456", 10 * time.Minute, "This is Molar. Your sign-in code is: 1, 2, 3, 4, 5, 6. Again: 1, 2, 3, 4, 5, 6. It expires in 10 minutes. Do not share it with anyone."},
	}
	for _, tc := range tests {
		got, err := LoginCodeText(tc.ch, tc.code, tc.validFor)
		if err != nil || got != tc.want {
			t.Errorf("LoginCodeText(%s, %q, %v) = %q, %v; want %q", tc.ch, tc.code, tc.validFor, got, err, tc.want)
			continue
		}
		if _, err := (Message{To: "07700900123", Channel: tc.ch, Text: got}).normalized(); err != nil {
			t.Errorf("the message cannot be sent: %v", err)
		}
	}
}

func TestLoginCodeTextRejects(t *testing.T) {
	tests := []struct {
		name     string
		ch       Channel
		code     string
		validFor time.Duration
		want     error
	}{
		{"letters", SMS, "12a456", 10 * time.Minute, ErrInvalidMessage},
		{"too short", SMS, "123", 10 * time.Minute, ErrInvalidMessage},
		{"too long", SMS, "12345678901", 10 * time.Minute, ErrInvalidMessage},
		{"no lifetime", SMS, "123456", 0, ErrInvalidMessage},
		{"too long a lifetime", SMS, "123456", 48 * time.Hour, ErrInvalidMessage},
		{"unknown channel", "email", "123456", 10 * time.Minute, ErrUnsupportedChannel},
	}
	for _, tc := range tests {
		if got, err := LoginCodeText(tc.ch, tc.code, tc.validFor); !errors.Is(err, tc.want) {
			t.Errorf("%s: LoginCodeText = %q, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestReferralURNText(t *testing.T) {
	got, err := ReferralURNText("DEMO4K7Q2X", "https://molar.example.nhs.uk/track/DEMO4K7Q2X")
	want := "Your dental referral reference is DEMO4K7Q2X. Track it at https://molar.example.nhs.uk/track/DEMO4K7Q2X"
	if err != nil || got != want {
		t.Fatalf("ReferralURNText = %q, %v; want %q", got, err, want)
	}
	// Nothing in it that could identify the patient or their care: the
	// only digits are the URN's.
	if regexp.MustCompile(`\d{10}`).MatchString(got) {
		t.Errorf("message %q has a ten-digit number in it", got)
	}
	if _, err := (Message{To: "07700900123", Channel: SMS, Text: got}).normalized(); err != nil {
		t.Errorf("the message cannot be sent: %v", err)
	}
}

func TestReferralURNTextRejects(t *testing.T) {
	tests := []struct{ name, urn, url string }{
		{"NHS number as URN", "9434765919", "https://molar.example/track"},
		{"NHS number with spaces", "943 476 5919", "https://molar.example/track"},
		{"NHS number inside URN", "REF9434765919", "https://molar.example/track"},
		{"lower case", "demo4k7q2x", "https://molar.example/track"},
		{"too short", "AB1", "https://molar.example/track"},
		{"too long", strings.Repeat("A", 21), "https://molar.example/track"},
		{"name smuggled in", "DEMO4K7Q2X SMITH", "https://molar.example/track"},
		{"relative URL", "DEMO4K7Q2X", "/track/DEMO4K7Q2X"},
		{"script URL", "DEMO4K7Q2X", "javascript:alert(1)"},
		{"credentials in URL", "DEMO4K7Q2X", "https://user:pw@molar.example/track"},
	}
	for _, tc := range tests {
		if got, err := ReferralURNText(tc.urn, tc.url); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("%s: ReferralURNText = %q, %v; want ErrInvalidMessage", tc.name, got, err)
		}
	}
}

// An update says there is news and where to read it; the news itself
// (accepted, booked, returned) is clinical progress and stays off phones.
func TestReferralUpdateText(t *testing.T) {
	got, err := ReferralUpdateText("K7Q2XMHP4D", "https://molar.example.nhs.uk/track?urn=K7Q2XMHP4D")
	want := "There is an update on your dental referral K7Q2XMHP4D. See it at https://molar.example.nhs.uk/track?urn=K7Q2XMHP4D"
	if err != nil || got != want {
		t.Fatalf("ReferralUpdateText = %q, %v; want %q", got, err, want)
	}
	if _, err := ReferralUpdateText("9434765919", "https://molar.example/track"); err == nil {
		t.Error("an NHS number as URN was accepted")
	}
}
