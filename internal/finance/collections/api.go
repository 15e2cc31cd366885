package collections

import (
	"context"
	companies "github.com/mainstay-erp/mainstay/internal/company"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// DunningRunRequest starts a dunning run.
type DunningRunRequest struct {
	CompanyID string `json:"company_id,omitempty"`
	AsOf      string `json:"as_of,omitempty" doc:"YYYY-MM-DD; default today in the company's time zone."`
}

// Mount adds the receivables aging report, customer statements and
// dunning runs. Reading is sales:read (sales and finance both hold it);
// issuing notices is finance's (ledger:write).
func Mount(api *rest.API, d *db.DB) {
	read, write := auth.Scope("sales", auth.Read), auth.Scope("ledger", auth.Write)
	todayIn := func(ctx context.Context, q db.Querier, company string) (string, error) {
		zone, err := companyZone(ctx, q, company)
		if err != nil {
			return "", err
		}
		return companies.LocalDate(zone, d.Now()), nil
	}
	api.Handle(rest.Operation{
		ID: "getReceivablesAging", Method: http.MethodGet, Path: "/v1/reports/receivables-aging", Tag: "Collections", Scope: read, XML: true,
		Summary: "Receivables aging",
		Description: "Open amounts of finalized invoices and credit notes, and unapplied payment credits (negative), per customer and currency, " +
			"in buckets of days past due as of a date (current, 1–30, 31–60, 61–90, over 90), with totals per currency. Computed from the ledger: " +
			"each receivable line less its settlements posted on or before as_of.",
		Params: []rest.Param{{Name: "company_id", In: "query"}, {Name: "as_of", In: "query", Description: "YYYY-MM-DD; default today."},
			{Name: "customer_id", In: "query"}, {Name: "items", In: "query", Description: "true lists the open documents too."}},
		Response: reflect.TypeOf(ReceivablesAging{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		company, err := rest.Company(r.Context(), q.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		reader := d.Reader(r.Context())
		def, err := todayIn(r.Context(), reader, company)
		if err != nil {
			return err
		}
		asOf, err := dateParam(q.Get("as_of"), "as_of", def)
		if err != nil {
			return err
		}
		out, err := Aging(r.Context(), reader, company, asOf, q.Get("customer_id"), q.Get("items") == "true")
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		// Mounted as /v1/customers/{id}/{view} (view: statement): Go's
		// ServeMux refuses /v1/customers/{id}/statement next to the
		// resource engine's /v1/customers/external/{external_id}, as neither
		// is more specific; the general pattern lets both live.
		ID: "getCustomerStatement", Method: http.MethodGet, Path: "/v1/customers/{id}/{view}", Tag: "Collections", Scope: read, XML: true,
		Summary: "Customer statement (GET /v1/customers/{id}/statement)",
		Description: "Per currency: the opening balance before from, invoices, credit notes, payments and refunds dated from..to in date order " +
			"with a running balance, and the closing balance (positive: the customer owes). from defaults to the first day of to's month, to to today.",
		Params: []rest.Param{{Name: "id", In: "path"}, {Name: "view", In: "path", Required: true, Schema: &huma.Schema{Type: "string", Enum: []any{"statement"}}},
			{Name: "company_id", In: "query"}, {Name: "from", In: "query"}, {Name: "to", In: "query"}},
		Response: reflect.TypeOf(CustomerStatement{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		if r.PathValue("view") != "statement" {
			return apperr.New(apperr.NotFound, "No such resource: %s.", r.URL.Path)
		}
		q := r.URL.Query()
		company, err := rest.Company(r.Context(), q.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		reader := d.Reader(r.Context())
		def, err := todayIn(r.Context(), reader, company)
		if err != nil {
			return err
		}
		to, err := dateParam(q.Get("to"), "to", def)
		if err != nil {
			return err
		}
		from, err := dateParam(q.Get("from"), "from", to[:8]+"01")
		if err != nil {
			return err
		}
		if from > to {
			return apperr.Field("query:from", "from (%s) is after to (%s).", from, to)
		}
		out, err := Statement(r.Context(), reader, company, r.PathValue("id"), from, to)
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "createDunningRun", Method: http.MethodPost, Path: "/v1/dunning-runs", Tag: "Collections", Scope: write, XML: true, Idempotent: true,
		Summary: "Run dunning",
		Description: "Issues a notice for every finalized invoice open and overdue as of as_of: level 1 from 1 day overdue, level 2 from 15 days " +
			"after a level 1, level 3 from 30 days after a level 2 (levels are never skipped), none within 7 days of the invoice's last notice. " +
			"Returns the run with its notices (possibly none).",
		Request: reflect.TypeOf(DunningRunRequest{}), Response: reflect.TypeOf(DunningRun{}), Status: http.StatusCreated,
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in DunningRunRequest
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		company, err := rest.Company(r.Context(), in.CompanyID, "/company_id")
		if err != nil {
			return err
		}
		var out DunningRun
		err = d.Transact(r.Context(), func(tx *db.Tx) error {
			asOf := in.AsOf
			if asOf == "" {
				if asOf, err = todayIn(r.Context(), tx, company); err != nil {
					return err
				}
			} else if _, perr := dateParam(asOf, "as_of", ""); perr != nil {
				return apperr.Field("/as_of", "must be a date YYYY-MM-DD")
			}
			out, err = RunDunning(r.Context(), tx, company, asOf)
			return err
		})
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/dunning-runs/"+out.ID)
		return rest.Respond(w, r, http.StatusCreated, out)
	})
	api.Handle(rest.Operation{
		ID: "listDunningRuns", Method: http.MethodGet, Path: "/v1/dunning-runs", Tag: "Collections", Scope: read, XML: true,
		Summary: "List dunning runs", Description: "Oldest first, each with its notices.",
		Params:   []rest.Param{{Name: "company_id", In: "query"}, {Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response: reflect.TypeOf(DunningRunList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		var out DunningRunList
		out.Data, out.NextPageToken, err = rest.IDPage(r, []string{"dunning-runs", company}, func(run DunningRun) string { return run.ID },
			func(after string, limit int) ([]DunningRun, error) {
				return listRuns(r.Context(), d.Reader(r.Context()), company, after, limit)
			})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "getDunningRun", Method: http.MethodGet, Path: "/v1/dunning-runs/{id}", Tag: "Collections", Scope: read, XML: true,
		Summary: "Get a dunning run", Params: []rest.Param{{Name: "id", In: "path"}, {Name: "company_id", In: "query"}},
		Response: reflect.TypeOf(DunningRun{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		out, err := GetRun(r.Context(), d.Reader(r.Context()), company, r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
}
