package payroll

import (
	"context"
	"net/http"
	"reflect"

	"github.com/mainstay-erp/mainstay/internal/hr"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/crypto"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/operations"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// OperationKind names the operation that computes a run.
const OperationKind = "payroll.run"

// Module is the mounted payroll module.
type Module struct {
	Schedules *resource.Resource[PaySchedule, *PaySchedule]
	Tables    *resource.Resource[RateTable, *RateTable]
	Service   *Service
}

// Mount registers pay schedules, rate tables, payroll runs and payslips.
func Mount(api *rest.API, eng *resource.Engine, d *db.DB, employees *hr.Employees, keyring *crypto.Keyring) *Module {
	m := &Module{
		Schedules: resource.Register[PaySchedule](eng, ScheduleSpec),
		Tables:    resource.Register[RateTable](eng, TableSpec),
		Service:   &Service{DB: d, Employees: employees, Keyring: keyring},
	}
	m.Schedules.BeforeDelete(hr.RefuseDeleteIfUsed("pay schedule", [2]string{"employee_versions", "pay_schedule_id"}, [2]string{"payroll_runs", "pay_schedule_id"}))
	s := m.Service
	const tag = "Payroll"
	idParam := []rest.Param{{Name: "id", In: "path"}, {Name: "company_id", In: "query"}}
	companyOf := func(r *http.Request) (string, error) {
		return rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
	}
	runType := reflect.TypeFor[PayrollRun]()
	api.Handle(rest.Operation{
		ID: "createPayrollRun", Method: http.MethodPost, Path: "/v1/payroll-runs", Tag: tag, Scope: Write, XML: true, Idempotent: true,
		Summary: "Compute a payroll run (draft)",
		Description: "Computes gross to net for everyone in scope — a regular run: every employee on pay_schedule_id employed in the period, " +
			"each day paid at the version of their record in effect that day; an off-cycle run: employee_ids and the adjustments' employees, " +
			"paying the difference between the period recomputed and what posted runs already paid for it — and stores the draft with one " +
			"payslip per employee. Answers 202 with an operation (Location: /v1/operations/{id}) whose result is the run; the per-employee " +
			"breakdown is at GET /v1/payroll-runs/{id}. A second regular run of a schedule's period is 409.",
		Request: reflect.TypeFor[PayrollRunRequest](), Response: reflect.TypeFor[operations.Operation](), Status: http.StatusAccepted,
		Headers: []string{"Location"}, Errors: []int{409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in PayrollRunRequest
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		co, err := rest.Company(r.Context(), in.CompanyID, "/company_id")
		if err != nil {
			return err
		}
		ctx := r.Context()
		// No background job runner exists yet, so the computation runs to
		// completion in this request, in the operation's transaction (a
		// failed run leaves neither run nor operation); clients already
		// get the 202 contract and poll the finished operation.
		var opID string
		err = d.Transact(ctx, func(tx *db.Tx) error {
			op, err := operations.Start(ctx, tx, OperationKind, co)
			if err != nil {
				return err
			}
			run, err := s.Create(ctx, tx, co, in, op.ID)
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
	api.Handle(rest.Operation{
		ID: "listPayrollRuns", Method: http.MethodGet, Path: "/v1/payroll-runs", Tag: tag, Scope: Read, XML: true,
		Summary: "List payroll runs", Description: "Oldest first, totals only; filter by status.",
		Params:   []rest.Param{{Name: "company_id", In: "query"}, {Name: "status", In: "query"}, {Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response: reflect.TypeFor[PayrollRunList](),
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := companyOf(r)
		if err != nil {
			return err
		}
		status := r.URL.Query().Get("status")
		var out PayrollRunList
		out.Data, out.NextPageToken, err = rest.IDPage(r, []string{"payroll-runs", co, status}, func(p PayrollRun) string { return p.ID },
			func(after string, limit int) ([]PayrollRun, error) {
				return listRuns(r.Context(), d.Reader(r.Context()), co, status, after, limit)
			})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "getPayrollRun", Method: http.MethodGet, Path: "/v1/payroll-runs/{id}", Tag: tag, Scope: Read, XML: true,
		Summary: "Get a payroll run with its per-employee breakdown", Description: "The read is audited (it shows individual pay).",
		Params: idParam, Response: runType, Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := companyOf(r)
		if err != nil {
			return err
		}
		ctx := r.Context()
		run, err := loadRun(ctx, d.Reader(ctx), co, r.PathValue("id"), false)
		if err != nil {
			return err
		}
		if err := s.Breakdown(ctx, d.Reader(ctx), &run.PayrollRun); err != nil {
			return err
		}
		if err := auditRead(ctx, d, co, "payroll_run", run.ID); err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, run.PayrollRun)
	})
	step := func(fn func(ctx context.Context, tx *db.Tx, companyID, runID string) (PayrollRun, error)) rest.Handler {
		return func(w http.ResponseWriter, r *http.Request) error {
			co, err := companyOf(r)
			if err != nil {
				return err
			}
			var out PayrollRun
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
	for _, a := range []struct {
		id, path, summary, desc string
		fn                      func(ctx context.Context, tx *db.Tx, companyID, runID string) (PayrollRun, error)
	}{
		{"recalculatePayrollRun", "recalculate", "Compute a draft run again", "After employees, timesheets, leave or rate tables changed, or another run was posted: a draft or approved run (an approved one goes back to draft); a posted run is 409.", s.Recalculate},
		{"approvePayrollRun", "approve", "Approve a payroll run", "A draft with at least one payslip; an approved, posted or paid run is returned unchanged; a cancelled one is 409.", s.Approve},
		{"postPayrollRun", "post", "Post a payroll run to the ledger",
			"One balanced entry dated period_end (source payroll_run/{id}/payroll): salary expense and employer contributions per cost center " +
				"(cost centers of fewer than 3 people pooled), a liability per tax, contribution and deduction (posting rules: role payroll_liabilities " +
				"by payroll_component = the code; net pay NET_PAY), so no line shows one person's pay. Only approved runs; a closed period is 409; " +
				"409 too when another run posted since this one was calculated pays some of the same people this year. Posted runs are immutable.", s.Post},
		{"payPayrollRun", "pay", "Pay a posted payroll run",
			"Posts the net pay (net-pay liability to the bank, dated pay_date) and produces the payment file (GET …/payment-file). Every employee " +
				"paid needs a bank account (422 listing those without).", s.Pay},
		{"cancelPayrollRun", "cancel", "Cancel a payroll run", "A draft or approved run; a posted one is 409 (correct it with an off-cycle run).", s.Cancel},
	} {
		api.Handle(rest.Operation{
			ID: a.id, Method: http.MethodPost, Path: "/v1/payroll-runs/{id}/" + a.path, Tag: tag, Scope: Write, XML: true, Idempotent: true,
			Summary: a.summary, Description: a.desc, Params: idParam, Response: runType, Errors: []int{404, 409},
		}, step(a.fn))
	}
	api.Handle(rest.Operation{
		ID: "getPayrollRunPaymentFile", Method: http.MethodGet, Path: "/v1/payroll-runs/{id}/payment-file", Tag: tag, Scope: Read,
		Summary: "Download a paid run's payment file",
		Description: "format=csv (default): text/csv, one transfer per employee paid: employee_number, name, iban, bic, account_number, " +
			"routing_number, amount, currency, reference, payslip_id. format=pain.001: an ISO 20022 pain.001.001.09 SEPA credit transfer " +
			"(category purpose SALA, EndToEndId = the payslip id) from the company's bank_account, for EUR runs whose payees all have an IBAN " +
			"(409 otherwise). Produced once at payment and kept sealed. 409 before the run is paid. The read is audited.",
		Params: append(idParam, rest.Param{Name: "format", In: "query", Description: "csv (default) or pain.001"}), Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := companyOf(r)
		if err != nil {
			return err
		}
		ctx := r.Context()
		format := r.URL.Query().Get("format")
		switch format {
		case "", "csv":
			format = "csv"
		case "pain.001":
		default:
			return apperr.New(apperr.BadRequest, "format is csv or pain.001.").WithFields(apperr.FieldError{Pointer: "query:format", Detail: "csv or pain.001"})
		}
		text, err := s.PaymentFile(ctx, d.Reader(ctx), co, r.PathValue("id"), format)
		if err != nil {
			return err
		}
		if err := auditRead(ctx, d, co, "payroll_run", r.PathValue("id")); err != nil {
			return err
		}
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		if format == "csv" {
			h.Set("Content-Type", "text/csv; charset=utf-8")
			h.Set("Content-Disposition", `attachment; filename="`+r.PathValue("id")+`.csv"`)
		} else {
			h.Set("Content-Type", "application/xml")
			h.Set("Content-Disposition", `attachment; filename="`+r.PathValue("id")+`.xml"`)
		}
		w.WriteHeader(http.StatusOK)
		_, err = w.Write([]byte(text))
		return err
	})
	api.Handle(rest.Operation{
		ID: "listPayslips", Method: http.MethodGet, Path: "/v1/payslips", Tag: tag, Scope: Read, XML: true,
		Summary: "List payslips", Description: "Oldest first; filter by employee_id and payroll_run_id. The read is audited.",
		Params: []rest.Param{{Name: "company_id", In: "query"}, {Name: "employee_id", In: "query"}, {Name: "payroll_run_id", In: "query"},
			{Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response: reflect.TypeFor[PayslipList](),
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := companyOf(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		emp, run := q.Get("employee_id"), q.Get("payroll_run_id")
		ctx := r.Context()
		var out PayslipList
		out.Data, out.NextPageToken, err = rest.IDPage(r, []string{"payslips", co, emp, run}, func(p Payslip) string { return p.ID },
			func(after string, limit int) ([]Payslip, error) {
				return s.Slips(ctx, d.Reader(ctx), co, emp, run, after, limit)
			})
		if err != nil {
			return err
		}
		if len(out.Data) > 0 {
			ids := make([]string, len(out.Data))
			for i, p := range out.Data {
				ids[i] = p.ID
			}
			if err := auditRead(ctx, d, co, "payslip", "", ids...); err != nil {
				return err
			}
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "getPayslip", Method: http.MethodGet, Path: "/v1/payslips/{id}", Tag: tag, Scope: Read, XML: true,
		Summary: "Get a payslip", Description: "JSON, or XML with Accept: application/xml. The read is audited.",
		Params: idParam, Response: reflect.TypeFor[Payslip](), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := companyOf(r)
		if err != nil {
			return err
		}
		ctx := r.Context()
		p, err := s.Slip(ctx, d.Reader(ctx), co, r.PathValue("id"))
		if err != nil {
			return err
		}
		if err := auditRead(ctx, d, co, "payslip", p.ID); err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, p)
	})
	return m
}

// auditRead records a read of individual pay.
func auditRead(ctx context.Context, d *db.DB, companyID, kind, id string, ids ...string) error {
	e := audit.Entry{Action: kind + ".read_sensitive", ResourceType: kind, ResourceID: id, CompanyID: companyID}
	if len(ids) > 0 {
		e.Details = map[string]any{"ids": ids}
	}
	return d.Transact(ctx, func(tx *db.Tx) error { return audit.Record(ctx, tx, e) })
}
