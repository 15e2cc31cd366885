package webhooks_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/clock"
	"github.com/mainstay-erp/mainstay/internal/platform/crypto"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/events/safehttp"
	"github.com/mainstay-erp/mainstay/internal/platform/events/webhooks"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/sequencer"
)

// Test event types: both readable with sales:read; a third one needs a
// scope the sales role lacks.
const (
	typeOrder   = "mainstay.test.order.changed"
	typeOther   = "mainstay.test.quote.changed"
	typePayroll = "mainstay.test.payslip.issued"
)

func TestMain(m *testing.M) {
	events.Declare(
		events.Type{Name: typeOrder, Scope: "sales:read", Description: "test", Data: events.Of[map[string]any]()},
		events.Type{Name: typeOther, Scope: "sales:read", Description: "test", Data: events.Of[map[string]any]()},
		events.Type{Name: typePayroll, Scope: "payroll:read", Description: "test", Data: events.Of[map[string]any]()},
	)
	code := m.Run()
	dropSharedPostgres()
	dbtest.StopCluster()
	os.Exit(code)
}

// shared is one PostgreSQL database for the whole package: creating one
// per test costs seconds each. Tests stay apart by client, company and
// endpoint, and each opens its own handle with its own manual clock;
// each deletes its endpoints (and so its deliveries) when it ends.
var shared struct {
	once             sync.Once
	url, admin, name string
	err              error
}

func sharedPostgres(t *testing.T) string {
	t.Helper()
	shared.once.Do(func() {
		fresh := dbtest.PostgresURL(t, true) // dropped when t ends: cloned first
		u, err := url.Parse(fresh)
		if err != nil {
			shared.err = err
			return
		}
		from := strings.TrimPrefix(u.Path, "/")
		u.Path = "/postgres"
		shared.admin = u.String()
		shared.name = "mainstay_wh_" + strings.ToLower(id.New("t")[2:])
		conn, err := sql.Open("pgx", shared.admin)
		if err != nil {
			shared.err = err
			return
		}
		defer conn.Close()
		if _, err := conn.ExecContext(context.Background(), "CREATE DATABASE "+shared.name+" TEMPLATE "+from); err != nil {
			shared.err = err
			return
		}
		u.Path = "/" + shared.name
		shared.url = u.String()
	})
	if shared.err != nil {
		t.Fatalf("shared test database: %v", shared.err)
	}
	if shared.url == "" {
		t.Skip("PostgreSQL half skipped: no test database")
	}
	return shared.url
}

func dropSharedPostgres() {
	if shared.name == "" || shared.admin == "" {
		return
	}
	conn, err := sql.Open("pgx", shared.admin)
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = conn.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+shared.name+" WITH (FORCE)")
}

// t0 is where every test's manual clock starts: whole seconds, so that
// webhook-timestamp (seconds) and stored instants compare exactly.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

var masterKey = []byte("mainstay-webhooks-test-master-32")

type env struct {
	t       *testing.T
	company string          // this test's company: events of others' are not its endpoints'
	ctx     context.Context // carries the owning client's principal
	d       *db.DB
	clk     *clock.Manual
	svc     *webhooks.Service
	client  auth.Client
	recv    *receiver
}

// engines runs fn on a fresh database of each engine whose clock — the
// one transactions stamp rows with — is the manual clock the dispatchers
// use too.
func engines(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, eng := range dbtest.Engines {
		t.Run(string(eng), func(t *testing.T) { fn(t, newEnv(t, eng)) })
	}
}

func newEnv(t *testing.T, eng db.Engine) *env {
	t.Helper()
	clk := clock.NewManual(t0)
	var u string
	if eng == db.SQLite {
		u = dbtest.SQLiteURL(t, true)
	} else {
		u = sharedPostgres(t)
	}
	d, err := db.Open(context.Background(), db.Options{URL: u, MaxConns: 8, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ctx := context.Background()
	co := "co_" + id.New("t")[2:]
	c, _, err := auth.CreateClient(ctx, d, auth.NewClient{Name: "integration", Roles: []string{"sales"}, Companies: []string{co}})
	if err != nil {
		t.Fatal(err)
	}
	scopes, err := auth.ResolveScopes(ctx, d, c.Roles)
	if err != nil {
		t.Fatal(err)
	}
	p := auth.Principal{ClientID: c.ID, Roles: c.Roles, Scopes: scopes, Companies: c.Companies}
	e := &env{
		t: t, company: co, ctx: auth.WithPrincipal(ctx, p), d: d, clk: clk, client: c,
		svc: &webhooks.Service{DB: d, Keys: crypto.NewKeyring(d, masterKey), AllowLoopback: true},
	}
	e.recv = newReceiver(t, clk)
	// Runs before the handle closes (cleanups run last first).
	t.Cleanup(func() {
		_, _ = d.Write().ExecContext(context.Background(), "DELETE FROM webhook_endpoints WHERE owner_client_id = $1", c.ID)
	})
	return e
}

func half() float64 { return 0.5 } // jitter factor exactly 1

func (e *env) dispatcher(o ...func(*webhooks.Options)) *webhooks.Dispatcher {
	opts := webhooks.Options{
		Clock: e.clk, Jitter: half, Lease: time.Minute,
		Client: safehttp.New(safehttp.Options{AllowLoopback: true, Timeout: 10 * time.Second}),
	}
	for _, f := range o {
		f(&opts)
	}
	return webhooks.NewDispatcher(e.svc, opts)
}

func (e *env) endpoint(types ...string) webhooks.WithSecret {
	e.t.Helper()
	ep, err := e.svc.Create(e.ctx, webhooks.Input{URL: e.recv.url(), EventTypes: types})
	if err != nil {
		e.t.Fatalf("create endpoint: %v", err)
	}
	return ep
}

// write records one event per subject, each in its own transaction, and
// numbers them; it returns their ids in order.
func (e *env) write(typ string, subjects ...string) []string {
	e.t.Helper()
	var ids []string
	for _, s := range subjects {
		err := e.d.Transact(e.ctx, func(tx *db.Tx) error {
			id, err := events.Record(e.ctx, tx, events.Event{Type: typ, Subject: s, CompanyID: e.company, Data: map[string]any{"subject": s, "n": len(ids)}})
			ids = append(ids, id)
			return err
		})
		if err != nil {
			e.t.Fatal(err)
		}
	}
	e.assign()
	return ids
}

func (e *env) assign() {
	e.t.Helper()
	for {
		n, err := sequencer.Assign(e.ctx, e.d, "outbox_events")
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// run calls RunOnce until a round claims nothing.
func (e *env) run(disp *webhooks.Dispatcher) {
	e.t.Helper()
	for range 200 {
		n, err := disp.RunOnce(e.ctx)
		if err != nil {
			e.t.Fatalf("RunOnce: %v", err)
		}
		if n == 0 {
			return
		}
	}
	e.t.Fatal("RunOnce kept claiming")
}

func (e *env) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.d.Reader(e.ctx).QueryRowContext(e.ctx, query, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// pending counts this test's pending deliveries.
func (e *env) pending() int {
	return e.count(`SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'
AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE owner_client_id = $1)`, e.client.ID)
}

func (e *env) get(endpointID string) webhooks.Endpoint {
	e.t.Helper()
	ep, err := e.svc.Get(e.ctx, endpointID)
	if err != nil {
		e.t.Fatal(err)
	}
	return ep
}

func (e *env) delivery(endpointID, eventID string) webhooks.Delivery {
	e.t.Helper()
	ds, err := e.svc.Deliveries(e.ctx, endpointID, "", eventID, "", 10)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(ds) != 1 {
		e.t.Fatalf("%d deliveries of event %s, want 1", len(ds), eventID)
	}
	return ds[0]
}

// feedEvents returns the feed's events of a type about a subject.
func (e *env) feedEvents(typ, subject string) []events.Stored {
	e.t.Helper()
	e.assign()
	all, err := events.After(e.ctx, e.d, 0, 100000)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []events.Stored
	for _, ev := range all {
		if ev.Type == typ && ev.Subject == subject {
			out = append(out, ev)
		}
	}
	return out
}

// hit is one request the receiver got.
type hit struct {
	webhookID string
	event     events.Stored
	header    http.Header
	body      []byte
	at        time.Time // the manual clock when it arrived
	status    int       // what the receiver answered
}

// receiver is a real HTTP server that records what it is sent; answer
// decides the status (nil: 204).
type receiver struct {
	t      *testing.T
	clk    *clock.Manual
	addr   string
	mu     sync.Mutex
	srv    *httptest.Server
	hits   []hit
	answer func(h hit) int
	body   string // response body, if set
}

func newReceiver(t *testing.T, clk *clock.Manual) *receiver {
	r := &receiver{t: t, clk: clk}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.addr = r.srv.Listener.Addr().String()
	t.Cleanup(func() {
		r.mu.Lock()
		srv := r.srv
		r.mu.Unlock()
		if srv != nil {
			srv.Close()
		}
	})
	return r
}

func (r *receiver) url() string { return "http://" + r.addr + "/hook" }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	h := hit{webhookID: req.Header.Get("webhook-id"), header: req.Header.Clone(), body: body, at: r.clk.Now()}
	if err := json.Unmarshal(body, &h.event); err != nil {
		r.t.Errorf("receiver: body is not an event: %v: %s", err, body)
	}
	r.mu.Lock()
	answer := r.answer
	r.mu.Unlock()
	h.status = http.StatusNoContent
	if answer != nil {
		h.status = answer(h)
	}
	r.mu.Lock()
	r.hits = append(r.hits, h)
	r.mu.Unlock()
	r.mu.Lock()
	reply := r.body
	r.mu.Unlock()
	w.WriteHeader(h.status)
	if reply != "" {
		_, _ = w.Write([]byte(reply))
	}
}

func (r *receiver) setAnswer(f func(h hit) int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answer = f
}

func status(code int) func(hit) int { return func(hit) int { return code } }

func (r *receiver) all() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hit(nil), r.hits...)
}

func (r *receiver) n() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.hits)
}

// stop closes the server: connections are refused.
func (r *receiver) stop() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	srv.Close()
}

// start listens again on the same address.
func (r *receiver) start() {
	r.t.Helper()
	var l net.Listener
	var err error
	for range 50 {
		if l, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("listen again on %s: %v", r.addr, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
}

// checkIDs fails unless every request's webhook-id is the id of the
// event it carries.
func checkIDs(t *testing.T, hits []hit) {
	t.Helper()
	for _, h := range hits {
		if h.webhookID == "" || h.webhookID != h.event.ID {
			t.Errorf("webhook-id %q carried event %q", h.webhookID, h.event.ID)
		}
	}
}

func ok(h hit) bool { return h.status >= 200 && h.status < 300 }

// succeeded counts the accepted requests per webhook-id.
func succeeded(hits []hit) map[string]int {
	out := map[string]int{}
	for _, h := range hits {
		if ok(h) {
			out[h.webhookID]++
		}
	}
	return out
}
