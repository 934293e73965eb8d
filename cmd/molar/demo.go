package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/molar-pacs/molar/dimse"
	"github.com/molar-pacs/molar/forward"
	"github.com/molar-pacs/molar/internal/auth"
	"github.com/molar-pacs/molar/internal/config"
	"github.com/molar-pacs/molar/internal/demo"
)

// seedDemoRegion seeds the demo region (when it is not there yet) through
// a referral service of its own, whose clock the seeder sets back so the
// referrals have waited as real ones would, then closes that service.
// Its reads are not audited: nobody looked at anything. The demo
// accounts must be seeded first.
func seedDemoRegion(ctx context.Context, cfg *config.Config, accounts *auth.Service, d referralDeps, log *slog.Logger) (demo.Summary, error) {
	clock := &demo.Clock{}
	d.audit, d.now = nil, clock.Now
	refs, err := openReferrals(ctx, cfg, d, log)
	if err != nil {
		return demo.Summary{}, fmt.Errorf("seed demo region: %w", err)
	}
	sum, err := demo.SeedRegion(ctx, demo.Region{Accounts: accounts, Referrals: refs, Archive: d.archive, Clock: clock})
	err = errors.Join(err, refs.Close())
	if err != nil {
		return sum, fmt.Errorf("seed demo region: %w", err)
	}
	if sum.Seeded {
		log.Info("demo region seeded", "referrals", len(sum.Referrals), "films", sum.Instances)
	}
	return sum, nil
}

// printRegion lists the demo referrals for the banner.
func printRegion(w io.Writer, sum demo.Summary) {
	fmt.Fprintln(w, "  Referrals: URN, patient, date of birth (the tracker asks for both), status")
	for _, r := range sum.Referrals {
		u := r.URN
		if u == "" {
			u = "(draft)"
		}
		fmt.Fprintf(w, "            %-12s %-18s %s  %s\n", u, r.Patient, r.BirthDate, r.Status.Label())
	}
}

// runDemo seeds the demo region into the data directory without serving.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, _, err := loadConfig("demo", args, stderr, nil)
	if err != nil {
		return err
	}
	cfg.Demo = true
	log := newLogger(cfg, stderr)
	archive, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer archive.Close()
	msgs, err := openMessaging(cfg, log)
	if err != nil {
		return fmt.Errorf("open notifications: %w", err)
	}
	defer msgs.Close()
	accounts, err := auth.New(ctx, auth.Config{Dir: filepath.Join(cfg.DataDir, "auth"), Notifier: trackedSender{msgs.tracker},
		Logger: log.With("component", "auth")})
	if err != nil {
		return fmt.Errorf("open accounts: %w", err)
	}
	defer accounts.Close()
	if _, err := accounts.SeedDemo(ctx); err != nil {
		return fmt.Errorf("seed demo accounts: %w", err)
	}
	fq, err := forward.Open(ctx, forward.Config{Dir: filepath.Join(cfg.DataDir, "forward"), Source: archive,
		Dialer: &dimse.Dialer{CallingAE: cfg.AETitle}, Logger: log.With("component", "forward")})
	if err != nil {
		return fmt.Errorf("open forwarding queue: %w", err)
	}
	defer fq.Close()
	sum, err := seedDemoRegion(ctx, cfg, accounts, referralDeps{archive: archive, texts: trackedSender{msgs.tracker}, forward: fq}, log)
	if err != nil {
		return err
	}
	if sum.Seeded {
		fmt.Fprintf(stdout, "Demo region seeded in %s: %d referrals, %d films.\n", cfg.DataDir, len(sum.Referrals), sum.Instances)
	} else {
		fmt.Fprintf(stdout, "Demo region already in %s: nothing to do.\n", cfg.DataDir)
	}
	printRegion(stdout, sum)
	return nil
}
