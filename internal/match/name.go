package match

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// NormalizeName is the form person names are compared and indexed in: Unicode
// NFKD with combining marks removed, upper-cased, runs of spaces collapsed,
// trimmed. "Müller^José" -> "MULLER^JOSE".
//
// It keeps the PN structure ('=' between component groups, '^' between
// components): spaces are trimmed around each component and trailing empty
// components and groups are dropped, because PS3.5 6.2 makes them
// insignificant ("SMITH^JOHN^^" is "SMITH^JOHN"). Compatibility forms are
// folded before the structure is read, so fullwidth '＾', '＝', '＊' and '？'
// act like their ASCII forms. The katakana/hiragana voiced sound marks
// (U+3099, U+309A) are the one kind of combining mark kept: they change
// which syllable is written, they are not accents. The result is
// NFC-composed again, so that a Hangul syllable or a voiced kana is one
// character for '?'. NormalizeName is idempotent.
func NormalizeName(s string) string {
	return strings.Join(nameGroups(s), "=")
}

// nameGroups returns the normalised component groups of a PN value, without
// trailing empty groups.
func nameGroups(s string) []string {
	groups := strings.Split(foldName(s), "=")
	for i, g := range groups {
		groups[i] = tidyGroup(g)
	}
	for len(groups) > 0 && groups[len(groups)-1] == "" {
		groups = groups[:len(groups)-1]
	}
	return groups
}

// foldName does the character-level part of NormalizeName.
func foldName(s string) string {
	if isASCII(s) {
		// ASCII is unchanged by NFKD and NFC and has no combining marks.
		return strings.ToUpper(s)
	}
	// norm leaves text after an invalid byte undecomposed, which a second
	// pass would then decompose; replacing invalid bytes first keeps
	// NormalizeName idempotent.
	s = norm.NFKD.String(strings.ToValidUTF8(s, "\uFFFD"))
	// Upper-case after decomposing: compatibility characters such as the
	// ligature 'ﬁ' have no upper-case form until they are split into letters.
	s = strings.Map(func(r rune) rune {
		if r != '\u3099' && r != '\u309a' && unicode.Is(unicode.Mn, r) {
			return -1
		}
		return unicode.ToUpper(r)
	}, s)
	return norm.NFC.String(s)
}

// tidyGroup collapses and trims spaces in each component of a group and drops
// trailing empty components.
func tidyGroup(g string) string {
	if g == "" {
		return ""
	}
	comps := strings.Split(g, "^")
	for i, c := range comps {
		comps[i] = strings.Join(strings.Fields(c), " ")
	}
	for len(comps) > 0 && comps[len(comps)-1] == "" {
		comps = comps[:len(comps)-1]
	}
	return strings.Join(comps, "^")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// nameQuery is one (backslash-separated) PN query value.
type nameQuery struct {
	groups []nameGroup
	// anyGroup is set when the query has no '=': PS3.4 then compares it
	// with each of the record's component groups, so a query written in one
	// script finds a name whatever group it was stored in.
	anyGroup bool
}

type nameGroup struct {
	empty bool    // "" in a multi-group query: this group is unconstrained
	pat   pattern // the whole group, normalised
	words []pattern
}

func compileNameQuery(value string, fuzzy bool) nameQuery {
	groups := nameGroups(value)
	q := nameQuery{anyGroup: len(groups) == 1}
	for _, g := range groups {
		if g == "" {
			q.groups = append(q.groups, nameGroup{empty: true})
			continue
		}
		ng := nameGroup{pat: newPattern(g)}
		if fuzzy {
			for _, w := range nameWords(g) {
				ng.words = append(ng.words, newPattern(w+"*"))
			}
		}
		q.groups = append(q.groups, ng)
	}
	return q
}

// nameWords splits a normalised group into the words fuzzy matching compares.
// Hyphens separate words too, so that "JONES" finds "SMITH-JONES".
func nameWords(g string) []string {
	return strings.FieldsFunc(g, func(r rune) bool { return r == ' ' || r == '^' || r == '-' })
}

func (q *nameQuery) match(groups []string) bool {
	if q.anyGroup {
		for _, g := range groups {
			if q.groups[0].match(g) {
				return true
			}
		}
		return false
	}
	for i, qg := range q.groups {
		if qg.empty {
			continue
		}
		g := ""
		if i < len(groups) {
			g = groups[i]
		}
		if !qg.match(g) {
			return false
		}
	}
	return true
}

// match reports whether a normalised record group matches. A fuzzy group
// also matches when every query word starts some word of the record, in any
// order; it always matches at least what the strict pattern matches, so a
// wildcard spanning words ("SMITH*JOHN") keeps working.
func (ng *nameGroup) match(g string) bool {
	if ng.pat.match(g) {
		return true
	}
	if len(ng.words) == 0 {
		return false
	}
	words := nameWords(g)
	for _, qw := range ng.words {
		found := false
		for _, w := range words {
			if qw.match(w) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
