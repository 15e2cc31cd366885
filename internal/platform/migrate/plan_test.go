package migrate_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
)

// Unique external ids are partial indexes (an empty id may repeat), and
// neither engine uses a partial index for a parameter unless the
// statement excludes the empty id itself. Every lookup by external id is
// written "external_id = $N AND external_id <> ”"; this pins why, on
// both engines, with PostgreSQL's generic plan (the one a prepared
// statement settles on) and SQLite's only plan.
func TestLookupsUsePartialIndexes(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		for _, table := range []string{"customers", "sales_orders", "products", "payments"} {
			lookup := "SELECT id FROM " + table + " WHERE company_id = $1 AND external_id = $2"
			with, without := plan(t, d, lookup+" AND external_id <> ''"), plan(t, d, lookup)
			index := table + "_external_id"
			if !strings.Contains(with, index) {
				t.Errorf("%s: the lookup does not use %s:\n%s", table, index, with)
			}
			if strings.Contains(without, index) {
				t.Logf("%s: the engine now uses the partial index without the extra term:\n%s", table, without)
			}
		}
		for index, lookup := range map[string]string{
			"journal_entries_source": "SELECT id FROM journal_entries WHERE company_id = $1 AND source_type = $2 AND source_id = $2 AND purpose = $2 AND status = 'posted' AND source_type <> ''",
			"stock_moves_source":     "SELECT id FROM stock_moves WHERE company_id = $1 AND source_type = $2 AND source_id = $2 AND purpose = $2 AND source_type <> ''",
			"accounts_role":          "SELECT id FROM accounts WHERE company_id = $1 AND role = $2 AND role <> '' AND active",
			// resource.checkUnique, on every create and update
			"customers_external_id": "SELECT id FROM customers WHERE external_id = $2 AND external_id <> '' AND id <> $2 AND company_id = $1 LIMIT 1",
		} {
			if p := plan(t, d, lookup); !strings.Contains(p, index) {
				t.Errorf("the lookup does not use %s:\n%s", index, p)
			}
		}
	})
}

func plan(t *testing.T, d *db.DB, query string) string {
	t.Helper()
	ctx := context.Background()
	var lines []string
	if d.Engine() == db.SQLite {
		rows, err := d.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, "co", "ext")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, detail)
		}
		return strings.Join(lines, "\n")
	}
	// One connection: the settings and the prepared statement are per
	// session.
	conn, err := d.Write().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, stmt := range []string{"SET plan_cache_mode = force_generic_plan", "SET enable_seqscan = off",
		"PREPARE lookup(text, text) AS " + query} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	defer conn.ExecContext(ctx, "DEALLOCATE lookup; RESET plan_cache_mode; RESET enable_seqscan")
	rows, err := conn.QueryContext(ctx, "EXPLAIN EXECUTE lookup('co', 'ext')")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var l sql.NullString
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l.String)
	}
	return strings.Join(lines, "\n")
}
