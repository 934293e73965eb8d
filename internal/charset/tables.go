package charset

import (
	"sync"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// pairTable maps the 94×94 two-byte codes of a multi-byte ISO 2022 set to
// runes. The mappings themselves come from golang.org/x/text, through the
// EUC form of each set (which is the same code with the high bit set on both
// bytes, i.e. the set invoked into GR). We build our own table rather than
// stream through the EUC decoder because those decoders resynchronise on
// bad input by skipping one byte, which would misalign ISO 2022 pairs; a
// table guarantees exactly one rune per pair. It is built on first use, so
// a process that never sees Japanese pays nothing for it.
type pairTable struct {
	once   sync.Once
	prefix []byte // bytes the EUC form puts before the pair (SS3 for JIS X 0212)
	enc    encoding.Encoding
	runes  [94 * 94]rune
}

// pairTables is indexed by graphic; sets without an entry have no pairs.
var pairTables = [...]*pairTable{
	gJISX0208: {enc: japanese.EUCJP},
	// EUC-JP reaches JIS X 0212 through single shift 3 (0x8F).
	gJISX0212: {enc: japanese.EUCJP, prefix: []byte{0x8F}},
	gKSX1001:  {enc: korean.EUCKR},
	// GBK is a superset of EUC-CN (GB 2312 in GR) with identical mappings
	// in the 0xA1-0xFE × 0xA1-0xFE range.
	gGB2312: {enc: simplifiedchinese.GBK},
}

// lookup returns the rune for the pair b1 b2 (each 0x21-0x7E), or U+FFFD
// if the set has no character there.
func (t *pairTable) lookup(b1, b2 byte) rune {
	if b1 < 0x21 || b1 > 0x7E || b2 < 0x21 || b2 > 0x7E {
		return utf8.RuneError
	}
	t.once.Do(t.build)
	return t.runes[int(b1-0x21)*94+int(b2-0x21)]
}

func (t *pairTable) build() {
	dec := t.enc.NewDecoder()
	src := make([]byte, 0, len(t.prefix)+2)
	var dst [16]byte
	for i := range t.runes {
		src = append(src[:0], t.prefix...)
		src = append(src, byte(0xA1+i/94), byte(0xA1+i%94))
		dec.Reset()
		n, nSrc, err := dec.Transform(dst[:], src, true)
		r, size := utf8.DecodeRune(dst[:n])
		if err != nil || nSrc != len(src) || size != n {
			// Not exactly one character: the set has nothing here.
			r = utf8.RuneError
		}
		t.runes[i] = r
	}
}
