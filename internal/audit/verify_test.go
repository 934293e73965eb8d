package audit

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// tampered records the fixture, closes the log, lets edit change the
// database behind its back, and returns the log opened again with what was
// recorded.
func tampered(t *testing.T, edit func(t *testing.T, db *pebble.DB, stored []Entry)) (*Log, []Entry) {
	t.Helper()
	dir := t.TempDir()
	l, err := Open(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	stored := record(t, l, fixture())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := openPebble(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	edit(t, db, stored)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return openLog(t, dir), stored
}

func getValue(t *testing.T, db *pebble.DB, k []byte) []byte {
	t.Helper()
	v, closer, err := db.Get(k)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	return bytes.Clone(v)
}

func set(t *testing.T, db *pebble.DB, k, v []byte) {
	t.Helper()
	if err := db.Set(k, v, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func del(t *testing.T, db *pebble.DB, k []byte) {
	t.Helper()
	if err := db.Delete(k, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyIntact(t *testing.T) {
	l, stored := tampered(t, func(*testing.T, *pebble.DB, []Entry) {})
	n, err := l.Verify(context.Background())
	if err != nil || n != len(stored) {
		t.Errorf("Verify = %d, %v; want %d, nil", n, err, len(stored))
	}
	empty := openLog(t, "")
	if n, err := empty.Verify(context.Background()); err != nil || n != 0 {
		t.Errorf("Verify of an empty log = %d, %v", n, err)
	}
}

func TestVerifyDetects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(t *testing.T, db *pebble.DB, stored []Entry)
		wantN int
		msg   string // in the error
	}{
		{
			name: "entry altered in place",
			edit: func(t *testing.T, db *pebble.DB, _ []Entry) {
				// Same length, still valid JSON: only the chain shows it.
				v := getValue(t, db, entryKey(3))
				set(t, db, entryKey(3), bytes.Replace(v, []byte("not in care team"), []byte("in the care team"), 1))
			},
			wantN: 2, msg: "entry 4 does not carry the hash of entry 3",
		},
		{
			name: "indexed field altered",
			edit: func(t *testing.T, db *pebble.DB, _ []Entry) {
				v := getValue(t, db, entryKey(3))
				set(t, db, entryKey(3), bytes.Replace(v, []byte("alice@nhs.net"), []byte("mallo@nhs.net"), 1))
			},
			wantN: 2, msg: "entry 3: missing from the user index",
		},
		{
			name: "outcome changed from denied to ok",
			edit: func(t *testing.T, db *pebble.DB, _ []Entry) {
				v := getValue(t, db, entryKey(3))
				set(t, db, entryKey(3), bytes.Replace(v, []byte(`"denied"`), []byte(`"ok"`), 1))
			},
			wantN: 2, msg: "entry 4 does not carry the hash of entry 3",
		},
		{
			name: "entry garbled",
			edit: func(t *testing.T, db *pebble.DB, _ []Entry) {
				v := getValue(t, db, entryKey(3))
				set(t, db, entryKey(3), v[:len(v)-5])
			},
			wantN: 2, msg: "entry 3: entry JSON",
		},
		{
			name: "entry in a newer format",
			edit: func(t *testing.T, db *pebble.DB, _ []Entry) {
				v := getValue(t, db, entryKey(3))
				v[0] = formatVersion + 1
				set(t, db, entryKey(3), v)
			},
			wantN: 2, msg: "entry 3: entry format 2",
		},
		{
			name: "entry renumbered",
			edit: func(t *testing.T, db *pebble.DB, _ []Entry) {
				v := getValue(t, db, entryKey(3))
				v[8]++
				set(t, db, entryKey(3), v)
			},
			wantN: 2, msg: "entry 3: its value is numbered 4",
		},
		{
			name: "entry removed",
			edit: func(t *testing.T, db *pebble.DB, _ []Entry) {
				del(t, db, entryKey(3))
			},
			wantN: 2, msg: "entry 3: missing (the next entry is 4)",
		},
		{
			name: "first entry removed",
			edit: func(t *testing.T, db *pebble.DB, _ []Entry) {
				del(t, db, entryKey(1))
			},
			wantN: 0, msg: "entry 1: missing",
		},
		{
			name: "entry appended with a broken link",
			edit: func(t *testing.T, db *pebble.DB, stored []Entry) {
				forged := stored[0]
				forged.Seq, forged.Time = 7, t0
				body, err := encodeBody(&forged)
				if err != nil {
					t.Fatal(err)
				}
				set(t, db, entryKey(7), encodeValue(7, &[32]byte{}, body))
				for _, k := range indexKeys(&forged) {
					set(t, db, k, nil)
				}
			},
			wantN: 5, msg: "entry 7 does not carry the hash of entry 6",
		},
		{
			name: "index entry removed to hide an access",
			edit: func(t *testing.T, db *pebble.DB, stored []Entry) {
				del(t, db, indexKey(tURN, stored[1].URN, posOf(&stored[1])))
			},
			wantN: 1, msg: "entry 2: missing from the URN index",
		},
		{
			name: "time index entry removed",
			edit: func(t *testing.T, db *pebble.DB, stored []Entry) {
				del(t, db, indexKey(tTime, "", posOf(&stored[4])))
			},
			wantN: 4, msg: "entry 5: missing from the time index",
		},
		{
			name: "index entry forged",
			edit: func(t *testing.T, db *pebble.DB, stored []Entry) {
				set(t, db, indexKey(tUser, "mallory", posOf(&stored[1])), nil)
			},
			wantN: 6, msg: "the user index has 6 keys but the entries account for 5",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := tampered(t, tc.edit)
			n, err := l.Verify(context.Background())
			if !errors.Is(err, ErrTampered) {
				t.Fatalf("Verify = %d, %v; want ErrTampered", n, err)
			}
			if n != tc.wantN || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Verify = %d, %q; want %d and an error saying %q", n, err, tc.wantN, tc.msg)
			}
		})
	}
}

// TestSearchSkipsForgedIndexEntries: an index key that disagrees with its
// entry does not put the entry into a search it does not match.
func TestSearchSkipsForgedIndexEntries(t *testing.T) {
	l, stored := tampered(t, func(t *testing.T, db *pebble.DB, stored []Entry) {
		set(t, db, indexKey(tUser, "mallory", posOf(&stored[1])), nil)
		p := posOf(&stored[2])
		p.nanos++ // points at entry 3, but not where it is
		set(t, db, indexKey(tURN, "R-2", p), nil)
		set(t, db, indexKey(tURN, "R-2", pos{nanos: p.nanos, seq: 99}), nil) // no such entry
	})
	ctx := context.Background()
	if p, err := l.Search(ctx, Filter{User: "mallory"}); err != nil || len(p.Entries) != 0 {
		t.Errorf("search by forged user = %+v, %v; want nothing", p.Entries, err)
	}
	p, err := l.Search(ctx, Filter{URN: "R-2"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resources(p.Entries), resources(model(stored, Filter{URN: "R-2"})); got != want {
		t.Errorf("search by URN with forged keys = %s, want %s", got, want)
	}
}
