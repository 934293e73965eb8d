package match

import (
	"slices"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
)

// v builds a record's values; v() is an absent attribute.
func v(s ...string) []string { return s }

func TestMatch(t *testing.T) {
	long := strings.Repeat("a", 10000)
	tests := []struct {
		name   string
		vr     dcm.VR
		query  string
		fuzzy  bool
		values []string
		want   bool
	}{
		// Universal matching: everything, absent attributes included.
		{"universal empty vs value", dcm.LO, "", false, v("X"), true},
		{"universal empty vs absent", dcm.LO, "", false, nil, true},
		{"universal star vs absent", dcm.CS, "*", false, nil, true},
		{"universal star runs", dcm.SH, "***", false, nil, true},
		{"universal spaces only", dcm.CS, "   ", false, nil, true},
		{"universal star DA", dcm.DA, "*", false, nil, true},
		{"universal star UI", dcm.UI, "*", false, nil, true},
		{"universal star IS", dcm.IS, "*", false, v("7"), true},
		{"universal star PN", dcm.PN, "*", false, nil, true},
		{"universal dash DA", dcm.DA, "-", false, nil, true},
		{"universal dash TM", dcm.TM, "-", false, v("1200"), true},
		{"universal dash DT", dcm.DT, "-", false, nil, true},
		{"universal PN star after normalising", dcm.PN, "*^", false, nil, true},
		{"universal only separators", dcm.CS, `\\`, false, nil, true},

		// Empty value matching: `""` matches absent or empty only.
		{"empty-value vs absent", dcm.LO, `""`, false, nil, true},
		{"empty-value vs empty slice", dcm.LO, `""`, false, v(), true},
		{"empty-value vs zero-length value", dcm.LO, `""`, false, v(""), true},
		{"empty-value vs padding", dcm.CS, `""`, false, v("  "), true},
		{"empty-value vs value", dcm.LO, `""`, false, v("X"), false},
		{"empty-value vs one of two values", dcm.CS, `""`, false, v("", "CT"), false},
		{"empty-value PN vs delimiters only", dcm.PN, `""`, false, v("^^="), true},
		{"empty-value PN vs name", dcm.PN, `""`, false, v("DOE^J"), false},
		{"empty-value DA vs date", dcm.DA, `""`, false, v("20200101"), false},
		{"empty string is not empty-value", dcm.LO, "", false, v("X"), true},

		// Single value matching: exact and case-sensitive.
		{"single exact", dcm.LO, "ABC123", false, v("ABC123"), true},
		{"single case-sensitive", dcm.LO, "abc123", false, v("ABC123"), false},
		{"single no partial", dcm.SH, "ABC", false, v("ABC123"), false},
		{"single absent", dcm.SH, "ABC", false, nil, false},
		{"single multi-valued record any", dcm.CS, "DERIVED", false, v("ORIGINAL", "DERIVED"), true},
		{"single multi-valued record none", dcm.CS, "AXIAL", false, v("ORIGINAL", "PRIMARY"), false},
		{"CS spaces trimmed in query", dcm.CS, " CT ", false, v("CT"), true},
		{"CS spaces trimmed in record", dcm.CS, "CT", false, v(" CT "), true},
		{"LO record padding", dcm.LO, "ACC1", false, v("ACC1 "), true},
		{"ST leading spaces are data", dcm.ST, "x", false, v(" x"), false},
		{"AS is literal", dcm.AS, "045Y", false, v("045Y"), true},
		{"AS has no wildcards", dcm.AS, "04?Y", false, v("045Y"), false},

		// Numbers compare by value.
		{"DS 1.0 is 1", dcm.DS, "1.0", false, v("1"), true},
		{"DS 1 is 1.0", dcm.DS, "1", false, v("1.0"), true},
		{"DS exponent", dcm.DS, "1e2", false, v("100"), true},
		{"DS differs", dcm.DS, "1.5", false, v("1.50001"), false},
		{"IS leading space", dcm.IS, " 5", false, v("5"), true},
		{"IS plus sign", dcm.IS, "+5", false, v("5 "), true},
		{"IS differs", dcm.IS, "5", false, v("6"), false},
		{"IS record not a number", dcm.IS, "5", false, v("five"), false},
		{"IS list", dcm.IS, `1\2\3`, false, v("3"), true},
		{"UV exact beyond float precision", dcm.UV, "9007199254740993", false, v("9007199254740992"), false},
		{"SV exact 64-bit", dcm.SV, "9007199254740993", false, v("9007199254740993"), true},
		{"negative zero", dcm.DS, "-0", false, v("0.0"), true},

		// List of UID matching.
		{"UID single", dcm.UI, "1.2.3", false, v("1.2.3"), true},
		{"UID no prefix", dcm.UI, "1.2", false, v("1.2.3"), false},
		{"UID list hit", dcm.UI, `1.2.3\1.2.4\1.2.5`, false, v("1.2.4"), true},
		{"UID list miss", dcm.UI, `1.2.3\1.2.4`, false, v("1.2.6"), false},
		{"UID NUL padding", dcm.UI, "1.2.3", false, v("1.2.3\x00"), true},
		{"UID list empty items ignored", dcm.UI, `1.2.3\\`, false, v("1.2.3"), true},

		// Lists for other VRs: any query value vs any record value.
		{"CS list", dcm.CS, `IO\PX`, false, v("PX"), true},
		{"CS list miss", dcm.CS, `IO\PX`, false, v("CT"), false},
		{"CS list vs multi-valued", dcm.CS, `CT\MR`, false, v("SR", "MR"), true},
		{"CS list with wildcard", dcm.CS, `CT\M*`, false, v("MG"), true},
		{"CS list item star needs a value", dcm.CS, `CT\*`, false, nil, false},
		{"ST backslash is data", dcm.ST, `a\b`, false, v(`a\b`), true},
		{"ST backslash not a list", dcm.ST, `a\b`, false, v("a"), false},
		{"UR leading space is data", dcm.UR, " *", false, v(" x"), true},
		{"UR leading space is data miss", dcm.UR, " *", false, v("x"), false},

		// Wildcards.
		{"star prefix", dcm.LO, "AB*", false, v("ABC"), true},
		{"star prefix empty rest", dcm.LO, "AB*", false, v("AB"), true},
		{"star prefix miss", dcm.LO, "AB*", false, v("XABC"), false},
		{"star suffix", dcm.LO, "*BC", false, v("ABC"), true},
		{"star middle", dcm.LO, "A*C", false, v("ABBBC"), true},
		{"star middle miss", dcm.LO, "A*C", false, v("ABBB"), false},
		{"star case-sensitive", dcm.LO, "ab*", false, v("ABC"), false},
		{"question one char", dcm.SH, "A?C", false, v("ABC"), true},
		{"question not zero chars", dcm.SH, "A?C", false, v("AC"), false},
		{"question not two chars", dcm.SH, "A?C", false, v("ABBC"), false},
		{"question multi-byte", dcm.LO, "M?LLER", false, v("MÜLLER"), true},
		{"question CJK", dcm.LO, "山?", false, v("山田"), true},
		{"question CJK not two", dcm.LO, "山?", false, v("山田太"), false},
		{"question emoji", dcm.LO, "?", false, v("😀"), true},
		{"two questions not one CJK", dcm.LO, "??", false, v("田"), false},
		{"stars collapse **a*", dcm.LO, "**a*", false, v("bab"), true},
		{"stars collapse **a* miss", dcm.LO, "**a*", false, v("bbb"), false},
		{"stars collapse **a* alone", dcm.LO, "**a*", false, v("a"), true},
		{"star then question", dcm.LO, "*?", false, v(""), false},
		{"star question star", dcm.LO, "*?*", false, v("x"), true},
		{"backtracking", dcm.LO, "*ab*abc", false, v("abxabdabc"), true},
		{"backtracking miss", dcm.LO, "*ab*abc", false, v("abxabdab"), false},
		{"pathological no match", dcm.LO, "a*a*a*a*a*a*a*b", false, v(long), false},
		{"pathological match", dcm.LO, "a*a*a*a*a*a*a*b", false, v(long + "b"), true},
		{"star vs empty value", dcm.LO, "A*", false, v(""), false},
		{"AE wildcard", dcm.AE, "STORE?", false, v("STORE1"), true},
		{"UT wildcard", dcm.UT, "*needle*", false, v("hay needle hay"), true},
		{"UC wildcard", dcm.UC, "x*", false, v("xyz"), true},

		// Dates.
		{"DA single", dcm.DA, "20200315", false, v("20200315"), true},
		{"DA single miss", dcm.DA, "20200315", false, v("20200316"), false},
		{"DA range inside", dcm.DA, "20200101-20201231", false, v("20200615"), true},
		{"DA range lower bound inclusive", dcm.DA, "20200101-20201231", false, v("20200101"), true},
		{"DA range upper bound inclusive", dcm.DA, "20200101-20201231", false, v("20201231"), true},
		{"DA range before", dcm.DA, "20200101-20201231", false, v("20191231"), false},
		{"DA range after", dcm.DA, "20200101-20201231", false, v("20210101"), false},
		{"DA open start", dcm.DA, "-20200101", false, v("19991231"), true},
		{"DA open start miss", dcm.DA, "-20200101", false, v("20200102"), false},
		{"DA open end", dcm.DA, "20200101-", false, v("20300101"), true},
		{"DA open end miss", dcm.DA, "20200101-", false, v("20191231"), false},
		{"DA legacy record", dcm.DA, "20200315", false, v("2020.03.15"), true},
		{"DA legacy query", dcm.DA, "2020.03.15", false, v("20200315"), true},
		{"DA legacy range", dcm.DA, "2020.01.01-2020.12.31", false, v("2020.06.01"), true},
		{"DA invalid record", dcm.DA, "20200101-", false, v("2020-06-01"), false},
		{"DA absent", dcm.DA, "20200101-", false, nil, false},
		{"DA leap day", dcm.DA, "20200229", false, v("20200229"), true},
		{"DA list", dcm.DA, `20200101\20200301-20200331`, false, v("20200315"), true},

		// Times.
		{"TM hour prefix", dcm.TM, "10", false, v("101530.123"), true},
		{"TM hour prefix miss", dcm.TM, "10", false, v("111530"), false},
		{"TM minute precision", dcm.TM, "1015", false, v("101559.999999"), true},
		{"TM short record", dcm.TM, "1015", false, v("1015"), true},
		{"TM short record vs finer query", dcm.TM, "101530", false, v("1015"), false},
		{"TM fraction precision", dcm.TM, "101530.1", false, v("101530.19"), true},
		{"TM fraction precision miss", dcm.TM, "101530.1", false, v("101530.2"), false},
		{"TM range by value", dcm.TM, "1000-1100", false, v("103000"), true},
		{"TM range upper bound precision", dcm.TM, "1000-1100", false, v("1100"), true},
		{"TM range upper bound end of minute", dcm.TM, "1000-1100", false, v("110059.999999"), true},
		{"TM range past upper minute", dcm.TM, "1000-1100", false, v("110100"), false},
		{"TM range before", dcm.TM, "1000-1100", false, v("095959.999"), false},
		{"TM range lower bound zero padded", dcm.TM, "1000-1100", false, v("10"), true},
		{"TM open end", dcm.TM, "2300-", false, v("235959"), true},
		{"TM legacy colons", dcm.TM, "10:15-10:30", false, v("10:20:00.5"), true},

		// Date-times.
		{"DT year", dcm.DT, "2020", false, v("20201231235959.5"), true},
		{"DT year miss", dcm.DT, "2020", false, v("20210101"), false},
		{"DT range", dcm.DT, "20200101-20200131", false, v("20200131120000"), true},
		{"DT range open end", dcm.DT, "202001011200-", false, v("20200101115959"), false},
		{"DT offset ignored", dcm.DT, "20200101120000", false, v("20200101120000+0100"), true},
		{"DT query offset", dcm.DT, "20200101-0500", false, v("20200101083000"), true},
		{"DT range with offsets", dcm.DT, "20200101-0500-20200102+0100", false, v("20200102"), true},
		{"DT year range", dcm.DT, "2019-2020", false, v("20200601"), true},
		{"DT month upper bound leap", dcm.DT, "-202002", false, v("20200229"), true},

		// Person names.
		{"PN case-insensitive", dcm.PN, "smith^john", false, v("SMITH^JOHN"), true},
		{"PN accent-insensitive", dcm.PN, "Muller^Jose", false, v("Müller^José"), true},
		{"PN accent in query", dcm.PN, "MÜLLER", false, v("Muller"), true},
		{"PN exact whole name", dcm.PN, "SMITH", false, v("SMITH^JOHN"), false},
		{"PN trailing components", dcm.PN, "SMITH^JOHN", false, v("SMITH^JOHN^^^"), true},
		{"PN spaces collapsed", dcm.PN, "VAN  DER BERG", false, v("van der berg"), true},
		{"PN wildcard prefix", dcm.PN, "smi*", false, v("SMITH^JOHN"), true},
		{"PN wildcard after accent", dcm.PN, "mü*", false, v("MULLER^HANS"), true},
		{"PN wildcard question", dcm.PN, "SM?TH^*", false, v("Smyth^Jane"), true},
		{"PN question accented record", dcm.PN, "M?LLER", false, v("Müller"), true},
		{"PN question Hangul syllable", dcm.PN, "?민수", false, v("HONG^MINSU=김민수"), true},
		{"PN ideographic group", dcm.PN, "山田^太郎", false, v("Yamada^Tarou=山田^太郎=やまだ^たろう"), true},
		{"PN phonetic group", dcm.PN, "やまだ*", false, v("Yamada^Tarou=山田^太郎=やまだ^たろう"), true},
		{"PN kana voicing kept", dcm.PN, "ヤマタ", false, v("ヤマダ"), false},
		{"PN halfwidth kana", dcm.PN, "ﾔﾏﾀﾞ", false, v("ヤマダ"), true},
		{"PN with groups", dcm.PN, "YAMADA^TAROU=山田^太郎", false, v("Yamada^Tarou=山田^太郎"), true},
		{"PN with groups wrong ideographic", dcm.PN, "YAMADA^TAROU=山田^花子", false, v("Yamada^Tarou=山田^太郎"), false},
		{"PN empty alphabetic group unconstrained", dcm.PN, "=山田*", false, v("Yamada^Tarou=山田^太郎"), true},
		{"PN group positions respected", dcm.PN, "=YAMADA*", false, v("Yamada^Tarou=山田^太郎"), false},
		{"PN list", dcm.PN, `DOE^JANE\SMITH*`, false, v("Smith^John"), true},
		{"PN miss", dcm.PN, "JONES", false, v("SMITH^JOHN"), false},
		{"PN absent", dcm.PN, "SMITH*", false, nil, false},

		// Fuzzy person names.
		{"fuzzy word prefixes", dcm.PN, "jo smi", true, v("SMITH^JOHN"), true},
		{"fuzzy caret words", dcm.PN, "smi^jo", true, v("SMITH^JOHN"), true},
		{"fuzzy any order", dcm.PN, "john", true, v("SMITH^JOHN"), true},
		{"fuzzy needs every word", dcm.PN, "jo smi bob", true, v("SMITH^JOHN"), false},
		{"fuzzy not infix", dcm.PN, "mith", true, v("SMITH^JOHN"), false},
		{"fuzzy hyphenated", dcm.PN, "jones", true, v("SMITH-JONES^ANNE"), true},
		{"fuzzy accents", dcm.PN, "jose", true, v("GARCÍA^JOSÉ"), true},
		{"fuzzy wildcard in word", dcm.PN, "j?hn", true, v("SMITH^JOHNNY"), true},
		{"fuzzy wildcard across words", dcm.PN, "SMITH*JOHN", true, v("SMITH^JOHN"), true},
		{"fuzzy other group", dcm.PN, "山田", true, v("Yamada^Tarou=山田^太郎"), true},
		{"not fuzzy: no word prefix", dcm.PN, "jo smi", false, v("SMITH^JOHN"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Compile(tt.vr, tt.query, tt.fuzzy)
			if err != nil {
				t.Fatalf("Compile(%s, %q): %v", tt.vr, tt.query, err)
			}
			if got := m.Match(tt.values); got != tt.want {
				t.Errorf("Compile(%s, %q, fuzzy=%v).Match(%q) = %v, want %v", tt.vr, tt.query, tt.fuzzy, tt.values, got, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		vr    dcm.VR
		query string
		want  string // substring of the error
	}{
		{dcm.DA, "20201301", `invalid date "20201301": month 13 out of range`},
		{dcm.DA, "20200230", `invalid date "20200230": day 30 out of range`},
		{dcm.DA, "20190229", "day 29 out of range"},
		{dcm.DA, "2020", `invalid date "2020": want YYYYMMDD`},
		{dcm.DA, "2020-13-01", `invalid date range "2020-13-01"`},
		{dcm.DA, "20200101-20201301", `invalid date range "20200101-20201301": "20201301": month 13`},
		{dcm.DA, "20201231-20200101", "start is after end"},
		{dcm.DA, "2020*", "wildcards are not allowed"},
		{dcm.DA, "2020010?", "wildcards are not allowed"},
		{dcm.DA, "2020.13.01", "month 13"},
		{dcm.DA, `20200101\x`, `invalid date "x"`},
		{dcm.TM, "2500", `invalid time "2500": hour 25 out of range`},
		{dcm.TM, "1060", "minute 60 out of range"},
		{dcm.TM, "101", "want HH[MM[SS[.FFFFFF]]]"},
		{dcm.TM, "1015.5", "want HH"},
		{dcm.TM, "101530.1234567", "want HH"},
		{dcm.TM, "1200-1100", `invalid time range "1200-1100": start is after end`},
		{dcm.TM, "10*", "wildcards are not allowed"},
		{dcm.DT, "202013", `invalid datetime "202013": month 13 out of range`},
		{dcm.DT, "20200101+1500", "UTC offset +1500 out of range"},
		{dcm.DT, "2021-2020", `invalid datetime range "2021-2020": start is after end`},
		{dcm.DT, "2020-01-01", "invalid datetime range"},
		{dcm.DT, "1000-1100-1200", "ambiguous"},
		{dcm.UI, "1.2.*", `invalid UID "1.2.*": wildcards are not allowed`},
		{dcm.UI, `1.2.3\1.?`, `invalid UID "1.?"`},
		{dcm.DS, "abc", `invalid number "abc" for a DS attribute`},
		{dcm.IS, "1*", `invalid number "1*"`},
		{dcm.DS, "NaN", "invalid number"},
		{dcm.DS, "1e999", "invalid number"},
		{dcm.OB, "abc", "cannot match a OB attribute"},
		{dcm.SQ, "abc", "cannot match a SQ attribute"},
	}
	for _, tt := range tests {
		m, err := Compile(tt.vr, tt.query, false)
		if err == nil {
			t.Errorf("Compile(%s, %q) = %+v, want error containing %q", tt.vr, tt.query, m, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Compile(%s, %q) error %q, want it to contain %q", tt.vr, tt.query, err, tt.want)
		}
	}
}

func TestIndexHints(t *testing.T) {
	tests := []struct {
		vr        dcm.VR
		query     string
		fuzzy     bool
		universal bool
		exact     []string // nil: Exact reports false
		prefix    string   // "": Prefix reports false
		lo, hi    string
		isRange   bool
	}{
		{vr: dcm.LO, query: "", universal: true},
		{vr: dcm.CS, query: "*", universal: true},
		{vr: dcm.DA, query: "-", universal: true},
		{vr: dcm.LO, query: `""`},
		{vr: dcm.LO, query: "ACC1 ", exact: []string{"ACC1"}},
		{vr: dcm.CS, query: ` IO \PX`, exact: []string{"IO", "PX"}},
		{vr: dcm.UI, query: `1.2.3\1.2.4`, exact: []string{"1.2.3", "1.2.4"}},
		{vr: dcm.CS, query: `CT\M*`},
		{vr: dcm.LO, query: "AB*", prefix: "AB"},
		{vr: dcm.LO, query: "AB**", prefix: "AB"},
		{vr: dcm.LO, query: "A?B*"},
		{vr: dcm.LO, query: "*AB"},
		{vr: dcm.LO, query: "A*B*"},
		{vr: dcm.LO, query: `AB*\CD*`},
		{vr: dcm.AS, query: "04*", exact: []string{"04*"}},
		{vr: dcm.IS, query: "5"},
		{vr: dcm.PN, query: "Müller^José", exact: []string{"MULLER^JOSE"}},
		{vr: dcm.PN, query: `doe^jane\smith`, exact: []string{"DOE^JANE", "SMITH"}},
		{vr: dcm.PN, query: "smi*", prefix: "SMI"},
		{vr: dcm.PN, query: "smith^j*", prefix: "SMITH^J"},
		{vr: dcm.PN, query: "smi*th"},
		{vr: dcm.PN, query: "smith", fuzzy: true},
		{vr: dcm.PN, query: "smi*", fuzzy: true},
		{vr: dcm.PN, query: "YAMADA=山田"},
		{vr: dcm.DA, query: "20200315", lo: "20200315", hi: "20200315", isRange: true},
		{vr: dcm.DA, query: "2020.03.15", lo: "20200315", hi: "20200315", isRange: true},
		{vr: dcm.DA, query: "20200101-20201231", lo: "20200101", hi: "20201231", isRange: true},
		{vr: dcm.DA, query: "-20201231", hi: "20201231", isRange: true},
		{vr: dcm.DA, query: "20200101-", lo: "20200101", isRange: true},
		{vr: dcm.DA, query: `20200101\20200102`},
		{vr: dcm.TM, query: "10", lo: "100000.000000", hi: "105959.999999", isRange: true},
		{vr: dcm.TM, query: "1000-1100", lo: "100000.000000", hi: "110059.999999", isRange: true},
		{vr: dcm.TM, query: "101530.12", lo: "101530.120000", hi: "101530.129999", isRange: true},
		{vr: dcm.DT, query: "2020", lo: "20200101000000.000000", hi: "20201231235959.999999", isRange: true},
		{vr: dcm.DT, query: "1000-1100", lo: "10000101000000.000000", hi: "11001231235959.999999", isRange: true},
		{vr: dcm.DT, query: "20200101-0500", lo: "20200101000000.000000", hi: "20200101235959.999999", isRange: true},
		{vr: dcm.DT, query: "202002-", lo: "20200201000000.000000", isRange: true},
		{vr: dcm.DT, query: "-202102", hi: "20210228235959.999999", isRange: true},
	}
	for _, tt := range tests {
		m, err := Compile(tt.vr, tt.query, tt.fuzzy)
		if err != nil {
			t.Errorf("Compile(%s, %q): %v", tt.vr, tt.query, err)
			continue
		}
		if got := m.Universal(); got != tt.universal {
			t.Errorf("Compile(%s, %q).Universal() = %v, want %v", tt.vr, tt.query, got, tt.universal)
		}
		exact, ok := m.Exact()
		if ok != (tt.exact != nil) || !slices.Equal(exact, tt.exact) {
			t.Errorf("Compile(%s, %q).Exact() = %q, %v, want %q", tt.vr, tt.query, exact, ok, tt.exact)
		}
		prefix, ok := m.Prefix()
		if ok != (tt.prefix != "") || prefix != tt.prefix {
			t.Errorf("Compile(%s, %q).Prefix() = %q, %v, want %q", tt.vr, tt.query, prefix, ok, tt.prefix)
		}
		lo, hi, ok := m.Range()
		if ok != tt.isRange || lo != tt.lo || hi != tt.hi {
			t.Errorf("Compile(%s, %q).Range() = %q, %q, %v, want %q, %q, %v", tt.vr, tt.query, lo, hi, ok, tt.lo, tt.hi, tt.isRange)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Müller^José", "MULLER^JOSE"},
		{"  van   der  Berg ^ Anna ", "VAN DER BERG^ANNA"},
		{"SMITH^JOHN^^^", "SMITH^JOHN"},
		{"SMITH^^^JR", "SMITH^^^JR"},
		{"Yamada^Tarou=山田^太郎=", "YAMADA^TAROU=山田^太郎"},
		{"=山田", "=山田"},
		{"^^=", ""},
		{"Ångström", "ANGSTROM"},
		{"ﬁsher", "FISHER"},
		{"ＳＭＩＴＨ", "SMITH"},
		{"ﾔﾏﾀﾞ", "ヤマダ"},
		{"김민수", "김민수"},
		{"smi*", "SMI*"},
		{"Łukasz", "ŁUKASZ"},           // Ł is a letter of its own, not L with a mark
		{"\xf4\u06c0", "\ufffd\u06d5"}, // invalid UTF-8 before a decomposable letter
	}
	for _, tt := range tests {
		if got := NormalizeName(tt.in); got != tt.want {
			t.Errorf("NormalizeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := NormalizeName(tt.want); got != tt.want {
			t.Errorf("NormalizeName(%q) = %q, not idempotent", tt.want, got)
		}
	}
}

func TestNormalizeTemporal(t *testing.T) {
	tests := []struct {
		vr   dcm.VR
		in   string
		want string // "": not valid
	}{
		{dcm.DA, "20200315", "20200315"},
		{dcm.DA, "2020.03.15", "20200315"},
		{dcm.DA, "20200315 ", "20200315"},
		{dcm.DA, "20200332", ""},
		{dcm.TM, "1015", "101500.000000"},
		{dcm.TM, "101530.5", "101530.500000"},
		{dcm.TM, "10:15:30", "101530.000000"},
		{dcm.TM, "235960", "235960.000000"},
		{dcm.TM, "2400", ""},
		{dcm.DT, "2020", "20200101000000.000000"},
		{dcm.DT, "20200315101530.25-0500", "20200315101530.250000"},
		{dcm.DT, "20200315-05", ""},
		{dcm.LO, "20200315", ""},
	}
	for _, tt := range tests {
		got, ok := NormalizeTemporal(tt.vr, tt.in)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("NormalizeTemporal(%s, %q) = %q, %v, want %q", tt.vr, tt.in, got, ok, tt.want)
		}
	}
}

// globRef is a slow, obviously correct dynamic-programming wildcard matcher
// over characters, to check glob against.
func globRef(p, s string) bool {
	ps, ss := chars(p), chars(s)
	// ok[j] reports whether the pattern so far matches ss[:j].
	ok := make([]bool, len(ss)+1)
	ok[0] = true
	for _, pc := range ps {
		next := make([]bool, len(ss)+1)
		for j := range next {
			switch pc {
			case "*":
				next[j] = ok[j] || (j > 0 && next[j-1])
			case "?":
				next[j] = j > 0 && ok[j-1]
			default:
				next[j] = j > 0 && ok[j-1] && ss[j-1] == pc
			}
		}
		ok = next
	}
	return ok[len(ss)]
}

func chars(s string) []string {
	var out []string
	for len(s) > 0 {
		n := charLen(s)
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

func TestGlobAgainstReference(t *testing.T) {
	alphabet := []string{"a", "b", "*", "?", "é"}
	var gen func(n int) []string
	gen = func(n int) []string {
		if n == 0 {
			return []string{""}
		}
		var out []string
		for _, s := range gen(n - 1) {
			for _, c := range alphabet {
				out = append(out, s+c)
			}
		}
		return out
	}
	var patterns, texts []string
	for n := 0; n <= 4; n++ {
		patterns = append(patterns, gen(n)...)
	}
	for _, s := range append(gen(3), "", "aaaa", "abab", "éaé", "ba\xffb") {
		if !strings.ContainsAny(s, "*?") {
			texts = append(texts, s)
		}
	}
	for _, p := range patterns {
		for _, s := range texts {
			if got, want := glob(p, s), globRef(p, s); got != want {
				t.Fatalf("glob(%q, %q) = %v, want %v", p, s, got, want)
			}
		}
	}
}

// fuzzVRs are the VRs FuzzCompileMatch picks from.
var fuzzVRs = []dcm.VR{
	dcm.AE, dcm.AS, dcm.AT, dcm.CS, dcm.DA, dcm.DS, dcm.DT, dcm.IS, dcm.LO, dcm.LT,
	dcm.PN, dcm.SH, dcm.ST, dcm.TM, dcm.UC, dcm.UI, dcm.UR, dcm.UT, dcm.UV, dcm.OB,
}

// FuzzCompileMatch checks that Compile and Match never panic, and that what
// the index hints promise agrees with Match.
func FuzzCompileMatch(f *testing.F) {
	seeds := []struct {
		vr           uint8
		query, value string
		fuzzy        bool
	}{
		{10, "smi*", "SMITH^JOHN", false},
		{10, "jo smi", "Müller^José=山田^太郎", true},
		{10, "=山田*", "Yamada=山田", false},
		{4, "20200101-20201231", "2020.06.01", false},
		{13, "1000-1100", "103000.5", false},
		{6, "20200101-0500-2021", "20200101120000+0100", false},
		{3, `CT\M?`, "MR", false},
		{8, "**a*", "bab", false},
		{15, `1.2\1.3`, "1.3", false},
		{5, "1.0", " 1", false},
		{8, `""`, "", false},
	}
	for _, s := range seeds {
		f.Add(s.vr, s.query, s.value, s.fuzzy)
	}
	f.Fuzz(func(t *testing.T, vri uint8, query, value string, fuzzy bool) {
		vr := fuzzVRs[int(vri)%len(fuzzVRs)]
		if n := NormalizeName(query); NormalizeName(n) != n {
			t.Fatalf("NormalizeName not idempotent: %q -> %q -> %q", query, n, NormalizeName(n))
		}
		m, err := Compile(vr, query, fuzzy)
		if err != nil {
			return
		}
		got := m.Match([]string{value})
		m.Match(nil)
		m.Match([]string{value, query, ""})
		if m.Universal() && !m.Match(nil) {
			t.Fatalf("universal %s %q does not match an absent attribute", vr, query)
		}

		// groups are the strings an index would hold for the record value.
		var groups []string
		if vr == dcm.PN {
			groups = nameGroups(value)
		} else {
			groups = []string{trim(vr, value)}
		}
		if exact, ok := m.Exact(); ok {
			for _, e := range exact {
				if !m.Match([]string{e}) {
					t.Fatalf("%s %q: Exact value %q does not match", vr, query, e)
				}
			}
			want := false
			for _, g := range groups {
				want = want || slices.Contains(exact, g)
			}
			if got != want {
				t.Fatalf("%s %q: Match(%q) = %v, but Exact %q says %v", vr, query, value, got, exact, want)
			}
		}
		if p, ok := m.Prefix(); ok {
			// A letter after the prefix keeps padding rules from trimming it.
			if !m.Match([]string{p + "X"}) {
				t.Fatalf("%s %q: Prefix %q does not match %q", vr, query, p, p+"X")
			}
			want := false
			for _, g := range groups {
				want = want || strings.HasPrefix(g, p)
			}
			if got != want {
				t.Fatalf("%s %q: Match(%q) = %v, but Prefix %q says %v", vr, query, value, got, p, want)
			}
		}
		if lo, hi, ok := m.Range(); ok {
			k, valid := NormalizeTemporal(vr, value)
			want := valid && (lo == "" || k >= lo) && (hi == "" || k <= hi)
			if got != want {
				t.Fatalf("%s %q: Match(%q) = %v, but Range [%q, %q] says %v", vr, query, value, got, lo, hi, want)
			}
		}
	})
}
