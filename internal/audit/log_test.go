package audit

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// openLog opens a log in dir (a fresh one if dir is empty) and closes it
// when the test ends.
func openLog(t testing.TB, dir string) *Log {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	l, err := Open(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// fixture is a small log whose entries are told apart by Resource. Entry
// 6 has the same time as entry 2, so ties are broken by Seq.
func fixture() []Entry {
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	return []Entry{
		{Time: at(1), User: "alice@nhs.net", Role: "clinician", Org: "A1B2C", URN: "R-1", NHSNumber: "943 476 5919",
			Action: ActionReferralView, Resource: "e1", ClientAddr: "192.0.2.1:5000", Outcome: OutcomeOK},
		{Time: at(2), User: "bob@nhs.net", Role: "radiographer", URN: "R-2", NHSNumber: "9434765919",
			Action: ActionStudyRetrieve, Resource: "e2", Outcome: OutcomeOK},
		{Time: at(3), User: "alice@nhs.net", OnBehalfOf: "dr.who@nhs.net", URN: "R-2", NHSNumber: "401 023 2137",
			Action: ActionFrameRender, Resource: "e3", Outcome: OutcomeDenied, Detail: "not in care team"},
		{Time: at(4), CallingAE: "OTHERPACS", NHSNumber: "4010232137",
			Action: ActionDIMSEMove, Resource: "e4", Outcome: OutcomeOK},
		{Time: at(5), User: "alice@nhs.net", URN: "R-1", NHSNumber: "943-476-5919",
			Action: ActionViewerOpen, Resource: "e5", Outcome: OutcomeFailed},
		{Time: at(2), User: "bob@nhs.net", URN: "R-1",
			Action: ActionReferralView, Resource: "e6", Outcome: OutcomeOK},
	}
}

// record records entries one at a time, so the n-th gets Seq n (on an
// empty log), and returns them as stored.
func record(t testing.TB, l *Log, entries []Entry) []Entry {
	t.Helper()
	seq, _ := l.head()
	var out []Entry
	for _, e := range entries {
		if err := l.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		seq++
		e.Seq = seq
		e.Time = e.Time.UTC()
		out = append(out, e)
	}
	return out
}

func resources(entries []Entry) string {
	var r []string
	for _, e := range entries {
		r = append(r, e.Resource)
	}
	return strings.Join(r, " ")
}

func TestSearchByKey(t *testing.T) {
	l := openLog(t, "")
	record(t, l, fixture())
	for _, tc := range []struct {
		name string
		f    Filter
		want string
	}{
		{"everything", Filter{}, "e5 e4 e3 e6 e2 e1"},
		{"urn", Filter{URN: "R-1"}, "e5 e6 e1"},
		{"urn other", Filter{URN: "R-2"}, "e3 e2"},
		{"urn unknown", Filter{URN: "R-9"}, ""},
		{"urn is exact", Filter{URN: "r-1"}, ""},
		{"nhs any spelling", Filter{NHSNumber: "9434765919"}, "e5 e2 e1"},
		{"nhs spaced query", Filter{NHSNumber: "401 023 2137"}, "e4 e3"},
		{"user", Filter{User: "alice@nhs.net"}, "e5 e3 e1"},
		{"user bob", Filter{User: "bob@nhs.net"}, "e6 e2"},
		{"from inclusive", Filter{From: t0.Add(3 * time.Minute)}, "e5 e4 e3"},
		{"to exclusive", Filter{To: t0.Add(3 * time.Minute)}, "e6 e2 e1"},
		{"range", Filter{From: t0.Add(2 * time.Minute), To: t0.Add(4 * time.Minute)}, "e3 e6 e2"},
		{"range other zone", Filter{From: t0.Add(2 * time.Minute).In(time.FixedZone("CET", 3600))}, "e5 e4 e3 e6 e2"},
		{"urn and range", Filter{URN: "R-1", From: t0.Add(2 * time.Minute)}, "e5 e6"},
		{"urn and user", Filter{URN: "R-1", User: "bob@nhs.net"}, "e6"},
		{"nhs and user", Filter{NHSNumber: "9434765919", User: "alice@nhs.net"}, "e5 e1"},
		{"all keys", Filter{URN: "R-2", NHSNumber: "4010232137", User: "alice@nhs.net"}, "e3"},
		{"empty range", Filter{From: t0.Add(time.Minute), To: t0.Add(time.Minute)}, ""},
		{"before everything", Filter{To: t0}, ""},
		{"times out of range", Filter{From: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, "e5 e4 e3 e6 e2 e1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := l.Search(context.Background(), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := resources(p.Entries); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if p.Next != "" {
				t.Errorf("Next = %q for a complete result", p.Next)
			}
		})
	}
}

func TestSearchReturnsEntriesAsRecorded(t *testing.T) {
	l := openLog(t, "")
	want := record(t, l, fixture())
	p, err := l.Search(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	got := p.Entries
	slices.SortFunc(got, func(a, b Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries differ from those recorded:\n got %+v\nwant %+v", got, want)
	}
}

func TestSearchBadFilter(t *testing.T) {
	l := openLog(t, "")
	record(t, l, fixture())
	for _, f := range []Filter{
		{After: "not a cursor"},
		{After: "AAAA"},
		{From: t0.Add(time.Hour), To: t0},
	} {
		if _, err := l.Search(context.Background(), f); !errors.Is(err, ErrBadFilter) {
			t.Errorf("Search(%+v) = %v, want ErrBadFilter", f, err)
		}
		if err := l.Export(context.Background(), f, &bytes.Buffer{}); !errors.Is(err, ErrBadFilter) {
			t.Errorf("Export(%+v) = %v, want ErrBadFilter", f, err)
		}
	}
}

// model is what a search should return, worked out the slow way.
func model(all []Entry, f Filter) []Entry {
	var out []Entry
	for _, e := range all {
		if (f.URN != "" && e.URN != f.URN) ||
			(f.NHSNumber != "" && normalNHS(e.NHSNumber) != normalNHS(f.NHSNumber)) ||
			(f.User != "" && e.User != f.User) ||
			(!f.From.IsZero() && e.Time.Before(f.From)) ||
			(!f.To.IsZero() && !e.Time.Before(f.To)) {
			continue
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(b.Time.Compare(a.Time), cmp.Compare(b.Seq, a.Seq))
	})
	return out
}

// randomLog records n entries drawn from a few users, URNs and NHS numbers
// with times that repeat and go backwards, as clocks and callers do.
func randomLog(t testing.TB, l *Log, rng *rand.Rand, n int) []Entry {
	pick := func(opts ...string) string { return opts[rng.IntN(len(opts))] }
	var in []Entry
	for i := range n {
		in = append(in, Entry{
			Time:      t0.Add(time.Duration(rng.IntN(50)) * time.Second),
			User:      pick("", "u1", "u2", "u3", "u1\x00x"),
			URN:       pick("", "R-1", "R-1\x00", "R-10", "R-2"),
			NHSNumber: pick("", "111 111 1111", "1111111111", "2222222222"),
			Action:    ActionStudyRetrieve,
			Resource:  fmt.Sprint(i),
			Outcome:   OutcomeOK,
		})
	}
	return record(t, l, in)
}

func randomFilter(rng *rand.Rand) Filter {
	pick := func(opts ...string) string { return opts[rng.IntN(len(opts))] }
	f := Filter{
		User:      pick("", "", "u1", "u2", "u1\x00x", "nobody"),
		URN:       pick("", "", "R-1", "R-1\x00", "R-10"),
		NHSNumber: pick("", "", "1111111111", "222 222 2222"),
	}
	if rng.IntN(2) == 0 {
		f.From = t0.Add(time.Duration(rng.IntN(50)) * time.Second)
	}
	if rng.IntN(2) == 0 {
		f.To = f.From.Add(time.Duration(rng.IntN(30)) * time.Second)
		if f.From.IsZero() {
			f.To = t0.Add(time.Duration(rng.IntN(50)) * time.Second)
		}
	}
	return f
}

// TestSearchPaging pages through random searches with small limits: the
// pages must add up to the model's answer, in order, with no repeats, and
// only the last must have no Next.
func TestSearchPaging(t *testing.T) {
	l := openLog(t, "")
	rng := rand.New(rand.NewPCG(1, 2))
	all := randomLog(t, l, rng, 300)
	for range 150 {
		f := randomFilter(rng)
		f.Limit = 1 + rng.IntN(12)
		want := model(all, f)
		var got []Entry
		for pages := 0; ; pages++ {
			if pages > len(want)+1 {
				t.Fatalf("%+v: paging does not end", f)
			}
			p, err := l.Search(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Entries) > f.Limit {
				t.Fatalf("%+v: page of %d entries", f, len(p.Entries))
			}
			got = append(got, p.Entries...)
			if p.Next == "" {
				break
			}
			if len(p.Entries) != f.Limit {
				t.Fatalf("%+v: short page of %d with a Next", f, len(p.Entries))
			}
			f.After = p.Next
		}
		if resources(got) != resources(want) {
			t.Errorf("%+v:\n got %s\nwant %s", f, resources(got), resources(want))
		}
	}
}

func TestSearchLimit(t *testing.T) {
	l := openLog(t, "")
	all := randomLog(t, l, rand.New(rand.NewPCG(3, 4)), DefaultLimit+MaxLimit+5)
	for _, tc := range []struct{ limit, want int }{{0, DefaultLimit}, {-1, DefaultLimit}, {7, 7}, {MaxLimit + 1, MaxLimit}} {
		p, err := l.Search(context.Background(), Filter{Limit: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Entries) != tc.want || p.Next == "" {
			t.Errorf("limit %d: %d entries, next %q; want %d and a cursor", tc.limit, len(p.Entries), p.Next, tc.want)
		}
	}
	// A limit equal to what is left gives a last page without Next.
	p, err := l.Search(context.Background(), Filter{Limit: MaxLimit, After: encodeCursor(posOf(&model(all, Filter{})[DefaultLimit+4]))})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != MaxLimit || p.Next != "" {
		t.Errorf("last page: %d entries, next %q; want %d and none", len(p.Entries), p.Next, MaxLimit)
	}
}

// readJSONLines decodes an export, requiring one JSON object per line.
func readJSONLines(t testing.TB, data []byte) []Entry {
	t.Helper()
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		var e Entry
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		if dec.More() {
			t.Fatalf("export line %q holds more than one object", sc.Text())
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestExportRoundTrip(t *testing.T) {
	l := openLog(t, "")
	rng := rand.New(rand.NewPCG(5, 6))
	all := randomLog(t, l, rng, 2*exportPage+17) // several export pages
	all = append(all, record(t, l, fixture())...)
	for i, f := range []Filter{{}, {User: "u1"}, {URN: "R-1", Limit: 3}, {Limit: exportPage}, {Limit: exportPage + 1},
		randomFilter(rng), randomFilter(rng), randomFilter(rng)} {
		var buf bytes.Buffer
		if err := l.Export(context.Background(), f, &buf); err != nil {
			t.Fatal(err)
		}
		got := readJSONLines(t, buf.Bytes())
		want := model(all, f)
		if f.Limit > 0 {
			want = want[:min(f.Limit, len(want))]
		}
		if len(want) == 0 {
			want = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("filter %d %+v: export of %d entries differs from the %d expected", i, f, len(got), len(want))
		}
	}
	// The fields survive export exactly, including ones set to odd values.
	odd := Entry{Time: t0.Add(time.Nanosecond), User: "<script>&\"", Action: "x.y", Outcome: OutcomeDenied,
		Detail: "línea\nnueva", Resource: "/studies/1.2.3?a=b&c=d"}
	stored := record(t, l, []Entry{odd})[0]
	var buf bytes.Buffer
	if err := l.Export(context.Background(), Filter{From: odd.Time, To: odd.Time.Add(1)}, &buf); err != nil {
		t.Fatal(err)
	}
	if got := readJSONLines(t, buf.Bytes()); len(got) != 1 || !reflect.DeepEqual(got[0], stored) {
		t.Errorf("exported %+v, want %+v", got, stored)
	}
}

func TestRecordPreparesEntry(t *testing.T) {
	l := openLog(t, "")
	ctx := context.Background()
	before := time.Now()
	if err := l.Record(ctx, Entry{Seq: 99, Action: "a.b", Outcome: OutcomeOK, Resource: "now"}); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	zone := time.FixedZone("X", -5*3600)
	if err := l.Record(ctx, Entry{Time: t0.In(zone), Action: "a.b", Outcome: OutcomeOK, User: "bad\xffutf8"}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := l.Export(ctx, Filter{}, &buf); err != nil {
		t.Fatal(err)
	}
	got := readJSONLines(t, buf.Bytes())
	if len(got) != 2 {
		t.Fatalf("%d entries, want 2", len(got))
	}
	now, zoned := got[0], got[1]
	if now.Seq != 1 || zoned.Seq != 2 {
		t.Errorf("sequences %d, %d; want 1, 2 whatever the caller set", now.Seq, zoned.Seq)
	}
	if now.Time.Location() != time.UTC || now.Time.Before(before.Truncate(time.Nanosecond)) || now.Time.After(after) {
		t.Errorf("time set to %v, want UTC between %v and %v", now.Time, before, after)
	}
	if !zoned.Time.Equal(t0) || zoned.Time.Location() != time.UTC {
		t.Errorf("time %v, want %v in UTC", zoned.Time, t0)
	}
	if zoned.User != "bad\uFFFDutf8" {
		t.Errorf("user %q: invalid UTF-8 not replaced", zoned.User)
	}
	if p, _ := l.Search(ctx, Filter{User: "bad\uFFFDutf8"}); len(p.Entries) != 1 {
		t.Errorf("entry with replaced UTF-8 not found by its stored user")
	}
}

func TestRecordRefuses(t *testing.T) {
	l := openLog(t, "")
	ctx := context.Background()
	valid := Entry{Action: ActionReferralView, Outcome: OutcomeOK}
	for name, e := range map[string]Entry{
		"no action":     {Outcome: OutcomeOK},
		"no outcome":    {Action: ActionReferralView},
		"bad outcome":   {Action: ActionReferralView, Outcome: "granted"},
		"long resource": {Action: ActionReferralView, Outcome: OutcomeOK, Resource: strings.Repeat("x", maxField+1)},
		"before 1970":   {Action: ActionReferralView, Outcome: OutcomeOK, Time: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)},
		"far future":    {Action: ActionReferralView, Outcome: OutcomeOK, Time: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		err := l.Record(ctx, e)
		if !errors.Is(err, errInvalid) || !strings.HasPrefix(err.Error(), "audit record: ") {
			t.Errorf("%s: Record = %v, want an invalid-entry error", name, err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Record(cancelled, valid); !errors.Is(err, context.Canceled) {
		t.Errorf("Record with cancelled context = %v", err)
	}
	if n, err := l.Verify(ctx); n != 0 || err != nil {
		t.Errorf("refused entries were stored: Verify = %d, %v", n, err)
	}
	l.Close()
	if err := l.Record(ctx, valid); !errors.Is(err, ErrClosed) {
		t.Errorf("Record after Close = %v, want ErrClosed", err)
	}
	if _, err := l.Search(ctx, Filter{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Search after Close = %v, want ErrClosed", err)
	}
	if _, err := l.Verify(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Verify after Close = %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// TestReopen: what Record acknowledged is there after Close and Open, and
// the sequence and chain carry on from it.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	l, err := Open(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	want := record(t, l, fixture())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openLog(t, dir)
	p, err := l.Search(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := model(p.Entries, Filter{}); !reflect.DeepEqual(got, model(want, Filter{})) {
		t.Fatalf("after reopen:\n got %+v\nwant %+v", got, want)
	}
	more := record(t, l, fixture()[:2])
	if more[0].Seq != uint64(len(want)+1) {
		t.Fatalf("first entry after reopen has seq %d, want %d", more[0].Seq, len(want)+1)
	}
	if n, err := l.Verify(ctx); err != nil || n != len(want)+2 {
		t.Errorf("Verify = %d, %v; want %d, nil", n, err, len(want)+2)
	}
}

func TestOpenRefusesOtherDatabases(t *testing.T) {
	ctx := context.Background()
	foreign := t.TempDir()
	db, err := openPebble(foreign, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Set([]byte("Tstudy"), []byte("x"), nil)
	db.Close()
	if _, err := Open(ctx, Options{Dir: foreign}); err == nil || !strings.Contains(err.Error(), "not an audit log") {
		t.Errorf("Open of a foreign database = %v", err)
	}

	newer := t.TempDir()
	l := openLog(t, newer)
	l.Close()
	db, err = openPebble(newer, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Set(formatKey, []byte{formatVersion + 1}, nil)
	db.Close()
	if _, err := Open(ctx, Options{Dir: newer}); err == nil || !strings.Contains(err.Error(), "format") {
		t.Errorf("Open of a newer format = %v", err)
	}
	if _, err := Open(ctx, Options{}); err == nil {
		t.Errorf("Open without a directory succeeded")
	}
}

// TestConcurrentRecord: many recorders at once all get distinct, gap-free
// sequence numbers, each sees its own entries in order, and they share
// fsyncs.
func TestConcurrentRecord(t *testing.T) {
	const writers, each = 16, 40
	l := openLog(t, "")
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				err := l.Record(ctx, Entry{User: fmt.Sprintf("w%d", w), Action: ActionFrameRender,
					Resource: fmt.Sprintf("w%d-%d", w, i), Outcome: OutcomeOK})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	var buf bytes.Buffer
	if err := l.Export(ctx, Filter{}, &buf); err != nil {
		t.Fatal(err)
	}
	got := readJSONLines(t, buf.Bytes())
	if len(got) != writers*each {
		t.Fatalf("%d entries, want %d", len(got), writers*each)
	}
	seen := map[uint64]bool{}
	lastOf := map[string]int{}
	slices.SortFunc(got, func(a, b Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, e := range got {
		if seen[e.Seq] || e.Seq < 1 || e.Seq > writers*each {
			t.Fatalf("sequence %d repeated or out of range", e.Seq)
		}
		seen[e.Seq] = true
		var w, i int
		fmt.Sscanf(e.Resource, "w%d-%d", &w, &i)
		// A writer records its next entry only after the last returned,
		// so its entries must appear in its own order.
		key := fmt.Sprintf("w%d", w)
		if prev, ok := lastOf[key]; (ok && prev+1 != i) || (!ok && i != 0) {
			t.Fatalf("writer %d: entry %d out of order (previous %d)", w, i, prev)
		}
		lastOf[key] = i
	}
	for w := range writers {
		p, err := l.Search(ctx, Filter{User: fmt.Sprintf("w%d", w), Limit: MaxLimit})
		if err != nil || len(p.Entries) != each {
			t.Fatalf("writer %d: %d entries by user, %v", w, len(p.Entries), err)
		}
	}
	st := l.Stats()
	if st.Entries != writers*each {
		t.Errorf("Stats.Entries = %d, want %d", st.Entries, writers*each)
	}
	if st.Commits == 0 || st.Commits >= st.Entries {
		t.Errorf("Stats = %+v: %d recorders shared no fsync", st, writers)
	}
	t.Logf("%d entries in %d commits: %.1f entries per fsync", st.Entries, st.Commits, float64(st.Entries)/float64(st.Commits))
	if n, err := l.Verify(ctx); err != nil || n != writers*each {
		t.Errorf("Verify = %d, %v", n, err)
	}
}

// TestCloseCommitsQueued: entries whose Record is under way when Close
// starts are committed before Close returns, or refused with ErrClosed;
// none is lost after being acknowledged.
func TestCloseCommitsQueued(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	l, err := Open(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked = map[string]bool{}
	)
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				r := fmt.Sprintf("%d-%d", w, i)
				err := l.Record(ctx, Entry{Action: "a.b", Outcome: OutcomeOK, Resource: r})
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked[r] = true
				mu.Unlock()
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	l = openLog(t, dir)
	var buf bytes.Buffer
	if err := l.Export(ctx, Filter{}, &buf); err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, e := range readJSONLines(t, buf.Bytes()) {
		stored[e.Resource] = true
	}
	for r := range acked {
		if !stored[r] {
			t.Errorf("acknowledged entry %s lost at Close", r)
		}
	}
	if len(acked) == 0 {
		t.Error("nothing was recorded before Close")
	}
}

// TestSearchWalksIndex: a search on a key reads the entries under that
// key, not the log.
func TestSearchWalksIndex(t *testing.T) {
	l := openLog(t, "")
	ctx := context.Background()
	var in []Entry
	for i := range 500 {
		in = append(in, Entry{Time: t0.Add(time.Duration(i) * time.Second), User: "busy", URN: "R-busy",
			NHSNumber: "1111111111", Action: ActionStudyRetrieve, Outcome: OutcomeOK})
	}
	in[100].URN, in[200].NHSNumber, in[300].User = "R-rare", "2222222222", "rare"
	record(t, l, in)
	for _, f := range []Filter{{URN: "R-rare"}, {NHSNumber: "222 222 2222"}, {User: "rare"}, {User: "busy", URN: "R-rare"}} {
		before := l.entryReads.Load()
		p, err := l.Search(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if reads := l.entryReads.Load() - before; len(p.Entries) != 1 || reads != 1 {
			t.Errorf("%+v: %d entries found reading %d, want 1 reading 1", f, len(p.Entries), reads)
		}
	}
	// A time range reads only the entries in it.
	before := l.entryReads.Load()
	p, err := l.Search(ctx, Filter{From: t0.Add(10 * time.Second), To: t0.Add(20 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if reads := l.entryReads.Load() - before; len(p.Entries) != 10 || reads != 10 {
		t.Errorf("time range: %d entries found reading %d, want 10 reading 10", len(p.Entries), reads)
	}
}
