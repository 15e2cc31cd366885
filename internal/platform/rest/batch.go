package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// MaxBatch is the most operations one batch may hold.
const MaxBatch = 100

// BatchRequest is the body of POST /v1/batch.
type BatchRequest struct {
	Operations []BatchOperation `json:"operations" minItems:"1" maxItems:"100"`
}

// BatchOperation is one request inside a batch.
type BatchOperation struct {
	Method  string         `json:"method" enum:"GET,POST,PUT,PATCH,DELETE"`
	Path    string         `json:"path" pattern:"^/v1/" doc:"A /v1 path with its query, e.g. /v1/products?company_id=co_…"`
	Body    map[string]any `json:"body,omitempty" doc:"The JSON body (a merge patch for PATCH)."`
	IfMatch string         `json:"if_match,omitempty" doc:"Sent as If-Match."`
}

// BatchResult is one operation's outcome.
type BatchResult struct {
	Status int             `json:"status"`
	ETag   string          `json:"etag,omitempty"`
	Body   json.RawMessage `json:"body,omitempty"`
}

// BatchResponse answers a batch that succeeded (or a dry run).
type BatchResponse struct {
	Committed bool          `json:"committed" doc:"False for a dry run: nothing was written."`
	Results   []BatchResult `json:"results"`
}

// errDryRun rolls a dry run back after every operation succeeded.
var errDryRun = errors.New("dry run")

// MountBatch adds POST /v1/batch: up to 100 operations in one transaction,
// all or none. An operation that fails aborts the batch: the response is
// that operation's problem, pointing at it, and nothing is written.
// dry_run=true runs everything and rolls it back, to preview the results.
func MountBatch(a *API, d *db.DB) {
	a.Handle(Operation{
		ID: "batch", Method: http.MethodPost, Path: "/v1/batch", Tag: "Batch",
		Summary: "Run up to 100 operations atomically",
		Description: "Each operation is checked against the scopes of the caller as if sent alone. " +
			"If one fails, none is applied and the answer is its problem with a pointer to /operations/N. " +
			"With dry_run=true the operations run and are rolled back, and their results are returned.",
		Params:  []Param{{Name: "dry_run", In: "query", Description: "true to preview without writing."}},
		Request: reflect.TypeOf(BatchRequest{}), Response: reflect.TypeOf(BatchResponse{}), Idempotent: true,
		Errors: []int{404, 409, 412, 428},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var req BatchRequest
		if _, err := a.Decode(r, &req, false); err != nil {
			return err
		}
		dryRun := r.URL.Query().Get("dry_run") == "true"
		for i, op := range req.Operations {
			if strings.HasPrefix(op.Path, "/v1/batch") {
				return apperr.Field(fmt.Sprintf("/operations/%d/path", i), "A batch cannot contain a batch.")
			}
		}
		var results []BatchResult
		var failed *batchFailure
		err := d.Transact(r.Context(), func(tx *db.Tx) error {
			results, failed = nil, nil
			ctx := db.ContextWithTx(r.Context(), tx)
			for i, op := range req.Operations {
				res := a.runOne(r.WithContext(ctx), op)
				results = append(results, res)
				if res.Status >= 400 {
					failed = &batchFailure{index: i, result: res}
					return failed
				}
			}
			if dryRun {
				return errDryRun
			}
			return nil
		})
		if failed != nil {
			return failed.problem()
		}
		if err != nil && !errors.Is(err, errDryRun) {
			return err
		}
		return Respond(w, r, http.StatusOK, BatchResponse{Committed: !dryRun, Results: results})
	})
}

func (a *API) runOne(parent *http.Request, op BatchOperation) BatchResult {
	var body []byte
	if op.Body != nil {
		body, _ = json.Marshal(op.Body)
	}
	req, err := http.NewRequestWithContext(parent.Context(), op.Method, op.Path, bytes.NewReader(body))
	if err != nil {
		return BatchResult{Status: http.StatusBadRequest, Body: problemJSON(apperr.New(apperr.BadRequest, "Bad path: %v", err))}
	}
	req.Header.Set("Accept", JSON)
	if op.Body != nil {
		ct := JSON
		if op.Method == http.MethodPatch {
			ct = MergePatchType
		}
		req.Header.Set("Content-Type", ct)
	}
	if op.IfMatch != "" {
		req.Header.Set("If-Match", op.IfMatch)
	}
	req.RemoteAddr = parent.RemoteAddr
	rec := &captured{header: http.Header{}}
	a.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	res := BatchResult{Status: rec.status, ETag: rec.header.Get("ETag")}
	if rec.body.Len() > 0 {
		res.Body = json.RawMessage(bytes.TrimSpace(rec.body.Bytes()))
	}
	return res
}

type batchFailure struct {
	index  int
	result BatchResult
}

func (f *batchFailure) Error() string {
	return fmt.Sprintf("batch operation %d failed with %d", f.index, f.result.Status)
}

// problem turns the failed operation's problem into the batch's, with its
// pointers moved under /operations/N.
func (f *batchFailure) problem() error {
	var p apperr.Problem
	_ = json.Unmarshal(f.result.Body, &p)
	code := p.Code
	if code == "" || code.Status() != f.result.Status {
		code = apperr.Internal
	}
	prefix := fmt.Sprintf("/operations/%d", f.index)
	fields := []apperr.FieldError{{Pointer: prefix, Detail: p.Detail}}
	for _, fe := range p.Errors {
		ptr := fe.Pointer
		if strings.HasPrefix(ptr, "/") || ptr == "" {
			ptr = prefix + "/body" + ptr
		} else {
			ptr = prefix + "/" + ptr
		}
		fields = append(fields, apperr.FieldError{Pointer: ptr, Detail: fe.Detail})
	}
	return apperr.New(code, "Operation %d failed, so nothing in the batch was applied: %s", f.index, p.Detail).WithFields(fields...)
}

func problemJSON(err error) json.RawMessage {
	b, _ := json.Marshal(apperr.ProblemOf(err, "", ""))
	return b
}

// captured records a response made inside a batch.
type captured struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captured) Header() http.Header { return c.header }
func (c *captured) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}
func (c *captured) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}

// Call runs one operation in-process as the principal ctx carries (and in
// the transaction it carries, if any), checked like a request sent alone:
// automation actions act through it with their rule owner's authority.
func (a *API) Call(ctx context.Context, op BatchOperation) BatchResult {
	parent, _ := http.NewRequestWithContext(ctx, http.MethodPost, "/v1/batch", nil)
	parent.RemoteAddr = "127.0.0.1:0"
	return a.runOne(parent, op)
}
