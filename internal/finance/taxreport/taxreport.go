// Package taxreport is the tax report of a period: output tax from the
// invoices and credit notes issued, input tax from the supplier bills and
// credit notes posted, per jurisdiction, tax category and rate, and the
// movement of the ledger's tax accounts beside it to reconcile with.
package taxreport

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// TaxReportLine sums the tax of one jurisdiction, category, rate and
// document currency.
type TaxReportLine struct {
	Country       string         `json:"country"`
	Region        string         `json:"region,omitempty"`
	TaxCategoryID string         `json:"tax_category_id,omitempty"`
	Rate          money.Decimal  `json:"rate"`
	Currency      money.Currency `json:"currency"`
	Base          money.Decimal  `json:"base" doc:"Net amounts taxed; credit notes subtract."`
	Tax           money.Decimal  `json:"tax"`
	Documents     int            `json:"documents"`
}

// TaxReport is the tax of a period.
type TaxReport struct {
	CompanyID string          `json:"company_id"`
	From      string          `json:"from"`
	To        string          `json:"to"`
	Output    []TaxReportLine `json:"output" doc:"Tax charged on invoices, less credit notes, by date of issue."`
	Input     []TaxReportLine `json:"input" doc:"Tax on supplier bills, less their credit notes, by bill date."`
	// The same period in the ledger, company currency, for reconciling:
	// credits less debits on the tax-payable account, debits less credits
	// on the tax-receivable account.
	LedgerOutputTax money.Decimal  `json:"ledger_output_tax" doc:"Movement of the account with role tax_payable in the period (company currency)."`
	LedgerInputTax  money.Decimal  `json:"ledger_input_tax" doc:"Movement of the account with role tax_receivable in the period (company currency)."`
	NetPayable      money.Decimal  `json:"net_payable" doc:"ledger_output_tax − ledger_input_tax: what is owed to (positive) or due from the tax authority."`
	Currency        money.Currency `json:"currency"`
}

type key struct {
	country, region, category, rate string
	cur                             money.Currency
}

type docTax struct {
	TaxCategoryID string        `json:"tax_category_id"`
	Rate          money.Decimal `json:"rate"`
	Base          money.Decimal `json:"base"`
	Amount        money.Decimal `json:"amount"`
}

// Report computes the tax report of [from, to].
func Report(ctx context.Context, q db.Querier, companyID, from, to string) (TaxReport, error) {
	rep := TaxReport{CompanyID: companyID, From: from, To: to}
	var cur, companyDoc string
	if err := q.QueryRowContext(ctx, "SELECT base_currency, doc FROM companies WHERE id = $1", companyID).Scan(&cur, &companyDoc); err != nil {
		return rep, fmt.Errorf("company %s: %w", companyID, err)
	}
	rep.Currency = money.Currency(cur)
	home := homeCountry(companyDoc)
	// Output: invoices and credit notes; the jurisdiction is the order's
	// destination when there is one, else the company's country.
	rows, err := q.QueryContext(ctx, `SELECT i.kind, i.currency, i.doc, COALESCE(o.doc, '') FROM invoices i
LEFT JOIN sales_orders o ON o.id = i.sales_order_id AND i.sales_order_id <> ''
WHERE i.company_id = $1 AND i.status = 'finalized' AND i.invoice_date >= $2 AND i.invoice_date <= $3`, companyID, from, to)
	if err != nil {
		return rep, fmt.Errorf("output tax: %w", err)
	}
	out := map[key]*TaxReportLine{}
	err = scan(rows, func(kind, cur, doc, orderDoc string) error {
		country, region := home.Country, home.Region
		if orderDoc != "" {
			var o struct {
				ShipTo *struct{ Country, Region string } `json:"ship_to"`
			}
			if err := json.Unmarshal([]byte(orderDoc), &o); err == nil && o.ShipTo != nil && o.ShipTo.Country != "" {
				country, region = o.ShipTo.Country, o.ShipTo.Region
			}
		}
		return add(out, kind == "credit_note", country, region, money.Currency(cur), doc)
	})
	if err != nil {
		return rep, fmt.Errorf("output tax: %w", err)
	}
	// Input: supplier bills are taxed at the company's country.
	rows, err = q.QueryContext(ctx, `SELECT kind, currency, doc, '' FROM bills
WHERE company_id = $1 AND status = 'posted' AND bill_date >= $2 AND bill_date <= $3`, companyID, from, to)
	if err != nil {
		return rep, fmt.Errorf("input tax: %w", err)
	}
	in := map[key]*TaxReportLine{}
	if err := scan(rows, func(kind, cur, doc, _ string) error {
		return add(in, kind == "credit_note", home.Country, home.Region, money.Currency(cur), doc)
	}); err != nil {
		return rep, fmt.Errorf("input tax: %w", err)
	}
	rep.Output, rep.Input = sorted(out), sorted(in)
	if rep.LedgerOutputTax, err = movement(ctx, q, companyID, "tax_payable", from, to, -1); err != nil {
		return rep, err
	}
	if rep.LedgerInputTax, err = movement(ctx, q, companyID, "tax_receivable", from, to, 1); err != nil {
		return rep, err
	}
	rep.LedgerOutputTax = money.RoundAmount(rep.LedgerOutputTax, rep.Currency, money.HalfEven)
	rep.LedgerInputTax = money.RoundAmount(rep.LedgerInputTax, rep.Currency, money.HalfEven)
	rep.NetPayable = rep.LedgerOutputTax.Sub(rep.LedgerInputTax)
	return rep, nil
}

func scan(rows *sql.Rows, fn func(kind, cur, doc, extra string) error) error {
	defer rows.Close()
	for rows.Next() {
		var kind, cur, doc, extra string
		if err := rows.Scan(&kind, &cur, &doc, &extra); err != nil {
			return err
		}
		if err := fn(kind, cur, doc, extra); err != nil {
			return err
		}
	}
	return rows.Err()
}

func add(m map[key]*TaxReportLine, credit bool, country, region string, cur money.Currency, doc string) error {
	var d struct {
		Taxes []docTax `json:"taxes"`
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return fmt.Errorf("decode document: %w", err)
	}
	for _, t := range d.Taxes {
		k := key{country, region, t.TaxCategoryID, t.Rate.Normalize().String(), cur}
		l := m[k]
		if l == nil {
			l = &TaxReportLine{Country: country, Region: region, TaxCategoryID: t.TaxCategoryID, Rate: t.Rate.Normalize(), Currency: cur}
			m[k] = l
		}
		base, tax := t.Base, t.Amount
		if credit {
			base, tax = base.Neg(), tax.Neg()
		}
		l.Base, l.Tax, l.Documents = l.Base.Add(base), l.Tax.Add(tax), l.Documents+1
	}
	return nil
}

func sorted(m map[key]*TaxReportLine) []TaxReportLine {
	out := make([]TaxReportLine, 0, len(m))
	for _, l := range m {
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Country != b.Country {
			return a.Country < b.Country
		}
		if a.Region != b.Region {
			return a.Region < b.Region
		}
		if a.Currency != b.Currency {
			return a.Currency < b.Currency
		}
		if c := a.Rate.Cmp(b.Rate); c != 0 {
			return c < 0
		}
		return a.TaxCategoryID < b.TaxCategoryID
	})
	return out
}

// movement is the change of the account with role in [from, to], debit −
// credit times sign.
func movement(ctx context.Context, q db.Querier, companyID, role, from, to string, sign int64) (money.Decimal, error) {
	var v money.Decimal
	err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(l.debit - l.credit), 0) FROM journal_lines l
JOIN journal_entries e ON e.id = l.entry_id JOIN accounts a ON a.id = l.account_id
WHERE e.company_id = $1 AND e.status = 'posted' AND e.entry_date >= $2 AND e.entry_date <= $3 AND a.role = $4`,
		companyID, from, to, role).Scan(money.Amount(&v))
	if err != nil {
		return v, fmt.Errorf("%s movement: %w", role, err)
	}
	return v.Mul(money.FromInt(sign)), nil
}

type place struct{ Country, Region string }

// homeCountry is the company's registered address (else its first).
func homeCountry(doc string) place {
	var c struct {
		Addresses []struct {
			Kind    string `json:"kind"`
			Country string `json:"country"`
			Region  string `json:"region"`
		} `json:"addresses"`
	}
	_ = json.Unmarshal([]byte(doc), &c)
	for _, a := range c.Addresses {
		if a.Kind == "registered" {
			return place{a.Country, a.Region}
		}
	}
	if len(c.Addresses) > 0 {
		return place{c.Addresses[0].Country, c.Addresses[0].Region}
	}
	return place{}
}

// Mount adds GET /v1/reports/tax.
func Mount(api *rest.API, d *db.DB) {
	api.Handle(rest.Operation{
		ID: "getTaxReport", Method: http.MethodGet, Path: "/v1/reports/tax", Tag: "Reports", Scope: auth.Scope("ledger", auth.Read), XML: true,
		Summary: "Tax report of a period",
		Description: "Output tax (invoices less credit notes, by issue date; jurisdiction = the order's destination, else the company's country) and " +
			"input tax (supplier bills less their credit notes, by bill date) per jurisdiction, tax category, rate and document currency, " +
			"with the movement of the tax accounts in the ledger (company currency) and the net payable.",
		Params:   []rest.Param{{Name: "company_id", In: "query"}, {Name: "from", In: "query", Description: "YYYY-MM-DD"}, {Name: "to", In: "query", Description: "YYYY-MM-DD"}},
		Response: reflect.TypeOf(TaxReport{}), Errors: []int{400},
	}, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		company, err := rest.Company(r.Context(), q.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		from, to := q.Get("from"), q.Get("to")
		for name, v := range map[string]string{"from": from, "to": to} {
			if t, err := time.Parse(time.DateOnly, v); err != nil || t.Format(time.DateOnly) != v {
				return apperr.New(apperr.BadRequest, "%s must be a date, YYYY-MM-DD.", name).WithFields(apperr.FieldError{Pointer: "query:" + name, Detail: "YYYY-MM-DD"})
			}
		}
		if to < from {
			return apperr.Field("query:to", "the period ends before it starts")
		}
		rep, err := Report(r.Context(), d.Reader(r.Context()), company, from, to)
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, rep)
	})
}
