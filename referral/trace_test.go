package referral

import (
	"context"
	"testing"

	"github.com/molar-pacs/molar/internal/demographics"
)

func TestTrace(t *testing.T) {
	table, err := demographics.NewTable([]demographics.Person{
		{NHSNumber: "9434765919", Family: "Smith", Given: []string{"Olivia"}, BirthDate: "1984-03-12", Gender: "female", Postcode: "LS1 5AB"},
		{NHSNumber: "9000000009", Family: "Jones", Given: []string{"Harry"}, BirthDate: "1971-07-21", Gender: "male", Postcode: "LS2 7AA"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		edit        func(p *Patient)
		outcome     string
		wantNumber  string // the referral's number after the trace
		traceNumber string
	}{
		{"matched", func(p *Patient) {}, "matched", "9434765919", "9434765919"},
		{"number of someone else: flagged, kept", func(p *Patient) { p.NHSNumber = "9000000009" }, "mismatch", "9000000009", "9000000009"},
		{"unknown number", func(p *Patient) { p.NHSNumber = "9000000017" }, "not-found", "9000000017", ""},
		{"no number: found and added", func(p *Patient) { p.NHSNumber = "" }, "added", "9434765919", "9434765919"},
		{"no number, nobody matches", func(p *Patient) { p.NHSNumber, p.Family = "", "Smyth" }, "not-found", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{Demographics: table})
			form := completeForm()
			tc.edit(&form.Patient)
			r, _, err := f.svc.CreateDraft(context.Background(), referrer, form)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.svc.Trace(context.Background(), referrer, r.ID, r.Version)
			if err != nil {
				t.Fatal(err)
			}
			if got.Trace == nil || got.Trace.Outcome != tc.outcome || got.Trace.NHSNumber != tc.traceNumber || got.Patient.NHSNumber != tc.wantNumber {
				t.Fatalf("trace %+v, number %q; want %s, traced %q, number %q", got.Trace, got.Patient.NHSNumber, tc.outcome, tc.traceNumber, tc.wantNumber)
			}
			if got.Trace.Detail == "" {
				t.Error("no explanation for the referrer")
			}
		})
	}
}
