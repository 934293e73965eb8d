// Command benchtable reads `go test -bench` output on standard input and
// prints one row per benchmark metric with its target (see targets.go) and
// a PASS or FAIL verdict. A benchmark run several times (-count) is judged
// by its median. It exits 1 if any target failed, so scripts/bench.sh can
// fail a build.
//
//	go test -run '^$' -bench . ./store/ | go run ./internal/benchtable
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// cmp is how a value is compared with a target's limit.
type cmp int

const (
	atMost  cmp = iota + 1 // value ≤ limit
	atLeast                // value ≥ limit
	below                  // value < limit
)

func (c cmp) ok(v, limit float64) bool {
	switch c {
	case atMost:
		return v <= limit
	case atLeast:
		return v >= limit
	case below:
		return v < limit
	}
	return false
}

func (c cmp) String() string {
	switch c {
	case atMost:
		return "≤"
	case atLeast:
		return "≥"
	case below:
		return "<"
	}
	return "?"
}

type target struct {
	Bench string  // benchmark name without the -GOMAXPROCS suffix
	Per   string  // if set, the target is on Bench's value divided by Per's
	Unit  string  // the metric, as go test prints its unit
	Cmp   cmp     //
	Limit float64 // in Unit, or a plain ratio when Per is set
}

// metric names one benchmark's metric.
type metric struct{ bench, unit string }

// results holds every sample of every metric, and the order benchmarks and
// their metrics first appeared in.
type results struct {
	samples map[metric][]float64
	order   []metric
}

// gomaxprocs is the "-N" go test appends to benchmark names.
var gomaxprocs = regexp.MustCompile(`-\d+$`)

// parse reads benchmark result lines; everything else (logs, progress,
// PASS/ok) is skipped.
func parse(r io.Reader) (*results, error) {
	res := &results{samples: map[metric][]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// Name, iterations, then value-unit pairs.
		if len(f) < 4 || len(f)%2 != 0 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		name := gomaxprocs.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		for i := 2; i < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: value %q: %v", f[0], f[i], err)
			}
			m := metric{name, f[i+1]}
			if _, seen := res.samples[m]; !seen {
				res.order = append(res.order, m)
			}
			res.samples[m] = append(res.samples[m], v)
		}
	}
	return res, sc.Err()
}

// value returns the median sample of m.
func (r *results) value(m metric) (float64, bool) {
	s := r.samples[m]
	if len(s) == 0 {
		return 0, false
	}
	s = slices.Sorted(slices.Values(s))
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// maxSamples reports the most samples any metric has.
func (r *results) maxSamples() int {
	n := 0
	for _, s := range r.samples {
		n = max(n, len(s))
	}
	return n
}

type row struct {
	bench, value, unit, target, verdict string
}

// hidden metrics are left out unless a target names them: -benchmem's
// allocation counts say nothing about the targets.
var hidden = map[string]bool{"B/op": true, "allocs/op": true}

// evaluate turns results into table rows: each metric in the order it was
// printed, its ratio targets right after it, then targets whose
// benchmarks did not run.
func evaluate(res *results, targets []target) (rows []row, failed int) {
	used := make([]bool, len(targets))
	judge := func(t target, v float64) (string, string) {
		text := t.Cmp.String() + " " + formatLimit(t)
		if t.Cmp.ok(v, t.Limit) {
			return text, "PASS"
		}
		failed++
		return text, "FAIL"
	}
	for _, m := range res.order {
		v, _ := res.value(m)
		var tgt []int
		for i, t := range targets {
			if t.Bench == m.bench && t.Unit == m.unit {
				tgt = append(tgt, i)
			}
		}
		if hidden[m.unit] && len(tgt) == 0 {
			continue
		}
		val, unit := formatValue(v, m.unit)
		r := row{bench: m.bench, value: val, unit: unit}
		for _, i := range tgt {
			if targets[i].Per == "" {
				used[i] = true
				r.target, r.verdict = judge(targets[i], v)
			}
		}
		rows = append(rows, r)
		for _, i := range tgt {
			t := targets[i]
			if t.Per == "" {
				continue
			}
			den, ok := res.value(metric{t.Per, t.Unit})
			if !ok || den == 0 {
				continue
			}
			used[i] = true
			ratio := v / den
			r := row{bench: t.Bench + " ÷ " + t.Per, value: formatNumber(ratio), unit: t.Unit + " ratio"}
			r.target, r.verdict = judge(t, ratio)
			rows = append(rows, r)
		}
	}
	for i, t := range targets {
		if used[i] {
			continue
		}
		name, unit := t.Bench+" ÷ "+t.Per, t.Unit+" ratio"
		if t.Per == "" {
			name = t.Bench
			_, unit = formatValue(t.Limit, t.Unit)
		}
		rows = append(rows, row{bench: name, value: "-", unit: unit,
			target: t.Cmp.String() + " " + formatLimit(t), verdict: "not run"})
	}
	return rows, failed
}

// durations scales ns/op to the largest unit that keeps the value ≥ 1.
var durations = []struct {
	ns   float64
	unit string
}{{1e9, "s"}, {1e6, "ms"}, {1e3, "µs"}, {1, "ns"}}

func formatValue(v float64, unit string) (string, string) {
	if unit == "ns/op" {
		for _, d := range durations {
			if math.Abs(v) >= d.ns || d.ns == 1 {
				return formatNumber(v / d.ns), d.unit + "/op"
			}
		}
	}
	return formatNumber(v), unit
}

// formatLimit prints a target's limit as written in targets.go: exactly,
// in the unit its values are shown in.
func formatLimit(t target) string {
	if t.Per != "" {
		return strconv.FormatFloat(t.Limit, 'g', -1, 64)
	}
	limit, unit := t.Limit, t.Unit
	if unit == "ns/op" {
		for _, d := range durations {
			if limit >= d.ns || d.ns == 1 {
				limit, unit = limit/d.ns, d.unit+"/op"
				break
			}
		}
	}
	return strconv.FormatFloat(limit, 'g', -1, 64) + " " + unit
}

// formatNumber prints about three significant digits, without exponents.
func formatNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 0.01 || a == 0:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func write(w io.Writer, rows []row, markdown bool) error {
	header := row{"benchmark", "value", "unit", "target", "verdict"}
	if markdown {
		line := func(r row) {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", r.bench, r.value, r.unit, r.target, r.verdict)
		}
		line(header)
		fmt.Fprintln(w, "|---|---:|---|---|---|")
		for _, r := range rows {
			line(r)
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range append([]row{header}, rows...) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.bench, r.value, r.unit, r.target, r.verdict)
	}
	return tw.Flush()
}

func main() {
	markdown := flag.Bool("markdown", false, "print a Markdown table")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: go test -bench . ./... | benchtable [-markdown]")
		flag.PrintDefaults()
	}
	flag.Parse()
	res, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(2)
	}
	if len(res.order) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark results in the input")
		os.Exit(2)
	}
	rows, failed := evaluate(res, targets)
	if n := res.maxSamples(); n > 1 {
		fmt.Printf("values are medians of up to %d runs\n\n", n)
	}
	if err := write(os.Stdout, rows, *markdown); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(2)
	}
	if failed > 0 {
		fmt.Printf("\n%d target(s) missed\n", failed)
		os.Exit(1)
	}
}
