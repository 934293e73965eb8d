package audit

import (
	"bytes"
	"cmp"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestIndexKeyOrder: byte order of index keys is (value, time, seq) order,
// whatever bytes the values hold, so a walk of one value's keys sees
// exactly its entries in time order.
func TestIndexKeyOrder(t *testing.T) {
	values := []string{"", "a", "a\x00", "a\x00\x00", "a\x00b", "a\x01", "a\xff", "ab", "b", "\x00", "\xff\xff"}
	type row struct {
		value string
		p     pos
	}
	rng := rand.New(rand.NewPCG(8, 9))
	var rows []row
	for range 2000 {
		rows = append(rows, row{values[rng.IntN(len(values))], pos{rng.Int64N(5), rng.Uint64N(5)}})
	}
	for _, table := range []byte{tURN, tNHS, tUser} {
		byKey := slices.Clone(rows)
		slices.SortFunc(byKey, func(a, b row) int {
			return bytes.Compare(indexKey(table, a.value, a.p), indexKey(table, b.value, b.p))
		})
		byValue := slices.Clone(rows)
		slices.SortStableFunc(byValue, func(a, b row) int {
			return cmp.Or(cmp.Compare(a.value, b.value), cmp.Compare(a.p.nanos, b.p.nanos), cmp.Compare(a.p.seq, b.p.seq))
		})
		if !slices.Equal(byKey, byValue) {
			t.Fatalf("table %c: key order is not (value, time, seq) order", table)
		}
	}
	for _, r := range rows {
		for _, v := range values {
			k := indexKey(tURN, r.value, r.p)
			if got := bytes.HasPrefix(k, indexPrefix(tURN, v)); got != (v == r.value) {
				t.Fatalf("key for %q has prefix for %q: %v", r.value, v, got)
			}
			if p, ok := posFromKey(k); !ok || p != r.p {
				t.Fatalf("posFromKey = %v, %v; want %v", p, ok, r.p)
			}
		}
	}
}

func TestValueRoundTrip(t *testing.T) {
	e := fixture()[2]
	e.Seq = 42
	var prev [32]byte
	prev[0], prev[31] = 1, 2
	body, err := encodeBody(&e)
	if err != nil {
		t.Fatal(err)
	}
	v := encodeValue(42, &prev, body)
	got, gotPrev, err := decodeValue(v)
	if err != nil {
		t.Fatal(err)
	}
	if got != e || gotPrev != prev {
		t.Errorf("decoded %+v %x, want %+v %x", got, gotPrev, e, prev)
	}
	if bytes.Contains(body, []byte(`"seq"`)) {
		t.Errorf("JSON body %s holds seq, which the header carries", body)
	}
	for name, bad := range map[string][]byte{
		"empty":     {},
		"newer":     append([]byte{formatVersion + 1}, v[1:]...),
		"truncated": v[:valueHeaderLen-1],
		"not JSON":  append(bytes.Clone(v[:valueHeaderLen]), "{"...),
	} {
		if _, _, err := decodeValue(bad); err == nil {
			t.Errorf("%s value decoded", name)
		}
	}
}

func TestCursor(t *testing.T) {
	for _, p := range []pos{{0, 0}, {1, 2}, {maxTime.UnixNano(), 1<<64 - 1}} {
		got, err := decodeCursor(encodeCursor(p))
		if err != nil || got != p {
			t.Errorf("cursor of %v decodes to %v, %v", p, got, err)
		}
	}
	for _, s := range []string{"", "x", "////", encodeCursor(pos{1, 1}) + "A", "_____________________w"} {
		if _, err := decodeCursor(s); !errors.Is(err, ErrBadFilter) {
			t.Errorf("decodeCursor(%q) = %v, want ErrBadFilter", s, err)
		}
	}
}

func TestNormalNHS(t *testing.T) {
	for in, want := range map[string]string{
		"9434765919": "9434765919", "943 476 5919": "9434765919", "943-476-5919": "9434765919",
		" 943 476-5919 ": "9434765919", "": "",
	} {
		if got := normalNHS(in); got != want {
			t.Errorf("normalNHS(%q) = %q, want %q", in, got, want)
		}
	}
}
