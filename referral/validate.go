package referral

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/molar-pacs/molar/internal/nhsnumber"
)

// FieldError is one problem with one field of a form, worded for the
// person filling it in.
type FieldError struct {
	Field   string `json:"field"` // JSON path, e.g. "patient.nhs_number"
	Message string `json:"message"`
}

// FieldErrors are a form's problems; the form is acceptable when empty.
type FieldErrors []FieldError

func (e *FieldErrors) add(field, msg string) { *e = append(*e, FieldError{field, msg}) }

func (e FieldErrors) Error() string {
	msgs := make([]string, len(e))
	for i, fe := range e {
		msgs[i] = fe.Field + ": " + fe.Message
	}
	return "the form has problems: " + strings.Join(msgs, "; ")
}

// Procedures are the oral-surgery procedure types, with their names.
var Procedures = map[string]string{
	"retained-roots":       "Removal of retained roots",
	"third-molars":         "Removal of third molars (wisdom teeth)",
	"other-extraction":     "Other extraction",
	"orthodontic-exposure": "Exposure or removal of teeth for orthodontics",
	"soft-tissue":          "Soft tissue surgery or biopsy",
	"apicectomy":           "Apicectomy",
	"pathology":            "Cysts and other pathology",
	"other":                "Other oral surgery",
}

// Anaesthesia are the kinds of anaesthesia a referrer may ask for.
var Anaesthesia = map[string]string{
	"la":                  "Local anaesthesia",
	"iv-sedation":         "Intravenous (IV) sedation",
	"inhalation-sedation": "Inhalation sedation (gas and air)",
	"ga":                  "General anaesthesia",
}

var anticoagulants = map[string]bool{"none": true, "warfarin": true, "doac": true, "antiplatelet": true, "other": true}

var (
	gdcPattern      = regexp.MustCompile(`^[0-9]{4,6}$`)
	postcodePattern = regexp.MustCompile(`^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$`)
	ukPhonePattern  = regexp.MustCompile(`^(\+44|0)[0-9]{9,10}$`)
)

// normalize tidies what people type: spaces, case of codes and
// postcodes, the NHS number's spaces. It never changes meaning.
func (r *Referral) normalize() {
	p := &r.Patient
	p.Given, p.Family = strings.TrimSpace(p.Given), strings.TrimSpace(p.Family)
	p.NHSNumber = strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(p.NHSNumber))
	p.Postcode = normalizePostcode(p.Postcode)
	p.Phone = strings.NewReplacer(" ", "", "-", "", "(", "", ")", "").Replace(strings.TrimSpace(p.Phone))
	p.Sex = strings.ToLower(strings.TrimSpace(p.Sex))
	r.Referrer.PracticeODS = normalizeODS(r.Referrer.PracticeODS)
	r.Referrer.GDCNumber = strings.TrimSpace(r.Referrer.GDCNumber)
	r.GP.PracticeODS = normalizeODS(r.GP.PracticeODS)
	if r.Specialty == "" {
		r.Specialty = "oral-surgery"
	}
}

func normalizePostcode(s string) string {
	s = strings.ToUpper(strings.Join(strings.Fields(s), ""))
	if len(s) > 3 {
		s = s[:len(s)-3] + " " + s[len(s)-3:]
	}
	return s
}

// checkDate parses a YYYY-MM-DD date a person entered.
func checkDate(s string) (time.Time, bool) {
	t, err := time.Parse(time.DateOnly, s)
	return t, err == nil
}

// validateFormat checks only what has been entered, so that a draft can
// be saved half-filled: an NHS number, if given, must be valid; a date,
// if given, must be a date.
func (r *Referral) validateFormat(now time.Time) FieldErrors {
	var errs FieldErrors
	p := r.Patient
	if p.NHSNumber != "" {
		if _, err := nhsnumber.Normalize(p.NHSNumber); err != nil {
			errs.add("patient.nhs_number", err.Error())
		}
	}
	if p.BirthDate != "" {
		if d, ok := checkDate(p.BirthDate); !ok {
			errs.add("patient.birth_date", "Enter the date of birth as a real date, for example 1984-03-12.")
		} else if d.After(now) {
			errs.add("patient.birth_date", "The date of birth must be in the past.")
		} else if d.Before(now.AddDate(-125, 0, 0)) {
			errs.add("patient.birth_date", "Check the year of birth: the patient would be over 125.")
		}
	}
	if p.Sex != "" && p.Sex != "female" && p.Sex != "male" && p.Sex != "other" && p.Sex != "unknown" {
		errs.add("patient.sex", "Choose female, male, other or unknown.")
	}
	if p.Postcode != "" && !postcodePattern.MatchString(p.Postcode) {
		errs.add("patient.postcode", "Enter a real postcode, for example LS1 4AP.")
	}
	if p.Phone != "" && !ukPhonePattern.MatchString(p.Phone) {
		errs.add("patient.phone", "Enter a UK phone number, for example 07700 900123.")
	}
	if g := r.Referrer.GDCNumber; g != "" && !gdcPattern.MatchString(g) {
		errs.add("referrer.gdc_number", "A GDC number is 4 to 6 digits: check the dentist's registration.")
	}
	if o := r.Referrer.PracticeODS; o != "" && !odsLike(o) {
		errs.add("referrer.practice_ods", "Enter the practice's ODS code, for example V012345.")
	}
	if o := r.GP.PracticeODS; o != "" && !odsLike(o) {
		errs.add("gp.practice_ods", "Enter the GP practice's ODS code, for example B82005.")
	}
	m := r.Medical
	if m.Anticoagulant != "" && !anticoagulants[m.Anticoagulant] {
		errs.add("medical.anticoagulant", "Choose none, warfarin, DOAC, antiplatelet or other.")
	}
	if m.INRDate != "" {
		if d, ok := checkDate(m.INRDate); !ok || d.After(now) {
			errs.add("medical.inr_date", "Enter the date of the INR test, not in the future.")
		}
	}
	c := r.Clinical
	if c.Procedure != "" {
		if _, ok := Procedures[c.Procedure]; !ok {
			errs.add("clinical.procedure", "Choose the type of procedure from the list.")
		}
	}
	if c.Anaesthesia != "" {
		if _, ok := Anaesthesia[c.Anaesthesia]; !ok {
			errs.add("clinical.anaesthesia", "Choose local anaesthesia, IV sedation, inhalation sedation or general anaesthesia.")
		}
	}
	if c.Complexity != "" && !validTier(c.Complexity) {
		errs.add("clinical.complexity", "Choose the complexity: Level 1, Level 2, Level 3a or Level 3b.")
	}
	if c.Urgency != "" && c.Urgency != UrgencyRoutine && c.Urgency != UrgencyUrgent && c.Urgency != UrgencyCancer {
		errs.add("clinical.urgency", "Choose routine, urgent or suspected cancer.")
	}
	if d := r.Radiographs.ExposureDate; d != "" {
		if t, ok := checkDate(d); !ok {
			errs.add("radiographs.exposure_date", "Enter the date the radiographs were taken, for example 2026-11-02.")
		} else if t.After(now) {
			errs.add("radiographs.exposure_date", "The radiographs cannot have been taken in the future.")
		}
	}
	return errs
}

// validateComplete is what submission requires: the oral-surgery minimum
// dataset, on top of validateFormat.
func (r *Referral) validateComplete(now time.Time) FieldErrors {
	errs := r.validateFormat(now)
	p := r.Patient
	req := func(v, field, msg string) {
		if strings.TrimSpace(v) == "" {
			errs.add(field, msg)
		}
	}
	req(p.Given, "patient.given", "Enter the patient's first name.")
	req(p.Family, "patient.family", "Enter the patient's last name.")
	req(p.BirthDate, "patient.birth_date", "Enter the patient's date of birth.")
	req(p.Sex, "patient.sex", "Choose the patient's sex.")
	if len(p.Address) == 0 || strings.TrimSpace(strings.Join(p.Address, "")) == "" {
		errs.add("patient.address", "Enter the first line of the patient's address.")
	}
	req(p.Postcode, "patient.postcode", "Enter the patient's postcode.")
	if p.SMSConsent && p.Phone == "" {
		errs.add("patient.phone", "The patient agreed to texts: enter their mobile number, or untick the consent.")
	}
	if p.SMSConsent && p.Phone != "" && !isUKMobile(p.Phone) {
		errs.add("patient.phone", "Texts go to mobiles only: enter a mobile number starting 07, or untick the consent.")
	}
	req(r.Referrer.Name, "referrer.name", "Enter the referring dentist's name.")
	req(r.Referrer.GDCNumber, "referrer.gdc_number", "Enter the referring dentist's GDC number.")
	req(r.Referrer.PracticeODS, "referrer.practice_ods", "Enter the practice's ODS code.")
	if r.GP.PracticeODS == "" && r.GP.PracticeName == "" {
		errs.add("gp.practice_name", "Enter the patient's GP practice, or \"none\" if they have none.")
	}
	m := r.Medical
	if !m.NoneDeclared && m.BleedingDisorder == "" && m.Anticoagulant == "" && m.Cardiac == "" && m.Respiratory == "" &&
		m.Allergies == "" && m.Medications == "" && m.Other == "" {
		errs.add("medical", "Fill in the medical history, or tick \"no relevant medical history\".")
	}
	if m.Anticoagulant == "" && !m.NoneDeclared {
		errs.add("medical.anticoagulant", "Say whether the patient takes anticoagulants (choose \"none\" if not).")
	}
	if m.Anticoagulant == "warfarin" && m.INR == "" {
		errs.add("medical.inr", "The patient takes warfarin: enter their latest INR.")
	}
	c := r.Clinical
	req(c.Reason, "clinical.reason", "Say why you are referring the patient.")
	req(c.Procedure, "clinical.procedure", "Choose the type of procedure.")
	req(c.Anaesthesia, "clinical.anaesthesia", "Choose the anaesthesia you are asking for.")
	req(string(c.Urgency), "clinical.urgency", "Choose how urgent the referral is.")
	if c.Anaesthesia != "" && c.Anaesthesia != "la" && strings.TrimSpace(c.AnaesthesiaReason) == "" {
		errs.add("clinical.anaesthesia_reason", "Say why the patient needs more than local anaesthesia.")
	}
	rg := r.Radiographs
	switch {
	case rg.Attached && rg.ExposureDate == "":
		errs.add("radiographs.exposure_date", "Enter the date the radiographs were taken.")
	case !rg.Attached && strings.TrimSpace(rg.NoneReason) == "":
		errs.add("radiographs.none_reason", "Attach radiographs, or say why there are none.")
	}
	return errs
}

func isUKMobile(phone string) bool {
	return strings.HasPrefix(phone, "07") || strings.HasPrefix(phone, "+447")
}

// describe names a referral in logs without patient data.
func (r *Referral) describe() string {
	if r.URN != "" {
		return fmt.Sprintf("referral %s (%s)", r.URN, r.ID)
	}
	return "draft " + r.ID
}
