package referral

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes holds api/openapi.yaml to the handler: every
// route is described, every described operation exists, and the lists of
// names the description spells out (statuses, steps, worklists) are the
// ones the code knows.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	b, err := os.ReadFile("api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec := string(b)
	var described []string
	path := ""
	pathLine := regexp.MustCompile(`^  (/api/\S+):\s*$`)
	opLine := regexp.MustCompile(`^    (get|put|post|delete|patch):`)
	for _, l := range strings.Split(spec, "\n") {
		if m := pathLine.FindStringSubmatch(l); m != nil {
			path = m[1]
			continue
		}
		if !strings.HasPrefix(l, "  ") {
			path = ""
		}
		if m := opLine.FindStringSubmatch(l); m != nil && path != "" {
			described = append(described, strings.ToUpper(m[1])+" "+path)
		}
	}
	var served []string
	for _, rt := range routes {
		served = append(served, rt.pattern)
	}
	for _, op := range served {
		if !slices.Contains(described, op) {
			t.Errorf("%s is served but not in api/openapi.yaml", op)
		}
	}
	for _, op := range described {
		if !slices.Contains(served, op) {
			t.Errorf("%s is in api/openapi.yaml but not served", op)
		}
	}
	if len(described) < 20 {
		t.Errorf("only %d operations found in the description: is the parser still right?", len(described))
	}

	enum := func(field string) []string {
		m := regexp.MustCompile(`(?m)^\s+(?:- \{)?` + regexp.QuoteMeta(field) + `.*enum: \[([^\]]*)\]`).FindStringSubmatch(spec)
		if m == nil {
			t.Fatalf("no enum for %s in api/openapi.yaml", field)
		}
		var out []string
		for _, v := range strings.Split(m[1], ",") {
			out = append(out, strings.TrimSpace(v))
		}
		slices.Sort(out)
		return out
	}
	sorted := func(xs []string) []string { slices.Sort(xs); return xs }
	var statuses, steps []string
	for _, st := range Statuses() {
		statuses = append(statuses, string(st))
	}
	for _, st := range Steps() {
		steps = append(steps, string(st))
	}
	for _, tc := range []struct {
		field string
		code  []string
	}{
		{"status:", sorted(statuses)},
		{"step:", sorted(steps)},
		{"name: name", sorted(Worklists())},
	} {
		if got := enum(tc.field); !slices.Equal(got, tc.code) {
			t.Errorf("%s enum in api/openapi.yaml %v; the code has %v", tc.field, got, tc.code)
		}
	}
}
