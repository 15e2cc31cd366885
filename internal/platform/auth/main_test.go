package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/clock"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/httpx"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const testIssuer = "https://erp.example.test"

// node is one API server on a database: a token Server and an HTTP server
// mounting its routes and a protected resource.
type node struct {
	d     *db.DB
	s     *Server
	clock *clock.Manual
	http  *httptest.Server
}

// newNode starts a node on d. The clock is manual, so tests drive expiry;
// it starts at the real time so that libraries that read the wall clock
// agree with it.
func newNode(t *testing.T, d *db.DB, opts Options) *node {
	t.Helper()
	n := &node{d: d, clock: clock.NewManual(time.Now().Truncate(time.Second))}
	if opts.Issuer == "" {
		opts.Issuer = testIssuer
	}
	if opts.Clock == nil {
		opts.Clock = n.clock
	}
	s, err := NewServer(d, opts)
	if err != nil {
		t.Fatal(err)
	}
	n.s = s
	mux := http.NewServeMux()
	s.Routes(mux)
	// A protected resource that needs sales:write and echoes the caller.
	mux.Handle("GET /v1/whoami", s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := Require(r.Context(), "sales:write"); err != nil {
			InsufficientScope(w, "sales:write")
			httpx.WriteError(w, r, err)
			return
		}
		p, _ := FromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"client_id": p.ClientID, "actor": reqctx.Actor(r.Context()), "scopes": p.Scopes, "companies": p.Companies,
		})
	})))
	n.http = httptest.NewServer(mux)
	t.Cleanup(n.http.Close)
	return n
}

// sharedURL returns a fresh migrated database's URL, for tests that open
// it more than once (several nodes).
func sharedURL(t *testing.T, e db.Engine) string {
	t.Helper()
	if e == db.SQLite {
		return dbtest.SQLiteURL(t, true)
	}
	return dbtest.PostgresURL(t, true)
}

// forEachEngineURL runs fn on both engines with a URL several nodes can
// open.
func forEachEngineURL(t *testing.T, fn func(t *testing.T, url string)) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) { fn(t, sharedURL(t, e)) })
	}
}

func mustClient(t *testing.T, d *db.DB, in NewClient) (Client, string) {
	t.Helper()
	c, secret, err := CreateClient(context.Background(), d, in)
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	return c, secret
}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := apperr.CodeOf(err); got != code {
		t.Fatalf("error code %s, want %s (%v)", got, code, err)
	}
}
