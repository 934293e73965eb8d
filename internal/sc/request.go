package sc

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/molar-pacs/molar/internal/dcm"
)

// conversionTypes are the Defined Terms of Conversion Type (PS3.3
// C.8.6.1.1).
var conversionTypes = map[string]bool{
	"DV": true, "DI": true, "DF": true, "WSD": true, "SD": true, "SI": true, "DRW": true, "SYN": true,
}

// normalise fills in defaults and checks every field, so that encoding
// cannot fail on a value and dciodvfy finds nothing to report.
func (r *Request) normalise() error {
	if r.Now.IsZero() {
		r.Now = time.Now()
	}
	p := &r.Patient
	p.Sex = strings.ToUpper(p.Sex)
	if p.IssuerOfID == "" {
		p.IssuerOfID = DefaultIssuerOfPatientID
	}
	if r.IssuerOfAccessionNumber == "" {
		r.IssuerOfAccessionNumber = DefaultIssuerOfAccessionNumber
	}
	if r.Modality == "" {
		r.Modality = DefaultModality
	}
	if r.ConversionType == "" {
		r.ConversionType = DefaultConversionType
	}
	if r.SeriesNumber == 0 {
		r.SeriesNumber = 1
	}
	if r.InstanceNumber == 0 {
		r.InstanceNumber = 1
	}
	if r.StudyDate == "" {
		r.StudyDate = r.ExposureDate
	}

	if p.ID == "" {
		return fmt.Errorf("sc: %w: no patient ID (NHS number)", ErrRequest)
	}
	if r.AccessionNumber == "" {
		return fmt.Errorf("sc: %w: no accession number (referral URN)", ErrRequest)
	}
	for _, f := range []struct {
		name, value string
		max         int  // characters
		text        bool // LT: free text, may hold backslashes
	}{
		{"patient ID", p.ID, 64, false},
		{"issuer of patient ID", p.IssuerOfID, 64, false},
		{"accession number", r.AccessionNumber, 16, false},
		{"issuer of accession number", r.IssuerOfAccessionNumber, 64, false},
		{"institution name", r.InstitutionName, 64, false},
		{"description", r.Description, 10240, true},
	} {
		if err := checkText(f.name, f.value, f.max, f.text); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, value string }{
		{"patient name", p.Name}, {"referring physician name", r.ReferringPhysicianName}, {"operator name", r.OperatorName},
	} {
		if err := checkPersonName(f.name, f.value); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, value string }{
		{"birth date", p.BirthDate}, {"exposure date", r.ExposureDate}, {"study date", r.StudyDate},
	} {
		if f.value != "" && !isDate(f.value) {
			return fmt.Errorf("sc: %w: %s %q is not a date YYYYMMDD", ErrRequest, f.name, f.value)
		}
	}
	if r.ExposureDate > r.Now.Format("20060102") {
		return fmt.Errorf("sc: %w: exposure date %s is in the future", ErrRequest, r.ExposureDate)
	}
	if r.StudyTime != "" && !isTime(r.StudyTime) {
		return fmt.Errorf("sc: %w: study time %q is not a time HHMMSS", ErrRequest, r.StudyTime)
	}
	if !oneOf(p.Sex, "", "M", "F", "O") {
		return fmt.Errorf("sc: %w: patient sex %q is not M, F, O or empty", ErrRequest, p.Sex)
	}
	if !isCodeString(r.Modality) {
		return fmt.Errorf("sc: %w: modality %q is not a code string", ErrRequest, r.Modality)
	}
	if !oneOf(r.Laterality, "", "R", "L", "B", "U") {
		return fmt.Errorf("sc: %w: laterality %q is not R, L, B, U or empty", ErrRequest, r.Laterality)
	}
	if !conversionTypes[r.ConversionType] {
		return fmt.Errorf("sc: %w: conversion type %q is not one of PS3.3's defined terms", ErrRequest, r.ConversionType)
	}
	if !oneOf(r.BurnedInAnnotation, "", "YES", "NO") {
		return fmt.Errorf("sc: %w: burned in annotation %q is not YES, NO or empty", ErrRequest, r.BurnedInAnnotation)
	}
	if r.SeriesNumber < 0 || r.InstanceNumber < 0 {
		return fmt.Errorf("sc: %w: series number %d, instance number %d", ErrRequest, r.SeriesNumber, r.InstanceNumber)
	}

	if r.StudyInstanceUID == "" {
		r.StudyInstanceUID = StudyUID(r.IssuerOfAccessionNumber, r.AccessionNumber)
	}
	if r.SeriesInstanceUID == "" {
		r.SeriesInstanceUID = dcm.NewUID()
	}
	if r.SOPInstanceUID == "" {
		r.SOPInstanceUID = dcm.NewUID()
	}
	for _, f := range []struct{ name, value string }{
		{"study instance UID", r.StudyInstanceUID}, {"series instance UID", r.SeriesInstanceUID},
		{"SOP instance UID", r.SOPInstanceUID},
	} {
		if !isUID(f.value) {
			return fmt.Errorf("sc: %w: %s %q is not a UID", ErrRequest, f.name, f.value)
		}
	}
	return nil
}

// checkText checks a value of a text VR: valid UTF-8, at most max
// characters, no control characters, and for the multi-valued VRs no
// backslash, which would split the value in two.
func checkText(name, v string, max int, free bool) error {
	switch {
	case !utf8.ValidString(v):
		return fmt.Errorf("sc: %w: %s is not valid UTF-8", ErrRequest, name)
	case utf8.RuneCountInString(v) > max:
		return fmt.Errorf("sc: %w: %s is longer than %d characters", ErrRequest, name, max)
	case !free && strings.Contains(v, `\`):
		return fmt.Errorf("sc: %w: %s %q contains a backslash", ErrRequest, name, v)
	}
	for _, c := range v {
		if c < 0x20 || c == 0x7F || c >= 0x80 && c < 0xA0 {
			return fmt.Errorf("sc: %w: %s %q contains control character %U", ErrRequest, name, v, c)
		}
	}
	return nil
}

// checkPersonName checks a PN value: at most three component groups
// (alphabetic, ideographic, phonetic) of at most five components and 64
// characters each.
func checkPersonName(name, v string) error {
	if err := checkText(name, v, 3*64+2, false); err != nil {
		return err
	}
	groups := strings.Split(v, "=")
	if len(groups) > 3 {
		return fmt.Errorf("sc: %w: %s %q has more than three component groups", ErrRequest, name, v)
	}
	for _, g := range groups {
		if utf8.RuneCountInString(g) > 64 {
			return fmt.Errorf("sc: %w: %s %q has a component group longer than 64 characters", ErrRequest, name, v)
		}
		if strings.Count(g, "^") > 4 {
			return fmt.Errorf("sc: %w: %s %q has more than five components", ErrRequest, name, v)
		}
	}
	return nil
}

func isDate(s string) bool {
	if len(s) != 8 || !allDigits(s) {
		return false
	}
	_, err := time.Parse("20060102", s)
	return err == nil
}

// isTime accepts TM values HH, HHMM, HHMMSS and HHMMSS.F to HHMMSS.FFFFFF.
func isTime(s string) bool {
	hms, frac, hasFrac := strings.Cut(s, ".")
	if hasFrac && (len(hms) != 6 || len(frac) < 1 || len(frac) > 6 || !allDigits(frac)) {
		return false
	}
	if len(hms)%2 != 0 || len(hms) < 2 || len(hms) > 6 || !allDigits(hms) {
		return false
	}
	limits := []int{24, 60, 60}
	for i := 0; i < len(hms); i += 2 {
		if int(hms[i]-'0')*10+int(hms[i+1]-'0') >= limits[i/2] {
			return false
		}
	}
	return true
}

// isCodeString reports whether s is a non-empty CS value: upper-case
// letters, digits, space and underscore, at most 16.
func isCodeString(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ' ' || c == '_') {
			return false
		}
	}
	return true
}

// isUID reports whether s is a UID (PS3.5 9.1): at most 64 characters of
// dot-separated numbers without leading zeros.
func isUID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range strings.Split(s, ".") {
		if c == "" || !allDigits(c) || len(c) > 1 && c[0] == '0' {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func oneOf(s string, values ...string) bool {
	for _, v := range values {
		if s == v {
			return true
		}
	}
	return false
}

// truncateRunes returns the first n characters of s.
func truncateRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
