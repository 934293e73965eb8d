// Package demo seeds an archive with synthetic dental studies so a
// newcomer has something to look at. Everything it writes is fictional:
// NHS numbers in the 999 range, which is never issued to patients. Seeding
// is idempotent (UIDs derive from names), so it can run at every start.
package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
	"github.com/molar-pacs/molar/store"
)

// Archive is what seeding needs of the store.
type Archive interface {
	Ingest(ctx context.Context, r io.Reader) (*store.Result, error)
}

// Patient is one fictional patient with one referral's films.
type Patient struct {
	Name, NHSNumber, BirthDate, Sex string
	URN                             string
	StudyDate                       string
	IntraOral                       int  // number of IO films
	Panoramic                       bool // one OPG
}

// Patients are the demo data set.
var Patients = []Patient{
	{"SMITH^OLIVIA", NHSNumber(1), "19840312", "F", "DEMO4K7Q2X", "20261102", 3, true},
	{"JONES^HARRY", NHSNumber(2), "19710721", "M", "DEMO8M3R5T", "20261105", 2, false},
	{"PATEL^AISHA", NHSNumber(3), "19990130", "F", "DEMO2H9W4N", "20261109", 0, true},
	{"MÜLLER^JOSÉ", NHSNumber(4), "19650917", "M", "DEMO6C5V8P", "20261112", 4, true},
	{"O'BRIEN^SIOBHAN", NHSNumber(5), "20030504", "F", "DEMO3J7K9D", "20261118", 2, true},
}

// Awaiting are demo referrals accepted for imaging whose films have not
// arrived yet: what the Modality Worklist offers a practice's imaging
// software so it can fill in the patient and URN itself.
var Awaiting = []Referral{
	{Patient: Patient{Name: "TAYLOR^GRACE", NHSNumber: NHSNumber(6), BirthDate: "19920214", Sex: "F", URN: "DEMO5P2L8R"},
		Procedure: "Intra-oral periapical radiographs, lower left molars", Modality: "IO", Date: "20261123"},
	{Patient: Patient{Name: "EVANS^THOMAS", NHSNumber: NHSNumber(7), BirthDate: "19580809", Sex: "M", URN: "DEMO9T4B6M"},
		Procedure: "Dental panoramic tomogram (OPG)", Modality: "PX", Date: "20261124"},
}

// Referral is a demo referral awaiting images.
type Referral struct {
	Patient
	Procedure string
	Modality  string
	Date      string // when the films are expected
}

// Seed stores the demo studies and returns how many instances are new.
func Seed(ctx context.Context, a Archive) (int, error) {
	added := 0
	for _, p := range Patients {
		study := dcm.NameUID("demo/study/" + p.URN)
		specs := []synth.Spec{}
		ioSeries := dcm.NameUID("demo/series/io/" + p.URN)
		for i := 1; i <= p.IntraOral; i++ {
			specs = append(specs, synth.Spec{
				SeriesUID: ioSeries, SOPInstanceUID: dcm.NameUID(fmt.Sprintf("demo/io/%s/%d", p.URN, i)),
				SeriesNumber: 1, InstanceNumber: i, Rows: 480, Columns: 640, Seed: int64(i),
			})
		}
		if p.Panoramic {
			specs = append(specs, synth.Spec{
				SOPClassUID: synth.DXForPresentation, Modality: "PX",
				SeriesUID: dcm.NameUID("demo/series/px/" + p.URN), SOPInstanceUID: dcm.NameUID("demo/px/" + p.URN),
				SeriesNumber: 2, InstanceNumber: 1, Rows: 700, Columns: 1400, Seed: 99,
			})
		}
		for _, s := range specs {
			s.StudyUID = study
			s.PatientName, s.PatientID, s.PatientBirthDate, s.PatientSex = p.Name, p.NHSNumber, p.BirthDate, p.Sex
			s.AccessionNumber, s.StudyDate, s.StudyTime = p.URN, p.StudyDate, "101500"
			s.StudyDescription = "Oral surgery referral radiographs"
			b, err := synth.Bytes(s)
			if err != nil {
				return added, err
			}
			res, err := a.Ingest(ctx, bytes.NewReader(b))
			if err != nil {
				return added, fmt.Errorf("seed demo study %s: %w", p.URN, err)
			}
			if res.Outcome == store.Stored {
				added++
			}
		}
	}
	return added, nil
}

// NHSNumber returns the n-th fictional NHS number: 999 followed by six
// digits and a valid Modulus 11 check digit. The 999 range is never issued.
func NHSNumber(n int) string {
	for ; ; n++ {
		base := fmt.Sprintf("999%06d", n)
		sum := 0
		for i, c := range base {
			sum += int(c-'0') * (10 - i)
		}
		check := 11 - sum%11
		if check == 11 {
			check = 0
		}
		if check == 10 {
			continue // no valid check digit: this number is never issued
		}
		return fmt.Sprintf("%s%d", base, check)
	}
}
