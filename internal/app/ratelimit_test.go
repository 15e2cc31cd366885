package app_test

import (
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/ratelimit"
)

func TestRateLimitsOverHTTP(t *testing.T) {
	cfg := apitest.Config(t)
	cfg.RateLimits.Read = ratelimit.Quota{Limit: 5, Window: 60e9}
	cfg.RateLimits.Token = ratelimit.Quota{Limit: 3, Window: 60e9}
	s := apitest.StartConfig(t, cfg)
	w := setupWorld(t, s)
	reader := s.As(t, []string{"readonly"}, w.company)
	var last *apitest.Response
	for i := range 6 {
		last = reader.Do(t, "GET", "/v1/products", nil)
		if i < 5 {
			last.Expect(t, 200)
			if !strings.Contains(last.Header.Get("RateLimit-Policy"), `"read";q=5;w=60`) || !strings.HasPrefix(last.Header.Get("RateLimit"), `"read";r=`) {
				t.Fatalf("headers %q %q", last.Header.Get("RateLimit-Policy"), last.Header.Get("RateLimit"))
			}
		}
	}
	last.ExpectProblem(t, 429, apperr.RateLimited)
	if last.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// Another client has its own budget, and can read it.
	w.admin.Do(t, "GET", "/v1/products", nil).Expect(t, 200)
	budget := w.admin.Do(t, "GET", "/v1/rate-limits", nil).Expect(t, 200).JSON(t)
	if len(budget["classes"].([]any)) == 0 {
		t.Fatalf("budget %v", budget)
	}
	// The token endpoint is limited per client id.
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"cli_guess"}, "client_secret": {"mss_wrong"}}.Encode()
	statuses := []int{}
	for range 4 {
		statuses = append(statuses, s.Anonymous(t, "POST", "/oauth2/token", form, "Content-Type", "application/x-www-form-urlencoded").Status)
	}
	if statuses[3] != 429 || statuses[0] != 401 {
		t.Fatalf("token endpoint statuses %v", statuses)
	}
}

// Two nodes on one Redis share one quota.
func TestRateLimitsAcrossNodesWithRedis(t *testing.T) {
	redisURL := os.Getenv("MAINSTAY_TEST_REDIS_URL")
	if redisURL == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("MAINSTAY_TEST_REDIS_URL is required under CI")
		}
		t.Skip("set MAINSTAY_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15) to run the Redis half")
	}
	cfg := apitest.Config(t)
	cfg.RedisURL = redisURL
	cfg.RateLimits.Write = ratelimit.Quota{Limit: 5, Window: 60e9}
	cfg.DatabaseURL = postgresURL(t)
	one := apitest.StartConfig(t, cfg)
	cfg2 := cfg
	cfg2.DataDir = t.TempDir()
	two := apitest.StartConfig(t, cfg2)
	w := setupWorld(t, one)
	clientOnTwo := w.admin.On(two)
	var wg sync.WaitGroup
	start := make(chan struct{})
	var mu sync.Mutex
	counts := map[int]int{}
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := w.admin
			if i%2 == 1 {
				c = clientOnTwo
			}
			<-start
			r := c.Do(t, "POST", "/v1/tax-categories", map[string]any{"code": "t" + strings.Repeat("x", i+1), "name": "T"})
			mu.Lock()
			counts[r.Status]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	// setupWorld already spent 1 write (the unit) of the admin's 5.
	if counts[201] != 4 || counts[429] != 8 {
		t.Fatalf("statuses %v: want 4 created and 8 limited across both nodes", counts)
	}
}

// A client's own quota, set over the API, replaces the default for it.
func TestPerClientQuota(t *testing.T) {
	cfg := apitest.Config(t)
	cfg.RateLimits.Read = ratelimit.Quota{Limit: 2, Window: 60e9}
	s := apitest.StartConfig(t, cfg)
	w := setupWorld(t, s)
	big := s.As(t, []string{"readonly"}, w.company)
	small := s.As(t, []string{"readonly"}, w.company)
	w.admin.Do(t, "PUT", "/v1/clients/"+big.ID+"/rate-limits", map[string]any{"read": "10/1m"}).Expect(t, 200)
	w.admin.Do(t, "PUT", "/v1/clients/"+big.ID+"/rate-limits", map[string]any{"read": "lots"}).ExpectProblem(t, 422, apperr.Invalid)
	got := w.admin.Do(t, "GET", "/v1/clients/"+big.ID+"/rate-limits", nil).Expect(t, 200).JSON(t)
	if got["read"] != "10/1m" {
		t.Fatalf("stored quotas %v", got)
	}
	for i := range 5 {
		big.Do(t, "GET", "/v1/products", nil).Expect(t, 200)
		r := small.Do(t, "GET", "/v1/products", nil)
		if (i < 2) != (r.Status == 200) {
			t.Fatalf("small client request %d: %d", i, r.Status)
		}
	}
}
