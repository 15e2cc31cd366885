package app

import (
	"context"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/ledger/periods"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// seedDemoLedger gives the demo company books to look at: fiscal years
// for last year and this one, exchange rates, opening balances on the
// first day of this year, and a few postings including a US-dollar
// invoice paid at a later rate (a realized exchange gain).
func (a *App) seedDemoLedger(ctx context.Context, company string) error {
	year := a.db.Now().Year()
	first := fmt.Sprintf("%d-01-01", year)
	for _, r := range []struct {
		cur, date, rate string
	}{{"USD", first, "0.92"}, {"USD", fmt.Sprintf("%d-01-20", year), "0.95"}, {"GBP", first, "1.17"}, {"CHF", first, "1.06"}} {
		if _, err := a.services.ExchangeRates.Create(ctx, company, map[string]any{"currency": r.cur, "date": r.date, "rate": r.rate, "source": "demo"}); err != nil {
			return fmt.Errorf("seed demo exchange rate: %w", err)
		}
	}
	return a.db.Transact(ctx, func(tx *db.Tx) error {
		for _, y := range []int{year - 1, year} {
			if _, err := periods.CreateYear(ctx, tx, company, y, "01-01"); err != nil {
				return fmt.Errorf("seed demo fiscal year %d: %w", y, err)
			}
		}
		acct := map[string]string{}
		for _, code := range []string{"1000", "1100", "3000", "3100", "4000", "4900", "6000"} {
			var id string
			if err := tx.QueryRowContext(ctx, "SELECT id FROM accounts WHERE company_id = $1 AND code = $2", company, code).Scan(&id); err != nil {
				return fmt.Errorf("seed demo ledger: account %s: %w", code, err)
			}
			acct[code] = id
		}
		d := money.MustParse
		post := func(date, purpose, memo string, lines ...ledger.Line) (ledger.Entry, error) {
			e, err := ledger.Post(ctx, tx, ledger.Posting{
				CompanyID: company, Date: date, Currency: "EUR", SourceType: "demo", SourceID: purpose, Purpose: purpose, Memo: memo, Lines: lines,
			})
			if err != nil {
				return e, fmt.Errorf("seed demo entry %s: %w", purpose, err)
			}
			return e, nil
		}
		if _, err := post(first, "opening_balances", "Opening balances",
			ledger.Line{AccountID: acct["1000"], Debit: d("48500.00")},
			ledger.Line{AccountID: acct["1100"], Debit: d("6500.00")},
			ledger.Line{AccountID: acct["3000"], Credit: d("25000.00")},
			ledger.Line{AccountID: acct["3100"], Credit: d("30000.00")}); err != nil {
			return err
		}
		inv, err := post(fmt.Sprintf("%d-01-10", year), "usd_invoice", "Export sale, USD",
			ledger.Line{AccountID: acct["1100"], Debit: d("2000.00"), Currency: "USD"},
			ledger.Line{AccountID: acct["4000"], Credit: d("2000.00"), Currency: "USD"})
		if err != nil {
			return err
		}
		if _, err := post(fmt.Sprintf("%d-01-25", year), "usd_payment", "Payment of the export sale",
			ledger.Line{AccountID: acct["1000"], Debit: d("2000.00"), Currency: "USD"},
			ledger.Line{AccountID: acct["1100"], Credit: d("2000.00"), Currency: "USD", Settles: &ledger.LineRef{EntryID: inv.ID, LineNo: 1}}); err != nil {
			return err
		}
		_, err = post(fmt.Sprintf("%d-01-31", year), "january_payroll", "January salaries",
			ledger.Line{AccountID: acct["6000"], Debit: d("4200.00")},
			ledger.Line{AccountID: acct["1000"], Credit: d("4200.00")})
		return err
	})
}
