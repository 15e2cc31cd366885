package payments_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/finance/collections"
	"github.com/mainstay-erp/mainstay/internal/finance/payments"
	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type fixture struct {
	ctx      context.Context
	db       *db.DB
	co       string
	customer string
	ar, rev  string
	n        int64
}

func newFixture(t *testing.T, e db.Engine) *fixture {
	t.Helper()
	s := apitest.Start(t, e)
	f := &fixture{ctx: auth.WithPrincipal(context.Background(), auth.Principal{ClientID: "test", Scopes: auth.AllScopes()}), db: s.App.DB()}
	svc := s.App.Services()
	co, err := svc.Companies.Create(f.ctx, "", map[string]any{"legal_name": "Pay GmbH", "base_currency": "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	f.co = co.Value.ID
	cu, err := svc.Customers.Create(f.ctx, f.co, map[string]any{"name": "Kunde", "currency": "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	f.customer = cu.Value.ID
	accounts := map[string]string{}
	rows, err := f.db.QueryContext(f.ctx, "SELECT code, id FROM accounts WHERE company_id = $1", f.co)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var code, id string
		if err := rows.Scan(&code, &id); err != nil {
			t.Fatal(err)
		}
		accounts[code] = id
	}
	_ = rows.Close()
	f.ar, f.rev = accounts["1100"], accounts["4000"]
	return f
}

// invoice is a finalized invoice as invoicing leaves it: a row and an entry
// whose line 1 debits receivables.
func (f *fixture) invoice(t *testing.T, date, due, amount string) string {
	t.Helper()
	f.n++
	inv, amt := id.New("inv"), money.MustParse(amount)
	err := f.db.Transact(f.ctx, func(tx *db.Tx) error {
		e, err := ledger.Post(f.ctx, tx, ledger.Posting{CompanyID: f.co, Date: date, Currency: "EUR", SourceType: "invoice", SourceID: inv, Purpose: "revenue",
			Lines: []ledger.Line{{AccountID: f.ar, Debit: amt}, {AccountID: f.rev, Credit: amt}}})
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(f.ctx, `INSERT INTO invoices (id, company_id, kind, series, number, status, payment_status, customer_id, currency,
invoice_date, due_date, net_total, tax_total, gross_total, journal_entry_id, receivable_line_no, doc, created_at)
VALUES ($1, $2, 'invoice', 'T', $3, 'finalized', 'unpaid', $4, 'EUR', $5, $6, $7, 0, $7, $8, 1, '{}', $9)`,
			inv, f.co, f.n, f.customer, date, due, money.Amount(&amt), e.ID, tx.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func (f *fixture) tx(t *testing.T, fn func(tx *db.Tx) error) error {
	t.Helper()
	return f.db.Transact(f.ctx, fn)
}

// The service on both engines: an over-payment's credit applied and
// refunded, each step refused beyond what is open, and the aging derived
// from the allocations as of any date.
func TestPaymentLifecycle(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d.Engine())
		inv1 := f.invoice(t, "2026-02-01", "2026-02-15", "40.00")
		inv2 := f.invoice(t, "2026-02-10", "2026-03-10", "25.00")
		var p payments.Payment
		err := f.tx(t, func(tx *db.Tx) error {
			var err error
			p, _, err = payments.Create(f.ctx, tx, payments.CreateInput{CompanyID: f.co, CustomerID: f.customer, Amount: money.MustParse("70"),
				Date: "2026-02-20", Allocations: []payments.PaymentAllocationInput{{InvoiceID: inv1, Amount: money.MustParse("40")}}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if !p.Unapplied.Equal(money.MustParse("30")) || p.UnappliedLineNo != 3 || p.Currency != "EUR" {
			t.Fatalf("payment %+v", p)
		}
		// The credit covers inv2 (25); 10 more is refused, 5 refunded.
		apply := func(amount string) error {
			return f.tx(t, func(tx *db.Tx) error {
				_, err := payments.Apply(f.ctx, tx, f.co, p.ID, payments.ApplyInput{Date: "2026-03-01",
					Allocations: []payments.PaymentAllocationInput{{InvoiceID: inv2, Amount: money.MustParse(amount)}}})
				return err
			})
		}
		if err := apply("26"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("over-application: %v", err)
		}
		if err := apply("25"); err != nil {
			t.Fatal(err)
		}
		if err := apply("1"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("application of a paid invoice: %v", err)
		}
		err = f.tx(t, func(tx *db.Tx) error {
			_, err := payments.Refund(f.ctx, tx, f.co, p.ID, payments.RefundInput{Amount: money.MustParse("5"), Date: "2026-03-05"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := payments.Get(f.ctx, f.db, f.co, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Unapplied.IsZero() || len(got.Allocations) != 3 || got.Allocations[2].Kind != "refund" {
			t.Fatalf("after refund %+v", got)
		}
		if _, err := payments.Get(f.ctx, f.db, "co_other", p.ID); !errors.Is(err, apperr.New(apperr.NotFound, "No payment %q.", p.ID)) {
			t.Errorf("other company: %v", err)
		}
		// Aging: before the application the credit (30) and inv2 (25) are
		// open; after it nothing is.
		for asOf, want := range map[string]string{"2026-02-25": "-5", "2026-03-02": "-5", "2026-03-06": "0"} {
			a, err := collections.Aging(f.ctx, f.db, f.co, asOf, "", false)
			if err != nil {
				t.Fatal(err)
			}
			total := money.Decimal{}
			for _, r := range a.Totals {
				total = total.Add(r.Total)
			}
			if !total.Equal(money.MustParse(want)) {
				t.Errorf("aging as of %s: %s, want %s (%+v)", asOf, total, want, a.Totals)
			}
		}
	})
}
