package hr

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// MaxBatchItems bounds one employees batch or import.
const MaxBatchItems = 500

// EmployeeBatchItem is one write in POST /v1/employees/batch.
type EmployeeBatchItem struct {
	Action        string         `json:"action" enum:"create,update,upsert" doc:"create (body), update (id, merge-patch body), upsert (external_id, whole body)."`
	ID            string         `json:"id,omitempty" doc:"For update."`
	ExternalID    string         `json:"external_id,omitempty" doc:"For upsert."`
	EffectiveDate string         `json:"effective_date,omitempty" doc:"For update and upsert: YYYY-MM-DD the change applies from (default today)."`
	IfMatch       string         `json:"if_match,omitempty" doc:"ETag the record must still have."`
	Body          map[string]any `json:"body"`
}

// EmployeeBatchRequest is the body of POST /v1/employees/batch.
type EmployeeBatchRequest struct {
	CompanyID string              `json:"company_id,omitempty"`
	Items     []EmployeeBatchItem `json:"items" minItems:"1" maxItems:"500"`
}

// EmployeeBatchError is why one item failed.
type EmployeeBatchError struct {
	Status int                 `json:"status"`
	Code   string              `json:"code"`
	Detail string              `json:"detail"`
	Errors []apperr.FieldError `json:"errors,omitempty" doc:"Pointers are inside the item's body."`
}

// EmployeeBatchResult is what one item did (or would do, in a dry run).
type EmployeeBatchResult struct {
	Index    int                 `json:"index"`
	Status   int                 `json:"status" doc:"The status the item would answer alone: 201, 200, or its error's."`
	Outcome  string              `json:"outcome,omitempty" enum:"created,updated,unchanged" doc:"What the item did."`
	ID       string              `json:"id,omitempty"`
	Changed  []string            `json:"changed,omitempty" doc:"Members changed, among those the caller may see."`
	Employee any                 `json:"employee,omitempty" doc:"The record as of the change's date, as the caller may see it."`
	Error    *EmployeeBatchError `json:"error,omitempty"`
}

// EmployeeBatchResponse answers a batch or an import.
type EmployeeBatchResponse struct {
	Committed bool                  `json:"committed" doc:"True when every item succeeded and it was not a dry run; otherwise nothing was written."`
	DryRun    bool                  `json:"dry_run"`
	Failed    int                   `json:"failed"`
	Results   []EmployeeBatchResult `json:"results"`
}

var errRollback = errors.New("roll back")

// runBatch runs items in one transaction, each under a savepoint so that
// one failure does not stop the others from being checked; any failure,
// or a dry run, rolls everything back.
func (s *Employees) runBatch(ctx context.Context, companyID string, items []EmployeeBatchItem, dryRun bool) (EmployeeBatchResponse, error) {
	out := EmployeeBatchResponse{DryRun: dryRun}
	// Inside POST /v1/batch the work joins that batch's transaction, which
	// a rollback here could not undo: there a failed item fails the whole
	// batch, and a dry run is the outer batch's to ask for.
	joined := db.TxFrom(ctx) != nil
	if joined && dryRun {
		return out, apperr.New(apperr.BadRequest, "dry_run is not available inside /v1/batch; use the batch's own dry_run.").
			WithFields(apperr.FieldError{Pointer: "query:dry_run", Detail: "inside /v1/batch"})
	}
	err := s.DB.Transact(ctx, func(tx *db.Tx) error {
		out.Results, out.Failed = nil, 0
		for i, it := range items {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT employee_item"); err != nil {
				return fmt.Errorf("batch item %d: %w", i, err)
			}
			res, err := s.runItem(ctx, tx, companyID, it)
			res.Index = i
			if err != nil {
				ae := apperr.As(err)
				if ae.Code == apperr.Internal {
					return err
				}
				if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT employee_item"); rerr != nil {
					return fmt.Errorf("batch item %d: %w", i, rerr)
				}
				res.Status = ae.Code.Status()
				res.Error = &EmployeeBatchError{Status: res.Status, Code: string(ae.Code), Detail: ae.Message, Errors: ae.Fields}
				out.Failed++
			} else if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT employee_item"); err != nil {
				return fmt.Errorf("batch item %d: %w", i, err)
			}
			out.Results = append(out.Results, res)
		}
		if joined && out.Failed > 0 {
			for _, r := range out.Results {
				if r.Error != nil {
					return apperr.New(apperr.Code(r.Error.Code), "Employee batch item %d failed: %s", r.Index, r.Error.Detail).
						WithFields(apperr.FieldError{Pointer: fmt.Sprintf("/items/%d", r.Index), Detail: r.Error.Detail})
				}
			}
		}
		if dryRun || out.Failed > 0 {
			return errRollback
		}
		return nil
	})
	if errors.Is(err, errRollback) {
		err = nil
	}
	out.Committed = err == nil && !dryRun && out.Failed == 0
	return out, err
}

func (s *Employees) runItem(ctx context.Context, tx *db.Tx, companyID string, it EmployeeBatchItem) (EmployeeBatchResult, error) {
	p, _ := auth.FromContext(ctx)
	var res EmployeeBatchResult
	if it.EffectiveDate != "" && !validDate(it.EffectiveDate) {
		return res, apperr.Field("/effective_date", "must be a date YYYY-MM-DD")
	}
	if it.Body == nil {
		it.Body = map[string]any{}
	}
	check := func(etag string) error {
		if it.IfMatch != "" && it.IfMatch != etag {
			return apperr.New(apperr.PreconditionFailed, "The employee changed since you read it (ETag %s, now %s).", it.IfMatch, etag)
		}
		return nil
	}
	var before map[string]any
	beforeOf := func(i identity) {
		asOf := it.EffectiveDate
		if asOf == "" {
			asOf, _ = Today(ctx, tx, i.CompanyID, tx.Now())
		}
		if e, err := s.current(ctx, tx, i, asOf); err == nil {
			before, _ = toMap(Present(p, e))
		}
	}
	var e *Employee
	var err error
	switch it.Action {
	case "create":
		e, _, err = s.Create(ctx, tx, companyID, it.Body)
		res.Status, res.Outcome = http.StatusCreated, "created"
	case "update":
		if it.ID == "" {
			return res, apperr.Field("/id", "is required for update")
		}
		if i, lerr := s.loadIdentity(ctx, tx, "id = $1", []any{it.ID}, it.ID, false); lerr == nil && i.CompanyID == companyID {
			beforeOf(i)
		} else if lerr == nil {
			return res, notFound(it.ID)
		}
		e, _, err = s.Update(ctx, tx, it.ID, Change{Body: it.Body, Effective: it.EffectiveDate, IfMatch: check})
		res.Status, res.Outcome = http.StatusOK, "updated"
	case "upsert":
		if it.ExternalID == "" {
			return res, apperr.Field("/external_id", "is required for upsert")
		}
		if i, lerr := s.loadIdentity(ctx, tx, "company_id = $1 AND external_id = $2 AND external_id <> ''", []any{companyID, it.ExternalID}, it.ExternalID, false); lerr == nil {
			beforeOf(i)
		}
		var created bool
		e, _, created, err = s.Upsert(ctx, tx, companyID, it.ExternalID, Change{Body: it.Body, Effective: it.EffectiveDate, IfMatch: check})
		res.Status, res.Outcome = http.StatusOK, "updated"
		if created {
			res.Status, res.Outcome = http.StatusCreated, "created"
		}
	default:
		return res, apperr.Field("/action", "must be create, update or upsert")
	}
	if err != nil {
		return res, err
	}
	res.ID = e.ID
	res.Employee = Present(p, e)
	if before != nil {
		after, _ := toMap(res.Employee)
		for _, k := range changedMembers(before, after) {
			if k != "updated_at" && k != "as_of" && k != "effective_from" && k != "status" {
				res.Changed = append(res.Changed, k)
			}
		}
		if len(res.Changed) == 0 {
			res.Outcome = "unchanged"
		}
	}
	return res, nil
}

// EmployeeImportRequest is the body of POST /v1/employees/import.
type EmployeeImportRequest struct {
	CompanyID     string            `json:"company_id,omitempty"`
	CSV           string            `json:"csv" minLength:"1" doc:"The CSV export, with a header row."`
	Mapping       map[string]string `json:"mapping" doc:"CSV column → employee member; nested members with dots (bank_account.iban, tax_settings.jurisdiction, address.city). The column mapped to external_id is required: rows are upserted by it."`
	EffectiveDate string            `json:"effective_date,omitempty" doc:"YYYY-MM-DD the changes apply from (default today)."`
	Delimiter     string            `json:"delimiter,omitempty" maxLength:"1" doc:"Default ,"`
}

// importItems turns CSV rows into upserts.
func importItems(in EmployeeImportRequest) ([]EmployeeBatchItem, error) {
	r := csv.NewReader(strings.NewReader(in.CSV))
	if in.Delimiter != "" {
		r.Comma = rune(in.Delimiter[0])
	}
	header, err := r.Read()
	if err != nil {
		return nil, apperr.Field("/csv", "cannot read the header row: %v", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	extCol := -1
	cols := make([]string, 0, len(in.Mapping))
	for c := range in.Mapping {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	var fields []apperr.FieldError
	for _, c := range cols {
		member := in.Mapping[c]
		i, ok := col[c]
		if !ok {
			fields = append(fields, apperr.FieldError{Pointer: "/mapping/" + c, Detail: fmt.Sprintf("no column %q in the header", c)})
			continue
		}
		if member == "external_id" {
			extCol = i
		}
		if member == "" || strings.HasPrefix(member, ".") || strings.HasSuffix(member, ".") {
			fields = append(fields, apperr.FieldError{Pointer: "/mapping/" + c, Detail: "must name a member"})
		}
	}
	if extCol < 0 {
		fields = append(fields, apperr.FieldError{Pointer: "/mapping", Detail: "map one column to external_id: rows are upserted by it"})
	}
	if len(fields) > 0 {
		return nil, apperr.Fields(fields...)
	}
	var items []EmployeeBatchItem
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, apperr.Field("/csv", "line %d: %v", line, err)
		}
		if len(items) == MaxBatchItems {
			return nil, apperr.Field("/csv", "at most %d rows per import", MaxBatchItems)
		}
		body := map[string]any{}
		for _, c := range cols {
			v := strings.TrimSpace(rec[col[c]])
			if v == "" {
				continue
			}
			setPath(body, strings.Split(in.Mapping[c], "."), v)
		}
		ext, _ := body["external_id"].(string)
		delete(body, "external_id")
		items = append(items, EmployeeBatchItem{Action: "upsert", ExternalID: ext, EffectiveDate: in.EffectiveDate, Body: body})
	}
	if len(items) == 0 {
		return nil, apperr.Field("/csv", "no rows after the header")
	}
	return items, nil
}

func setPath(m map[string]any, path []string, v string) {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

func mountBatch(api *rest.API, d *db.DB, s *Employees) {
	_ = d
	dry := rest.Param{Name: "dry_run", In: "query", Description: "true: run every item, report the results, write nothing."}
	respond := func(w http.ResponseWriter, r *http.Request, out EmployeeBatchResponse) error {
		status := http.StatusOK
		if out.Failed > 0 && !out.DryRun {
			status = http.StatusUnprocessableEntity
			for _, res := range out.Results {
				if res.Error != nil {
					status = res.Error.Status
					break
				}
			}
		}
		return rest.Respond(w, r, status, out)
	}
	api.Handle(rest.Operation{
		ID: "batchEmployees", Method: http.MethodPost, Path: "/v1/employees/batch", Tag: "Employees", Scope: Write, XML: true, Idempotent: true,
		Summary: "Create, change and upsert up to 500 employees atomically",
		Description: "All or none: every item is checked and answered in results (status, outcome, changed members, the record or the error); " +
			"if any fails nothing is written and the answer has the first failure's status (the body still lists every item). dry_run=true " +
			"runs everything and writes nothing. Sensitive members follow the rules of the single-record operations.",
		Params: []rest.Param{dry}, Request: reflect.TypeFor[EmployeeBatchRequest](), Response: reflect.TypeFor[EmployeeBatchResponse](), Errors: []int{404, 409, 412},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in EmployeeBatchRequest
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		co, err := rest.Company(r.Context(), in.CompanyID, "/company_id")
		if err != nil {
			return err
		}
		out, err := s.runBatch(r.Context(), co, in.Items, r.URL.Query().Get("dry_run") == "true")
		if err != nil {
			return err
		}
		return respond(w, r, out)
	})
	api.Handle(rest.Operation{
		ID: "importEmployees", Method: http.MethodPost, Path: "/v1/employees/import", Tag: "Employees", Scope: Write, XML: true, Idempotent: true,
		Summary: "Import employees from a CSV export",
		Description: "Maps the CSV's columns to members (mapping), then upserts each row by the column mapped to external_id, atomically, " +
			"like POST /v1/employees/batch (result index = data row, 0 for the first row after the header). With dry_run=true nothing is " +
			"written and each result says whether the row would create, update (and which members) or leave the employee unchanged.",
		Params: []rest.Param{dry}, Request: reflect.TypeFor[EmployeeImportRequest](), Response: reflect.TypeFor[EmployeeBatchResponse](), Errors: []int{409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in EmployeeImportRequest
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		co, err := rest.Company(r.Context(), in.CompanyID, "/company_id")
		if err != nil {
			return err
		}
		items, err := importItems(in)
		if err != nil {
			return err
		}
		out, err := s.runBatch(r.Context(), co, items, r.URL.Query().Get("dry_run") == "true")
		if err != nil {
			return err
		}
		return respond(w, r, out)
	})
}
