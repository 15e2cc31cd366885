package paymentruns

import (
	"context"
	"net/http"
	"reflect"

	"github.com/mainstay-erp/mainstay/internal/company"
	"github.com/mainstay-erp/mainstay/internal/partners"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/crypto"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/operations"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// OperationKind names the operation that executes a large run.
const OperationKind = "payment_run.execute"

// Mount adds /v1/payment-runs. Paying is finance's (ledger:write); the
// bank files carry the suppliers' bank accounts, so reading them also
// needs partners:sensitive.
func Mount(api *rest.API, d *db.DB, companies *resource.Resource[company.Company, *company.Company],
	suppliers *resource.Resource[partners.Supplier, *partners.Supplier], keyring *crypto.Keyring) {
	s := &Service{Companies: companies, Suppliers: suppliers, Keyring: keyring}
	read, write := auth.Scope("ledger", auth.Read), auth.Scope("ledger", auth.Write)
	idParam := []rest.Param{{Name: "id", In: "path"}, {Name: "company_id", In: "query"}}
	companyOf := func(r *http.Request) (string, error) {
		return rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
	}
	api.Handle(rest.Operation{
		ID: "createPaymentRun", Method: http.MethodPost, Path: "/v1/payment-runs", Tag: "Payments", Scope: write, XML: true, Idempotent: true,
		Summary: "Propose a payment run",
		Description: "Selects the posted, unpaid bills in currency that are due on or before due_before (default payment_date) — and, with " +
			"take_discounts, those whose discount_date is on or after payment_date, paying gross × (1 − discount_percent/100) rounded half-even " +
			"and recording the discount taken — optionally of one supplier, at least min_amount each, at most max_total in all (oldest due " +
			"first). Bills that cannot be paid now (a mismatch not yet approved) and bills left out by the criteria are listed in skipped with " +
			"the reason. Items are grouped per supplier. The run is stored as proposed, with the calling client as proposed_by.",
		Request: reflect.TypeOf(PaymentRunRequest{}), Response: reflect.TypeOf(PaymentRun{}), Status: http.StatusCreated,
	}, rest.Write(api, d, http.StatusCreated, func(in *PaymentRunRequest) string { return in.CompanyID },
		func(r PaymentRun) string { return "/v1/payment-runs/" + r.ID },
		func(ctx context.Context, tx *db.Tx, company string, in *PaymentRunRequest) (PaymentRun, error) {
			return s.Propose(ctx, tx, company, in.criteria())
		}))
	api.Handle(rest.Operation{
		ID: "listPaymentRuns", Method: http.MethodGet, Path: "/v1/payment-runs", Tag: "Payments", Scope: read, XML: true,
		Summary: "List payment runs", Description: "Oldest first; filter status.",
		Params:   []rest.Param{{Name: "company_id", In: "query"}, {Name: "status", In: "query"}, {Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response: reflect.TypeOf(PaymentRunList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := companyOf(r)
		if err != nil {
			return err
		}
		status := r.URL.Query().Get("status")
		var out PaymentRunList
		out.Data, out.NextPageToken, err = rest.IDPage(r, []string{"payment-runs", co, status}, func(p PaymentRun) string { return p.ID },
			func(after string, limit int) ([]PaymentRun, error) {
				return listRuns(r.Context(), d.Reader(r.Context()), co, status, after, limit)
			})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "getPaymentRun", Method: http.MethodGet, Path: "/v1/payment-runs/{id}", Tag: "Payments", Scope: read, XML: true,
		Summary: "Get a payment run", Params: idParam, Response: reflect.TypeOf(PaymentRun{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := companyOf(r)
		if err != nil {
			return err
		}
		run, err := loadRun(r.Context(), d.Reader(r.Context()), co, r.PathValue("id"), false)
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, run)
	})
	// step answers a move of a run from one status to the next.
	step := func(fn func(ctx context.Context, tx *db.Tx, companyID, runID string) (PaymentRun, error)) rest.Handler {
		return func(w http.ResponseWriter, r *http.Request) error {
			co, err := companyOf(r)
			if err != nil {
				return err
			}
			var out PaymentRun
			err = d.Transact(r.Context(), func(tx *db.Tx) error {
				out, err = fn(r.Context(), tx, co, r.PathValue("id"))
				return err
			})
			if err != nil {
				return err
			}
			return rest.Respond(w, r, http.StatusOK, out)
		}
	}
	api.Handle(rest.Operation{
		ID: "approvePaymentRun", Method: http.MethodPost, Path: "/v1/payment-runs/{id}/approve", Tag: "Payments", Scope: write, XML: true, Idempotent: true,
		Summary: "Approve a payment run",
		Description: "Records the approving client (audited). When the company sets payment_runs_need_second_approver, the proposer cannot " +
			"approve its own run (409). An approved or executed run is returned unchanged; a cancelled one is 409.",
		Params: idParam, Response: reflect.TypeOf(PaymentRun{}), Errors: []int{404, 409},
	}, step(s.Approve))
	api.Handle(rest.Operation{
		ID: "cancelPaymentRun", Method: http.MethodPost, Path: "/v1/payment-runs/{id}/cancel", Tag: "Payments", Scope: write, XML: true, Idempotent: true,
		Summary:     "Cancel a payment run",
		Description: "A proposed or approved run is withdrawn (audited); an executed run is 409 (its payments are posted).",
		Params:      idParam, Response: reflect.TypeOf(PaymentRun{}), Errors: []int{404, 409},
	}, step(s.Cancel))
	api.Handle(rest.Operation{
		ID: "executePaymentRun", Method: http.MethodPost, Path: "/v1/payment-runs/{id}/execute", Tag: "Payments", Scope: write, XML: true, Idempotent: true,
		Summary: "Execute an approved payment run",
		Description: "In one transaction: one outgoing payment per supplier (in /v1/payments and /v1/supplier-payments) settling its bills and " +
			"the discounts taken (credited to discount_account_id, default the revenue role's account), the run executed, the bank files " +
			"produced. Only approved runs (409 otherwise); a supplier without an IBAN is 422 at /items/N/supplier_id and a company without a " +
			"bank_account 409, both before anything is paid. An executed run is returned unchanged (200). A run of more than 50 items answers " +
			"202 with an operation (Location: /v1/operations/{id}); its result is the executed run.",
		Params: idParam, Response: reflect.TypeOf(PaymentRun{}), Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := companyOf(r)
		if err != nil {
			return err
		}
		ctx, runID := r.Context(), r.PathValue("id")
		current, err := loadRun(ctx, d.Reader(ctx), co, runID, false)
		if err != nil {
			return err
		}
		if current.Status == Executed || len(current.Items) <= AsyncThreshold {
			var out PaymentRun
			err = d.Transact(ctx, func(tx *db.Tx) error {
				out, err = s.Execute(ctx, tx, co, runID, "")
				return err
			})
			if err != nil {
				return err
			}
			return rest.Respond(w, r, http.StatusOK, out)
		}
		// No background job runner exists yet, so the operation runs to
		// completion in this request (and in the run's transaction, so a
		// failed run leaves no operation and no payment behind); clients
		// already get the 202 contract and poll the finished operation.
		var opID string
		err = d.Transact(ctx, func(tx *db.Tx) error {
			op, err := operations.Start(ctx, tx, OperationKind, co)
			if err != nil {
				return err
			}
			run, err := s.Execute(ctx, tx, co, runID, op.ID)
			if err != nil {
				return err
			}
			opID = op.ID
			return operations.Finish(ctx, tx, tx.Now(), op.ID, run, nil)
		})
		if err != nil {
			return err
		}
		op, err := operations.Get(ctx, d.Reader(ctx), opID)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/operations/"+op.ID)
		return rest.Respond(w, r, http.StatusAccepted, op)
	})
	file := func(field, contentType, ext string) rest.Handler {
		return func(w http.ResponseWriter, r *http.Request) error {
			if err := auth.Require(r.Context(), auth.PartnersSensitive); err != nil {
				return err
			}
			co, err := companyOf(r)
			if err != nil {
				return err
			}
			ctx := r.Context()
			run, err := loadRun(ctx, d.Reader(ctx), co, r.PathValue("id"), false)
			if err != nil {
				return err
			}
			if run.Status != Executed {
				return apperr.New(apperr.Conflict, "Payment run %s is %s; its bank files exist once it is executed.", run.ID, run.Status).
					WithFields(apperr.FieldError{Pointer: "/status", Detail: run.Status})
			}
			pain, csv, err := loadFiles(ctx, d.Reader(ctx), co, run.ID)
			if err != nil {
				return err
			}
			stored := csv
			if field == "pain001" {
				stored = pain
				if stored == "" {
					return apperr.New(apperr.Conflict, "Payment run %s is in %s; pain.001 (SEPA) files are EUR only — use the CSV.", run.ID, run.Currency).
						WithFields(apperr.FieldError{Pointer: "/currency", Detail: string(run.Currency)})
				}
			}
			text, err := s.open(ctx, run.ID, field, stored)
			if err != nil {
				return err
			}
			h := w.Header()
			h.Set("Content-Type", contentType)
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Disposition", `attachment; filename="`+run.ID+ext+`"`)
			w.WriteHeader(http.StatusOK)
			_, err = w.Write([]byte(text))
			return err
		}
	}
	api.Handle(rest.Operation{
		ID: "getPaymentRunPain001", Method: http.MethodGet, Path: "/v1/payment-runs/{id}/pain.001", Tag: "Payments", Scope: read,
		Summary: "Download a payment run's SEPA credit transfer file",
		Description: "ISO 20022 pain.001.001.09 (application/xml) as produced at execution: one payment information block from the company's " +
			"bank_account, one transfer per supplier payment (EndToEndId = the payment id, remittance = the bills' supplier references). " +
			"Needs partners:sensitive too (it carries bank accounts; 403 otherwise). 409 before execution or for a run not in EUR.",
		Params: idParam, Errors: []int{404, 409},
	}, file("pain001", "application/xml", ".xml"))
	api.Handle(rest.Operation{
		ID: "getPaymentRunCSV", Method: http.MethodGet, Path: "/v1/payment-runs/{id}/csv", Tag: "Payments", Scope: read,
		Summary: "Download a payment run's payments as CSV",
		Description: "text/csv, one line per supplier payment after a header: supplier_id, supplier, iban, bic, amount, currency, reference, " +
			"payment_id. Needs partners:sensitive too (403 otherwise); 409 before execution.",
		Params: idParam, Errors: []int{404, 409},
	}, file("csv", "text/csv; charset=utf-8", ".csv"))
}
