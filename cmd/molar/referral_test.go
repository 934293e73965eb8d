package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/synth"
)

// A referral through the real binary: created and submitted over the API,
// offered by the Modality Worklist, its film sent by storescu with the URN
// and filed against it, found by findscu, and tracked by the patient.
func TestReferralFilmsByStorescu(t *testing.T) {
	dir := t.TempDir()
	dicomPort := freePort(t)
	s := startServe(t, "--data", dir, "--http", "127.0.0.1:0", "--dicom", fmt.Sprintf("127.0.0.1:%d", dicomPort), "--api-token", "ref-token",
		"--peer", "FINDSCU=127.0.0.1:104", "--peer", "STORESCU=127.0.0.1:104")
	base := "http://" + s.find(t, `Browser:\s+http://([^/]+)/`)
	api := apiClient{t: t, base: base, token: "ref-token"}
	for _, svc := range []map[string]any{
		{"name": "Triage hub", "org_ods": "RZZ01", "specialty": "triage", "commissioned": true},
		{"name": "City Oral Surgery", "org_ods": "RYY02", "specialty": "oral-surgery", "tiers": []string{"L2"}, "commissioned": true},
	} {
		if code, body := api.do("POST", "/api/services", "", svc, nil); code != http.StatusCreated {
			t.Fatalf("add service: %d %s", code, body)
		}
	}
	form := referralForm("periapical 38")
	var ref struct {
		ID, URN string
		Version int
		Films   []struct {
			StudyUID string `json:"study_uid"`
		}
	}
	if code, body := api.do("POST", "/api/referrals", "", form, &ref); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, body := api.do("POST", "/api/referrals/"+ref.ID+"/steps", fmt.Sprintf(`"%d"`, ref.Version), map[string]any{"step": "submit"}, &ref); code != http.StatusOK || ref.URN == "" {
		t.Fatalf("submit: %d %s", code, body)
	}

	port := fmt.Sprint(dicomPort)
	mwl, err := exec.Command("findscu", "-W", "-aec", "MOLAR", "-k", "AccessionNumber", "-k", "PatientID", "-k", "ScheduledProcedureStepSequence[0].Modality", "127.0.0.1", port).CombinedOutput()
	if err != nil || !strings.Contains(string(mwl), ref.URN) || !strings.Contains(string(mwl), "9434765919") {
		t.Fatalf("worklist does not offer the referral: %v\n%s", err, mwl)
	}

	b, err := synth.Bytes(synth.Spec{AccessionNumber: ref.URN, PatientID: "9434765919", PatientName: "SMITH^OLIVIA", StudyDate: "20261101"})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "film.dcm")
	os.WriteFile(file, b, 0o644)
	if out, err := exec.Command("storescu", "-aec", "MOLAR", "127.0.0.1", port, file).CombinedOutput(); err != nil {
		t.Fatalf("storescu: %v\n%s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(ref.Films) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("film not filed against %s", ref.URN)
		}
		time.Sleep(50 * time.Millisecond)
		api.do("GET", "/api/referrals/"+ref.ID, "", nil, &ref)
	}
	out, err := exec.Command("findscu", "-S", "-aec", "MOLAR", "-k", "QueryRetrieveLevel=STUDY", "-k", "AccessionNumber="+ref.URN, "-k", "StudyInstanceUID", "127.0.0.1", port).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ref.Films[0].StudyUID) {
		t.Fatalf("findscu by URN: %v\n%s", err, out)
	}
	mwl, _ = exec.Command("findscu", "-W", "-aec", "MOLAR", "-k", "AccessionNumber", "127.0.0.1", port).CombinedOutput()
	if strings.Contains(string(mwl), ref.URN) {
		t.Errorf("worklist still offers a referral whose films arrived:\n%s", mwl)
	}

	resp, err := http.Get(base + "/api/track?urn=" + ref.URN + "&dob=1984-03-12")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("tracker: %v %v", resp, err)
	}
	resp.Body.Close()
}

// referralForm is a complete referral form for Olivia Smith, with the
// radiograph views given.
func referralForm(views string) map[string]any {
	return map[string]any{
		"patient": map[string]any{"nhs_number": "9434765919", "given": "Olivia", "family": "Smith", "birth_date": "1984-03-12", "sex": "female",
			"address": []string{"1 Park Row"}, "postcode": "LS1 5AB"},
		"referrer":    map[string]any{"name": "Dr A Dentist", "gdc_number": "123456", "practice_ods": "V012345"},
		"gp":          map[string]any{"practice_name": "Park Row Surgery"},
		"medical":     map[string]any{"none_declared": true},
		"clinical":    map[string]any{"reason": "Impacted 38", "procedure": "third-molars", "anaesthesia": "la", "urgency": "routine"},
		"radiographs": map[string]any{"attached": true, "exposure_date": "2026-11-01", "views": views},
	}
}

// apiClient calls the server's JSON APIs as the bootstrap token, which may
// do everything the workflow and the forward admin API ask for.
type apiClient struct {
	t           *testing.T
	base, token string
}

// do sends in as JSON (no body when nil), decodes the answer into out when
// given, and returns the status and the body for failure messages.
func (a apiClient) do(method, path, ifMatch string, in, out any) (int, string) {
	a.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			a.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
	return resp.StatusCode, string(b)
}
