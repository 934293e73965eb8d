package match

import (
	"fmt"
	"strings"

	"github.com/molar-pacs/molar/internal/dcm"
)

type kind uint8

const (
	kindUniversal kind = iota // matches everything, absent attributes too
	kindEmpty                 // `""`: matches only absent or empty attributes
	kindText                  // strings compared exactly or by wildcard
	kindNumber                // DS, IS and binary numbers compared by value
	kindTemporal              // DA, TM, DT compared as ranges
	kindName                  // PN compared in NormalizeName form
)

// Matcher is one compiled matching key.
type Matcher struct {
	vr    dcm.VR
	kind  kind
	fuzzy bool
	// Exactly one of these holds the key's values, by kind; each is a
	// list whose items are alternatives.
	text  []pattern
	nums  []number
	spans []span
	names []nameQuery
}

// Compile parses a query value for an attribute of the given VR. fuzzy
// enables QIDO fuzzy person-name matching (PS3.18 fuzzymatching=true) and is
// ignored for other VRs. Errors are meant for the user who wrote the query:
// they quote the offending value and say what is wrong with it.
func Compile(vr dcm.VR, value string, fuzzy bool) (*Matcher, error) {
	m := &Matcher{vr: vr}
	v := trim(vr, value)
	switch {
	case v == "" || onlyStars(v) || (v == "-" && isTemporal(vr)):
		m.kind = kindUniversal
		return m, nil
	case v == `""`:
		m.kind = kindEmpty
		return m, nil
	}
	items := splitList(vr, v)
	if len(items) == 0 {
		// Nothing but separators: as empty as a zero-length value.
		m.kind = kindUniversal
		return m, nil
	}
	switch {
	case vr == dcm.PN:
		m.compileNames(items, fuzzy)
	case isTemporal(vr):
		m.kind = kindTemporal
		for _, it := range items {
			s, err := parseSpan(vr, it)
			if err != nil {
				return nil, err
			}
			m.spans = append(m.spans, s)
		}
	case isNumeric(vr):
		m.kind = kindNumber
		for _, it := range items {
			n, ok := parseNumber(it)
			if !ok {
				return nil, fmt.Errorf("invalid number %q for a %s attribute", it, vr)
			}
			m.nums = append(m.nums, n)
		}
	case vr == dcm.UI:
		m.kind = kindText
		for _, it := range items {
			if strings.ContainsAny(it, "*?") {
				return nil, fmt.Errorf("invalid UID %q: wildcards are not allowed, only a lone \"*\"", it)
			}
			m.text = append(m.text, literal(it))
		}
	case vr.IsBinary() || vr == dcm.SQ:
		return nil, fmt.Errorf("cannot match a %s attribute by value", vr)
	default:
		m.kind = kindText
		for _, it := range items {
			if hasWildcards(vr) {
				m.text = append(m.text, newPattern(it))
			} else {
				m.text = append(m.text, literal(it))
			}
		}
	}
	return m, nil
}

func (m *Matcher) compileNames(items []string, fuzzy bool) {
	m.kind = kindName
	m.fuzzy = fuzzy
	for _, it := range items {
		n := NormalizeName(it)
		switch {
		case n == "":
			// "^^" and the like name nobody; skip it like an empty list item.
			continue
		case onlyStars(n) && len(items) == 1:
			// A single "*" that only shows after normalisation, like "*^",
			// is universal just as a literal "*" is.
			m.kind = kindUniversal
			m.names = nil
			return
		}
		m.names = append(m.names, compileNameQuery(n, fuzzy))
	}
	if len(m.names) == 0 {
		m.kind = kindUniversal
	}
}

// Universal reports whether the key matches everything, absent attributes
// included: it only asks for the attribute to be returned.
func (m *Matcher) Universal() bool { return m.kind == kindUniversal }

// Match reports whether a record's values for the attribute match the key.
// values are decoded UTF-8 with padding removed, one item per value of a
// multi-valued attribute; PN values are "Alphabetic=Ideographic=Phonetic".
// An absent or empty attribute is a nil or empty slice. A multi-valued
// attribute matches if any of its values matches.
func (m *Matcher) Match(values []string) bool {
	switch m.kind {
	case kindUniversal:
		return true
	case kindEmpty:
		for _, v := range values {
			if !m.emptyValue(v) {
				return false
			}
		}
		return true
	}
	for _, v := range values {
		if m.matchOne(v) {
			return true
		}
	}
	return false
}

func (m *Matcher) emptyValue(v string) bool {
	if m.vr == dcm.PN {
		// Only delimiters: no name in any component group.
		return strings.Trim(v, " ^=") == ""
	}
	return trim(m.vr, v) == ""
}

func (m *Matcher) matchOne(v string) bool {
	switch m.kind {
	case kindText:
		v = trim(m.vr, v)
		for _, p := range m.text {
			if p.match(v) {
				return true
			}
		}
	case kindNumber:
		n, ok := parseNumber(v)
		if !ok {
			return false
		}
		for _, q := range m.nums {
			if q.equal(n) {
				return true
			}
		}
	case kindTemporal:
		k, ok := NormalizeTemporal(m.vr, v)
		if !ok {
			return false
		}
		for _, s := range m.spans {
			if s.contains(k) {
				return true
			}
		}
	case kindName:
		groups := nameGroups(v)
		for i := range m.names {
			if m.names[i].match(groups) {
				return true
			}
		}
	}
	return false
}

// Exact returns the values to look up in an exact-value index when the key
// is one value or a list of values without wildcards; a record matches if it
// has one of them. Values are trimmed like record values are.
//
// For PN they are NormalizeName forms of single component groups: a record
// matches if any of its groups equals one, so an index for this must hold
// each group's NormalizeName form separately. Keys with '=', fuzzy keys and
// keys with wildcards report false.
//
// DS, IS and other numbers report false because equal numbers can be
// written differently; DA, TM and DT report false and are served by Range.
func (m *Matcher) Exact() ([]string, bool) {
	var out []string
	switch m.kind {
	case kindText:
		for _, p := range m.text {
			if !p.lit {
				return nil, false
			}
			out = append(out, p.text)
		}
	case kindName:
		if m.fuzzy {
			return nil, false
		}
		for _, q := range m.names {
			if !q.anyGroup || !q.groups[0].pat.lit {
				return nil, false
			}
			out = append(out, q.groups[0].pat.text)
		}
	default:
		return nil, false
	}
	return out, len(out) > 0
}

// Prefix returns the literal prefix when the key is a single value of the
// form "abc*" with no other wildcard: a record matches exactly when a value
// (for PN: a component group in NormalizeName form) starts with it. Fuzzy
// keys report false.
func (m *Matcher) Prefix() (string, bool) {
	switch m.kind {
	case kindText:
		if len(m.text) == 1 && m.text[0].prefix {
			return m.text[0].literalPrefix(), true
		}
	case kindName:
		if !m.fuzzy && len(m.names) == 1 && m.names[0].anyGroup && m.names[0].groups[0].pat.prefix {
			return m.names[0].groups[0].pat.literalPrefix(), true
		}
	}
	return "", false
}

// Range returns the inclusive bounds of a DA, TM or DT key that is a single
// value or a single range, normalised as NormalizeTemporal normalises record
// values ("" is open): DA bounds are YYYYMMDD, TM HHMMSS.FFFFFF, DT
// YYYYMMDDHHMMSS.FFFFFF. A value of reduced precision covers its whole
// interval, so TM "10" is 100000.000000 to 105959.999999 and the range
// "1000-1100" ends at 110059.999999. Lists and universal keys report false.
func (m *Matcher) Range() (lo, hi string, ok bool) {
	if m.kind != kindTemporal || len(m.spans) != 1 {
		return "", "", false
	}
	return m.spans[0].lo, m.spans[0].hi, true
}

// trim removes what PS3.5 6.2 makes insignificant in a value of the VR:
// trailing spaces for the text VRs whose leading spaces are data, trailing
// NULs for UI, and spaces at both ends for the rest (AE, CS, SH, LO, the
// dates and numbers).
func trim(vr dcm.VR, s string) string {
	switch vr {
	case dcm.LT, dcm.ST, dcm.UT, dcm.UR, dcm.UC, dcm.PN:
		return strings.TrimRight(s, " ")
	case dcm.UI:
		return strings.Trim(s, " \x00")
	}
	return strings.Trim(s, " ")
}

// splitList splits a value into its backslash-separated items, trimmed, and
// drops empty ones. Single-valued VRs keep backslashes as data.
func splitList(vr dcm.VR, v string) []string {
	if vr.IsSingleValuedText() {
		return []string{v}
	}
	var items []string
	for it := range strings.SplitSeq(v, `\`) {
		if it = trim(vr, it); it != "" {
			items = append(items, it)
		}
	}
	return items
}

func onlyStars(s string) bool { return s != "" && strings.Trim(s, "*") == "" }

func isTemporal(vr dcm.VR) bool { return vr == dcm.DA || vr == dcm.TM || vr == dcm.DT }

func isNumeric(vr dcm.VR) bool {
	switch vr {
	case dcm.DS, dcm.IS, dcm.FL, dcm.FD, dcm.SL, dcm.SS, dcm.SV, dcm.UL, dcm.US, dcm.UV:
		return true
	}
	return false
}

// hasWildcards reports whether PS3.4 C.2.2.2.4 gives '*' and '?' their
// wildcard meaning in values of the VR.
func hasWildcards(vr dcm.VR) bool {
	switch vr {
	case dcm.AE, dcm.CS, dcm.LO, dcm.LT, dcm.PN, dcm.SH, dcm.ST, dcm.UC, dcm.UR, dcm.UT:
		return true
	}
	return false
}
