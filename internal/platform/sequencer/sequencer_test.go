package sequencer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/sequencer"
)

func TestMain(m *testing.M) {
	events.Declare(
		events.Type{Name: "mainstay.test.thing.created", Scope: "catalog:read", Description: "test", Data: events.Of[any]()},
	)
	dbtest.Main(m)
}

// Writers hold their transactions open for random times after inserting,
// so rows commit out of insertion order, while a reader tails the feed by
// position. The reader must see every row exactly once, in increasing
// position, without ever looking back.
func TestTailingReaderNeverMissesLateCommits(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go sequencer.Run(ctx, d, nil, 5*time.Millisecond)

		const writers, each = 8, 6
		want := map[string]bool{}
		var wantMu sync.Mutex
		seen := map[string]bool{}
		readerDone := make(chan error, 1)
		stopReading := make(chan struct{})
		go func() {
			var cursor int64
			for {
				batch, err := events.After(ctx, d, cursor, 100)
				if err != nil {
					readerDone <- err
					return
				}
				for _, e := range batch {
					if e.Seq <= cursor {
						readerDone <- fmt.Errorf("position %d after %d", e.Seq, cursor)
						return
					}
					if seen[e.ID] {
						readerDone <- fmt.Errorf("event %s read twice", e.ID)
						return
					}
					seen[e.ID] = true
					cursor = e.Seq
				}
				if len(batch) == 0 {
					select {
					case <-stopReading:
						readerDone <- nil
						return
					case <-time.After(2 * time.Millisecond):
					}
				}
			}
		}()

		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					var eventID string
					err := d.Transact(ctx, func(tx *db.Tx) error {
						var err error
						eventID, err = events.Record(ctx, tx, events.Event{
							Type: "mainstay.test.thing.created", Subject: fmt.Sprintf("w%d-%d", w, i),
							Data: map[string]any{"writer": w, "i": i},
						})
						if err != nil {
							return err
						}
						if err := audit.Record(ctx, tx, audit.Entry{Action: "thing.create", ResourceType: "thing"}); err != nil {
							return err
						}
						time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
						return nil
					})
					if err != nil {
						t.Error(err)
						return
					}
					wantMu.Lock()
					want[eventID] = true
					wantMu.Unlock()
				}
			}()
		}
		wg.Wait()
		// Let the sequencer and the reader catch up, then stop reading.
		deadline := time.Now().Add(10 * time.Second)
		for {
			n, err := sequencer.Backlog(ctx, d, "outbox_events")
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		close(stopReading)
		if err := <-readerDone; err != nil {
			t.Fatal(err)
		}
		if len(seen) != len(want) || len(want) != writers*each {
			t.Fatalf("reader saw %d events, %d written (want %d)", len(seen), len(want), writers*each)
		}
		for id := range want {
			if !seen[id] {
				t.Fatalf("reader missed %s", id)
			}
		}
		if n, _ := sequencer.Backlog(ctx, d, "audit_log"); n != 0 {
			t.Fatalf("%d audit rows left unsequenced", n)
		}
		if d.Engine() == db.Postgres {
			// Prove the race happened: some row inserted earlier was
			// positioned later because its transaction committed later.
			var reordered int
			err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox_events a JOIN outbox_events b
ON a.id < b.id AND a.seq > b.seq`).Scan(&reordered)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d pairs committed out of insertion order", reordered)
		}
	})
}

// Two sequencers (two nodes) running at once never give one position
// twice or leave a gap.
func TestConcurrentSequencersGiveUniqueGaplessPositions(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		for i := range 300 {
			err := d.Transact(ctx, func(tx *db.Tx) error {
				_, err := events.Record(ctx, tx, events.Event{Type: "mainstay.test.thing.created", Data: i})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		other := dbtest.OpenURL(t, d.URL())
		var wg sync.WaitGroup
		for _, node := range []*db.DB{d, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n, err := sequencer.Assign(ctx, node, "outbox_events")
					if err != nil {
						t.Error(err)
						return
					}
					if n == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		var n, lo, hi, distinct int64
		err := d.QueryRowContext(ctx, "SELECT COUNT(*), MIN(seq), MAX(seq), COUNT(DISTINCT seq) FROM outbox_events").Scan(&n, &lo, &hi, &distinct)
		if err != nil {
			t.Fatal(err)
		}
		if n != 300 || lo != 1 || hi != 300 || distinct != 300 {
			t.Fatalf("count %d, positions %d..%d, %d distinct; want 300 gapless", n, lo, hi, distinct)
		}
	})
}

// Deterministically: transaction A inserts first but commits only after B's
// later row has been given a position and read. A must then get a later
// position, so the reader, already past B, still sees it.
func TestPostgresLateCommitGetsLaterPosition(t *testing.T) {
	d := dbtest.Open(t, db.Postgres)
	ctx := context.Background()
	record := func(tx *db.Tx, subject string) string {
		id, err := events.Record(ctx, tx, events.Event{Type: "mainstay.test.thing.created", Subject: subject, Data: subject})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	aInserted, bRead := make(chan struct{}), make(chan struct{})
	aDone := make(chan error, 1)
	go func() {
		aDone <- d.Transact(ctx, func(tx *db.Tx) error {
			record(tx, "A")
			close(aInserted)
			<-bRead
			return nil
		})
	}()
	<-aInserted
	if err := d.Transact(ctx, func(tx *db.Tx) error { record(tx, "B"); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := sequencer.Assign(ctx, d, "outbox_events"); err != nil {
		t.Fatal(err)
	}
	first, err := events.After(ctx, d, 0, 10)
	if err != nil || len(first) != 1 || first[0].Subject != "B" {
		t.Fatalf("before A commits the feed holds %+v (%v), want only B", first, err)
	}
	close(bRead)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	if _, err := sequencer.Assign(ctx, d, "outbox_events"); err != nil {
		t.Fatal(err)
	}
	next, err := events.After(ctx, d, first[0].Seq, 10)
	if err != nil || len(next) != 1 || next[0].Subject != "A" {
		t.Fatalf("after B's position the feed holds %+v (%v), want A", next, err)
	}
}

// A linker runs in every pass, inside its transaction: it sees each
// numbered range exactly once and in order, it is called on empty passes
// too, and its error rolls the numbering back so no row is numbered
// without its link.
func TestLinkerRunsInThePassAndItsErrorUndoesIt(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		type span struct{ first, last int64 }
		var seen []span
		fail := false
		sequencer.SetLinker("outbox_events", func(ctx context.Context, tx *db.Tx, first, last int64) error {
			if fail {
				return fmt.Errorf("linker refuses")
			}
			// The rows are numbered in this transaction already.
			var n int64
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox_events WHERE seq BETWEEN $1 AND $2", first, last).Scan(&n); err != nil {
				return err
			}
			if n != last-first+1 && first <= last {
				return fmt.Errorf("linker sees %d rows in %d..%d", n, first, last)
			}
			seen = append(seen, span{first, last})
			return nil
		})
		defer sequencer.SetLinker("outbox_events", nil)
		record := func(k int) {
			err := d.Transact(ctx, func(tx *db.Tx) error {
				for i := range k {
					if _, err := events.Record(ctx, tx, events.Event{Type: "mainstay.test.thing.created", Data: i}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		record(3)
		fail = true
		if _, err := sequencer.Assign(ctx, d, "outbox_events"); err == nil {
			t.Fatal("a failing linker did not fail the pass")
		}
		if n, _ := sequencer.Backlog(ctx, d, "outbox_events"); n != 3 {
			t.Fatalf("%d rows unnumbered after a failed pass, want 3", n)
		}
		fail = false
		for _, k := range []int{0, 2} {
			record(k)
			if _, err := sequencer.Assign(ctx, d, "outbox_events"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := sequencer.Assign(ctx, d, "outbox_events"); err != nil {
			t.Fatal(err)
		}
		want := []span{{1, 3}, {4, 5}, {6, 5}}
		if fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Fatalf("linker saw %v, want %v", seen, want)
		}
	})
}

// Without audit.Configure, audit rows are numbered as before and carry no
// hash.
func TestAuditRowsUnhashedWithoutKey(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		err := d.Transact(ctx, func(tx *db.Tx) error {
			return audit.Record(ctx, tx, audit.Entry{Action: "thing.create", ResourceType: "thing"})
		})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := sequencer.Assign(ctx, d, "audit_log"); err != nil || n != 1 {
			t.Fatalf("Assign = %d, %v", n, err)
		}
		rows, err := audit.After(ctx, d, 0, 10)
		if err != nil || len(rows) != 1 || rows[0].Seq != 1 || rows[0].Hash != "" {
			t.Fatalf("rows = %+v, %v; want one numbered, unhashed row", rows, err)
		}
	})
}
