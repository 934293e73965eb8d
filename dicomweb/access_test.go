package dicomweb

import (
	"net/http"
	"strings"
	"testing"
)

func TestAccess(t *testing.T) {
	ts := startService(t, Options{CORSOrigins: []string{"https://viewer.example"}})
	f := seed(t, ts)
	paths := []string{
		"/dicom-web/studies",
		"/dicom-web/studies/" + f.studyA,
		"/dicom-web/studies/" + f.studyA + "/metadata",
		instancePath(f, 0) + "/frames/1",
		instancePath(f, 0) + "/bulk/7FE00010",
	}
	t.Run("no token: 401 and nothing recorded", func(t *testing.T) {
		for _, p := range paths {
			resp, err := http.Get(ts.URL + p)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: status %d, WWW-Authenticate %q", p, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		}
		if ev := ts.rec.take(); len(ev) != 0 {
			t.Errorf("refused requests recorded: %+v", ev)
		}
	})
	t.Run("every read recorded with URN and NHS number", func(t *testing.T) {
		for _, p := range paths[1:] {
			if resp := ts.get(t, p, ""); resp.StatusCode != 200 {
				t.Fatalf("%s: status %d", p, resp.StatusCode)
			}
		}
		ev := ts.rec.take()
		if len(ev) != len(paths)-1 {
			t.Fatalf("%d events for %d reads", len(ev), len(paths)-1)
		}
		for i, e := range ev {
			if e.AccessionNumber != "URNAAA0001" || e.PatientID != "9990000018" || e.Action != ActionRetrieve ||
				e.Caller.User != "tester" || e.Resource != paths[i+1] || e.Client == "" || e.StudyUID != f.studyA {
				t.Errorf("event %d: %+v", i, e)
			}
		}
	})
	t.Run("audit log down: 503 and no data", func(t *testing.T) {
		ts.rec.setFail(true)
		defer ts.rec.setFail(false)
		for _, p := range paths {
			resp := ts.get(t, p, "")
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(string(body), "SMITH") {
				t.Errorf("%s: status %d, body %.80q", p, resp.StatusCode, body)
			}
		}
	})
	t.Run("CORS preflight", func(t *testing.T) {
		req, _ := http.NewRequest("OPTIONS", ts.URL+"/dicom-web/studies", nil)
		req.Header.Set("Origin", "https://viewer.example")
		req.Header.Set("Access-Control-Request-Method", "GET")
		req.Header.Set("Access-Control-Request-Headers", "authorization")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://viewer.example" ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Errorf("preflight: %d %v", resp.StatusCode, h)
		}
	})
	t.Run("CORS on a response, not for other origins", func(t *testing.T) {
		resp := ts.get(t, "/dicom-web/studies", "", "Origin", "https://viewer.example")
		if resp.Header.Get("Access-Control-Allow-Origin") != "https://viewer.example" || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Warning") {
			t.Errorf("headers %v", resp.Header)
		}
		resp = ts.get(t, "/dicom-web/studies", "", "Origin", "https://evil.example")
		if resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("CORS granted to an unlisted origin")
		}
	})
}
