// Package rest holds the API conventions every resource inherits: one
// registration call per operation mounts the route, checks its scope, and
// documents it in the OpenAPI 3.1 document generated from the Go types;
// strict JSON and XML decoding with field pointers; content negotiation;
// partial responses; ETags and preconditions; merge patches; company
// context; and atomic batches.
package rest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/httpx"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// Handler serves one operation. It writes a success itself (with Respond)
// and returns errors, which the one error writer turns into problems.
type Handler func(w http.ResponseWriter, r *http.Request) error

// Param documents a query, path or header parameter.
type Param struct {
	Name, In, Description string
	Required              bool
	Schema                *huma.Schema
}

// Operation describes an endpoint for routing, authorization and the
// OpenAPI document.
type Operation struct {
	ID          string // operationId, e.g. "createProduct"
	Method      string
	Path        string // "/v1/products/{id}"
	Summary     string
	Description string
	Tag         string
	Scope       string // the scope a caller must hold; "" = any valid token
	Params      []Param
	// Request is the body's Go type (nil: no body). Patch bodies are JSON
	// merge patches of it.
	Request    reflect.Type
	MergePatch bool
	// Response is the success body's Go type (nil: no body) with Status.
	Response reflect.Type
	Status   int
	// Errors lists the statuses the operation can answer besides the ones
	// every /v1 operation can (400, 401, 403, 413, 415, 422, 429, 500).
	Errors []int
	// Idempotent operations accept Idempotency-Key.
	Idempotent bool
	// XML operations read and write application/xml too.
	XML bool
	// Headers documents response headers of the success status.
	Headers []string
	// Public operations take no token (inbound notifications, verified by
	// their signature); the app routes them around authentication.
	Public bool
	// MediaType is the success body's media type when it is not JSON
	// (text/event-stream); Response then describes each item.
	MediaType string
}

// API is the /v1 route table and its OpenAPI document.
type API struct {
	mux      *http.ServeMux
	handler  http.Handler // mux with problem answers for unknown routes
	registry huma.Registry
	doc      *huma.OpenAPI
	mu       sync.Mutex
	ops      map[string]Operation // by "METHOD path"
}

// decimalString documents money.Decimal as a string with a decimal
// pattern, so a JSON number is refused with a pointer by the validator.
type decimalString string

// Schema implements huma.SchemaProvider.
func (decimalString) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: "string", Format: "decimal", Pattern: `^-?[0-9]+(\.[0-9]+)?$`,
		Description: "An exact decimal number written as a string, e.g. \"12.50\"."}
}

// currencyString documents money.Currency.
type currencyString string

// Schema implements huma.SchemaProvider.
func (currencyString) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: "string", Pattern: `^[A-Z]{3}$`, Description: "An ISO 4217 currency code, e.g. \"EUR\"."}
}

// NewAPI returns an empty API with its security scheme and the shared
// problem schema.
func NewAPI(title, version, issuer string) *API {
	reg := NewRegistry("#/components/schemas/")
	scopes := map[string]string{}
	for _, s := range auth.AllScopes() {
		scopes[s] = "Grants " + strings.ReplaceAll(s, ":", " ") + " access."
	}
	doc := &huma.OpenAPI{
		OpenAPI: "3.1.0",
		Info: &huma.Info{
			Title:   title,
			Version: version,
			Description: "The Mainstay ERP API. Every /v1 operation needs an OAuth 2.0 bearer token " +
				"(client credentials at /oauth2/token) holding the scope the operation names. " +
				"Errors are RFC 9457 problem documents. Money and quantities are decimal strings.",
		},
		Paths: map[string]*huma.PathItem{},
		Components: &huma.Components{
			Schemas: reg,
			SecuritySchemes: map[string]*huma.SecurityScheme{
				"oauth2": {
					Type:        "oauth2",
					Description: "Client credentials; the token's scopes come from the client's roles.",
					Flows: &huma.OAuthFlows{ClientCredentials: &huma.OAuthFlow{
						TokenURL: "/oauth2/token",
						Scopes:   scopes,
					}},
				},
			},
		},
	}
	reg.Schema(reflect.TypeOf(apperr.Problem{}), true, "Problem")
	mux := http.NewServeMux()
	return &API{mux: mux, handler: httpx.Problems(mux), registry: reg, doc: doc, ops: map[string]Operation{}}
}

// NewRegistry returns a JSON Schema registry whose references start with
// prefix, describing money and currencies as the API writes them. The
// OpenAPI document uses one; the event catalogue another ("#/$defs/").
func NewRegistry(prefix string) huma.Registry {
	reg := huma.NewMapRegistry(prefix, huma.DefaultSchemaNamer)
	reg.RegisterTypeAlias(reflect.TypeOf(money.Decimal{}), reflect.TypeOf(decimalString("")))
	reg.RegisterTypeAlias(reflect.TypeOf(money.Currency("")), reflect.TypeOf(currencyString("")))
	return reg
}

// Mux is the route table (tests mount extra routes on it).
func (a *API) Mux() *http.ServeMux { return a.mux }

// Registry is the schema registry, for validating bodies.
func (a *API) Registry() huma.Registry { return a.registry }

// ServeHTTP routes to the operations; unknown routes are problems.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.handler.ServeHTTP(w, r)
}

// Handle mounts an operation: the scope is checked before the handler
// runs, and the operation is added to the OpenAPI document.
func (a *API) Handle(op Operation, h Handler) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key := op.Method + " " + op.Path
	if _, dup := a.ops[key]; dup {
		panic("rest: operation registered twice: " + key) // a wiring bug, found at start-up
	}
	a.ops[key] = op
	a.document(op)
	a.mux.HandleFunc(key, func(w http.ResponseWriter, r *http.Request) {
		if op.Scope != "" {
			if err := auth.Require(r.Context(), op.Scope); err != nil {
				if apperr.CodeOf(err) == apperr.Forbidden {
					auth.InsufficientScope(w, op.Scope)
				}
				httpx.WriteError(w, r, err)
				return
			}
		}
		if err := h(w, r); err != nil {
			httpx.WriteError(w, r, err)
		}
	})
}

// Operations lists the registered operations, sorted by path and method.
func (a *API) Operations() []Operation {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Operation, 0, len(a.ops))
	for _, op := range a.ops {
		out = append(out, op)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// Spec is the OpenAPI document as indented JSON.
func (a *API) Spec() ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, err := json.MarshalIndent(a.doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal OpenAPI document: %w", err)
	}
	return append(b, '\n'), nil
}

// SchemaOf returns the resolved schema of a Go type.
func (a *API) SchemaOf(t reflect.Type) *huma.Schema {
	s := a.registry.Schema(t, true, "")
	if s.Ref != "" {
		return a.registry.SchemaFromRef(s.Ref)
	}
	return s
}

var problemContent = map[string]*huma.MediaType{
	"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/Problem"}},
	"application/problem+xml":  {Schema: &huma.Schema{Ref: "#/components/schemas/Problem"}},
}

func (a *API) document(op Operation) {
	o := &huma.Operation{
		OperationID: op.ID,
		Summary:     op.Summary,
		Description: op.Description,
		Tags:        []string{op.Tag},
		Responses:   map[string]*huma.Response{},
	}
	o.Security = []map[string][]string{{"oauth2": {}}}
	if op.Public {
		o.Security = []map[string][]string{}
	}
	if op.Scope != "" {
		o.Security = []map[string][]string{{"oauth2": {op.Scope}}}
		o.Extensions = map[string]any{"x-required-scopes": []string{op.Scope}}
		o.Description = strings.TrimSpace(o.Description + "\n\nRequires the scope `" + op.Scope + "`.")
	}
	for _, p := range op.Params {
		schema := p.Schema
		if schema == nil {
			schema = &huma.Schema{Type: "string"}
		}
		o.Parameters = append(o.Parameters, &huma.Param{Name: p.Name, In: p.In, Description: p.Description, Required: p.Required || p.In == "path", Schema: schema})
	}
	if op.Idempotent {
		o.Parameters = append(o.Parameters, &huma.Param{Name: "Idempotency-Key", In: "header",
			Description: "Makes a retry safe: the first response for this key is stored for 24 hours and replayed; the same key with another body is 422; while the first is running, 409.",
			Schema:      &huma.Schema{Type: "string", MaxLength: ptr(255)}})
	}
	if op.Request != nil {
		s := a.registry.Schema(op.Request, true, "")
		content := map[string]*huma.MediaType{}
		if op.MergePatch {
			content["application/merge-patch+json"] = &huma.MediaType{Schema: &huma.Schema{Type: "object",
				Description: "A JSON merge patch (RFC 7396) of " + strings.TrimPrefix(s.Ref, "#/components/schemas/") + ": members to set, null to clear."}}
		} else {
			content["application/json"] = &huma.MediaType{Schema: s}
			if op.XML {
				content["application/xml"] = &huma.MediaType{Schema: s}
			}
		}
		o.RequestBody = &huma.RequestBody{Required: true, Content: content}
	}
	status := op.Status
	if status == 0 {
		status = http.StatusOK
	}
	resp := &huma.Response{Description: http.StatusText(status)}
	if op.Response != nil {
		s := a.registry.Schema(op.Response, true, "")
		resp.Content = map[string]*huma.MediaType{"application/json": {Schema: s}}
		if op.MediaType != "" {
			resp.Content = map[string]*huma.MediaType{op.MediaType: {Schema: s}}
		}
		if op.XML {
			resp.Content["application/xml"] = &huma.MediaType{Schema: s}
		}
	}
	for _, h := range op.Headers {
		if resp.Headers == nil {
			resp.Headers = map[string]*huma.Param{}
		}
		resp.Headers[h] = &huma.Param{Schema: &huma.Schema{Type: "string"}}
	}
	o.Responses[strconv.Itoa(status)] = resp
	errs := []int{400, 401, 403, 429, 500}
	if op.Request != nil {
		errs = append(errs, 413, 415, 422)
	}
	if op.Idempotent {
		errs = append(errs, 409, 422)
	}
	for _, code := range append(errs, op.Errors...) {
		o.Responses[strconv.Itoa(code)] = &huma.Response{Description: http.StatusText(code), Content: problemContent}
	}
	item := a.doc.Paths[op.Path]
	if item == nil {
		item = &huma.PathItem{}
		a.doc.Paths[op.Path] = item
	}
	switch op.Method {
	case http.MethodGet:
		item.Get = o
	case http.MethodPost:
		item.Post = o
	case http.MethodPut:
		item.Put = o
	case http.MethodPatch:
		item.Patch = o
	case http.MethodDelete:
		item.Delete = o
	default:
		panic("rest: unsupported method " + op.Method)
	}
}

func ptr[T any](v T) *T { return &v }
