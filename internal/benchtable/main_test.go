package main

import (
	"strings"
	"testing"
)

const sample = `bench: building query-10k: 5000/10000 instances
goos: linux
pkg: github.com/molar-pacs/molar/store
BenchmarkQuery/instances=10k-2    	   46155	     48185 ns/op	     120 B/op	       3 allocs/op
BenchmarkQuery/instances=1M-2     	   10000	    150000 ns/op
BenchmarkQuery/instances=1M-2     	   10000	    130000 ns/op
BenchmarkQuery/instances=1M-2     	   10000	    900000 ns/op
BenchmarkIngest-2                 	    2607	    472600 ns/op	      2116 instances/s
BenchmarkBase/f=1-2               	     100	  10582733 ns/op	 400.00 MB/s
BenchmarkFilm/f=1-2               	     100	  15536306 ns/op	 300.00 MB/s
--- SKIP: BenchmarkOther
PASS
ok  	github.com/molar-pacs/molar/store	4.269s
`

func TestParseAndEvaluate(t *testing.T) {
	res, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := res.value(metric{"Query/instances=1M", "ns/op"}); v != 150000 {
		t.Errorf("median of three samples = %v, want 150000", v)
	}
	targets := []target{
		{Bench: "Query/instances=1M", Unit: "ns/op", Cmp: atMost, Limit: 1e6},
		{Bench: "Query/instances=1M", Per: "Query/instances=10k", Unit: "ns/op", Cmp: atMost, Limit: 1.1},
		{Bench: "Ingest", Unit: "instances/s", Cmp: atLeast, Limit: 2000},
		{Bench: "Film/f=1", Per: "Base/f=1", Unit: "MB/s", Cmp: atLeast, Limit: 0.8},
		{Bench: "Other", Unit: "ns/op", Cmp: below, Limit: 1},
	}
	rows, failed := evaluate(res, targets)
	got := map[string]row{}
	for _, r := range rows {
		got[r.bench+" "+r.unit] = r
	}
	for _, want := range []row{
		{bench: "Query/instances=10k", value: "48.2", unit: "µs/op"},
		{bench: "Query/instances=1M", value: "150", unit: "µs/op", target: "≤ 1 ms/op", verdict: "PASS"},
		{bench: "Query/instances=1M ÷ Query/instances=10k", value: "3.11", unit: "ns/op ratio", target: "≤ 1.1", verdict: "FAIL"},
		{bench: "Ingest", value: "2116", unit: "instances/s", target: "≥ 2000 instances/s", verdict: "PASS"},
		{bench: "Film/f=1 ÷ Base/f=1", value: "0.75", unit: "MB/s ratio", target: "≥ 0.8", verdict: "FAIL"},
		{bench: "Other", value: "-", unit: "ns/op", target: "< 1 ns/op", verdict: "not run"},
	} {
		if r := got[want.bench+" "+want.unit]; r != want {
			t.Errorf("row %q:\n got %+v\nwant %+v", want.bench, r, want)
		}
	}
	if failed != 2 {
		t.Errorf("%d failed, want 2", failed)
	}
	if _, ok := got["Query/instances=10k B/op"]; ok {
		t.Error("B/op shown without a target")
	}
}

func TestFormatNumber(t *testing.T) {
	for v, want := range map[float64]string{0: "0.00", 0.8: "0.80", 12.345: "12.3", 2116.4: "2116", 0.0001234: "0.000123"} {
		if got := formatNumber(v); got != want {
			t.Errorf("formatNumber(%v) = %q, want %q", v, got, want)
		}
	}
}
