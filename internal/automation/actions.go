package automation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/events/safehttp"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// AutomationActionType describes an action for the API and for a UI that builds
// forms from it.
type AutomationActionType struct {
	Type        string         `json:"type"`
	Description string         `json:"description"`
	Scopes      []string       `json:"scopes" doc:"What the rule's owner needs; checked again at every run."`
	Params      map[string]any `json:"params_schema" doc:"JSON Schema of params (before placeholders are filled in)."`

	params reflect.Type
	run    func(x *execution, p map[string]any) (any, error)
}

// Parameters of each action type. They document the params object; the
// values are checked when the action runs (placeholders are filled in
// from the event first), by the operations the action calls.
type (
	CreateInvoiceParams struct {
		SalesOrderID string `json:"sales_order_id" doc:"The order, e.g. {{/data/sales_order_id}} of a shipment event."`
		Finalize     *bool  `json:"finalize,omitempty" doc:"Number and post it (default true)."`
	}
	StartPaymentRunParams struct {
		PaymentDate   string `json:"payment_date" doc:"YYYY-MM-DD, or {{today}}."`
		DueBefore     string `json:"due_before,omitempty"`
		Currency      string `json:"currency"`
		SupplierID    string `json:"supplier_id,omitempty"`
		MinAmount     string `json:"min_amount,omitempty"`
		MaxTotal      string `json:"max_total,omitempty"`
		TakeDiscounts bool   `json:"take_discounts,omitempty"`
		Approve       bool   `json:"approve,omitempty" doc:"Approve the proposed run too (needs the same scope; the run still waits for execute)."`
	}
	JournalLineParams struct {
		AccountCode string `json:"account_code" doc:"The account's code in the company's chart."`
		Debit       string `json:"debit,omitempty" doc:"An amount, or a placeholder such as {{/data/gross_total}}."`
		Credit      string `json:"credit,omitempty"`
		Memo        string `json:"memo,omitempty"`
	}
	PostJournalEntryParams struct {
		Date  string              `json:"date,omitempty" doc:"Default {{today}}."`
		Memo  string              `json:"memo,omitempty"`
		Lines []JournalLineParams `json:"lines"`
	}
	ApplyPaymentParams struct {
		InvoiceID  string `json:"invoice_id" doc:"The invoice the payment names."`
		Amount     string `json:"amount"`
		Currency   string `json:"currency,omitempty" doc:"Default the invoice's."`
		Date       string `json:"date,omitempty"`
		ExternalID string `json:"external_id,omitempty" doc:"The provider's payment id: a second notification of it records no second payment."`
		Reference  string `json:"reference,omitempty"`
	}
	UpdateRecordParams struct {
		Path   string         `json:"path" doc:"The record's path, e.g. /v1/customers/{{/data/customer_id}}."`
		Fields map[string]any `json:"fields" doc:"A JSON merge patch of the record."`
	}
	CallURLParams struct {
		URL  string `json:"url" doc:"An https URL; the same SSRF protection as webhooks applies."`
		Body any    `json:"body,omitempty" doc:"The JSON body; default the triggering event."`
	}
	EmitEventParams struct {
		Name string         `json:"name" doc:"Your event's name, carried in data.name of mainstay.automation.custom_event.emitted."`
		Data map[string]any `json:"data,omitempty"`
	}
)

// CustomEvent is the data of mainstay.automation.custom_event.emitted.
type CustomEvent struct {
	Name   string         `json:"name"`
	RuleID string         `json:"rule_id"`
	RunID  string         `json:"run_id"`
	Data   map[string]any `json:"data,omitempty"`
}

// actionTypes is the catalogue, by type.
var actionTypes = map[string]*AutomationActionType{
	"create_invoice": {
		Description: "Create (and by default finalize) the invoice of a sales order, for what has shipped and is not yet invoiced — e.g. on mainstay.sales.shipment.shipped when the company invoices on request.",
		Scopes:      []string{"sales:write"}, params: reflect.TypeFor[CreateInvoiceParams](),
		run: func(x *execution, p map[string]any) (any, error) {
			finalize := true
			if f, ok := p["finalize"].(bool); ok {
				finalize = f
			}
			return x.call(http.MethodPost, "/v1/invoices", map[string]any{"company_id": x.company, "sales_order_id": p["sales_order_id"], "finalize": finalize}, "")
		},
	},
	"start_payment_run": {
		Description: "Propose a supplier payment run with the given criteria (and optionally approve it), as POST /v1/payment-runs.",
		Scopes:      []string{"ledger:write"}, params: reflect.TypeFor[StartPaymentRunParams](),
		run: func(x *execution, p map[string]any) (any, error) {
			body := map[string]any{"company_id": x.company}
			for k, v := range p {
				if k != "approve" {
					body[k] = v
				}
			}
			out, err := x.call(http.MethodPost, "/v1/payment-runs", body, "")
			if err != nil || p["approve"] != true {
				return out, err
			}
			var run struct{ ID string }
			_ = json.Unmarshal(out, &run)
			return x.call(http.MethodPost, "/v1/payment-runs/"+url.PathEscape(run.ID)+"/approve?company_id="+url.QueryEscape(x.company), nil, "")
		},
	},
	"post_journal_entry": {
		Description: "Post a journal entry from a template: accounts by code, amounts fixed or taken from the event.",
		Scopes:      []string{"ledger:write"}, params: reflect.TypeFor[PostJournalEntryParams](),
		run: func(x *execution, p map[string]any) (any, error) {
			lines, _ := p["lines"].([]any)
			out := make([]any, 0, len(lines))
			for i, raw := range lines {
				l, _ := raw.(map[string]any)
				code, _ := l["account_code"].(string)
				accountID, err := x.accountByCode(code)
				if err != nil {
					return nil, fmt.Errorf("line %d: %w", i+1, err)
				}
				line := map[string]any{"account_id": accountID}
				for _, k := range []string{"debit", "credit", "memo"} {
					if v, ok := l[k]; ok && v != "" {
						line[k] = v
					}
				}
				out = append(out, line)
			}
			date := p["date"]
			if date == nil || date == "" {
				date = x.today
			}
			return x.call(http.MethodPost, "/v1/journal-entries", map[string]any{"company_id": x.company, "date": date, "memo": p["memo"], "lines": out}, "")
		},
	},
	"apply_payment": {
		Description: "Record an incoming payment of the invoice it names and apply it to that invoice (its customer and currency taken from the invoice); what exceeds the open amount stays unapplied credit.",
		Scopes:      []string{"sales:read", "ledger:write"}, params: reflect.TypeFor[ApplyPaymentParams](),
		run: func(x *execution, p map[string]any) (any, error) {
			invoiceID, _ := p["invoice_id"].(string)
			raw, err := x.call(http.MethodGet, "/v1/invoices/"+url.PathEscape(invoiceID)+"?company_id="+url.QueryEscape(x.company), nil, "")
			if err != nil {
				return nil, err
			}
			var inv struct {
				CustomerID string `json:"customer_id"`
				Currency   string `json:"currency"`
				OpenAmount string `json:"open_amount"`
			}
			_ = json.Unmarshal(raw, &inv)
			amount := p["amount"]
			alloc := amount
			if a, ok := decimalOf(amount); ok {
				if open, ok := decimalOf(inv.OpenAmount); ok && a.Cmp(open) > 0 {
					alloc = inv.OpenAmount
				}
			}
			body := map[string]any{"company_id": x.company, "customer_id": inv.CustomerID, "amount": amount, "currency": inv.Currency,
				"allocations": []any{map[string]any{"invoice_id": invoiceID, "amount": alloc}}}
			for _, k := range []string{"currency", "date", "external_id", "reference"} {
				if v, ok := p[k]; ok && v != "" {
					body[k] = v
				}
			}
			return x.call(http.MethodPost, "/v1/payments", body, "")
		},
	},
	"update_record": {
		Description: "Change fields of a record with a JSON merge patch, as PATCH on its path (any record your scopes may write).",
		Scopes:      []string{}, params: reflect.TypeFor[UpdateRecordParams](),
		run: func(x *execution, p map[string]any) (any, error) {
			path, _ := p["path"].(string)
			if !strings.HasPrefix(path, "/v1/") || strings.Contains(path, "..") || strings.HasPrefix(path, "/v1/batch") {
				return nil, apperr.Field("/params/path", "path must be a /v1 record path.")
			}
			fields, _ := p["fields"].(map[string]any)
			return x.call(http.MethodPatch, path, fields, "*")
		},
	},
	"call_url": {
		Description: "POST JSON to an outside https URL through the same SSRF-safe client as webhooks, signed like a webhook with the rule's id as webhook-id prefix. Not called by a dry run; not undone if a later action fails (the run's retry may call it again with the same webhook-id).",
		Scopes:      []string{}, params: reflect.TypeFor[CallURLParams](),
		run: func(x *execution, p map[string]any) (any, error) {
			target, _ := p["url"].(string)
			if err := safehttp.CheckURL(target, x.allowLoopback); err != nil {
				return nil, apperr.Field("/params/url", "The URL %s.", err.Error())
			}
			if x.dry {
				return map[string]any{"skipped": "a dry run does not call outside URLs", "url": target}, nil
			}
			body := p["body"]
			if body == nil {
				body = x.event
			}
			b, _ := json.Marshal(body)
			req, err := http.NewRequestWithContext(x.ctx, http.MethodPost, target, bytes.NewReader(b))
			if err != nil {
				return nil, apperr.Field("/params/url", "Bad URL: %v", err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", "Mainstay-Automation/1")
			req.Header.Set("Idempotency-Key", x.runID+"-"+fmt.Sprint(x.step))
			res, err := x.client.Do(req)
			if err != nil {
				return nil, transient(fmt.Errorf("call %s: %w", target, err))
			}
			out := map[string]any{"status_code": res.Status, "body": string(res.Body)}
			if res.Status >= 500 || res.Status == http.StatusTooManyRequests {
				return out, transient(fmt.Errorf("call %s: answered %d", target, res.Status))
			}
			if res.Status >= 300 {
				return out, fmt.Errorf("call %s: answered %d", target, res.Status)
			}
			return out, nil
		},
	},
	"emit_event": {
		Description: "Write a custom event (mainstay.automation.custom_event.emitted, data {name, rule_id, run_id, data}) that webhooks, streams and other rules receive.",
		Scopes:      []string{"automation:write"}, params: reflect.TypeFor[EmitEventParams](),
		run: func(x *execution, p map[string]any) (any, error) {
			name, _ := p["name"].(string)
			if name == "" {
				return nil, apperr.Field("/params/name", "name is required.")
			}
			data, _ := p["data"].(map[string]any)
			ev := CustomEvent{Name: name, RuleID: x.rule.ID, RunID: x.runID, Data: data}
			id, err := events.Record(x.ctx, x.tx, events.Event{Type: EventCustom, Source: "/v1/automations", Subject: x.rule.ID, CompanyID: x.company, Data: ev})
			if err != nil {
				return nil, err
			}
			return map[string]any{"event_id": id}, nil
		},
	},
}

func init() {
	for name, t := range actionTypes {
		t.Type = name
	}
}

// ActionTypes returns the catalogue sorted by type, with parameter
// schemas.
func ActionTypes() []AutomationActionType {
	reg := rest.NewRegistry("#/$defs/")
	out := make([]AutomationActionType, 0, len(actionTypes))
	for _, t := range actionTypes {
		c := *t
		s := reg.Schema(t.params, true, "")
		if s.Ref != "" {
			s = reg.SchemaFromRef(s.Ref)
		}
		b, _ := json.Marshal(s)
		_ = json.Unmarshal(b, &c.Params)
		defs := map[string]any{}
		for name, d := range reg.Map() {
			var m map[string]any
			b, _ := json.Marshal(d)
			_ = json.Unmarshal(b, &m)
			defs[name] = m
		}
		c.Params["$defs"] = defs
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// checkAction checks an action when a rule is saved: a known type, only
// the type's parameters, its required ones present, and the owner
// holding its scopes.
func checkAction(i int, a AutomationAction, has func(string) bool) []apperr.FieldError {
	ptr := fmt.Sprintf("/actions/%d", i)
	t, ok := actionTypes[a.Type]
	if !ok {
		names := make([]string, 0, len(actionTypes))
		for n := range actionTypes {
			names = append(names, n)
		}
		sort.Strings(names)
		return []apperr.FieldError{{Pointer: ptr + "/type", Detail: fmt.Sprintf("Unknown action type %q; the types are %s.", a.Type, strings.Join(names, ", "))}}
	}
	var errs []apperr.FieldError
	known := map[string]bool{}
	for f := range t.params.NumField() {
		sf := t.params.Field(f)
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		known[name] = true
		if !strings.Contains(opts, "omitempty") && sf.Type.Kind() != reflect.Bool {
			if v, ok := a.Params[name]; !ok || v == nil || v == "" {
				errs = append(errs, apperr.FieldError{Pointer: ptr + "/params/" + name, Detail: name + " is required."})
			}
		}
	}
	for k := range a.Params {
		if !known[k] {
			errs = append(errs, apperr.FieldError{Pointer: ptr + "/params/" + k, Detail: fmt.Sprintf("%s is not a parameter of %s.", k, a.Type)})
		}
	}
	for _, s := range t.Scopes {
		if !has(s) {
			errs = append(errs, apperr.FieldError{Pointer: ptr + "/type", Detail: fmt.Sprintf("%s needs the scope %s, which this client does not hold.", a.Type, s)})
		}
	}
	return errs
}

// execution is one run's state while its actions run.
type execution struct {
	ctx           context.Context // the owner's principal, the run's transaction, the cause
	tx            *db.Tx
	api           *rest.API
	client        *safehttp.Client
	allowLoopback bool
	rule          Automation
	runID         string
	company       string
	today         string
	event         map[string]any
	dry           bool
	step          int
}

// opError is an operation's problem, kept whole for the run's record.
type opError struct {
	status  int
	problem json.RawMessage
}

func (e *opError) Error() string {
	var p struct {
		Detail string `json:"detail"`
		Title  string `json:"title"`
		Errors []struct {
			Pointer string `json:"pointer"`
			Detail  string `json:"detail"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(e.problem, &p)
	msg := fmt.Sprintf("%d %s", e.status, firstNonEmpty(p.Detail, p.Title))
	for _, fe := range p.Errors {
		msg += fmt.Sprintf("; %s: %s", fe.Pointer, fe.Detail)
	}
	return msg
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// transientError marks a failure worth retrying.
type transientError struct{ error }

func (e transientError) Unwrap() error { return e.error }

func transient(err error) error { return transientError{err} }

// call runs one API operation as the rule's owner, in the run's
// transaction.
func (x *execution) call(method, path string, body map[string]any, ifMatch string) (json.RawMessage, error) {
	res := x.api.Call(x.ctx, rest.BatchOperation{Method: method, Path: path, Body: body, IfMatch: ifMatch})
	if res.Status >= 400 {
		err := &opError{status: res.Status, problem: res.Body}
		// Conflicts (stock short, a concurrent change, a closed period
		// reopened later), rate limits and server errors may pass.
		if res.Status == http.StatusConflict || res.Status == http.StatusTooManyRequests || res.Status >= 500 {
			return nil, transient(err)
		}
		return nil, err
	}
	return res.Body, nil
}

func (x *execution) accountByCode(code string) (string, error) {
	if code == "" {
		return "", apperr.Field("/params/lines", "account_code is required.")
	}
	filter := url.QueryEscape(fmt.Sprintf("code = %q", code))
	raw, err := x.call(http.MethodGet, "/v1/accounts?company_id="+url.QueryEscape(x.company)+"&filter="+filter, nil, "")
	if err != nil {
		return "", err
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(raw, &list)
	if len(list.Data) != 1 {
		return "", fmt.Errorf("no account with code %q", code)
	}
	return list.Data[0].ID, nil
}
