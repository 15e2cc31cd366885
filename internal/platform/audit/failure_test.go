package audit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/httpx"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
)

// Failed writes are audited in their own transaction even though the
// business transaction (and its audit row) rolled back; reads and
// successful writes are not touched.
func TestFailureMiddleware(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /v1/things/{id}/confirm", func(w http.ResponseWriter, r *http.Request) {
			// The business transaction writes its audit row, then fails.
			err := d.Transact(r.Context(), func(tx *db.Tx) error {
				if err := audit.Record(r.Context(), tx, audit.Entry{Action: "thing.confirm", ResourceType: "thing"}); err != nil {
					return err
				}
				return apperr.New(apperr.Conflict, "The thing is archived.")
			})
			httpx.WriteError(w, r, err)
		})
		mux.HandleFunc("DELETE /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
			httpx.WriteError(w, r, apperr.New(apperr.Forbidden, "This operation needs the scope \"things:write\"."))
		})
		mux.HandleFunc("POST /v1/things", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
		})
		mux.HandleFunc("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
			httpx.WriteError(w, r, apperr.New(apperr.NotFound, "No thing."))
		})
		mux.HandleFunc("PUT /v1/huge", func(w http.ResponseWriter, r *http.Request) {
			// A huge problem body whose code comes last: not held in memory,
			// so the code is not found, and the row is still written.
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			fmt.Fprintf(w, `{"detail":%q,"code":"invalid"}`, strings.Repeat("x", 1<<20))
		})
		// copier stands for a middleware that copies the request (as the
		// idempotency middleware does), hiding r.Pattern from the outside.
		copier := func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Idempotency-Key") != "" {
					r = r.WithContext(context.WithValue(r.Context(), copiedKey{}, 1))
				}
				next.ServeHTTP(w, r)
			})
		}
		client := func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ctx := reqctx.WithRequestID(reqctx.WithActor(r.Context(), "cli_clerk"), "req_"+r.Method)
				next.ServeHTTP(w, r.WithContext(reqctx.WithClient(ctx, "192.0.2.1", "clerk/1")))
			})
		}
		for _, withRoutes := range []bool{false, true} {
			var opts []audit.FailureOption
			if withRoutes {
				opts = append(opts, audit.WithRoutes(mux))
			}
			srv := httptest.NewServer(client(audit.FailureMiddleware(d, opts...)(copier(mux))))
			do := func(method, path string, header ...string) int {
				req, _ := http.NewRequest(method, srv.URL+path, nil)
				for i := 0; i+1 < len(header); i += 2 {
					req.Header.Set(header[i], header[i+1])
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				return res.StatusCode
			}
			for _, c := range []struct {
				method, path string
				status       int
				header       []string
			}{
				{"POST", "/v1/things/th_1/confirm", 409, nil},
				{"POST", "/v1/things/th_2/confirm", 409, []string{"Idempotency-Key", "k1"}},
				{"DELETE", "/v1/things/th_3", 403, nil},
				{"POST", "/v1/things", 201, nil},
				{"GET", "/v1/things/th_4", 404, nil},
				{"PATCH", "/v1/nowhere", 404, nil},
				{"PUT", "/v1/huge", 422, nil},
			} {
				if got := do(c.method, c.path, c.header...); got != c.status {
					t.Fatalf("%s %s = %d, want %d", c.method, c.path, got, c.status)
				}
			}
			srv.Close()
			drain(t, d)
			rows, err := audit.After(context.Background(), d, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				if r.Actor != "cli_clerk" || r.IP != "192.0.2.1" || r.UserAgent != "clerk/1" || r.RequestID != "req_"+strings.TrimPrefix(r.Action, "http.") {
					t.Fatalf("row %+v lacks who and from where", r)
				}
				got = append(got, fmt.Sprintf("%s %s %s %s %v", r.Action, r.ResourceType, r.ResourceID, r.Outcome, r.Details))
			}
			// The copied request hides its route unless the middleware
			// knows the mux.
			hidden := "/v1/things/th_2/confirm "
			if withRoutes {
				hidden = "/v1/things/{id}/confirm th_2"
			}
			want := []string{
				"http.POST /v1/things/{id}/confirm th_1 failure map[code:conflict status:409]",
				"http.POST " + hidden + " failure map[code:conflict status:409]",
				"http.DELETE /v1/things/{id} th_3 denied map[code:forbidden status:403]",
				"http.PATCH /v1/nowhere  failure map[status:404]",
				"http.PUT /v1/huge  failure map[status:422]",
			}
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
				t.Fatalf("with routes %v, rows:\n%s\nwant:\n%s", withRoutes, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			exec(t, d, "DELETE FROM audit_log")
			exec(t, d, "DELETE FROM audit_checkpoints")
		}
	})
}

type copiedKey struct{}
