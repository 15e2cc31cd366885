package resource

import (
	"context"
	"net/http"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// List is the body of a list response.
type List[T any] struct {
	Data          []*T   `json:"data"`
	NextPageToken string `json:"next_page_token" doc:"Pass as page_token for the next page; empty on the last page."`
}

func (r *Resource[T, PT]) mount() {
	api := r.e.api
	read, write := auth.Scope(r.spec.Module, "read"), auth.Scope(r.spec.Module, "write")
	title, base := r.spec.Title, "/v1/"+r.spec.Plural
	name := strings.ReplaceAll(titleWords(title), " ", "")
	tag := titleWords(strings.ReplaceAll(r.spec.Plural, "-", " "))
	plural := strings.ReplaceAll(tag, " ", "")
	one := reflect.TypeOf((*T)(nil)).Elem()
	companyParam := rest.Param{Name: "company_id", In: "query", Description: "The company to work in; required when the client works in more than one."}
	fieldsParam := rest.Param{Name: "fields", In: "query", Description: "Comma-separated top-level fields to return (partial response)."}
	idParam := rest.Param{Name: "id", In: "path", Description: "The " + strings.ToLower(title) + "'s id."}
	extParam := rest.Param{Name: "external_id", In: "path", Description: "Your system's identifier (URL-encode reserved characters)."}
	ifMatch := func(required bool) rest.Param {
		return rest.Param{Name: "If-Match", In: "header", Required: required, Description: "The ETag from your last read; a stale one is 412."}
	}
	listParams := []rest.Param{
		{Name: "filter", In: "query", Description: "AIP-160 filter, e.g. `" + r.filterExample() + "`. Fields: " + r.filterFields() + "."},
		{Name: "order_by", In: "query", Description: "Comma-separated fields, each optionally followed by desc; ties are broken by id."},
		{Name: "page_size", In: "query", Description: "1 to 500; default 50.", Schema: &huma.Schema{Type: "integer", Minimum: ptr(0.0), Maximum: ptr(500.0)}},
		{Name: "page_token", In: "query", Description: "next_page_token of the previous page, with the same filter and order_by."},
		fieldsParam,
	}
	if r.spec.Scoped {
		listParams = append([]rest.Param{companyParam}, listParams...)
	}

	api.Handle(rest.Operation{
		ID: "list" + plural, Method: http.MethodGet, Path: base, Tag: tag, Scope: read, XML: true,
		Summary: "List " + strings.ToLower(tag), Description: r.spec.Description, Params: listParams,
		Response: reflect.TypeOf(List[T]{}),
	}, r.handleList)
	api.Handle(rest.Operation{
		ID: "create" + name, Method: http.MethodPost, Path: base, Tag: tag, Scope: write, XML: true, Idempotent: true,
		Summary: "Create a " + strings.ToLower(title), Request: one, Response: one, Status: http.StatusCreated,
		Headers: []string{"Location", "ETag"}, Errors: []int{409},
	}, r.handleCreate)
	api.Handle(rest.Operation{
		ID: "get" + name, Method: http.MethodGet, Path: base + "/{id}", Tag: tag, Scope: read, XML: true,
		Summary: "Get a " + strings.ToLower(title), Params: []rest.Param{idParam, fieldsParam}, Response: one,
		Headers: []string{"ETag"}, Errors: []int{404},
	}, r.handleGet)
	api.Handle(rest.Operation{
		ID: "update" + name, Method: http.MethodPatch, Path: base + "/{id}", Tag: tag, Scope: write,
		Summary: "Update a " + strings.ToLower(title), Description: "A JSON merge patch (RFC 7396); archive with {\"active\": false}.",
		Params: []rest.Param{idParam, ifMatch(true)}, Request: one, MergePatch: true, Response: one,
		Headers: []string{"ETag"}, Errors: []int{404, 409, 412, 428},
	}, r.handlePatch)
	api.Handle(rest.Operation{
		ID: "delete" + name, Method: http.MethodDelete, Path: base + "/{id}", Tag: tag, Scope: write,
		Summary: "Delete a " + strings.ToLower(title), Description: "Only an unreferenced record can be deleted (409 names what refers to it).",
		Params: []rest.Param{idParam, ifMatch(false)}, Status: http.StatusNoContent, Errors: []int{404, 409, 412},
	}, r.handleDelete)
	extParams := []rest.Param{extParam}
	if r.spec.Scoped {
		extParams = append(extParams, companyParam)
	}
	api.Handle(rest.Operation{
		ID: "get" + name + "ByExternalId", Method: http.MethodGet, Path: base + "/external/{external_id}", Tag: tag, Scope: read, XML: true,
		Summary: "Get a " + strings.ToLower(title) + " by your external id", Params: append(extParams, fieldsParam), Response: one,
		Headers: []string{"ETag"}, Errors: []int{404},
	}, r.handleGetExternal)
	api.Handle(rest.Operation{
		ID: "upsert" + name, Method: http.MethodPut, Path: base + "/external/{external_id}", Tag: tag, Scope: write, XML: true,
		Summary:     "Create or replace a " + strings.ToLower(title) + " by your external id",
		Description: "201 when created, 200 when replaced. If-Match is honoured when sent.",
		Params:      append(extParams, ifMatch(false)), Request: one, Response: one, Status: http.StatusOK,
		Headers: []string{"ETag"}, Errors: []int{409, 412},
	}, r.handleUpsert)
}

func (r *Resource[T, PT]) filterFields() string {
	var names []string
	for _, f := range r.schema {
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

func (r *Resource[T, PT]) filterExample() string {
	for _, c := range r.cols {
		if c.Kind == query.Decimal {
			return c.Name + ` >= "100"`
		}
	}
	return `created_at >= "2026-01-01T00:00:00Z"`
}

func (r *Resource[T, PT]) company(req *http.Request, named, pointer string) (string, error) {
	if !r.spec.Scoped {
		return "", nil
	}
	return rest.Company(req.Context(), named, pointer)
}

func (r *Resource[T, PT]) handleList(w http.ResponseWriter, req *http.Request) error {
	q := req.URL.Query()
	company, err := r.company(req, q.Get("company_id"), "query:company_id")
	if err != nil {
		return err
	}
	size, err := query.ParsePageSize(q.Get("page_size"))
	if err != nil {
		return err
	}
	fields, err := r.fields(req)
	if err != nil {
		return err
	}
	page, err := r.List(req.Context(), ListParams{CompanyID: company, Filter: q.Get("filter"), OrderBy: q.Get("order_by"), PageToken: q.Get("page_token"), PageSize: size})
	if err != nil {
		return err
	}
	if err := r.auditSensitiveRead(req.Context(), page.Items); err != nil {
		return err
	}
	if fields == nil && len(r.hidden(req.Context())) == 0 {
		return rest.Respond(w, req, http.StatusOK, List[T]{Data: page.Items, NextPageToken: page.NextPageToken})
	}
	data := make([]map[string]any, len(page.Items))
	for i, v := range page.Items {
		data[i] = r.pick(req.Context(), v, fields)
	}
	return rest.RespondNamed(w, req, http.StatusOK, "list", list{Data: data, NextPageToken: page.NextPageToken})
}

type list struct {
	Data          []map[string]any `json:"data"`
	NextPageToken string           `json:"next_page_token"`
}

func (r *Resource[T, PT]) fields(req *http.Request) ([]string, error) {
	if !req.URL.Query().Has("fields") {
		return nil, nil
	}
	hide := r.hidden(req.Context())
	var allowed []string
	for _, m := range r.memberNames() {
		if _, hidden := hide[m]; !hidden {
			allowed = append(allowed, m)
		}
	}
	return query.ParseFields(req.URL.Query().Get("fields"), allowed)
}

func (r *Resource[T, PT]) memberNames() []string {
	s := r.e.api.SchemaOf(r.typ)
	out := make([]string, 0, len(s.Properties))
	for k := range s.Properties {
		out = append(out, k)
	}
	return out
}

// pick keeps the listed top-level members of v's representation (all
// when fields is nil), less those the caller may not see.
func (r *Resource[T, PT]) pick(ctx context.Context, v *T, fields []string) map[string]any {
	m, _ := toMap(r.present(ctx, v))
	if fields == nil {
		return m
	}
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		if x, ok := m[f]; ok {
			out[f] = x
		}
	}
	return out
}

func (r *Resource[T, PT]) respondOne(w http.ResponseWriter, req *http.Request, status int, v Versioned[T]) error {
	if req.Method == http.MethodGet {
		if err := r.auditSensitiveRead(req.Context(), []*T{v.Value}); err != nil {
			return err
		}
	}
	w.Header().Set("ETag", rest.ETag(v.Version))
	fields, err := r.fields(req)
	if err != nil {
		return err
	}
	if fields != nil {
		return rest.RespondNamed(w, req, status, r.spec.Singular, r.pick(req.Context(), v.Value, fields))
	}
	return rest.RespondNamed(w, req, status, r.spec.Singular, r.present(req.Context(), v.Value))
}

func (r *Resource[T, PT]) handleGet(w http.ResponseWriter, req *http.Request) error {
	v, err := r.Get(req.Context(), req.PathValue("id"))
	if err != nil {
		return err
	}
	return r.respondOne(w, req, http.StatusOK, v)
}

func (r *Resource[T, PT]) handleGetExternal(w http.ResponseWriter, req *http.Request) error {
	company, err := r.company(req, req.URL.Query().Get("company_id"), "query:company_id")
	if err != nil {
		return err
	}
	v, err := r.GetByExternalID(req.Context(), company, req.PathValue("external_id"))
	if err != nil {
		return err
	}
	return r.respondOne(w, req, http.StatusOK, v)
}

// bodyCompany reads company_id from a body without trusting its type.
func bodyCompany(body map[string]any) string {
	s, _ := body["company_id"].(string)
	return s
}

func (r *Resource[T, PT]) handleCreate(w http.ResponseWriter, req *http.Request) error {
	body, err := r.e.api.ReadBody(req, r.typ, true, false)
	if err != nil {
		return err
	}
	company, err := r.company(req, bodyCompany(body), "/company_id")
	if err != nil {
		return err
	}
	v, err := r.Create(req.Context(), company, body)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/"+r.spec.Plural+"/"+PT(v.Value).meta().ID)
	return r.respondOne(w, req, http.StatusCreated, v)
}

func (r *Resource[T, PT]) handlePatch(w http.ResponseWriter, req *http.Request) error {
	patch, err := r.e.api.ReadBody(req, r.typ, false, true)
	if err != nil {
		return err
	}
	v, err := r.Patch(req.Context(), req.PathValue("id"), patch, func(etag string) error {
		return rest.CheckIfMatch(req, etag, true)
	})
	if err != nil {
		return err
	}
	return r.respondOne(w, req, http.StatusOK, v)
}

func (r *Resource[T, PT]) handleUpsert(w http.ResponseWriter, req *http.Request) error {
	body, err := r.e.api.ReadBody(req, r.typ, true, false)
	if err != nil {
		return err
	}
	company, err := r.company(req, firstNonEmpty(req.URL.Query().Get("company_id"), bodyCompany(body)), "/company_id")
	if err != nil {
		return err
	}
	v, created, err := r.Upsert(req.Context(), company, req.PathValue("external_id"), body, func(etag string) error {
		return rest.CheckIfMatch(req, etag, false)
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/"+r.spec.Plural+"/"+PT(v.Value).meta().ID)
	}
	return r.respondOne(w, req, status, v)
}

func (r *Resource[T, PT]) handleDelete(w http.ResponseWriter, req *http.Request) error {
	err := r.Delete(req.Context(), req.PathValue("id"), func(etag string) error {
		return rest.CheckIfMatch(req, etag, false)
	})
	if err != nil {
		return err
	}
	return rest.NoContent(w)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func ptr[T any](v T) *T { return &v }

// titleWords capitalises each word of an ASCII name.
func titleWords(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}
