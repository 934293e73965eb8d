package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/molar-pacs/molar/dimse"
	"github.com/molar-pacs/molar/internal/config"
)

// policyFromConfig turns the configuration into the DIMSE acceptance policy.
func policyFromConfig(cfg *config.Config) dimse.Policy {
	p := dimse.DefaultPolicy(cfg.AETitle)
	d := cfg.DIMSE
	p.CheckCalledAE = d.CheckCalledAE
	p.OpenQuery = d.OpenQuery || cfg.Demo
	p.CheckPeerHost = d.CheckPeerHost
	p.RequireUser = d.RequireUser
	p.MaxPDU = uint32(d.MaxPDU)
	for _, peer := range cfg.Peers {
		p.Peers = append(p.Peers, dimse.Peer{AETitle: peer.AETitle, Host: peer.Host, Port: peer.Port, TLS: peer.TLS})
	}
	if len(d.StorageSOPClasses) > 0 {
		p.StorageSOPClasses = d.StorageSOPClasses
	}
	p.StorageSOPClasses = append(p.StorageSOPClasses[:len(p.StorageSOPClasses):len(p.StorageSOPClasses)], d.ExtraStorageSOPClasses...)
	if len(d.TransferSyntaxes) > 0 {
		p.TransferSyntaxes = d.TransferSyntaxes
	}
	if len(d.Users) > 0 {
		p.Users = map[string]string{}
		for _, u := range d.Users {
			p.Users[u.Username] = u.Password
		}
	}
	return p
}

// newDICOMServer builds the DIMSE server from the configuration.
func newDICOMServer(cfg *config.Config, archive dimse.Archive, log *slog.Logger) (*dimse.Server, error) {
	idle, err := time.ParseDuration(cfg.DIMSE.IdleTimeout)
	if err != nil {
		return nil, fmt.Errorf("dimse idle_timeout: %w", err)
	}
	artim, err := time.ParseDuration(cfg.DIMSE.ARTIMTimeout)
	if err != nil {
		return nil, fmt.Errorf("dimse artim_timeout: %w", err)
	}
	srv := &dimse.Server{
		Policy:          policyFromConfig(cfg),
		Archive:         archive,
		Log:             log.With("component", "dimse"),
		MaxAssociations: cfg.DIMSE.MaxAssociations,
		IdleTimeout:     idle,
		ARTIMTimeout:    artim,
		ClientTLS:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	return srv, nil
}

// serverTLS loads the certificate for the TLS listeners. Client
// certificates are verified against TLSClientCA when a client offers one.
func serverTLS(cfg *config.Config) (*tls.Config, error) {
	certFile, keyFile, err := tlsFiles(cfg)
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.TLSClientCA != "" {
		pem, err := os.ReadFile(cfg.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("read TLS client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("TLS client CA: no certificate in " + cfg.TLSClientCA)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return tc, nil
}
