package auth

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/molar-pacs/molar/internal/notify"
)

// CookieSecurity says when cookies get the Secure attribute.
type CookieSecurity int

const (
	// CookieSecureAuto marks cookies Secure when the request came over TLS.
	CookieSecureAuto CookieSecurity = iota
	// CookieSecureAlways marks them Secure always: use it behind a proxy
	// that terminates TLS.
	CookieSecureAlways
	// CookieSecureNever never does: for a local run over plain HTTP with
	// browsers that refuse Secure cookies from http://127.0.0.1.
	CookieSecureNever
)

// Config configures a Service. Dir and Notifier are required; zero values
// elsewhere take the defaults given.
type Config struct {
	// Dir is the Service's own Pebble database, created if missing.
	Dir string
	// Notifier sends sign-in codes (notify.Outbox locally; a
	// notify.Router over GOV.UK Notify and a voice provider in production).
	Notifier notify.Notifier
	Logger   *slog.Logger // nil: discard
	// Denials, when set, hears of every request the permission matrix
	// refuses, for the audit log: refused attempts are recorded as well
	// as reads.
	Denials DenialRecorder

	// BootstrapToken is the --api-token: a bearer token that
	// authenticates as a system administrator. Empty: none.
	BootstrapToken string
	// BootstrapFullAccess lets the bootstrap token perform clinical
	// actions too, as DESIGN.md's "full rights" promises. Without it the
	// token is exactly a system administrator.
	BootstrapFullAccess bool

	Cookies CookieSecurity
	// TrustedOrigins are origins ("https://molar.example.nhs.uk") other
	// than the request's own Host from which the sign-in forms may be
	// posted: for a proxy that rewrites Host.
	TrustedOrigins []string

	// Argon2 sets the cost of new password hashes; DefaultArgon2() if zero.
	Argon2 Argon2Params
	// MaxConcurrentHashes bounds password hashes computed at once, and so
	// their memory; default 4.
	MaxConcurrentHashes int

	CodeTTL             time.Duration // one-time code lifetime; default 10 minutes
	MaxCodeAttempts     int           // tries per code; default 3
	MaxCodeSendsPerHour int           // codes sent per account per hour; default 5
	MaxFailures         int           // failed passwords and codes before lockout; default 5
	FailureWindow       time.Duration // failures older than this are forgotten; default 1 hour
	LockoutDuration     time.Duration // default 15 minutes
	FlowTTL             time.Duration // a sign-in or reset from start to finish; default 15 minutes
	SessionIdle         time.Duration // default 30 minutes
	SessionAbsolute     time.Duration // default 12 hours

	// Location is the time zone of times shown to users (lockout ends);
	// default Europe/London, or UTC where the zone database is missing.
	Location *time.Location
	// Now is the clock; default time.Now. Tests move it.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Argon2 == (Argon2Params{}) {
		c.Argon2 = DefaultArgon2()
	}
	setDefault(&c.MaxConcurrentHashes, 4)
	setDefault(&c.CodeTTL, 10*time.Minute)
	setDefault(&c.MaxCodeAttempts, 3)
	setDefault(&c.MaxCodeSendsPerHour, 5)
	setDefault(&c.MaxFailures, 5)
	setDefault(&c.FailureWindow, time.Hour)
	setDefault(&c.LockoutDuration, 15*time.Minute)
	setDefault(&c.FlowTTL, 15*time.Minute)
	setDefault(&c.SessionIdle, 30*time.Minute)
	setDefault(&c.SessionAbsolute, 12*time.Hour)
	if c.Location == nil {
		loc, err := time.LoadLocation("Europe/London")
		if err != nil {
			loc = time.UTC
		}
		c.Location = loc
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func setDefault[T int | time.Duration](p *T, v T) {
	if *p <= 0 {
		*p = v
	}
}

// Service is accounts, sign-in, sessions, keys and the permission check.
// It is safe for concurrent use.
type Service struct {
	cfg Config
	db  *db
	log *slog.Logger

	// mu serialises read-modify-write of records (failure counters, code
	// attempts, session last-seen times). Sign-in is not a hot path; the
	// argon2 work happens outside it.
	mu sync.Mutex

	hashSem   chan struct{}
	hashes    atomic.Int64 // argon2 evaluations, for tests
	dummyHash string       // checked for unknown addresses, same cost as a real one

	bootstrapHash []byte
	tmpl          *template.Template
	cop           *http.CrossOriginProtection

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New opens the database in cfg.Dir and returns the Service. Close it.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if cfg.Dir == "" {
		return nil, errors.New("auth: no database directory")
	}
	if cfg.Notifier == nil {
		return nil, errors.New("auth: no notifier for sign-in codes")
	}
	cfg.setDefaults()
	p := cfg.Argon2
	if p.Memory < owaspMinimum.Memory || p.Time < owaspMinimum.Time || p.Threads < owaspMinimum.Threads {
		cfg.Logger.Warn("auth: argon2id parameters below OWASP's minimum (19 MiB, 2 passes, 1 lane)",
			"memory_kib", p.Memory, "time", p.Time, "threads", p.Threads)
	}
	if p.Memory == 0 || p.Time == 0 || p.Threads == 0 {
		return nil, errors.New("auth: argon2id parameters must all be positive")
	}
	tmpl, err := parseTemplates()
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	d, err := openDB(cfg.Dir, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	s := &Service{
		cfg:     cfg,
		db:      d,
		log:     cfg.Logger,
		hashSem: make(chan struct{}, cfg.MaxConcurrentHashes),
		tmpl:    tmpl,
		cop:     http.NewCrossOriginProtection(),
		stop:    make(chan struct{}),
	}
	for _, o := range cfg.TrustedOrigins {
		if err := s.cop.AddTrustedOrigin(o); err != nil {
			d.close()
			return nil, fmt.Errorf("auth: trusted origin: %w", err)
		}
	}
	if cfg.BootstrapToken != "" {
		s.bootstrapHash = secretHash(cfg.BootstrapToken)
	}
	// The dummy hash has a password nobody knows, so it never matches.
	junk, err := newSecret("")
	if err == nil {
		s.dummyHash, err = hashPassword(junk, cfg.Argon2)
	}
	if err != nil {
		d.close()
		return nil, fmt.Errorf("auth: %w", err)
	}
	if err := s.sweep(ctx); err != nil {
		s.log.Warn("auth: sweeping expired records", "err", err)
	}
	s.wg.Add(1)
	go s.sweepLoop()
	return s, nil
}

// Close stops the sweeper and closes the database. Stop serving requests
// first: calls after Close fail with ErrClosed.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.wg.Wait()
		s.closeErr = s.db.close()
	})
	return s.closeErr
}

func (s *Service) now() time.Time { return s.cfg.Now() }

// sweepInterval is how often expired sessions, sign-ins and counters are
// deleted. Expired records are refused on sight anyway; sweeping only
// keeps the database small.
const sweepInterval = 10 * time.Minute

func (s *Service) sweepLoop() {
	defer s.wg.Done()
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.sweep(context.Background()); err != nil && !errors.Is(err, ErrClosed) {
				s.log.Warn("auth: sweeping expired records", "err", err)
			}
		}
	}
}

// sweep deletes expired sessions, sign-ins in progress and failure
// counters with nothing left to say.
func (s *Service) sweep(ctx context.Context) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.db.batch()
	n := 0
	err := s.db.scan([]byte{tSession}, func(k, v []byte) (bool, error) {
		var ss sessionRecord
		if err := decode(v, &ss); err != nil {
			return false, err
		}
		if s.sessionExpired(&ss, now) != "" {
			b.del(k)
			b.del(key(tUserSession, ss.UserID, string(k[1:])))
			n++
		}
		return ctx.Err() == nil, nil
	})
	if err == nil {
		err = s.db.scan([]byte{tPending}, func(k, v []byte) (bool, error) {
			var f flowRecord
			if err := decode(v, &f); err != nil {
				return false, err
			}
			if !now.Before(f.ExpiresAt) {
				b.del(k)
				n++
			}
			return ctx.Err() == nil, nil
		})
	}
	if err == nil {
		err = s.db.scan([]byte{tThrottle}, func(k, v []byte) (bool, error) {
			var t throttleRecord
			if err := decode(v, &t); err != nil {
				return false, err
			}
			if t.idle(now, s.cfg.FailureWindow) {
				b.del(k)
				n++
			}
			return ctx.Err() == nil, nil
		})
	}
	if err != nil || n == 0 {
		b.discard()
		return err
	}
	return b.commit()
}
