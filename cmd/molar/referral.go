package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/molar-pacs/molar/dimse"
	"github.com/molar-pacs/molar/forward"
	"github.com/molar-pacs/molar/internal/config"
	"github.com/molar-pacs/molar/internal/demo"
	"github.com/molar-pacs/molar/internal/demographics"
	"github.com/molar-pacs/molar/referral"
	"github.com/molar-pacs/molar/store"
)

// referralDeps are what the referral service works with.
type referralDeps struct {
	archive *store.Store
	audit   referral.Recorder // nil: reads are not audited (demo seeding only)
	texts   referral.Notifier
	forward *forward.Queue
	now     func() time.Time // nil: the real time
}

// openReferrals opens the referral service on the archive, the audit log
// and the patient texts.
func openReferrals(ctx context.Context, cfg *config.Config, d referralDeps, log *slog.Logger) (*referral.Service, error) {
	opts := referral.Options{
		Forwarder: forwarder{d.forward},
		Dir:       filepath.Join(cfg.DataDir, "referral"),
		Archive:   d.archive,
		Ingester:  d.archive,
		Audit:     d.audit,
		Notifier:  d.texts,
		PublicURL: publicURL(cfg),
		Logger:    log.With("component", "referral"),
		Now:       d.now,
	}
	if cfg.Demo {
		// Only a new index takes the key: a demo region's URNs are the
		// same everywhere, so the README can name them.
		opts.URNKey = demo.URNKey
	}
	dem, err := demographicsFrom(cfg, log)
	if err != nil {
		return nil, err
	}
	opts.Demographics = dem
	return referral.Open(ctx, opts)
}

// demographicsFrom is the NHS number trace the configuration asks for:
// PDS, a local table, or none.
func demographicsFrom(cfg *config.Config, log *slog.Logger) (referral.Demographics, error) {
	if p := cfg.Referral.PDS; p.BaseURL != "" {
		key, err := demographics.LoadRSAPrivateKey(p.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("pds: %w", err)
		}
		tokens, err := demographics.NewSignedJWTTokenSource(demographics.SignedJWTConfig{TokenURL: p.TokenURL, APIKey: p.APIKey,
			KeyID: p.KeyID, PrivateKey: key, Logger: log.With("component", "pds-auth")})
		if err != nil {
			return nil, fmt.Errorf("pds: %w", err)
		}
		client, err := demographics.NewPDSClient(demographics.PDSConfig{BaseURL: p.BaseURL, Token: tokens.Token, Logger: log.With("component", "pds")})
		if err != nil {
			return nil, fmt.Errorf("pds: %w", err)
		}
		return client, nil
	}
	if cfg.Referral.DemographicsCSV != "" {
		table, err := demographics.LoadTable(cfg.Referral.DemographicsCSV)
		if err != nil {
			return nil, fmt.Errorf("demographics table: %w", err)
		}
		return table, nil
	}
	if cfg.Demo {
		// The demo's own register, so the trace can be tried.
		table, err := demographics.NewTable(demo.People())
		if err != nil {
			return nil, fmt.Errorf("demo demographics: %w", err)
		}
		return table, nil
	}
	return nil, nil
}

// forwarder queues a referral's films for its provider's DICOM node.
type forwarder struct{ q *forward.Queue }

func (f forwarder) Forward(ctx context.Context, reference string, studies []string, node referral.DICOMNode) error {
	_, err := f.q.Enqueue(ctx, forward.Job{Studies: studies, Reference: reference, Reason: "referral accepted by the provider",
		Node: forward.Node{AETitle: node.AETitle, Host: node.Host, Port: node.Port}})
	return err
}

// publicURL is where patients reach the tracker.
func publicURL(cfg *config.Config) string {
	if cfg.Referral.PublicURL != "" {
		return strings.TrimRight(cfg.Referral.PublicURL, "/")
	}
	_, port, err := net.SplitHostPort(cfg.HTTPAddr)
	if err != nil || port == "" || port == "0" {
		return "http://localhost:8080"
	}
	return "http://localhost:" + port
}

// referralWorklist offers referrals awaiting films to practices' imaging
// software by Modality Worklist: the URN as AccessionNumber, so the films
// file themselves.
type referralWorklist struct{ refs *referral.Service }

func (w referralWorklist) ScheduledItems(ctx context.Context) ([]dimse.WorklistItem, error) {
	reqs, err := w.refs.AwaitingImages(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]dimse.WorklistItem, 0, len(reqs))
	for _, r := range reqs {
		p := r.Patient
		date := strings.ReplaceAll(r.ExpectedDate, "-", "")
		out = append(out, dimse.WorklistItem{
			PatientName: p.DICOMName(), PatientID: p.NHSNumber, IssuerOfPatientID: "NHS",
			PatientBirthDate: strings.ReplaceAll(p.BirthDate, "-", ""), PatientSex: p.DICOMSex(),
			AccessionNumber:               r.URN,
			StudyInstanceUID:              referral.StudyUID(r.URN),
			ReferringPhysicianName:        strings.ToUpper(r.Referrer),
			RequestedProcedureID:          r.URN,
			RequestedProcedureDescription: r.Procedure,
			Modality:                      r.Modality,
			ScheduledStartDate:            date,
			ScheduledStepID:               r.URN,
			ScheduledStepDescription:      "Radiographs for referral " + r.URN,
		})
	}
	return out, nil
}
