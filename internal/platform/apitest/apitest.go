// Package apitest starts the real server, wired as in production, on a free
// loopback port, so scenario tests talk to it over HTTP.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/mainstay-erp/mainstay/internal/app"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/config"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
)

// Server is a running app.
type Server struct {
	URL    string
	App    *app.App
	Client *http.Client
	stop   context.CancelFunc
	done   chan error
}

// Config returns the configuration tests start from: defaults, a fresh
// data directory, quiet logs.
func Config(t testing.TB) config.Config {
	t.Helper()
	// Rate limits are off: scenario tests send more than one client's
	// quota; the rate-limit tests set their own.
	cfg, _, err := config.Load("test", []string{"--data-dir", t.TempDir(), "--shutdown-timeout", "10s",
		"--rate-limit-read", "off", "--rate-limit-write", "off", "--rate-limit-heavy", "off",
		"--rate-limit-token", "off", "--rate-limit-token-address", "off"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// A fixed test key: several servers in one test (two nodes) share it.
	cfg.MasterKey = TestMasterKey
	return cfg
}

// TestMasterKey is the master key of test servers.
const TestMasterKey = "bWFpbnN0YXktdGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGU="

// Start runs a server on a fresh database of the engine.
func Start(t testing.TB, e db.Engine) *Server {
	t.Helper()
	cfg := Config(t)
	if e == db.Postgres {
		cfg.DatabaseURL = dbtest.PostgresURL(t, false)
	}
	return StartConfig(t, cfg)
}

// StartConfig runs a server with cfg; it is shut down when the test ends.
func StartConfig(t testing.TB, cfg config.Config) *Server {
	t.Helper()
	logOut := io.Discard
	if os.Getenv("MAINSTAY_TEST_LOG") != "" {
		logOut = os.Stderr
	}
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.New(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("start app: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	a.Start()
	ctx, cancel := context.WithCancel(context.Background())
	scheme := "http"
	if cfg.TLSCert != "" || cfg.TLSSelfSigned {
		scheme = "https"
	}
	s := &Server{
		URL:    scheme + "://" + ln.Addr().String(),
		App:    a,
		Client: &http.Client{Timeout: 30 * time.Second},
		stop:   cancel,
		done:   make(chan error, 1),
	}
	go func() { s.done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
	})
	return s
}

// Stop shuts the server down gracefully and returns what Serve returned.
// Calling it twice is harmless.
func (s *Server) Stop() error {
	if s.stop == nil {
		return nil
	}
	s.stop()
	s.stop = nil
	return <-s.done
}

// Get sends a GET to path.
func (s *Server) Get(t testing.TB, path string) *http.Response {
	t.Helper()
	return s.Do(t, http.MethodGet, path, nil, nil)
}

// Do sends a request with headers and returns the response; the body is
// closed when the test ends.
func (s *Server) Do(t testing.TB, method, path string, body io.Reader, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// Caller sends requests as one API client.
type Caller struct {
	s  *Server
	hc *http.Client
	// ID is the client's id.
	ID string
}

// As creates an API client with roles and companies (none: every company)
// and returns a caller that obtains its tokens with the standard OAuth 2.0
// client-credentials client, as an integrator would.
func (s *Server) As(t testing.TB, roles []string, companies ...string) *Caller {
	t.Helper()
	c, secret, err := auth.CreateClient(context.Background(), s.App.DB(), auth.NewClient{Name: "test", Roles: roles, Companies: companies})
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	cc := clientcredentials.Config{ClientID: c.ID, ClientSecret: secret, TokenURL: s.URL + "/oauth2/token"}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Timeout: 30 * time.Second})
	return &Caller{s: s, hc: cc.Client(ctx), ID: c.ID}
}

// Token returns a fresh access token of the caller, for raw requests.
func (c *Caller) Token(t testing.TB) string {
	t.Helper()
	tr, ok := c.hc.Transport.(*oauth2.Transport)
	if !ok {
		t.Fatal("caller has no OAuth transport")
	}
	tok, err := tr.Source.Token()
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

// On returns the same client talking to another server (after a restart).
func (c *Caller) On(s *Server) *Caller {
	return &Caller{s: s, hc: c.hc, ID: c.ID}
}

// Response is a finished response with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends a request. body may be nil, a string or []byte (sent as is), or
// anything else (sent as JSON). headers are name, value pairs; a JSON body
// gets Content-Type application/json unless one is given.
func (c *Caller) Do(t testing.TB, method, path string, body any, headers ...string) *Response {
	t.Helper()
	return do(t, c.hc, c.s.URL, method, path, body, headers...)
}

// Anonymous sends a request without credentials.
func (s *Server) Anonymous(t testing.TB, method, path string, body any, headers ...string) *Response {
	t.Helper()
	return do(t, s.Client, s.URL, method, path, body, headers...)
}

func do(t testing.TB, hc *http.Client, base, method, path string, body any, headers ...string) *Response {
	t.Helper()
	var r io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(raw)
		contentType = "application/json"
	}
	req, err := http.NewRequest(method, base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// JSON decodes the body as an object.
func (r *Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// Problem decodes the body as a problem document, checking its shape.
func (r *Response) Problem(t testing.TB) apperr.Problem {
	t.Helper()
	var p apperr.Problem
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("response is not a problem: %v: %s", err, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("problem Content-Type %q", ct)
	}
	if p.Status != r.Status {
		t.Fatalf("problem status %d in a %d response", p.Status, r.Status)
	}
	return p
}

// Expect fails the test unless the status is want, showing the body.
func (r *Response) Expect(t testing.TB, want int) *Response {
	t.Helper()
	if r.Status != want {
		body := string(r.Body)
		if len(body) > 600 {
			body = body[:600] + "…"
		}
		t.Fatalf("status %d, want %d: %s", r.Status, want, body)
	}
	return r
}

// ExpectProblem checks status and problem code, and returns the problem.
func (r *Response) ExpectProblem(t testing.TB, status int, code apperr.Code) apperr.Problem {
	t.Helper()
	r.Expect(t, status)
	p := r.Problem(t)
	if p.Code != code {
		t.Fatalf("problem code %q, want %q: %s", p.Code, code, r.Body)
	}
	return p
}

// HasPointer reports whether a problem names the pointer.
func HasPointer(p apperr.Problem, pointer string) bool {
	for _, e := range p.Errors {
		if e.Pointer == pointer {
			return true
		}
	}
	return false
}
