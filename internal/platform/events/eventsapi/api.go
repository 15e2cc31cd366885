// Package eventsapi serves the event feed three ways — the change feed
// GET /v1/events, the Server-Sent Events stream GET /v1/events/stream and
// webhooks at /v1/webhook-endpoints — and the catalogue of event types
// with the JSON Schema of each payload at GET /v1/events/schema. Every
// path shows a caller only the types its scopes read, in its companies.
package eventsapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// EventPage is a page of the change feed.
type EventPage struct {
	Events []events.Stored `json:"events" doc:"CloudEvents 1.0, in feed order. Deletions are *.deleted events naming the record."`
	// NextCursor is where to continue: pass it as after. It moves past
	// events you may not see, so polling an idle or filtered feed is cheap.
	NextCursor string `json:"next_cursor" doc:"Pass as after to continue. Equal to after when nothing new has arrived: poll again later."`
	HasMore    bool   `json:"has_more" doc:"More events are waiting: ask again at once."`
}

// Catalogue describes every event type.
type Catalogue struct {
	Schema   string         `json:"$schema"`
	Envelope map[string]any `json:"envelope" doc:"The CloudEvents 1.0 envelope every event comes in."`
	Types    []TypeDoc      `json:"types"`
	Defs     map[string]any `json:"$defs" doc:"JSON Schemas of the payloads, referenced from each type's data."`
}

// TypeDoc is one event type.
type TypeDoc struct {
	Type        string         `json:"type"`
	Scope       string         `json:"scope" doc:"The scope a receiver must hold to be sent this type."`
	Description string         `json:"description"`
	Data        map[string]any `json:"data" doc:"JSON Schema of the data member."`
}

// Options configure the event routes.
type Options struct {
	// Heartbeat is the interval of SSE comment lines that keep idle
	// connections (and proxies) open.
	Heartbeat time.Duration
	// Poll is how often a stream looks for events numbered on another
	// node; events numbered here wake it at once.
	Poll time.Duration
}

// Mount adds the feed, the stream and the catalogue.
func Mount(api *rest.API, d *db.DB, hub *Hub, o Options) {
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	typesParam := rest.Param{Name: "types", In: "query", Description: "Comma-separated event types or prefixes (mainstay.sales.*); default: every type you may read."}
	api.Handle(rest.Operation{
		ID: "listEvents", Method: http.MethodGet, Path: "/v1/events", Tag: "Events",
		Summary: "Read the change feed",
		Description: "Events after a cursor, in commit order, including deletions: a pull alternative to webhooks for clients such as a nightly " +
			"warehouse sync. Start with after=0 (everything kept) or after=now (from here on), then pass next_cursor back. You see the types " +
			"your scopes read (see GET /v1/events/schema), in your companies; events without a company (webhook endpoints) only if you work in " +
			"every company. A position is final once given: no event ever appears before a cursor you already read.",
		Params: []rest.Param{
			{Name: "after", In: "query", Description: "A cursor from next_cursor, 0, or now."},
			typesParam,
			{Name: "subject", In: "query", Description: "Only events about this record id."},
			{Name: "company_id", In: "query", Description: "Only this company's events."},
			{Name: "page_size", In: "query"},
		},
		Response: reflect.TypeOf(EventPage{}), XML: true,
	}, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		f, err := filterFor(r, q.Get("types"), q.Get("company_id"))
		if err != nil {
			return err
		}
		size, err := query.ParsePageSize(q.Get("page_size"))
		if err != nil {
			return err
		}
		reader := d.Reader(r.Context())
		head, err := events.Head(r.Context(), reader)
		if err != nil {
			return err
		}
		after, err := parseCursor(q.Get("after"), "after", head)
		if err != nil {
			return err
		}
		f.After, f.Upto, f.Subject, f.Limit = after, head, q.Get("subject"), size
		evs, err := events.List(r.Context(), reader, f)
		if err != nil {
			return err
		}
		page := EventPage{Events: evs, NextCursor: strconv.FormatInt(max(after, head), 10)}
		if page.Events == nil {
			page.Events = []events.Stored{}
		}
		if len(evs) == size {
			page.NextCursor, page.HasMore = strconv.FormatInt(evs[len(evs)-1].Seq, 10), true
		}
		return rest.Respond(w, r, http.StatusOK, page)
	})
	api.Handle(rest.Operation{
		ID: "streamEvents", Method: http.MethodGet, Path: "/v1/events/stream", Tag: "Events",
		Summary: "Stream events (Server-Sent Events)",
		Description: "The change feed pushed as it happens, as text/event-stream: each message has id (the feed position), event (the type) and " +
			"data (the CloudEvent). Reconnect with the Last-Event-ID header (EventSource does this) or after= to resume with no gap and no " +
			"duplicate. Comment lines (: heartbeat) keep idle connections open. Filtering is that of GET /v1/events.",
		Params: []rest.Param{
			{Name: "Last-Event-ID", In: "header", Description: "Resume after this position (sent by EventSource on reconnect)."},
			{Name: "after", In: "query", Description: "Start after this cursor, or now (the default)."},
			typesParam,
			{Name: "company_id", In: "query", Description: "Only this company's events."},
		},
		Response: reflect.TypeOf(events.Stored{}), MediaType: "text/event-stream",
	}, func(w http.ResponseWriter, r *http.Request) error {
		return stream(w, r, d, hub, o)
	})
	var (
		once sync.Once
		doc  []byte
		err  error
	)
	api.Handle(rest.Operation{
		ID: "getEventSchema", Method: http.MethodGet, Path: "/v1/events/schema", Tag: "Events",
		Summary: "List event types and their payload schemas",
		Description: "Every event type Mainstay emits, the scope that receives it, when it happens, and the JSON Schema (2020-12) of its data — " +
			"the resource as the API returns it. Generated from the code, so it is complete.",
		Response: reflect.TypeOf(Catalogue{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		once.Do(func() { doc, err = json.Marshal(buildCatalogue()) })
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, werr := w.Write(doc)
		return werr
	})
}

// filterFor is the feed filter of the calling principal: the types it
// asked for that its scopes read, in its companies (or the one it named).
func filterFor(r *http.Request, typesParam, company string) (events.Filter, error) {
	p, _ := auth.FromContext(r.Context())
	patterns := []string{"*"}
	if typesParam != "" {
		patterns = nil
		for _, t := range strings.Split(typesParam, ",") {
			if t = strings.TrimSpace(t); t != "" {
				if _, known := events.Lookup(t); !known && t != "*" && !strings.HasSuffix(t, ".*") {
					return events.Filter{}, apperr.New(apperr.BadRequest, "Unknown event type %q; GET /v1/events/schema lists them.", t).
						WithFields(apperr.FieldError{Pointer: "query:types", Detail: "unknown event type " + t})
				}
				patterns = append(patterns, t)
			}
		}
	}
	f := events.Filter{Types: events.Select(patterns, p.Has)}
	if company != "" {
		if !p.CanAccessCompany(company) {
			return events.Filter{}, apperr.New(apperr.NotFound, "No company %q.", company)
		}
		f.Companies = []string{company}
	} else if !p.AllCompanies() {
		f.Companies = append([]string{}, p.Companies...)
	}
	return f, nil
}

// parseCursor reads a position: digits, or "now" for head.
func parseCursor(s, param string, head int64) (int64, error) {
	switch s {
	case "":
		return 0, nil
	case "now":
		return head, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, apperr.New(apperr.BadRequest, "Invalid %s: want a cursor from next_cursor (a whole number), 0 or now.", param).
			WithFields(apperr.FieldError{Pointer: "query:" + param, Detail: "not a cursor"})
	}
	return n, nil
}

// buildCatalogue describes every declared type with a JSON Schema of its
// payload, in one document whose $defs hold the shared schemas.
func buildCatalogue() Catalogue {
	reg := rest.NewRegistry("#/$defs/")
	out := Catalogue{
		Schema: "https://json-schema.org/draft/2020-12/schema",
		Envelope: map[string]any{
			"type":     "object",
			"required": []string{"specversion", "id", "source", "type", "time", "datacontenttype", "data"},
			"properties": map[string]any{
				"specversion":     map[string]any{"const": "1.0"},
				"id":              map[string]any{"type": "string", "description": "Unique per event; also the webhook-id of its deliveries."},
				"source":          map[string]any{"type": "string", "description": "The API collection the event is about (/v1/invoices)."},
				"type":            map[string]any{"type": "string"},
				"subject":         map[string]any{"type": "string", "description": "The id of the record the event is about."},
				"time":            map[string]any{"type": "string", "format": "date-time", "description": "When the change committed's transaction began (UTC)."},
				"datacontenttype": map[string]any{"const": "application/json"},
				"companyid":       map[string]any{"type": "string", "description": "Extension: the record's company."},
				"sequence":        map[string]any{"type": "string", "description": "Extension: the feed position (a decimal integer, increasing)."},
				"data":            map[string]any{"description": "The record as the API returns it; see the type's data schema."},
			},
		},
	}
	for _, t := range events.Catalogue() {
		s := reg.Schema(t.Data, true, "")
		out.Types = append(out.Types, TypeDoc{Type: t.Name, Scope: t.Scope, Description: t.Description, Data: schemaMap(s)})
	}
	out.Defs = map[string]any{}
	for name, s := range reg.Map() {
		out.Defs[name] = schemaMap(s)
	}
	return out
}

func schemaMap(s *huma.Schema) map[string]any {
	b, _ := json.Marshal(s)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}
