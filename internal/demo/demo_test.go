package demo

import (
	"context"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/store"
)

// validNHSNumber checks the Modulus 11 check digit.
func validNHSNumber(s string) bool {
	if len(s) != 10 {
		return false
	}
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(s[i]-'0') * (10 - i)
	}
	check := (11 - sum%11) % 11
	return check != 10 && int(s[9]-'0') == check
}

func TestSeed(t *testing.T) {
	s, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, err := Seed(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, p := range Patients {
		want += p.IntraOral
		if p.Panoramic {
			want++
		}
		if !validNHSNumber(p.NHSNumber) || p.NHSNumber[:3] != "999" {
			t.Errorf("%s: NHS number %s is not a valid never-issued number", p.Name, p.NHSNumber)
		}
		ms, _, err := s.Query(context.Background(), store.Query{Level: store.StudyLevel, Keys: []store.Key{{Tag: dcm.AccessionNumber, Value: p.URN}}})
		if err != nil || len(ms) != 1 || ms[0].Attrs.First(dcm.PatientID) != p.NHSNumber {
			t.Errorf("%s: study by URN %s: %v %v", p.Name, p.URN, ms, err)
		}
	}
	if n != want {
		t.Errorf("seeded %d instances, want %d", n, want)
	}
	// Idempotent: seeding again adds nothing.
	if n, err := Seed(context.Background(), s); err != nil || n != 0 {
		t.Errorf("second seed: %d new, %v", n, err)
	}
}
