package db_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func count(t *testing.T, d *db.DB, table string) int {
	t.Helper()
	var n int
	if err := d.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustExec(t *testing.T, d *db.DB, sql string) {
	t.Helper()
	if _, err := d.ExecContext(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

func TestTransactCommitsOrRollsBack(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		mustExec(t, d, "CREATE TABLE things (name TEXT NOT NULL)")
		committed := 0
		err := d.Transact(ctx, func(tx *db.Tx) error {
			tx.OnCommit(func() { committed++ })
			_, err := tx.ExecContext(ctx, "INSERT INTO things (name) VALUES ($1)", "kept")
			return err
		})
		if err != nil || committed != 1 {
			t.Fatalf("commit: err %v, hooks run %d", err, committed)
		}
		boom := errors.New("boom")
		err = d.Transact(ctx, func(tx *db.Tx) error {
			tx.OnCommit(func() { committed++ })
			if _, err := tx.ExecContext(ctx, "INSERT INTO things (name) VALUES ($1)", "lost"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("rollback returned %v, want boom", err)
		}
		if n := count(t, d, "things"); n != 1 || committed != 1 {
			t.Fatalf("after rollback: %d rows, %d hooks; want 1 and 1", n, committed)
		}
	})
}

func TestTransactNotifiesAfterCommitOnly(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		ch := d.Subscribe("topic")
		_ = d.Transact(ctx, func(tx *db.Tx) error {
			tx.Notify("topic")
			return errors.New("roll back")
		})
		select {
		case <-ch:
			t.Fatal("notified although the transaction rolled back")
		default:
		}
		_ = d.Transact(ctx, func(tx *db.Tx) error {
			tx.Notify("topic")
			select {
			case <-ch:
				t.Error("notified before commit")
			default:
			}
			return nil
		})
		select {
		case <-ch:
		case <-time.After(time.Second):
			t.Fatal("not notified after commit")
		}
	})
}

// A serialization failure raised by the server is retried until the
// function succeeds.
func TestPostgresRetriesSerializationFailure(t *testing.T) {
	d := dbtest.Open(t, db.Postgres)
	ctx := context.Background()
	mustExec(t, d, "CREATE TABLE things (name TEXT NOT NULL)")
	attempts := 0
	err := d.Transact(ctx, func(tx *db.Tx) error {
		attempts++
		if _, err := tx.ExecContext(ctx, "INSERT INTO things (name) VALUES ('x')"); err != nil {
			return err
		}
		if attempts < 3 {
			_, err := tx.ExecContext(ctx, `DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = '40001'; END $$`)
			return err
		}
		return nil
	})
	if err != nil || attempts != 3 {
		t.Fatalf("Transact = %v after %d attempts; want success on the 3rd", err, attempts)
	}
	if n := count(t, d, "things"); n != 1 {
		t.Fatalf("%d rows, want 1: failed attempts must leave nothing", n)
	}
}

// Two transactions lock two rows in opposite orders; PostgreSQL kills one
// with a deadlock (40P01) and Transact runs it again, so both succeed.
func TestPostgresRetriesDeadlock(t *testing.T) {
	d := dbtest.Open(t, db.Postgres)
	ctx := context.Background()
	mustExec(t, d, "CREATE TABLE acct (id INT PRIMARY KEY, n INT NOT NULL)")
	mustExec(t, d, "INSERT INTO acct VALUES (1, 0), (2, 0)")
	var attempts atomic.Int32
	var both sync.WaitGroup
	both.Add(2)
	firstLocks := make(chan struct{}, 2)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, order := range [][2]int{{1, 2}, {2, 1}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			errs[i] = d.Transact(ctx, func(tx *db.Tx) error {
				attempts.Add(1)
				if _, err := tx.ExecContext(ctx, "UPDATE acct SET n = n + 1 WHERE id = $1", order[0]); err != nil {
					return err
				}
				if first {
					// Both hold their first lock before either asks for its second.
					first = false
					firstLocks <- struct{}{}
					both.Done()
					both.Wait()
				}
				_, err := tx.ExecContext(ctx, "UPDATE acct SET n = n + 1 WHERE id = $1", order[1])
				return err
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
	}
	if attempts.Load() < 3 {
		t.Fatalf("%d attempts: no deadlock happened, the test proves nothing", attempts.Load())
	}
	var sum int
	if err := d.QueryRowContext(ctx, "SELECT SUM(n) FROM acct").Scan(&sum); err != nil || sum != 4 {
		t.Fatalf("sum %d (%v), want 4: each transaction applied exactly once", sum, err)
	}
}

// SQLite has one writer: concurrent transactions queue instead of failing
// with SQLITE_BUSY, and none of their increments is lost.
func TestConcurrentIncrementsLoseNothing(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		mustExec(t, d, "CREATE TABLE counter (id INT PRIMARY KEY, n INT NOT NULL)")
		mustExec(t, d, "INSERT INTO counter VALUES (1, 0)")
		const workers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		start := make(chan struct{})
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for range each {
					errs <- d.Transact(ctx, func(tx *db.Tx) error {
						var n int
						if err := tx.QueryRowContext(ctx, "SELECT n FROM counter WHERE id = 1"+forUpdate(d)).Scan(&n); err != nil {
							return err
						}
						_, err := tx.ExecContext(ctx, "UPDATE counter SET n = $1 WHERE id = 1", n+1)
						return err
					})
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := d.QueryRowContext(ctx, "SELECT n FROM counter WHERE id = 1").Scan(&n); err != nil || n != workers*each {
			t.Fatalf("counter %d (%v), want %d", n, err, workers*each)
		}
	})
}

func forUpdate(d *db.DB) string {
	if d.Engine() == db.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

func TestSQLiteReadPoolIsReadOnly(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	if _, err := d.QueryContext(context.Background(), "CREATE TABLE x (a INT) "); err == nil {
		t.Fatal("the read pool accepted a write")
	}
}

// A Transact inside a context carrying a transaction joins it: nothing
// commits until the outer one does, and an outer rollback undoes all.
func TestTransactJoinsTheContextsTransaction(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		mustExec(t, d, "CREATE TABLE things (name TEXT NOT NULL)")
		hooks := 0
		err := d.Transact(ctx, func(tx *db.Tx) error {
			inner := db.ContextWithTx(ctx, tx)
			for _, name := range []string{"a", "b"} {
				if err := d.Transact(inner, func(tx *db.Tx) error {
					tx.OnCommit(func() { hooks++ })
					_, err := tx.ExecContext(ctx, "INSERT INTO things (name) VALUES ($1)", name)
					return err
				}); err != nil {
					return err
				}
			}
			// The joined writes are visible inside, through Reader.
			var n int
			if err := d.Reader(inner).QueryRowContext(ctx, "SELECT COUNT(*) FROM things").Scan(&n); err != nil || n != 2 {
				t.Errorf("inside the batch: %d rows (%v)", n, err)
			}
			if hooks != 0 {
				t.Error("a joined unit of work ran its commit hooks before the outer commit")
			}
			return errors.New("roll back everything")
		})
		if err == nil || count(t, d, "things") != 0 || hooks != 0 {
			t.Fatalf("after outer rollback: err %v, %d rows, %d hooks", err, count(t, d, "things"), hooks)
		}
	})
}

// A commit hook carried by the context runs inside every transaction of
// the request, so what it writes commits or rolls back with the work.
func TestCommitHooksShareTheTransaction(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		mustExec(t, d, "CREATE TABLE work (name TEXT NOT NULL)")
		mustExec(t, d, "CREATE TABLE marks (name TEXT NOT NULL)")
		hooked := db.WithCommitHook(ctx, func(ctx context.Context, tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO marks (name) VALUES ('done')")
			return err
		})
		_ = d.Transact(hooked, func(tx *db.Tx) error {
			_, _ = tx.ExecContext(ctx, "INSERT INTO work (name) VALUES ('lost')")
			return errors.New("fail")
		})
		if count(t, d, "marks") != 0 {
			t.Fatal("the hook committed although the work rolled back")
		}
		if err := d.Transact(hooked, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO work (name) VALUES ('kept')")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if count(t, d, "marks") != 1 || count(t, d, "work") != 1 {
			t.Fatalf("marks %d, work %d; want 1 and 1", count(t, d, "marks"), count(t, d, "work"))
		}
	})
}
