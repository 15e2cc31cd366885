package audit_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/clock"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
	"github.com/mainstay-erp/mainstay/internal/platform/sequencer"
)

// masterKey is the key the package's tests run under. Tests change the
// configured key only with configure, which restores it, and none runs in
// parallel.
var masterKey = bytes.Repeat([]byte{0x5a}, audit.MasterKeySize)

func TestMain(m *testing.M) {
	if err := audit.Configure(masterKey); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dbtest.Main(m)
}

// configure sets the key for one test and restores the package's after.
func configure(t *testing.T, key []byte) {
	t.Helper()
	if err := audit.Configure(key); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = audit.Configure(masterKey) })
}

// openClocked returns a fresh migrated database of the engine whose
// transactions read the time from clk.
func openClocked(t *testing.T, e db.Engine, clk clock.Clock) *db.DB {
	t.Helper()
	u := dbtest.SQLiteURL(t, true)
	if e == db.Postgres {
		u = dbtest.PostgresURL(t, true)
	}
	d, err := db.Open(context.Background(), db.Options{URL: u, Clock: clk, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// forEachClocked is dbtest.ForEachEngine with a manual clock.
func forEachClocked(t *testing.T, fn func(t *testing.T, d *db.DB, clk *clock.Manual)) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			clk := clock.NewManual(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
			fn(t, openClocked(t, e, clk), clk)
		})
	}
}

// record writes n audit rows in one transaction, as a request would.
func record(t *testing.T, d *db.DB, n int) {
	t.Helper()
	ctx := reqctx.WithClient(reqctx.WithRequestID(reqctx.WithActor(context.Background(), "cli_test"), "req_1"), "192.0.2.7", "test-agent/1.0")
	err := d.Transact(ctx, func(tx *db.Tx) error {
		for i := range n {
			if err := audit.Record(ctx, tx, audit.Entry{
				Action: "thing.update", ResourceType: "thing", ResourceID: fmt.Sprintf("thing_%d", i),
				CompanyID: "co_1", OnBehalfOf: "user_1", Details: map[string]any{"fields": []string{"name"}},
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// drain numbers (and links) every pending audit row.
func drain(t *testing.T, d *db.DB) {
	t.Helper()
	for {
		n, err := sequencer.Assign(context.Background(), d, audit.Topic)
		if err != nil {
			t.Fatal(err)
		}
		if n < sequencer.Batch {
			return
		}
	}
}

func verify(t *testing.T, d *db.DB) audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), d, masterKey)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// exec runs raw SQL: the tampering of an attacker with database access.
func exec(t *testing.T, d *db.DB, sql string, args ...any) {
	t.Helper()
	if _, err := d.ExecContext(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// wantFindings checks the report's findings, kind and position, in order.
func wantFindings(t *testing.T, rep audit.Report, want ...audit.Finding) {
	t.Helper()
	got := make([]string, len(rep.Findings))
	for i, f := range rep.Findings {
		got[i] = fmt.Sprintf("%s@%d", f.Kind, f.Seq)
	}
	exp := make([]string, len(want))
	for i, f := range want {
		exp[i] = fmt.Sprintf("%s@%d", f.Kind, f.Seq)
	}
	if fmt.Sprint(got) != fmt.Sprint(exp) {
		t.Fatalf("findings %v, want %v\n%+v", got, exp, rep.Findings)
	}
	if (len(want) == 0) != rep.OK() {
		t.Fatalf("OK() = %v with findings %v", rep.OK(), got)
	}
}

func finding(kind audit.FindingKind, seq int64) audit.Finding {
	return audit.Finding{Kind: kind, Seq: seq}
}
