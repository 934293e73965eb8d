package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/demo"
)

// TestOHIFCrossOrigin makes the requests an OHIF viewer served from
// another origin makes of Molar's DICOMweb (docs/OHIF.md): the CORS
// preflight for a bearer-token QIDO, the search, the series metadata and
// a frame with OHIF's Accept header. An origin not configured gets no CORS
// headers, so its browser withholds the answer.
func TestOHIFCrossOrigin(t *testing.T) {
	const ohif, token = "https://ohif.example.nhs.uk", "ohif-token"
	data := t.TempDir()
	cfg := filepath.Join(data, "molar.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("[dicomweb]\ncors_origins = [%q]\n", ohif)), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, "--config", cfg, "--data", data, "--http", "127.0.0.1:0", "--dicom", "127.0.0.1:0", "--api-token", token, "--demo")
	base := "http://" + srv.find(t, `Browser:\s+http://([^/\s]+)/`)
	do := func(method, path, origin string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	bearer := map[string]string{"Authorization": "Bearer " + token}

	// The preflight OHIF's browser sends before a search with a token.
	pre := do("OPTIONS", "/dicom-web/studies?AccessionNumber="+demo.URN(0), ohif, map[string]string{
		"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization,accept"})
	h := pre.Header
	if pre.StatusCode/100 != 2 || h.Get("Access-Control-Allow-Origin") != ohif || h.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "authorization") ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "GET") || !strings.Contains(h.Values("Vary")[0], "Origin") {
		t.Fatalf("preflight: %d %v", pre.StatusCode, h)
	}

	// The search, then the study's series metadata, as OHIF asks for them.
	resp := do("GET", "/dicom-web/studies?AccessionNumber="+demo.URN(0)+"&includefield=00081030,00080060", ohif,
		map[string]string{"Authorization": "Bearer " + token, "Accept": "application/dicom+json"})
	var studies []map[string]struct{ Value []any }
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != ohif {
		t.Fatalf("QIDO from OHIF: %d %v", resp.StatusCode, resp.Header)
	}
	if err := json.NewDecoder(resp.Body).Decode(&studies); err != nil || len(studies) != 1 {
		t.Fatalf("QIDO answer: %v %v", studies, err)
	}
	study := studies[0]["0020000D"].Value[0].(string)
	resp = do("GET", "/dicom-web/studies/"+study+"/series", ohif, bearer)
	var series []map[string]struct{ Value []any }
	json.NewDecoder(resp.Body).Decode(&series)
	if resp.StatusCode != 200 || len(series) == 0 {
		t.Fatalf("series: %d", resp.StatusCode)
	}
	seriesUID := series[0]["0020000E"].Value[0].(string)
	resp = do("GET", "/dicom-web/studies/"+study+"/series/"+seriesUID+"/metadata", ohif, bearer)
	var meta []map[string]struct{ Value []any }
	json.NewDecoder(resp.Body).Decode(&meta)
	if resp.StatusCode != 200 || len(meta) == 0 || resp.Header.Get("Access-Control-Allow-Origin") != ohif {
		t.Fatalf("metadata: %d %v", resp.StatusCode, resp.Header)
	}
	// OHIF reads the multipart boundary from Content-Type, so the browser
	// must be allowed to see it.
	sop := meta[0]["00080018"].Value[0].(string)
	resp = do("GET", "/dicom-web/studies/"+study+"/series/"+seriesUID+"/instances/"+sop+"/frames/1", ohif, map[string]string{
		"Authorization": "Bearer " + token, "Accept": "multipart/related; type=application/octet-stream; transfer-syntax=*"})
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/related") ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Content-Type") {
		t.Fatalf("frame: %d %v", resp.StatusCode, resp.Header)
	}

	// Another origin: no CORS headers at all.
	for _, r := range []*http.Response{
		do("OPTIONS", "/dicom-web/studies", "https://evil.example", map[string]string{"Access-Control-Request-Method": "GET"}),
		do("GET", "/dicom-web/studies", "https://evil.example", bearer),
	} {
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("%s from an unknown origin: Access-Control-Allow-Origin %q", r.Request.Method, got)
		}
	}
}
