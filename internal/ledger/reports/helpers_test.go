package reports_test

import (
	"context"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const company = "co_rep"

func d(s string) money.Decimal { return money.MustParse(s) }

// account is a chart row for the tests: id, code, type, parent.
type account struct{ id, code, typ, parent string }

var testChart = []account{
	{"acc_assets", "1", "asset", ""},
	{"acc_bank", "1000", "asset", "acc_assets"},
	{"acc_recv", "1100", "asset", "acc_assets"},
	{"acc_payables", "2000", "liability", ""},
	{"acc_capital", "3000", "equity", ""},
	{"acc_retained", "3100", "equity", ""},
	{"acc_revenue", "4000", "income", ""},
	{"acc_cogs", "5000", "expense", ""},
	{"acc_rent", "6000", "expense", ""},
}

// seedCompany writes a company and its chart with raw SQL: the reports
// read the companies and accounts tables, not the resource engine.
func seedCompany(t testing.TB, dbh *db.DB, id string, accounts []account) {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	err := dbh.Transact(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO companies (id, external_id, version, created_at, updated_at, doc, legal_name, base_currency, active)
VALUES ($1, '', 1, $2, $2, $3, 'Test', 'EUR', TRUE)`, id, now, `{"fiscal_year_start":"01-01"}`); err != nil {
			return err
		}
		for _, a := range accounts {
			if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, company_id, external_id, version, created_at, updated_at, doc, code, name, type, parent_id, role, non_negative, active)
VALUES ($1, $2, '', 1, $3, $3, '{}', $4, $5, $6, $7, '', FALSE, TRUE)`, id+"_"+a.id, id, now, a.code, "Account "+a.code, a.typ, parentID(id, a.parent)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed company: %v", err)
	}
}

func parentID(company, parent string) string {
	if parent == "" {
		return ""
	}
	return company + "_" + parent
}

// acct is the stored ID of a test-chart account of the test company.
func acct(id string) string { return company + "_" + id }

// entry is a balanced posting of the test company: pairs of account and
// signed amount (positive debit, negative credit).
func entry(date string, lines ...any) ledger.Posting {
	p := ledger.Posting{CompanyID: company, Date: date, Currency: "EUR", Memo: "entry " + date}
	for i := 0; i+1 < len(lines); i += 2 {
		amount := d(lines[i+1].(string))
		l := ledger.Line{AccountID: acct(lines[i].(string))}
		if amount.IsNegative() {
			l.Credit = amount.Neg()
		} else {
			l.Debit = amount
		}
		p.Lines = append(p.Lines, l)
	}
	return p
}

func mustPost(t testing.TB, dbh *db.DB, ps ...ledger.Posting) []ledger.Entry {
	t.Helper()
	var out []ledger.Entry
	err := dbh.Transact(context.Background(), func(tx *db.Tx) error {
		out = out[:0]
		for _, p := range ps {
			e, err := ledger.Post(context.Background(), tx, p)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	return out
}
