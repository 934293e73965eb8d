package charset

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// fileCases are text values taken from the character-set test files that
// Debian's python3-pydicom ships in pydicom/data/charset_files (most of them
// are the DICOM WG sample files of PS3.5 Annexes H, I and J).
//
// raw and charset were read once with pydicom (the raw bytes of the element
// via Dataset.get_item, before any decoding; for the chrSQEncoding files the
// item's own or inherited (0008,0005)). want is what DCMTK's dcm2json
// (3.6.7) printed for the same element, person-name groups joined with '='
// and values with '\'.
//
// dcm2json could not be used for the JIS X 0208 files: Debian's DCMTK
// converts through glibc iconv and refuses "ISO 2022 IR 87" ("not supported
// by the utilized character set conversion library"). For those rows want
// is pydicom's decoding (Python's own codecs), which agrees with
// `iconv -f ISO-2022-JP` and with the examples printed in PS3.5 H.3.1 and
// H.3.2. Those rows have source srcPydicom.
const (
	srcDcm2json = "dcm2json"
	srcPydicom  = "pydicom"
)

var fileCases = []struct {
	name    string
	source  string // where want comes from
	charset []string
	raw     string
	isPN    bool
	want    string
}{
	{"chrArab PatientName", srcDcm2json, []string{"ISO_IR 127"}, "\xe2\xc8\xc7\xe6\xea^\xe4\xe6\xd2\xc7\xd1 ", true, "قباني^لنزار"},
	{"chrFren PatientName", srcDcm2json, []string{"ISO_IR 100"}, "Buc^J\xe9r\xf4me", true, "Buc^Jérôme"},
	{"chrFrenMulti PatientName", srcDcm2json, []string{"ISO_IR 100"}, "Buc^J\xe9r\xf4me", true, "Buc^Jérôme"},
	{"chrFrenMulti OtherPatientNames", srcDcm2json, []string{"ISO_IR 100"}, "Buc^J\xe9r\xf4me\\Buc^J\xe9r\xf4me ", true, "Buc^Jérôme\\Buc^Jérôme"},
	{"chrFrenMulti OtherPatientIDs", srcDcm2json, []string{"ISO_IR 100"}, "eggs\\spam ", false, "eggs\\spam"},
	{"chrGerm PatientName", srcDcm2json, []string{"ISO_IR 100"}, "\xc4neas^R\xfcdiger ", true, "Äneas^Rüdiger"},
	{"chrGreek PatientName", srcDcm2json, []string{"ISO_IR 126"}, "\xc4\xe9\xef\xed\xf5\xf3\xe9\xef\xf2 ", true, "Διονυσιος"},
	{"chrH31 PatientName", srcPydicom, []string{"", "ISO 2022 IR 87"}, "Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B", true, "Yamada^Tarou=山田^太郎=やまだ^たろう"},
	{"chrH32 PatientName", srcPydicom, []string{"ISO 2022 IR 13", "ISO 2022 IR 87"}, "\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(J^\x1b$BB@O:\x1b(J=\x1b$B$d$^$@\x1b(J^\x1b$B$?$m$&\x1b(J", true, "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう"},
	{"chrHbrw PatientName", srcDcm2json, []string{"ISO_IR 138"}, "\xf9\xf8\xe5\xef^\xe3\xe1\xe5\xf8\xe4", true, "שרון^דבורה"},
	{"chrI2 PatientName", srcDcm2json, []string{"", "ISO 2022 IR 149"}, "Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf", true, "Hong^Gildong=洪^吉洞=홍^길동"},
	{"chrJapMulti PatientName", srcPydicom, []string{"", "ISO 2022 IR 87"}, "\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B ", true, "やまだ^たろう"},
	{"chrJapMulti OtherPatientNames", srcPydicom, []string{"", "ISO 2022 IR 87"}, "\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B\\\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B ", true, "やまだ^たろう\\やまだ^たろう"},
	{"chrJapMulti AdditionalPatientHistory", srcPydicom, []string{"", "ISO 2022 IR 87"}, "\x1b$B$?$m$&\x1b(B", false, "たろう"},
	{"chrJapMultiExplicitIR6 PatientName", srcPydicom, []string{"ISO 2022 IR 6", "ISO 2022 IR 87"}, "\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B ", true, "やまだ^たろう"},
	{"chrJapMultiExplicitIR6 OtherPatientNames", srcPydicom, []string{"ISO 2022 IR 6", "ISO 2022 IR 87"}, "\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B\\\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B ", true, "やまだ^たろう\\やまだ^たろう"},
	{"chrJapMultiExplicitIR6 AdditionalPatientHistory", srcPydicom, []string{"ISO 2022 IR 6", "ISO 2022 IR 87"}, "\x1b$B$?$m$&\x1b(B", false, "たろう"},
	{"chrKoreanMulti OperatorsName", srcDcm2json, []string{"", "ISO 2022 IR 149"}, "\x1b$)C\xb1\xe8\xc8\xf1\xc1\xdf\x1b(B ", true, "김희중"},
	{"chrKoreanMulti PatientName", srcDcm2json, []string{"", "ISO 2022 IR 149"}, "\x1b$)C\xb1\xe8\xc8\xf1\xc1\xdf\x1b(B ", true, "김희중"},
	{"chrKoreanMulti OtherPatientNames", srcDcm2json, []string{"", "ISO 2022 IR 149"}, "\x1b$)C\xb1\xe8\xc8\xf1\xc1\xdf\x1b(B\\\x1b$)C\xb1\xe8\xc8\xf1\xc1\xdf\x1b(B ", true, "김희중\\김희중"},
	{"chrKoreanMulti AdditionalPatientHistory", srcDcm2json, []string{"", "ISO 2022 IR 149"}, "\x1b$)C\xb1\xe8\xc8\xf1\xc1\xdf\x1b(B ", false, "김희중"},
	// The sample really mixes Latin c, e, y, p into the Cyrillic name.
	{"chrRuss PatientName", srcDcm2json, []string{"ISO_IR 144"}, "\xbb\xee\xdace\xdc\xd1yp\xd3", true, "Люкceмбypг"},
	// Nested item with its own (0008,0005) under an ISO_IR 192 dataset;
	// dcm2json leaves the item's bytes unconverted, so pydicom it is.
	{"chrSQEncoding item PatientName", srcPydicom, []string{"ISO 2022 IR 13", "ISO 2022 IR 87"}, "\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B", true, "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう"},
	{"chrSQEncoding1 item PatientName", srcPydicom, []string{"ISO 2022 IR 13", "ISO 2022 IR 87"}, "\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B", true, "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう"},
	{"chrX1 PatientName", srcDcm2json, []string{"ISO_IR 192"}, "Wang^XiaoDong=\xe7\x8e\x8b^\xe5\xb0\x8f\xe6\x9d\xb1= ", true, "Wang^XiaoDong=王^小東"},
	{"chrX2 PatientName", srcDcm2json, []string{"GB18030"}, "Wang^XiaoDong=\xcd\xf5^\xd0\xa1\xb6\xab=", true, "Wang^XiaoDong=王^小东"},
}

// asDcm2json presents a decoded value the way dcm2json prints it: each value
// without its trailing padding and, for PN, without trailing empty component
// groups. Decode itself keeps both (see its doc), so the comparison needs
// this step.
func asDcm2json(s string, isPN bool) string {
	vals := strings.Split(s, `\`)
	for i, v := range vals {
		v = strings.TrimRight(v, " ")
		if isPN {
			v = strings.TrimRight(v, "=")
		}
		vals[i] = v
	}
	return strings.Join(vals, `\`)
}

func TestDecodeCharsetFiles(t *testing.T) {
	for _, tc := range fileCases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.charset)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.charset, err)
			}
			got := s.Decode([]byte(tc.raw), tc.isPN)
			if got := asDcm2json(got, tc.isPN); got != tc.want {
				t.Errorf("Decode(%q) = %q, want %q (from %s)", tc.raw, got, tc.want, tc.source)
			}
		})
	}
}

// TestDecode covers what the sample files do not. Expected values follow
// from the code tables (the ISO 8859 parts, JIS X 0201/0208/0212,
// KS X 1001, GB 2312, TIS 620) and PS3.5 6.1.2.5; they were cross-checked
// against Python's codecs of the same names. Unlike TestDecodeCharsetFiles
// the comparison is exact: padding and delimiters must survive.
func TestDecode(t *testing.T) {
	const fffd = "\uFFFD"
	tests := []struct {
		name    string
		charset []string
		raw     string
		isPN    bool
		want    string
	}{
		// Default repertoire.
		{"default nil", nil, "Smith^John ", true, "Smith^John "},
		{"default empty value", []string{""}, "Smith^John", true, "Smith^John"},
		{"default explicit ISO_IR 6", []string{"ISO_IR 6"}, "ABC", false, "ABC"},
		{"default high bytes are Latin-1", nil, "J\xe9r\xf4me", true, "Jérôme"},
		{"default ESC not interpreted", nil, "a\x1b(Bb", false, "a\x1b(Bb"},
		{"empty raw", []string{"", "ISO 2022 IR 87"}, "", true, ""},

		// UTF-8.
		{"ISO_IR 192", []string{"ISO_IR 192"}, "M\xc3\xbcller^J\xc3\xbcrgen", true, "Müller^Jürgen"},
		{"ISO_IR 192 invalid byte", []string{"ISO_IR 192"}, "a\xffb", false, "a" + fffd + "b"},
		{"ISO_IR 192 truncated sequence", []string{"ISO_IR 192"}, "\xe7\x8e", false, fffd + fffd},
		{"ISO_IR 192 surrogate", []string{"ISO_IR 192"}, "\xed\xa0\x80", false, fffd + fffd + fffd},
		{"ISO_IR 192 multi-value", []string{"ISO_IR 192"}, "\xe7\x8e\x8b\\\xe5\xb0\x8f", false, "王\\小"},

		// Multiple values with backslash.
		{"Latin-1 multi-value LO", []string{"ISO_IR 100"}, "Caf\xe9\\Cr\xe8me ", false, "Café\\Crème "},
		{"Latin-1 padded spaces kept", []string{" ISO_IR 100 "}, " \xe9 ", false, " é "},

		// Single-byte sets without code extensions.
		{"ISO_IR 101", []string{"ISO_IR 101"}, "\xa3\xf3d\xbc", true, "Łódź"},
		{"ISO_IR 109", []string{"ISO_IR 109"}, "\xa1a\xf5ar", true, "Ħaġar"},
		{"ISO_IR 110", []string{"ISO_IR 110"}, "\xd3\xbani\xf1\xb9", true, "Ķēniņš"},
		{"ISO_IR 144", []string{"ISO_IR 144"}, "\xbb\xee\xda\xe1", true, "Люкс"},
		{"ISO_IR 148", []string{"ISO_IR 148"}, "\xde\xfckr\xfc", true, "Şükrü"},
		{"ISO_IR 203", []string{"ISO_IR 203"}, "\xa4uro \xbcuvre", false, "€uro Œuvre"},
		{"ISO_IR 127 unassigned", []string{"ISO_IR 127"}, "\xa1", false, fffd},
		{"ISO_IR 13 katakana", []string{"ISO_IR 13"}, "\xd4\xcf\xc0\xde^\xc0\xdb\xb3", true, "ﾔﾏﾀﾞ^ﾀﾛｳ"},
		{"ISO_IR 13 romaji backslash is a delimiter", []string{"ISO_IR 13"}, "A\\B", false, "A\\B"},
		{"ISO_IR 13 outside katakana", []string{"ISO_IR 13"}, "\xe0", false, fffd},
		{"ISO_IR 166", []string{"ISO_IR 166"}, "\xca\xc1\xaa\xd2\xc2", true, "สมชาย"},
		{"ISO_IR 166 hole", []string{"ISO_IR 166"}, "\xdb", false, fffd},
		{"ISO_IR 100 ESC not interpreted", []string{"ISO_IR 100"}, "\x1b-A\xe9", false, "\x1b-Aé"},

		// Stateless multi-byte sets: trail bytes that look like delimiters
		// must not split characters.
		{"GB18030 four-byte", []string{"GB18030"}, "\x94\x39\xfc\x36", false, "😀"},
		{"GBK", []string{"GBK"}, "\xcd\xf5^\xd0\xa1\xb6\xab", true, "王^小东"},
		{"GBK trail 0x5C", []string{"GBK"}, "\x81\x5c\\x", false, "乗\\x"},
		{"GB18030 trail 0x5E", []string{"GB18030"}, "\x81\x5e^x", true, "乛^x"},
		{"GB18030 truncated", []string{"GB18030"}, "a\x81", false, "a" + fffd},

		// ISO 2022 code extensions.
		{"IR 100 via escape", []string{"ISO 2022 IR 6", "ISO 2022 IR 100"}, "\x1b-A\xe9", false, "é"},
		{"IR 100 initial G1", []string{"ISO 2022 IR 100", "ISO 2022 IR 126"}, "\xe9\x1b-F\xe9", false, "éι"},
		{"IR 166 via escape", []string{"", "ISO 2022 IR 166"}, "\x1b-T\xb9\xd2\xc2", false, "นาย"},
		{"IR 58 GB 2312", []string{"", "ISO 2022 IR 58"}, "Wang^XiaoDong=\x1b$)A\xcd\xf5^\x1b$)A\xd0\xa1\xb6\xab", true, "Wang^XiaoDong=王^小东"},
		{"IR 159 JIS X 0212", []string{"", "ISO 2022 IR 87", "ISO 2022 IR 159"}, "\x1b$(D0!\x1b(B", false, "丂"},
		{"IR 87 pair containing 0x5C", []string{"", "ISO 2022 IR 87"}, "\x1b$B0\\\x1b(B", false, "移"},
		{"IR 87 pair containing 0x5E in PN", []string{"", "ISO 2022 IR 87"}, "\x1b$B$^\x1b(B", true, "ま"},
		{"IR 87 odd byte", []string{"", "ISO 2022 IR 87"}, "\x1b$B;\x1b(BA", false, fffd + "A"},
		{"ISO_IR 13 inside code extensions", []string{"ISO_IR 13", "ISO 2022 IR 87"}, "\xd4=\x1b$B;3\x1b(J", true, "ﾔ=山"},
		{"IR 149 as first value", []string{"ISO 2022 IR 149"}, "\xb1\xe8", false, "김"},
		{"IR 87 as first value keeps ASCII in G0", []string{"ISO 2022 IR 87"}, "A^\x1b$B;3\x1b(B", true, "A^山"},

		// Return to the initial set (PS3.5 6.1.2.5.3). The writers below
		// forgot to switch back; the reset shows because the GR bytes after
		// the delimiter are read as ISO-8859-1 (nothing designated to G1).
		{"reset at value delimiter", []string{"", "ISO 2022 IR 149"}, "\x1b$)C\xb1\xe8\\\xb1\xe8", false, "김\\±è"},
		{"reset at PN component", []string{"", "ISO 2022 IR 149"}, "\x1b$)C\xb1\xe8^\xb1\xe8", true, "김^±è"},
		{"reset at PN group", []string{"", "ISO 2022 IR 149"}, "\x1b$)C\xb1\xe8=\xb1\xe8", true, "김=±è"},
		{"no reset at ^ outside PN", []string{"", "ISO 2022 IR 149"}, "\x1b$)C\xb1\xe8^\xb1\xe8", false, "김^김"},
		{"reset at CR LF", []string{"", "ISO 2022 IR 149"}, "\x1b$)C\xb1\xe8\r\n\xb1\xe8", false, "김\r\n±è"},
		{"reset returns to IR 13 not ASCII", []string{"ISO 2022 IR 13", "ISO 2022 IR 149"}, "\x1b$)C\xb1\xe8^\xb1", true, "김^ｱ"},
		{"reset restores G0 after JIS X 0208", []string{"", "ISO 2022 IR 87"}, "\x1b$B;3\rAB", false, "山\rAB"},

		// Escape sequences that are not in Tables C.12-3/C.12-4.
		{"unknown G0 designation", []string{"", "ISO 2022 IR 87"}, "A\x1b$(QBC", false, "A" + fffd + "BC"},
		{"unknown G1 designation", []string{"", "ISO 2022 IR 149"}, "\x1b$)C\xb1\xe8\x1b-Z\xe9", false, "김" + fffd + "é"},
		{"unknown non-designation", []string{"", "ISO 2022 IR 87"}, "A\x1bNB", false, "A" + fffd + "B"},
		{"lone ESC at end", []string{"", "ISO 2022 IR 87"}, "A\x1b", false, "A" + fffd},
		{"ESC and intermediate at end", []string{"", "ISO 2022 IR 87"}, "A\x1b$)", false, "A" + fffd},
		{"ESC then high byte", []string{"", "ISO 2022 IR 100"}, "\x1b\xe9", false, fffd + "é"},
		{"ESC then control", []string{"", "ISO 2022 IR 100"}, "\x1b\n", false, fffd + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.charset)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.charset, err)
			}
			if got := s.Decode([]byte(tc.raw), tc.isPN); got != tc.want {
				t.Errorf("Decode(%q, %v) = %q, want %q", tc.raw, tc.isPN, got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		charset []string
		raw     string
		want    string
		errHas  []string // substrings the error must contain; nil: no error
	}{
		{"unknown single term falls back to Latin-1", []string{"ISO_IR 999"}, "Caf\xe9", "Café", []string{`"ISO_IR 999"`}},
		{"misspelt term", []string{"ISO-IR 100"}, "\xe9", "é", []string{`"ISO-IR 100"`}},
		{"unknown first of several", []string{"ISO 2022 IR 999", "ISO 2022 IR 87"}, "\xe9\x1b$B;3\x1b(B", "é山", []string{`"ISO 2022 IR 999"`}},
		{"unknown extension term", []string{"", "ISO 2022 IR 87", "KLINGON"}, "\x1b$B;3\x1b(B", "山", []string{`"KLINGON"`}},
		{"two unknown terms", []string{"X1", "X2"}, "a", "a", []string{`"X1"`, `"X2"`}},
		{"UTF-8 with code extensions", []string{"ISO_IR 192", "ISO 2022 IR 87"}, "\xe7\x8e\x8b", "王", []string{`"ISO 2022 IR 87"`, `"ISO_IR 192"`}},
		{"UTF-8 repeated is fine", []string{"ISO_IR 192", "ISO_IR 192"}, "\xe7\x8e\x8b", "王", nil},
		{"empty first value then UTF-8", []string{"", "ISO_IR 192"}, "\xe7\x8e\x8b", "王", nil},
		{"lower case accepted", []string{"iso_ir 100"}, "\xe9", "é", nil},
		{"NUL padding accepted", []string{"ISO_IR 100\x00"}, "\xe9", "é", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.charset)
			if s == nil {
				t.Fatalf("Parse(%q) returned a nil *Set", tc.charset)
			}
			switch {
			case tc.errHas == nil && err != nil:
				t.Errorf("Parse(%q): unexpected error %v", tc.charset, err)
			case tc.errHas != nil && err == nil:
				t.Errorf("Parse(%q): no error, want one naming %q", tc.charset, tc.errHas)
			case err != nil:
				for _, sub := range tc.errHas {
					if !strings.Contains(err.Error(), sub) {
						t.Errorf("Parse(%q) error %q does not mention %s", tc.charset, err, sub)
					}
				}
			}
			if got := s.Decode([]byte(tc.raw), false); got != tc.want {
				t.Errorf("Decode(%q) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
}

func TestIsUTF8Compatible(t *testing.T) {
	tests := []struct {
		charset []string
		want    bool
	}{
		{nil, true},
		{[]string{""}, true},
		{[]string{"ISO_IR 6"}, true},
		{[]string{"ISO_IR 192"}, true},
		{[]string{" ISO_IR 192 "}, true},
		{[]string{"ISO_IR 100"}, false},
		{[]string{"ISO 2022 IR 6"}, false}, // escape sequences may follow
		{[]string{"", "ISO 2022 IR 87"}, false},
		{[]string{"GB18030"}, false},
		{[]string{"GBK"}, false},
		{[]string{"ISO_IR 999"}, false}, // falls back to Latin-1
	}
	for _, tc := range tests {
		s, _ := Parse(tc.charset)
		if got := s.IsUTF8Compatible(); got != tc.want {
			t.Errorf("Parse(%q).IsUTF8Compatible() = %v, want %v", tc.charset, got, tc.want)
		}
	}
}

func TestNilAndZeroSet(t *testing.T) {
	var nilSet *Set
	for _, s := range []*Set{nilSet, {}} {
		if !s.IsUTF8Compatible() {
			t.Errorf("%#v.IsUTF8Compatible() = false, want true", s)
		}
		if got := s.Decode([]byte("A^\xe9"), true); got != "A^é" {
			t.Errorf("%#v.Decode = %q, want %q", s, got, "A^é")
		}
	}
}

// fuzzCharsets are the sets FuzzDecode picks from, so that one corpus
// exercises every decoder.
var fuzzCharsets = [][]string{
	nil,
	{"ISO_IR 100"}, {"ISO_IR 101"}, {"ISO_IR 109"}, {"ISO_IR 110"},
	{"ISO_IR 144"}, {"ISO_IR 127"}, {"ISO_IR 126"}, {"ISO_IR 138"},
	{"ISO_IR 148"}, {"ISO_IR 203"}, {"ISO_IR 13"}, {"ISO_IR 166"},
	{"ISO_IR 192"}, {"GB18030"}, {"GBK"},
	{"", "ISO 2022 IR 87"},
	{"ISO 2022 IR 13", "ISO 2022 IR 87", "ISO 2022 IR 159"},
	{"", "ISO 2022 IR 149"},
	{"", "ISO 2022 IR 58"},
	{"ISO 2022 IR 100", "ISO 2022 IR 144", "ISO 2022 IR 166", "ISO 2022 IR 126"},
	{"ISO 2022 IR 87"},
	{"UNKNOWN", "ISO 2022 IR 87"},
}

func FuzzDecode(f *testing.F) {
	for i, tc := range fileCases {
		f.Add([]byte(tc.raw), uint8(i), tc.isPN)
	}
	f.Add([]byte("\x1b$B0\\\x1b$(D0!\x1b$)C\xb1\xe8\x1b-T\xb9\x1b"), uint8(17), true)
	f.Add([]byte("\x1b$)A\xcd\xf5\r\n\x1b$)Z\xff\x1b$"), uint8(19), false)
	f.Add([]byte("\x81\x5c\x94\x39\xfc\x36\x81"), uint8(14), false)

	f.Fuzz(func(t *testing.T, raw []byte, which uint8, isPN bool) {
		terms := fuzzCharsets[int(which)%len(fuzzCharsets)]
		s, _ := Parse(terms)
		got := s.Decode(raw, isPN)
		if !utf8.ValidString(got) {
			t.Fatalf("Decode(%q) with %q = %q: invalid UTF-8", raw, terms, got)
		}
		if s.extensions && strings.ContainsRune(got, 0x1B) {
			t.Fatalf("Decode(%q) with %q = %q: ESC in output", raw, terms, got)
		}
		// The promise callers rely on for their fast path.
		if s.IsUTF8Compatible() && isASCII(raw) && got != string(raw) {
			t.Fatalf("Decode(%q) with %q = %q: UTF-8 compatible set changed ASCII", raw, terms, got)
		}
		// Delimiters are never invented: every '\' in the output must be
		// one the caller can split on, so a value never grows extra parts
		// unless the input had a '\' byte.
		if strings.Count(got, `\`) > strings.Count(string(raw), `\`) {
			t.Fatalf("Decode(%q) with %q = %q: more backslashes than input", raw, terms, got)
		}
	})
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
