package hr_test

import (
	"context"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/company"
	"github.com/mainstay-erp/mainstay/internal/hr"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/crypto"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestWeekdays(t *testing.T) {
	for _, c := range []struct {
		from, to string
		want     int
	}{{"2026-03-02", "2026-03-06", 5}, {"2026-03-02", "2026-03-08", 5}, {"2026-03-07", "2026-03-08", 0}, {"2026-03-06", "2026-03-09", 2}, {"2026-03-09", "2026-03-02", 0}} {
		if got := hr.Weekdays(c.from, c.to); got != c.want {
			t.Errorf("%s..%s: %d, want %d", c.from, c.to, got, c.want)
		}
	}
}

// TestEffectiveDatedVersions: changes made in any order land in the
// right versions, later versions take what an earlier change sets, and
// every version is sealed with the employee's key (no clear text stored).
func TestEffectiveDatedVersions(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := auth.WithPrincipal(context.Background(), auth.Principal{ClientID: "cli_test", Scopes: auth.AllScopes()})
		api := rest.NewAPI("test", "1", "http://localhost")
		eng := resource.NewEngine(d, api)
		companies := resource.Register[company.Company](eng, company.Spec)
		master := make([]byte, 32)
		m := hr.Mount(api, eng, d, crypto.NewKeyring(d, master))
		co, err := companies.Create(ctx, "", map[string]any{"legal_name": "Acme", "base_currency": "EUR"})
		if err != nil {
			t.Fatal(err)
		}
		var id string
		write := func(fn func(tx *db.Tx) error) {
			t.Helper()
			if err := d.Transact(ctx, fn); err != nil {
				t.Fatal(err)
			}
		}
		write(func(tx *db.Tx) error {
			e, _, err := m.Employees.Create(ctx, tx, co.Value.ID, map[string]any{"employee_number": "1", "given_name": "A", "family_name": "B",
				"start_date": "2026-01-01", "national_id": "SECRET-ID", "work_location": "Berlin"})
			id = e.ID
			return err
		})
		// A move scheduled first, then a correction effective earlier.
		write(func(tx *db.Tx) error {
			_, _, err := m.Employees.Update(ctx, tx, id, hr.Change{Effective: "2026-09-01", Body: map[string]any{"work_location": "Hamburg"}})
			return err
		})
		write(func(tx *db.Tx) error {
			_, _, err := m.Employees.Update(ctx, tx, id, hr.Change{Effective: "2026-05-01", Body: map[string]any{"phone": "+49 1"}})
			return err
		})
		// Inside one transaction, a create then a change (data key made in it).
		write(func(tx *db.Tx) error {
			e, _, err := m.Employees.Create(ctx, tx, co.Value.ID, map[string]any{"employee_number": "2", "given_name": "C", "family_name": "D",
				"start_date": "2026-01-01", "national_id": "OTHER"})
			if err != nil {
				return err
			}
			_, _, err = m.Employees.Update(ctx, tx, e.ID, hr.Change{Effective: "2026-02-01", Body: map[string]any{"family_name": "E"}})
			return err
		})
		for _, c := range []struct{ asOf, location, phone string }{
			{"2026-04-30", "Berlin", ""}, {"2026-05-01", "Berlin", "+49 1"}, {"2026-09-01", "Hamburg", "+49 1"},
		} {
			e, _, err := m.Employees.Get(ctx, id, c.asOf)
			if err != nil {
				t.Fatal(err)
			}
			if e.WorkLocation != c.location || e.Phone != c.phone || e.NationalID != "SECRET-ID" {
				t.Fatalf("as of %s: %+v", c.asOf, e)
			}
		}
		hist, _, err := m.Employees.History(ctx, id)
		if err != nil || len(hist) != 3 || hist[1].EffectiveFrom != "2026-05-01" || hist[1].EffectiveTo != "2026-08-31" {
			t.Fatalf("history %+v %v", hist, err)
		}
		var clear int
		if err := d.QueryRowContext(ctx, "SELECT COUNT(*) FROM employee_versions WHERE doc LIKE '%SECRET-ID%'").Scan(&clear); err != nil || clear != 0 {
			t.Fatalf("national id in clear in %d versions (%v)", clear, err)
		}
		// Another company's principal sees nothing.
		other := auth.WithPrincipal(context.Background(), auth.Principal{ClientID: "cli_other", Scopes: auth.AllScopes(), Companies: []string{"co_other"}})
		if _, _, err := m.Employees.Get(other, id, ""); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("other company: %v", err)
		}
	})
}
