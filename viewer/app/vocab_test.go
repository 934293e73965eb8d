package app

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/referral"
)

// vocabPairs reads `export const name = { code: "label", … };` from
// vocab.js.
func vocabPairs(t *testing.T, src, name string) map[string]string {
	t.Helper()
	m := regexp.MustCompile(`(?s)export const ` + name + ` = \{(.*?)\n\};`).FindStringSubmatch(src)
	if m == nil {
		t.Fatalf("vocab.js has no %s", name)
	}
	out := map[string]string{}
	for _, p := range regexp.MustCompile(`"?([A-Za-z0-9_-]+)"?: "([^"]*)"`).FindAllStringSubmatch(m[1], -1) {
		out[p[1]] = p[2]
	}
	return out
}

// reasonCodes reads the codes of each step's reasons from REASONS: a key
// at two spaces' indent starts a step's list, and its codes follow.
func reasonCodes(t *testing.T, src string) map[string][]string {
	t.Helper()
	m := regexp.MustCompile(`(?s)export const REASONS = \{(.*?)\n\};`).FindStringSubmatch(src)
	if m == nil {
		t.Fatal("vocab.js has no REASONS")
	}
	out := map[string][]string{}
	step := ""
	key, code := regexp.MustCompile(`^  ([A-Za-z]+): \[`), regexp.MustCompile(`\["([a-z-]+)", "`)
	for _, line := range strings.Split(m[1], "\n") {
		if k := key.FindStringSubmatch(line); k != nil {
			step = k[1]
		}
		for _, c := range code.FindAllStringSubmatch(line, -1) {
			out[step] = append(out[step], c[1])
		}
	}
	return out
}

// The pages' words for the server's codes are the server's: every status
// with its label, every procedure and kind of anaesthesia with the words
// the server validates against, and the reason codes each step takes.
func TestVocabularyMatchesServer(t *testing.T) {
	b, err := os.ReadFile("assets/vocab.js")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	statuses := vocabPairs(t, src, "STATUS")
	for _, st := range referral.Statuses() {
		if statuses[string(st)] != st.Label() {
			t.Errorf("status %s: the pages say %q, the server %q", st, statuses[string(st)], st.Label())
		}
	}
	if len(statuses) != len(referral.Statuses()) {
		t.Errorf("the pages know %d statuses, the server %d", len(statuses), len(referral.Statuses()))
	}
	for name, want := range map[string]map[string]string{"PROCEDURES": referral.Procedures, "ANAESTHESIA": referral.Anaesthesia} {
		got := vocabPairs(t, src, name)
		for code, label := range want {
			if got[code] != label {
				t.Errorf("%s %s: the pages say %q, the server %q", name, code, got[code], label)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: the pages know %d, the server %d", name, len(got), len(want))
		}
	}
	reasons := reasonCodes(t, src)
	for step, want := range map[string][]string{"return": referral.ReturnReasons, "info": referral.InfoReasons,
		"redirect": referral.RedirectReasons, "cancel": referral.CancelReasons, "discharge": referral.DischargeReason} {
		if got := reasons[step]; !slices.Equal(got, want) {
			t.Errorf("%s reasons: the pages have %v, the server %v", step, got, want)
		}
	}
}
