package migrate_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/migrate"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func emptyURL(t *testing.T, e db.Engine) string {
	if e == db.SQLite {
		return dbtest.SQLiteURL(t, false)
	}
	return dbtest.PostgresURL(t, false)
}

func TestBothEnginesReachSameVersion(t *testing.T) {
	sq, err := migrate.Latest(db.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := migrate.Latest(db.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if sq != pg || sq == 0 {
		t.Fatalf("latest versions differ: sqlite %d, postgres %d", sq, pg)
	}
	// The same file names on both engines, so a module never lands on one
	// engine only.
	names := func(e db.Engine) []string {
		ents, _ := os.ReadDir(filepath.Join("sql", string(e)))
		var out []string
		for _, x := range ents {
			out = append(out, x.Name())
		}
		return out
	}
	if a, b := names(db.SQLite), names(db.Postgres); len(a) != len(b) {
		t.Fatalf("migration files differ: %v vs %v", a, b)
	} else {
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("migration files differ: %v vs %v", a, b)
			}
		}
	}
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			d := dbtest.OpenURL(t, emptyURL(t, e))
			ctx := context.Background()
			if err := migrate.Check(ctx, d); err == nil {
				t.Fatal("Check passed on an empty database")
			}
			res, err := migrate.Up(ctx, d, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.From != 0 || res.To != sq || len(res.Applied) == 0 {
				t.Fatalf("Up = %+v, want 0 → %d", res, sq)
			}
			if err := migrate.Check(ctx, d); err != nil {
				t.Fatalf("Check after Up: %v", err)
			}
			again, err := migrate.Up(ctx, d, nil)
			if err != nil || len(again.Applied) != 0 {
				t.Fatalf("second Up = %+v, %v; want nothing applied", again, err)
			}
		})
	}
}

// Two nodes starting together, each with its own connections, migrate the
// database once: every migration is recorded once and both succeed.
func TestConcurrentStartsMigrateOnce(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			u := emptyURL(t, e)
			ctx := context.Background()
			const nodes = 4
			dbs := make([]*db.DB, nodes)
			for i := range dbs {
				dbs[i] = dbtest.OpenURL(t, u)
			}
			start := make(chan struct{})
			errs := make([]error, nodes)
			applied := make([]int, nodes)
			var wg sync.WaitGroup
			for i := range dbs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					res, err := migrate.Up(ctx, dbs[i], nil)
					errs[i], applied[i] = err, len(res.Applied)
				}()
			}
			close(start)
			wg.Wait()
			total := 0
			for i := range errs {
				if errs[i] != nil {
					t.Fatalf("node %d: %v", i, errs[i])
				}
				total += applied[i]
			}
			latest, _ := migrate.Latest(e)
			var rows int
			if err := dbs[0].QueryRowContext(ctx, "SELECT COUNT(*) FROM "+migrate.Table+" WHERE version_id > 0").Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if total != int(latest) || rows != int(latest) {
				t.Fatalf("applied %d migrations in all, %d recorded; want %d once each", total, rows, latest)
			}
		})
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.ExecContext(ctx, "INSERT INTO "+migrate.Table+" (version_id, is_applied) VALUES (9999, true)"); err != nil {
			t.Fatal(err)
		}
		if _, err := migrate.Up(ctx, d, nil); !errors.Is(err, migrate.ErrSchemaTooNew) {
			t.Fatalf("Up on a newer schema = %v, want ErrSchemaTooNew", err)
		}
		if err := migrate.Check(ctx, d); !errors.Is(err, migrate.ErrSchemaTooNew) {
			t.Fatalf("Check on a newer schema = %v, want ErrSchemaTooNew", err)
		}
	})
}
