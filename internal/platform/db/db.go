// Package db opens the system of record, embedded SQLite or PostgreSQL, and
// gives every service one way to run a transaction: Transact. Stores take a
// Querier explicitly, so the same store code runs inside or outside a
// transaction and on either engine.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/mainstay-erp/mainstay/internal/platform/clock"
)

// Engine names a database engine.
type Engine string

// The supported engines.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// AllEngines lists the supported engines.
var AllEngines = []Engine{SQLite, Postgres}

// Querier is what stores run SQL through: a *DB or a *Tx. SQL is written
// once with $1 placeholders, which both drivers accept.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Options says which database to open.
type Options struct {
	// URL is postgres://… or postgresql://… for PostgreSQL, sqlite:PATH for
	// an SQLite file anywhere; empty means SQLite in DataDir.
	URL     string
	DataDir string
	Clock   clock.Clock
	Logger  *slog.Logger
	// MaxConns caps the PostgreSQL pool and the SQLite read pool.
	MaxConns int
}

// DB is an open database. On SQLite it holds one write connection (SQLite
// allows one writer; queuing in Go beats spinning on SQLITE_BUSY) and a
// read-only pool; on PostgreSQL both are one pool.
type DB struct {
	engine Engine
	write  *sql.DB
	read   *sql.DB
	pool   *pgxpool.Pool // PostgreSQL only, for its pool statistics
	path   string        // SQLite file
	clock  clock.Clock
	log    *slog.Logger
	url    string
	notify notifier
	// writeQueue admits SQLite transactions one at a time, first come
	// first served (a channel's blocked senders are woken in order).
	writeQueue chan struct{}
}

// Open connects and checks the connection.
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 10
	}
	var d *DB
	var err error
	switch {
	case strings.HasPrefix(o.URL, "postgres://"), strings.HasPrefix(o.URL, "postgresql://"):
		d, err = openPostgres(ctx, o)
	case o.URL == "":
		if o.DataDir == "" {
			return nil, errors.New("open database: no database URL and no data directory")
		}
		if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		d, err = openSQLite(ctx, filepath.Join(o.DataDir, "mainstay.db"), o)
	case strings.HasPrefix(o.URL, "sqlite:"):
		d, err = openSQLite(ctx, strings.TrimPrefix(strings.TrimPrefix(o.URL, "sqlite:"), "//"), o)
	default:
		return nil, fmt.Errorf("open database: unsupported URL scheme in %q (want postgres://… or sqlite:PATH)", Redact(o.URL))
	}
	if err != nil {
		return nil, err
	}
	d.clock, d.log, d.url = o.Clock, o.Logger, o.URL
	return d, nil
}

func openSQLite(ctx context.Context, path string, o Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("open sqlite: empty path")
	}
	// busy_timeout first so the other pragmas wait instead of failing while
	// another process holds the lock.
	common := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-65536)&_time_format=sqlite"
	wc, err := newCachingConnector("file:" + path + "?" + common + "&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w := sql.OpenDB(wc)
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := pingSQLite(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	rc, err := newCachingConnector("file:" + path + "?" + common + "&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r := sql.OpenDB(rc)
	r.SetMaxOpenConns(o.MaxConns)
	// database/sql keeps 2 idle connections by default: under load the
	// others were closed and reopened, losing their prepared statements.
	r.SetMaxIdleConns(o.MaxConns)
	return &DB{engine: SQLite, write: w, read: r, path: path, writeQueue: make(chan struct{}, 1)}, nil
}

// pingSQLite opens the first connection. Switching a new database to WAL
// needs a lock that SQLite does not wait for (busy_timeout does not apply
// to it), so a process starting while another creates or migrates the
// database can be told SQLITE_BUSY at once: it tries again for a while.
func pingSQLite(ctx context.Context, d *sql.DB) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := d.PingContext(ctx)
		if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func openPostgres(ctx context.Context, o Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL %s: %w", Redact(o.URL), err)
	}
	if cfg.MaxConns < int32(o.MaxConns) && !strings.Contains(o.URL, "pool_max_conns") {
		cfg.MaxConns = int32(o.MaxConns)
	}
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "mainstay"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", Redact(o.URL), err)
	}
	s := stdlib.OpenDBFromPool(pool)
	if err := s.PingContext(ctx); err != nil {
		s.Close()
		pool.Close()
		return nil, fmt.Errorf("connect %s: %w", Redact(o.URL), err)
	}
	return &DB{engine: Postgres, write: s, read: s, pool: pool}, nil
}

// Engine reports which engine this is.
func (d *DB) Engine() Engine { return d.engine }

// Clock returns the clock transactions read their time from.
func (d *DB) Clock() clock.Clock { return d.clock }

// Path is the SQLite file, empty on PostgreSQL.
func (d *DB) Path() string { return d.path }

// URL is the URL the database was opened with (it may hold a password).
func (d *DB) URL() string { return d.url }

// Write is the pool that accepts writes (migrations, Transact).
func (d *DB) Write() *sql.DB { return d.write }

// Read is the pool for plain reads.
func (d *DB) Read() *sql.DB { return d.read }

// Stats returns pool statistics for metrics: the write pool and, on
// SQLite, the read pool.
func (d *DB) Stats() (write, read sql.DBStats) {
	return d.write.Stats(), d.read.Stats()
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	// A query, not PingContext: a ping may be answered from an idle pooled
	// connection whose server is gone, and one round trip is enough.
	var one int
	if err := d.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping %s: %w", d.engine, err)
	}
	return nil
}

// Close closes every pool.
func (d *DB) Close() error {
	var errs []error
	errs = append(errs, d.write.Close())
	if d.read != d.write {
		errs = append(errs, d.read.Close())
	}
	if d.pool != nil {
		d.pool.Close()
	}
	return errors.Join(errs...)
}

// ExecContext runs a write outside a transaction, on the write pool.
func (d *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.write.ExecContext(ctx, query, args...)
}

// QueryContext runs a read on the read pool. On SQLite that pool is
// read-only: statements that write must go through Transact.
func (d *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.read.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a one-row read on the read pool.
func (d *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return d.read.QueryRowContext(ctx, query, args...)
}

// Redact hides the password in a database URL for logs and errors.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Now is the database clock's time, for code that runs outside Transact.
func (d *DB) Now() time.Time { return d.clock.Now() }

// Collect scans every row with scan and closes rows; the first error ends
// it. It spares every store the same loop.
func Collect[T any](rows *sql.Rows, scan func(*sql.Rows) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
