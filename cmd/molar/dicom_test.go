package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/molar-pacs/molar/dimse"
	"github.com/molar-pacs/molar/internal/config"
)

// TestPolicyFromConfig: the [dimse] table and the peers reach the DIMSE
// acceptance policy, and --demo opens query/retrieve.
func TestPolicyFromConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "molar.toml")
	if err := os.WriteFile(file, []byte(`
ae_title = "DENTAL"
[dimse]
max_associations = 8
idle_timeout = "1m"
artim_timeout = "10s"
max_pdu = 65536
check_called_ae = false
check_peer_host = true
require_user = true
extra_storage_sop_classes = ["1.2.3.4.5"]
transfer_syntaxes = ["1.2.840.10008.1.2.1"]
[[dimse.users]]
username = "hospital"
password = "pw"
[[peers]]
ae_title = "PACS"
host = "10.0.0.5"
port = 104
tls = true
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	if err := cfg.Load(file, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p := policyFromConfig(&cfg)
	if p.AETitle != "DENTAL" || p.CheckCalledAE || !p.CheckPeerHost || !p.RequireUser || p.OpenQuery || p.MaxPDU != 65536 {
		t.Errorf("policy: %+v", p)
	}
	if peer, ok := p.Peer("PACS"); !ok || peer.Addr() != "10.0.0.5:104" || !peer.TLS {
		t.Errorf("peer PACS: %+v %v", peer, ok)
	}
	if p.Users["hospital"] != "pw" {
		t.Errorf("users: %v", p.Users)
	}
	if !slices.Contains(p.StorageSOPClasses, "1.2.3.4.5") || !slices.Contains(p.StorageSOPClasses, dimse.DefaultStorageSOPClasses[0]) {
		t.Errorf("storage SOP classes lack the extra or the defaults: %d classes", len(p.StorageSOPClasses))
	}
	if !slices.Equal(p.TransferSyntaxes, []string{"1.2.840.10008.1.2.1"}) {
		t.Errorf("transfer syntaxes: %v", p.TransferSyntaxes)
	}
	srv, err := newDICOMServer(&cfg, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if srv.MaxAssociations != 8 || srv.IdleTimeout.String() != "1m0s" || srv.ARTIMTimeout.String() != "10s" || srv.Worklist != nil {
		t.Errorf("server: %+v", srv)
	}

	cfg.Demo = true
	if p := policyFromConfig(&cfg); !p.OpenQuery {
		t.Error("--demo does not open query/retrieve")
	}
}
