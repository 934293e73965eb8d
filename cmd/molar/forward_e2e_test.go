package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// A provider's DICOM node that is down when the provider accepts the
// referral still gets every film: the forwarding job waits in retry-wait
// with the connection error for administrators to see, and once the node
// is up and an administrator asks for a retry, the films arrive by C-STORE
// exactly as the practice sent them.
func TestForwardFilmsToProviderNodeAfterOutage(t *testing.T) {
	// The point of the test is the DCMTK round trip: without the tools it
	// proves nothing, so it fails rather than skips.
	for _, tool := range []string{"storescu", "storescp"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install DCMTK (scripts/install-deps.sh)", tool)
		}
	}
	const token = "fwd-token"
	dicomPort := freePort(t)
	s := startServe(t, "--data", t.TempDir(), "--http", "127.0.0.1:0", "--dicom", fmt.Sprintf("127.0.0.1:%d", dicomPort),
		"--api-token", token, "--peer", "STORESCU=127.0.0.1:104")
	api := apiClient{t: t, base: "http://" + s.find(t, `Browser:\s+http://([^/]+)/`), token: token}

	// The provider's node: its port is chosen now so the Directory of
	// Services can name it, but nothing listens there until later, so the
	// first attempt meets a node that is down.
	const nodeAE = "PROVIDERPACS"
	nodePort := freePort(t)
	// Submitting needs a triage service to route the referral to.
	if code, body := api.do("POST", "/api/services", "", map[string]any{
		"name": "Triage hub", "org_ods": "RZZ01", "specialty": "triage", "commissioned": true,
	}, nil); code != http.StatusCreated {
		t.Fatalf("add triage service: %d %s", code, body)
	}
	var provider struct {
		ID    string
		DICOM *struct {
			AETitle string `json:"ae_title"`
			Host    string
			Port    int
		}
	}
	if code, body := api.do("POST", "/api/services", "", map[string]any{
		"name": "City Oral Surgery", "org_ods": "RYY02", "specialty": "oral-surgery", "tiers": []string{"L2"}, "commissioned": true,
		"dicom": map[string]any{"ae_title": nodeAE, "host": "127.0.0.1", "port": nodePort},
	}, &provider); code != http.StatusCreated || provider.ID == "" {
		t.Fatalf("add provider service: %d %s", code, body)
	}
	if provider.DICOM == nil || provider.DICOM.AETitle != nodeAE || provider.DICOM.Port != nodePort {
		t.Fatalf("provider service lost its DICOM node: %+v", provider.DICOM)
	}

	form := referralForm("periapical 38, OPG")
	var ref fwdReferral
	if code, body := api.do("POST", "/api/referrals", "", form, &ref); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	step := func(req map[string]any, want string) {
		t.Helper()
		code, body := api.do("POST", "/api/referrals/"+ref.ID+"/steps", strconv.Quote(strconv.Itoa(ref.Version)), req, &ref)
		if code != http.StatusOK || ref.Status != want {
			t.Fatalf("step %v: %d, status %q, want %q\n%s", req["step"], code, ref.Status, want, body)
		}
	}
	step(map[string]any{"step": "submit"}, "AWAITING_TRIAGE")

	// Two studies, one with two films: the job must carry more than one
	// study and more than one instance per study.
	studyA, studyB := dcm.NewUID(), dcm.NewUID()
	seriesA := dcm.NewUID()
	specs := []synth.Spec{
		{StudyUID: studyA, SeriesUID: seriesA, InstanceNumber: 1, Seed: 1},
		{StudyUID: studyA, SeriesUID: seriesA, InstanceNumber: 2, Seed: 2},
		{StudyUID: studyB, Modality: "PX", SOPClassUID: synth.DXForPresentation, Rows: 96, Columns: 128, Seed: 3},
	}
	sent := map[string]*dcm.File{} // by SOP Instance UID
	var files []string
	filmDir := t.TempDir()
	for i, sp := range specs {
		sp.AccessionNumber, sp.PatientID, sp.PatientName, sp.StudyDate = ref.URN, "9434765919", "SMITH^OLIVIA", "20261101"
		sp.SOPInstanceUID = dcm.NewUID()
		b, err := synth.Bytes(sp)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(filmDir, fmt.Sprintf("film%d.dcm", i))
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		sent[sp.SOPInstanceUID] = parseFilm(t, f)
	}
	if out, err := exec.Command("storescu", append([]string{"-aec", "MOLAR", "127.0.0.1", strconv.Itoa(dicomPort)}, files...)...).CombinedOutput(); err != nil {
		t.Fatalf("storescu: %v\n%s", err, out)
	}
	waitFor(t, 10*time.Second, func() (bool, string) {
		api.do("GET", "/api/referrals/"+ref.ID, "", nil, &ref)
		return len(ref.Films) == 2, fmt.Sprintf("films filed against %s: %+v", ref.URN, ref.Films)
	})

	step(map[string]any{"step": "accept", "decision": map[string]any{"tier": "L2", "service_id": provider.ID, "priority": "routine", "see_and_treat": true}},
		"SENT_TO_PROVIDER")
	step(map[string]any{"step": "provider-accept"}, "PROVIDER_ACCEPTED")

	// The first attempt starts as soon as the job is queued and fails at
	// once on the closed port.
	var job fwdJob
	waitFor(t, 10*time.Second, func() (bool, string) {
		var list struct{ Jobs []fwdJob }
		code, body := api.do("GET", "/admin/forward/jobs?reference="+ref.URN, "", nil, &list)
		if code != http.StatusOK || len(list.Jobs) != 1 {
			return false, fmt.Sprintf("forward jobs for %s: %d %s", ref.URN, code, body)
		}
		job = list.Jobs[0]
		return job.State == "retry-wait" && job.LastError != "", fmt.Sprintf("job not waiting to retry after a failure: %s", body)
	})
	t.Logf("node down: job %s %s after %d attempt(s): %s", job.ID, job.State, job.Attempts, job.LastError)
	if job.Node.AETitle != nodeAE || job.Node.Host != "127.0.0.1" || job.Node.Port != nodePort {
		t.Errorf("job node %+v, want %s@127.0.0.1:%d", job.Node, nodeAE, nodePort)
	}
	wantStudies := []string{studyA, studyB}
	slices.Sort(wantStudies)
	if !slices.Equal(job.Studies, wantStudies) {
		t.Errorf("job studies %v, want %v", job.Studies, wantStudies)
	}
	if job.Attempts < 1 || job.Sent != 0 {
		t.Errorf("failed job: %d attempts, %d sent; want at least 1 attempt and nothing sent", job.Attempts, job.Sent)
	}

	// The node comes up.
	recv := t.TempDir()
	scp := exec.Command("storescp", "-aet", nodeAE, "-od", recv, strconv.Itoa(nodePort))
	var scpOut lockedBuffer
	scp.Stdout, scp.Stderr = &scpOut, &scpOut
	if err := scp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { scp.Process.Kill(); scp.Wait() })
	// A C-ECHO through molar's own SCU tells us storescp is listening, so
	// the retry below meets a node that is up rather than racing its
	// start-up.
	waitFor(t, 10*time.Second, func() (bool, string) {
		out, code := molar(t, "echo", fmt.Sprintf("%s@127.0.0.1:%d", nodeAE, nodePort))
		return code == 0, fmt.Sprintf("storescp does not answer C-ECHO:\n%s\nstorescp:\n%s", out, scpOut.String())
	})
	// The queue's backoff after a first failure is about 30 s and serve
	// has no setting for it; an administrator's retry is how the films go
	// now, and it is part of what this test proves.
	if code, body := api.do("POST", "/admin/forward/jobs/"+job.ID+"/retry", "", nil, nil); code != http.StatusOK {
		t.Fatalf("retry job %s: %d %s", job.ID, code, body)
	}

	waitFor(t, 10*time.Second, func() (bool, string) {
		_, body := api.do("GET", "/admin/forward/jobs/"+job.ID, "", nil, &job)
		got, _ := filepath.Glob(filepath.Join(recv, "*"))
		// A job that fell back to retry-wait will not be attempted again
		// within the deadline: stop waiting and report it below.
		return (len(got) == len(sent) && job.State == "done") || job.State == "retry-wait" || job.State == "failed",
			fmt.Sprintf("storescp has %d of %d films; job: %s\nstorescp:\n%s", len(got), len(sent), body, scpOut.String())
	})
	t.Logf("after the retry: job %s %s, %d/%d sent in %d attempt(s)", job.ID, job.State, job.Sent, job.Total, job.Attempts)
	if job.State != "done" || job.Total != len(sent) || job.Sent != len(sent) || job.Failed != 0 {
		t.Fatalf("job after the retry: state %q, %d/%d sent, %d failed, last error %q\nstorescp:\n%s",
			job.State, job.Sent, job.Total, job.Failed, job.LastError, scpOut.String())
	}
	for _, in := range job.Instances {
		if in.State != "sent" || in.Status != "0000" || sent[in.SOPInstanceUID] == nil {
			t.Errorf("job instance %+v: want one of the films sent with status 0000", in)
		}
	}

	// What the node holds is what the practice sent: every element of
	// every film, pixel data included, value for value.
	got, _ := filepath.Glob(filepath.Join(recv, "*"))
	if len(got) != len(sent) {
		t.Fatalf("storescp wrote %d files, want %d", len(got), len(sent))
	}
	seen := map[string]bool{}
	for _, f := range got {
		rf := parseFilm(t, f)
		sop := rf.Dataset.String(dcm.SOPInstanceUID)
		want := sent[sop]
		if want == nil || seen[sop] {
			t.Errorf("%s: SOP Instance UID %q is not one sent, or came twice", filepath.Base(f), sop)
			continue
		}
		seen[sop] = true
		if m := rf.Meta.String(dcm.MediaStorageSOPInstanceUID); m != sop {
			t.Errorf("%s: file meta says SOP instance %q, data set %q", filepath.Base(f), m, sop)
		}
		for _, e := range want.Dataset.Elements {
			r := rf.Dataset.Find(e.Tag)
			switch {
			case r == nil:
				t.Errorf("%s: %s %s missing", sop, e.Tag, e.Tag.Keyword())
			case !bytes.Equal(r.Value, e.Value):
				t.Errorf("%s: %s %s differs: %s", sop, e.Tag, e.Tag.Keyword(), diff(r.Value, e.Value))
			}
		}
		if px := rf.Dataset.Find(dcm.PixelData); px == nil || len(px.Value) == 0 {
			t.Errorf("%s: no pixel data received", sop)
		}
	}
}

// fwdReferral is what the test reads of a referral.
type fwdReferral struct {
	ID, URN, Status string
	Version         int
	Films           []struct {
		StudyUID string `json:"study_uid"`
	}
}

// fwdJob is what the test reads of the forward admin API's JobStatus.
type fwdJob struct {
	ID      string
	State   string
	Studies []string
	Node    struct {
		AETitle string `json:"ae_title"`
		Host    string
		Port    int
	}
	Attempts  int
	LastError string `json:"last_error"`
	Total     int    `json:"instances_total"`
	Sent      int    `json:"instances_sent"`
	Failed    int    `json:"instances_failed"`
	Instances []struct {
		SOPInstanceUID string `json:"sop_instance_uid"`
		State, Status  string
		Comment        string
	}
}

// waitFor polls cond until it holds, failing with its message at the
// deadline: the steps here are asynchronous (change feed, queue worker,
// a process starting) and finish in milliseconds, so polling keeps the
// test fast without a fixed sleep.
func waitFor(t *testing.T, limit time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// parseFilm parses a Part 10 file keeping every value, pixel data
// included, so films can be compared byte for byte.
func parseFilm(t *testing.T, path string) *dcm.File {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	f, err := dcm.ParsePart10(fh, dcm.ParseOptions{MaxInlineBinary: 16 << 20})
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return f
}

// diff describes how got differs from sent: text values in full, long
// binary ones (pixel data) by where they part, so the message stays short.
func diff(got, sent []byte) string {
	if len(got) <= 64 && len(sent) <= 64 {
		return fmt.Sprintf("got %q, sent %q", got, sent)
	}
	i := 0
	for i < len(got) && i < len(sent) && got[i] == sent[i] {
		i++
	}
	return fmt.Sprintf("%d bytes received, %d sent, first difference at byte %d", len(got), len(sent), i)
}
