package ledgerapi

import (
	"context"
	"net/http"
	"reflect"
	"strconv"

	"github.com/mainstay-erp/mainstay/internal/ledger/closing"
	"github.com/mainstay-erp/mainstay/internal/platform/money"

	"github.com/mainstay-erp/mainstay/internal/ledger/periods"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// FiscalYearRequest opens a fiscal year.
type FiscalYearRequest struct {
	CompanyID string `json:"company_id,omitempty"`
	Year      int    `json:"year" minimum:"1900" maximum:"9998" doc:"The calendar year the fiscal year starts in."`
}

// PeriodList lists a company's fiscal periods.
type PeriodList struct {
	Data []periods.Period `json:"data"`
}

// MountPeriods adds fiscal years and period close/reopen.
func MountPeriods(api *rest.API, d *db.DB) {
	read, write := auth.Scope("ledger", auth.Read), auth.Scope("ledger", auth.Write)
	// Reopening undoes a close others rely on: only the admin role (which
	// alone holds companies:write) may.
	admin := auth.Scope("companies", auth.Write)
	api.Handle(rest.Operation{
		ID: "createFiscalYear", Method: http.MethodPost, Path: "/v1/fiscal-years", Tag: "Fiscal periods", Scope: write, Idempotent: true,
		Summary:     "Open a fiscal year",
		Description: "Makes its twelve monthly periods from the company's fiscal-year start. A date in a closed period is refused by every dated document (409).",
		Request:     reflect.TypeOf(FiscalYearRequest{}), Response: reflect.TypeOf(PeriodList{}), Status: http.StatusCreated, Errors: []int{409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in FiscalYearRequest
		if _, err := api.Decode(r, &in, false); err != nil {
			return err
		}
		company, err := rest.Company(r.Context(), in.CompanyID, "/company_id")
		if err != nil {
			return err
		}
		var out []periods.Period
		err = d.Transact(r.Context(), func(tx *db.Tx) error {
			var start string
			if err := tx.QueryRowContext(r.Context(), "SELECT doc FROM companies WHERE id = $1", company).Scan(&start); err != nil {
				return err
			}
			fy, err := fiscalYearStart(start)
			if err != nil {
				return err
			}
			currency, err := baseCurrency(r.Context(), tx, company)
			if err != nil {
				return err
			}
			out, err = closing.CreateYear(r.Context(), tx, company, in.Year, fy, currency)
			return err
		})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusCreated, PeriodList{Data: out})
	})
	api.Handle(rest.Operation{
		ID: "listFiscalPeriods", Method: http.MethodGet, Path: "/v1/fiscal-periods", Tag: "Fiscal periods", Scope: read, XML: true,
		Summary: "List fiscal periods", Params: []rest.Param{{Name: "company_id", In: "query"}}, Response: reflect.TypeOf(PeriodList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		list, err := periods.List(r.Context(), d.Reader(r.Context()), company)
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, PeriodList{Data: list})
	})
	setStatus := func(status string) rest.Handler {
		return func(w http.ResponseWriter, r *http.Request) error {
			var out periods.Period
			err := d.Transact(r.Context(), func(tx *db.Tx) error {
				company, err := periods.CompanyOf(r.Context(), tx, r.PathValue("id"))
				if err != nil {
					return err
				}
				if p, _ := auth.FromContext(r.Context()); !p.CanAccessCompany(company) {
					return apperr.New(apperr.NotFound, "No fiscal period %q.", r.PathValue("id"))
				}
				out, err = periods.SetStatus(r.Context(), tx, company, r.PathValue("id"), status)
				return err
			})
			if err != nil {
				return err
			}
			return rest.Respond(w, r, http.StatusOK, out)
		}
	}
	idParam := []rest.Param{{Name: "id", In: "path"}}
	yearParams := []rest.Param{{Name: "year", In: "path", Description: "The calendar year the fiscal year starts in."}, {Name: "company_id", In: "query"}}
	yearHandler := func(fn func(ctx context.Context, tx *db.Tx, company string, year int, currency money.Currency) (closing.Year, error)) rest.Handler {
		return func(w http.ResponseWriter, r *http.Request) error {
			company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
			if err != nil {
				return err
			}
			year, err := strconv.Atoi(r.PathValue("year"))
			if err != nil || year < 1900 || year > 9998 {
				return apperr.Field("path:year", "must be a year, got %q", r.PathValue("year"))
			}
			var out closing.Year
			err = d.Transact(r.Context(), func(tx *db.Tx) error {
				currency, err := baseCurrency(r.Context(), tx, company)
				if err != nil {
					return err
				}
				out, err = fn(r.Context(), tx, company, year, currency)
				return err
			})
			if err != nil {
				return err
			}
			return rest.Respond(w, r, http.StatusOK, out)
		}
	}
	api.Handle(rest.Operation{
		ID: "getFiscalYear", Method: http.MethodGet, Path: "/v1/fiscal-years/{year}", Tag: "Fiscal periods", Scope: read, XML: true,
		Summary: "Get a fiscal year's closing state and result", Params: yearParams, Response: reflect.TypeOf(closing.Year{}), Errors: []int{404},
	}, yearHandler(func(ctx context.Context, tx *db.Tx, company string, year int, currency money.Currency) (closing.Year, error) {
		return closing.Get(ctx, tx, company, year, currency)
	}))
	api.Handle(rest.Operation{
		ID: "closeFiscalYear", Method: http.MethodPost, Path: "/v1/fiscal-years/{year}/close", Tag: "Fiscal periods", Scope: write, XML: true, Idempotent: true,
		Summary: "Close a fiscal year (year-end closing)",
		Description: "Closes every period of the year and posts the closing entry on its last day: each income and expense account is " +
			"zeroed into the account with role retained_earnings. Profit and loss leaves closing entries out, so the year's report is unchanged. 409 when already closed.",
		Params: yearParams, Response: reflect.TypeOf(closing.Year{}), Errors: []int{404, 409},
	}, yearHandler(closing.Close))
	api.Handle(rest.Operation{
		ID: "reopenFiscalYear", Method: http.MethodPost, Path: "/v1/fiscal-years/{year}/reopen", Tag: "Fiscal periods", Scope: admin, XML: true, Idempotent: true,
		Summary:     "Reopen a closed fiscal year (admin)",
		Description: "Reverses the closing entry on the same date. The periods stay closed: reopen those to correct, then close the year again. Audited.",
		Params:      yearParams, Response: reflect.TypeOf(closing.Year{}), Errors: []int{404, 409},
	}, yearHandler(closing.Reopen))
	api.Handle(rest.Operation{
		ID: "closeFiscalPeriod", Method: http.MethodPost, Path: "/v1/fiscal-periods/{id}/close", Tag: "Fiscal periods", Scope: write,
		Summary: "Close a fiscal period", Params: idParam, Response: reflect.TypeOf(periods.Period{}), Errors: []int{404},
	}, setStatus(periods.Closed))
	api.Handle(rest.Operation{
		ID: "reopenFiscalPeriod", Method: http.MethodPost, Path: "/v1/fiscal-periods/{id}/reopen", Tag: "Fiscal periods", Scope: admin,
		Summary: "Reopen a closed fiscal period (admin)", Params: idParam, Response: reflect.TypeOf(periods.Period{}), Errors: []int{404},
	}, setStatus(periods.Open))
}
