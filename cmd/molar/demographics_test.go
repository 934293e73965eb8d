package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/molar-pacs/molar/internal/config"
)

// The configuration picks the NHS number trace: PDS with signed-JWT
// access, a local table, or none; a PDS key that cannot be read stops the
// server at start rather than failing every trace later.
func TestDemographicsFromConfig(t *testing.T) {
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "pds.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	table := filepath.Join(dir, "people.csv")
	os.WriteFile(table, []byte("nhs_number,family,given,birth_date,gender,postcode\n9434765919,Smith,Olivia,1984-03-12,female,LS1 5AB\n"), 0o600)
	pds := config.PDS{BaseURL: "https://int.api.service.nhs.uk/personal-demographics/FHIR/R4", TokenURL: "https://int.api.service.nhs.uk/oauth2/token",
		APIKey: "app-key", KeyID: "molar-1", PrivateKey: keyFile}
	log := slog.New(slog.DiscardHandler)

	for _, tc := range []struct {
		name    string
		set     func(c *config.Config)
		want    string // the type chosen
		wantErr string
	}{
		{"none", func(*config.Config) {}, "<nil>", ""},
		{"table", func(c *config.Config) { c.Referral.DemographicsCSV = table }, "*demographics.Table", ""},
		{"pds", func(c *config.Config) { c.Referral.PDS = pds }, "*demographics.PDSClient", ""},
		{"pds without its key", func(c *config.Config) {
			c.Referral.PDS = pds
			c.Referral.PDS.PrivateKey = filepath.Join(dir, "missing.pem")
		}, "", "pds"},
		{"pds with plain http", func(c *config.Config) { c.Referral.PDS = pds; c.Referral.PDS.TokenURL = "http://pds.example/token" }, "", "pds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Default()
			tc.set(&c)
			got, err := demographicsFrom(&c, log)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one about %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if typ := typeName(got); typ != tc.want {
				t.Errorf("chose %s, want %s", typ, tc.want)
			}
		})
	}
}

func typeName(v any) string {
	if v == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%T", v)
}
