package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/internal/middleware"
	"github.com/lockboxhq/lockbox/internal/servegc"
	"github.com/lockboxhq/lockbox/mail"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/server"
)

// serverConfig is everything `lockbox serve` is configured with. Flags and
// environment are parsed into it here and nowhere else.
type serverConfig struct {
	Listen     string
	Database   string
	Dev        bool
	LogFormat  string
	WorkerPoll time.Duration
	// PasswordMemoryKiB lowers password hashing cost in tests (0 = default).
	PasswordMemoryKiB uint32
	// TokenTTL is how long a sign-in's API token is valid (0 = 12 h).
	TokenTTL time.Duration
	// KeyDir holds the private signing keys and GrantIssuer is the "iss"
	// of grant tokens (keys.go).
	KeyDir      string
	GrantIssuer string
	// LogOrigin starts the origin line of every audit log checkpoint.
	LogOrigin string
	// DB tunes the PostgreSQL pool (serve_postgres.go); unused by SQLite.
	DB postgres.Options
	// AddrFile, when set, receives the server's URL once it listens (for
	// scripts and tests that listen on port 0).
	AddrFile string
	// Web configures the web admin center (web_serve.go).
	Web webConfig
	// Notify configures email and webhook delivery (notify_serve.go).
	Notify notifyConfig
	// Witness configures checkpoint cosigning (audit_serve.go).
	Witness witnessConfig
	// Production is TLS, trusted proxies and the metrics address
	// (serve_production.go).
	Production productionConfig
	// SSO is the provider's staff IdP (sso_serve.go).
	SSO ssoConfig
}

func newServeCmd() *cobra.Command {
	var cfg serverConfig
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Lockbox server (HTTP API and background workers)",
		Long: `Run the Lockbox server: the HTTP JSON API, the web admin center, and the background
workers (deadlines, reminders, email and webhook delivery).

` + envHelp + `

Prefer variables for secrets: a flag's value shows in the process list. The --db-*
flags tune the pool of a PostgreSQL database (--database postgres://…), which several
replicas may share.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Checked here, not in checkServe: tests build serverConfig
			// without pool settings (zero), which the flags never give.
			if err := checkPool(&cfg.DB); err != nil {
				return err
			}
			servegc.Set() // here, not in startServer: tests start servers in their own process
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, cmd.ErrOrStderr())
		},
	}
	addServeFlags(cmd, &cfg)
	return cmd
}

// serveEnv is every flag of `lockbox serve` with the variable that sets it.
var serveEnv = []envVar{
	{"listen", "LOCKBOX_LISTEN"},
	{"database", "LOCKBOX_DATABASE"},
	{"dev", "LOCKBOX_DEV"},
	{"log-format", "LOCKBOX_LOG_FORMAT"},
	{"worker-poll", "LOCKBOX_WORKER_POLL"},
	{"log-origin", "LOCKBOX_LOG_ORIGIN"},
	{"key-dir", "LOCKBOX_KEY_DIR"}, // keys.go
	{"grant-issuer", "LOCKBOX_GRANT_ISSUER"},
	{"db-max-open-conns", "LOCKBOX_DB_MAX_OPEN_CONNS"}, // serve_postgres.go
	{"db-max-idle-conns", "LOCKBOX_DB_MAX_IDLE_CONNS"},
	{"db-conn-max-lifetime", "LOCKBOX_DB_CONN_MAX_LIFETIME"},
	{"db-statement-timeout", "LOCKBOX_DB_STATEMENT_TIMEOUT"},
	{"db-writers", "LOCKBOX_DB_WRITERS"},
	{"addr-file", "LOCKBOX_ADDR_FILE"},
	{"external-url", "LOCKBOX_EXTERNAL_URL"}, // web_serve.go
	{"session-idle", "LOCKBOX_SESSION_IDLE"},
	{"token-ttl", "LOCKBOX_TOKEN_TTL"},
	{"session-max", "LOCKBOX_SESSION_MAX"},
	{"smtp-url", "LOCKBOX_SMTP_URL"}, // notify_serve.go
	{"mail-from", "LOCKBOX_MAIL_FROM"},
	{"allow-private-webhooks", "LOCKBOX_ALLOW_PRIVATE_WEBHOOKS"},
	{"witness", "LOCKBOX_WITNESS"}, // audit_serve.go: one witness; more with --witness
	{"witness-quorum", "LOCKBOX_WITNESS_QUORUM"},
	{"witness-poll", "LOCKBOX_WITNESS_POLL"},
	// productionEnv (serve_production.go) is appended by addServeFlags.
}

// addServeFlags registers every flag of `lockbox serve`, with its default,
// and binds each to its variable.
func addServeFlags(cmd *cobra.Command, cfg *serverConfig) {
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&cfg.Database, "database", "", "SQLite database file (default ./lockbox-data/lockbox.db; in --dev a throwaway one), or a postgres://user:pass@host:5432/db URL")
	f.BoolVar(&cfg.Dev, "dev", false, "dev mode: throwaway database, seeded accounts, dev clock endpoint")
	f.StringVar(&cfg.LogFormat, "log-format", "", "log format: text or json (default: text on a terminal, else json)")
	f.DurationVar(&cfg.WorkerPoll, "worker-poll", time.Second, "how often the deadline worker looks for work created by other replicas")
	f.DurationVar(&cfg.TokenTTL, "token-ttl", 12*time.Hour, "how long an API token from 'lockbox login' or POST /v1/auth/token stays valid (1m to 30 days)")
	f.StringVar(&cfg.LogOrigin, "log-origin", auditlog.DefaultOriginPrefix, "checkpoint origin prefix: origins are <prefix>/<tenant> (use this server's host name)")
	addServeKeyFlags(cmd, cfg)
	addServeDatabaseFlags(cmd, cfg)
	addServeWebFlags(cmd, cfg)
	addServeNotifyFlags(cmd, cfg)
	addServeWitnessFlags(cmd, cfg)
	addServeProductionFlags(cmd, cfg)
	addServeSSOFlags(cmd, cfg)
	bindEnv(f, append(append(serveEnv, productionEnv...), ssoEnv...)...)
}

// checkWorkerPoll refuses a poll interval the workers could not use (a
// negative one would make them spin).
func checkWorkerPoll(d time.Duration) error {
	if d < time.Millisecond || d > time.Hour {
		return usageErrorf("--worker-poll must be between 1ms and 1h; got %v", d)
	}
	return nil
}

// serve runs the server until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, cfg serverConfig, stderr io.Writer) error {
	rs, err := startServer(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	<-ctx.Done()
	rs.logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return rs.Close(shutdownCtx)
}

// runningServer is a started server; tests start it on 127.0.0.1:0.
type runningServer struct {
	url         string
	http        *http.Server
	store       lockbox.Store
	service     *approval.Service
	passkeys    serverRP    // the WebAuthn relying party (passkeys_serve.go)
	keys        *serverKeys // signing keys and the grant authority (keys.go)
	notify      *notifier   // notification delivery, dev mail, metrics (notify_serve.go)
	logger      *slog.Logger
	logOut      *logWriter    // what logger writes through (logwriter.go)
	certs       *certReloader // TLS (serve_production.go); nil over plain http
	metricsHTTP *http.Server  // --metrics-listen; nil when metrics share --listen
	metricsURL  string
	sso         *approval.SSO // single sign-on (sso_serve.go)
	stopWork    context.CancelFunc
	workDone    chan struct{}
	cleanup     func()
}

// URL is the server's base URL.
func (rs *runningServer) URL() string { return rs.url }

func startServer(ctx context.Context, cfg serverConfig, stderr io.Writer) (*runningServer, error) {
	proxies, err := checkServe(&cfg)
	if err != nil {
		return nil, err
	}
	logOut := newLogWriter(stderr)
	logger := newLogger(cfg.LogFormat, stderr, logOut)
	rs := &runningServer{logger: logger, logOut: logOut, workDone: make(chan struct{})}
	// The addresses are taken before the database and keys are created: a
	// port in use or a certificate that does not load leaves nothing behind.
	ln, url, metricsLn, err := rs.listenAll(ctx, cfg) // serve_production.go
	if err != nil {
		_ = logOut.Flush()
		return nil, err
	}
	closeListeners := func() {
		ln.Close()
		if metricsLn != nil {
			metricsLn.Close()
		}
	}
	dbPath, cleanup, err := databasePath(cfg)
	if err != nil {
		closeListeners()
		_ = logOut.Flush()
		return nil, err
	}
	// The last thing a server does on its way out: write the buffered log.
	removeDB := cleanup
	rs.cleanup = func() { removeDB(); _ = logOut.Flush() }
	cfg.DB.Logger = logger
	rs.store, err = openStore(ctx, dbPath, cfg.DB)
	if err != nil {
		closeListeners()
		rs.cleanup()
		return nil, fmt.Errorf("open database: %w", err)
	}
	// What the server prints itself (the dev banner, the bootstrap password)
	// goes through the log's writer at once, after the lines before it.
	if err := rs.start(ctx, cfg, dbPath, listeners{ln, url, metricsLn, proxies}, logOut.immediate()); err != nil {
		closeListeners()
		rs.store.Close()
		rs.cleanup()
		return nil, err
	}
	return rs, nil
}

// checkServe refuses every flag value that cannot work, before anything is
// created (database, keys, listeners): each rule stays with its flags'
// file; this only calls them all first. It fills in the defaults of a
// serverConfig built without flags (tests).
func checkServe(cfg *serverConfig) (middleware.TrustedProxies, error) {
	if cfg.WorkerPoll == 0 {
		cfg.WorkerPoll = time.Second // tests build serverConfig without flags
	}
	if cfg.Witness.Poll == 0 {
		cfg.Witness.Poll = 5 * time.Second
	}
	if cfg.Web.IdleTimeout == 0 {
		cfg.Web.IdleTimeout = 30 * time.Minute
	}
	if cfg.Web.MaxSession == 0 {
		cfg.Web.MaxSession = 12 * time.Hour
	}
	if err := checkWorkerPoll(cfg.WorkerPoll); err != nil {
		return middleware.TrustedProxies{}, err
	}
	if _, _, err := cfg.Witness.parse(); err != nil {
		return middleware.TrustedProxies{}, err
	}
	if err := checkSSOConfig(cfg.SSO); err != nil {
		return middleware.TrustedProxies{}, err
	}
	if cfg.TokenTTL != 0 && (cfg.TokenTTL < time.Minute || cfg.TokenTTL > 30*24*time.Hour) {
		return middleware.TrustedProxies{}, usageErrorf("--token-ttl must be between 1m and 720h; got %v", cfg.TokenTTL)
	}
	if err := checkWebConfig(cfg.Web); err != nil {
		return middleware.TrustedProxies{}, err
	}
	if err := checkNotifyConfig(cfg.Notify); err != nil {
		return middleware.TrustedProxies{}, err
	}
	return checkProduction(cfg.Production) // serve_production.go
}

// checkNotifyConfig parses the mail flags as delivery will (mail's rules).
func checkNotifyConfig(c notifyConfig) error {
	if c.SMTPURL != "" {
		if _, err := mail.ParseSMTPURL(c.SMTPURL); err != nil {
			return usageErrorf("--smtp-url: %v", err)
		}
	}
	if c.MailFrom != "" {
		if _, err := mail.NewSender(c.MailFrom, nil, mail.NewDevMailbox(1)); err != nil {
			return usageErrorf("--mail-from: %v", err)
		}
	}
	return nil
}

func (rs *runningServer) start(ctx context.Context, cfg serverConfig, dbPath string, l listeners, stderr io.Writer) error {
	var clock lockbox.Clock = lockbox.SystemClock{}
	var devClock *lockbox.OffsetClock
	if cfg.Dev {
		devClock = lockbox.NewOffsetClock()
		clock = devClock
	}
	if err := rs.openKeys(ctx, cfg); err != nil {
		return err
	}
	var err error
	if rs.notify, err = rs.newNotifier(cfg, clock); err != nil { // notify_serve.go
		return err
	}
	rs.service = approval.New(rs.store, clock, approval.Options{Logger: rs.logger,
		PasswordMemoryKiB: cfg.PasswordMemoryKiB, SessionClock: lockbox.SystemClock{}, SessionTTL: cfg.TokenTTL,
		Grants: rs.keys.grants, GrantIssuer: cfg.GrantIssuer, AccessCacheTTL: accessCacheTTL(cfg),
		AllowPrivateWebhooks: cfg.Notify.AllowPrivateWebhooks, Passkeys: &rs.passkeys,
		SSO: ssoOptions(cfg, rs), RequireMFA: cfg.SSO.RequireMFA, Handoff: rs.notify.worker,
		// Tenants' IdP and webhook secrets are sealed with a key of the key
		// directory, which every replica shares (docs/identity.md).
		Secrets: rs.keys.ring.SecretBox()})
	if cfg.Dev {
		if err := rs.service.SeedDev(ctx); err != nil {
			return fmt.Errorf("seed dev accounts: %w", err)
		}
	}
	ln, url := l.main, l.url
	// The bootstrap password is made and printed only once the address is
	// ours: a start that fails before (a port in use, a bad flag) creates no
	// account whose only password would be lost with its output.
	if !cfg.Dev {
		if err := rs.bootstrap(ctx, stderr); err != nil {
			return err
		}
	}
	rs.url = url
	rs.sso = rs.newSSO(cfg) // sso_serve.go
	rs.sealSecrets(ctx)
	if err := rs.passkeys.set(cfg.Web.ExternalURL, url); err != nil {
		// Not fatal: everything but passkeys works, and says why not.
		rs.logger.Warn("passkeys are off", "err", err)
	}
	if err := writeAddrFile(cfg.AddrFile, rs.url); err != nil {
		return err
	}
	witnesses, quorum, _ := cfg.Witness.parse()      // checked by startServer
	audit := rs.auditService(cfg, witnesses, quorum) // audit_serve.go
	mainMetrics := rs.notify.metrics
	if cfg.Production.MetricsListen != "" {
		mainMetrics = nil // served on its own address only: 404 here
	}
	rs.serveMetrics(l.metrics, rs.notify.metrics) // serve_production.go
	api := (&server.Server{
		Requests: rs.service, Accounts: rs.service, Tenants: rs.service, Catalog: rs.service,
		Ready: rs.store.Ping, DevClock: devClock, Logger: rs.logger,
		Enforcement: rs.service, JWKS: rs.keys.jwks,
		Audit:    audit,
		Webhooks: rs.service, Policies: rs.service, DevMail: rs.notify.devMailbox(), Metrics: mainMetrics,
		SSO:      rs.sso,
		Passkeys: rs.service,
	}).Handler()
	h, err := rs.withWeb(cfg, api, audit, witnesses, quorum, devClock) // web_serve.go
	if err != nil {
		return err
	}
	h = productionHandler(h, l.proxies)
	rs.http = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(rs.logger.Handler(), slog.LevelWarn)}
	go func() {
		if err := rs.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			rs.logger.Error("http server stopped", "err", err)
		}
	}()
	workCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	rs.stopWork = stop
	go func() {
		defer close(rs.workDone)
		defer rs.startDelivery(workCtx)() // notify_serve.go: the outbox worker, waited for here
		witnessDone := make(chan struct{})
		go func() { defer close(witnessDone); audit.RunWitnesses(workCtx, cfg.Witness.Poll, rs.auditLogs) }()
		defer func() { <-witnessDone }()
		rs.service.RunWorker(workCtx, cfg.WorkerPoll)
	}()
	rs.logger.Info("lockbox listening", "url", rs.url, "database", displayDatabase(dbPath), "dev", cfg.Dev)
	if cfg.Dev {
		printDevBanner(stderr, rs.url, displayDatabase(dbPath))
	}
	return nil
}

// bootstrap creates, on a database with no staff, the provider admin
// admin@localhost and prints its one-time password, which signs in only to
// choose a new one (SPEC §9, §10.1).
func (rs *runningServer) bootstrap(ctx context.Context, stderr io.Writer) error {
	pw, err := rs.service.Bootstrap(ctx)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if pw != "" {
		// Printed once, to the terminal, never to the log.
		fmt.Fprintf(stderr, "\nFirst start: created provider admin admin@localhost with one-time password\n\n    %s\n\n"+
			"Sign in with `lockbox login --server URL --email admin@localhost` (or in a browser): you will\n"+
			"choose a new password first. Lost it? `lockbox admin reset-password --database DB admin@localhost`.\n\n", pw)
	}
	return nil
}

// Close stops accepting requests, lets in-flight ones finish, stops the
// worker and closes the database.
func (rs *runningServer) Close(ctx context.Context) error {
	err := rs.http.Shutdown(ctx)
	if rs.metricsHTTP != nil {
		err = errors.Join(err, rs.metricsHTTP.Shutdown(ctx))
	}
	rs.stopWork()
	<-rs.workDone
	err = errors.Join(err, rs.store.Close())
	rs.cleanup()
	return err
}

func databasePath(cfg serverConfig) (string, func(), error) {
	if cfg.Database != "" {
		return cfg.Database, func() {}, nil
	}
	if !cfg.Dev {
		return filepath.Join("lockbox-data", "lockbox.db"), func() {}, nil
	}
	dir, err := os.MkdirTemp("", "lockbox-dev-*")
	if err != nil {
		return "", nil, err
	}
	return filepath.Join(dir, "lockbox.db"), func() { os.RemoveAll(dir) }, nil
}

// newLogger logs to out, in text when w (what out writes to) is a
// terminal, else JSON, unless format says.
func newLogger(format string, w io.Writer, out *logWriter) *slog.Logger {
	if format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	if strings.EqualFold(format, "text") {
		return slog.New(flushingHandler{slog.NewTextHandler(out, nil), out})
	}
	return slog.New(flushingHandler{slog.NewJSONHandler(out, nil), out})
}

func printDevBanner(w io.Writer, url, dbPath string) {
	fmt.Fprintf(w, `
Lockbox dev server on %s (database %s)
Every account's password is %q:
  provider  admin@provider.test (provider_admin)   operator@provider.test, operator2@provider.test (operator)
            manager@provider.test (support_manager)  service account token %q
  contoso   admin@contoso.test (global_admin)  approver@contoso.test (lockbox_approver)  auditor@contoso.test (audit_reader)
  fabrikam  admin@fabrikam.test (global_admin)
Admin center: open %s/ in a browser (captured notification mail: %s/dev/mail)
CLI:          LOCKBOX_PASSWORD=%s lockbox login --server %s --email operator@provider.test
Dev clock:    lockbox dev clock advance 12h1m --server %s    (moves deadlines, reminders and retries)

`, url, dbPath, approval.DevPassword, approval.DevServiceToken, url, url, approval.DevPassword, url, url)
}

// sealSecrets seals the tenants' IdP and webhook secrets a version before
// sealing stored in clear, and those sealed before a grant key rotation.
// Not fatal: the server still serves, and says so.
func (rs *runningServer) sealSecrets(ctx context.Context) {
	n, err := rs.service.SealSecrets(ctx)
	if err != nil {
		rs.logger.Error("sealing stored secrets failed; the next start tries again", "sealed", n, "err", err)
	} else if n > 0 {
		rs.logger.Info("sealed stored secrets", "sealed", n)
	}
}
