package ratelimit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mainstay-erp/mainstay/internal/platform/clock"
	"github.com/mainstay-erp/mainstay/internal/platform/httpx"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
)

// redisURL returns the test Redis: MAINSTAY_TEST_REDIS_URL, else
// redis://127.0.0.1:6379/15 when it answers. Without one the test skips,
// except under CI=true, where a missing Redis is a failure.
func redisURL(tb testing.TB) string {
	tb.Helper()
	u, err := probeRedis()
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("CI=true but no Redis answers at %s: %v", u, err)
		}
		tb.Skipf("no Redis answers at %s (%v); set MAINSTAY_TEST_REDIS_URL to run the Redis tests", u, err)
	}
	return u
}

// probeRedis pings the test Redis once per run.
var probeRedis = sync.OnceValues(func() (string, error) {
	u := os.Getenv("MAINSTAY_TEST_REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/15"
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		return u, err
	}
	opt.DialerRetries = 1
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return u, c.Ping(ctx).Err()
})

var prefixSeq atomic.Int64

// testPrefix is a key prefix no other test (or run) shares.
func testPrefix(tb testing.TB) string {
	return fmt.Sprintf("mainstay-test:%s:%d:%d:", tb.Name(), time.Now().UnixNano(), prefixSeq.Add(1))
}

// newTestRedis returns a Redis limiter under prefix and deletes the
// prefix's keys when the test ends.
func newTestRedis(tb testing.TB, url, prefix string, opts ...RedisOption) *Redis {
	tb.Helper()
	r, err := NewRedis(url, append([]RedisOption{WithPrefix(prefix), WithLogger(discard)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := r.rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			r.rdb.Del(ctx, keys...)
		}
		_ = r.Close()
	})
	return r
}

var discard = slog.New(slog.DiscardHandler)

// fixture is a limiter under test and a way to let time pass for it.
type fixture struct {
	name    string
	limiter func(t *testing.T) Limiter
	// advance lets d pass: a manual clock for Memory, real sleep for Redis
	// (whose clock is the server's).
	advance func(d time.Duration)
}

func fixtures(t *testing.T) []fixture {
	t.Helper()
	clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return []fixture{
		{
			name:    "memory",
			limiter: func(*testing.T) Limiter { return NewMemory(WithClock(clk)) },
			advance: clk.Advance,
		},
		{
			name: "redis",
			limiter: func(t *testing.T) Limiter {
				return newTestRedis(t, redisURL(t), testPrefix(t))
			},
			advance: func(d time.Duration) { time.Sleep(d + 50*time.Millisecond) },
		},
	}
}

// forEach runs body once per limiter, in parallel subtests.
func forEach(t *testing.T, body func(t *testing.T, f fixture, l Limiter)) {
	for _, f := range fixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			body(t, f, f.limiter(t))
		})
	}
}

// testClient is the header a test names its client by; actorFromHeader
// stands in for auth, which sets reqctx.Actor in the real chain.
const testClient = "X-Test-Client"

func actorFromHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if c := r.Header.Get(testClient); c != "" {
			ctx = reqctx.WithActor(ctx, c)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`)
})

// apiServer serves okHandler behind the middleware, as the app chains it.
func apiServer(t *testing.T, l Limiter, quota QuotaFunc, log *slog.Logger) *httptest.Server {
	t.Helper()
	if log == nil {
		log = discard
	}
	h := httpx.Chain(okHandler, httpx.RequestID, actorFromHeader,
		Middleware(l, Classify("POST /v1/batch", "/v1/reports/"), quota, log))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// fixedQuotas returns a QuotaFunc with the same quotas for every client.
func fixedQuotas(m map[string]Quota) QuotaFunc {
	return Policy{Defaults: m}.Quota
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, srv *httptest.Server, method, path, client string) response {
	t.Helper()
	return doReq(t, srv, method, path, client, nil, nil)
}

func doReq(t *testing.T, srv *httptest.Server, method, path, client string, body io.Reader, hdr http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if client != "" {
		req.Header.Set(testClient, client)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// sfItem is one member of a Structured Field List whose members are
// Strings with Integer parameters, the shape both RateLimit fields have.
type sfItem struct {
	name   string
	params map[string]int64
}

// parseSFList parses s strictly per RFC 9651 §4.2.1 for that shape, so a
// malformed field (unquoted name, float, missing "=", trailing comma)
// fails the test instead of being read leniently.
func parseSFList(s string) ([]sfItem, error) {
	p := sfParser{s: s}
	var out []sfItem
	p.skip(' ')
	for {
		it, err := p.item()
		if err != nil {
			return nil, err
		}
		out = append(out, it)
		p.skip(' ', '\t')
		if p.eof() {
			return out, nil
		}
		if !p.consume(',') {
			return nil, fmt.Errorf("at %d: want ',' between members", p.i)
		}
		p.skip(' ', '\t')
		if p.eof() {
			return nil, fmt.Errorf("trailing comma")
		}
	}
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) eof() bool { return p.i >= len(p.s) }

func (p *sfParser) consume(c byte) bool {
	if !p.eof() && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *sfParser) skip(cs ...byte) {
	for !p.eof() && bytes.IndexByte(cs, p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *sfParser) item() (sfItem, error) {
	it := sfItem{params: map[string]int64{}}
	if !p.consume('"') {
		return it, fmt.Errorf("at %d: want a String member", p.i)
	}
	var name strings.Builder
	for {
		if p.eof() {
			return it, fmt.Errorf("unterminated string")
		}
		c := p.s[p.i]
		p.i++
		if c == '"' {
			break
		}
		if c == '\\' {
			if p.eof() || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
				return it, fmt.Errorf("bad escape")
			}
			c = p.s[p.i]
			p.i++
		} else if c < 0x20 || c > 0x7e {
			return it, fmt.Errorf("byte %#x in string", c)
		}
		name.WriteByte(c)
	}
	it.name = name.String()
	for p.consume(';') {
		p.skip(' ')
		start := p.i
		for !p.eof() {
			c := p.s[p.i]
			if (c >= 'a' && c <= 'z') || (p.i > start && (c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*')) {
				p.i++
				continue
			}
			break
		}
		key := p.s[start:p.i]
		if key == "" {
			return it, fmt.Errorf("at %d: want a parameter key", p.i)
		}
		if !p.consume('=') {
			return it, fmt.Errorf("parameter %q: want =Integer", key)
		}
		start = p.i
		p.consume('-')
		for !p.eof() && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		digits := strings.TrimPrefix(p.s[start:p.i], "-")
		if digits == "" || len(digits) > 15 || (!p.eof() && p.s[p.i] == '.') {
			return it, fmt.Errorf("parameter %q: want an Integer", key)
		}
		n, _ := strconv.ParseInt(p.s[start:p.i], 10, 64)
		if _, dup := it.params[key]; dup {
			return it, fmt.Errorf("parameter %q twice", key)
		}
		it.params[key] = n
	}
	return it, nil
}

// limits is what a response's two fields say, by policy name.
type limits struct {
	policy map[string]map[string]int64 // q, w
	state  map[string]map[string]int64 // r, t
}

// readLimits parses both fields of h and checks each has the draft's
// required parameters; a missing or malformed field fails the test.
func readLimits(t *testing.T, h http.Header) limits {
	t.Helper()
	out := limits{policy: map[string]map[string]int64{}, state: map[string]map[string]int64{}}
	for field, dst := range map[string]map[string]map[string]int64{HeaderPolicy: out.policy, HeaderRateLimit: out.state} {
		vals := h.Values(field)
		if len(vals) == 0 {
			t.Fatalf("no %s field", field)
		}
		items, err := parseSFList(strings.Join(vals, ", "))
		if err != nil {
			t.Fatalf("%s: %q: %v", field, vals, err)
		}
		for _, it := range items {
			dst[it.name] = it.params
		}
	}
	for name, p := range out.policy {
		if _, ok := p["q"]; !ok {
			t.Errorf("policy %q has no q", name)
		}
		if w, ok := p["w"]; ok && w <= 0 {
			t.Errorf("policy %q has w=%d; it must be positive", name, w)
		}
	}
	for name, s := range out.state {
		if _, ok := out.policy[name]; !ok {
			t.Errorf("RateLimit names %q, which RateLimit-Policy does not", name)
		}
		if r, ok := s["r"]; !ok || r < 0 {
			t.Errorf("RateLimit %q: r missing or negative: %v", name, s)
		}
		if tt, ok := s["t"]; ok && tt < 0 {
			t.Errorf("RateLimit %q: negative t", name)
		}
	}
	return out
}

// problemOf decodes a problem body.
func problemOf(t *testing.T, r response) map[string]any {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json; body %s", ct, r.body)
	}
	var p map[string]any
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body: %v: %s", err, r.body)
	}
	return p
}

// retryAfter parses Retry-After as whole seconds ≥ 1.
func retryAfter(t *testing.T, h http.Header) int {
	t.Helper()
	v := h.Get(HeaderRetryAfter)
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("Retry-After %q, want whole seconds ≥ 1", v)
	}
	return n
}

// closedPort returns an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
