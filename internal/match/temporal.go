package match

import (
	"fmt"
	"strings"

	"github.com/molar-pacs/molar/internal/dcm"
)

// Normalised temporal values are fixed-width digit strings, so that byte
// order is time order and an index can range-scan them:
//
//	DA  YYYYMMDD
//	TM  HHMMSS.FFFFFF
//	DT  YYYYMMDDHHMMSS.FFFFFF
//
// A query value of reduced precision stands for the interval it covers: its
// lower bound is padded with the smallest values (month 01, zeros) and its
// upper bound with the largest (month 12, last day of the month, 23, 59,
// 9s). A record value is a point: it is padded like a lower bound.

// span is one inclusive interval of normalised values; "" is unbounded.
type span struct{ lo, hi string }

func (s span) contains(v string) bool {
	return (s.lo == "" || v >= s.lo) && (s.hi == "" || v <= s.hi)
}

// NormalizeTemporal returns the normalised, comparable form of a DA, TM or DT
// record value, the form the bounds from Range are in: an index of these
// values can be scanned with Range's bounds and agree with Match. Shorter
// values are padded as the start of the interval they name ("1015" is
// "101500.000000"), legacy "YYYY.MM.DD" dates and "HH:MM:SS" times are
// accepted, and DT UTC offsets are dropped. ok is false for other VRs and
// for values that are not valid dates or times.
func NormalizeTemporal(vr dcm.VR, value string) (string, bool) {
	var lo, why string
	value = strings.Trim(value, " ")
	switch vr {
	case dcm.DA:
		lo, why = parseDate(value)
	case dcm.TM:
		lo, _, why = parseTime(value)
	case dcm.DT:
		lo, _, why = parseDateTime(value)
	default:
		return "", false
	}
	return lo, why == ""
}

// temporalNoun names a temporal VR in error messages.
func temporalNoun(vr dcm.VR) string {
	switch vr {
	case dcm.DA:
		return "date"
	case dcm.TM:
		return "time"
	}
	return "datetime"
}

// parseSpan parses one DA, TM or DT query value: a single value or a range
// "a-b", "-b", "a-".
func parseSpan(vr dcm.VR, v string) (span, error) {
	noun := temporalNoun(vr)
	if strings.ContainsAny(v, "*?") {
		return span{}, fmt.Errorf("invalid %s %q: wildcards are not allowed, only a lone \"*\"", noun, v)
	}
	if vr == dcm.DT {
		return parseDateTimeSpan(v)
	}
	parse := parseTime
	if vr == dcm.DA {
		parse = func(s string) (string, string, string) {
			d, why := parseDate(s)
			return d, d, why
		}
	}
	from, to, isRange := strings.Cut(v, "-")
	if !isRange {
		lo, hi, why := parse(v)
		if why != "" {
			return span{}, fmt.Errorf("invalid %s %q: %s", noun, v, why)
		}
		return span{lo, hi}, nil
	}
	if strings.Contains(to, "-") {
		return span{}, fmt.Errorf("invalid %s range %q: more than one '-'", noun, v)
	}
	var s span
	var why string
	if from = strings.Trim(from, " "); from != "" {
		if s.lo, _, why = parse(from); why != "" {
			return span{}, fmt.Errorf("invalid %s range %q: %q: %s", noun, v, from, why)
		}
	}
	if to = strings.Trim(to, " "); to != "" {
		if _, s.hi, why = parse(to); why != "" {
			return span{}, fmt.Errorf("invalid %s range %q: %q: %s", noun, v, to, why)
		}
	}
	if s.lo != "" && s.hi != "" && s.lo > s.hi {
		return span{}, fmt.Errorf("invalid %s range %q: start is after end", noun, v)
	}
	return s, nil
}

// parseDateTimeSpan parses a DT query value. '-' both separates a range and
// starts a negative UTC offset, so "20200101-0500" could be a point at
// UTC-5 or a range ending in the year 500. Every reading is tried: a range
// whose start is after its end is no reading, and when a single value and a
// range both remain the range wins, since ranges are what people type.
func parseDateTimeSpan(v string) (span, error) {
	var ranges []span
	inverted := false
	for i := 0; i < len(v); i++ {
		if v[i] != '-' {
			continue
		}
		from, to := strings.Trim(v[:i], " "), strings.Trim(v[i+1:], " ")
		var s span
		var why string
		if from != "" {
			if s.lo, _, why = parseDateTime(from); why != "" {
				continue
			}
		}
		if to != "" {
			if _, s.hi, why = parseDateTime(to); why != "" {
				continue
			}
		}
		if s.lo != "" && s.hi != "" && s.lo > s.hi {
			inverted = true
			continue
		}
		ranges = append(ranges, s)
	}
	switch {
	case len(ranges) == 1:
		return ranges[0], nil
	case len(ranges) > 1:
		return span{}, fmt.Errorf("invalid datetime range %q: ambiguous, more than one '-' could separate it", v)
	}
	lo, hi, why := parseDateTime(v)
	switch {
	case why == "":
		return span{lo, hi}, nil
	case inverted:
		return span{}, fmt.Errorf("invalid datetime range %q: start is after end", v)
	case strings.Contains(v, "-"):
		return span{}, fmt.Errorf("invalid datetime range %q: want YYYY[MM[DD[HH[MM[SS[.FFFFFF]]]]]][&ZZXX] on either side of '-'", v)
	}
	return span{}, fmt.Errorf("invalid datetime %q: %s", v, why)
}

// parseDate validates a DA value, "YYYYMMDD" or the pre-3.0 "YYYY.MM.DD"
// that PS3.5 asks readers to keep accepting, and returns it as YYYYMMDD. why
// says what is wrong when it is not valid.
func parseDate(s string) (d, why string) {
	if len(s) == 10 && s[4] == '.' && s[7] == '.' {
		s = s[:4] + s[5:7] + s[8:]
	}
	if len(s) != 8 || !allDigits(s) {
		return "", "want YYYYMMDD"
	}
	if why := checkDate(s[:4], s[4:6], s[6:]); why != "" {
		return "", why
	}
	return s, ""
}

func checkDate(y, m, d string) string {
	month := atoi(m)
	if month < 1 || month > 12 {
		return "month " + m + " out of range"
	}
	if day := atoi(d); day < 1 || day > daysIn(atoi(y), month) {
		return "day " + d + " out of range for " + y + "-" + m
	}
	return ""
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseTime validates a TM value, HH[MM[SS[.F{1,6}]]] or the pre-3.0
// "HH:MM:SS.frac", and returns the bounds of the interval it covers.
func parseTime(s string) (lo, hi, why string) {
	const want = "want HH[MM[SS[.FFFFFF]]]"
	main, frac, dot := strings.Cut(s, ".")
	if strings.Contains(main, ":") {
		parts := strings.Split(main, ":")
		if len(parts) > 3 {
			return "", "", want
		}
		for _, p := range parts {
			if len(p) != 2 {
				return "", "", want
			}
		}
		main = strings.Join(parts, "")
	}
	n := len(main)
	if (n != 2 && n != 4 && n != 6) || !allDigits(main) {
		return "", "", want
	}
	if dot && (n != 6 || len(frac) > 6 || !allDigits(frac)) {
		return "", "", want
	}
	hh, mm, ss := main[:2], field(main, 2), field(main, 4)
	if why := checkTime(hh, mm, ss); why != "" {
		return "", "", why
	}
	lo = hh + or(mm, "00") + or(ss, "00") + "." + pad(frac, '0')
	hi = hh + or(mm, "59") + or(ss, "59") + "." + pad(frac, '9')
	return lo, hi, ""
}

func checkTime(hh, mm, ss string) string {
	if atoi(hh) > 23 {
		return "hour " + hh + " out of range"
	}
	if mm != "" && atoi(mm) > 59 {
		return "minute " + mm + " out of range"
	}
	// 60 is a leap second, which PS3.5 allows.
	if ss != "" && atoi(ss) > 60 {
		return "second " + ss + " out of range"
	}
	return ""
}

// parseDateTime validates a DT value,
// YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]][&ZZXX], and returns the bounds of the
// interval it covers. The UTC offset is checked and then dropped.
func parseDateTime(s string) (lo, hi, why string) {
	const want = "want YYYY[MM[DD[HH[MM[SS[.FFFFFF]]]]]][&ZZXX]"
	if i := strings.LastIndexAny(s, "+-"); i >= 0 {
		off := s[i+1:]
		if len(off) != 4 || !allDigits(off) {
			return "", "", want
		}
		if atoi(off[:2]) > 14 || atoi(off[2:]) > 59 {
			return "", "", "UTC offset " + s[i:] + " out of range"
		}
		s = s[:i]
	}
	main, frac, dot := strings.Cut(s, ".")
	n := len(main)
	if n < 4 || n > 14 || n%2 != 0 || !allDigits(main) {
		return "", "", want
	}
	if dot && (n != 14 || len(frac) > 6 || !allDigits(frac)) {
		return "", "", want
	}
	y, m, d := main[:4], field(main, 4), field(main, 6)
	hh, mm, ss := field(main, 8), field(main, 10), field(main, 12)
	if m != "" {
		if why := checkDate(y, m, or(d, "01")); why != "" {
			return "", "", why
		}
	}
	if hh != "" {
		if why := checkTime(hh, mm, ss); why != "" {
			return "", "", why
		}
	}
	lastDay := fmt.Sprintf("%02d", daysIn(atoi(y), atoi(or(m, "12"))))
	lo = y + or(m, "01") + or(d, "01") + or(hh, "00") + or(mm, "00") + or(ss, "00") + "." + pad(frac, '0')
	hi = y + or(m, "12") + or(d, lastDay) + or(hh, "23") + or(mm, "59") + or(ss, "59") + "." + pad(frac, '9')
	return lo, hi, ""
}

// field returns the two digits at i, or "" when s is too short to have them.
func field(s string, i int) string {
	if len(s) < i+2 {
		return ""
	}
	return s[i : i+2]
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// pad extends a fraction of a second to six digits.
func pad(frac string, c byte) string {
	return frac + strings.Repeat(string(c), 6-len(frac))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// atoi converts a short string already checked by allDigits.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
