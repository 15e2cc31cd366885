// Package app is the composition root: it opens the database, migrates
// it, builds the services and mounts every route. Reading this package
// shows how Mainstay is put together.
package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mainstay-erp/mainstay/internal/automation"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/config"
	"github.com/mainstay-erp/mainstay/internal/platform/crypto"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events/eventsapi"
	"github.com/mainstay-erp/mainstay/internal/platform/events/webhooks"
	"github.com/mainstay-erp/mainstay/internal/platform/httpx"
	"github.com/mainstay-erp/mainstay/internal/platform/idempotency"
	"github.com/mainstay-erp/mainstay/internal/platform/migrate"
	"github.com/mainstay-erp/mainstay/internal/platform/ratelimit"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
	"github.com/mainstay-erp/mainstay/internal/platform/sequencer"
	"github.com/mainstay-erp/mainstay/internal/sales/orders"
)

// App is a running Mainstay node.
type App struct {
	cfg        config.Config
	log        *slog.Logger
	db         *db.DB
	registry   *prometheus.Registry
	mux        *http.ServeMux
	handler    http.Handler
	auth       *auth.Server
	master     []byte
	keyring    *crypto.Keyring
	limiter    ratelimit.Limiter
	policy     ratelimit.Policy
	closers    []func() error
	api        *rest.API
	spec       []byte
	services   Services
	orders     *orders.Module
	webhooks   *webhooks.Dispatcher
	automation *automation.Engine
	hr         *hrWiring     // HR and payroll modules, for the demo seed
	mfg        *mfgResources // manufacturing resources, for the demo seed
	streams    *eventsapi.Hub

	stopWorkers context.CancelFunc
	workers     sync.WaitGroup
}

// New opens and migrates the database and builds the routes. Call Start to
// run background workers and Close when done.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	if cfg.TLSSelfSigned {
		host, _, _ := net.SplitHostPort(cfg.Listen)
		dir := cfg.DataDir
		if dir == "" {
			dir = "."
		}
		var err error
		if cfg.TLSCert, cfg.TLSKey, err = httpx.SelfSignedCert(dir, host); err != nil {
			return nil, err
		}
	}
	d, err := db.Open(ctx, db.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxConns: cfg.DBMaxConns, Logger: log})
	if err != nil {
		return nil, err
	}
	if _, err := migrate.Up(ctx, d, log); err != nil {
		d.Close()
		return nil, err
	}
	a := &App{cfg: cfg, log: log, db: d, registry: prometheus.NewRegistry(), mux: http.NewServeMux()}
	if a.master, err = a.loadMasterKey(); err != nil {
		d.Close()
		return nil, err
	}
	a.keyring = crypto.NewKeyring(d, a.master)
	if err := a.keyring.Verify(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("master key: %w", err)
	}
	// The audit chain is linked with keys derived from the master key,
	// before the sequencer starts numbering rows.
	if err := audit.Configure(a.master); err != nil {
		d.Close()
		return nil, err
	}
	a.auth, err = auth.NewServer(d, auth.Options{Issuer: cfg.PublicURL, TrustIssuers: cfg.TrustedIssuers(), Logger: log})
	if err != nil {
		d.Close()
		return nil, err
	}
	if err := a.buildLimiter(ctx); err != nil {
		d.Close()
		return nil, err
	}
	a.registerMetrics()
	a.routes()
	if err := a.buildAPI(); err != nil {
		d.Close()
		return nil, err
	}
	httpx.SetErrorLogger(log)
	a.handler = httpx.Chain(httpx.Problems(a.mux),
		httpx.SecurityHeaders(cfg.TLSCert != ""),
		httpx.RequestID,
		httpx.Log(log, httpx.NewMetrics(a.registry)),
		httpx.LimitBody(cfg.MaxBodyBytes),
		a.limitTokenEndpoint,
	)
	return a, nil
}

// DB is the app's database.
func (a *App) DB() *db.DB { return a.db }

// Mux is the route table, for tests that mount extra routes.
func (a *App) Mux() *http.ServeMux { return a.mux }

// Handler is the app's HTTP handler with every middleware applied.
func (a *App) Handler() http.Handler { return a.handler }

// Start runs the background workers until Close.
func (a *App) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	a.stopWorkers = cancel
	a.workers.Add(1)
	go func() {
		defer a.workers.Done()
		sequencer.Run(ctx, a.db, a.log, time.Second)
	}()
	a.workers.Add(1)
	go func() {
		defer a.workers.Done()
		a.pruneIdempotencyKeys(ctx)
	}()
	a.workers.Add(1)
	go func() {
		defer a.workers.Done()
		a.webhooks.Run(ctx, a.cfg.EventsPoll)
	}()
	a.workers.Add(1)
	go func() {
		defer a.workers.Done()
		a.automation.Run(ctx, a.cfg.EventsPoll)
	}()
	if a.cfg.AuditRetention > 0 {
		a.workers.Add(1)
		go func() {
			defer a.workers.Done()
			a.pruneAudit(ctx)
		}()
	}
}

// Close stops the workers and closes the database.
func (a *App) Close() error {
	if a.streams != nil {
		a.streams.Close()
	}
	if a.stopWorkers != nil {
		a.stopWorkers()
		a.workers.Wait()
	}
	var errs []error
	for _, c := range a.closers {
		errs = append(errs, c())
	}
	return errors.Join(append(errs, a.db.Close())...)
}

// Serve serves HTTP on ln until ctx ends, then shuts down gracefully:
// in-flight requests finish (their transactions commit) before the
// workers stop and the database closes.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := httpx.NewServer(a.handler, a.log)
	// Open event streams would hold a graceful shutdown until its
	// timeout: end them as it starts (clients resume with Last-Event-ID).
	srv.RegisterOnShutdown(a.streams.Close)
	err := httpx.Serve(ctx, srv, ln, a.cfg.TLSCert, a.cfg.TLSKey, a.cfg.ShutdownTimeout)
	return errors.Join(err, a.Close())
}

func (a *App) registerMetrics() {
	a.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(a.db.Write(), "write"),
	)
	if a.db.Read() != a.db.Write() {
		a.registry.MustRegister(collectors.NewDBStatsCollector(a.db.Read(), "read"))
	}
	for _, table := range sequencer.Tables {
		a.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "mainstay_unsequenced_rows",
			Help:        "Rows of an append-only log committed but not yet given a feed position.",
			ConstLabels: prometheus.Labels{"table": table},
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := sequencer.Backlog(ctx, a.db, table)
			if err != nil {
				return -1
			}
			return float64(n)
		}))
	}
}

// pruneAudit applies the audit retention daily (and once at start). Any
// node may: pruning is idempotent and leaves a signed start checkpoint.
func (a *App) pruneAudit(ctx context.Context) {
	t := time.NewTicker(24 * time.Hour)
	defer t.Stop()
	for {
		// Number what has committed first: pruning works on numbered rows,
		// and an old row numbered later would outlive its retention.
		for {
			n, err := sequencer.Assign(ctx, a.db, "audit_log")
			if err != nil || n < sequencer.Batch {
				break
			}
		}
		if n, err := audit.Prune(ctx, a.db, a.master, a.cfg.AuditRetention); err != nil {
			if ctx.Err() == nil {
				a.log.Error("prune audit log", "err", err)
			}
		} else if n > 0 {
			a.log.Info("pruned audit log", "rows", n, "retention", a.cfg.AuditRetention.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// loadMasterKey reads the master key. With no key configured, an SQLite
// installation keeps one beside its database (made on first start), which
// suits one machine; PostgreSQL serves several nodes that must share one
// key, so there it must be given.
func (a *App) loadMasterKey() ([]byte, error) {
	if a.cfg.MasterKey != "" || a.cfg.MasterKeyFile != "" {
		return crypto.LoadMasterKey(a.cfg.MasterKeyFile, a.cfg.MasterKey)
	}
	if a.db.Engine() == db.Postgres {
		return nil, errors.New("PostgreSQL needs a master key shared by every node: set MAINSTAY_MASTER_KEY or --master-key-file (32 random bytes in base64, e.g. openssl rand -base64 32)")
	}
	path := filepath.Join(filepath.Dir(a.db.Path()), "master.key")
	if _, err := os.Stat(path); err == nil {
		return crypto.LoadMasterKey(path, "")
	}
	a.log.Warn("no master key configured; made one for this SQLite database — back it up with the database, or the encrypted fields are lost", "file", path)
	return crypto.GenerateMasterKeyFile(path)
}

// buildLimiter keeps rate-limit counters in this process, or in Redis
// when several nodes must share them.
func (a *App) buildLimiter(ctx context.Context) error {
	a.policy = ratelimit.DefaultPolicy()
	for class, q := range a.cfg.RateLimits.ByClass() {
		a.policy.Defaults[class] = q
	}
	a.policy.Override = ratelimit.NewOverrides(a.db, 5*time.Second).Lookup
	if a.cfg.RedisURL == "" {
		a.limiter = ratelimit.NewMemory()
		return nil
	}
	r, err := ratelimit.NewRedis(a.cfg.RedisURL, ratelimit.WithFailOpen(!a.cfg.RedisFailClosed), ratelimit.WithLogger(a.log))
	if err != nil {
		return fmt.Errorf("rate limits: %w", err)
	}
	if err := r.Ping(ctx); err != nil {
		a.log.Warn("Redis is not answering; rate limits follow --redis-fail-closed until it does", "err", err)
	}
	a.limiter = r
	a.closers = append(a.closers, r.Close)
	return nil
}

// limitTokenEndpoint limits token, revocation and introspection requests per client id and per source
// address, so secrets cannot be guessed at speed.
func (a *App) limitTokenEndpoint(next http.Handler) http.Handler {
	limited := ratelimit.TokenMiddleware(a.limiter, a.policy.Quota("", ratelimit.ClassToken),
		a.policy.Quota("", ratelimit.ClassTokenAddress), a.log)(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && (r.URL.Path == auth.TokenPath || r.URL.Path == auth.RevokePath || r.URL.Path == auth.IntrospectPath) {
			limited.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// pruneIdempotencyKeys deletes expired keys hourly; any node may, the
// delete is idempotent.
func (a *App) pruneIdempotencyKeys(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := idempotency.Prune(ctx, a.db); err != nil {
				a.log.Error("prune idempotency keys", "err", err)
			} else if n > 0 {
				a.log.Info("pruned idempotency keys", "count", n)
			}
		}
	}
}

// ready reports why the node cannot serve, or nil.
func (a *App) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := a.db.Ping(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	if err := migrate.Check(ctx, a.db); err != nil {
		if errors.Is(err, sql.ErrConnDone) {
			return fmt.Errorf("database unreachable: %w", err)
		}
		return err
	}
	return nil
}
