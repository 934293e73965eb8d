package demo

import (
	"time"

	"github.com/molar-pacs/molar/internal/auth"
	"github.com/molar-pacs/molar/internal/demographics"
	"github.com/molar-pacs/molar/referral"
)

// directoryEntry is a demo service under the key stories use for it.
type directoryEntry struct {
	key     string
	service referral.HealthcareService
}

// directory is the demo region's Directory of Services: a triage hub,
// the hospital (indirectly bookable, with a PACS to forward films to), a
// community Level 2 service with slots, a sedation clinic, and one
// service no longer commissioned.
func directory() []directoryEntry {
	site := auth.DemoSite
	return []directoryEntry{
		{"hub", referral.HealthcareService{Name: HubName, OrgODS: site, LocationODS: site + "01",
			Specialty: "triage", Commissioned: true, Phone: "0113 496 0000", Email: "triage@demo.molar.test",
			Criteria: "All oral surgery referrals of the region are triaged here within 5 working days (2 for suspected cancer)."}},
		{"hospital", referral.HealthcareService{Name: "Molar Demo General Hospital Oral and Maxillofacial Surgery", OrgODS: site,
			LocationODS: site + "02", Address: "Infirmary Street, Leeds", Postcode: "LS1 3EX", Phone: "0113 496 0100",
			Specialty: "oral-surgery", Tiers: []referral.Tier{referral.TierL3a, referral.TierL3b}, BookingModel: referral.BookingIndirect,
			Anaesthesia: []string{"la", "iv-sedation", "ga"}, Commissioned: true,
			Criteria:            "Level 3a and 3b: complex surgery, medically compromised patients, suspected cancer, general anaesthesia.",
			BookingInstructions: "The hospital's appointments team will phone you within two weeks. If they cannot reach you they will write.",
			// Nothing listens here in the demo: the forwarding queue at
			// /admin/forward/ shows how a PACS that is down is retried.
			DICOM: &referral.DICOMNode{AETitle: "DEMOHOSPPACS", Host: "127.0.0.1", Port: 11199}}},
		{"community", referral.HealthcareService{Name: "Molar Demo Community Oral Surgery (Level 2)", OrgODS: site,
			LocationODS: site + "03", Address: "Health Centre, 12 Market Street, Leeds", Postcode: "LS2 7AB", Phone: "0113 496 0200",
			Specialty: "oral-surgery", Tiers: []referral.Tier{referral.TierL2}, BookingModel: referral.BookingDirect,
			Procedures:  []string{"retained-roots", "third-molars", "other-extraction", "orthodontic-exposure", "apicectomy"},
			Anaesthesia: []string{"la", "inhalation-sedation"}, Commissioned: true,
			Criteria:            "Level 2 extractions under local anaesthesia for fit and well adults.",
			BookingInstructions: "Bring a list of your medicines. Eat as normal before your appointment."}},
		{"sedation", referral.HealthcareService{Name: "Molar Demo Dental Sedation Clinic", OrgODS: site,
			LocationODS: site + "04", Address: "Health Centre, 12 Market Street, Leeds", Postcode: "LS2 7AB", Phone: "0113 496 0300",
			Specialty: "sedation", Tiers: []referral.Tier{referral.TierL2}, BookingModel: referral.BookingIndirect,
			Anaesthesia: []string{"iv-sedation", "inhalation-sedation"}, Commissioned: true,
			BookingInstructions: "The clinic will write to you with an assessment appointment."}},
		{"closed", referral.HealthcareService{Name: "Old Town Dental Surgery Minor Oral Surgery (closed)", OrgODS: site,
			LocationODS: site + "05", Specialty: "oral-surgery", Tiers: []referral.Tier{referral.TierL2}, Commissioned: false,
			Criteria: "No longer commissioned from April: refer to the triage hub."}},
	}
}

// story is one demo referral: who it is for, what the practice wrote,
// when it was submitted, its films, and what happened to it since.
type story struct {
	given, family, dob, sex, nhs, postcode string
	phone                                  string
	ago                                    time.Duration // submitted this long before now
	urgency                                referral.Urgency
	procedure, teeth, reason, diagnosis    string
	complexity                             referral.Tier
	anaesthesia                            string
	medical                                referral.Medical
	io                                     int    // periapical films sent
	opg                                    bool   // a panoramic film sent
	views                                  string // what the form says was taken
	noFilms                                string // why there are none
	acts                                   []act
	status                                 referral.Status // where the story ends
}

// act is a step taken some time after the previous one.
type act struct {
	after time.Duration
	who   string // referrer, clinician, provider-admin, booking
	req   referral.StepRequest
	// slotIn: book a slot of the provider's service starting this long
	// after the step.
	slotIn time.Duration
}

const day = 24 * time.Hour

func (st story) form() referral.Referral {
	r := referral.Referral{
		Patient: referral.Patient{NHSNumber: st.nhs, Given: st.given, Family: st.family, BirthDate: st.dob, Sex: st.sex,
			Address: []string{"1 Demo Street", "Leeds"}, Postcode: st.postcode, Phone: st.phone, SMSConsent: st.phone != ""},
		Referrer: referral.Referrer{Name: "Dr Dana Dent", GDCNumber: "123456", PracticeName: "Molar Demo Dental Practice",
			PracticePhone: "0113 496 0999"},
		GP:      referral.GP{PracticeODS: "B86001", PracticeName: "Demo Street Surgery"},
		Medical: st.medical,
		Clinical: referral.Clinical{Reason: st.reason, Diagnosis: st.diagnosis, Procedure: st.procedure, Teeth: st.teeth,
			Complexity: st.complexity, Anaesthesia: st.anaesthesia, Urgency: st.urgency},
	}
	if st.anaesthesia != "la" {
		r.Clinical.AnaesthesiaReason = "Very anxious: could not tolerate an extraction under local anaesthesia in the practice."
	}
	if st.noFilms != "" {
		r.Radiographs = referral.Radiographs{NoneReason: st.noFilms}
	} else {
		r.Radiographs = referral.Radiographs{Attached: true, Views: st.views,
			ExposureDate: time.Now().UTC().Add(-st.ago).AddDate(0, 0, -2).Format("2006-01-02")}
	}
	if st.status == referral.StatusDraft {
		// A draft is half done: the practice was interrupted.
		r.Clinical, r.Medical, r.Radiographs = referral.Clinical{Reason: st.reason}, referral.Medical{}, referral.Radiographs{}
	}
	return r
}

var (
	healthy  = referral.Medical{NoneDeclared: true}
	warfarin = referral.Medical{Anticoagulant: "warfarin", INR: "2.6", Cardiac: "Mechanical mitral valve (2019)",
		Medications: "Warfarin, bisoprolol", Allergies: "None known"}
	asthma = referral.Medical{Anticoagulant: "none", Respiratory: "Asthma, well controlled", Medications: "Salbutamol inhaler",
		Allergies: "Penicillin (rash)"}
)

func accept(service string, tier referral.Tier, priority string, seeAndTreat bool) referral.StepRequest {
	return referral.StepRequest{Step: referral.StepAccept, Decision: &referral.Decision{Tier: tier, ServiceID: service,
		Priority: priority, SeeAndTreat: seeAndTreat}}
}

func step(s referral.Step) referral.StepRequest { return referral.StepRequest{Step: s} }

// stories is the demo region's referrals, in the order they are
// submitted: URN(0) is the first.
func stories() []story {
	triageL2 := act{after: 2 * day, who: "clinician", req: accept("community", referral.TierL2, "routine", true)}
	triageL3 := act{after: 1 * day, who: "clinician", req: accept("hospital", referral.TierL3a, "soon", false)}
	providerAccept := act{after: 2 * day, who: "clinician", req: step(referral.StepProviderAccept)}
	return []story{
		{given: "Olivia", family: "Smith", dob: "1984-03-12", sex: "female", nhs: NHSNumber(1), postcode: "LS6 2AB", phone: "07700 900001",
			ago: 3*day + 5*time.Hour, urgency: referral.UrgencyUrgent, procedure: "third-molars", teeth: "38, 48",
			reason: "Recurrent pericoronitis 38 and 48, three courses of antibiotics since June.", diagnosis: "Partially erupted, mesioangular 38 and 48; 48 close to the inferior dental canal.",
			complexity: referral.TierL3a, anaesthesia: "la", medical: asthma, io: 3, opg: true, views: "OPG, periapical 38, periapical 48, periapical 47",
			status: referral.StatusAwaitingTriage},
		{given: "Harry", family: "Jones", dob: "1971-07-21", sex: "male", nhs: NHSNumber(2), postcode: "LS7 4QT", phone: "07700 900002",
			ago: 9*day + 2*time.Hour, urgency: referral.UrgencyRoutine, procedure: "retained-roots", teeth: "36",
			reason: "Retained roots 36 after a crown fracture; patient wants them out.", diagnosis: "Retained mesial and distal roots 36, no apical pathology.",
			complexity: referral.TierL2, anaesthesia: "la", medical: healthy, io: 2, views: "Periapical 36, bitewing left",
			status: referral.StatusAwaitingTriage},
		{given: "Aisha", family: "Patel", dob: "1999-01-30", sex: "female", nhs: NHSNumber(3), postcode: "LS9 8HE", phone: "07700 900003",
			ago: 20 * time.Hour, urgency: referral.UrgencyCancer, procedure: "soft-tissue", teeth: "",
			reason: "Non-healing ulcer of the left lateral tongue for five weeks, indurated.", diagnosis: "Suspected oral squamous cell carcinoma.",
			complexity: referral.TierL3b, anaesthesia: "la", medical: healthy, opg: true, views: "OPG",
			status: referral.StatusAwaitingTriage},
		{given: "José", family: "Müller", dob: "1965-09-17", sex: "male", nhs: NHSNumber(4), postcode: "LS8 1PL", phone: "07700 900004",
			ago: 12 * day, urgency: referral.UrgencyRoutine, procedure: "other-extraction", teeth: "17",
			reason: "Unrestorable 17, on warfarin.", diagnosis: "Grossly carious 17, periapical radiolucency.",
			complexity: referral.TierL3a, anaesthesia: "la", medical: warfarin, io: 4, opg: true, views: "OPG, periapicals upper right",
			acts: []act{{after: 2 * day, who: "clinician", req: referral.StepRequest{Step: referral.StepRequestInfo, Reason: "radiograph-non-diagnostic",
				Comment: "The periapical of 17 is cut off at the apex. Please send one showing the whole root and the latest INR."}}},
			status: referral.StatusInfoRequested},
		{given: "Siobhan", family: "O'Brien", dob: "2003-05-04", sex: "female", nhs: NHSNumber(5), postcode: "LS4 2DG", phone: "07700 900005",
			ago: 15 * day, urgency: referral.UrgencyRoutine, procedure: "other-extraction", teeth: "24",
			reason: "Orthodontic extraction 24 requested by the orthodontist.", diagnosis: "Crowding, upper arch.",
			complexity: referral.TierL1, anaesthesia: "la", medical: healthy, io: 2, views: "Periapical 24",
			acts: []act{{after: 3 * day, who: "clinician", req: referral.StepRequest{Step: referral.StepReturn, Reason: "treat-in-practice",
				Comment: "A straightforward Level 1 extraction: please carry it out in the practice. The periapical shows a conical single root."}}},
			status: referral.StatusReturned},
		{given: "Grace", family: "Taylor", dob: "1992-02-14", sex: "female", nhs: NHSNumber(6), postcode: "LS12 3RT", phone: "07700 900006",
			ago: 6 * day, urgency: referral.UrgencyRoutine, procedure: "third-molars", teeth: "48",
			reason: "Caries distal 47 from a horizontally impacted 48.", diagnosis: "Horizontally impacted 48 close to the inferior dental canal.",
			complexity: referral.TierL3a, anaesthesia: "iv-sedation", medical: healthy, opg: true, views: "OPG",
			acts: []act{triageL3}, status: referral.StatusSentToProvider},
		{given: "Thomas", family: "Evans", dob: "1958-08-09", sex: "male", nhs: NHSNumber(7), postcode: "LS16 5NG", phone: "07700 900007",
			ago: 10 * day, urgency: referral.UrgencyUrgent, procedure: "pathology", teeth: "46, 47",
			reason: "Well-defined radiolucency around the roots of 46 and 47, found on a routine bitewing.", diagnosis: "Probable radicular cyst 46.",
			complexity: referral.TierL3b, anaesthesia: "ga", medical: healthy, io: 1, opg: true, views: "OPG, periapical 46",
			acts: []act{triageL3, providerAccept}, status: referral.StatusProviderAccepted},
		{given: "Ruby", family: "Williams", dob: "1988-11-02", sex: "female", nhs: NHSNumber(8), postcode: "LS11 6BB", phone: "07700 900008",
			ago: 18 * day, urgency: referral.UrgencyRoutine, procedure: "orthodontic-exposure", teeth: "13",
			reason: "Palatally impacted 13, exposure and bonding requested by the orthodontist.", diagnosis: "Palatally impacted 13.",
			complexity: referral.TierL3a, anaesthesia: "ga", medical: healthy, io: 2, opg: true, views: "OPG, upper standard occlusal",
			acts: []act{triageL3, providerAccept, {after: 3 * day, who: "provider-admin", req: referral.StepRequest{Step: referral.StepContact,
				Comment: "Spoke to the patient: prefers Friday mornings."}}},
			status: referral.StatusContacted},
		{given: "Noah", family: "Brown", dob: "1979-04-25", sex: "male", nhs: NHSNumber(9), postcode: "LS15 0AA", phone: "07700 900009",
			ago: 14 * day, urgency: referral.UrgencyRoutine, procedure: "retained-roots", teeth: "45",
			reason: "Retained root 45, occasional pain.", diagnosis: "Retained root 45.",
			complexity: referral.TierL2, anaesthesia: "la", medical: healthy, io: 1, views: "Periapical 45",
			acts:   []act{triageL2, providerAccept, {after: day, who: "booking", req: step(referral.StepBook), slotIn: 16 * day}},
			status: referral.StatusBooked},
		{given: "Amelia", family: "Davies", dob: "1995-12-19", sex: "female", nhs: NHSNumber(10), postcode: "LS17 7HU", phone: "07700 900010",
			ago: 40 * day, urgency: referral.UrgencyRoutine, procedure: "third-molars", teeth: "38",
			reason: "Recurrent pericoronitis 38.", diagnosis: "Vertically impacted 38.",
			complexity: referral.TierL2, anaesthesia: "la", medical: healthy, io: 1, opg: true, views: "OPG, periapical 38",
			acts: []act{triageL2, providerAccept, {after: day, who: "booking", req: step(referral.StepBook), slotIn: 20 * day},
				{after: 21 * day, who: "clinician", req: referral.StepRequest{Step: referral.StepTreat, Comment: "38 removed under LA, sutured. Review not needed."}}},
			status: referral.StatusTreated},
		{given: "Jack", family: "Wilson", dob: "1968-06-30", sex: "male", nhs: NHSNumber(11), postcode: "LS18 4JP", phone: "07700 900011",
			ago: 60 * day, urgency: referral.UrgencyRoutine, procedure: "apicectomy", teeth: "21",
			reason: "Persistent periapical lesion 21 after good root canal treatment; post crown.", diagnosis: "Chronic apical periodontitis 21.",
			complexity: referral.TierL3a, anaesthesia: "la", medical: healthy, io: 2, views: "Periapicals 21",
			acts: []act{triageL3, providerAccept, {after: 5 * day, who: "provider-admin", req: referral.StepRequest{Step: referral.StepBook,
				Appointment: &referral.Appointment{Start: time.Now().UTC().Add(-40 * day).Truncate(day).Add(14 * time.Hour), Minutes: 45, Location: "Maxillofacial clinic, level 2"}}},
				{after: 13 * day, who: "clinician", req: step(referral.StepTreat)},
				{after: 2 * day, who: "clinician", req: referral.StepRequest{Step: referral.StepDischarge, Reason: "treated", Comment: "Apicectomy 21 done; discharged to the practice."}}},
			status: referral.StatusDischarged},
		{given: "Isla", family: "Thomas", dob: "2001-03-08", sex: "female", nhs: NHSNumber(12), postcode: "LS10 1QQ", phone: "07700 900012",
			ago: 30 * day, urgency: referral.UrgencyRoutine, procedure: "third-molars", teeth: "18, 28",
			reason: "Upper third molars causing cheek biting.", diagnosis: "Buccally erupted 18 and 28.",
			complexity: referral.TierL2, anaesthesia: "la", medical: healthy, opg: true, views: "OPG",
			acts: []act{triageL2, providerAccept, {after: day, who: "booking", req: step(referral.StepBook), slotIn: 12 * day},
				{after: 13 * day, who: "provider-admin", req: step(referral.StepDNA)}},
			status: referral.StatusDNA},
		{given: "Leo", family: "Roberts", dob: "1990-10-10", sex: "male", nhs: NHSNumber(13), postcode: "LS13 2EE", phone: "07700 900013",
			ago: 25 * day, urgency: referral.UrgencyRoutine, procedure: "retained-roots", teeth: "15",
			reason: "Retained root 15.", diagnosis: "Retained root 15.",
			complexity: referral.TierL3a, anaesthesia: "la", medical: healthy, io: 1, views: "Periapical 15",
			acts: []act{triageL3, providerAccept, {after: 10 * day, who: "provider-admin", req: referral.StepRequest{Step: referral.StepNoContact,
				Comment: "Three calls and a letter, no answer."}}},
			status: referral.StatusNoContact},
		{given: "Mia", family: "Johnson", dob: "1983-01-22", sex: "female", nhs: NHSNumber(14), postcode: "LS14 6TT", phone: "07700 900014",
			ago: 8 * day, urgency: referral.UrgencyRoutine, procedure: "other-extraction", teeth: "37",
			reason: "Fractured 37.", diagnosis: "Unrestorable 37.",
			complexity: referral.TierL2, anaesthesia: "la", medical: healthy, io: 1, views: "Periapical 37",
			acts: []act{{after: 2 * day, who: "referrer", req: referral.StepRequest{Step: referral.StepCancel, Reason: "treated-elsewhere",
				Comment: "The patient had the tooth out privately."}}},
			status: referral.StatusCancelled},
		{given: "Oscar", family: "Walker", dob: "1956-05-05", sex: "male", nhs: NHSNumber(15), postcode: "LS19 7XY", phone: "07700 900015",
			ago: 7 * day, urgency: referral.UrgencyUrgent, procedure: "pathology", teeth: "",
			reason: "Swelling of the right mandible, numb lip for two weeks.", diagnosis: "Mandibular lesion with altered sensation.",
			complexity: referral.TierL3b, anaesthesia: "la", medical: healthy, opg: true, views: "OPG",
			acts: []act{{after: day, who: "clinician", req: referral.StepRequest{Step: referral.StepRedirect, Reason: "secondary-care",
				Comment: "Numb lip with a lesion needs the maxillofacial urgent clinic today; redirected to secondary care."}}},
			status: referral.StatusRedirected},
		{given: "Freddie", family: "Green", dob: "2008-09-14", sex: "male", nhs: NHSNumber(16), postcode: "LS20 8PP", phone: "",
			ago: 11 * day, urgency: referral.UrgencyRoutine, procedure: "orthodontic-exposure", teeth: "23",
			reason: "Unerupted 23 at 14 years, exposure requested.", diagnosis: "Impacted 23.",
			complexity: referral.TierL3a, anaesthesia: "la", medical: healthy, views: "OPG (to follow from the orthodontist)",
			status: referral.StatusAwaitingTriage},
		{given: "Ella", family: "Hughes", dob: "1997-07-07", sex: "female", nhs: NHSNumber(17), postcode: "LS21 1AA", phone: "07700 900017",
			ago: 2 * time.Hour, reason: "Painful partially erupted 48", status: referral.StatusDraft},
	}
}

// People is the demo region's demographics service: the story patients as
// a national register would hold them, plus one patient who has not been
// referred (Sophie Clarke) so a trace by name and date of birth can add an
// NHS number to a new referral.
func People() []demographics.Person {
	var out []demographics.Person
	for _, st := range stories() {
		out = append(out, demographics.Person{NHSNumber: st.nhs, Family: st.family, Given: []string{st.given}, BirthDate: st.dob,
			Gender: st.sex, Postcode: st.postcode, Address: []string{"1 Demo Street", "Leeds"}, Phone: st.phone, GPPractice: "B86001"})
	}
	return append(out, demographics.Person{NHSNumber: NHSNumber(40), Family: "Clarke", Given: []string{"Sophie"}, BirthDate: "1990-06-15",
		Gender: "female", Postcode: "LS6 3QQ", Address: []string{"22 Hyde Park Road", "Leeds"}, Phone: "07700 900040", GPPractice: "B86001"})
}
