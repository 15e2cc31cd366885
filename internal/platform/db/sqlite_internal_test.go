package db

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// The SQLite statement cache: a statement runs prepared once per
// connection however often it runs; the same statement run again while
// its rows are still being read (a nested query) gets its own statement
// and neither result is disturbed; past the cache's size old statements
// are dropped and everything still answers right.
func TestSQLiteStatementCache(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, Options{URL: "sqlite:" + filepath.Join(t.TempDir(), "c.db"), MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Transact(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, "CREATE TABLE t (x INTEGER NOT NULL)"); err != nil {
			return err
		}
		for i := range 10 {
			if _, err := tx.ExecContext(ctx, "INSERT INTO t (x) VALUES ($1)", i); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	before := stmtsPrepared.Load()
	for i := range 200 {
		var n int
		if err := d.QueryRowContext(ctx, "SELECT COUNT(*) FROM t WHERE x >= $1", i%10).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 10-i%10 {
			t.Fatalf("count from %d: %d", i%10, n)
		}
	}
	if got := stmtsPrepared.Load() - before; got < 1 || got > 2 {
		t.Fatalf("200 runs of one query on a pool of 2 prepared %d statements, want 1 or 2", got)
	}

	// Nested: the outer rows stay open on the one write connection while
	// the same text runs inside.
	const q = "SELECT x FROM t WHERE x >= $1 ORDER BY x"
	if err := d.Transact(ctx, func(tx *Tx) error {
		outer, err := tx.QueryContext(ctx, q, 0)
		if err != nil {
			return err
		}
		defer outer.Close()
		seen := 0
		for outer.Next() {
			var x int
			if err := outer.Scan(&x); err != nil {
				return err
			}
			if x != seen {
				return fmt.Errorf("outer row %d is %d", seen, x)
			}
			seen++
			inner, err := tx.QueryContext(ctx, q, x)
			if err != nil {
				return err
			}
			n := 0
			for inner.Next() {
				n++
			}
			if err := inner.Close(); err != nil {
				return err
			}
			if n != 10-x {
				return fmt.Errorf("inner from %d: %d rows", x, n)
			}
		}
		if seen != 10 {
			return fmt.Errorf("outer saw %d rows", seen)
		}
		return outer.Err()
	}); err != nil {
		t.Fatal(err)
	}

	// More distinct statements than the cache holds, twice over.
	for round := range 2 {
		for i := range stmtCacheSize + 50 {
			var got int
			if err := d.QueryRowContext(ctx, fmt.Sprintf("SELECT MAX(x) + %d FROM t", i)).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != 9+i {
				t.Fatalf("round %d, statement %d: %d", round, i, got)
			}
		}
	}
}

// SQLite transactions waiting for the write connection get it in the
// order they asked (database/sql alone picks a random waiter), and a
// waiter whose context ends gives up without running.
func TestSQLiteWritersQueueInOrder(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, Options{URL: "sqlite:" + filepath.Join(t.TempDir(), "q.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	release, holding := make(chan struct{}), make(chan struct{})
	go func() {
		_ = d.Transact(ctx, func(tx *Tx) error { close(holding); <-release; return nil })
	}()
	<-holding
	var mu sync.Mutex
	var order []int
	done := make(chan struct{})
	const waiters = 8
	for i := range waiters {
		go func() {
			_ = d.Transact(ctx, func(tx *Tx) error {
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				return nil
			})
			done <- struct{}{}
		}()
		time.Sleep(20 * time.Millisecond) // arrive one after another
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	if err := d.Transact(gone, func(tx *Tx) error { ran = true; return nil }); err == nil || ran {
		t.Fatalf("a cancelled waiter: err %v, ran %v", err, ran)
	}
	close(release)
	for range waiters {
		<-done
	}
	if !slices.Equal(order, []int{0, 1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("writers ran in order %v", order)
	}
}

// Memo loads once per transaction, forgets failures, and starts afresh in
// the next transaction.
func TestMemo(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, Options{URL: "sqlite:" + filepath.Join(t.TempDir(), "m.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	loads := 0
	load := func() (int, error) { loads++; return loads, nil }
	fail := func() (int, error) { loads++; return 0, fmt.Errorf("no") }
	for range 2 {
		before := loads
		if err := d.Transact(ctx, func(tx *Tx) error {
			if _, err := Memo(tx, "k", fail); err == nil {
				return fmt.Errorf("a failed load returned no error")
			}
			a, _ := Memo(tx, "k", load)
			b, _ := Memo(tx, "k", load)
			if a != b {
				return fmt.Errorf("second call loaded again: %d, %d", a, b)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if loads-before != 2 {
			t.Fatalf("%d loads in a transaction, want 2 (the failure, then one)", loads-before)
		}
	}
}
