package ledgerapi

import (
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mainstay-erp/mainstay/internal/ledger/reports"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// TrialBalance is the trial balance of a company.
type TrialBalance = reports.TrialBalance

// Report parameters, shared by the operations that take them.
var (
	companyParam     = rest.Param{Name: "company_id", In: "query"}
	asOfParam        = rest.Param{Name: "as_of", In: "query", Description: "YYYY-MM-DD"}
	fromParam        = rest.Param{Name: "from", In: "query", Description: "YYYY-MM-DD, the first day of the period."}
	toParam          = rest.Param{Name: "to", In: "query", Description: "YYYY-MM-DD, the last day of the period (default today, UTC)."}
	compareFromParam = rest.Param{Name: "compare_from", In: "query", Description: "YYYY-MM-DD, the first day of the comparison period."}
	compareToParam   = rest.Param{Name: "compare_to", In: "query", Description: "YYYY-MM-DD, the last day of the comparison period; figures for it are returned beside the main ones."}
	compareAsOfParam = rest.Param{Name: "compare_as_of", In: "query", Description: "YYYY-MM-DD: the comparison figures as of this date."}
)

// mountReports adds the financial reports. Every figure is computed from
// the posted journal lines at request time (package reports).
func mountReports(api *rest.API, d *db.DB) {
	read := auth.Scope("ledger", auth.Read)
	api.Handle(rest.Operation{
		ID: "getTrialBalance", Method: http.MethodGet, Path: "/v1/reports/trial-balance", Tag: "Reports", Scope: read, XML: true,
		Summary: "Trial balance",
		Description: "Sums of posted debits and credits per account, computed from the postings, as of a date (default today, UTC). " +
			"debit, credit and balance are cumulative up to the end of the period (as_of or to); with from, opening_balance is " +
			"everything before it and period_debit/period_credit the movement within it. compare_to (or compare_as_of), with an " +
			"optional compare_from, adds the same figures for a comparison period under comparison. Lines are in account-code " +
			"order with the account's code, name, type and parent; accounts with sub-accounts carry a rolled-up subtotal.",
		Params: []rest.Param{companyParam, asOfParam, fromParam,
			{Name: "to", In: "query", Description: "YYYY-MM-DD, the same as as_of; give one of them."},
			compareFromParam, compareToParam, compareAsOfParam},
		Response: reflect.TypeOf(TrialBalance{}), Errors: []int{422},
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		p, err := period(r, d, "from", "to", "as_of")
		if err != nil {
			return err
		}
		compare, err := comparePeriod(r, true)
		if err != nil {
			return err
		}
		out, err := reports.TrialBalanceOf(r.Context(), d.Reader(r.Context()), company, *p, compare)
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "getBalanceSheet", Method: http.MethodGet, Path: "/v1/reports/balance-sheet", Tag: "Reports", Scope: read, XML: true,
		Summary: "Balance sheet",
		Description: "Assets, liabilities and equity as of a date (default today, UTC), from the postings, each in its natural sign. " +
			"Equity ends with a computed line, unclosed_earnings: income − expense not yet closed into retained earnings by a " +
			"year-end closing entry, so assets.total equals liabilities_and_equity exactly. compare_as_of adds comparison figures.",
		Params:   []rest.Param{companyParam, asOfParam, compareAsOfParam},
		Response: reflect.TypeOf(reports.BalanceSheet{}), Errors: []int{422},
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		asOf, err := dateParam(r, "as_of")
		if err != nil {
			return err
		}
		if asOf == "" {
			asOf = d.Now().Format(time.DateOnly)
		}
		compareAsOf, err := dateParam(r, "compare_as_of")
		if err != nil {
			return err
		}
		out, err := reports.BalanceSheetOf(r.Context(), d.Reader(r.Context()), company, asOf, compareAsOf)
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "getProfitAndLoss", Method: http.MethodGet, Path: "/v1/reports/profit-and-loss", Tag: "Reports", Scope: read, XML: true,
		Summary: "Profit and loss",
		Description: "Income, expenses and the net result over a period, from the postings, leaving out year-end closing entries. " +
			"to defaults to today (UTC) and from to the start of the fiscal year containing to; compare_to with compare_from " +
			"(defaulting likewise) adds comparison figures.",
		Params:   []rest.Param{companyParam, fromParam, toParam, compareFromParam, compareToParam},
		Response: reflect.TypeOf(reports.ProfitAndLoss{}), Errors: []int{422},
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		p, err := period(r, d, "from", "to", "")
		if err != nil {
			return err
		}
		compare, err := comparePeriod(r, false)
		if err != nil {
			return err
		}
		out, err := reports.ProfitAndLossOf(r.Context(), d.Reader(r.Context()), company, *p, compare)
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "getGeneralLedger", Method: http.MethodGet, Path: "/v1/reports/general-ledger", Tag: "Reports", Scope: read, XML: true,
		Summary: "General ledger of an account",
		Description: "The posted lines of one account over a period (from optional, to default today, UTC) in date, entry-number " +
			"and line order, each with its running balance (debit − credit) from the opening balance, and the period's opening " +
			"balance, debits, credits and closing balance. Paged: next_page_token continues the running balance where the page " +
			"ended. compare_to (with optional compare_from) adds the comparison period's summary.",
		Params: []rest.Param{companyParam,
			{Name: "account_id", In: "query", Required: true, Description: "The account."},
			fromParam, toParam, compareFromParam, compareToParam,
			{Name: "page_size", In: "query", Description: "1 to 500; default 50.", Schema: &huma.Schema{Type: "integer", Minimum: ptr(0.0), Maximum: ptr(500.0)}},
			{Name: "page_token", In: "query", Description: "next_page_token of the previous page, with the same account and period."}},
		Response: reflect.TypeOf(reports.GeneralLedger{}), Errors: []int{422},
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		accountID := r.URL.Query().Get("account_id")
		if accountID == "" {
			return apperr.Field("query:account_id", "account_id is required.")
		}
		p, err := period(r, d, "from", "to", "")
		if err != nil {
			return err
		}
		compare, err := comparePeriod(r, false)
		if err != nil {
			return err
		}
		size, err := query.ParsePageSize(r.URL.Query().Get("page_size"))
		if err != nil {
			return err
		}
		principal, _ := auth.FromContext(r.Context())
		out, err := reports.GeneralLedgerOf(r.Context(), d.Reader(r.Context()), reports.LedgerRequest{
			CompanyID: company, AccountID: accountID, Period: *p, Compare: compare,
			PageSize: size, PageToken: r.URL.Query().Get("page_token"),
			// The audit key is derived from the master key, so every node
			// accepts every node's tokens; the fingerprint keeps them apart.
			TokenKey: audit.PageTokenKey(), Fingerprint: principal.ClientID,
		})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
}

func ptr[T any](v T) *T { return &v }

// dateParam reads an optional date parameter: "" when absent, 400 naming
// it when it is not a calendar date.
func dateParam(r *http.Request, name string) (string, error) {
	v := r.URL.Query().Get(name)
	if v == "" || reports.ValidDate(v) {
		return v, nil
	}
	return "", apperr.New(apperr.BadRequest, "%s must be a date, YYYY-MM-DD.", name).
		WithFields(apperr.FieldError{Pointer: "query:" + name, Detail: "YYYY-MM-DD"})
}

// period reads the main period. alias (as_of on the trial balance) is
// another name for the end; giving both that differ is a 400. A missing
// end is today (UTC).
func period(r *http.Request, d *db.DB, fromName, toName, alias string) (*reports.Period, error) {
	from, err := dateParam(r, fromName)
	if err != nil {
		return nil, err
	}
	to, err := dateParam(r, toName)
	if err != nil {
		return nil, err
	}
	if alias != "" {
		a, err := dateParam(r, alias)
		if err != nil {
			return nil, err
		}
		if a != "" && to != "" && a != to {
			return nil, apperr.New(apperr.BadRequest, "Give %s or %s, not both.", alias, toName).
				WithFields(apperr.FieldError{Pointer: "query:" + toName, Detail: "conflicts with " + alias})
		}
		if to == "" {
			to = a
		}
	}
	if to == "" {
		to = d.Now().Format(time.DateOnly)
	}
	return &reports.Period{From: from, To: to}, nil
}

// comparePeriod reads the comparison period: nil when none was asked
// for. withAsOf accepts compare_as_of as another name for compare_to.
func comparePeriod(r *http.Request, withAsOf bool) (*reports.Period, error) {
	from, err := dateParam(r, "compare_from")
	if err != nil {
		return nil, err
	}
	to, err := dateParam(r, "compare_to")
	if err != nil {
		return nil, err
	}
	if withAsOf {
		a, err := dateParam(r, "compare_as_of")
		if err != nil {
			return nil, err
		}
		if a != "" && to != "" && a != to {
			return nil, apperr.New(apperr.BadRequest, "Give compare_as_of or compare_to, not both.").
				WithFields(apperr.FieldError{Pointer: "query:compare_to", Detail: "conflicts with compare_as_of"})
		}
		if to == "" {
			to = a
		}
	}
	if to == "" {
		if from != "" {
			return nil, apperr.Field("query:compare_to", "compare_to is required with compare_from.")
		}
		return nil, nil
	}
	return &reports.Period{From: from, To: to}, nil
}
