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

	"github.com/BurntSushi/toml"
)

// Peer is a known DICOM node: an AE title and where to reach it.
type Peer struct {
	AETitle string `toml:"ae_title"`
	Host    string `toml:"host"`
	Port    int    `toml:"port"`
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
		"MOLAR_DATA":           &c.DataDir,
		"MOLAR_HTTP":           &c.HTTPAddr,
		"MOLAR_DICOM":          &c.DICOMAddr,
		"MOLAR_AET":            &c.AETitle,
		"MOLAR_API_TOKEN":      &c.APIToken,
		"MOLAR_DUPLICATES":     &c.Duplicates,
		"MOLAR_LOG_LEVEL":      &c.LogLevel,
		"MOLAR_LOG_FORMAT":     &c.LogFormat,
		"MOLAR_SHUTDOWN_GRACE": &c.ShutdownGrace,
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
	return c
}
