package match

import (
	"strconv"
	"strings"
)

// number is a parsed DS, IS or binary numeric value. Integers are also kept
// exactly, because float64 cannot tell 64-bit integers (SV, UV) apart.
type number struct {
	f     float64
	i     int64
	isInt bool
}

// parseNumber accepts the DS/IS syntax (PS3.5 6.2: optional sign, digits,
// optional fraction and exponent, surrounding spaces). It rejects what
// strconv would otherwise let through, such as "Inf", "NaN", hex and '_'.
func parseNumber(s string) (number, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.Trim(s, "0123456789+-.eE") != "" || !strings.ContainsAny(s, "0123456789") {
		return number{}, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return number{}, false
	}
	n := number{f: f}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		n.i, n.isInt = i, true
	}
	return n, true
}

func (n number) equal(o number) bool {
	if n.isInt && o.isInt {
		return n.i == o.i
	}
	return n.f == o.f
}
