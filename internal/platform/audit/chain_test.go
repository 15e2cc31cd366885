package audit_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/clock"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/sequencer"
)

// Each tampering an attacker with write access to the database could try
// is reported exactly, on both engines.
func TestVerifyFindsEachTampering(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, d *db.DB)
		want   []audit.Finding
	}{
		{"clean", func(*testing.T, *db.DB) {}, nil},
		{"edited row", func(t *testing.T, d *db.DB) {
			exec(t, d, "UPDATE audit_log SET actor = 'cli_mallory' WHERE seq = 5")
		}, []audit.Finding{finding(audit.RowEdited, 5)}},
		{"edited details", func(t *testing.T, d *db.DB) {
			exec(t, d, `UPDATE audit_log SET details = '{"fields":[]}' WHERE seq = 2`)
		}, []audit.Finding{finding(audit.RowEdited, 2)}},
		{"edited IP", func(t *testing.T, d *db.DB) {
			exec(t, d, "UPDATE audit_log SET ip = '198.51.100.1' WHERE seq = 4")
		}, []audit.Finding{finding(audit.PersonalDataEdited, 4)}},
		{"deleted row", func(t *testing.T, d *db.DB) {
			exec(t, d, "DELETE FROM audit_log WHERE seq = 5")
		}, []audit.Finding{finding(audit.RowDeleted, 5)}},
		{"deleted first row", func(t *testing.T, d *db.DB) {
			exec(t, d, "DELETE FROM audit_log WHERE seq = 1")
		}, []audit.Finding{finding(audit.RowDeleted, 1)}},
		{"deleted and renumbered", func(t *testing.T, d *db.DB) {
			// Delete the last row but one and move the last into its place:
			// positions stay gapless, the link and the position give it away.
			exec(t, d, "DELETE FROM audit_log WHERE seq = 9")
			exec(t, d, "UPDATE audit_log SET seq = 9 WHERE seq = 10")
		}, []audit.Finding{finding(audit.ChainBroken, 9), finding(audit.RowEdited, 9), finding(audit.TailCut, 10)}},
		{"cut tail", func(t *testing.T, d *db.DB) {
			exec(t, d, "DELETE FROM audit_log WHERE seq > 7")
		}, []audit.Finding{finding(audit.TailCut, 8)}},
		{"edited checkpoint", func(t *testing.T, d *db.DB) {
			exec(t, d, "UPDATE audit_checkpoints SET seq = 9 WHERE seq = 10")
		}, []audit.Finding{finding(audit.CheckpointBadSignature, 9)}},
		{"hash removed", func(t *testing.T, d *db.DB) {
			exec(t, d, "UPDATE audit_log SET hash = NULL WHERE seq = 5")
		}, []audit.Finding{finding(audit.RowUnhashed, 5), finding(audit.ChainBroken, 6)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachClocked(t, func(t *testing.T, d *db.DB, clk *clock.Manual) {
				// Two passes, a minute apart: head checkpoints at 4 and 10.
				record(t, d, 4)
				drain(t, d)
				clk.Advance(audit.CheckpointInterval)
				record(t, d, 6)
				drain(t, d)
				c.tamper(t, d)
				rep := verify(t, d)
				wantFindings(t, rep, c.want...)
				if c.want == nil && (rep.Rows != 10 || rep.First != 1 || rep.Last != 10 || rep.Checkpoints != 2 || rep.Head == nil || rep.Head.Seq != 10) {
					t.Fatalf("clean report %+v (head %+v), want rows 1..10 and head checkpoints at 4 and 10", rep, rep.Head)
				}
			})
		})
	}
}

// The linker and Verify agree across batch boundaries, checkpoints come
// every CheckpointEvery rows, and a tampered row deep in the log is found.
func TestVerifyStreamsLongChains(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		record(t, d, 2500)
		drain(t, d)
		rep := verify(t, d)
		wantFindings(t, rep)
		if rep.Rows != 2500 || rep.Checkpoints != 2 || rep.Head.Seq != 2000 {
			t.Fatalf("report %+v, want 2500 rows and checkpoints at 1000 and 2000", rep)
		}
		exec(t, d, "UPDATE audit_log SET resource_id = 'thing_x' WHERE seq = 1500")
		exec(t, d, "DELETE FROM audit_log WHERE seq = 2000")
		wantFindings(t, verify(t, d), finding(audit.RowEdited, 1500), finding(audit.RowDeleted, 2000))
	})
}

// The head is signed within CheckpointInterval even when no row follows,
// and not more often.
func TestCheckpointEveryInterval(t *testing.T) {
	forEachClocked(t, func(t *testing.T, d *db.DB, clk *clock.Manual) {
		count := func() (n int64) {
			if err := d.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM audit_checkpoints WHERE kind = 'head'").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		record(t, d, 3)
		drain(t, d)
		record(t, d, 2)
		drain(t, d)
		if n := count(); n != 1 {
			t.Fatalf("%d checkpoints before the interval, want 1 (the first)", n)
		}
		clk.Advance(audit.CheckpointInterval)
		drain(t, d) // an idle pass
		if n := count(); n != 2 {
			t.Fatalf("%d checkpoints after the interval, want 2", n)
		}
		drain(t, d)
		if n := count(); n != 2 {
			t.Fatalf("%d checkpoints with the head already signed, want 2", n)
		}
		if rep := verify(t, d); !rep.OK() || rep.Head.Seq != 5 {
			t.Fatalf("report %+v, want clean with head 5", rep)
		}
	})
}

// Rows numbered without a key stay unhashed and are reported as unchained,
// not as tampering; once a key is configured the chain starts after them.
// A checkpoint made under another master key does not verify.
func TestUnchainedRowsAndOtherKeys(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		configure(t, nil)
		record(t, d, 3)
		drain(t, d)
		rows, err := audit.After(context.Background(), d, 0, 10)
		if err != nil || len(rows) != 3 || rows[0].Hash != "" {
			t.Fatalf("rows %+v, %v: want 3 unhashed", rows, err)
		}
		if err := audit.Configure(masterKey); err != nil {
			t.Fatal(err)
		}
		record(t, d, 2)
		drain(t, d)
		rep := verify(t, d)
		wantFindings(t, rep)
		if rep.Unchained != 3 || rep.Rows != 5 || rep.Head == nil || rep.Head.Seq != 5 {
			t.Fatalf("report %+v, want 3 unchained of 5 rows, head 5", rep)
		}
		other := make([]byte, audit.MasterKeySize)
		rep, err = audit.Verify(context.Background(), d, other)
		if err != nil {
			t.Fatal(err)
		}
		wantFindings(t, rep, finding(audit.PersonalDataEdited, 4), finding(audit.PersonalDataEdited, 5), finding(audit.CheckpointBadSignature, 5))
	})
}

// Two nodes' sequencers run while writers commit out of order: the chain
// they build together verifies, with every row linked exactly once.
func TestTwoSequencersBuildOneChain(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		other := dbtest.OpenURL(t, d.URL())
		var nodes sync.WaitGroup
		for _, node := range []*db.DB{d, other} {
			nodes.Add(1)
			go func() {
				defer nodes.Done()
				sequencer.Run(ctx, node, nil, 5*time.Millisecond)
			}()
		}
		var writers sync.WaitGroup
		for w := range 6 {
			writers.Add(1)
			go func() {
				defer writers.Done()
				for i := range 10 {
					err := d.Transact(ctx, func(tx *db.Tx) error {
						if err := audit.Record(ctx, tx, audit.Entry{Action: "thing.create", ResourceType: "thing",
							ResourceID: fmt.Sprintf("w%d-%d", w, i)}); err != nil {
							return err
						}
						time.Sleep(time.Duration(rand.IntN(15)) * time.Millisecond)
						return nil
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		writers.Wait()
		deadline := time.Now().Add(10 * time.Second)
		for {
			n, err := sequencer.Backlog(ctx, d, audit.Topic)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		nodes.Wait()
		rep := verify(t, d)
		wantFindings(t, rep)
		if rep.Rows != 60 || rep.Unchained != 0 || rep.Head == nil {
			t.Fatalf("report %+v, want 60 chained rows under a signed head", rep)
		}
	})
}
