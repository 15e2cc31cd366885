package ledgerapi

import (
	"net/http"
	"reflect"

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
			out, err = periods.CreateYear(r.Context(), tx, company, in.Year, fy)
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
	api.Handle(rest.Operation{
		ID: "closeFiscalPeriod", Method: http.MethodPost, Path: "/v1/fiscal-periods/{id}/close", Tag: "Fiscal periods", Scope: write,
		Summary: "Close a fiscal period", Params: idParam, Response: reflect.TypeOf(periods.Period{}), Errors: []int{404},
	}, setStatus(periods.Closed))
	api.Handle(rest.Operation{
		ID: "reopenFiscalPeriod", Method: http.MethodPost, Path: "/v1/fiscal-periods/{id}/reopen", Tag: "Fiscal periods", Scope: admin,
		Summary: "Reopen a closed fiscal period (admin)", Params: idParam, Response: reflect.TypeOf(periods.Period{}), Errors: []int{404},
	}, setStatus(periods.Open))
}
