// Package dbtest gives tests real databases: a fresh SQLite file, and a
// fresh PostgreSQL database cloned from a migrated template. Every store
// test runs on both engines through ForEachEngine.
//
// PostgreSQL comes from MAINSTAY_TEST_DATABASE_URL (a URL whose user may
// create databases), else from a throwaway cluster started from the local
// PostgreSQL binaries, else the PostgreSQL half is skipped with a message —
// except under CI=true, where a missing PostgreSQL fails the test.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/migrate"
)

// EnvURL names the variable holding the PostgreSQL server for tests.
const EnvURL = "MAINSTAY_TEST_DATABASE_URL"

// Engines lists the engines ForEachEngine runs on.
var Engines = []db.Engine{db.SQLite, db.Postgres}

// ForEachEngine runs fn as a subtest on a fresh, migrated database of
// each engine.
func ForEachEngine(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	for _, e := range Engines {
		t.Run(string(e), func(t *testing.T) {
			fn(t, Open(t, e))
		})
	}
}

// Open returns a fresh, migrated database of the engine, closed and
// removed when the test ends.
func Open(t testing.TB, e db.Engine) *db.DB {
	t.Helper()
	if e == db.SQLite {
		return OpenURL(t, SQLiteURL(t, true))
	}
	return OpenURL(t, PostgresURL(t, true))
}

// OpenURL opens a database for the test and closes it at the end.
func OpenURL(t testing.TB, rawURL string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), db.Options{URL: rawURL, MaxConns: 8})
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// SQLiteURL returns the URL of a new SQLite file in the test's temporary
// directory, migrated if asked.
func SQLiteURL(t testing.TB, migrated bool) string {
	t.Helper()
	u := "sqlite:" + t.TempDir() + "/test.db"
	if migrated {
		d, err := db.Open(context.Background(), db.Options{URL: u})
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		defer d.Close()
		if _, err := migrate.Up(context.Background(), d, nil); err != nil {
			t.Fatalf("migrate sqlite: %v", err)
		}
	}
	return u
}

// PostgresURL returns the URL of a new PostgreSQL database, a copy of the
// migrated template if migrated is true, else empty. It is dropped when
// the test ends. Without a PostgreSQL server the test is skipped (failed
// under CI).
func PostgresURL(t testing.TB, migrated bool) string {
	t.Helper()
	admin := adminURL(t)
	ctx := context.Background()
	conn, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL: %v", err)
	}
	defer conn.Close()
	template := "template0"
	if migrated {
		template, err = ensureTemplate(ctx, conn, admin)
		if err != nil {
			t.Fatalf("prepare template database: %v", err)
		}
	}
	name := "mainstay_t_" + randomHex(6)
	if err := createDatabase(ctx, conn, name, template); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		c, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return withDatabase(admin, name)
}

func createDatabase(ctx context.Context, conn *sql.DB, name, template string) error {
	var err error
	// A template is briefly busy while another test process finishes
	// migrating it; wait rather than fail.
	for range 50 {
		_, err = conn.ExecContext(ctx, "CREATE DATABASE "+name+" TEMPLATE "+template)
		if err == nil || !strings.Contains(err.Error(), "being accessed by other users") {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

var (
	adminOnce sync.Once
	adminVal  string
	adminErr  error
)

func adminURL(t testing.TB) string {
	t.Helper()
	adminOnce.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			adminVal = u
			return
		}
		adminVal, adminErr = startCluster()
	})
	if adminErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL is required under CI: %v", adminErr)
		}
		t.Skipf("PostgreSQL half skipped: %v (set %s to a server, or install PostgreSQL)", adminErr, EnvURL)
	}
	return adminVal
}

// ensureTemplate creates, once per migration set, a migrated database that
// tests clone; an advisory lock keeps test processes from racing on it.
func ensureTemplate(ctx context.Context, conn *sql.DB, admin string) (string, error) {
	name := "mainstay_tpl_" + migrationsHash()
	c, err := conn.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "SELECT pg_advisory_lock(727274)"); err != nil {
		return "", err
	}
	defer c.ExecContext(context.Background(), "SELECT pg_advisory_unlock(727274)")
	var exists bool
	if err := c.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_build"
	_, _ = c.ExecContext(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)")
	if _, err := c.ExecContext(ctx, "CREATE DATABASE "+building+" TEMPLATE template0"); err != nil {
		return "", err
	}
	d, err := db.Open(ctx, db.Options{URL: withDatabase(admin, building)})
	if err != nil {
		return "", err
	}
	_, err = migrate.Up(ctx, d, nil)
	d.Close()
	if err != nil {
		return "", err
	}
	// Renamed only once complete, so no test clones a half-built template.
	if _, err := c.ExecContext(ctx, "ALTER DATABASE "+building+" RENAME TO "+name); err != nil {
		return "", err
	}
	return name, nil
}

func migrationsHash() string {
	h := sha256.New()
	for _, e := range db.AllEngines {
		_ = fs.WalkDir(migrate.Files(e), ".", func(path string, de fs.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return err
			}
			b, err := fs.ReadFile(migrate.Files(e), path)
			h.Write([]byte(path))
			h.Write(b)
			return err
		})
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func withDatabase(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
