package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/auth"
	"github.com/molar-pacs/molar/internal/demo"
	"github.com/molar-pacs/molar/internal/synth"
)

// TestMatrixOnRealHandlers signs in to a running `molar serve --demo` as
// each demo account, through the sign-in pages with the code read from the
// outbox, and walks every role × action that has a handler today: the
// answer must be what the permission matrix says, and a refusal must show
// no patient data.
func TestMatrixOnRealHandlers(t *testing.T) {
	data := t.TempDir()
	srv := startServe(t, "--data", data, "--http", "127.0.0.1:0", "--dicom", "127.0.0.1:0", "--demo")
	base := "http://" + srv.find(t, `Browser:\s+http://([^/\s]+)/`)
	type account struct{ email, role string }
	var list []account
	acct := regexp.MustCompile(`^\s+(\S+@demo\.molar\.test)\s+(\S+)$`)
	for _, l := range srv.banner {
		if m := acct.FindStringSubmatch(l); m != nil {
			list = append(list, account{m[1], m[2]})
		}
	}

	// The demo study to read, found anonymously (demo mode).
	var studies []map[string]struct{ Value []string }
	resp, err := http.Get(base + "/dicom-web/studies?AccessionNumber=" + demo.URN(0))
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&studies)
	resp.Body.Close()
	if len(studies) != 1 {
		t.Fatalf("demo study not found: %v", studies)
	}
	study := studies[0]["0020000D"].Value[0]

	type cell struct {
		action auth.Action
		do     func(c *http.Client, csrf string) (*http.Response, error)
	}
	get := func(path string) func(*http.Client, string) (*http.Response, error) {
		return func(c *http.Client, _ string) (*http.Response, error) {
			req, _ := http.NewRequest("GET", base+path, nil)
			req.Header.Set("Accept", "application/json")
			return c.Do(req)
		}
	}
	cells := []cell{
		{auth.ActionDICOMwebSearch, get("/dicom-web/studies?AccessionNumber=" + demo.URN(0))},
		{auth.ActionDICOMwebRetrieve, get("/dicom-web/studies/" + study + "/metadata")},
		{auth.ActionFilmView, get("/archive/?q=" + demo.URN(0))},
		{auth.ActionAuditRead, get("/admin/audit")},
		{auth.ActionOutboxRead, get("/admin/outbox?format=json")},
		{auth.ActionDICOMwebStore, func(c *http.Client, csrf string) (*http.Response, error) {
			b, err := synth.Bytes(synth.Spec{AccessionNumber: "MATRIXTEST", PatientID: "9990000018"})
			if err != nil {
				return nil, err
			}
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			pw, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/dicom"}})
			pw.Write(b)
			mw.Close()
			req, _ := http.NewRequest("POST", base+"/dicom-web/studies", &body)
			req.Header.Set("Content-Type", `multipart/related; type="application/dicom"; boundary=`+mw.Boundary())
			req.Header.Set("X-CSRF-Token", csrf)
			return c.Do(req)
		}},
	}
	if len(list) < 9 {
		t.Fatalf("%d demo accounts in the banner, want 9 or more", len(list))
	}
	tested := 0
	for _, a := range list {
		if strings.Contains(a.role, ",") {
			continue // several roles: the role choice is the auth package's test
		}
		t.Run(a.role, func(t *testing.T) {
			client, csrf := signIn(t, base, a.email)
			for _, c := range cells {
				resp, err := c.do(client, csrf)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := http.StatusForbidden
				if auth.Allowed(auth.Role(a.role), c.action) {
					want = http.StatusOK
				}
				if resp.StatusCode != want {
					t.Errorf("%s: %d, want %d: %.200s", c.action, resp.StatusCode, want, body)
				}
				if want == http.StatusForbidden && (strings.Contains(string(body), "SMITH") || strings.Contains(string(body), "9990000018") || strings.Contains(string(body), demo.URN(0))) {
					t.Errorf("%s: the refusal shows patient data: %.200s", c.action, body)
				}
				tested++
			}
			if a.role != string(auth.RoleSysAdmin) {
				return
			}
			// The clinician's reads are in the audit log with role and
			// organisation; the refused attempts of other roles are there
			// as refusals, never as reads, and name no patient.
			resp, err := client.Get(base + "/admin/audit?format=json&limit=1000")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var page struct {
				Entries []struct {
					User, Role, Org, Action, URN, Outcome, Detail string
					NHSNumber                                     string `json:"nhs_number"`
				}
			}
			if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
				t.Fatal(err)
			}
			reads, refusals := map[string]int{}, map[string]int{}
			for _, e := range page.Entries {
				switch {
				case e.Outcome == "denied":
					refusals[e.Role]++
					if e.URN != "" || e.NHSNumber != "" || e.Detail == "" || !strings.HasPrefix(e.Action, "access.") {
						t.Errorf("refusal entry: %+v", e)
					}
				case e.Role != "" && e.Role != "demo":
					reads[e.Role]++
				}
				if e.Role == string(auth.RoleClinician) && (e.Org == "" || e.User == "") {
					t.Errorf("clinician's entry without user or organisation: %+v", e)
				}
			}
			if reads[string(auth.RoleClinician)] < 3 || reads[string(auth.RoleBookingManager)] != 0 || reads[string(auth.RoleAnalyst)] != 0 {
				t.Errorf("audit entries by role: %v; want the clinician's reads and none for refused roles", reads)
			}
			if refusals[string(auth.RoleBookingManager)] == 0 || refusals[string(auth.RoleAnalyst)] == 0 || refusals[string(auth.RoleClinician)] == 0 {
				t.Errorf("refusals by role: %v; want the booking manager's, the analyst's and the clinician's (the audit log)", refusals)
			}
		})
	}
	if tested < 8*len(cells) {
		t.Errorf("only %d cells walked", tested)
	}
}

// signIn goes through the sign-in pages as a person would: password, SMS
// to the first phone, the code from the outbox. It returns a client with
// the session and the session's CSRF token.
func signIn(t *testing.T, base, email string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	post := func(path string, form url.Values) *http.Response {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	post("/login", url.Values{"email": {email}, "password": {auth.DemoPassword}})
	post("/login/factor", url.Values{"phone": {"0"}, "channel": {"sms"}})
	// The newest outbox message, read anonymously as the demo allows.
	var outbox struct {
		Messages []struct{ Text string }
	}
	resp, err := http.Get(base + "/admin/outbox?format=json")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&outbox)
	resp.Body.Close()
	if len(outbox.Messages) == 0 {
		t.Fatal("no sign-in code in the outbox")
	}
	code := regexp.MustCompile(`\d{6}`).FindString(outbox.Messages[0].Text)
	post("/login/code", url.Values{"code": {code}})
	resp, err = c.Get(base + "/auth/session")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var session struct {
		CSRF string `json:"csrf_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&session); err != nil || session.CSRF == "" {
		t.Fatalf("%s did not get a session (%d): %v", email, resp.StatusCode, err)
	}
	return c, session.CSRF
}
