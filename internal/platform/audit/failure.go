package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
)

// problemPrefix is how much of a problem body FailureMiddleware keeps to
// find its code: enough for any problem this API writes before "code",
// while a huge body is never held in memory.
const problemPrefix = 8 << 10

// failureTimeout bounds the write of a failure row; it does not depend on
// the request's context, which ends when the client goes.
const failureTimeout = 5 * time.Second

// FailureOption configures FailureMiddleware.
type FailureOption func(*failureConfig)

type failureConfig struct {
	routes *http.ServeMux
	log    *slog.Logger
}

// WithRoutes names the mux whose patterns become the resource type of a
// failure row. Without it the middleware reads r.Pattern after the request,
// which the mux sets only when no middleware in between copied the request
// (idempotency does, for requests with an Idempotency-Key), and falls back
// to the path.
func WithRoutes(mux *http.ServeMux) FailureOption {
	return func(c *failureConfig) { c.routes = mux }
}

// WithLogger logs failures to write a failure row (they do not change the
// response, which is already written).
func WithLogger(log *slog.Logger) FailureOption {
	return func(c *failureConfig) { c.log = log }
}

// FailureMiddleware audits failed writes. The business transaction of a
// failed request rolled back, taking any audit row it wrote with it, so
// for a write (any method but GET, HEAD and OPTIONS) that ends with status
// 400 or more it records one row in its own transaction: outcome denied
// for 401 and 403, failure otherwise; action "http.<METHOD>"; resource type
// the route ("/v1/products/{id}"); resource id the route's {id}; details
// the status and the problem's code. Place it after authentication, so the
// row names the client.
func FailureMiddleware(d *db.DB, opts ...FailureOption) func(http.Handler) http.Handler {
	cfg := failureConfig{log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&cfg)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
				next.ServeHTTP(w, r)
				return
			}
			before := r.Pattern
			cw := &captureWriter{ResponseWriter: w}
			next.ServeHTTP(cw, r)
			if cw.status < http.StatusBadRequest {
				return
			}
			route := ""
			if cfg.routes != nil {
				_, route = cfg.routes.Handler(r)
			} else if r.Pattern != before {
				route = r.Pattern
			}
			e := failureEntry(r, route, cw.status, problemCode(cw.body.Bytes()))
			// A fresh context carrying only what the row needs: the request's
			// may be cancelled by now, and may carry its transaction or
			// commit hooks, which this row must not join.
			ctx, cancel := context.WithTimeout(context.Background(), failureTimeout)
			defer cancel()
			ip, ua := reqctx.Client(r.Context())
			ctx = reqctx.WithClient(reqctx.WithRequestID(reqctx.WithActor(ctx, e.Actor), e.RequestID), ip, ua)
			if err := d.Transact(ctx, func(tx *db.Tx) error { return Record(ctx, tx, e) }); err != nil {
				cfg.log.ErrorContext(r.Context(), "audit a failed request", "request_id", e.RequestID, "err", err)
			}
		})
	}
}

func failureEntry(r *http.Request, route string, status int, code string) Entry {
	outcome := Failure
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		outcome = Denied
	}
	actor := reqctx.Actor(r.Context())
	if actor == "" {
		actor = "anonymous"
	}
	details := map[string]any{"status": status}
	if code != "" {
		details["code"] = code
	}
	e := Entry{
		Actor: actor, Action: "http." + r.Method, Outcome: outcome,
		RequestID: reqctx.RequestID(r.Context()), Details: details,
	}
	// The pattern is "METHOD /path/{id}"; the method is already the action.
	if _, p, ok := strings.Cut(route, " "); ok {
		route = p
	}
	if route != "" && route != "/" && !strings.HasSuffix(route, "/") {
		e.ResourceType = route
		e.ResourceID = wildcard(route, r.URL.Path, "id")
	} else {
		// No route matched (or only a catch-all prefix): the path is all
		// there is to say what was aimed at.
		e.ResourceType = r.URL.Path
	}
	return e
}

// wildcard returns the value the path gives the pattern's {name}.
func wildcard(pattern, path, name string) string {
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	vs := strings.Split(strings.Trim(path, "/"), "/")
	for i, p := range ps {
		if i < len(vs) && p == "{"+name+"}" {
			return vs[i]
		}
	}
	return ""
}

// problemCode returns the top-level "code" member of a problem document,
// which may be cut short; "" if there is none.
func problemCode(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := t.(string)
		if key != "code" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return ""
			}
			continue
		}
		var code string
		if err := dec.Decode(&code); err != nil {
			return ""
		}
		return code
	}
	return ""
}

// captureWriter records the status and, for problem+json error bodies, the
// first problemPrefix bytes.
type captureWriter struct {
	http.ResponseWriter
	status  int
	capture bool
	body    bytes.Buffer
}

func (w *captureWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		if code >= http.StatusBadRequest {
			mt, _, _ := mime.ParseMediaType(w.Header().Get("Content-Type"))
			w.capture = mt == "application/problem+json"
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *captureWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.capture && w.body.Len() < problemPrefix {
		w.body.Write(b[:min(len(b), problemPrefix-w.body.Len())])
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the writer beneath.
func (w *captureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
