package notify

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// The texts below are the only ones Molar sends to phones, and they say as
// little as the task needs. A text message or a voice message is not a
// private channel: it shows on lock screens, sits on shared and lost
// phones, passes through mobile networks, and GOV.UK Notify keeps the body
// for days. So no message may carry a patient's or clinician's name, an NHS
// number, a date of birth, a practice, or anything about the referral's
// clinical content or progress. What a person needs beyond a code or a
// reference they see after signing in.

// LoginCodeText returns the message carrying a one-time sign-in code:
// for SMS a short sentence, for Voice the digits spaced out and repeated,
// so that text-to-speech reads them one by one with pauses.
func LoginCodeText(ch Channel, code string, validFor time.Duration) (string, error) {
	if len(code) < 4 || len(code) > 10 || strings.Trim(code, "0123456789") != "" {
		return "", fmt.Errorf("%w: sign-in code must be 4 to 10 digits", ErrInvalidMessage)
	}
	if validFor < time.Minute || validFor > 24*time.Hour {
		return "", fmt.Errorf("%w: sign-in code lifetime %v is not between 1 minute and 24 hours", ErrInvalidMessage, validFor)
	}
	minutes := int((validFor + time.Minute - 1) / time.Minute) // round up: never claim less time than there is
	expiry := fmt.Sprintf("%d minutes", minutes)
	if minutes == 1 {
		expiry = "1 minute"
	}
	switch ch {
	case SMS:
		return fmt.Sprintf("Your Molar sign-in code is %s. It expires in %s. Do not share it with anyone.", code, expiry), nil
	case Voice:
		spoken := strings.Join(strings.Split(code, ""), ", ")
		return fmt.Sprintf("This is Molar. Your sign-in code is: %s. Again: %s. It expires in %s. Do not share it with anyone.",
			spoken, spoken, expiry), nil
	}
	return "", fmt.Errorf("login code message: %w: %q", ErrUnsupportedChannel, ch)
}

// ReferralURNText returns the message telling a patient their referral's
// reference (URN) and where to follow it. The URN must be 4 to 20 upper-case
// letters, digits or hyphens with at least one letter, so that a ten-digit
// NHS number passed by mistake is refused rather than texted (so is a URN
// with ten digits in a row). trackURL must
// be an http(s) URL without user information.
func ReferralURNText(urn, trackURL string) (string, error) {
	if len(urn) < 4 || len(urn) > 20 || strings.Trim(urn, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
		return "", fmt.Errorf("%w: referral URN must be 4 to 20 upper-case letters, digits or hyphens", ErrInvalidMessage)
	}
	if strings.Trim(urn, "0123456789-") == "" || longestDigitRun(urn) >= 10 {
		return "", fmt.Errorf("%w: referral URN looks like it holds an NHS number (no letters, or ten digits in a row)", ErrInvalidMessage)
	}
	u, err := url.Parse(trackURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("%w: tracking URL must be an absolute http(s) URL without user information", ErrInvalidMessage)
	}
	// No full stop after the URL: some phones would make it part of the link.
	return fmt.Sprintf("Your dental referral reference is %s. Track it at %s", urn, u.String()), nil
}

// ReferralUpdateText returns the message telling a patient there is news
// about their referral: which news, they read on the tracker after giving
// their date of birth, never in the text. urn and trackURL as for
// ReferralURNText.
func ReferralUpdateText(urn, trackURL string) (string, error) {
	first, err := ReferralURNText(urn, trackURL)
	if err != nil {
		return "", err
	}
	link := first[strings.LastIndex(first, " ")+1:]
	return fmt.Sprintf("There is an update on your dental referral %s. See it at %s", urn, link), nil
}

func longestDigitRun(s string) int {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}
