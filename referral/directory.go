package referral

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Specialties Molar knows; oral surgery is the one the region runs first.
var Specialties = []string{"oral-surgery", "orthodontics", "endodontics", "sedation", "oral-medicine", "triage"}

// The booking models of the Directory of Services.
const (
	BookingDirect   = "DBS" // directly bookable: the referral books a slot
	BookingIndirect = "IBS" // indirectly bookable: the provider contacts the patient
)

// HealthcareService is one entry of the Directory of Services (the FHIR
// resource of the same name): what a provider offers, where, at which
// tier, and how patients get an appointment.
type HealthcareService struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// OrgODS is the provider organisation; LocationODS the site (ODS
	// location code) where patients are seen.
	OrgODS      string `json:"org_ods"`
	OrgName     string `json:"org_name,omitempty"`
	LocationODS string `json:"location_ods"`
	Address     string `json:"address,omitempty"`
	Postcode    string `json:"postcode,omitempty"`
	Phone       string `json:"phone,omitempty"`
	Email       string `json:"email,omitempty"`
	Website     string `json:"website,omitempty"`

	Specialty string `json:"specialty"`
	Tiers     []Tier `json:"tiers"`
	// Criteria are the referral criteria, shown to referrers.
	Criteria string `json:"criteria,omitempty"`
	// Procedures the service takes (Procedures keys); empty: all.
	Procedures []string `json:"procedures,omitempty"`
	// TriageFor: for a triage service, the specialties whose referrals it
	// triages; empty: all.
	TriageFor []string `json:"triage_for,omitempty"`
	// Anaesthesia the service offers (la, iv-sedation, …).
	Anaesthesia []string `json:"anaesthesia,omitempty"`

	BookingModel string `json:"booking_model"` // DBS or IBS
	// BookingInstructions tell the patient how their appointment will be
	// made (IBS) or what to bring (DBS). Shown on the tracker.
	BookingInstructions string `json:"booking_instructions,omitempty"`

	// Commissioned: only commissioned services receive referrals.
	Commissioned bool `json:"commissioned"`

	// DICOM is the provider's DICOM node for forwarding films, if any.
	DICOM *DICOMNode `json:"dicom,omitempty"`

	Version int       `json:"version"`
	Updated time.Time `json:"updated"`
}

// DICOMNode is where a provider's films are forwarded by C-STORE.
type DICOMNode struct {
	AETitle string `json:"ae_title"`
	Host    string `json:"host"`
	Port    int    `json:"port"`
}

// Triage reports whether the service is a clinical assessment service
// that triages referrals rather than treating patients.
func (s *HealthcareService) Triage() bool { return s.Specialty == "triage" }

// TakesTier reports whether the service treats at tier t.
func (s *HealthcareService) TakesTier(t Tier) bool { return slices.Contains(s.Tiers, t) }

// Public is what the tracker shows of a service: its Directory of
// Services entry without internal details.
type PublicService struct {
	Name                string `json:"name"`
	Organisation        string `json:"organisation,omitempty"`
	Address             string `json:"address,omitempty"`
	Postcode            string `json:"postcode,omitempty"`
	Phone               string `json:"phone,omitempty"`
	Website             string `json:"website,omitempty"`
	BookingModel        string `json:"booking_model"`
	BookingInstructions string `json:"booking_instructions,omitempty"`
}

// Public returns the tracker's view of s.
func (s *HealthcareService) Public() PublicService {
	return PublicService{Name: s.Name, Organisation: s.OrgName, Address: s.Address, Postcode: s.Postcode,
		Phone: s.Phone, Website: s.Website, BookingModel: s.BookingModel, BookingInstructions: s.BookingInstructions}
}

// validate checks a service as a service definer enters it.
func (s *HealthcareService) validate() FieldErrors {
	var errs FieldErrors
	s.Name = strings.TrimSpace(s.Name)
	s.OrgODS = normalizeODS(s.OrgODS)
	s.LocationODS = normalizeODS(s.LocationODS)
	if s.Name == "" {
		errs.add("name", "Enter the service's name.")
	}
	if !odsLike(s.OrgODS) {
		errs.add("org_ods", "Enter the provider's ODS code, for example RZZ01.")
	}
	if s.LocationODS == "" {
		s.LocationODS = s.OrgODS
	} else if !odsLike(s.LocationODS) {
		errs.add("location_ods", "Enter the site's ODS location code, for example RZZ0101.")
	}
	if !slices.Contains(Specialties, s.Specialty) {
		errs.add("specialty", fmt.Sprintf("Choose a specialty: %s.", strings.Join(Specialties, ", ")))
	}
	if len(s.Tiers) == 0 && !s.Triage() {
		errs.add("tiers", "Choose at least one tier (L1, L2, L3a or L3b).")
	}
	for _, t := range s.Tiers {
		if !validTier(t) {
			errs.add("tiers", fmt.Sprintf("%q is not a tier: use L1, L2, L3a or L3b.", t))
		}
	}
	for _, p := range s.Procedures {
		if _, ok := Procedures[p]; !ok {
			errs.add("procedures", fmt.Sprintf("%q is not a procedure Molar knows.", p))
		}
	}
	for _, a := range s.Anaesthesia {
		if _, ok := Anaesthesia[a]; !ok {
			errs.add("anaesthesia", fmt.Sprintf("%q is not a kind of anaesthesia Molar knows.", a))
		}
	}
	switch s.BookingModel {
	case BookingDirect, BookingIndirect:
	case "":
		s.BookingModel = BookingIndirect
	default:
		errs.add("booking_model", "Choose DBS (directly bookable) or IBS (indirectly bookable).")
	}
	if s.DICOM != nil {
		n := s.DICOM
		n.AETitle = strings.TrimSpace(n.AETitle)
		if n.AETitle == "" && n.Host == "" && n.Port == 0 {
			s.DICOM = nil
		} else {
			if n.AETitle == "" || len(n.AETitle) > 16 || strings.ContainsAny(n.AETitle, `\`) {
				errs.add("dicom.ae_title", "Enter the DICOM AE title: 1 to 16 characters, no backslash.")
			}
			if strings.TrimSpace(n.Host) == "" {
				errs.add("dicom.host", "Enter the host name or address of the DICOM node.")
			}
			if n.Port < 1 || n.Port > 65535 {
				errs.add("dicom.port", "Enter the DICOM port, a number from 1 to 65535.")
			}
		}
	}
	return errs
}

func validTier(t Tier) bool {
	return t == TierL1 || t == TierL2 || t == TierL3a || t == TierL3b
}

func normalizeODS(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// odsLike accepts the shapes of ODS organisation and site codes: 3 to 9
// letters and digits. internal/auth checks codes by kind when
// organisations are registered; here a service only names one.
func odsLike(s string) bool {
	if len(s) < 3 || len(s) > 9 {
		return false
	}
	for _, c := range s {
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
