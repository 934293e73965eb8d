package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/molar-pacs/molar/dimse"
	"github.com/molar-pacs/molar/forward"
	"github.com/molar-pacs/molar/internal/audit"
	"github.com/molar-pacs/molar/internal/auth"
	"github.com/molar-pacs/molar/internal/config"
	"github.com/molar-pacs/molar/internal/demo"
	"github.com/molar-pacs/molar/internal/notify"
	"github.com/molar-pacs/molar/internal/telemetry"
	"github.com/molar-pacs/molar/store"
	"github.com/molar-pacs/molar/viewer"
	"github.com/molar-pacs/molar/viewer/app"
	"github.com/molar-pacs/molar/viewer/film"
)

func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (*store.Store, error) {
	policy, err := store.ParseDuplicatePolicy(cfg.Duplicates)
	if err != nil {
		return nil, err
	}
	s, err := store.Open(ctx, store.Options{Dir: cfg.DataDir, Duplicates: policy, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("%w (is another molar using %s?)", err, cfg.DataDir)
	}
	return s, nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, _, err := loadConfig("serve", args, stderr, nil)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	grace, err := time.ParseDuration(cfg.ShutdownGrace)
	if err != nil {
		return fmt.Errorf("shutdown grace %q: %w", cfg.ShutdownGrace, err)
	}
	log.Info("starting molar", "version", version, "config", fmt.Sprintf("%+v", cfg.Redacted()))

	archive, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := archive.Close(); err != nil {
			log.Error("closing archive", "err", err)
		} else {
			log.Info("archive closed cleanly")
		}
	}()
	auditLog, err := audit.Open(ctx, audit.Options{Dir: filepath.Join(cfg.DataDir, "audit"), Logger: log.With("component", "audit")})
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	defer func() {
		if err := auditLog.Close(); err != nil {
			log.Error("closing audit log", "err", err)
		}
	}()
	trail := auditTrail{log: auditLog}
	msgs, err := openMessaging(cfg, log)
	if err != nil {
		return fmt.Errorf("open notifications: %w", err)
	}
	defer func() {
		if err := msgs.Close(); err != nil {
			log.Error("closing notifications", "err", err)
		}
	}()
	go msgs.run(ctx, log)
	accounts, err := auth.New(ctx, auth.Config{
		Dir:            filepath.Join(cfg.DataDir, "auth"),
		Notifier:       trackedSender{msgs.tracker},
		Denials:        trail,
		Logger:         log.With("component", "auth"),
		BootstrapToken: cfg.APIToken,
		// DESIGN.md promises the bootstrap token full rights, clinical
		// ones included; accounts follow the e-RS matrix strictly.
		BootstrapFullAccess: true,
	})
	if err != nil {
		return fmt.Errorf("open accounts: %w", err)
	}
	defer func() {
		if err := accounts.Close(); err != nil {
			log.Error("closing accounts", "err", err)
		}
	}()
	var demoAccounts []auth.DemoAccount
	if cfg.Demo {
		if demoAccounts, err = accounts.SeedDemo(ctx); err != nil {
			return fmt.Errorf("seed demo accounts: %w", err)
		}
	}
	fq, err := forward.Open(ctx, forward.Config{Dir: filepath.Join(cfg.DataDir, "forward"), Source: archive,
		Dialer: &dimse.Dialer{CallingAE: cfg.AETitle}, Logger: log.With("component", "forward")})
	if err != nil {
		return fmt.Errorf("open forwarding queue: %w", err)
	}
	defer func() {
		if err := fq.Close(); err != nil {
			log.Error("closing forwarding queue", "err", err)
		}
	}()
	go fq.Run(ctx)
	var region demo.Summary
	if cfg.Demo {
		if region, err = seedDemoRegion(ctx, cfg, accounts, referralDeps{archive: archive, texts: trackedSender{msgs.tracker}, forward: fq}, log); err != nil {
			return err
		}
	}
	refs, err := openReferrals(ctx, cfg, referralDeps{archive: archive, audit: auditLog, texts: trackedSender{msgs.tracker}, forward: fq}, log)
	if err != nil {
		return fmt.Errorf("open referrals: %w", err)
	}
	defer func() {
		if err := refs.Close(); err != nil {
			log.Error("closing referrals", "err", err)
		}
	}()
	refs.Start(ctx)
	guard := webGuard{accounts: accounts, demo: cfg.Demo}
	web, err := newDICOMweb(cfg, archive, guard, trail, log)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(web.Root()+"/", web)
	accounts.Mount(mux)
	mux.Handle("/admin/audit", accounts.Require(auth.ActionAuditRead)(audit.NewHandler(auditLog)))
	mux.Handle("GET /admin/outbox", guard.require(auth.ActionOutboxRead, notify.AdminHandler(msgs.outbox, msgs.tracker, log)))
	mux.Handle("POST /notify/callback", msgs.tracker.CallbackHandler())
	mux.Handle("/api/", refs.Handler(accounts))
	mux.Handle("/admin/forward/", accounts.Require(auth.ActionForwardAdmin)(http.StripPrefix("/admin/forward", fq.Handler())))
	mux.Handle("GET /healthz", telemetry.HealthHandler(archive, log))
	mux.Handle("GET /metrics", telemetry.MetricsHandler(telemetry.NewRegistry(archive)))
	mux.Handle("/archive/", viewer.New(archive, guard, trail, log))
	pages, err := app.New(accounts, log.With("component", "app"))
	if err != nil {
		return err
	}
	mux.Handle("/app/", pages)
	mux.Handle("/track", pages)
	mux.Handle("/track/", pages)
	mux.Handle("/assets/film/", http.StripPrefix("/assets/film", film.Handler()))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/app/", http.StatusFound)
	})
	srv := &http.Server{
		Handler:           secureHeaders(mux),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen http %s: %w", cfg.HTTPAddr, err)
	}
	dicomSrv, err := newDICOMServer(cfg, archive, log)
	if err != nil {
		ln.Close()
		return err
	}
	dicomSrv.Auditor = trail
	dicomSrv.Worklist = referralWorklist{refs}
	dln, err := net.Listen("tcp", cfg.DICOMAddr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listen dicom %s: %w", cfg.DICOMAddr, err)
	}
	dicomListeners := []net.Listener{dln}
	tlsLine := ""
	if cfg.DICOMTLSAddr != "" {
		tc, err := serverTLS(cfg)
		if err != nil {
			ln.Close()
			dln.Close()
			return err
		}
		tln, err := net.Listen("tcp", cfg.DICOMTLSAddr)
		if err != nil {
			ln.Close()
			dln.Close()
			return fmt.Errorf("listen dicom tls %s: %w", cfg.DICOMTLSAddr, err)
		}
		dicomListeners = append(dicomListeners, tls.NewListener(tln, tc))
		tlsLine = fmt.Sprintf("  DICOM/TLS: on %s\n", tln.Addr())
	}
	var httpsLn net.Listener
	if cfg.HTTPSAddr != "" {
		tc, err := serverTLS(cfg)
		if err != nil {
			ln.Close()
			dln.Close()
			return err
		}
		// Say h2 in the configuration itself: the plain listener's Serve
		// and ServeTLS share the server's one-time HTTP/2 set-up, and
		// whichever runs it first must see that HTTPS wants HTTP/2 (else
		// the set-up is skipped, or races with ServeTLS copying the
		// configuration, and a client's h2 preface meets HTTP/1).
		tc.NextProtos = []string{"h2", "http/1.1"}
		srv.TLSConfig = tc
		if httpsLn, err = net.Listen("tcp", cfg.HTTPSAddr); err != nil {
			ln.Close()
			dln.Close()
			return fmt.Errorf("listen https %s: %w", cfg.HTTPSAddr, err)
		}
		tlsLine += fmt.Sprintf("  HTTPS:    https://%s/app/ (HTTP/2)\n", browserAddr(httpsLn.Addr()))
	}
	fmt.Fprintf(stdout, "Molar %s is serving.\n  Browser:  http://%s/app/ (archive browser: /archive/)\n  DICOMweb: http://%s%s\n  Archive:  %s\n  DICOM:    AE title %s on %s\n%s",
		version, browserAddr(ln.Addr()), browserAddr(ln.Addr()), web.Root(), cfg.DataDir, cfg.AETitle, browserAddr(dln.Addr()), tlsLine)
	if cfg.Demo {
		fmt.Fprintf(stdout, "  Try:      echoscu -aec %[1]s localhost %[2]d\n            findscu -S -aec %[1]s -k QueryRetrieveLevel=STUDY -k AccessionNumber=%[3]s -k PatientName localhost %[2]d\n",
			cfg.AETitle, dln.Addr().(*net.TCPAddr).Port, demo.URN(0))
		printRegion(stdout, region)
		fmt.Fprintf(stdout, "  Sign in:  http://%s/login as any of these, password %s; the code arrives at http://%s/admin/outbox\n",
			browserAddr(ln.Addr()), auth.DemoPassword, browserAddr(ln.Addr()))
		for _, a := range demoAccounts {
			roles := make([]string, len(a.Roles))
			for i, r := range a.Roles {
				roles[i] = string(r)
			}
			fmt.Fprintf(stdout, "            %-40s %s\n", a.Email, strings.Join(roles, ", "))
		}
	}

	dctx, stopDICOM := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDICOM()
	dicomErr := make(chan error, len(dicomListeners))
	for _, l := range dicomListeners {
		go func() { dicomErr <- dicomSrv.Serve(dctx, l) }()
	}

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if httpsLn != nil {
		// ServeTLS offers h2 by ALPN: HTTP/2 for every browser and client.
		go func() { errc <- srv.ServeTLS(httpsLn, "", "") }()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case err := <-dicomErr:
		if err != nil {
			return fmt.Errorf("dicom server: %w", err)
		}
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	for _, l := range dicomListeners {
		l.Close()
	}
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", "err", err)
	}
	if err := dicomSrv.Shutdown(sctx); err != nil {
		log.Warn("dicom shutdown: associations aborted", "err", err)
	}
	stopDICOM()
	return nil
}

// browserAddr turns a wildcard listen address into one a browser can open.
func browserAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		if ok {
			return fmt.Sprintf("localhost:%d", tcp.Port)
		}
	}
	return a.String()
}
