package forward

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestHandler drives the admin API over HTTP against a queue whose jobs
// really ran: one delivered, one waiting for a node that is down.
func TestHandler(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	peer := startStorescp(t, "ADMINPACS", 0)
	study, _ := h.archive.addStudy(t, "URN-H1")
	down := Node{AETitle: "DOWNPACS", Host: "127.0.0.1", Port: freePort(t)}
	h.run()
	done := h.enqueue(Job{Studies: []string{study}, Node: peer.node(), Reference: "URN-H1", Reason: "accepted by RYJ10"})
	waiting := h.enqueue(Job{Studies: []string{study}, Node: down, Reference: "URN-H2"})
	h.waitState(done, Done)
	h.waitState(waiting, RetryWait)

	srv := httptest.NewServer(http.StripPrefix("/admin/forward", h.q.Handler()))
	t.Cleanup(srv.Close)
	call := func(method, path string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+"/admin/forward"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		rsp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer rsp.Body.Close()
		b, _ := io.ReadAll(rsp.Body)
		if ct := rsp.Header.Get("Content-Type"); rsp.StatusCode != http.StatusMethodNotAllowed && ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", method, path, ct)
		}
		var v map[string]any
		if rsp.StatusCode != http.StatusMethodNotAllowed {
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("%s %s: %v in %s", method, path, err, b)
			}
		}
		return rsp.StatusCode, v
	}

	// The list, newest first, with the fields administrators read.
	code, v := call("GET", "/jobs")
	jobs, _ := v["jobs"].([]any)
	if code != 200 || len(jobs) != 2 {
		t.Fatalf("GET /jobs: %d %v", code, v)
	}
	first := jobs[0].(map[string]any)
	if first["id"] != waiting || first["state"] != "retry-wait" || first["reference"] != "URN-H2" ||
		first["attempts"] != 1.0 || !strings.Contains(first["last_error"].(string), "connection refused") ||
		first["next_attempt_at"] == nil || first["instances"] != nil {
		t.Errorf("first job: %v", first)
	}
	node := first["node"].(map[string]any)
	if node["ae_title"] != "DOWNPACS" || node["host"] != "127.0.0.1" || node["port"] != float64(down.Port) {
		t.Errorf("node: %v", node)
	}

	code, v = call("GET", "/jobs/"+done)
	if code != 200 || v["state"] != "done" || v["reason"] != "accepted by RYJ10" || v["instances_total"] != 3.0 ||
		v["instances_sent"] != 3.0 || v["instances_failed"] != 0.0 || v["created_at"] == nil || v["updated_at"] == nil ||
		v["give_up_at"] == nil || v["next_attempt_at"] != nil || v["last_error"] != nil {
		t.Errorf("GET done job: %d %v", code, v)
	}
	if studies := v["studies"].([]any); len(studies) != 1 || studies[0] != study {
		t.Errorf("studies: %v", v["studies"])
	}
	insts := v["instances"].([]any)
	if len(insts) != 3 {
		t.Fatalf("instances: %v", insts)
	}
	for _, in := range insts {
		in := in.(map[string]any)
		if in["state"] != "sent" || in["status"] != "0000" || in["sop_instance_uid"] == "" || in["study_uid"] != study {
			t.Errorf("instance: %v", in)
		}
	}

	for _, tc := range []struct {
		method, path string
		code         int
		state        string // of the answer, if 200
		errPart      string // of the error, if not
	}{
		{"GET", "/jobs?state=done", 200, "", ""},
		{"GET", "/jobs?state=lost", 400, "", "lost"},
		{"GET", "/jobs?limit=0", 400, "", "limit"},
		{"GET", "/jobs/" + strings.Repeat("0", 24), 404, "", "no such job"},
		{"GET", "/jobs/nope", 404, "", "no such job"},
		{"POST", "/jobs/" + done + "/retry", 409, "", "done"},
		{"POST", "/jobs/" + done + "/cancel", 409, "", "done"},
		{"POST", "/jobs/" + waiting + "/cancel", 200, "cancelled", ""},
		{"POST", "/jobs/" + waiting + "/cancel", 200, "cancelled", ""},
		{"POST", "/jobs/" + waiting + "/retry", 200, "", ""},
		{"POST", "/jobs/" + strings.Repeat("0", 24) + "/retry", 404, "", "no such job"},
		{"GET", "/jobs/" + done + "/retry", 405, "", ""},
		{"DELETE", "/jobs/" + done, 405, "", ""},
	} {
		code, v := call(tc.method, tc.path)
		if code != tc.code {
			t.Errorf("%s %s: %d %v, want %d", tc.method, tc.path, code, v, tc.code)
			continue
		}
		if tc.state != "" && v["state"] != tc.state {
			t.Errorf("%s %s: state %v, want %s", tc.method, tc.path, v["state"], tc.state)
		}
		if tc.errPart != "" && !strings.Contains(v["error"].(string), tc.errPart) {
			t.Errorf("%s %s: error %v, want it to mention %q", tc.method, tc.path, v["error"], tc.errPart)
		}
	}
	// The retried job was attempted again (the node is still down).
	st := h.waitFor(waiting, "a second attempt", func(st JobStatus) bool { return st.Attempts == 2 && st.State == RetryWait })
	if !st.GiveUpAt.After(st.Created.Add(DefaultMaxAge - time.Minute)) {
		t.Errorf("give-up time not renewed: %s", describeJob(st))
	}
	code, v = call("GET", "/jobs?state=retry-wait,done&reference=URN-H2")
	if jobs := v["jobs"].([]any); code != 200 || len(jobs) != 1 || jobs[0].(map[string]any)["id"] != waiting {
		t.Errorf("filtered list: %d %v", code, v)
	}
}
