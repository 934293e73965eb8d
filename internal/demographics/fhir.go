package demographics

import (
	"encoding/json"
	"strings"
	"time"
)

// The parts of PDS's FHIR R4 resources the client reads. Everything else in
// a response is ignored.

const nhsNumberSystem = "https://fhir.nhs.uk/Id/nhs-number"

type fhirResource struct {
	ResourceType string `json:"resourceType"`
}

type fhirPatient struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Identifier   []struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier"`
	Meta struct {
		Security []fhirCoding `json:"security"`
	} `json:"meta"`
	Name             []fhirName    `json:"name"`
	Gender           string        `json:"gender"`
	BirthDate        string        `json:"birthDate"`
	DeceasedDateTime string        `json:"deceasedDateTime"`
	DeceasedBoolean  bool          `json:"deceasedBoolean"`
	Address          []fhirAddress `json:"address"`
	Telecom          []fhirContact `json:"telecom"`
	GP               []struct {
		Identifier struct {
			System string `json:"system"`
			Value  string `json:"value"`
		} `json:"identifier"`
	} `json:"generalPractitioner"`
}

type fhirCoding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display"`
}

type fhirPeriod struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type fhirName struct {
	Use    string      `json:"use"`
	Period *fhirPeriod `json:"period"`
	Given  []string    `json:"given"`
	Family string      `json:"family"`
}

type fhirAddress struct {
	Use        string      `json:"use"`
	Period     *fhirPeriod `json:"period"`
	Line       []string    `json:"line"`
	PostalCode string      `json:"postalCode"`
}

type fhirContact struct {
	System string      `json:"system"`
	Value  string      `json:"value"`
	Use    string      `json:"use"`
	Period *fhirPeriod `json:"period"`
}

type fhirBundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Total        *int   `json:"total"`
	Entry        []struct {
		FullURL string `json:"fullUrl"`
		Search  struct {
			Score *float64 `json:"score"`
		} `json:"search"`
		Resource json.RawMessage `json:"resource"`
	} `json:"entry"`
}

type fhirOutcome struct {
	ResourceType string `json:"resourceType"`
	Issue        []struct {
		Severity string `json:"severity"`
		Code     string `json:"code"`
		Details  struct {
			Coding []fhirCoding `json:"coding"`
		} `json:"details"`
		Diagnostics string `json:"diagnostics"`
	} `json:"issue"`
}

// spineCode returns the first Spine error code of the outcome
// (issue.details.coding.code: RESOURCE_NOT_FOUND, TOO_MANY_MATCHES, …), the
// FHIR issue code, and the diagnostics of the issues, joined.
func (o *fhirOutcome) summary() (spine, issue, diagnostics string) {
	var diags []string
	for _, is := range o.Issue {
		if issue == "" {
			issue = is.Code
		}
		for _, c := range is.Details.Coding {
			if spine == "" && c.Code != "" {
				spine = c.Code
			}
		}
		if is.Diagnostics != "" {
			diags = append(diags, is.Diagnostics)
		}
	}
	return spine, issue, strings.Join(diags, "; ")
}

// tooManyMatches reports whether an outcome is PDS's TOO_MANY_MATCHES.
func (o *fhirOutcome) tooManyMatches() bool {
	for _, is := range o.Issue {
		if is.Code == "multiple-matches" {
			return true
		}
		for _, c := range is.Details.Coding {
			if strings.EqualFold(c.Code, "TOO_MANY_MATCHES") {
				return true
			}
		}
	}
	return false
}

// current reports whether a period has not ended before today.
func (p *fhirPeriod) current(today string) bool {
	if p == nil || p.End == "" {
		return true
	}
	end := p.End
	if len(end) > len(time.DateOnly) {
		end = end[:len(time.DateOnly)]
	}
	return end >= today
}

// best returns the index of the highest rank, the first on ties, or -1 when
// there is nothing or every rank is negative.
func best(n int, rank func(i int) int) int {
	bi, br := -1, -1
	for i := 0; i < n; i++ {
		if r := rank(i); r > br {
			bi, br = i, r
		}
	}
	return bi
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// person maps a PDS Patient to a Person. today is YYYY-MM-DD, to tell
// current names, addresses and phone numbers from ended ones.
func (fp *fhirPatient) person(today string) Person {
	p := Person{
		NHSNumber: fp.ID,
		Gender:    fp.Gender,
		BirthDate: fp.BirthDate,
		Deceased:  fp.DeceasedDateTime != "" || fp.DeceasedBoolean,
	}
	if p.NHSNumber == "" {
		for _, id := range fp.Identifier {
			if id.System == nhsNumberSystem {
				p.NHSNumber = id.Value
				break
			}
		}
	}
	for _, s := range fp.Meta.Security {
		switch strings.ToUpper(s.Code) {
		case "R", "V", "REDACTED":
			p.Restricted = true
		}
	}
	// PDS always has a "usual" name and never returns "official" (FHIR's
	// registered name); old and maiden names are history.
	nameUse := map[string]int{"usual": 4, "official": 3, "": 2, "nickname": 1, "temp": 1}
	if i := best(len(fp.Name), func(i int) int {
		n := &fp.Name[i]
		u, ok := nameUse[n.Use]
		if !ok {
			return 0
		}
		return u*2 + b2i(n.Period.current(today))
	}); i >= 0 {
		p.Family = fp.Name[i].Family
		p.Given = append([]string(nil), fp.Name[i].Given...)
	}
	if i := best(len(fp.Address), func(i int) int {
		a := &fp.Address[i]
		u := map[string]int{"home": 2, "": 1}[a.Use]
		if u == 0 {
			return -1 // temp, billing, work, old: not where the patient lives
		}
		return b2i(a.Period.current(today))*10 + u
	}); i >= 0 {
		p.Address = append([]string(nil), fp.Address[i].Line...)
		p.Postcode = fp.Address[i].PostalCode
	}
	if i := best(len(fp.Telecom), func(i int) int {
		t := &fp.Telecom[i]
		if t.System != "phone" || t.Value == "" || t.Use == "old" {
			return -1
		}
		// A mobile first: the URN goes to the patient by text message.
		u := map[string]int{"mobile": 3, "home": 2}[t.Use]
		return b2i(t.Period.current(today))*10 + u
	}); i >= 0 {
		p.Phone = fp.Telecom[i].Value
	}
	if len(fp.GP) > 0 {
		p.GPPractice = fp.GP[0].Identifier.Value
	}
	return withheld(p)
}
