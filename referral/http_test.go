package referral

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/auth"
)

// headerGuard signs a request in as the principal named in X-Test-User
// and applies the real matrix: what the auth package does with sessions.
type headerGuard map[string]auth.Principal

func (g headerGuard) CheckAny(r *http.Request, actions ...auth.Action) (auth.Principal, error) {
	p, ok := g[r.Header.Get("X-Test-User")]
	if !ok {
		return auth.Principal{}, &auth.AccessError{Status: http.StatusUnauthorized, Message: "Sign in."}
	}
	for _, a := range actions {
		if p.Via == auth.ViaBootstrap || auth.Allowed(p.Role, a) {
			return p, nil
		}
	}
	return auth.Principal{}, &auth.AccessError{Status: http.StatusForbidden, Message: "Forbidden."}
}

type apiClient struct {
	t   *testing.T
	srv *httptest.Server
}

func (c apiClient) do(user, method, path, ifMatch string, body any) (*http.Response, []byte) {
	c.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, c.srv.URL+path, rd)
	req.Header.Set("X-Test-User", user)
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp, out.Bytes()
}

func TestAPI(t *testing.T) {
	f, _ := filmFixture(t) // a real store, for the upload
	guard := headerGuard{"referrer": referrer, "triager": triager, "booker": booker, "analyst": analyst, "definer": definer}
	srv := httptest.NewServer(f.svc.Handler(guard))
	defer srv.Close()
	c := apiClient{t, srv}

	resp, body := c.do("referrer", "POST", "/api/referrals", "", completeForm())
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("ETag") != `"1"` {
		t.Fatalf("create: %d %s %s", resp.StatusCode, resp.Header.Get("ETag"), body)
	}
	var r Referral
	json.Unmarshal(body, &r)

	// Steps need If-Match: without, 428; stale, 412.
	submit := StepRequest{Step: StepSubmit}
	if resp, _ := c.do("referrer", "POST", "/api/referrals/"+r.ID+"/steps", "", submit); resp.StatusCode != http.StatusPreconditionRequired {
		t.Fatalf("step without If-Match: %d", resp.StatusCode)
	}
	if resp, _ := c.do("referrer", "PUT", "/api/referrals/"+r.ID, `"1"`, completeForm()); resp.StatusCode != http.StatusOK {
		t.Fatalf("save: %d", resp.StatusCode)
	}
	if resp, body := c.do("referrer", "POST", "/api/referrals/"+r.ID+"/steps", `"1"`, submit); resp.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("stale step: %d %s", resp.StatusCode, body)
	}
	resp, body = c.do("referrer", "POST", "/api/referrals/"+r.ID+"/steps", `"2"`, submit)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("submit: %d %s", resp.StatusCode, body)
	}
	json.Unmarshal(body, &r)

	// Roles: a booking manager may not triage (403 from the guard); a
	// step from the wrong status is 409; a bad form field 422.
	accept := StepRequest{Step: StepAccept, Decision: &Decision{Tier: TierL2, ServiceID: f.ibs.ID, Priority: "routine"}}
	if resp, _ := c.do("booker", "POST", "/api/referrals/"+r.ID+"/steps", etag(r.Version), accept); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("booker accepting: %d", resp.StatusCode)
	}
	if resp, _ := c.do("referrer", "POST", "/api/referrals/"+r.ID+"/steps", etag(r.Version), StepRequest{Step: StepResubmit, Comment: "x"}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("resubmitting what was not returned: %d", resp.StatusCode)
	}
	resp, body = c.do("triager", "POST", "/api/referrals/"+r.ID+"/steps", etag(r.Version), StepRequest{Step: StepReturn})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"field":"reason"`) {
		t.Fatalf("return without reason: %d %s", resp.StatusCode, body)
	}
	if resp, body := c.do("triager", "GET", "/api/worklists/awaiting-triage", "", nil); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), r.URN) {
		t.Fatalf("triage worklist: %d %s", resp.StatusCode, body)
	}
	// A reminder needs something overdue (409), and is the triage side's
	// to send (403 for a booking manager).
	if resp, body := c.do("triager", "POST", "/api/referrals/"+r.ID+"/reminders", etag(r.Version), map[string]string{"comment": "x"}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("reminder with nothing overdue: %d %s", resp.StatusCode, body)
	}
	if resp, _ := c.do("booker", "POST", "/api/referrals/"+r.ID+"/reminders", etag(r.Version), map[string]string{}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("booker reminding: %d", resp.StatusCode)
	}
	f.clock.add(4 * 24 * time.Hour) // the promised films are overdue
	resp, body = c.do("triager", "POST", "/api/referrals/"+r.ID+"/reminders", etag(r.Version), map[string]string{"comment": "Please send the OPG."})
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"reminders":1`) {
		t.Fatalf("reminder: %d %s", resp.StatusCode, body)
	}
	json.Unmarshal(body, &r)
	if resp, _ := c.do("analyst", "GET", "/api/referrals/"+r.ID, "", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("analyst reading a referral: %d", resp.StatusCode)
	}
	if resp, _ := c.do("", "GET", "/api/referrals/"+r.ID, "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous reading a referral: %d", resp.StatusCode)
	}

	// A film as a browser sends it: fields before the file, the
	// description read whole.
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	desc := strings.Repeat("Periapical 38, distal root. ", 20) // longer than one read
	mw.WriteField("description", desc)
	mw.WriteField("exposure_date", "2026-10-30")
	fw, _ := mw.CreateFormFile("file", "pa.jpg")
	fw.Write(testJPEG(t))
	mw.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/api/referrals/"+r.ID+"/uploads", &form)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("X-Test-User", "referrer")
	upResp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var up Upload
	json.NewDecoder(upResp.Body).Decode(&up)
	upResp.Body.Close()
	if upResp.StatusCode != http.StatusCreated || up.Description != strings.TrimSpace(desc) || up.ExposureDate != "2026-10-30" || up.Kind != "jpeg" {
		t.Fatalf("upload: %d %+v", upResp.StatusCode, up)
	}
	// The upload moved the referral's version on; the answer says to what,
	// and a read agrees, in words too.
	resp, body = c.do("referrer", "GET", "/api/referrals/"+r.ID, "", nil)
	if resp.Header.Get("ETag") != upResp.Header.Get("ETag") || resp.Header.Get("ETag") == etag(r.Version) ||
		!strings.Contains(string(body), `"status_label":"Waiting for clinical triage"`) {
		t.Errorf("after the upload: ETag %s, upload's %s, was %s; %.200s", resp.Header.Get("ETag"), upResp.Header.Get("ETag"), etag(r.Version), body)
	}

	// Reading the history is a read of clinical data: audited.
	if resp, _ := c.do("triager", "GET", "/api/referrals/"+r.ID+"/history", "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("history: %d", resp.StatusCode)
	}
	if last := f.audit.entries[len(f.audit.entries)-1]; last.Action != "referral.history" || last.User != triager.UserID || last.URN != r.URN {
		t.Errorf("history read audited as %+v", last)
	}

	// The tracker: public, by URN and date of birth, nothing clinical.
	resp, body = c.do("", "GET", "/api/track?urn="+r.URN+"&dob=1984-03-12", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("track: %d %s", resp.StatusCode, body)
	}
	// The URN is random and may itself hold "38": look past it.
	shown := strings.ReplaceAll(string(body), r.URN, "")
	for _, secret := range []string{"Olivia", "Smith", "SMITH", "9434765919", "1984-03-12", "pericoronitis", "third", "38", "penicillin", "Park Row", "07700"} {
		if strings.Contains(shown, secret) {
			t.Errorf("tracker shows %q: %s", secret, body)
		}
	}
	if !strings.Contains(string(body), "Waiting for clinical triage") {
		t.Errorf("tracker does not say where the referral is: %s", body)
	}
	wrong, wrongBody := c.do("", "GET", "/api/track?urn="+r.URN+"&dob=1984-03-13", "", nil)
	unknown, unknownBody := c.do("", "GET", "/api/track?urn=BBBBBBBBBB&dob=1984-03-12", "", nil)
	if wrong.StatusCode != http.StatusNotFound || unknown.StatusCode != http.StatusNotFound || !bytes.Equal(wrongBody, unknownBody) {
		t.Fatalf("wrong date of birth %d %s vs unknown URN %d %s: must be the same", wrong.StatusCode, wrongBody, unknown.StatusCode, unknownBody)
	}
	// Four more wrong dates, then even the right one is refused for a while.
	for i := range 4 {
		c.do("", "GET", fmt.Sprintf("/api/track?urn=%s&dob=1990-01-0%d", r.URN, i+1), "", nil)
	}
	if resp, _ := c.do("", "GET", "/api/track?urn="+r.URN+"&dob=1984-03-12", "", nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after five wrong dates of birth: %d, want 429", resp.StatusCode)
	}
	tracked := 0
	for _, e := range f.audit.entries {
		if e.Action == "referral.track" && e.URN == r.URN {
			tracked++
		}
	}
	if tracked != 6 {
		t.Errorf("%d tracker lookups audited, want 6 (1 right, 5 wrong)", tracked)
	}

	// Directory of Services: definers edit their own organisation's.
	svc := HealthcareService{Name: "New L2 service", OrgODS: trustODS, Specialty: "oral-surgery", Tiers: []Tier{TierL2}, Commissioned: true}
	if resp, body := c.do("definer", "POST", "/api/services", "", svc); resp.StatusCode != http.StatusCreated {
		t.Fatalf("definer adding a service: %d %s", resp.StatusCode, body)
	}
	svc.OrgODS = hubODS
	if resp, _ := c.do("definer", "POST", "/api/services", "", svc); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("definer adding another organisation's service: %d", resp.StatusCode)
	}
	if resp, _ := c.do("triager", "POST", "/api/services", "", svc); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("triager editing the directory: %d", resp.StatusCode)
	}
}

// A page may send back what it read: the read-only additions of a GET are
// ignored on a save, while a misspelt field is still refused.
func TestSaveWhatWasRead(t *testing.T) {
	f := newFixture(t, Options{})
	srv := httptest.NewServer(f.svc.Handler(headerGuard{"referrer": referrer}))
	defer srv.Close()
	c := apiClient{t, srv}
	resp, body := c.do("referrer", "POST", "/api/referrals", "", completeForm())
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var read map[string]any
	json.Unmarshal(body, &read)
	if read["status_label"] != "Draft" {
		t.Fatalf("status_label %v", read["status_label"])
	}
	read["clinical"].(map[string]any)["teeth"] = "48"
	resp, body = c.do("referrer", "PUT", "/api/referrals/"+read["id"].(string), resp.Header.Get("ETag"), read)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"teeth":"48"`) {
		t.Fatalf("saving what was read: %d %s", resp.StatusCode, body)
	}
	read["clinical"].(map[string]any)["teeeth"] = "47"
	if resp, body := c.do("referrer", "PUT", "/api/referrals/"+read["id"].(string), resp.Header.Get("ETag"), read); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "teeeth") {
		t.Errorf("misspelt field: %d %s", resp.StatusCode, body)
	}
}
