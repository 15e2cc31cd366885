// Package auditapi serves the audit log to auditors: GET /v1/audit-events,
// a filtered list paged by position, and GET /v1/audit-events/export, the
// same rows as JSON lines. It is a package of its own because package auth
// writes audit rows, so package audit cannot import auth (nor rest, which
// does).
package auditapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// AuditEvent is one row of the audit log as the API shows it.
type AuditEvent struct {
	Seq          int64          `json:"seq" doc:"The row's position in the log: gapless and increasing. Lists are in this order."`
	ID           string         `json:"id" doc:"The row's id (aud_…)."`
	OccurredAt   time.Time      `json:"occurred_at" doc:"When the audited transaction ran (RFC 3339, UTC)."`
	Actor        string         `json:"actor" doc:"Who acted: the client's id; \"system\" for the server's own work; \"anonymous\" for a failed request without valid credentials."`
	OnBehalfOf   string         `json:"on_behalf_of" doc:"The person the client acted for, when there was one; empty otherwise or once erased. Personal data."`
	Action       string         `json:"action" doc:"What was done: <resource>.<verb> (\"product.create\", \"token.issue\"), or http.<METHOD> for a failed request."`
	ResourceType string         `json:"resource_type" doc:"The kind of thing acted on (\"product\"); for a failed request, its route (\"/v1/products/{id}\") or, when no route matched, its path."`
	ResourceID   string         `json:"resource_id" doc:"The id of the thing acted on, when there is one."`
	CompanyID    string         `json:"company_id" doc:"The company the action belongs to; empty for platform actions (clients, keys, tokens)."`
	RequestID    string         `json:"request_id" doc:"The X-Request-Id of the API request that acted; empty for work outside a request."`
	Outcome      string         `json:"outcome" enum:"success,failure,denied" doc:"success; failure (the request failed, its change rolled back); denied (refused: 401 or 403)."`
	Details      map[string]any `json:"details" doc:"What else was recorded: names of changed fields (never sensitive values); for a failed request its status and problem code."`
	IP           string         `json:"ip" doc:"The address the request came from; empty for work outside a request or once erased. Personal data."`
	UserAgent    string         `json:"user_agent" doc:"The request's User-Agent (at most 512 bytes); empty once erased. Personal data."`
	Erased       bool           `json:"personal_data_erased" doc:"True once ip, user_agent and on_behalf_of were erased; the row still verifies."`
	PrevHash     string         `json:"prev_hash" doc:"The hash of the row before, hex SHA-256; empty when the row is not chained (no chain key was configured when it was numbered)."`
	Hash         string         `json:"hash" doc:"This row's link in the tamper-evident chain, hex SHA-256 over prev_hash, the fields above except personal data, and a keyed digest of the personal data."`
}

// AuditEventList is a page of audit events.
type AuditEventList struct {
	Data          []AuditEvent `json:"data"`
	NextPageToken string       `json:"next_page_token" doc:"Pass as page_token for the next page, with the same filters; empty on the last page."`
}

func fromStored(s audit.Stored) AuditEvent {
	d := s.Details
	if d == nil {
		d = map[string]any{}
	}
	return AuditEvent{
		Seq: s.Seq, ID: s.ID, OccurredAt: s.OccurredAt, Actor: s.Actor, OnBehalfOf: s.OnBehalfOf, Action: s.Action,
		ResourceType: s.ResourceType, ResourceID: s.ResourceID, CompanyID: s.CompanyID, RequestID: s.RequestID,
		Outcome: s.Outcome, Details: d, IP: s.IP, UserAgent: s.UserAgent, Erased: s.PersonalErased,
		PrevHash: s.PrevHash, Hash: s.Hash,
	}
}

// NDJSON is the media type of the export.
const NDJSON = "application/x-ndjson"

var filterParams = []rest.Param{
	{Name: "actor", In: "query", Description: "Only rows of this actor (a client id, \"system\" or \"anonymous\")."},
	{Name: "resource_type", In: "query", Description: "Only rows about this kind of resource (\"product\")."},
	{Name: "resource_id", In: "query", Description: "Only rows about this resource id."},
	{Name: "action", In: "query", Description: "Only rows of this action (\"product.update\")."},
	{Name: "outcome", In: "query", Description: "Only rows with this outcome.", Schema: &huma.Schema{Type: "string", Enum: []any{audit.Success, audit.Failure, audit.Denied}}},
	{Name: "company_id", In: "query", Description: "Only rows of this company. A client limited to some companies sees only their rows, and never platform rows."},
	{Name: "from", In: "query", Description: "Only rows that occurred at or after this instant (RFC 3339).", Schema: &huma.Schema{Type: "string", Format: "date-time"}},
	{Name: "to", In: "query", Description: "Only rows that occurred before this instant (RFC 3339).", Schema: &huma.Schema{Type: "string", Format: "date-time"}},
}

// Mount adds the audit routes. Page tokens are signed with
// audit.PageTokenKey, so mount after audit.Configure.
func Mount(api *rest.API, d *db.DB) {
	api.Handle(rest.Operation{
		ID: "listAuditEvents", Method: http.MethodGet, Path: "/v1/audit-events", Tag: "Audit", Scope: auth.AuditRead,
		Summary: "List audit events",
		Description: "The audit log: every write, every read of sensitive data, every authentication event and every failed write, " +
			"oldest first, paged by position. Rows appear once they have a position (within about a second of their commit).",
		Params: append(append([]rest.Param(nil), filterParams...),
			rest.Param{Name: "page_size", In: "query", Description: "1 to 500; default 50.", Schema: &huma.Schema{Type: "integer", Minimum: ptr(0.0), Maximum: ptr(500.0)}},
			rest.Param{Name: "page_token", In: "query", Description: "next_page_token of the previous page, with the same filters."}),
		Response: reflect.TypeOf(AuditEventList{}), Errors: []int{422}, XML: true,
	}, func(w http.ResponseWriter, r *http.Request) error {
		f, fp, err := parseFilter(r)
		if err != nil {
			return err
		}
		size, err := query.ParsePageSize(r.URL.Query().Get("page_size"))
		if err != nil {
			return err
		}
		key := audit.PageTokenKey()
		var after int64
		if tok := r.URL.Query().Get("page_token"); tok != "" {
			c, err := query.DecodeToken(key, tok, fp)
			if err != nil {
				return err
			}
			if after, err = cursorSeq(c); err != nil {
				return err
			}
		}
		rows, err := audit.List(r.Context(), d.Reader(r.Context()), f, after, size+1)
		if err != nil {
			return err
		}
		out := AuditEventList{Data: make([]AuditEvent, 0, min(len(rows), size))}
		for i, s := range rows {
			if i == size {
				out.NextPageToken = query.EncodeToken(key, query.Cursor{Values: []any{rows[i-1].Seq}}, fp)
				break
			}
			out.Data = append(out.Data, fromStored(s))
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "exportAuditEvents", Method: http.MethodGet, Path: "/v1/audit-events/export", Tag: "Audit", Scope: auth.AuditRead,
		Summary: "Export audit events as JSON lines",
		Description: "Every audit event matching the filters, oldest first, as " + NDJSON + ": one AuditEvent object (as in " +
			"listAuditEvents) per line, streamed, up to the newest row at the time of the request. A response cut short by an " +
			"error ends without its final line break and a clean end of stream: retry with from set past the last complete line.",
		Params: filterParams, Errors: []int{422},
	}, func(w http.ResponseWriter, r *http.Request) error {
		f, _, err := parseFilter(r)
		if err != nil {
			return err
		}
		return export(w, r, d, f)
	})
}

func export(w http.ResponseWriter, r *http.Request, d *db.DB, f audit.Filter) error {
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	started := false
	n := 0
	err := audit.Export(r.Context(), d.Reader(r.Context()), f, func(s audit.Stored) error {
		if !started {
			h := w.Header()
			h.Set("Content-Type", NDJSON)
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		if err := enc.Encode(fromStored(s)); err != nil {
			return err
		}
		if n++; n%500 == 0 {
			_ = rc.Flush() // keep memory flat and the client reading
		}
		return nil
	})
	if err != nil {
		if !started {
			return err
		}
		// Headers are gone: the only honest signal left is to abort the
		// stream, so the client sees a broken transfer, not a short file.
		panic(http.ErrAbortHandler)
	}
	if !started {
		w.Header().Set("Content-Type", NDJSON)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}
	return nil
}

// parseFilter reads the filters and the principal's company limits, and
// returns the page token fingerprint: the filters and the client, so a
// token cannot be replayed with other filters or by another client.
func parseFilter(r *http.Request) (audit.Filter, string, error) {
	p, ok := auth.FromContext(r.Context())
	if !ok || p.ClientID == "" {
		return audit.Filter{}, "", apperr.New(apperr.Unauthenticated, "No credentials.")
	}
	q := r.URL.Query()
	f := audit.Filter{
		Actor: q.Get("actor"), ResourceType: q.Get("resource_type"), ResourceID: q.Get("resource_id"),
		Action: q.Get("action"), Outcome: q.Get("outcome"), CompanyID: q.Get("company_id"),
	}
	switch f.Outcome {
	case "", audit.Success, audit.Failure, audit.Denied:
	default:
		return f, "", badParam("outcome", "outcome must be %s, %s or %s", audit.Success, audit.Failure, audit.Denied)
	}
	var err error
	if f.From, err = parseTime(q.Get("from"), "from"); err != nil {
		return f, "", err
	}
	if f.To, err = parseTime(q.Get("to"), "to"); err != nil {
		return f, "", err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, "", badParam("to", "to must be after from")
	}
	switch {
	case f.CompanyID != "":
		if !p.CanAccessCompany(f.CompanyID) {
			// As everywhere: a company the client may not use reads as
			// unknown, not forbidden.
			return f, "", apperr.Field("query:company_id", "No company %q is available to this client.", f.CompanyID)
		}
	case !p.AllCompanies():
		f.Companies = append([]string{}, p.Companies...)
	}
	fp := query.Fingerprint("audit-events", f.Actor, f.ResourceType, f.ResourceID, f.Action, f.Outcome, f.CompanyID,
		q.Get("from"), q.Get("to"), p.ClientID)
	return f, fp, nil
}

func parseTime(s, param string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, badParam(param, "%s must be an RFC 3339 instant like 2025-01-31T09:00:00Z", param)
	}
	// Outside four-digit years SQLite's text timestamps stop sorting in
	// time order.
	if t = t.UTC(); t.Year() < 1 || t.Year() > 9999 {
		return t, badParam(param, "%s must be within the years 0001 to 9999", param)
	}
	return t, nil
}

// cursorSeq reads the position from a page token's cursor. The token is
// authenticated, so a bad shape means a token of another list (or a bug),
// and is the same 400 as any bad token.
func cursorSeq(c query.Cursor) (int64, error) {
	if len(c.Values) == 1 {
		if n, ok := c.Values[0].(int64); ok && n >= 0 {
			return n, nil
		}
	}
	return 0, badParam("page_token", "the page token is not valid for this request; start again without page_token")
}

func badParam(param, format string, args ...any) *apperr.Error {
	detail := fmt.Sprintf(format, args...)
	return apperr.New(apperr.BadRequest, "Invalid %s: %s", param, detail).
		WithFields(apperr.FieldError{Pointer: "query:" + param, Detail: detail})
}

func ptr[T any](v T) *T { return &v }
