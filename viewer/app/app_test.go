package app

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/molar-pacs/molar/internal/dcm"
	region "github.com/molar-pacs/molar/internal/demo"
)

// Each role lands on its own start page after signing in, with the
// navigation its role needs and nothing else.
func TestStartPagesByRole(t *testing.T) {
	srv := demo(t)
	for _, tc := range []struct {
		email, start string
		nav          []string
		grant        int
	}{
		{"referrer@demo.molar.test", "/app/refer", []string{"New referral", "Drafts", "Our referrals"}, -1},
		{"clinician@demo.molar.test", "/app/triage", []string{"Triage", "Provider worklists"}, -1},
		{"booking@demo.molar.test", "/app/provider", []string{"Booking"}, -1},
		{"service-definer@demo.molar.test", "/app/services", []string{"Directory of Services"}, -1},
		{"analyst@demo.molar.test", "/app/reports", []string{"Reports"}, -1},
		{"sysadmin@demo.molar.test", "/app/admin", []string{"Administration", "Reports"}, -1},
		{"two-roles@demo.molar.test", "/app/reports", []string{"Reports"}, 1},
	} {
		t.Run(tc.email, func(t *testing.T) {
			b := newBrowser(t, srv, 1366, 768)
			b.signIn(tc.email, tc.grant)
			if u := strings.SplitN(b.location(), "?", 2)[0]; !strings.HasSuffix(u, tc.start) {
				t.Errorf("start page %s, want %s", u, tc.start)
			}
			nav := b.text("nav.app-nav")
			for _, item := range tc.nav {
				if !strings.Contains(nav, item) {
					t.Errorf("navigation %q lacks %q", nav, item)
				}
			}
			for _, clinical := range []string{"Triage", "New referral"} {
				if !containsAny(tc.nav, clinical) && strings.Contains(nav, clinical) {
					t.Errorf("navigation %q offers %q to this role", nav, clinical)
				}
			}
		})
	}
}

func containsAny(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A role without clinical rights is refused the clinical pages, with a
// page that says so and shows nothing of any patient.
func TestClinicalPagesRefused(t *testing.T) {
	srv := demo(t)
	b := newBrowser(t, srv, 1366, 768)
	b.signIn("booking@demo.molar.test", -1)
	for _, path := range []string{"/app/referral?urn=CJGKBTG22K", "/app/triage", "/app/refer"} {
		b.open(path)
		if h1 := b.text("h1"); !strings.Contains(h1, "cannot open") {
			t.Errorf("%s: heading %q", path, h1)
		}
		var body string
		b.run(chromedp.Text("body", &body, chromedp.ByQuery))
		if strings.Contains(body, "Smith") || strings.Contains(body, "SMITH") {
			t.Errorf("%s: refusal shows patient data", path)
		}
	}
	b.screenshot("refused-booking-manager")

	// Nor the images behind the viewer, asked for with the same session.
	study := dcm.NameUID("demo/study/" + region.URN(0))
	for _, path := range []string{
		"/dicom-web/studies?AccessionNumber=" + region.URN(0),
		"/dicom-web/studies/" + study + "/metadata",
		"/dicom-web/studies/" + study + "/rendered",
		"/dicom-web/studies/" + study + "/thumbnail",
		"/dicom-web/wado?requestType=WADO&studyUID=" + study + "&contentType=image/jpeg",
	} {
		var status int
		b.eval(fmt.Sprintf(`fetch(%q, {credentials: "same-origin"}).then(r => r.status)`, path), &status)
		if status != http.StatusForbidden {
			t.Errorf("booking manager fetching %s: %d, want 403", path, status)
		}
	}
}

// Signed out, a page sends the browser to sign in and back.
func TestSignedOutGoesToSignIn(t *testing.T) {
	srv := demo(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(srv.Base + "/app/triage")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fapp%2Ftriage" {
		t.Errorf("signed out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A tracking link with the URN in the path opens the tracker with it
	// filled in.
	resp, err = client.Get(srv.Base + "/track/CJGKBTG22K")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/track?urn=CJGKBTG22K" {
		t.Errorf("/track/URN: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The assets carry no data and are cached by content.
	resp, err = http.Get(srv.Base + "/app/assets/common.js")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") || len(b) == 0 {
		t.Errorf("common.js: %d %v", resp.StatusCode, resp.Header)
	}
	req, _ := http.NewRequest("GET", srv.Base+"/app/assets/common.js", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %v %v", resp, err)
	}
}
