package config

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "molar.toml")
	os.WriteFile(file, []byte(`
data = "/from/file"
http = ":9000"
ae_title = "FILEAE"
[[peers]]
ae_title = "HOSP"
host = "10.0.0.5"
port = 104
`), 0o644)
	env := map[string]string{"MOLAR_HTTP": ":9100", "MOLAR_DEMO": "true"}
	c := Default()
	if err := c.Load(file, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.Flags(fs)
	if err := fs.Parse([]string{"--aet", "FLAGAE", "--peer", "PACS=127.0.0.1:4242"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, got, want string }{
		{"data from file", c.DataDir, "/from/file"},
		{"http from env over file", c.HTTPAddr, ":9100"},
		{"aet from flag over file", c.AETitle, "FLAGAE"},
		{"dicom default", c.DICOMAddr, ":11112"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if !c.Demo {
		t.Error("MOLAR_DEMO=true not applied")
	}
	if len(c.Peers) != 2 || c.Peers[0].AETitle != "HOSP" || c.Peers[1] != (Peer{AETitle: "PACS", Host: "127.0.0.1", Port: 4242}) {
		t.Errorf("peers: %+v", c.Peers)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("htp = \":1\"\n"), 0o644)
	c := Default()
	if err := c.Load(bad, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "unknown setting") {
		t.Errorf("misspelt setting: got %v", err)
	}
	for _, p := range []string{"NOPORT=host", "=h:1", "TOOLONGAETITLE123=h:1", "A=h:0", "A=h:x"} {
		if _, err := ParsePeer(p); err == nil {
			t.Errorf("ParsePeer(%q) accepted", p)
		}
	}
	for _, mod := range []func(*Config){
		func(c *Config) { c.AETitle = "" },
		func(c *Config) { c.HTTPAddr = "8080" },
		func(c *Config) { c.Duplicates = "keep" },
		func(c *Config) { c.LogFormat = "xml" },
		func(c *Config) { c.DICOMweb.Root = "dicom-web" },
		func(c *Config) { c.DICOMweb.Root = "/" },
		func(c *Config) { c.DICOMweb.MaxResults = 0 },
		func(c *Config) { c.HTTPSAddr = ":8443" },                                        // no certificate
		func(c *Config) { c.TLSCert = "cert.pem" },                                       // no key
		func(c *Config) { c.Notify.GovUKAPIKey = "key-x-y" },                             // no template
		func(c *Config) { c.Referral.PublicURL = "refer.example.nhs.uk" },                // no scheme
		func(c *Config) { c.Referral.PDS = PDS{BaseURL: "https://pds.example/FHIR/R4"} }, // half a PDS
		func(c *Config) { c.Referral.PDS = validPDS(); c.Referral.PDS.TokenURL = "pds.example/token" },
		func(c *Config) { c.Referral.PDS, c.Referral.DemographicsCSV = validPDS(), "pds.csv" }, // both
	} {
		c := Default()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("invalid config accepted: %+v", c)
		}
	}
	c = Default()
	c.APIToken = "secret"
	c.Notify.GovUKAPIKey, c.Notify.CallbackToken = "notify-secret", "callback-secret"
	c.Referral.PDS = validPDS()
	c.Referral.PDS.APIKey = "pds-secret"
	if r := fmt.Sprintf("%+v", c.Redacted()); strings.Contains(r, "secret") {
		t.Errorf("Redacted leaks a secret: %s", r)
	}
	// What the new settings accept.
	c = Default()
	c.HTTPSAddr, c.TLSSelfSigned = ":8443", true
	c.Notify.GovUKAPIKey, c.Notify.SMSTemplateID = "key-x-y", "template"
	c.DICOMweb.CORSOrigins = []string{"*"}
	c.Referral.PublicURL = "https://refer.example.nhs.uk"
	c.Referral.PDS = validPDS()
	if err := c.Validate(); err != nil {
		t.Errorf("valid settings refused: %v", err)
	}
}

func validPDS() PDS {
	return PDS{BaseURL: "https://int.api.service.nhs.uk/personal-demographics/FHIR/R4", TokenURL: "https://int.api.service.nhs.uk/oauth2/token",
		APIKey: "app-key", KeyID: "molar-1", PrivateKey: "/etc/molar/pds.pem"}
}

func TestDICOMwebAndNotifyFromFileAndEnv(t *testing.T) {
	file := filepath.Join(t.TempDir(), "molar.toml")
	os.WriteFile(file, []byte(`
[dicomweb]
root = "/wado"
cors_origins = ["https://ohif.example"]
max_results = 50
[notify]
sms_template_id = "tmpl"
`), 0o644)
	env := map[string]string{"MOLAR_NOTIFY_API_KEY": "from-env", "MOLAR_HTTPS": ":9443"}
	c := Default()
	if err := c.Load(file, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.DICOMweb.Root != "/wado" || c.DICOMweb.MaxResults != 50 || len(c.DICOMweb.CORSOrigins) != 1 ||
		c.Notify.SMSTemplateID != "tmpl" || c.Notify.GovUKAPIKey != "from-env" || c.HTTPSAddr != ":9443" {
		t.Errorf("loaded %+v %+v https=%q", c.DICOMweb, c.Redacted().Notify, c.HTTPSAddr)
	}
}
