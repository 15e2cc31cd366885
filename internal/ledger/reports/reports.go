// Package reports computes the financial statements of a company from its
// posted journal lines: the trial balance, the balance sheet, profit and
// loss, and the general ledger of one account. Nothing is stored: every
// figure is an indexed SQL sum over scaled integers, exact on both
// engines, so a report is always consistent with the postings and
// posting never contends for a balance row (DESIGN §5).
//
// Every report takes an optional comparison period (or date) and returns
// its figures beside the main ones.
package reports

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/mainstay-erp/mainstay/internal/ledger/chart"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
)

// Period is a range of entry dates, both ends included, as YYYY-MM-DD.
// An empty From means from the first posting: the figures as of To.
type Period struct {
	From, To string
}

// ReportAccount is an account as the reports show it.
type ReportAccount struct {
	ID       string `json:"account_id"`
	Code     string `json:"code"`
	Name     string `json:"name"`
	Type     string `json:"type" doc:"asset, liability, equity, income or expense; empty for an account missing from the chart."`
	ParentID string `json:"parent_id,omitempty"`
}

// ValidDate reports whether s is a real calendar date as YYYY-MM-DD.
func ValidDate(s string) bool {
	t, err := time.Parse(time.DateOnly, s)
	return err == nil && t.Format(time.DateOnly) == s
}

// FiscalYearStart is the first day of the fiscal year containing date,
// for a fiscal year starting on mmdd (MM-DD) each year.
func FiscalYearStart(date, mmdd string) string {
	start := date[:4] + "-" + mmdd
	if start > date {
		y, _ := time.Parse("2006", date[:4])
		start = y.AddDate(-1, 0, 0).Format("2006") + "-" + mmdd
	}
	return start
}

// checkPeriod refuses a period that ends before it starts; the pointer
// names the parameter to fix.
func checkPeriod(p Period, fromParam string) error {
	if p.From != "" && p.From > p.To {
		return apperr.Field("query:"+fromParam, "%s %s is after the end of the period, %s.", fromParam, p.From, p.To)
	}
	return nil
}

// figures turns scaled sums into display amounts at the currency's minor
// units (stored amounts never have more places, so this only trims).
type figures struct{ currency money.Currency }

func (f figures) show(d money.Decimal) money.Decimal {
	return money.RoundAmount(d, f.currency, money.HalfEven)
}

// hierarchy answers "which accounts roll up into which" for subtotals.
type hierarchy struct {
	byID     map[string]ReportAccount
	children map[string][]string
}

func newHierarchy(accounts []ReportAccount) hierarchy {
	h := hierarchy{byID: map[string]ReportAccount{}, children: map[string][]string{}}
	for _, a := range accounts {
		h.byID[a.ID] = a
	}
	for _, a := range accounts {
		if _, ok := h.byID[a.ParentID]; ok && a.ParentID != a.ID {
			h.children[a.ParentID] = append(h.children[a.ParentID], a.ID)
		}
	}
	return h
}

// subtree returns id and every account below it. The chart only refuses
// an account being its own parent, so a longer cycle is cut here.
func (h hierarchy) subtree(id string) []string {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		for _, c := range h.children[id] {
			walk(c)
		}
	}
	walk(id)
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	return out
}

// relevant lists, in code order, the accounts of the given types that have
// postings in one of the sums, or an account below them that has.
func (h hierarchy) relevant(accounts []ReportAccount, types map[string]bool, has func(id string) bool) []ReportAccount {
	var out []ReportAccount
	for _, a := range accounts {
		if !types[a.Type] {
			continue
		}
		for _, id := range h.subtree(a.ID) {
			if has(id) {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// rollup sums value over an account's subtree; nil for an account without
// children, which needs no subtotal.
func (h hierarchy) rollup(id string, value func(id string) money.Decimal) *money.Decimal {
	if len(h.children[id]) == 0 {
		return nil
	}
	var total money.Decimal
	for _, sub := range h.subtree(id) {
		total = total.Add(value(sub))
	}
	return &total
}

// ---- Trial balance ----

// TrialBalanceFigures are one account's trial-balance figures for a
// period. Debit, Credit and Balance are cumulative up to the period's end
// (everything posted on or before it), as the trial balance has always
// reported them; the period columns split them at the period's start.
type TrialBalanceFigures struct {
	Debit          money.Decimal  `json:"debit" doc:"Posted debits dated on or before the end of the period."`
	Credit         money.Decimal  `json:"credit" doc:"Posted credits dated on or before the end of the period."`
	Balance        money.Decimal  `json:"balance" doc:"debit − credit: the closing balance."`
	OpeningBalance money.Decimal  `json:"opening_balance" doc:"Debits − credits dated before the start of the period (0 without from)."`
	PeriodDebit    money.Decimal  `json:"period_debit" doc:"Debits dated within the period."`
	PeriodCredit   money.Decimal  `json:"period_credit" doc:"Credits dated within the period."`
	Subtotal       *money.Decimal `json:"subtotal,omitempty" doc:"On accounts with sub-accounts: the closing balance of the account and every account below it."`
}

// TrialBalanceLine is one account of a trial balance.
type TrialBalanceLine struct {
	ReportAccount
	TrialBalanceFigures
	Comparison *TrialBalanceFigures `json:"comparison,omitempty" doc:"The same figures for the comparison period."`
}

// TrialBalanceTotals are the column totals; Debit equals Credit, and
// Balance is zero, whenever every entry balances.
type TrialBalanceTotals struct {
	TrialBalanceFigures
	Comparison *TrialBalanceFigures `json:"comparison,omitempty"`
}

// TrialBalance is the trial balance of a company.
type TrialBalance struct {
	CompanyID   string             `json:"company_id"`
	AsOf        string             `json:"as_of" doc:"The end of the period (the to date)."`
	From        string             `json:"from,omitempty" doc:"The start of the period, when one was asked for."`
	CompareFrom string             `json:"compare_from,omitempty"`
	CompareTo   string             `json:"compare_to,omitempty"`
	Currency    money.Currency     `json:"currency"`
	Lines       []TrialBalanceLine `json:"lines"`
	Totals      TrialBalanceTotals `json:"totals"`
}

// TrialBalanceOf computes the trial balance of a company for p, with the
// figures of compare beside them when compare is not nil. An account is
// listed when it, or an account below it, has postings up to either
// period's end; lines are in account-code order.
func TrialBalanceOf(ctx context.Context, q db.Querier, companyID string, p Period, compare *Period) (TrialBalance, error) {
	if err := checkPeriod(p, "from"); err != nil {
		return TrialBalance{}, err
	}
	if compare != nil {
		if err := checkPeriod(*compare, "compare_from"); err != nil {
			return TrialBalance{}, err
		}
	}
	co, err := loadCompany(ctx, q, companyID)
	if err != nil {
		return TrialBalance{}, err
	}
	accounts, err := loadChart(ctx, q, companyID)
	if err != nil {
		return TrialBalance{}, err
	}
	main, err := accountSums(ctx, q, companyID, p, true, "")
	if err != nil {
		return TrialBalance{}, err
	}
	var cmp map[string]sums
	if compare != nil {
		if cmp, err = accountSums(ctx, q, companyID, *compare, true, ""); err != nil {
			return TrialBalance{}, err
		}
	}
	f := figures{co.currency}
	h := newHierarchy(addUnknown(accounts, main, cmp))
	out := TrialBalance{CompanyID: companyID, AsOf: p.To, From: p.From, Currency: co.currency, Lines: []TrialBalanceLine{}}
	if compare != nil {
		out.CompareFrom, out.CompareTo = compare.From, compare.To
	}
	all := map[string]bool{chart.Asset: true, chart.Liability: true, chart.Equity: true, chart.Income: true, chart.Expense: true, "": true}
	var total, cmpTotal sums
	for _, a := range h.relevant(sortedAccounts(h), all, func(id string) bool { _, m := main[id]; _, c := cmp[id]; return m || c }) {
		line := TrialBalanceLine{ReportAccount: a, TrialBalanceFigures: f.trialFigures(main[a.ID], h.rollup(a.ID, closing(main)))}
		total = total.add(main[a.ID])
		if compare != nil {
			c := f.trialFigures(cmp[a.ID], h.rollup(a.ID, closing(cmp)))
			line.Comparison = &c
			cmpTotal = cmpTotal.add(cmp[a.ID])
		}
		out.Lines = append(out.Lines, line)
	}
	out.Totals.TrialBalanceFigures = f.trialFigures(total, nil)
	if compare != nil {
		c := f.trialFigures(cmpTotal, nil)
		out.Totals.Comparison = &c
	}
	return out, nil
}

func (s sums) add(o sums) sums {
	return sums{s.openDebit.Add(o.openDebit), s.openCredit.Add(o.openCredit), s.debit.Add(o.debit), s.credit.Add(o.credit)}
}

// closingBalance is debits − credits up to the end of the period.
func (s sums) closingBalance() money.Decimal {
	return s.openDebit.Add(s.debit).Sub(s.openCredit).Sub(s.credit)
}

func closing(m map[string]sums) func(string) money.Decimal {
	return func(id string) money.Decimal { return m[id].closingBalance() }
}

func (f figures) trialFigures(s sums, subtotal *money.Decimal) TrialBalanceFigures {
	out := TrialBalanceFigures{
		Debit: f.show(s.openDebit.Add(s.debit)), Credit: f.show(s.openCredit.Add(s.credit)),
		Balance: f.show(s.closingBalance()), OpeningBalance: f.show(s.openDebit.Sub(s.openCredit)),
		PeriodDebit: f.show(s.debit), PeriodCredit: f.show(s.credit),
	}
	if subtotal != nil {
		st := f.show(*subtotal)
		out.Subtotal = &st
	}
	return out
}

// addUnknown keeps postings to an account missing from the chart (the
// journal treats account IDs as opaque) visible, with an empty type, so
// the trial balance still balances.
func addUnknown(accounts []ReportAccount, ms ...map[string]sums) []ReportAccount {
	known := map[string]bool{}
	for _, a := range accounts {
		known[a.ID] = true
	}
	for _, m := range ms {
		for id := range m {
			if !known[id] {
				known[id] = true
				accounts = append(accounts, ReportAccount{ID: id})
			}
		}
	}
	return accounts
}

func sortedAccounts(h hierarchy) []ReportAccount {
	out := make([]ReportAccount, 0, len(h.byID))
	for _, a := range h.byID {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Code != out[j].Code {
			return out[i].Code < out[j].Code
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// ---- Balance sheet and profit and loss ----

// StatementLine is one line of a balance sheet or profit and loss, its
// amount in the natural sign of its section (assets and expenses
// debit − credit; liabilities, equity and income credit − debit).
type StatementLine struct {
	AccountID          string         `json:"account_id,omitempty" doc:"Empty on a computed line."`
	Code               string         `json:"code,omitempty"`
	Name               string         `json:"name"`
	Type               string         `json:"type"`
	ParentID           string         `json:"parent_id,omitempty"`
	Computed           string         `json:"computed,omitempty" enum:"unclosed_earnings" doc:"Set on a line that is no account: unclosed_earnings is income − expense not yet closed into retained earnings."`
	Amount             money.Decimal  `json:"amount"`
	Subtotal           *money.Decimal `json:"subtotal,omitempty" doc:"On accounts with sub-accounts: the amount of the account and every account below it."`
	Comparison         *money.Decimal `json:"comparison,omitempty" doc:"The amount for the comparison date or period."`
	ComparisonSubtotal *money.Decimal `json:"comparison_subtotal,omitempty"`
}

// ReportSection is a group of lines (assets, income, …) and its total.
type ReportSection struct {
	Lines           []StatementLine `json:"lines"`
	Total           money.Decimal   `json:"total"`
	ComparisonTotal *money.Decimal  `json:"comparison_total,omitempty"`
}

// BalanceSheet is assets, liabilities and equity as of a date. Equity
// includes the unclosed earnings, so Assets.Total equals
// LiabilitiesAndEquity exactly.
type BalanceSheet struct {
	CompanyID                      string         `json:"company_id"`
	AsOf                           string         `json:"as_of"`
	CompareAsOf                    string         `json:"compare_as_of,omitempty"`
	Currency                       money.Currency `json:"currency"`
	Assets                         ReportSection  `json:"assets"`
	Liabilities                    ReportSection  `json:"liabilities"`
	Equity                         ReportSection  `json:"equity"`
	LiabilitiesAndEquity           money.Decimal  `json:"liabilities_and_equity"`
	ComparisonLiabilitiesAndEquity *money.Decimal `json:"comparison_liabilities_and_equity,omitempty"`
}

// ProfitAndLoss is income and expense over a period and the net result,
// leaving out year-end closing entries (which move the result into
// retained earnings and would otherwise zero it).
type ProfitAndLoss struct {
	CompanyID           string         `json:"company_id"`
	From                string         `json:"from"`
	To                  string         `json:"to"`
	CompareFrom         string         `json:"compare_from,omitempty"`
	CompareTo           string         `json:"compare_to,omitempty"`
	Currency            money.Currency `json:"currency"`
	Income              ReportSection  `json:"income"`
	Expenses            ReportSection  `json:"expenses"`
	NetResult           money.Decimal  `json:"net_result" doc:"Income − expenses: a profit when positive."`
	ComparisonNetResult *money.Decimal `json:"comparison_net_result,omitempty"`
}

// section builds the lines of the accounts of one type. credit says the
// type's natural sign is credit − debit. value maps an account to its
// signed (debit − credit) figure.
func (f figures) section(h hierarchy, accType string, credit bool, main, cmp map[string]money.Decimal, withCmp bool) ReportSection {
	sign := func(d money.Decimal) money.Decimal {
		if credit {
			return d.Neg()
		}
		return d
	}
	val := func(m map[string]money.Decimal) func(string) money.Decimal {
		return func(id string) money.Decimal {
			if h.byID[id].Type != accType {
				return money.Decimal{}
			}
			return m[id]
		}
	}
	s := ReportSection{Lines: []StatementLine{}}
	var total, cmpTotal money.Decimal
	has := func(id string) bool { _, m := main[id]; _, c := cmp[id]; return m || c }
	for _, a := range h.relevant(sortedAccounts(h), map[string]bool{accType: true}, has) {
		line := StatementLine{AccountID: a.ID, Code: a.Code, Name: a.Name, Type: a.Type, ParentID: a.ParentID,
			Amount: f.show(sign(main[a.ID]))}
		total = total.Add(main[a.ID])
		if st := h.rollup(a.ID, val(main)); st != nil {
			v := f.show(sign(*st))
			line.Subtotal = &v
		}
		if withCmp {
			c := f.show(sign(cmp[a.ID]))
			line.Comparison = &c
			cmpTotal = cmpTotal.Add(cmp[a.ID])
			if st := h.rollup(a.ID, val(cmp)); st != nil {
				v := f.show(sign(*st))
				line.ComparisonSubtotal = &v
			}
		}
		s.Lines = append(s.Lines, line)
	}
	s.Total = f.show(sign(total))
	if withCmp {
		c := f.show(sign(cmpTotal))
		s.ComparisonTotal = &c
	}
	return s
}

// balances turns sums into debit − credit per account over the whole
// range summed (opening and period).
func balances(m map[string]sums) map[string]money.Decimal {
	out := make(map[string]money.Decimal, len(m))
	for id, s := range m {
		out[id] = s.closingBalance()
	}
	return out
}

// unclosed is income and expense netted (debit − credit) across the
// chart: the earnings not yet closed into retained earnings.
func unclosed(h hierarchy, m map[string]money.Decimal) money.Decimal {
	var total money.Decimal
	for id, d := range m {
		if t := h.byID[id].Type; t == chart.Income || t == chart.Expense {
			total = total.Add(d)
		}
	}
	return total
}

// BalanceSheetOf computes the balance sheet as of asOf (and compareAsOf
// when not empty).
//
// Current earnings: income and expense are not equity accounts, but their
// net is equity until a year-end closing entry moves it into retained
// earnings. The balance sheet shows it as one computed equity line,
// "Unclosed earnings": every posted income and expense line up to the
// date, closing entries included. Closing entries zero the closed years'
// income and expense, so what remains is exactly the result not yet
// closed — the current year's, plus any earlier year nobody has closed —
// and assets = liabilities + equity holds to the last digit without
// reading fiscal years.
func BalanceSheetOf(ctx context.Context, q db.Querier, companyID, asOf, compareAsOf string) (BalanceSheet, error) {
	co, err := loadCompany(ctx, q, companyID)
	if err != nil {
		return BalanceSheet{}, err
	}
	accounts, err := loadChart(ctx, q, companyID)
	if err != nil {
		return BalanceSheet{}, err
	}
	mainSums, err := accountSums(ctx, q, companyID, Period{To: asOf}, true, "")
	if err != nil {
		return BalanceSheet{}, err
	}
	withCmp := compareAsOf != ""
	cmpSums := map[string]sums{}
	if withCmp {
		if cmpSums, err = accountSums(ctx, q, companyID, Period{To: compareAsOf}, true, ""); err != nil {
			return BalanceSheet{}, err
		}
	}
	f := figures{co.currency}
	h := newHierarchy(accounts)
	main, cmp := balances(mainSums), balances(cmpSums)
	out := BalanceSheet{CompanyID: companyID, AsOf: asOf, CompareAsOf: compareAsOf, Currency: co.currency,
		Assets:      f.section(h, chart.Asset, false, main, cmp, withCmp),
		Liabilities: f.section(h, chart.Liability, true, main, cmp, withCmp),
		Equity:      f.section(h, chart.Equity, true, main, cmp, withCmp),
	}
	// Unclosed earnings, credit − debit like all equity.
	earnings := unclosed(h, main).Neg()
	line := StatementLine{Name: "Unclosed earnings", Type: chart.Equity, Computed: "unclosed_earnings", Amount: f.show(earnings)}
	out.Equity.Total = f.show(out.Equity.Total.Add(earnings))
	if withCmp {
		c := unclosed(h, cmp).Neg()
		line.Comparison = ptr(f.show(c))
		out.Equity.ComparisonTotal = ptr(f.show(out.Equity.ComparisonTotal.Add(c)))
	}
	out.Equity.Lines = append(out.Equity.Lines, line)
	out.LiabilitiesAndEquity = f.show(out.Liabilities.Total.Add(out.Equity.Total))
	if withCmp {
		out.ComparisonLiabilitiesAndEquity = ptr(f.show(out.Liabilities.ComparisonTotal.Add(*out.Equity.ComparisonTotal)))
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }

// ProfitAndLossOf computes income, expense and the net result for p
// (compare beside it when not nil); a period without From starts at the
// beginning of the fiscal year containing its To. Year-end closing entries are left
// out: they move the year's result into retained earnings, which would
// otherwise show every closed year as breaking even.
func ProfitAndLossOf(ctx context.Context, q db.Querier, companyID string, p Period, compare *Period) (ProfitAndLoss, error) {
	if err := checkPeriod(p, "from"); err != nil {
		return ProfitAndLoss{}, err
	}
	if compare != nil {
		if err := checkPeriod(*compare, "compare_from"); err != nil {
			return ProfitAndLoss{}, err
		}
	}
	co, err := loadCompany(ctx, q, companyID)
	if err != nil {
		return ProfitAndLoss{}, err
	}
	// Without a start, the period is the fiscal year to date.
	if p.From == "" {
		p.From = FiscalYearStart(p.To, co.fiscalYearStart)
	}
	if compare != nil && compare.From == "" {
		c := *compare
		c.From = FiscalYearStart(c.To, co.fiscalYearStart)
		compare = &c
	}
	accounts, err := loadChart(ctx, q, companyID)
	if err != nil {
		return ProfitAndLoss{}, err
	}
	// Only the period's own postings count: the opening split is dropped.
	period := func(per Period) (map[string]money.Decimal, error) {
		s, err := accountSums(ctx, q, companyID, per, false, "")
		if err != nil {
			return nil, err
		}
		out := make(map[string]money.Decimal, len(s))
		for id, v := range s {
			if !v.debit.IsZero() || !v.credit.IsZero() {
				out[id] = v.debit.Sub(v.credit)
			}
		}
		return out, nil
	}
	main, err := period(p)
	if err != nil {
		return ProfitAndLoss{}, err
	}
	cmp := map[string]money.Decimal{}
	if compare != nil {
		if cmp, err = period(*compare); err != nil {
			return ProfitAndLoss{}, err
		}
	}
	f := figures{co.currency}
	h := newHierarchy(accounts)
	out := ProfitAndLoss{CompanyID: companyID, From: p.From, To: p.To, Currency: co.currency,
		Income:   f.section(h, chart.Income, true, main, cmp, compare != nil),
		Expenses: f.section(h, chart.Expense, false, main, cmp, compare != nil),
	}
	out.NetResult = f.show(out.Income.Total.Sub(out.Expenses.Total))
	if compare != nil {
		out.CompareFrom, out.CompareTo = compare.From, compare.To
		out.ComparisonNetResult = ptr(f.show(out.Income.ComparisonTotal.Sub(*out.Expenses.ComparisonTotal)))
	}
	return out, nil
}

// ---- General ledger ----

// GeneralLedgerLine is one posted line of an account's general ledger.
type GeneralLedgerLine struct {
	EntryID     string        `json:"entry_id"`
	EntryNumber int64         `json:"entry_number"`
	Date        string        `json:"date"`
	Memo        string        `json:"memo" doc:"The entry's memo."`
	SourceType  string        `json:"source_type,omitempty"`
	SourceID    string        `json:"source_id,omitempty"`
	LineNo      int           `json:"line_no"`
	LineMemo    string        `json:"line_memo,omitempty"`
	Debit       money.Decimal `json:"debit"`
	Credit      money.Decimal `json:"credit"`
	Balance     money.Decimal `json:"balance" doc:"Running balance (debit − credit) after this line, from the opening balance."`
}

// GeneralLedgerSummary is an account's movement over a period.
type GeneralLedgerSummary struct {
	From           string        `json:"from,omitempty"`
	To             string        `json:"to"`
	OpeningBalance money.Decimal `json:"opening_balance"`
	Debit          money.Decimal `json:"debit"`
	Credit         money.Decimal `json:"credit"`
	ClosingBalance money.Decimal `json:"closing_balance"`
}

// GeneralLedger is one page of an account's posted lines over a period, in
// date, entry-number and line order, with the period's summary.
type GeneralLedger struct {
	CompanyID string         `json:"company_id"`
	Account   ReportAccount  `json:"account"`
	Currency  money.Currency `json:"currency"`
	GeneralLedgerSummary
	Comparison    *GeneralLedgerSummary `json:"comparison,omitempty"`
	Lines         []GeneralLedgerLine   `json:"lines"`
	NextPageToken string                `json:"next_page_token,omitempty"`
}

// LedgerRequest asks for one page of an account's general ledger.
type LedgerRequest struct {
	CompanyID, AccountID string
	Period               Period
	Compare              *Period
	PageSize             int
	PageToken            string
	// TokenKey signs page tokens; Fingerprint binds them to the caller.
	TokenKey    []byte
	Fingerprint string
}

// GeneralLedgerOf returns one page of the account's ledger. The first
// page's running balance starts from the opening balance (everything
// before From); a page token carries the position and running balance of
// the last line served, so the balance runs on unbroken across pages and
// the pages add up to the period's closing balance even while new
// entries are posted in between.
func GeneralLedgerOf(ctx context.Context, q db.Querier, r LedgerRequest) (GeneralLedger, error) {
	if err := checkPeriod(r.Period, "from"); err != nil {
		return GeneralLedger{}, err
	}
	if r.Compare != nil {
		if err := checkPeriod(*r.Compare, "compare_from"); err != nil {
			return GeneralLedger{}, err
		}
	}
	fingerprint := query.Fingerprint("general-ledger", r.CompanyID, r.AccountID, r.Period.From, r.Period.To, r.Fingerprint)
	var after *position
	var running money.Decimal
	if r.PageToken != "" {
		c, err := query.DecodeToken(r.TokenKey, r.PageToken, fingerprint)
		if err != nil {
			return GeneralLedger{}, err
		}
		if after, running, err = fromCursor(c); err != nil {
			return GeneralLedger{}, err
		}
	}
	co, err := loadCompany(ctx, q, r.CompanyID)
	if err != nil {
		return GeneralLedger{}, err
	}
	acc, ok, err := loadAccount(ctx, q, r.CompanyID, r.AccountID)
	if err != nil {
		return GeneralLedger{}, err
	}
	if !ok {
		return GeneralLedger{}, apperr.Field("query:account_id", "No account %q in this company.", r.AccountID)
	}
	f := figures{co.currency}
	summary := func(p Period) (GeneralLedgerSummary, money.Decimal, error) {
		m, err := accountSums(ctx, q, r.CompanyID, p, true, r.AccountID)
		if err != nil {
			return GeneralLedgerSummary{}, money.Decimal{}, err
		}
		s := m[r.AccountID]
		opening := s.openDebit.Sub(s.openCredit)
		return GeneralLedgerSummary{From: p.From, To: p.To, OpeningBalance: f.show(opening), Debit: f.show(s.debit),
			Credit: f.show(s.credit), ClosingBalance: f.show(s.closingBalance())}, opening, nil
	}
	out := GeneralLedger{CompanyID: r.CompanyID, Account: acc, Currency: co.currency, Lines: []GeneralLedgerLine{}}
	var opening money.Decimal
	if out.GeneralLedgerSummary, opening, err = summary(r.Period); err != nil {
		return GeneralLedger{}, err
	}
	if r.Compare != nil {
		c, _, err := summary(*r.Compare)
		if err != nil {
			return GeneralLedger{}, err
		}
		out.Comparison = &c
	}
	if after == nil {
		running = opening
	}
	lines, err := ledgerLines(ctx, q, r.CompanyID, r.AccountID, r.Period, after, r.PageSize+1)
	if err != nil {
		return GeneralLedger{}, err
	}
	for i, l := range lines {
		if i == r.PageSize {
			prev := lines[i-1]
			out.NextPageToken = query.EncodeToken(r.TokenKey, toCursor(prev, running), fingerprint)
			break
		}
		running = running.Add(l.Debit).Sub(l.Credit)
		l.Debit, l.Credit, l.Balance = f.show(l.Debit), f.show(l.Credit), f.show(running)
		out.Lines = append(out.Lines, l)
	}
	return out, nil
}

// toCursor records the last line served and the running balance after it
// (as a decimal string: the token is signed, so it comes back unchanged).
func toCursor(l GeneralLedgerLine, running money.Decimal) query.Cursor {
	return query.Cursor{Values: []any{l.Date, l.EntryNumber, int64(l.LineNo), running.String()}, ID: l.EntryID}
}

func fromCursor(c query.Cursor) (*position, money.Decimal, error) {
	bad := apperr.New(apperr.BadRequest, "The page token is not valid for this request; start again without page_token.").
		WithFields(apperr.FieldError{Pointer: "query:page_token", Detail: "not a general-ledger page token"})
	if len(c.Values) != 4 {
		return nil, money.Decimal{}, bad
	}
	date, ok1 := c.Values[0].(string)
	number, ok2 := c.Values[1].(int64)
	lineNo, ok3 := c.Values[2].(int64)
	bal, ok4 := c.Values[3].(string)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return nil, money.Decimal{}, bad
	}
	running, err := money.Parse(bal)
	if err != nil {
		return nil, money.Decimal{}, bad.Wrap(fmt.Errorf("running balance: %w", err))
	}
	return &position{date: date, number: number, lineNo: lineNo}, running, nil
}
