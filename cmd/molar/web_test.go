package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestHTTPSAndDICOMwebAccess runs serve with HTTPS on a self-signed
// certificate and no demo mode: HTTP/2 over TLS, the secure headers, and
// DICOMweb refusing anyone without the bootstrap token.
func TestHTTPSAndDICOMwebAccess(t *testing.T) {
	data := t.TempDir()
	srv := startServe(t, "--data", data, "--http", "127.0.0.1:0", "--dicom", "127.0.0.1:0",
		"--https", "127.0.0.1:0", "--self-signed", "--api-token", "web-token")
	addr := srv.find(t, `HTTPS:\s+https://(\S+?)/`)
	// Trust the certificate serve made, as a local user would.
	pem, err := os.ReadFile(filepath.Join(data, "tls", "self-signed-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	get := func(token string) *http.Response {
		return getPath(t, client, "https://"+addr+"/dicom-web/studies", token)
	}
	resp := get("web-token")
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Errorf("with the token: %d over %s; want 200 over HTTP/2", resp.StatusCode, resp.Proto)
	}
	for h, want := range map[string]string{"Strict-Transport-Security": "max-age=31536000", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	for _, token := range []string{"", "wrong-token"} {
		if resp := get(token); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("token %q: status %d, want 401", token, resp.StatusCode)
		}
	}
	// The search is in the audit log, the refused ones are not, and the
	// log is for the administrator only.
	if resp := getPath(t, client, "https://"+addr+"/admin/audit", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("audit log without the token: %d, want 401", resp.StatusCode)
	}
	if resp := getPath(t, client, "https://"+addr+"/admin/outbox", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("outbox without the token: %d, want 401", resp.StatusCode)
	}
	if resp := getPath(t, client, "https://"+addr+"/admin/outbox?format=json", "web-token"); resp.StatusCode != http.StatusOK {
		t.Errorf("outbox with the token: %d, want 200", resp.StatusCode)
	}
	resp = getPath(t, client, "https://"+addr+"/admin/audit?format=json", "web-token")
	var page struct {
		Entries []struct{ Action, User, Resource string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 1 || page.Entries[0].Action != "dicomweb.search" || page.Entries[0].User != "api-token" {
		t.Errorf("audit entries: %+v", page.Entries)
	}
}

// getPath GETs url with a bearer token (none when empty). The body is
// left open for the caller and closed at the end of the test.
func getPath(t *testing.T, client *http.Client, url, token string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
