package app_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func decode[T any](t *testing.T, resp *http.Response) T {
	t.Helper()
	var v T
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", resp.Request.URL.Path, err)
	}
	return v
}

func TestHealthAndReadiness(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			s := apitest.Start(t, e)
			if resp := s.Get(t, "/healthz"); resp.StatusCode != 200 {
				t.Fatalf("/healthz = %d", resp.StatusCode)
			}
			resp := s.Get(t, "/readyz")
			body := decode[map[string]any](t, resp)
			if resp.StatusCode != 200 || body["status"] != "ready" || body["database"] != string(e) {
				t.Fatalf("/readyz = %d %v", resp.StatusCode, body)
			}
		})
	}
}

func TestRequestIDIsEchoedOrMade(t *testing.T) {
	s := apitest.Start(t, db.SQLite)
	resp := s.Do(t, "GET", "/healthz", nil, http.Header{"X-Request-Id": {"client-abc-123"}})
	if got := resp.Header.Get("X-Request-Id"); got != "client-abc-123" {
		t.Fatalf("sent request ID came back as %q", got)
	}
	for _, bad := range []string{"", "has space", strings.Repeat("x", 200)} {
		resp := s.Do(t, "GET", "/healthz", nil, http.Header{"X-Request-Id": {bad}})
		if got := resp.Header.Get("X-Request-Id"); !strings.HasPrefix(got, "req_") {
			t.Fatalf("request ID %q became %q, want a fresh req_ ID", bad, got)
		}
	}
}

func TestUnknownRoutesAreProblems(t *testing.T) {
	s := apitest.Start(t, db.SQLite)
	resp := s.Get(t, "/no/such/thing")
	p := decode[apperr.Problem](t, resp)
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" ||
		p.Status != 404 || p.Code != apperr.NotFound || p.RequestID != resp.Header.Get("X-Request-Id") {
		t.Fatalf("404 = %d %s %+v", resp.StatusCode, resp.Header.Get("Content-Type"), p)
	}
	resp = s.Do(t, "DELETE", "/healthz", nil, nil)
	p = decode[apperr.Problem](t, resp)
	if resp.StatusCode != 405 || p.Code != apperr.MethodNotAllowed || !strings.Contains(resp.Header.Get("Allow"), "GET") {
		t.Fatalf("405 = %d Allow %q %+v", resp.StatusCode, resp.Header.Get("Allow"), p)
	}
	// A client that accepts only XML gets the problem in XML.
	resp = s.Do(t, "GET", "/nope", nil, http.Header{"Accept": {"application/xml"}})
	var xp apperr.Problem
	if err := xml.NewDecoder(resp.Body).Decode(&xp); err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Content-Type") != "application/problem+xml" || xp.Status != 404 || xp.Code != apperr.NotFound {
		t.Fatalf("XML 404 = %s %+v", resp.Header.Get("Content-Type"), xp)
	}
}

func TestPanicIsA500WithoutInternals(t *testing.T) {
	s := apitest.Start(t, db.SQLite)
	s.App.Mux().HandleFunc("GET /test/panic", func(http.ResponseWriter, *http.Request) {
		panic("secret internal detail /home/x/db.go:42")
	})
	resp := s.Get(t, "/test/panic")
	raw, _ := io.ReadAll(resp.Body)
	var p apperr.Problem
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 500 || p.Code != apperr.Internal || strings.Contains(string(raw), "secret") ||
		!strings.Contains(p.Detail, p.RequestID) {
		t.Fatalf("panic answered %d %s", resp.StatusCode, raw)
	}
	// The server is still up.
	if resp := s.Get(t, "/healthz"); resp.StatusCode != 200 {
		t.Fatalf("after a panic /healthz = %d", resp.StatusCode)
	}
}

// SIGTERM during a request: the request finishes, its transaction commits,
// and only then does the server stop.
func TestGracefulShutdownCompletesInFlightRequest(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			cfg := apitest.Config(t)
			if e == db.Postgres {
				cfg.DatabaseURL = dbtest.PostgresURL(t, false)
			}
			s := apitest.StartConfig(t, cfg)
			ctx := context.Background()
			d := s.App.DB()
			if _, err := d.ExecContext(ctx, "CREATE TABLE shutdown_test (note TEXT NOT NULL)"); err != nil {
				t.Fatal(err)
			}
			started := make(chan struct{})
			s.App.Mux().HandleFunc("POST /test/slow", func(w http.ResponseWriter, r *http.Request) {
				close(started)
				time.Sleep(300 * time.Millisecond)
				err := d.Transact(r.Context(), func(tx *db.Tx) error {
					_, err := tx.ExecContext(r.Context(), "INSERT INTO shutdown_test (note) VALUES ('finished')")
					return err
				})
				if err != nil {
					http.Error(w, err.Error(), 500)
					return
				}
				w.WriteHeader(http.StatusCreated)
			})
			var wg sync.WaitGroup
			wg.Add(1)
			var status int
			var reqErr error
			go func() {
				defer wg.Done()
				resp, err := http.Post(s.URL+"/test/slow", "text/plain", nil)
				if err != nil {
					reqErr = err
					return
				}
				resp.Body.Close()
				status = resp.StatusCode
			}()
			<-started
			stopped := time.Now()
			if err := s.Stop(); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
			wg.Wait()
			if reqErr != nil || status != http.StatusCreated {
				t.Fatalf("in-flight request: status %d, err %v", status, reqErr)
			}
			if time.Since(stopped) < 200*time.Millisecond {
				t.Fatal("shutdown returned before the in-flight request finished")
			}
			if _, err := http.Get(s.URL + "/healthz"); err == nil {
				t.Fatal("server still accepts connections after shutdown")
			}
			u := cfg.DatabaseURL
			if u == "" {
				u = "sqlite:" + cfg.DataDir + "/mainstay.db"
			}
			after := dbtest.OpenURL(t, u)
			var n int
			if err := after.QueryRowContext(ctx, "SELECT COUNT(*) FROM shutdown_test").Scan(&n); err != nil || n != 1 {
				t.Fatalf("committed rows after shutdown: %d (%v), want 1", n, err)
			}
		})
	}
}

// The database goes away behind a proxy: /readyz turns 503, and 200 again
// when it returns, without restarting the server.
func TestReadinessFollowsTheDatabase(t *testing.T) {
	target := dbtest.PostgresURL(t, false)
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, u.Host)
	u.Host = p.addr
	cfg := apitest.Config(t)
	cfg.DatabaseURL = u.String()
	s := apitest.StartConfig(t, cfg)

	ready := func() int {
		resp := s.Get(t, "/readyz")
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	if got := ready(); got != 200 {
		t.Fatalf("up: /readyz = %d", got)
	}
	p.setDown(true)
	resp := s.Get(t, "/readyz")
	prob := decode[apperr.Problem](t, resp)
	if resp.StatusCode != 503 || prob.Code != apperr.Unavailable || strings.Contains(prob.Detail, "127.0.0.1") {
		t.Fatalf("down: /readyz = %d %+v", resp.StatusCode, prob)
	}
	if got := s.Get(t, "/healthz").StatusCode; got != 200 {
		t.Fatalf("down: /healthz = %d; the process is alive", got)
	}
	p.setDown(false)
	deadline := time.Now().Add(10 * time.Second)
	for ready() != 200 {
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not recover after the database returned")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestOversizedBodyIs413(t *testing.T) {
	s := apitest.Start(t, db.SQLite)
	s.App.Mux().HandleFunc("POST /test/echo", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	big := strings.Repeat("x", 2<<20)
	resp := s.Do(t, "POST", "/test/echo", strings.NewReader(big), nil)
	p := decode[apperr.Problem](t, resp)
	if resp.StatusCode != 413 || p.Code != apperr.TooLarge {
		t.Fatalf("declared oversize body: %d %+v", resp.StatusCode, p)
	}
	// Without a Content-Length (chunked), the limit bites while reading.
	resp = s.Do(t, "POST", "/test/echo", io.MultiReader(strings.NewReader(big)), nil)
	if resp.StatusCode != 413 {
		t.Fatalf("chunked oversize body: %d", resp.StatusCode)
	}
	if resp := s.Do(t, "POST", "/test/echo", strings.NewReader("small"), nil); resp.StatusCode != 204 {
		t.Fatalf("small body: %d", resp.StatusCode)
	}
}

func TestMetricsExposeRequestsPoolAndBacklog(t *testing.T) {
	s := apitest.Start(t, db.SQLite)
	s.Get(t, "/healthz")
	s.Get(t, "/nope")
	raw, _ := io.ReadAll(s.Get(t, "/metrics").Body)
	for _, want := range []string{
		`mainstay_http_requests_total{method="GET",route="GET /healthz",status="200"} 1`,
		`mainstay_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`mainstay_http_request_duration_seconds_bucket{method="GET",route="GET /healthz"`,
		`go_sql_open_connections{db_name="write"}`,
		`mainstay_unsequenced_rows{table="outbox_events"} 0`,
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// proxy forwards TCP to a database and can cut it off.
type proxy struct {
	addr  string
	mu    sync.Mutex
	down  bool
	conns []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String()}
	t.Cleanup(func() { ln.Close(); p.setDown(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}
