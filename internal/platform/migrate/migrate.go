// Package migrate brings a database's schema to the version this binary
// knows. Migrations are plain SQL embedded per engine
// (sql/{sqlite,postgres}/NNNN_module_change.sql), applied one transaction
// per file by goose, under a lock so that nodes starting together migrate
// once.
package migrate

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

//go:embed sql
var files embed.FS

// Table records the applied versions.
const Table = "schema_migrations"

// lockID is the PostgreSQL advisory lock key for migrations ("mainstay").
const lockID = 0x6d61696e73746179

// ErrSchemaTooNew means the database was migrated by a newer binary.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary")

// Files returns the embedded migrations of an engine.
func Files(engine db.Engine) fs.FS {
	sub, err := fs.Sub(files, "sql/"+string(engine))
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

// Latest is the newest version this binary knows for the engine.
func Latest(engine db.Engine) (int64, error) {
	return latestIn(Files(engine))
}

func latestIn(fsys fs.FS) (int64, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return 0, err
	}
	var latest int64
	for _, e := range entries {
		v, err := goose.NumericComponent(e.Name())
		if err != nil {
			return 0, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		latest = max(latest, v)
	}
	return latest, nil
}

// Current is the version the database is at (0 for an empty database).
func Current(ctx context.Context, q db.Querier) (int64, error) {
	var v sql.NullInt64
	err := q.QueryRowContext(ctx, "SELECT max(version_id) FROM "+Table+" WHERE is_applied").Scan(&v)
	if err != nil {
		if isMissingTable(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v.Int64, nil
}

// Check returns nil when the schema is exactly the version this binary
// knows; readiness depends on it.
func Check(ctx context.Context, d *db.DB) error {
	cur, err := Current(ctx, d)
	if err != nil {
		return err
	}
	latest, err := Latest(d.Engine())
	if err != nil {
		return err
	}
	switch {
	case cur > latest:
		return fmt.Errorf("%w: database at %d, binary knows up to %d", ErrSchemaTooNew, cur, latest)
	case cur < latest:
		return fmt.Errorf("schema at version %d, %d pending", cur, latest)
	}
	return nil
}

// Result tells what Up did.
type Result struct {
	From, To int64
	Applied  []string
	Backup   string // SQLite copy taken before migrating, if any
}

// Up applies every pending migration. It refuses a schema newer than the
// binary, and on SQLite copies the database (VACUUM INTO) before changing
// an existing schema.
func Up(ctx context.Context, d *db.DB, log *slog.Logger) (Result, error) {
	return up(ctx, d, Files(d.Engine()), log)
}

func up(ctx context.Context, d *db.DB, fsys fs.FS, log *slog.Logger) (Result, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var locker lock.SessionLocker
	switch d.Engine() {
	case db.Postgres:
		l, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID), lock.WithLockTimeout(1, 600))
		if err != nil {
			return Result{}, err
		}
		locker = l
	case db.SQLite:
		locker = &fileLocker{path: d.Path() + ".migrate-lock"}
	}
	dialect := goose.DialectPostgres
	if d.Engine() == db.SQLite {
		dialect = goose.DialectSQLite3
	}
	p, err := goose.NewProvider(dialect, d.Write(), fsys,
		goose.WithTableName(Table), goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return Result{}, fmt.Errorf("load migrations: %w", err)
	}
	// Not p.Close(): it would close our pool.

	// The lock is taken inside goose; reading the version first only decides
	// about the backup and the too-new check, both of which are safe to
	// repeat if another node migrates meanwhile.
	cur, err := Current(ctx, d.Write())
	if err != nil {
		return Result{}, err
	}
	latest, err := latestIn(fsys)
	if err != nil {
		return Result{}, err
	}
	res := Result{From: cur, To: cur}
	if cur > latest {
		return res, fmt.Errorf("%w: database at %d, binary knows up to %d; run a newer mainstay", ErrSchemaTooNew, cur, latest)
	}
	if cur == latest {
		return res, nil
	}
	if d.Engine() == db.SQLite && cur > 0 {
		res.Backup, err = backupBeforeMigrate(ctx, d, cur)
		if err != nil {
			return res, err
		}
		log.InfoContext(ctx, "copied database before migrating", "backup", res.Backup)
	}
	applied, err := p.Up(ctx)
	for _, a := range applied {
		if a.Source != nil && a.Error == nil && !a.Empty {
			res.Applied = append(res.Applied, filepath.Base(a.Source.Path))
		}
	}
	if err != nil {
		return res, fmt.Errorf("migrate: %w", err)
	}
	res.To, err = Current(ctx, d.Write())
	if err != nil {
		return res, err
	}
	if len(res.Applied) > 0 {
		log.InfoContext(ctx, "migrated database", "from", res.From, "to", res.To, "applied", res.Applied)
	}
	return res, nil
}

func backupBeforeMigrate(ctx context.Context, d *db.DB, version int64) (string, error) {
	dir := filepath.Join(filepath.Dir(d.Path()), "backups")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create backup directory: %w", err)
	}
	name := filepath.Join(dir, fmt.Sprintf("mainstay-v%d-%s.db", version, time.Now().UTC().Format("20060102T150405Z")))
	if err := VacuumInto(ctx, d, name); err != nil {
		return "", err
	}
	return name, nil
}

// VacuumInto writes a consistent copy of an SQLite database to path.
func VacuumInto(ctx context.Context, d *db.DB, path string) error {
	if d.Engine() != db.SQLite {
		return errors.New("VACUUM INTO is for SQLite")
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("backup %s: file exists", path)
	}
	if _, err := d.Write().ExecContext(ctx, "VACUUM INTO $1", path); err != nil {
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	return nil
}

// fileLocker serialises SQLite migrations across processes with an
// advisory lock on a file beside the database: SQLite's own locks are per
// transaction, and goose runs one transaction per migration.
type fileLocker struct {
	path string
	f    *os.File
}

func (l *fileLocker) SessionLock(ctx context.Context, _ *sql.Conn) error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("open migration lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			l.f = f
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return fmt.Errorf("take migration lock: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (l *fileLocker) SessionUnlock(context.Context, *sql.Conn) error {
	if l.f == nil {
		return nil
	}
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
	return err
}

func isMissingTable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "42P01" // undefined_table
	}
	return strings.Contains(err.Error(), "no such table")
}
