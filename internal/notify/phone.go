package notify

import (
	"fmt"
	"strings"
)

// NormalizeUKPhone validates a UK phone number as people write it
// ("07700 900123", "+44 7700 900123", "+44 (0)7700 900123",
// "0044 7700 900123", "020 7946 0000") and returns it in E.164 form
// ("+447700900123").
//
// It accepts digits, spaces, '-', '.', '(' and ')' and a leading '+'.
// It refuses non-UK numbers and premium-rate (09) numbers, which a sign-in
// flow could be abused to call at our cost. Errors match ErrInvalidPhone
// and never repeat the number, which is personal data.
func NormalizeUKPhone(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidPhone)
	}
	plus := strings.HasPrefix(s, "+")
	if plus {
		s = s[1:]
	}
	digits := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", fmt.Errorf("%w: must contain only digits, spaces, '-', '.', brackets and a leading '+'", ErrInvalidPhone)
		}
	}
	d := string(digits)

	// nsn is the national significant number: the number without the
	// leading 0 of national dialling or the 44 of international dialling.
	var nsn string
	switch {
	case plus:
		rest, ok := strings.CutPrefix(d, "44")
		if !ok {
			return "", fmt.Errorf("%w: not a UK number (country code is not +44)", ErrInvalidPhone)
		}
		nsn = rest
	case strings.HasPrefix(d, "0044"):
		nsn = d[4:]
	case strings.HasPrefix(d, "00"):
		return "", fmt.Errorf("%w: not a UK number (country code is not 0044)", ErrInvalidPhone)
	case strings.HasPrefix(d, "0"):
		nsn = d[1:]
	case strings.HasPrefix(d, "44") && len(d) >= 11:
		// Providers write numbers this way (Notify's "447700912345").
		nsn = d[2:]
	default:
		return "", fmt.Errorf("%w: must start with 0, +44 or 0044", ErrInvalidPhone)
	}
	// "+44 (0)7700…" keeps the trunk 0; no UK number starts 0 after it.
	nsn = strings.TrimPrefix(nsn, "0")

	switch {
	case nsn == "":
		return "", fmt.Errorf("%w: no digits after the prefix", ErrInvalidPhone)
	case nsn[0] == '9':
		return "", fmt.Errorf("%w: premium-rate numbers are not accepted", ErrInvalidPhone)
	case strings.IndexByte("123578", nsn[0]) < 0:
		return "", fmt.Errorf("%w: no UK number starts 0%c", ErrInvalidPhone, nsn[0])
	}
	// Geographic (01, 02), non-geographic (03, 05, 08) and mobile (07)
	// numbers have ten digits after the 0; a few 01 areas and 08 numbers
	// have nine.
	minLen := 10
	if nsn[0] == '1' || nsn[0] == '8' {
		minLen = 9
	}
	switch {
	case len(nsn) < minLen:
		return "", fmt.Errorf("%w: not enough digits", ErrInvalidPhone)
	case len(nsn) > 10:
		return "", fmt.Errorf("%w: too many digits", ErrInvalidPhone)
	}
	return "+44" + nsn, nil
}

// IsUKMobile reports whether e164, a number NormalizeUKPhone returned, can
// receive text messages: a 07 number other than personal numbers (070) and
// pagers (076, except the Isle of Man's 07624 mobiles).
func IsUKMobile(e164 string) bool {
	nsn, ok := strings.CutPrefix(e164, "+44")
	if !ok || len(nsn) != 10 || nsn[0] != '7' {
		return false
	}
	switch nsn[1] {
	case '0':
		return false
	case '6':
		return strings.HasPrefix(nsn, "7624")
	}
	return true
}

// maskPhone hides all but the last three digits of a number for logs: a
// phone number is personal data, and three digits are enough for an
// operator to match a log line to a complaint.
func maskPhone(e164 string) string {
	if len(e164) <= 6 {
		return "***"
	}
	return e164[:3] + strings.Repeat("*", len(e164)-6) + e164[len(e164)-3:]
}
