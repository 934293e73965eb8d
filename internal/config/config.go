// Package config holds Molar's configuration: embedded defaults, one TOML
// file, MOLAR_* environment variables and command-line flags, applied in
// that order. It knows nothing of the packages it configures.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Peer is a known DICOM node: an AE title and where to reach it.
type Peer struct {
	AETitle string `toml:"ae_title"`
	Host    string `toml:"host"`
	Port    int    `toml:"port"`
	// TLS: connect to this peer with TLS (C-MOVE sub-operations).
	TLS bool `toml:"tls"`
}

func (p Peer) String() string {
	return fmt.Sprintf("%s=%s", p.AETitle, net.JoinHostPort(p.Host, strconv.Itoa(p.Port)))
}

// ParsePeer reads "AET=HOST:PORT".
func ParsePeer(s string) (Peer, error) {
	aet, addr, ok := strings.Cut(s, "=")
	if !ok || aet == "" {
		return Peer{}, fmt.Errorf("peer %q: want AET=HOST:PORT", s)
	}
	if len(aet) > 16 {
		return Peer{}, fmt.Errorf("peer %q: AE title longer than 16 characters", s)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return Peer{}, fmt.Errorf("peer %q: %v", s, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return Peer{}, fmt.Errorf("peer %q: bad port %q", s, port)
	}
	return Peer{AETitle: aet, Host: host, Port: n}, nil
}

// Config is everything `molar serve` reads.
type Config struct {
	DataDir    string `toml:"data"`
	HTTPAddr   string `toml:"http"`
	DICOMAddr  string `toml:"dicom"`
	AETitle    string `toml:"ae_title"`
	Peers      []Peer `toml:"peers"`
	APIToken   string `toml:"api_token"`
	Demo       bool   `toml:"demo"`
	Duplicates string `toml:"duplicates"` // "reject" or "replace"
	LogLevel   string `toml:"log_level"`  // debug, info, warn, error
	LogFormat  string `toml:"log_format"` // text or json
	// ShutdownGrace bounds how long in-flight work may take after SIGTERM.
	ShutdownGrace string `toml:"shutdown_grace"`

	// DICOMTLSAddr, when set, is a second DICOM listener speaking TLS,
	// with TLSCert and TLSKey. TLSClientCA, when set, verifies client
	// certificates that are offered (they stay optional).
	DICOMTLSAddr string `toml:"dicom_tls"`
	TLSCert      string `toml:"tls_cert"`
	TLSKey       string `toml:"tls_key"`
	TLSClientCA  string `toml:"tls_client_ca"`
	// HTTPSAddr, when set, serves the web UI and DICOMweb over TLS
	// (HTTP/2 included) with TLSCert and TLSKey.
	HTTPSAddr string `toml:"https"`
	// TLSSelfSigned makes and keeps a self-signed certificate for
	// localhost in the data directory when no TLSCert is given: for local
	// runs, never for a real deployment.
	TLSSelfSigned bool `toml:"tls_self_signed"`

	DIMSE    DIMSE    `toml:"dimse"`
	DICOMweb DICOMweb `toml:"dicomweb"`
	Notify   Notify   `toml:"notify"`
	Referral Referral `toml:"referral"`
}

// Notify configures texts and calls. Without an API key every message
// goes to the outbox (DataDir/notify/outbox.jsonl, shown at /admin/outbox),
// so a local run works end to end.
type Notify struct {
	// GovUKAPIKey is a GOV.UK Notify API key; SMS then go through Notify
	// and voice calls stay in the outbox.
	GovUKAPIKey string `toml:"govuk_api_key"`
	// SMSTemplateID is a Notify text template whose content is "((body))".
	SMSTemplateID string `toml:"sms_template_id"`
	// CallbackToken is the bearer token Notify sends with delivery
	// receipts to /notify/callback.
	CallbackToken string `toml:"callback_token"`
	// BaseURL overrides Notify's API address (tests, proxies).
	BaseURL string `toml:"base_url"`
}

// Referral configures the referral service.
type Referral struct {
	// PublicURL is the address patients and practices reach the server
	// at, for the tracking link texted to patients and the prepared-form
	// links; empty: http://localhost and the HTTP port.
	PublicURL string `toml:"public_url"`
	// DemographicsCSV is a local demographics table for NHS number
	// traces (see internal/demographics for its columns); empty: tracing
	// is off unless PDS is configured.
	DemographicsCSV string `toml:"demographics_csv"`
	// PDS, when its base URL is set, traces NHS numbers against the
	// Personal Demographics Service instead of the table.
	PDS PDS `toml:"pds"`
}

// PDS configures the Personal Demographics Service FHIR R4 API with
// application-restricted access: NHS England's signed-JWT client
// credentials flow.
type PDS struct {
	// BaseURL is the FHIR root, e.g.
	// https://int.api.service.nhs.uk/personal-demographics/FHIR/R4.
	BaseURL string `toml:"base_url"`
	// TokenURL is the OAuth 2.0 token endpoint, e.g.
	// https://int.api.service.nhs.uk/oauth2/token.
	TokenURL string `toml:"token_url"`
	// APIKey is the application's API key (the JWT's issuer and subject).
	APIKey string `toml:"api_key"`
	// KeyID names the public key registered for the application (kid).
	KeyID string `toml:"key_id"`
	// PrivateKey is the PEM file of the RSA key the JWT is signed with.
	PrivateKey string `toml:"private_key"`
}

// DICOMweb configures the PS3.18 services.
type DICOMweb struct {
	// Root is the path they live under.
	Root string `toml:"root"`
	// BaseURL is their public URL when the server sits behind a proxy;
	// empty: built from each request's Host.
	BaseURL string `toml:"base_url"`
	// CORSOrigins may call from a browser ("*" for any), e.g. an OHIF
	// served from another origin.
	CORSOrigins []string `toml:"cors_origins"`
	// MaxResults caps a search that sets no lower limit.
	MaxResults int `toml:"max_results"`
}

// DIMSE is the DICOM network acceptance policy and limits.
type DIMSE struct {
	MaxAssociations int    `toml:"max_associations"`
	IdleTimeout     string `toml:"idle_timeout"`
	ARTIMTimeout    string `toml:"artim_timeout"`
	MaxPDU          int    `toml:"max_pdu"`
	CheckCalledAE   bool   `toml:"check_called_ae"`
	// OpenQuery lets unknown calling AE titles query, retrieve and read
	// the worklist (always on with --demo).
	OpenQuery     bool `toml:"open_query"`
	CheckPeerHost bool `toml:"check_peer_host"`
	// StorageSOPClasses and TransferSyntaxes replace the defaults when set;
	// ExtraStorageSOPClasses adds to them.
	StorageSOPClasses      []string    `toml:"storage_sop_classes"`
	ExtraStorageSOPClasses []string    `toml:"extra_storage_sop_classes"`
	TransferSyntaxes       []string    `toml:"transfer_syntaxes"`
	Users                  []DICOMUser `toml:"users"`
	// RequireUser rejects associations without user identity negotiation.
	RequireUser bool `toml:"require_user"`
}

// DICOMUser is a username and password accepted in user identity
// negotiation (PS3.7 D.3.3.7).
type DICOMUser struct {
	Username string `toml:"username"`
	Password string `toml:"password"`
}

// Default returns the embedded defaults DESIGN.md promises.
func Default() Config {
	return Config{
		DataDir:       "./molar-data",
		HTTPAddr:      ":8080",
		DICOMAddr:     ":11112",
		AETitle:       "MOLAR",
		Duplicates:    "reject",
		LogLevel:      "info",
		LogFormat:     "text",
		ShutdownGrace: "30s",
		DIMSE: DIMSE{
			MaxAssociations: 64,
			IdleTimeout:     "5m",
			ARTIMTimeout:    "30s",
			MaxPDU:          1 << 20,
			CheckCalledAE:   true,
		},
		DICOMweb: DICOMweb{Root: "/dicom-web", MaxResults: 1000},
	}
}

// Load applies the file at path (if not empty) and the environment to c.
func (c *Config) Load(path string, getenv func(string) string) error {
	if path != "" {
		md, err := toml.DecodeFile(path, c)
		if err != nil {
			return fmt.Errorf("read configuration %s: %w", path, err)
		}
		if undec := md.Undecoded(); len(undec) > 0 {
			return fmt.Errorf("read configuration %s: unknown setting %q", path, undec[0].String())
		}
	}
	env := map[string]*string{
		"MOLAR_DATA":                  &c.DataDir,
		"MOLAR_HTTP":                  &c.HTTPAddr,
		"MOLAR_DICOM":                 &c.DICOMAddr,
		"MOLAR_AET":                   &c.AETitle,
		"MOLAR_API_TOKEN":             &c.APIToken,
		"MOLAR_DUPLICATES":            &c.Duplicates,
		"MOLAR_LOG_LEVEL":             &c.LogLevel,
		"MOLAR_LOG_FORMAT":            &c.LogFormat,
		"MOLAR_SHUTDOWN_GRACE":        &c.ShutdownGrace,
		"MOLAR_DICOM_TLS":             &c.DICOMTLSAddr,
		"MOLAR_TLS_CERT":              &c.TLSCert,
		"MOLAR_TLS_KEY":               &c.TLSKey,
		"MOLAR_TLS_CLIENT_CA":         &c.TLSClientCA,
		"MOLAR_DICOMWEB_ROOT":         &c.DICOMweb.Root,
		"MOLAR_HTTPS":                 &c.HTTPSAddr,
		"MOLAR_NOTIFY_API_KEY":        &c.Notify.GovUKAPIKey,
		"MOLAR_PUBLIC_URL":            &c.Referral.PublicURL,
		"MOLAR_PDS_API_KEY":           &c.Referral.PDS.APIKey,
		"MOLAR_NOTIFY_SMS_TEMPLATE":   &c.Notify.SMSTemplateID,
		"MOLAR_NOTIFY_CALLBACK_TOKEN": &c.Notify.CallbackToken,
	}
	for name, dst := range env {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	if v := getenv("MOLAR_DEMO"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("MOLAR_DEMO=%q: want true or false", v)
		}
		c.Demo = b
	}
	if v := getenv("MOLAR_PEERS"); v != "" {
		for _, p := range strings.Fields(strings.ReplaceAll(v, ",", " ")) {
			peer, err := ParsePeer(p)
			if err != nil {
				return fmt.Errorf("MOLAR_PEERS: %w", err)
			}
			c.Peers = append(c.Peers, peer)
		}
	}
	return nil
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("data directory is empty")
	}
	if len(c.AETitle) == 0 || len(c.AETitle) > 16 {
		return fmt.Errorf("AE title %q: must be 1 to 16 characters", c.AETitle)
	}
	for _, a := range []struct{ name, addr string }{{"http", c.HTTPAddr}, {"dicom", c.DICOMAddr}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return fmt.Errorf("%s address %q: %v", a.name, a.addr, err)
		}
	}
	for _, a := range []struct{ name, addr string }{{"dicom_tls", c.DICOMTLSAddr}, {"https", c.HTTPSAddr}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return fmt.Errorf("%s address %q: %v", a.name, a.addr, err)
		}
		if (c.TLSCert == "" || c.TLSKey == "") && !c.TLSSelfSigned {
			return fmt.Errorf("%s needs tls_cert and tls_key (or tls_self_signed for a local run)", a.name)
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("tls_cert and tls_key go together")
	}
	for _, d := range []struct{ name, v string }{{"idle_timeout", c.DIMSE.IdleTimeout}, {"artim_timeout", c.DIMSE.ARTIMTimeout}} {
		if dur, err := time.ParseDuration(d.v); err != nil || dur <= 0 {
			return fmt.Errorf("dimse %s %q: want a positive duration such as 30s", d.name, d.v)
		}
	}
	if c.DIMSE.MaxAssociations < 1 {
		return fmt.Errorf("dimse max_associations %d: want at least 1", c.DIMSE.MaxAssociations)
	}
	if c.DIMSE.MaxPDU != 0 && (c.DIMSE.MaxPDU < 4096 || c.DIMSE.MaxPDU > 1<<30) {
		return fmt.Errorf("dimse max_pdu %d: want 0 (no limit) or 4096 to 1 GiB", c.DIMSE.MaxPDU)
	}
	for _, u := range c.DIMSE.Users {
		if u.Username == "" || u.Password == "" {
			return errors.New("dimse users: every user needs a username and a password")
		}
	}
	if !strings.HasPrefix(c.DICOMweb.Root, "/") || strings.TrimRight(c.DICOMweb.Root, "/") == "" {
		return fmt.Errorf("dicomweb root %q: want a path such as /dicom-web", c.DICOMweb.Root)
	}
	if u := c.Referral.PublicURL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return fmt.Errorf("referral public_url %q: want an http(s) URL such as https://refer.example.nhs.uk", u)
	}
	if p := c.Referral.PDS; p.BaseURL != "" || p.TokenURL != "" || p.APIKey != "" || p.KeyID != "" || p.PrivateKey != "" {
		if p.BaseURL == "" || p.TokenURL == "" || p.APIKey == "" || p.KeyID == "" || p.PrivateKey == "" {
			return errors.New("referral pds: base_url, token_url, api_key, key_id and private_key go together")
		}
		for _, u := range []string{p.BaseURL, p.TokenURL} {
			if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
				return fmt.Errorf("referral pds URL %q: want an https URL", u)
			}
		}
		if c.Referral.DemographicsCSV != "" {
			return errors.New("referral: demographics_csv and pds are alternatives; set one")
		}
	}
	if c.DICOMweb.MaxResults < 1 {
		return fmt.Errorf("dicomweb max_results %d: want at least 1", c.DICOMweb.MaxResults)
	}
	if c.Notify.GovUKAPIKey != "" && c.Notify.SMSTemplateID == "" {
		return errors.New("notify govuk_api_key needs sms_template_id (a Notify text template whose content is ((body)))")
	}
	switch c.Duplicates {
	case "reject", "replace":
	default:
		return fmt.Errorf("duplicates %q: want reject or replace", c.Duplicates)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("log format %q: want text or json", c.LogFormat)
	}
	return nil
}

// peerList is a repeatable --peer flag.
type peerList struct{ peers *[]Peer }

func (p peerList) String() string {
	if p.peers == nil {
		return ""
	}
	var s []string
	for _, x := range *p.peers {
		s = append(s, x.String())
	}
	return strings.Join(s, ",")
}

func (p peerList) Set(v string) error {
	peer, err := ParsePeer(v)
	if err != nil {
		return err
	}
	*p.peers = append(*p.peers, peer)
	return nil
}

// Flags registers the flags DESIGN.md promises on fs. Call Load first, so
// the flags' defaults show the file and environment, then fs.Parse.
func (c *Config) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data directory (index and blobs)")
	fs.StringVar(&c.HTTPAddr, "http", c.HTTPAddr, "HTTP listen address")
	fs.StringVar(&c.DICOMAddr, "dicom", c.DICOMAddr, "DICOM listen address")
	fs.StringVar(&c.AETitle, "aet", c.AETitle, "this server's AE title")
	fs.Var(peerList{&c.Peers}, "peer", "known DICOM node AET=HOST:PORT (repeatable; also a C-MOVE destination)")
	fs.StringVar(&c.DICOMTLSAddr, "dicom-tls", c.DICOMTLSAddr, "DICOM over TLS listen address (needs --tls-cert and --tls-key)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "TLS certificate file (PEM)")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "TLS private key file (PEM)")
	fs.StringVar(&c.HTTPSAddr, "https", c.HTTPSAddr, "HTTPS listen address (HTTP/2; needs --tls-cert and --tls-key, or --self-signed)")
	fs.BoolVar(&c.TLSSelfSigned, "self-signed", c.TLSSelfSigned, "make a self-signed localhost certificate in the data directory when none is given (local runs only)")
	fs.StringVar(&c.APIToken, "api-token", c.APIToken, "bootstrap bearer token with full rights")
	fs.BoolVar(&c.Demo, "demo", c.Demo, "seed demo data and allow anonymous access")
	fs.StringVar(&c.Duplicates, "duplicates", c.Duplicates, "same SOP Instance UID with different bytes: reject or replace")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn, error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: text or json")
}

// Redacted returns a copy safe to log: secrets are masked.
func (c Config) Redacted() Config {
	if c.APIToken != "" {
		c.APIToken = "********"
	}
	if c.Notify.GovUKAPIKey != "" {
		c.Notify.GovUKAPIKey = "********"
	}
	if c.Notify.CallbackToken != "" {
		c.Notify.CallbackToken = "********"
	}
	if c.Referral.PDS.APIKey != "" {
		c.Referral.PDS.APIKey = "********"
	}
	if len(c.DIMSE.Users) > 0 {
		users := make([]DICOMUser, len(c.DIMSE.Users))
		for i, u := range c.DIMSE.Users {
			users[i] = DICOMUser{Username: u.Username, Password: "********"}
		}
		c.DIMSE.Users = users
	}
	return c
}
