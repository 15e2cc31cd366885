package automation

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"

	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// AutomationList is a page of rules.
type AutomationList struct {
	Data          []Automation `json:"data"`
	NextPageToken string       `json:"next_page_token"`
}

// AutomationRunList is a page of runs.
type AutomationRunList struct {
	Data          []AutomationRun `json:"data"`
	NextPageToken string          `json:"next_page_token"`
}

// AutomationActionTypeList lists the action types.
type AutomationActionTypeList struct {
	Data []AutomationActionType `json:"data"`
}

// InboundHookList is a page of inbound hooks.
type InboundHookList struct {
	Data          []InboundHook `json:"data"`
	NextPageToken string        `json:"next_page_token"`
}

// AutomationTestInput is a sample event for a dry run.
type AutomationTestInput struct {
	CompanyID string         `json:"company_id,omitempty"`
	Event     map[string]any `json:"event" doc:"A sample triggering event (a CloudEvent as the feed returns it, or a schedule's input)."`
}

// Mount adds /v1/automations, /v1/inbound-hooks and /v1/inbound/{id}.
func Mount(api *rest.API, d *db.DB, e *Engine, in *Inbound) {
	svc := &Service{DB: d}
	read, write := auth.Scope("automation", auth.Read), auth.Scope("automation", auth.Write)
	idParams := []rest.Param{{Name: "id", In: "path"}, {Name: "company_id", In: "query"}}
	company := func(r *http.Request) (string, error) {
		return rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
	}
	api.Handle(rest.Operation{
		ID: "createAutomation", Method: http.MethodPost, Path: "/v1/automations", Tag: "Automations", Scope: write, XML: true, Idempotent: true,
		Summary: "Create an automation rule",
		Description: "A trigger (event types, an inbound hook, or a cron schedule in the company's time zone), an optional condition over the " +
			"event (AIP-160, as list filters, with dotted paths: data.gross_total >= \"100\"), and actions run in order in one transaction. " +
			"The rule runs with the calling client's authority, checked again at every run; each action's scope must be held now.",
		Request: reflect.TypeOf(AutomationInput{}), Response: reflect.TypeOf(Automation{}), Status: http.StatusCreated, Headers: []string{"Location"},
	}, rest.Write(api, d, http.StatusCreated, func(in *AutomationInput) string { return in.CompanyID }, func(r Automation) string { return "/v1/automations/" + r.ID },
		func(ctx context.Context, tx *db.Tx, co string, in *AutomationInput) (Automation, error) {
			return svc.Create(ctx, tx, co, in)
		}))
	api.Handle(rest.Operation{
		ID: "listAutomations", Method: http.MethodGet, Path: "/v1/automations", Tag: "Automations", Scope: read, XML: true,
		Summary: "List automation rules", Params: []rest.Param{{Name: "company_id", In: "query"}, {Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response: reflect.TypeOf(AutomationList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := company(r)
		if err != nil {
			return err
		}
		var out AutomationList
		out.Data, out.NextPageToken, err = rest.IDPage(r, []string{"automations", co}, func(x Automation) string { return x.ID },
			func(after string, limit int) ([]Automation, error) {
				return svc.List(r.Context(), d.Reader(r.Context()), co, after, limit)
			})
		if err != nil {
			return err
		}
		if out.Data == nil {
			out.Data = []Automation{}
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "listAutomationActionTypes", Method: http.MethodGet, Path: "/v1/automations/action-types", Tag: "Automations", Scope: read,
		Summary:     "List action types with their parameter schemas",
		Description: "Each action a rule can take, the scopes it needs, and a JSON Schema of its params, so a form can be built from it.",
		Response:    reflect.TypeOf(AutomationActionTypeList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		return rest.Respond(w, r, http.StatusOK, AutomationActionTypeList{Data: ActionTypes()})
	})
	api.Handle(rest.Operation{
		ID: "getAutomation", Method: http.MethodGet, Path: "/v1/automations/{id}", Tag: "Automations", Scope: read, XML: true,
		Summary: "Get an automation rule", Params: idParams, Response: reflect.TypeOf(Automation{}), Errors: []int{404}, Headers: []string{"ETag"},
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := company(r)
		if err != nil {
			return err
		}
		rule, err := loadRule(r.Context(), d.Reader(r.Context()), co, r.PathValue("id"))
		if err != nil {
			return err
		}
		w.Header().Set("ETag", rule.ETag())
		return rest.Respond(w, r, http.StatusOK, rule)
	})
	api.Handle(rest.Operation{
		ID: "updateAutomation", Method: http.MethodPatch, Path: "/v1/automations/{id}", Tag: "Automations", Scope: write,
		Summary: "Change an automation rule", Description: "A JSON merge patch of name, description, enabled, trigger, condition or actions; If-Match required. enabled false stops the rule.",
		Params: idParams, Request: reflect.TypeOf(AutomationInput{}), MergePatch: true, Response: reflect.TypeOf(Automation{}), Errors: []int{404, 412, 428},
		Headers: []string{"ETag"},
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := company(r)
		if err != nil {
			return err
		}
		patch, err := api.ReadBody(r, reflect.TypeOf(AutomationInput{}), false, true)
		if err != nil {
			return err
		}
		var rule Automation
		err = d.Transact(r.Context(), func(tx *db.Tx) error {
			rule, err = svc.Update(r.Context(), tx, co, r.PathValue("id"), func(etag string) error { return rest.CheckIfMatch(r, etag, true) },
				func(in *AutomationInput) error {
					cur := map[string]any{}
					b, _ := json.Marshal(in)
					_ = json.Unmarshal(b, &cur)
					merged := rest.MergePatch(cur, patch)
					if err := api.Validate(merged, reflect.TypeOf(AutomationInput{})); err != nil {
						return err
					}
					*in = AutomationInput{}
					return rest.Into(merged, in)
				})
			return err
		})
		if err != nil {
			return err
		}
		w.Header().Set("ETag", rule.ETag())
		return rest.Respond(w, r, http.StatusOK, rule)
	})
	api.Handle(rest.Operation{
		ID: "deleteAutomation", Method: http.MethodDelete, Path: "/v1/automations/{id}", Tag: "Automations", Scope: write,
		Summary: "Delete an automation rule", Description: "Deletes the rule and its run history; to pause it, PATCH enabled false.",
		Params: idParams, Status: http.StatusNoContent, Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := company(r)
		if err != nil {
			return err
		}
		if err := d.Transact(r.Context(), func(tx *db.Tx) error { return svc.Delete(r.Context(), tx, co, r.PathValue("id")) }); err != nil {
			return err
		}
		return rest.NoContent(w)
	})
	api.Handle(rest.Operation{
		ID: "listAutomationRuns", Method: http.MethodGet, Path: "/v1/automations/{id}/runs", Tag: "Automations", Scope: read, XML: true,
		Summary: "List a rule's runs",
		Description: "Newest first: the triggering event, each action's output or error, timing, attempts. A run is pending while waiting or " +
			"retrying a transient failure (a conflict, a rate limit, an outside URL down), then succeeded, failed or skipped. The input and " +
			"the outputs, read with the rule owner's authority, are shown only to the owner and to client administrators (clients:read).",
		Params: []rest.Param{{Name: "id", In: "path"}, {Name: "company_id", In: "query"}, {Name: "status", In: "query"},
			{Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response: reflect.TypeOf(AutomationRunList{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := company(r)
		if err != nil {
			return err
		}
		status := r.URL.Query().Get("status")
		var out AutomationRunList
		out.Data, out.NextPageToken, err = rest.IDPage(r, []string{"automation-runs", co, r.PathValue("id"), status}, func(x AutomationRun) string { return x.ID },
			func(before string, limit int) ([]AutomationRun, error) {
				return svc.Runs(r.Context(), d.Reader(r.Context()), co, r.PathValue("id"), status, before, limit)
			})
		if err != nil {
			return err
		}
		if out.Data == nil {
			out.Data = []AutomationRun{}
		}
		// Inputs and outputs were read with the owner's authority: only the
		// owner and client administrators see them.
		if rule, err := loadRule(r.Context(), d.Reader(r.Context()), co, r.PathValue("id")); err == nil {
			if p, _ := auth.FromContext(r.Context()); p.ClientID != rule.OwnerClientID && !p.Has(auth.Scope("clients", auth.Read)) {
				for i := range out.Data {
					out.Data[i].Input = nil
					for j := range out.Data[i].Steps {
						out.Data[i].Steps[j].Output = nil
					}
				}
			}
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "testAutomation", Method: http.MethodPost, Path: "/v1/automations/{id}/test", Tag: "Automations", Scope: write, XML: true,
		Summary:     "Dry-run a rule on a sample event",
		Description: "Evaluates the condition and runs every action as the rule would — same authority, same checks — then rolls everything back. Outside URLs are not called.",
		Params:      idParams, Request: reflect.TypeOf(AutomationTestInput{}), Response: reflect.TypeOf(AutomationRun{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in AutomationTestInput
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		co, err := rest.Company(r.Context(), firstNonEmpty(in.CompanyID, r.URL.Query().Get("company_id")), "/company_id")
		if err != nil {
			return err
		}
		run, err := e.Test(r.Context(), co, r.PathValue("id"), in.Event)
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, run)
	})
	mountHooks(api, d, in, company)
}

func mountHooks(api *rest.API, d *db.DB, in *Inbound, company func(*http.Request) (string, error)) {
	read, write := auth.Scope("automation", auth.Read), auth.Scope("automation", auth.Write)
	api.Handle(rest.Operation{
		ID: "createInboundHook", Method: http.MethodPost, Path: "/v1/inbound-hooks", Tag: "Automations", Scope: write, XML: true, Idempotent: true,
		Summary: "Create an inbound hook",
		Description: "An address outside systems (a payment provider, a carrier) post signed notifications to: POST /v1/inbound/{id}, without a token. " +
			"Each notification is verified (Standard Webhooks, or an HMAC in a header you name), refused outside the replay window, deduplicated " +
			"by its id, and becomes the event mainstay.automation.inbound_hook.received that rules with an inbound trigger on the hook run on.",
		Request: reflect.TypeOf(InboundHookInput{}), Response: reflect.TypeOf(InboundHookWithSecret{}), Status: http.StatusCreated,
	}, rest.Write(api, d, http.StatusCreated, func(h *InboundHookInput) string { return h.CompanyID }, func(h InboundHookWithSecret) string { return "/v1/inbound-hooks/" + h.ID },
		func(ctx context.Context, tx *db.Tx, co string, h *InboundHookInput) (InboundHookWithSecret, error) {
			return in.Create(ctx, tx, co, h)
		}))
	api.Handle(rest.Operation{
		ID: "listInboundHooks", Method: http.MethodGet, Path: "/v1/inbound-hooks", Tag: "Automations", Scope: read, XML: true,
		Summary: "List inbound hooks", Params: []rest.Param{{Name: "company_id", In: "query"}, {Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response: reflect.TypeOf(InboundHookList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := company(r)
		if err != nil {
			return err
		}
		var out InboundHookList
		out.Data, out.NextPageToken, err = rest.IDPage(r, []string{"inbound-hooks", co}, func(h InboundHook) string { return h.ID },
			func(after string, limit int) ([]InboundHook, error) {
				return in.List(r.Context(), d.Reader(r.Context()), co, after, limit)
			})
		if err != nil {
			return err
		}
		if out.Data == nil {
			out.Data = []InboundHook{}
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "getInboundHook", Method: http.MethodGet, Path: "/v1/inbound-hooks/{id}", Tag: "Automations", Scope: read, XML: true,
		Summary: "Get an inbound hook", Params: []rest.Param{{Name: "id", In: "path"}, {Name: "company_id", In: "query"}},
		Response: reflect.TypeOf(InboundHook{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := company(r)
		if err != nil {
			return err
		}
		h, err := in.Get(r.Context(), d.Reader(r.Context()), co, r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, h)
	})
	api.Handle(rest.Operation{
		ID: "deleteInboundHook", Method: http.MethodDelete, Path: "/v1/inbound-hooks/{id}", Tag: "Automations", Scope: write,
		Summary: "Delete an inbound hook", Description: "Refused (409) while a rule is triggered by it.",
		Params: []rest.Param{{Name: "id", In: "path"}, {Name: "company_id", In: "query"}}, Status: http.StatusNoContent, Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := company(r)
		if err != nil {
			return err
		}
		if err := d.Transact(r.Context(), func(tx *db.Tx) error { return in.Delete(r.Context(), tx, co, r.PathValue("id")) }); err != nil {
			return err
		}
		return rest.NoContent(w)
	})
	api.Handle(rest.Operation{
		ID: "receiveInbound", Method: http.MethodPost, Path: "/v1/inbound/{id}", Tag: "Automations", Public: true,
		Summary: "Receive a signed notification (no token)",
		Description: "For outside systems: the body (JSON, at most 256 KiB) is verified with the hook's secret and scheme, refused outside its " +
			"replay window (401, the same answer for every verification failure), and accepted once per notification id: 202 with the event, " +
			"or 200 with duplicate true for a repeat.",
		Params: []rest.Param{{Name: "id", In: "path"}}, Response: reflect.TypeOf(InboundResult{}), Status: http.StatusAccepted, Errors: []int{404, 413},
	}, func(w http.ResponseWriter, r *http.Request) error {
		res, err := in.Receive(r.Context(), r.PathValue("id"), r.Header, r.Body, d.Now())
		if err != nil {
			return err
		}
		status := http.StatusAccepted
		if res.Duplicate {
			status = http.StatusOK
		}
		return rest.Respond(w, r, status, res)
	})
}
