package notify

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeUKPhone(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string // part of the error, if one is expected
	}{
		{in: "07700900123", want: "+447700900123"},
		{in: "07700 900123", want: "+447700900123"},
		{in: " 07700-900-123 ", want: "+447700900123"},
		{in: "(07700) 900.123", want: "+447700900123"},
		{in: "+447700900123", want: "+447700900123"},
		{in: "+44 7700 900123", want: "+447700900123"},
		{in: "+44 (0)7700 900123", want: "+447700900123"},
		{in: "0044 7700 900123", want: "+447700900123"},
		{in: "00447700900123", want: "+447700900123"},
		{in: "447700900123", want: "+447700900123"},
		{in: "+447624123456", want: "+447624123456"}, // Isle of Man mobile
		{in: "020 7946 0000", want: "+442079460000"}, // London landline
		{in: "01632 960001", want: "+441632960001"},
		{in: "016977 3999", want: "+44169773999"}, // nine-digit area
		{in: "0300 123 4567", want: "+443001234567"},
		{in: "0800 123 456", want: "+44800123456"},

		{in: "", wantErr: "empty"},
		{in: "   ", wantErr: "empty"},
		{in: "0770090012", wantErr: "not enough digits"},
		{in: "077009001234", wantErr: "too many digits"},
		{in: "+4477009001234", wantErr: "too many digits"},
		{in: "+1 202 555 0100", wantErr: "not a UK number"},
		{in: "0033 1 23 45 67 89", wantErr: "not a UK number"},
		{in: "7700900123", wantErr: "must start with 0, +44 or 0044"},
		{in: "07700 9OO123", wantErr: "only digits"},
		{in: "07700+900123", wantErr: "only digits"},
		{in: "tel:07700900123", wantErr: "only digits"},
		{in: "09098 790000", wantErr: "premium-rate"},
		{in: "0612345678", wantErr: "no UK number starts 06"},
		{in: "+44", wantErr: "no digits after the prefix"},
		{in: "0", wantErr: "no digits after the prefix"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := NormalizeUKPhone(tc.in)
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("NormalizeUKPhone(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("NormalizeUKPhone(%q) = %q, want an error containing %q", tc.in, got, tc.wantErr)
			}
			if !errors.Is(err, ErrInvalidPhone) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("NormalizeUKPhone(%q) error = %q, want ErrInvalidPhone containing %q", tc.in, err, tc.wantErr)
			}
			// A phone number is personal data: errors end up in logs.
			if digits := strings.Trim(tc.in, " +()"); len(digits) > 6 && strings.Contains(err.Error(), digits) {
				t.Errorf("error %q repeats the number", err)
			}
		})
	}
}

func TestIsUKMobile(t *testing.T) {
	tests := []struct {
		e164 string
		want bool
	}{
		{"+447700900123", true},
		{"+447911123456", true},
		{"+447624123456", true},  // Isle of Man mobile
		{"+447612345678", false}, // pager
		{"+447012345678", false}, // personal number
		{"+442079460000", false}, // landline
		{"+4477009001", false},
		{"07700900123", false}, // not E.164
	}
	for _, tc := range tests {
		if got := IsUKMobile(tc.e164); got != tc.want {
			t.Errorf("IsUKMobile(%q) = %v, want %v", tc.e164, got, tc.want)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	if got, want := maskPhone("+447700900123"), "+44*******123"; got != want {
		t.Errorf("maskPhone = %q, want %q", got, want)
	}
}

func TestMessageValidation(t *testing.T) {
	long := strings.Repeat("a", maxTextLength+1)
	tests := []struct {
		name string
		m    Message
		want error
	}{
		{"sms to mobile", Message{To: "07700900123", Channel: SMS, Text: "hi"}, nil},
		{"voice to landline", Message{To: "020 7946 0000", Channel: Voice, Text: "hi"}, nil},
		{"sms to landline", Message{To: "020 7946 0000", Channel: SMS, Text: "hi"}, ErrNotMobile},
		{"unknown channel", Message{To: "07700900123", Channel: "fax", Text: "hi"}, ErrUnsupportedChannel},
		{"bad number", Message{To: "12345", Channel: SMS, Text: "hi"}, ErrInvalidPhone},
		{"empty text", Message{To: "07700900123", Channel: SMS, Text: "  "}, ErrInvalidMessage},
		{"long text", Message{To: "07700900123", Channel: SMS, Text: long}, ErrInvalidMessage},
		{"long reference", Message{To: "07700900123", Channel: SMS, Text: "hi", Reference: strings.Repeat("r", 1001)}, ErrInvalidMessage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.m.normalized()
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("normalized() error = %v, want %v", err, tc.want)
			}
			if err == nil && !strings.HasPrefix(got.To, "+44") {
				t.Errorf("To = %q, want E.164", got.To)
			}
		})
	}
}
