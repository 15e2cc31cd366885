package ratelimit

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/clock"
)

func TestHeadersOnAllowedResponses(t *testing.T) {
	forEach(t, func(t *testing.T, f fixture, l Limiter) {
		srv := apiServer(t, l, fixedQuotas(map[string]Quota{
			ClassRead:  {Limit: 10, Window: time.Minute},
			ClassWrite: {Limit: 4, Window: time.Minute},
		}), nil)
		for i := range 3 {
			r := do(t, srv, http.MethodGet, "/v1/products", "c1")
			if r.status != http.StatusOK {
				t.Fatalf("GET %d: status %d: %s", i, r.status, r.body)
			}
			got := readLimits(t, r.header)
			if p := got.policy["read"]; p["q"] != 10 || p["w"] != 60 || len(got.policy) != 1 {
				t.Errorf("GET %d: RateLimit-Policy %q", i, r.header.Get(HeaderPolicy))
			}
			// 10 per minute refills one every 6 s: r counts down, t is
			// the wait for the next one.
			if s := got.state["read"]; s["r"] != int64(9-i) || s["t"] < 1 || s["t"] > 6 {
				t.Errorf("GET %d: RateLimit %q, want r=%d and 1 ≤ t ≤ 6", i, r.header.Get(HeaderRateLimit), 9-i)
			}
		}
		// The exact wire form, not only what a parser accepts.
		r := do(t, srv, http.MethodPost, "/v1/products", "c1")
		if got := r.header.Get(HeaderPolicy); got != `"write";q=4;w=60` {
			t.Errorf("RateLimit-Policy = %q", got)
		}
		if got := r.header.Get(HeaderRateLimit); got != `"write";r=3;t=15` {
			t.Errorf("RateLimit = %q", got)
		}
		if r.header.Get(HeaderRetryAfter) != "" {
			t.Errorf("Retry-After on an allowed response")
		}
	})
}

func TestOverQuotaIs429Problem(t *testing.T) {
	forEach(t, func(t *testing.T, f fixture, l Limiter) {
		srv := apiServer(t, l, fixedQuotas(map[string]Quota{
			ClassRead: {Limit: 100, Window: time.Minute}, ClassWrite: {Limit: 3, Window: time.Minute},
		}), nil)
		for i := range 3 {
			if r := do(t, srv, http.MethodPost, "/v1/orders", "c1"); r.status != http.StatusOK {
				t.Fatalf("write %d of 3: status %d: %s", i+1, r.status, r.body)
			}
		}
		r := do(t, srv, http.MethodPost, "/v1/orders", "c1")
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("write 4 of 3: status %d, want 429", r.status)
		}
		// 3 per minute: the next one comes back 20 s after the first.
		if ra := retryAfter(t, r.header); ra > 20 {
			t.Errorf("Retry-After %d, want ≤ 20", ra)
		}
		got := readLimits(t, r.header)
		if s := got.state["write"]; s["r"] != 0 || s["t"] < 1 {
			t.Errorf("429 RateLimit %q, want r=0 and t ≥ 1", r.header.Get(HeaderRateLimit))
		}
		if ra := retryAfter(t, r.header); int64(ra) < got.state["write"]["t"] {
			t.Errorf("Retry-After %d is earlier than t=%d (draft §6)", ra, got.state["write"]["t"])
		}
		p := problemOf(t, r)
		if p["code"] != "rate_limited" || p["status"] != float64(429) || p["type"] == "" || p["title"] == "" {
			t.Errorf("problem %v", p)
		}
		if d, _ := p["detail"].(string); !strings.Contains(d, "write") || !strings.Contains(d, "3 per 60 s") {
			t.Errorf("detail %q should name the class and quota", d)
		}
		// Refused requests stay refused; they do not push the wait out
		// indefinitely (GCRA does not charge refusals).
		r2 := do(t, srv, http.MethodPost, "/v1/orders", "c1")
		if r2.status != http.StatusTooManyRequests || retryAfter(t, r2.header) > retryAfter(t, r.header) {
			t.Errorf("second refusal: status %d, Retry-After %s", r2.status, r2.header.Get(HeaderRetryAfter))
		}
	})
}

func TestQuotasArePerClientAndPerClass(t *testing.T) {
	forEach(t, func(t *testing.T, f fixture, l Limiter) {
		srv := apiServer(t, l, fixedQuotas(map[string]Quota{
			ClassRead: {Limit: 2, Window: time.Minute}, ClassWrite: {Limit: 2, Window: time.Minute},
			ClassHeavy: {Limit: 1, Window: time.Minute},
		}), nil)
		for range 2 {
			do(t, srv, http.MethodPatch, "/v1/orders/1", "alice")
		}
		if r := do(t, srv, http.MethodDelete, "/v1/orders/1", "alice"); r.status != http.StatusTooManyRequests {
			t.Fatalf("alice's third write: status %d, want 429", r.status)
		}
		if r := do(t, srv, http.MethodPost, "/v1/orders", "bob"); r.status != http.StatusOK {
			t.Errorf("bob's first write after alice ran out: status %d", r.status)
		}
		r := do(t, srv, http.MethodGet, "/v1/orders", "alice")
		if r.status != http.StatusOK {
			t.Errorf("alice's read after her writes ran out: status %d", r.status)
		}
		if s := readLimits(t, r.header).state["read"]; s["r"] != 1 {
			t.Errorf("alice's read budget %v, want r=1", s)
		}
		// Heavy routes have their own bucket, untouched by exhausted writes.
		if r := do(t, srv, http.MethodPost, "/v1/batch", "alice"); r.status != http.StatusOK || readLimits(t, r.header).state["heavy"] == nil {
			t.Errorf("alice's first batch: status %d, RateLimit %q", r.status, r.header.Get(HeaderRateLimit))
		}
		if r := do(t, srv, http.MethodGet, "/v1/reports/trial-balance", "alice"); r.status != http.StatusTooManyRequests {
			t.Errorf("alice's second heavy request: status %d, want 429", r.status)
		}
	})
}

func TestWindowRefills(t *testing.T) {
	forEach(t, func(t *testing.T, f fixture, l Limiter) {
		srv := apiServer(t, l, fixedQuotas(map[string]Quota{ClassRead: {Limit: 3, Window: time.Second}}), nil)
		burst := func(round string) {
			for i := range 3 {
				if r := do(t, srv, http.MethodGet, "/v1/x", "c1"); r.status != http.StatusOK {
					t.Fatalf("%s: request %d of 3: status %d", round, i+1, r.status)
				}
			}
			r := do(t, srv, http.MethodGet, "/v1/x", "c1")
			if r.status != http.StatusTooManyRequests {
				t.Fatalf("%s: request 4 of 3: status %d, want 429", round, r.status)
			}
			if ra := retryAfter(t, r.header); ra != 1 {
				t.Errorf("%s: Retry-After %d, want 1", round, ra)
			}
		}
		burst("first window")
		f.advance(time.Second)
		burst("after a window")
		// A third of a window brings back one request, not three.
		f.advance(time.Second / 3)
		if r := do(t, srv, http.MethodGet, "/v1/x", "c1"); r.status != http.StatusOK {
			t.Errorf("after a third of a window: status %d", r.status)
		}
		if r := do(t, srv, http.MethodGet, "/v1/x", "c1"); r.status != http.StatusTooManyRequests {
			t.Errorf("second request after a third of a window: status %d, want 429", r.status)
		}
	})
}

func TestPerClientOverrides(t *testing.T) {
	forEach(t, func(t *testing.T, f fixture, l Limiter) {
		p := DefaultPolicy()
		p.Defaults[ClassWrite] = Quota{Limit: 1, Window: time.Minute}
		p.Override = StaticOverrides(map[string]map[string]Quota{
			"bulk":   {ClassWrite: {Limit: 4, Window: time.Minute}},
			"broken": {ClassWrite: {}}, // an empty override must not lift the limit
		})
		srv := apiServer(t, l, p.Quota, nil)
		for i := range 4 {
			r := do(t, srv, http.MethodPost, "/v1/imports", "bulk")
			if r.status != http.StatusOK {
				t.Fatalf("bulk write %d of 4: status %d", i+1, r.status)
			}
			if got := r.header.Get(HeaderPolicy); got != `"write";q=4;w=60` {
				t.Errorf("bulk policy %q", got)
			}
		}
		if r := do(t, srv, http.MethodPost, "/v1/imports", "bulk"); r.status != http.StatusTooManyRequests {
			t.Errorf("bulk write 5 of 4: status %d", r.status)
		}
		do(t, srv, http.MethodPost, "/v1/imports", "broken")
		if r := do(t, srv, http.MethodPost, "/v1/imports", "broken"); r.status != http.StatusTooManyRequests {
			t.Errorf("a client with an empty override got a second write: status %d", r.status)
		}
	})
}

func TestStatusDoesNotSpend(t *testing.T) {
	forEach(t, func(t *testing.T, f fixture, l Limiter) {
		quota := fixedQuotas(map[string]Quota{
			ClassRead: {Limit: 10, Window: time.Minute}, ClassWrite: {Limit: 5, Window: time.Minute},
			ClassHeavy: {Limit: 2, Window: time.Minute, Burst: 1}, ClassToken: DefaultToken,
		})
		srv := apiServer(t, l, quota, nil)
		do(t, srv, http.MethodPost, "/v1/a", "c1")
		do(t, srv, http.MethodPost, "/v1/a", "c1")
		want := []ClassStatus{
			{Class: "read", Limit: 10, WindowSeconds: 60, Burst: 10, Remaining: 10},
			{Class: "write", Limit: 5, WindowSeconds: 60, Burst: 5, Remaining: 3, ResetSeconds: 12},
			{Class: "heavy", Limit: 2, WindowSeconds: 60, Burst: 1, Remaining: 1},
			{Class: "token", Limit: 30, WindowSeconds: 60, Burst: 30, Remaining: 30},
		}
		for range 3 { // peeking repeatedly changes nothing
			got, err := Status(context.Background(), l, quota, "c1")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("Status = %+v", got)
			}
			for i := range want {
				g := got[i]
				// Redis's clock moved a little since the writes.
				if f.name == "redis" && g.Class == "write" && g.ResetSeconds >= 11 {
					g.ResetSeconds = 12
				}
				if g != want[i] {
					t.Errorf("Status[%d] = %+v, want %+v", i, got[i], want[i])
				}
			}
		}
		// The writes' bucket is where Status said: 3 more, then 429.
		for range 3 {
			do(t, srv, http.MethodPost, "/v1/a", "c1")
		}
		if r := do(t, srv, http.MethodPost, "/v1/a", "c1"); r.status != http.StatusTooManyRequests {
			t.Errorf("after spending the reported budget: status %d", r.status)
		}
		got, err := Status(context.Background(), l, quota, "c1")
		if err != nil {
			t.Fatal(err)
		}
		if got[1].Remaining != 0 || got[1].ResetSeconds < 1 {
			t.Errorf("exhausted write status %+v", got[1])
		}
	})
}

// TestQuotaSharedAcrossNodes runs two nodes, each with its own Redis
// client (as two processes would have), and races 20 requests through a
// barrier: the quota of 5 holds in total, not per node.
func TestQuotaSharedAcrossNodes(t *testing.T) {
	t.Parallel()
	u, prefix := redisURL(t), testPrefix(t)
	quota := fixedQuotas(map[string]Quota{ClassWrite: {Limit: 5, Window: time.Minute}})
	nodes := []*httptest.Server{
		apiServer(t, newTestRedis(t, u, prefix), quota, nil),
		apiServer(t, newTestRedis(t, u, prefix), quota, nil),
	}
	const n = 20
	start := make(chan struct{})
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			srv := nodes[i%2]
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/orders", nil)
			req.Header.Set(testClient, "shared")
			<-start
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	close(start)
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[http.StatusOK] != 5 || count[http.StatusTooManyRequests] != n-5 {
		t.Errorf("statuses %v, want 5 × 200 and %d × 429 across both nodes", count, n-5)
	}
}

// tokenServer serves a stand-in token handler that parses the form as the
// real one does and echoes the client_id it read, so a test sees that the
// middleware left the body intact.
func tokenServer(t *testing.T, l Limiter, perClient, perAddress Quota) *httptest.Server {
	t.Helper()
	h := TokenMiddleware(l, perClient, perAddress, discard)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id := r.PostForm.Get("client_id")
		if u, _, ok := r.BasicAuth(); ok {
			id, _ = url.QueryUnescape(u)
		}
		_, _ = io.WriteString(w, id+"|"+r.PostForm.Get("grant_type"))
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func tokenRequest(t *testing.T, srv *httptest.Server, clientID string, basic bool) response {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	hdr := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if basic {
		hdr.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(clientID)+":secret")))
	} else {
		form.Set("client_id", clientID)
		form.Set("client_secret", "secret")
	}
	return doReq(t, srv, http.MethodPost, "/oauth2/token", "", strings.NewReader(form.Encode()), hdr)
}

func TestTokenEndpointPerClientID(t *testing.T) {
	forEach(t, func(t *testing.T, f fixture, l Limiter) {
		srv := tokenServer(t, l, Quota{Limit: 3, Window: time.Minute}, Quota{Limit: 100, Window: time.Minute})
		// Basic and form credentials for one client id share a bucket.
		for i, basic := range []bool{false, true, false} {
			r := tokenRequest(t, srv, "acme app", basic)
			if r.status != http.StatusOK || string(r.body) != "acme app|client_credentials" {
				t.Fatalf("request %d: status %d, body %q (the handler must see the whole form)", i+1, r.status, r.body)
			}
			got := readLimits(t, r.header)
			if got.policy["token"]["q"] != 3 || got.policy["token-address"]["q"] != 100 {
				t.Errorf("request %d: RateLimit-Policy %q", i+1, r.header.Get(HeaderPolicy))
			}
			if got.state["token"]["r"] != int64(2-i) {
				t.Errorf("request %d: RateLimit %q", i+1, r.header.Get(HeaderRateLimit))
			}
		}
		r := tokenRequest(t, srv, "acme app", true)
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("4th token request for one client id: status %d, want 429", r.status)
		}
		retryAfter(t, r.header)
		if p := problemOf(t, r); p["code"] != "rate_limited" {
			t.Errorf("problem %v", p)
		}
		if r := tokenRequest(t, srv, "other", false); r.status != http.StatusOK {
			t.Errorf("another client id: status %d", r.status)
		}
		// private_key_jwt naming the client only in its assertion's sub
		// spends the same bucket as the other two methods.
		payload := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"other","sub":"other","aud":"x"}`))
		form := url.Values{
			"grant_type":            {"client_credentials"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {"eyJhbGciOiJFZERTQSJ9." + payload + ".c2ln"},
		}
		r = doReq(t, srv, http.MethodPost, "/oauth2/token", "", strings.NewReader(form.Encode()),
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
		if got := readLimits(t, r.header); r.status != http.StatusOK || got.state["token"]["r"] != 1 {
			t.Errorf("private_key_jwt for %q: status %d, RateLimit %q, want r=1", "other", r.status, r.header.Get(HeaderRateLimit))
		}
		// No client id at all: only the address counts.
		r = doReq(t, srv, http.MethodPost, "/oauth2/token", "", strings.NewReader("grant_type=client_credentials"),
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
		if got := readLimits(t, r.header); r.status != http.StatusOK || got.state["token"] != nil || got.state["token-address"] == nil {
			t.Errorf("no client id: status %d, RateLimit %q", r.status, r.header.Get(HeaderRateLimit))
		}
	})
}

func TestTokenEndpointPerAddress(t *testing.T) {
	forEach(t, func(t *testing.T, f fixture, l Limiter) {
		srv := tokenServer(t, l, Quota{Limit: 100, Window: time.Minute}, Quota{Limit: 3, Window: time.Minute})
		for i := range 3 {
			if r := tokenRequest(t, srv, fmt.Sprintf("guess-%d", i), false); r.status != http.StatusOK {
				t.Fatalf("request %d from one address: status %d", i+1, r.status)
			}
		}
		// A fresh client id does not help, nor does claiming another
		// address in X-Forwarded-For.
		r := doReq(t, srv, http.MethodPost, "/oauth2/token", "",
			strings.NewReader("grant_type=client_credentials&client_id=guess-9&client_secret=x"),
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "X-Forwarded-For": {"203.0.113.9"}})
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("4th request from one address: status %d, want 429", r.status)
		}
		if got := readLimits(t, r.header); got.state["token-address"]["r"] != 0 {
			t.Errorf("RateLimit %q", r.header.Get(HeaderRateLimit))
		}
		retryAfter(t, r.header)
	})
}

func TestTokenBodyOverBufferIsHandedOnWhole(t *testing.T) {
	t.Parallel()
	var got int
	h := TokenMiddleware(NewMemory(), DefaultToken, DefaultTokenAddress, discard)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = len(b)
	}))
	body := "client_id=x&pad=" + strings.Repeat("a", 40<<10)
	req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got != len(body) {
		t.Errorf("handler read %d bytes, want %d", got, len(body))
	}
	if strings.Contains(rec.Header().Get(HeaderRateLimit), `"token"`) {
		t.Errorf("an oversized form should not be parsed for a client id: %q", rec.Header().Get(HeaderRateLimit))
	}
}

func TestRedisDownFailsOpenWithWarning(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	l, err := NewRedis("redis://"+closedPort(t)+"/0", WithLogger(log), WithBackoff(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	srv := apiServer(t, l, fixedQuotas(map[string]Quota{ClassWrite: {Limit: 1, Window: time.Minute}}), nil)
	for i := range 3 { // over the quota of 1: nothing counts while Redis is down
		r := do(t, srv, http.MethodPost, "/v1/orders", "c1")
		if r.status != http.StatusOK {
			t.Fatalf("request %d with Redis down: status %d, want 200 (fail open): %s", i+1, r.status, r.body)
		}
		readLimits(t, r.header)
	}
	out := logs.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "redis failed") || !strings.Contains(out, "connection refused") {
		t.Errorf("want a warning naming the failure, got log:\n%s", out)
	}
	if n := strings.Count(out, "redis failed"); n != 1 {
		t.Errorf("warned %d times for one outage, want once", n)
	}
	// The budget cannot be read, and Status says so rather than inventing one.
	if _, err := Status(context.Background(), l, DefaultPolicy().Quota, "c1"); err == nil {
		t.Error("Status with Redis down: want an error")
	}
}

func TestRedisDownFailClosedIs503(t *testing.T) {
	t.Parallel()
	l, err := NewRedis("redis://"+closedPort(t)+"/0", WithFailOpen(false), WithLogger(discard))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	srv := apiServer(t, l, DefaultPolicy().Quota, nil)
	r := do(t, srv, http.MethodGet, "/v1/orders", "c1")
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("fail closed with Redis down: status %d, want 503", r.status)
	}
	if retryAfter(t, r.header) != 1 {
		t.Errorf("Retry-After %q", r.header.Get(HeaderRetryAfter))
	}
	if p := problemOf(t, r); p["code"] != "unavailable" || strings.Contains(string(r.body), "refused") {
		t.Errorf("problem %s (must not leak the cause)", r.body)
	}
	// The breaker answers the next request without waiting on Redis.
	start := time.Now()
	if _, err := l.Allow(context.Background(), "k", DefaultRead); !errors.Is(err, errBackoff) {
		t.Errorf("Allow during backoff: %v, want errBackoff", err)
	}
	if d := time.Since(start); d > 10*time.Millisecond {
		t.Errorf("Allow during backoff took %s", d)
	}
}

func TestRedisRecoversAfterBackoff(t *testing.T) {
	t.Parallel()
	u := redisURL(t)
	var logs logBuffer
	l := newTestRedis(t, u, testPrefix(t), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), WithBackoff(50*time.Millisecond))
	q := Quota{Limit: 1, Window: time.Minute}
	// Simulate an outage by marking Redis down, as a failure would.
	l.down.Store(true)
	l.downUntil.Store(time.Now().Add(50 * time.Millisecond).UnixNano())
	if res, err := l.Allow(context.Background(), "k", q); err != nil || !res.Allowed {
		t.Fatalf("during backoff: %+v, %v", res, err)
	}
	time.Sleep(60 * time.Millisecond)
	if res, err := l.Allow(context.Background(), "k", q); err != nil || !res.Allowed {
		t.Fatalf("after backoff: %+v, %v", res, err)
	}
	if res, _ := l.Allow(context.Background(), "k", q); res.Allowed {
		t.Error("after recovery the quota should apply again")
	}
	if !strings.Contains(logs.String(), "answers again") {
		t.Errorf("want a recovery line, got %s", logs.String())
	}
}

func TestMemoryEvictsIdleKeys(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := NewMemory(WithClock(clk))
	q := Quota{Limit: 10, Window: time.Second}
	for i := range 5000 {
		_, _ = m.Allow(context.Background(), fmt.Sprint("k", i), q)
	}
	if n := m.len(); n != 5000 {
		t.Fatalf("%d keys held, want 5000", n)
	}
	clk.Advance(2 * sweepEvery)
	// 2000 keys touch all 32 shards (the chance one is missed is below
	// 1e-25), and each shard's sweep drops its idle keys.
	for i := range 2000 {
		_, _ = m.Allow(context.Background(), fmt.Sprint("new", i), q)
	}
	if n := m.len(); n != 2000 {
		t.Errorf("%d keys held after the old ones went idle, want the 2000 new ones", n)
	}

	// A flood of distinct keys inside one window stays under the bound.
	b := NewMemory(WithClock(clk), WithMaxKeys(32*64))
	for i := range 20000 {
		_, _ = b.Allow(context.Background(), fmt.Sprint("flood", i), Quota{Limit: 1, Window: time.Hour})
	}
	if n := b.len(); n > 32*64 {
		t.Errorf("%d keys held, bound %d", n, 32*64)
	}
}

func TestGCRABurst(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := NewMemory(WithClock(clk))
	q := Quota{Limit: 60, Window: time.Minute, Burst: 2} // 1/s, at most 2 at once
	allowed := 0
	for range 10 {
		if res, _ := m.Allow(context.Background(), "k", q); res.Allowed {
			allowed++
		}
	}
	if allowed != 2 {
		t.Errorf("burst 2 allowed %d at once", allowed)
	}
	res, _ := m.Allow(context.Background(), "k", q)
	if res.RetryAfter != time.Second || res.Reset != time.Second {
		t.Errorf("refused: %+v, want RetryAfter = Reset = 1s", res)
	}
	clk.Advance(1500 * time.Millisecond)
	res, _ = m.Peek(context.Background(), "k", q)
	if !res.Allowed || res.Remaining != 1 || res.Reset != 500*time.Millisecond {
		t.Errorf("peek after 1.5 s: %+v, want 1 remaining, next in 500ms", res)
	}
	clk.Advance(time.Hour)
	res, _ = m.Peek(context.Background(), "k", q)
	if res.Remaining != 2 || res.Reset != 0 {
		t.Errorf("peek of a full bucket: %+v", res)
	}
	if _, err := m.Allow(context.Background(), "k", Quota{}); !errors.Is(err, ErrInvalidQuota) {
		t.Errorf("invalid quota: %v", err)
	}
}

func TestNoQuotaMeansNoLimitAndNoHeaders(t *testing.T) {
	t.Parallel()
	srv := apiServer(t, NewMemory(), fixedQuotas(map[string]Quota{ClassWrite: {Limit: 1, Window: time.Minute}}), nil)
	for range 3 {
		r := do(t, srv, http.MethodGet, "/v1/x", "c1")
		if r.status != http.StatusOK || r.header.Get(HeaderRateLimit) != "" {
			t.Fatalf("unlimited class: status %d, RateLimit %q", r.status, r.header.Get(HeaderRateLimit))
		}
	}
}

func TestUnauthenticatedRequestsAreKeyedByAddress(t *testing.T) {
	t.Parallel()
	srv := apiServer(t, NewMemory(), fixedQuotas(map[string]Quota{ClassRead: {Limit: 1, Window: time.Minute}}), nil)
	do(t, srv, http.MethodGet, "/v1/x", "")
	if r := do(t, srv, http.MethodGet, "/v1/x", ""); r.status != http.StatusTooManyRequests {
		t.Errorf("second anonymous request from one address: status %d", r.status)
	}
	if r := do(t, srv, http.MethodGet, "/v1/x", "c1"); r.status != http.StatusOK {
		t.Errorf("an authenticated client is not the address's bucket: status %d", r.status)
	}
}

func TestSourceAddress(t *testing.T) {
	t.Parallel()
	for remote, want := range map[string]string{
		"192.0.2.7:5555":                  "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443":      "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443":      "2001:db8:1:2::/64",
		"[::ffff:192.0.2.7]:80":           "192.0.2.7",
		"[fe80::1%eth0]:80":               "fe80::/64",
		"@":                               "@",
		strings.Repeat("x", 300) + ":123": keyPart(strings.Repeat("x", 300)),
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", "203.0.113.1")
		if got := SourceAddress(r); got != want {
			t.Errorf("SourceAddress(%q) = %q, want %q", remote, got, want)
		}
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	c := Classify("POST /v1/batch", "/v1/reports/", "GET /v1/exports/")
	for req, want := range map[string]string{
		"GET /v1/products":          ClassRead,
		"HEAD /v1/products":         ClassRead,
		"POST /v1/products":         ClassWrite,
		"PATCH /v1/products/1":      ClassWrite,
		"POST /v1/batch":            ClassHeavy,
		"GET /v1/batch":             ClassRead,
		"POST /v1/batchx":           ClassWrite,
		"GET /v1/reports/pnl":       ClassHeavy,
		"POST /v1/reports/pnl/run":  ClassHeavy,
		"GET /v1/reports":           ClassRead,
		"GET /v1/exports/customers": ClassHeavy,
		"DELETE /v1/exports/1":      ClassWrite,
	} {
		method, path, _ := strings.Cut(req, " ")
		if got := c(httptest.NewRequest(method, path, nil)); got != want {
			t.Errorf("%s: %s, want %s", req, got, want)
		}
	}
}

func TestParseQuota(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Quota{
		"600/1m":    {Limit: 600, Window: time.Minute},
		"120/1m:30": {Limit: 120, Window: time.Minute, Burst: 30},
		"5/1h":      {Limit: 5, Window: time.Hour},
		"off":       {},
	} {
		got, err := ParseQuota(in)
		if err != nil || got != want {
			t.Errorf("ParseQuota(%q) = %+v, %v", in, got, err)
		}
		if back, _ := ParseQuota(got.String()); back != got {
			t.Errorf("String round trip of %q: %q", in, got.String())
		}
	}
	for _, bad := range []string{"", "600", "0/1m", "-1/1m", "10/0s", "10/1500ms", "10/1m:0", "10/1m:x", "x/1m"} {
		if _, err := ParseQuota(bad); err == nil {
			t.Errorf("ParseQuota(%q): want an error", bad)
		}
	}
}

func TestStructuredFieldParserIsStrict(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		`read;q=1`, `"read";q=1.5`, `"read";q`, `"read";Q=1`, `"read";q=1,`, `"read" "write"`, `"re"ad";q=1`,
	} {
		if _, err := parseSFList(bad); err == nil {
			t.Errorf("parser accepted %q", bad)
		}
	}
	items, err := parseSFList(`"token-address";q=60;w=60, "token";q=30;w=60`)
	if err != nil || len(items) != 2 || items[1].name != "token" || items[1].params["q"] != 30 {
		t.Errorf("parsed %+v, %v", items, err)
	}
	if got := sfString(`a"b\c` + "\n"); got != `"a\"b\\c"` {
		t.Errorf("sfString = %s", got)
	}
}

// TestRemainingIsExact checks the count for intervals that are not binary
// fractions (0.1 s, 8.57 s, 0.33 s), where floating-point GCRA (as in
// redis_rate) reports one less than is left.
func TestRemainingIsExact(t *testing.T) {
	forEach(t, func(t *testing.T, f fixture, l Limiter) {
		for i, q := range []Quota{
			{Limit: 600, Window: time.Minute},
			{Limit: 7, Window: time.Minute},
			{Limit: 3, Window: time.Second},
		} {
			key := fmt.Sprint("exact-", i)
			for k := 1; k <= 3; k++ {
				res, err := l.Allow(context.Background(), key, q)
				if err != nil {
					t.Fatal(err)
				}
				if !res.Allowed || res.Remaining != q.Limit-k {
					t.Errorf("%v, request %d: %+v, want %d remaining", q, k, res, q.Limit-k)
				}
			}
		}
	})
}
