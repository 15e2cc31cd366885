package app_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// hrWorld is a company with a department, a position, a monthly pay
// schedule, and callers in the roles that matter for people data.
type hrWorld struct {
	*world
	hr, payroll, sales, readonly, finance *apitest.Caller
	dept, pos, sched                      string
}

func newHRWorld(t *testing.T, e db.Engine) *hrWorld {
	t.Helper()
	w := &hrWorld{world: setupWorld(t, eventsServer(t, e))}
	w.hr = w.s.As(t, []string{"hr"}, w.company)
	w.payroll = w.s.As(t, []string{"payroll"}, w.company)
	w.sales = w.s.As(t, []string{"sales"}, w.company)
	w.readonly = w.s.As(t, []string{"readonly"}, w.company)
	w.finance = w.s.As(t, []string{"finance"}, w.company)
	w.dept = w.hr.Do(t, "POST", "/v1/departments", map[string]any{"code": "ENG", "name": "Engineering", "cost_center": "CC-ENG"}).Expect(t, 201).JSON(t)["id"].(string)
	w.pos = w.hr.Do(t, "POST", "/v1/positions", map[string]any{"code": "DEV", "title": "Developer", "department_id": w.dept}).Expect(t, 201).JSON(t)["id"].(string)
	w.sched = w.payroll.Do(t, "POST", "/v1/pay-schedules", map[string]any{"code": "M", "name": "Monthly", "frequency": "monthly"}).Expect(t, 201).JSON(t)["id"].(string)
	return w
}

// employee creates an employee (as admin: personal data and pay at once).
func (w *hrWorld) employee(t *testing.T, number, salary string, extra map[string]any) map[string]any {
	t.Helper()
	body := map[string]any{
		"employee_number": number, "given_name": "Ada", "family_name": "Person " + number, "start_date": "2025-01-01",
		"department_id": w.dept, "position_id": w.pos, "pay_schedule_id": w.sched, "national_id": "NID-" + number + "-SECRET",
		"bank_account": map[string]any{"iban": "DE89370400440532013000"}, "tax_settings": map[string]any{"jurisdiction": "DE"},
		"pay": map[string]any{"currency": "EUR", "components": []any{map[string]any{"code": "SALARY", "kind": "salary", "amount": salary}}},
	}
	for k, v := range extra {
		body[k] = v
	}
	return w.admin.Do(t, "POST", "/v1/employees", body).Expect(t, 201).JSON(t)
}

func TestHREmployeesSensitiveFieldsAndEffectiveDating(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newHRWorld(t, e)
		emp := w.employee(t, "E1", "60000", map[string]any{"external_id": "workday:1001"})
		id := emp["id"].(string)
		if emp["status"] != "active" || emp["cost_center"] != nil {
			t.Fatalf("created %v", emp)
		}
		// HR sees the national id, not the pay; payroll sees both.
		h := w.hr.Do(t, "GET", "/v1/employees/"+id, nil).Expect(t, 200).JSON(t)
		if h["national_id"] != "NID-E1-SECRET" || h["pay"] != nil {
			t.Fatalf("hr view %v", h)
		}
		p := w.payroll.Do(t, "GET", "/v1/employees/"+id, nil).Expect(t, 200).JSON(t)
		if p["national_id"] != "NID-E1-SECRET" || p["pay"] == nil {
			t.Fatalf("payroll view %v", p)
		}
		// Sales, readonly and finance may not read employees at all.
		for _, c := range []*apitest.Caller{w.sales, w.readonly, w.finance} {
			c.Do(t, "GET", "/v1/employees/"+id, nil).ExpectProblem(t, 403, apperr.Forbidden)
			c.Do(t, "GET", "/v1/employees", nil).ExpectProblem(t, 403, apperr.Forbidden)
			c.Do(t, "GET", "/v1/payslips", nil).ExpectProblem(t, 403, apperr.Forbidden)
		}
		// HR may not write pay.
		etag := w.hr.Do(t, "GET", "/v1/employees/"+id, nil).Expect(t, 200).Header.Get("ETag")
		prob := w.hr.Do(t, "PATCH", "/v1/employees/"+id, map[string]any{"pay": map[string]any{"currency": "EUR", "components": []any{}}},
			"Content-Type", "application/merge-patch+json", "If-Match", etag).ExpectProblem(t, 403, apperr.Forbidden)
		if !apitest.HasPointer(prob, "/pay") {
			t.Fatalf("pointer %+v", prob.Errors)
		}
		// A move to another cost center from 2026-07-01, by HR.
		w.hr.Do(t, "PATCH", "/v1/employees/"+id+"?effective_date=2026-07-01", map[string]any{"cost_center": "CC-NEW", "work_location": "Berlin"},
			"Content-Type", "application/merge-patch+json").ExpectProblem(t, 428, apperr.PreconditionRequired)
		moved := w.hr.Do(t, "PATCH", "/v1/employees/"+id+"?effective_date=2026-07-01", map[string]any{"cost_center": "CC-NEW", "work_location": "Berlin"},
			"Content-Type", "application/merge-patch+json", "If-Match", etag).Expect(t, 200).JSON(t)
		if moved["cost_center"] != "CC-NEW" || moved["effective_from"] != "2026-07-01" {
			t.Fatalf("moved %v", moved)
		}
		// A raise from 2027-01-01, by payroll.
		w.payroll.Do(t, "POST", "/v1/employees/"+id+"/pay-changes", map[string]any{"effective_date": "2027-01-01",
			"pay": map[string]any{"currency": "EUR", "components": []any{map[string]any{"code": "SALARY", "kind": "salary", "amount": "66000"}}}}).Expect(t, 200)
		// A correction effective earlier is carried into the later version.
		etag = w.hr.Do(t, "GET", "/v1/employees/"+id, nil).Expect(t, 200).Header.Get("ETag")
		w.hr.Do(t, "PATCH", "/v1/employees/"+id+"?effective_date=2026-08-01", map[string]any{"phone": "+49 30 1234"},
			"Content-Type", "application/merge-patch+json", "If-Match", etag).Expect(t, 200)
		salaryOn := func(date string) string {
			e := w.payroll.Do(t, "GET", "/v1/employees/"+id+"?as_of="+date, nil).Expect(t, 200).JSON(t)
			return e["pay"].(map[string]any)["components"].([]any)[0].(map[string]any)["amount"].(string)
		}
		if salaryOn("2026-12-31") != "60000" || salaryOn("2027-01-01") != "66000" {
			t.Fatalf("salary %s / %s", salaryOn("2026-12-31"), salaryOn("2027-01-01"))
		}
		late := w.hr.Do(t, "GET", "/v1/employees/"+id+"?as_of=2027-02-01", nil).Expect(t, 200).JSON(t)
		if late["phone"] != "+49 30 1234" || late["cost_center"] != "CC-NEW" {
			t.Fatalf("2027 version lost the earlier changes: %v", late)
		}
		early := w.hr.Do(t, "GET", "/v1/employees/"+id+"?as_of=2026-06-30", nil).Expect(t, 200).JSON(t)
		if early["cost_center"] != nil || early["phone"] != nil {
			t.Fatalf("june version %v", early)
		}
		w.hr.Do(t, "GET", "/v1/employees/"+id+"?as_of=2026-13-01", nil).ExpectProblem(t, 400, apperr.BadRequest)
		// History: the HR reader is not told that pay changed.
		hist := w.hr.Do(t, "GET", "/v1/employees/"+id+"/history", nil).Expect(t, 200).JSON(t)["versions"].([]any)
		if len(hist) != 4 {
			t.Fatalf("history %v", hist)
		}
		last := hist[3].(map[string]any)
		if last["effective_from"] != "2027-01-01" || len(last["changed"].([]any)) != 0 || last["employee"].(map[string]any)["pay"] != nil {
			t.Fatalf("hr sees the raise: %v", last)
		}
		phist := w.payroll.Do(t, "GET", "/v1/employees/"+id+"/history", nil).Expect(t, 200).JSON(t)["versions"].([]any)
		if ch := phist[3].(map[string]any)["changed"].([]any); len(ch) != 1 || ch[0] != "pay" {
			t.Fatalf("payroll history %v", phist[3])
		}
		// Lists as of a date, with filters.
		list := w.hr.Do(t, "GET", "/v1/employees?as_of=2026-07-15&filter="+url.QueryEscape(`cost_center = "CC-NEW"`), nil).Expect(t, 200).JSON(t)["data"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["pay"] != nil {
			t.Fatalf("list %v", list)
		}
		if list := w.hr.Do(t, "GET", "/v1/employees?as_of=2026-06-15&filter="+url.QueryEscape(`cost_center = "CC-NEW"`), nil).Expect(t, 200).JSON(t)["data"].([]any); len(list) != 0 {
			t.Fatalf("june list %v", list)
		}
		// Partial responses: a member the caller may not see is unknown.
		part := w.hr.Do(t, "GET", "/v1/employees/"+id+"?fields=id,family_name", nil).Expect(t, 200).JSON(t)
		if len(part) != 2 || part["family_name"] == nil {
			t.Fatalf("fields %v", part)
		}
		w.hr.Do(t, "GET", "/v1/employees?fields=id,pay", nil).ExpectProblem(t, 400, apperr.BadRequest)
		w.hr.Do(t, "GET", "/v1/employees?filter="+url.QueryEscape(`national_id = "NID-E1-SECRET"`), nil).ExpectProblem(t, 400, apperr.BadRequest)
		if l := w.payroll.Do(t, "GET", "/v1/employees?fields=id,pay", nil).Expect(t, 200).JSON(t)["data"].([]any); len(l) != 1 || l[0].(map[string]any)["pay"] == nil {
			t.Fatalf("payroll fields %v", l)
		}
		// Upsert by external id: 200 replaces, keeping what HR may not see (pay).
		up := w.hr.Do(t, "PUT", "/v1/employees/external/"+url.PathEscape("workday:1001"), map[string]any{
			"employee_number": "E1", "given_name": "Ada", "family_name": "Lovelace", "start_date": "2025-01-01", "pay_schedule_id": w.sched,
			"national_id": "NID-E1-SECRET", "tax_settings": map[string]any{"jurisdiction": "DE"},
		}).Expect(t, 200).JSON(t)
		if up["family_name"] != "Lovelace" || up["id"] != id {
			t.Fatalf("upsert %v", up)
		}
		if salaryOn("2026-12-31") != "60000" {
			t.Fatal("an upsert by HR cleared the pay it cannot see")
		}
		created := w.hr.Do(t, "PUT", "/v1/employees/external/workday:2002", map[string]any{
			"employee_number": "E2", "given_name": "Grace", "family_name": "Hopper", "start_date": "2026-01-01"}).Expect(t, 201).JSON(t)
		w.hr.Do(t, "POST", "/v1/employees", map[string]any{"employee_number": "E2", "given_name": "X", "family_name": "Y", "start_date": "2026-01-01"}).
			ExpectProblem(t, 409, apperr.Conflict)
		w.hr.Do(t, "POST", "/v1/employees", map[string]any{"employee_number": "E3", "given_name": "X", "family_name": "Y", "start_date": "2026-01-01", "status": "active"}).
			ExpectProblem(t, 422, apperr.Invalid)
		p2 := w.hr.Do(t, "POST", "/v1/employees", map[string]any{"employee_number": "E3", "given_name": "X", "family_name": "Y", "start_date": "2026-01-01", "department_id": "dep_nope"}).
			ExpectProblem(t, 422, apperr.Invalid)
		if !apitest.HasPointer(p2, "/department_id") {
			t.Fatalf("pointer %+v", p2.Errors)
		}
		// A department or pay schedule an employee names cannot be deleted.
		w.hr.Do(t, "DELETE", "/v1/departments/"+w.dept, nil).ExpectProblem(t, 409, apperr.Conflict)
		w.payroll.Do(t, "DELETE", "/v1/pay-schedules/"+w.sched, nil).ExpectProblem(t, 409, apperr.Conflict)
		// Another company's employee is 404.
		other := newCompanyCaller(t, w.world)
		other.Do(t, "GET", "/v1/employees/"+id, nil).ExpectProblem(t, 404, apperr.NotFound)
		// Deleting an unreferenced employee works.
		w.hr.Do(t, "DELETE", "/v1/employees/"+created["id"].(string), nil).Expect(t, 204)

		// Erasure: refused while employed; afterwards nobody reads the
		// national id, not even payroll.
		w.hr.Do(t, "POST", "/v1/employees/"+id+"/erase", nil).ExpectProblem(t, 409, apperr.Conflict)
		gone := w.admin.Do(t, "POST", "/v1/employees", map[string]any{"employee_number": "E9", "given_name": "Old", "family_name": "Timer",
			"start_date": "2019-01-01", "end_date": "2020-12-31", "national_id": "NID-E9-SECRET", "email": "old@example.com"}).Expect(t, 201).JSON(t)["id"].(string)
		er := w.hr.Do(t, "POST", "/v1/employees/"+gone+"/erase", nil).Expect(t, 200).JSON(t)
		if er["given_name"] != "Erased" || er["national_id"] != nil || er["email"] != nil || er["start_date"] != "2019-01-01" {
			t.Fatalf("erased %v", er)
		}
		if p := w.payroll.Do(t, "GET", "/v1/employees/"+gone, nil).Expect(t, 200).JSON(t); p["national_id"] != nil {
			t.Fatalf("erased national id readable: %v", p)
		}

		// Nothing sensitive in clear in the tables, the outbox or the audit log.
		evs, aud := drainFeed(t, w.s.App.DB())
		ctx := context.Background()
		var raw strings.Builder
		for _, q := range []string{"SELECT doc FROM employee_versions", "SELECT data FROM outbox_events", "SELECT COALESCE(CAST(details AS TEXT), '') FROM audit_log"} {
			rows, err := w.s.App.DB().QueryContext(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				raw.WriteString(s)
			}
			rows.Close()
		}
		for _, secret := range []string{"NID-E9-SECRET", "NID-E1-SECRET", "DE89370400440532013000", "60000", "66000"} {
			if strings.Contains(raw.String(), secret) {
				t.Fatalf("%s stored in clear", secret)
			}
		}
		var payEvents, reads int
		for _, ev := range evs {
			if ev.Type == "mainstay.payroll.employee.pay_changed" {
				payEvents++
			}
		}
		for _, a := range aud {
			if a.Action == "employee.read_sensitive" {
				reads++
			}
		}
		if payEvents != 2 || reads == 0 {
			t.Fatalf("pay events %d, sensitive reads audited %d", payEvents, reads)
		}
	})
}

func TestEmployeeBatchAndImport(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newHRWorld(t, e)
		item := func(action, ext string, body map[string]any) map[string]any {
			return map[string]any{"action": action, "external_id": ext, "body": body}
		}
		person := func(n, family string) map[string]any {
			return map[string]any{"employee_number": n, "given_name": "P", "family_name": family, "start_date": "2026-01-01", "department_id": w.dept}
		}
		// One bad item: nothing is written, every item is answered.
		bad := w.hr.Do(t, "POST", "/v1/employees/batch", map[string]any{"items": []any{
			item("upsert", "hris:1", person("B1", "One")), item("upsert", "hris:2", map[string]any{"employee_number": "B2", "given_name": "P", "family_name": "Two", "start_date": "2026-02-30"}),
		}}).Expect(t, 422).JSON(t)
		res := bad["results"].([]any)
		if bad["committed"] != false || len(res) != 2 || res[0].(map[string]any)["outcome"] != "created" || res[1].(map[string]any)["error"] == nil {
			t.Fatalf("bad batch %v", bad)
		}
		if list := w.hr.Do(t, "GET", "/v1/employees", nil).Expect(t, 200).JSON(t)["data"].([]any); len(list) != 0 {
			t.Fatalf("a failed batch wrote %v", list)
		}
		// Inside /v1/batch a failed item fails the whole outer batch.
		outer := w.hr.Do(t, "POST", "/v1/batch", map[string]any{"operations": []any{map[string]any{"method": "POST", "path": "/v1/employees/batch",
			"body": map[string]any{"items": []any{item("upsert", "hris:1", person("B1", "One")), item("upsert", "hris:9", map[string]any{"given_name": "No number"})}}}}})
		if outer.Status < 400 {
			t.Fatalf("outer batch %d %s", outer.Status, outer.Body)
		}
		if list := w.hr.Do(t, "GET", "/v1/employees", nil).Expect(t, 200).JSON(t)["data"].([]any); len(list) != 0 {
			t.Fatalf("a failed outer batch wrote %v", list)
		}
		// Dry run, then the real thing.
		items := []any{item("upsert", "hris:1", person("B1", "One")), item("upsert", "hris:2", person("B2", "Two"))}
		dry := w.hr.Do(t, "POST", "/v1/employees/batch?dry_run=true", map[string]any{"items": items}).Expect(t, 200).JSON(t)
		if dry["committed"] != false || dry["dry_run"] != true {
			t.Fatalf("dry %v", dry)
		}
		ok := w.hr.Do(t, "POST", "/v1/employees/batch", map[string]any{"items": items}).Expect(t, 200).JSON(t)
		if ok["committed"] != true {
			t.Fatalf("batch %v", ok)
		}
		// A CSV export from the HR platform: one change, one new, one same.
		csv := "Personnel No,First,Last,Start,Dept,IBAN,Country\n" +
			"B1,P,One,2026-01-01," + w.dept + ",,\n" +
			"B2,P,Two-Renamed,2026-01-01," + w.dept + ",DE89370400440532013000,DE\n" +
			"B3,New,Person,2026-03-01," + w.dept + ",,DE\n"
		mapping := map[string]any{"Personnel No": "employee_number", "First": "given_name", "Last": "family_name", "Start": "start_date",
			"Dept": "department_id", "IBAN": "bank_account.iban", "Country": "tax_settings.jurisdiction"}
		// The external id is the personnel number here.
		w.hr.Do(t, "POST", "/v1/employees/import", map[string]any{"csv": csv, "mapping": mapping}).ExpectProblem(t, 422, apperr.Invalid)
		mapping["Personnel No"] = "external_id"
		csv2 := strings.ReplaceAll(csv, "Personnel No,", "Personnel No,Number,")
		csv2 = strings.Replace(csv2, "\nB1,", "\nhris:1,B1,", 1)
		csv2 = strings.Replace(csv2, "\nB2,", "\nhris:2,B2,", 1)
		csv2 = strings.Replace(csv2, "\nB3,", "\nhris:3,B3,", 1)
		mapping["Number"] = "employee_number"
		preview := w.hr.Do(t, "POST", "/v1/employees/import?dry_run=true", map[string]any{"csv": csv2, "mapping": mapping}).Expect(t, 200).JSON(t)
		outcomes := []string{}
		for _, r := range preview["results"].([]any) {
			outcomes = append(outcomes, r.(map[string]any)["outcome"].(string))
		}
		if strings.Join(outcomes, ",") != "unchanged,updated,created" {
			t.Fatalf("preview %v", preview)
		}
		changed := preview["results"].([]any)[1].(map[string]any)["changed"].([]any)
		if len(changed) != 3 { // bank_account, family_name, tax_settings
			t.Fatalf("changed %v", changed)
		}
		w.hr.Do(t, "POST", "/v1/employees/import", map[string]any{"csv": csv2, "mapping": mapping}).Expect(t, 200)
		if list := w.hr.Do(t, "GET", "/v1/employees", nil).Expect(t, 200).JSON(t)["data"].([]any); len(list) != 3 {
			t.Fatalf("after import %v", list)
		}
	})
}

func TestHRTimeAndLeave(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newHRWorld(t, e)
		id := w.employee(t, "T1", "52000", map[string]any{"start_date": "2026-01-01"})["id"].(string)
		// Hourly pay from approved timesheets.
		etag := w.payroll.Do(t, "GET", "/v1/employees/"+id, nil).Expect(t, 200).Header.Get("ETag")
		_ = etag
		w.payroll.Do(t, "POST", "/v1/employees/"+id+"/pay-changes", map[string]any{"effective_date": "2026-01-01", "pay": map[string]any{"currency": "EUR",
			"components": []any{map[string]any{"code": "HOURLY", "kind": "hourly", "amount": "20"}}}}).Expect(t, 200)
		ts := w.hr.Do(t, "POST", "/v1/timesheets", map[string]any{"employee_id": id, "work_date": "2026-04-02", "hours": "8", "project": "P1"}).Expect(t, 201).JSON(t)
		w.hr.Do(t, "POST", "/v1/timesheets", map[string]any{"employee_id": id, "work_date": "2026-04-03", "hours": "25"}).ExpectProblem(t, 422, apperr.Invalid)
		w.hr.Do(t, "POST", "/v1/timesheets", map[string]any{"employee_id": "emp_nope", "work_date": "2026-04-03", "hours": "2"}).ExpectProblem(t, 422, apperr.Invalid)
		patch := func(path string, body map[string]any) *apitest.Response {
			et := w.hr.Do(t, "GET", path, nil).Expect(t, 200).Header.Get("ETag")
			return w.hr.Do(t, "PATCH", path, body, "Content-Type", "application/merge-patch+json", "If-Match", et)
		}
		tsPath := "/v1/timesheets/" + ts["id"].(string)
		patch(tsPath, map[string]any{"status": "approved"}).ExpectProblem(t, 409, apperr.Conflict) // draft cannot jump to approved
		patch(tsPath, map[string]any{"status": "submitted"}).Expect(t, 200)
		patch(tsPath, map[string]any{"status": "approved"}).Expect(t, 200)
		patch(tsPath, map[string]any{"hours": "9"}).ExpectProblem(t, 409, apperr.Conflict)
		// Leave: 30 days a year accrue pro rata; unpaid leave is not paid.
		vac := w.hr.Do(t, "POST", "/v1/leave-types", map[string]any{"code": "VAC", "name": "Vacation", "paid": true, "accrual_per_year": "30"}).Expect(t, 201).JSON(t)["id"].(string)
		unpaid := w.hr.Do(t, "POST", "/v1/leave-types", map[string]any{"code": "UNP", "name": "Unpaid", "paid": false}).Expect(t, 201).JSON(t)["id"].(string)
		big := w.hr.Do(t, "POST", "/v1/leave-requests", map[string]any{"employee_id": id, "leave_type_id": vac, "start_date": "2026-03-02", "end_date": "2026-03-20"}).Expect(t, 201).JSON(t)
		if big["days"] != "15" || big["status"] != "requested" {
			t.Fatalf("leave %v", big)
		}
		// By 2026-03-20, 79 of 365 days accrued 30 × 79/365 = 6.49 days: 15 is too many.
		patch("/v1/leave-requests/"+big["id"].(string), map[string]any{"status": "approved"}).ExpectProblem(t, 409, apperr.Conflict)
		small := w.hr.Do(t, "POST", "/v1/leave-requests", map[string]any{"employee_id": id, "leave_type_id": vac, "start_date": "2026-03-02", "end_date": "2026-03-04"}).Expect(t, 201).JSON(t)
		patch("/v1/leave-requests/"+small["id"].(string), map[string]any{"status": "approved"}).Expect(t, 200)
		bal := w.hr.Do(t, "GET", "/v1/employees/"+id+"/leave-balances?as_of=2026-06-30", nil).Expect(t, 200).JSON(t)["balances"].([]any)
		if len(bal) != 1 || bal[0].(map[string]any)["taken"] != "3" || bal[0].(map[string]any)["accrued"] != "14.88" {
			t.Fatalf("balances %v", bal) // 30 × 181/365 = 14.876…
		}
		un := w.hr.Do(t, "POST", "/v1/leave-requests", map[string]any{"employee_id": id, "leave_type_id": unpaid, "start_date": "2026-04-06", "end_date": "2026-04-07"}).Expect(t, 201).JSON(t)
		patch("/v1/leave-requests/"+un["id"].(string), map[string]any{"status": "approved"}).Expect(t, 200)
		w.payroll.Do(t, "POST", "/v1/employees/"+id+"/pay-changes", map[string]any{"effective_date": "2026-04-01", "pay": map[string]any{"currency": "EUR",
			"components": []any{map[string]any{"code": "HOURLY", "kind": "hourly", "amount": "20"}, map[string]any{"code": "SALARY", "kind": "salary", "amount": "36000"}}}}).Expect(t, 200)
		run := runPayroll(t, w.payroll, map[string]any{"pay_schedule_id": w.sched, "period_start": "2026-04-01", "period_end": "2026-04-30", "pay_date": "2026-04-28"})
		// 8 approved hours × 20 = 160; salary 3,000 × 28/30 = 2,800.
		if g := pdec(run["totals"].(map[string]any)["gross"]).String(); g != "2960" {
			t.Fatalf("gross %s: %v", g, run)
		}
	})
}
