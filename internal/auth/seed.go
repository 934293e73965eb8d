package auth

import (
	"context"
	"errors"
	"fmt"
)

// DemoPassword is the password of every demo account. Demo data only.
const DemoPassword = "molar-demo-password"

// DemoAccount is one account SeedDemo made (or found), for printing.
type DemoAccount struct {
	Email string `json:"email"`
	Name  string `json:"name"`
	Roles []Role `json:"roles"`
	Phone string `json:"phone"` // E.164; its codes appear in the outbox
}

// The demo organisations. The codes have the right shapes; the names say
// they are not real.
const (
	DemoPractice     = "V099001"
	DemoTrust        = "RZZ"
	DemoSite         = "RZZ01"
	DemoCommissioner = "QZZ"
)

type demoUser struct {
	email, name, gdc string
	phones           []Phone
	grants           []Grant
	onBehalfOf       string // email of the clinician, for B1115 grants
}

// SeedDemo creates a demo practice, an NHS trust with one site, a
// commissioner, and one account per role (and one with two roles, to show
// the role choice), all with DemoPassword and phone numbers from Ofcom's
// range for drama (07700 900xxx, 020 7946 0xxx), which reach nobody: with
// the Outbox as notifier, the sign-in codes appear there. It is
// idempotent: what exists is left as it is.
func (s *Service) SeedDemo(ctx context.Context) ([]DemoAccount, error) {
	orgs := []Organisation{
		{Code: DemoPractice, Name: "Molar Demo Dental Practice", Kind: KindPractice},
		{Code: DemoTrust, Name: "Molar Demo Hospitals NHS Trust", Kind: KindProvider},
		{Code: DemoSite, Name: "Molar Demo General Hospital", Kind: KindProvider, Parent: DemoTrust},
		{Code: DemoCommissioner, Name: "NHS Molar Demo Integrated Care Board", Kind: KindCommissioner},
	}
	for _, o := range orgs {
		if _, err := s.CreateOrg(ctx, o); err != nil && !errors.Is(err, ErrExists) {
			return nil, fmt.Errorf("seed demo: %w", err)
		}
	}
	mobile := func(n int) []Phone { return []Phone{{Number: fmt.Sprintf("07700 900%03d", n), Label: "mobile"}} }
	users := []demoUser{
		{email: "referrer@demo.molar.test", name: "Dr Dana Dent (demo referrer)", gdc: "123456", phones: mobile(101),
			grants: []Grant{{Role: RoleReferrer, Org: DemoPractice}}},
		{email: "practice-admin@demo.molar.test", name: "Pat Manager (demo referrer admin)", phones: mobile(102),
			grants: []Grant{{Role: RoleReferrerAdmin, Org: DemoPractice}}},
		{email: "clinician@demo.molar.test", name: "Mr Oliver Surgeon (demo B1110)",
			phones: append(mobile(103), Phone{Number: "020 7946 0103", Label: "clinic landline"}),
			grants: []Grant{{Role: RoleClinician, Org: DemoSite}}},
		{email: "clinician-admin@demo.molar.test", name: "Sam Secretary (demo B1115)", phones: mobile(104),
			grants: []Grant{{Role: RoleClinicianAdmin, Org: DemoSite}}, onBehalfOf: "clinician@demo.molar.test"},
		{email: "provider-admin@demo.molar.test", name: "Alex Appointments (demo B1120)", phones: mobile(105),
			grants: []Grant{{Role: RoleProviderAdmin, Org: DemoSite}}},
		{email: "service-definer@demo.molar.test", name: "Dee Directory (demo B1107)", phones: mobile(106),
			grants: []Grant{{Role: RoleServiceDefiner, Org: DemoSite}}},
		{email: "analyst@demo.molar.test", name: "Ann Alyst (demo B1130)", phones: mobile(107),
			grants: []Grant{{Role: RoleAnalyst, Org: DemoCommissioner}}},
		{email: "booking@demo.molar.test", name: "Bo Booker (demo B1140)", phones: mobile(108),
			grants: []Grant{{Role: RoleBookingManager, Org: DemoSite}}},
		{email: "sysadmin@demo.molar.test", name: "Sys Admin (demo)", phones: mobile(109),
			grants: []Grant{{Role: RoleSysAdmin, Org: DemoTrust}}},
		{email: "two-roles@demo.molar.test", name: "Dr Tess Twohats (demo B1110 and B1130)", phones: mobile(110),
			grants: []Grant{{Role: RoleClinician, Org: DemoSite}, {Role: RoleAnalyst, Org: DemoTrust}}},
	}
	var out []DemoAccount
	for _, du := range users {
		u, err := s.UserByEmail(ctx, du.email)
		if errors.Is(err, ErrNotFound) {
			grants := du.grants
			if du.onBehalfOf != "" {
				c, err := s.UserByEmail(ctx, du.onBehalfOf)
				if err != nil {
					return nil, fmt.Errorf("seed demo: clinician of %s: %w", du.email, err)
				}
				grants = append([]Grant(nil), grants...)
				grants[0].OnBehalfOf = c.ID
			}
			u, err = s.createUser(ctx, NewUser{Email: du.email, Name: du.name, GDCNumber: du.gdc,
				Phones: du.phones, Grants: grants, Password: DemoPassword}, "demo")
		}
		if err != nil {
			return nil, fmt.Errorf("seed demo: %s: %w", du.email, err)
		}
		a := DemoAccount{Email: u.Email, Name: u.Name, Phone: u.Phones[0].Number}
		for _, g := range u.Grants {
			a.Roles = append(a.Roles, g.Role)
		}
		out = append(out, a)
	}
	s.log.Info("auth: demo accounts ready", "accounts", len(out))
	return out, nil
}
