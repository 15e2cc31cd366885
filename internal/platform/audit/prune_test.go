package audit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/clock"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
)

const day = 24 * time.Hour

// Pruning leaves a chain that verifies from its signed start, and a row
// deleted after pruning is still found, even the first kept one.
func TestPruneKeepsAVerifiableChain(t *testing.T) {
	forEachClocked(t, func(t *testing.T, d *db.DB, clk *clock.Manual) {
		ctx := context.Background()
		record(t, d, 5) // rows 1..5, ten days older than the rest
		drain(t, d)
		clk.Advance(10 * day)
		record(t, d, 5) // rows 6..10
		drain(t, d)

		n, err := audit.Prune(ctx, d, masterKey, 5*day)
		if err != nil || n != 5 {
			t.Fatalf("Prune = %d, %v; want 5 rows deleted", n, err)
		}
		rep := verify(t, d)
		wantFindings(t, rep)
		if rep.Start == nil || rep.Start.Seq != 6 || rep.First != 6 || rep.Last != 10 || rep.Head == nil || rep.Head.Seq != 10 {
			t.Fatalf("report %+v, want rows 6..10 from a signed start at 6", rep)
		}
		if n, err := audit.Prune(ctx, d, masterKey, 5*day); err != nil || n != 0 {
			t.Fatalf("second Prune = %d, %v; want nothing to do", n, err)
		}
		// The chain goes on after the prune.
		record(t, d, 2)
		drain(t, d)
		wantFindings(t, verify(t, d))

		exec(t, d, "DELETE FROM audit_log WHERE seq = 6")
		rep = verify(t, d)
		wantFindings(t, rep, finding(audit.RowDeleted, 6))
		if s := rep.String(); !strings.Contains(s, "row_deleted at seq 6: row 6 is missing") || !strings.Contains(s, "TAMPERED: 1 findings") {
			t.Fatalf("report text:\n%s", s)
		}
	})
}

// A retention shorter than the newest row's age keeps only the last row,
// so positions never start again from 1; a start checkpoint that is
// edited, or deleted, is reported.
func TestPruneEverythingKeepsTheHead(t *testing.T) {
	forEachClocked(t, func(t *testing.T, d *db.DB, clk *clock.Manual) {
		ctx := context.Background()
		record(t, d, 4)
		drain(t, d)
		clk.Advance(30 * day)
		n, err := audit.Prune(ctx, d, masterKey, day)
		if err != nil || n != 3 {
			t.Fatalf("Prune = %d, %v; want 3", n, err)
		}
		record(t, d, 1)
		drain(t, d)
		rows, err := audit.After(ctx, d, 0, 10)
		if err != nil || len(rows) != 2 || rows[0].Seq != 4 || rows[1].Seq != 5 {
			t.Fatalf("rows after prune: %+v, %v; want positions 4 and 5", rows, err)
		}
		wantFindings(t, verify(t, d))

		exec(t, d, "UPDATE audit_checkpoints SET seq = 3 WHERE kind = 'start'")
		wantFindings(t, verify(t, d), finding(audit.CheckpointBadSignature, 3), finding(audit.RowDeleted, 1))
		exec(t, d, "DELETE FROM audit_checkpoints WHERE kind = 'start'")
		wantFindings(t, verify(t, d), finding(audit.RowDeleted, 1))
	})
}

// Erasing a person's data blanks it in the log and keeps the chain
// verifiable; writing other data into an erased row is still found.
func TestErasePersonalData(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		record(t, d, 3) // on behalf of user_1
		other := reqctx.WithClient(context.Background(), "203.0.113.9", "other/2")
		if err := d.Transact(other, func(tx *db.Tx) error {
			return audit.Record(other, tx, audit.Entry{Action: "thing.read", ResourceType: "thing", OnBehalfOf: "user_2"})
		}); err != nil {
			t.Fatal(err)
		}
		drain(t, d)
		var n int64
		err := d.Transact(ctx, func(tx *db.Tx) error {
			var err error
			n, err = audit.ErasePersonalData(ctx, tx, "user_1")
			return err
		})
		if err != nil || n != 3 {
			t.Fatalf("erased %d, %v; want 3", n, err)
		}
		rows, err := audit.After(ctx, d, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows[:3] {
			if r.IP != "" || r.UserAgent != "" || r.OnBehalfOf != "" || !r.PersonalErased {
				t.Fatalf("row %d not erased: %+v", r.Seq, r)
			}
		}
		if r := rows[3]; r.IP != "203.0.113.9" || r.UserAgent != "other/2" || r.OnBehalfOf != "user_2" || r.PersonalErased {
			t.Fatalf("another person's row changed: %+v", r)
		}
		rep := verify(t, d)
		wantFindings(t, rep)
		if rep.Erased != 3 {
			t.Fatalf("report counts %d erased rows, want 3", rep.Erased)
		}
		exec(t, d, "UPDATE audit_log SET ip = '192.0.2.200' WHERE seq = 2")
		wantFindings(t, verify(t, d), finding(audit.PersonalDataEdited, 2))
	})
}

// Record takes who and from where from the request context, and the
// sequencer links the row.
func TestRecordTakesClientFromContext(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		record(t, d, 1)
		drain(t, d)
		rows, err := audit.After(context.Background(), d, 0, 10)
		if err != nil || len(rows) != 1 {
			t.Fatalf("rows %+v, %v", rows, err)
		}
		r := rows[0]
		if r.Actor != "cli_test" || r.RequestID != "req_1" || r.IP != "192.0.2.7" || r.UserAgent != "test-agent/1.0" ||
			r.OnBehalfOf != "user_1" || len(r.Hash) != 64 || r.PrevHash != "0000000000000000000000000000000000000000000000000000000000000000" {
			t.Fatalf("row %+v", r)
		}
	})
}
