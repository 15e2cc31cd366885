package hr

import (
	"net/http"
	"reflect"
	"sort"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/crypto"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// Module is the mounted HR module.
type Module struct {
	Departments *resource.Resource[Department, *Department]
	Positions   *resource.Resource[Position, *Position]
	Employees   *Employees
	Timesheets  *resource.Resource[Timesheet, *Timesheet]
	LeaveTypes  *resource.Resource[LeaveType, *LeaveType]
	Leave       *resource.Resource[LeaveRequest, *LeaveRequest]
}

// EmployeeList is a page of employees.
type EmployeeList struct {
	Data          []any  `json:"data" doc:"Employees (see Employee), each as of as_of."`
	NextPageToken string `json:"next_page_token"`
}

// EmployeeHistory is an employee's versions.
type EmployeeHistory struct {
	EmployeeID string            `json:"employee_id"`
	Versions   []EmployeeVersion `json:"versions"`
}

// EmployeePayChangeRequest changes an employee's pay from a date.
type EmployeePayChangeRequest struct {
	EffectiveDate string      `json:"effective_date,omitempty" doc:"YYYY-MM-DD the new pay applies from; default today."`
	Pay           EmployeePay `json:"pay"`
}

// Mount registers the HR resources and the employee routes.
func Mount(api *rest.API, eng *resource.Engine, d *db.DB, keyring *crypto.Keyring) *Module {
	m := &Module{
		Departments: resource.Register[Department](eng, DepartmentSpec),
		Positions:   resource.Register[Position](eng, PositionSpec),
		Employees:   &Employees{DB: d, API: api, Keyring: keyring},
		Timesheets:  resource.Register[Timesheet](eng, TimesheetSpec),
		LeaveTypes:  resource.Register[LeaveType](eng, LeaveTypeSpec),
		Leave:       resource.Register[LeaveRequest](eng, LeaveRequestSpec),
	}
	m.Departments.BeforeDelete(RefuseDeleteIfUsed("department", [2]string{"employee_versions", "department_id"}))
	m.Positions.BeforeDelete(RefuseDeleteIfUsed("position", [2]string{"employee_versions", "position_id"}))
	s := m.Employees
	const tag = "Employees"
	one := reflect.TypeFor[Employee]()
	companyParam := rest.Param{Name: "company_id", In: "query", Description: "The company to work in; required when the client works in more than one."}
	asOfParam := rest.Param{Name: "as_of", In: "query", Description: "YYYY-MM-DD: answer as of this date (default today in the company's time zone)."}
	effParam := rest.Param{Name: "effective_date", In: "query", Description: "YYYY-MM-DD the change applies from (default today); later scheduled versions take the members it sets."}
	idParam := rest.Param{Name: "id", In: "path", Description: "The employee's id."}
	ifMatch := func(required bool) rest.Param {
		return rest.Param{Name: "If-Match", In: "header", Required: required, Description: "The ETag from your last read; a stale one is 412."}
	}
	sensitiveNote := " national_id, bank_account and birth_date are returned and writable only with hr:write or payroll:read; pay only with payroll:read " +
		"(writable with payroll:write). They are omitted, never masked, encrypted at rest, and every response showing them is audited."
	// fields reads the partial-response parameter: members the caller may
	// not see are unknown to it, as they are to filters.
	fields := func(r *http.Request) ([]string, error) {
		if !r.URL.Query().Has("fields") {
			return nil, nil
		}
		p, _ := auth.FromContext(r.Context())
		hide := hiddenFor(p)
		var allowed []string
		for name := range api.SchemaOf(one).Properties {
			if _, hidden := hide[name]; !hidden {
				allowed = append(allowed, name)
			}
		}
		sort.Strings(allowed)
		return query.ParseFields(r.URL.Query().Get("fields"), allowed)
	}
	shape := func(p auth.Principal, e *Employee, only []string) any {
		v := Present(p, e)
		if only == nil {
			return v
		}
		m, _ := toMap(v)
		out := make(map[string]any, len(only))
		for _, f := range only {
			if x, ok := m[f]; ok {
				out[f] = x
			}
		}
		return out
	}
	respond := func(w http.ResponseWriter, r *http.Request, status int, e *Employee, version int64) error {
		p, _ := auth.FromContext(r.Context())
		only, err := fields(r)
		if err != nil {
			return err
		}
		if r.Method == http.MethodGet {
			if err := s.AuditRead(r.Context(), e.CompanyID, e); err != nil {
				return err
			}
		}
		w.Header().Set("ETag", rest.ETag(version))
		return rest.RespondNamed(w, r, status, "employee", shape(p, e, only))
	}
	companyOf := func(r *http.Request, named, pointer string) (string, error) {
		return rest.Company(r.Context(), named, pointer)
	}

	api.Handle(rest.Operation{
		ID: "listEmployees", Method: http.MethodGet, Path: "/v1/employees", Tag: tag, Scope: Read, XML: true,
		Summary:     "List employees",
		Description: "Each employee as of as_of (default today): the version in effect that day." + sensitiveNote,
		Params: []rest.Param{companyParam, asOfParam,
			{Name: "filter", In: "query", Description: "AIP-160 filter, e.g. `department_id = \"dep_…\" AND start_date <= \"2026-12-31\"`. Fields: " + ListFields() + "."},
			{Name: "order_by", In: "query", Description: "Comma-separated fields, each optionally followed by desc; ties are broken by id."},
			{Name: "page_size", In: "query", Description: "1 to 500; default 50."},
			{Name: "page_token", In: "query", Description: "next_page_token of the previous page, with the same filter, order_by and as_of."},
			{Name: "fields", In: "query", Description: "Comma-separated top-level members to return (partial response); members the caller may not see are unknown."}},
		Response: reflect.TypeFor[EmployeeList](),
	}, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		co, err := companyOf(r, q.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		asOf, err := ParseDate(q.Get("as_of"), "as_of")
		if err != nil {
			return err
		}
		size, err := query.ParsePageSize(q.Get("page_size"))
		if err != nil {
			return err
		}
		only, err := fields(r)
		if err != nil {
			return err
		}
		items, next, err := s.List(r.Context(), ListParams{CompanyID: co, AsOf: asOf, Filter: q.Get("filter"), OrderBy: q.Get("order_by"), PageToken: q.Get("page_token"), PageSize: size})
		if err != nil {
			return err
		}
		if err := s.AuditRead(r.Context(), co, items...); err != nil {
			return err
		}
		p, _ := auth.FromContext(r.Context())
		out := EmployeeList{Data: make([]any, len(items)), NextPageToken: next}
		for i, e := range items {
			out.Data[i] = shape(p, e, only)
		}
		return rest.RespondNamed(w, r, http.StatusOK, "list", out)
	})
	api.Handle(rest.Operation{
		ID: "createEmployee", Method: http.MethodPost, Path: "/v1/employees", Tag: tag, Scope: Write, XML: true, Idempotent: true,
		Summary:     "Create an employee",
		Description: "The record as first created applies from the beginning (as_of any date finds it; status says pending before start_date)." + sensitiveNote,
		Request:     one, Response: one, Status: http.StatusCreated, Headers: []string{"Location", "ETag"}, Errors: []int{409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		body, err := api.ReadBody(r, one, true, false)
		if err != nil {
			return err
		}
		named, _ := body["company_id"].(string)
		co, err := companyOf(r, named, "/company_id")
		if err != nil {
			return err
		}
		var e *Employee
		var v int64
		if err := d.Transact(r.Context(), func(tx *db.Tx) error {
			e, v, err = s.Create(r.Context(), tx, co, body)
			return err
		}); err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/employees/"+e.ID)
		return respond(w, r, http.StatusCreated, e, v)
	})
	api.Handle(rest.Operation{
		ID: "getEmployee", Method: http.MethodGet, Path: "/v1/employees/{id}", Tag: tag, Scope: Read, XML: true,
		Summary: "Get an employee as of a date", Description: "The version in effect on as_of (default today)." + sensitiveNote,
		Params: []rest.Param{idParam, asOfParam, {Name: "fields", In: "query", Description: "Comma-separated top-level members to return."}}, Response: one, Headers: []string{"ETag"}, Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		asOf, err := ParseDate(r.URL.Query().Get("as_of"), "as_of")
		if err != nil {
			return err
		}
		e, v, err := s.Get(r.Context(), r.PathValue("id"), asOf)
		if err != nil {
			return err
		}
		return respond(w, r, http.StatusOK, e, v)
	})
	api.Handle(rest.Operation{
		ID: "getEmployeeView", Method: http.MethodGet, Path: "/v1/employees/{id}/{view}", Tag: tag, Scope: Read, XML: true,
		Summary: "Get an employee's history or leave balances",
		Description: "GET /v1/employees/{id}/history: every effective-dated version, oldest first, each with the members it changed. " +
			"GET /v1/employees/{id}/leave-balances?as_of=: per accruing leave type, the days accrued this year up to as_of (default today), taken and left. " +
			"(The path has a {view} segment, enumerated, because Go's router refuses /v1/employees/{id}/history beside /v1/employees/external/{external_id}.)" + sensitiveNote,
		Params:   []rest.Param{idParam, {Name: "view", In: "path", Description: "history or leave-balances", Schema: &huma.Schema{Type: "string", Enum: []any{"history", "leave-balances"}}}, asOfParam},
		Response: reflect.TypeFor[EmployeeHistory](), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		switch r.PathValue("view") {
		case "history":
		case "leave-balances":
			asOf, err := ParseDate(r.URL.Query().Get("as_of"), "as_of")
			if err != nil {
				return err
			}
			e, _, err := s.Get(r.Context(), r.PathValue("id"), asOf)
			if err != nil {
				return err
			}
			b, err := Balances(r.Context(), d.Reader(r.Context()), e.CompanyID, e.ID, e.AsOf)
			if err != nil {
				return err
			}
			return rest.Respond(w, r, http.StatusOK, LeaveBalances{EmployeeID: e.ID, AsOf: e.AsOf, Balances: b})
		default:
			return apperr.New(apperr.NotFound, "No such view of an employee; try /history or /leave-balances.")
		}
		h, emps, err := s.History(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		if len(emps) > 0 {
			if err := s.AuditRead(r.Context(), emps[0].CompanyID, emps...); err != nil {
				return err
			}
		}
		return rest.Respond(w, r, http.StatusOK, EmployeeHistory{EmployeeID: r.PathValue("id"), Versions: h})
	})
	api.Handle(rest.Operation{
		ID: "updateEmployee", Method: http.MethodPatch, Path: "/v1/employees/{id}", Tag: tag, Scope: Write,
		Summary: "Change an employee from a date",
		Description: "A JSON merge patch (RFC 7396) applied from effective_date (default today): the version of that date is made or replaced, and " +
			"versions scheduled after it take the members the patch sets. Answers the record as of effective_date." + sensitiveNote,
		Params: []rest.Param{idParam, effParam, ifMatch(true)}, Request: one, MergePatch: true, Response: one,
		Headers: []string{"ETag"}, Errors: []int{404, 409, 412, 428},
	}, func(w http.ResponseWriter, r *http.Request) error {
		patch, err := api.ReadBody(r, one, false, true)
		if err != nil {
			return err
		}
		eff, err := ParseDate(r.URL.Query().Get("effective_date"), "effective_date")
		if err != nil {
			return err
		}
		var e *Employee
		var v int64
		if err := d.Transact(r.Context(), func(tx *db.Tx) error {
			e, v, err = s.Update(r.Context(), tx, r.PathValue("id"), Change{Body: patch, Effective: eff,
				IfMatch: func(etag string) error { return rest.CheckIfMatch(r, etag, true) }})
			return err
		}); err != nil {
			return err
		}
		return respond(w, r, http.StatusOK, e, v)
	})
	api.Handle(rest.Operation{
		ID: "changeEmployeePay", Method: http.MethodPost, Path: "/v1/employees/{id}/pay-changes", Tag: tag, Scope: PayrollWrite, XML: true, Idempotent: true,
		Summary: "Change an employee's pay from a date",
		Description: "For payroll clients (payroll:write, no hr:write needed): sets pay from effective_date (default today), e.g. a raise " +
			"effective next month. Versions scheduled after it take the new pay too. Answers the record as of effective_date.",
		Params: []rest.Param{idParam}, Request: reflect.TypeFor[EmployeePayChangeRequest](), Response: one, Headers: []string{"ETag"}, Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in EmployeePayChangeRequest
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		if in.EffectiveDate != "" && !validDate(in.EffectiveDate) {
			return apperr.Field("/effective_date", "must be a date YYYY-MM-DD")
		}
		payMap, err := toMap(in.Pay)
		if err != nil {
			return err
		}
		var e *Employee
		var v int64
		if err := d.Transact(r.Context(), func(tx *db.Tx) error {
			e, v, err = s.Update(r.Context(), tx, r.PathValue("id"), Change{Body: map[string]any{"pay": payMap}, Effective: in.EffectiveDate})
			return err
		}); err != nil {
			return err
		}
		return respond(w, r, http.StatusOK, e, v)
	})
	api.Handle(rest.Operation{
		ID: "deleteEmployee", Method: http.MethodDelete, Path: "/v1/employees/{id}", Tag: tag, Scope: Write,
		Summary:     "Delete an employee",
		Description: "Only an employee never paid, without timesheets or leave, who manages nobody (409 otherwise: set end_date instead).",
		Params:      []rest.Param{idParam, ifMatch(false)}, Status: http.StatusNoContent, Errors: []int{404, 409, 412},
	}, func(w http.ResponseWriter, r *http.Request) error {
		if err := d.Transact(r.Context(), func(tx *db.Tx) error {
			return s.Delete(r.Context(), tx, r.PathValue("id"), func(etag string) error { return rest.CheckIfMatch(r, etag, false) })
		}); err != nil {
			return err
		}
		return rest.NoContent(w)
	})
	api.Handle(rest.Operation{
		ID: "eraseEmployee", Method: http.MethodPost, Path: "/v1/employees/{id}/erase", Tag: tag, Scope: Write, XML: true, Idempotent: true,
		Summary: "Erase a former employee's personal data",
		Description: "Destroys the employee's data key (national id, bank account, birth date and pay become unreadable in every version) and " +
			"blanks names and contact data; the record, its dated assignments, payslips (kept for payroll retention) and the audit chain stay. " +
			"409 while the employee is still employed (end_date absent or not yet past). Audited.",
		Params: []rest.Param{idParam}, Response: one, Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var e *Employee
		if err := d.Transact(r.Context(), func(tx *db.Tx) error {
			var err error
			e, err = s.Erase(r.Context(), tx, r.PathValue("id"))
			return err
		}); err != nil {
			return err
		}
		p, _ := auth.FromContext(r.Context())
		return rest.RespondNamed(w, r, http.StatusOK, "employee", Present(p, e))
	})
	extParam := rest.Param{Name: "external_id", In: "path", Description: "Your HR platform's identifier (URL-encode reserved characters)."}
	api.Handle(rest.Operation{
		ID: "getEmployeeByExternalId", Method: http.MethodGet, Path: "/v1/employees/external/{external_id}", Tag: tag, Scope: Read, XML: true,
		Summary: "Get an employee by your external id", Params: []rest.Param{extParam, companyParam, asOfParam}, Response: one,
		Headers: []string{"ETag"}, Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		co, err := companyOf(r, q.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		asOf, err := ParseDate(q.Get("as_of"), "as_of")
		if err != nil {
			return err
		}
		e, v, err := s.GetByExternalID(r.Context(), co, r.PathValue("external_id"), asOf)
		if err != nil {
			return err
		}
		return respond(w, r, http.StatusOK, e, v)
	})
	api.Handle(rest.Operation{
		ID: "upsertEmployee", Method: http.MethodPut, Path: "/v1/employees/external/{external_id}", Tag: tag, Scope: Write, XML: true,
		Summary: "Create or replace an employee by your external id",
		Description: "201 when created (the record applies from the beginning), 200 when replaced from effective_date (default today). " +
			"If-Match is honoured when sent. Members the caller may not see are kept, never cleared." + sensitiveNote,
		Params: []rest.Param{extParam, companyParam, effParam, ifMatch(false)}, Request: one, Response: one,
		Headers: []string{"ETag"}, Errors: []int{409, 412},
	}, func(w http.ResponseWriter, r *http.Request) error {
		body, err := api.ReadBody(r, one, true, false)
		if err != nil {
			return err
		}
		named := r.URL.Query().Get("company_id")
		if named == "" {
			named, _ = body["company_id"].(string)
		}
		co, err := companyOf(r, named, "/company_id")
		if err != nil {
			return err
		}
		eff, err := ParseDate(r.URL.Query().Get("effective_date"), "effective_date")
		if err != nil {
			return err
		}
		var e *Employee
		var v int64
		created := false
		if err := d.Transact(r.Context(), func(tx *db.Tx) error {
			e, v, created, err = s.Upsert(r.Context(), tx, co, r.PathValue("external_id"), Change{Body: body, Effective: eff,
				IfMatch: func(etag string) error { return rest.CheckIfMatch(r, etag, false) }})
			return err
		}); err != nil {
			return err
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
			w.Header().Set("Location", "/v1/employees/"+e.ID)
		}
		return respond(w, r, status, e, v)
	})
	mountBatch(api, d, s)
	return m
}
