package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
)

// Webhook delivery, end to end over real HTTP on both engines:
//
//	go test ./internal/app -run '^$' -bench WebhookDelivery -benchtime 2000x
//
// live: b.N product creations by 8 concurrent clients while a receiver
// on loopback takes the deliveries; p50-ms and p99-ms are the time from
// the event's transaction to its arrival at the receiver, events/s the
// rate at which they arrived. serial: the same with one client, one
// creation at a time (latency without a write burst). drain: b.N events wait while the endpoint
// is disabled, then it is enabled and events/s is how fast the backlog
// is delivered.
func BenchmarkWebhookDelivery(b *testing.B) {
	for _, eng := range dbtest.Engines {
		for _, mode := range []string{"serial", "live", "drain"} {
			b.Run(mode+"/"+string(eng), func(b *testing.B) {
				cfg := apitest.Config(b)
				if eng == "postgres" {
					cfg.DatabaseURL = dbtest.PostgresURL(b, false)
				}
				cfg.WebhooksAllowLoopback = true
				s := apitest.StartConfig(b, cfg)
				w := setupWorld(b, s)
				var (
					mu   sync.Mutex
					lat  []time.Duration
					last time.Time
					seen = map[string]bool{}
					all  = make(chan struct{})
				)
				rc := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					var ev struct {
						ID   string    `json:"id"`
						Time time.Time `json:"time"`
					}
					_ = json.Unmarshal(body, &ev)
					now := time.Now()
					mu.Lock()
					if !seen[ev.ID] {
						seen[ev.ID] = true
						lat = append(lat, now.Sub(ev.Time))
						last = now
						if len(seen) == b.N {
							close(all)
						}
					}
					mu.Unlock()
				}))
				defer rc.Close()
				ep := w.admin.Do(b, "POST", "/v1/webhook-endpoints", map[string]any{"url": rc.URL,
					"event_types": []string{"mainstay.catalog.product.created"}, "enabled": mode != "drain"}).Expect(b, 201)
				epID := ep.JSON(b)["id"].(string)
				bw := &bench{s: s, hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}, token: w.admin.Token(b), unit: w.unit}
				create := func() {
					var wg sync.WaitGroup
					next := make(chan int)
					writers := 8
					if mode == "serial" {
						writers = 1
					}
					for range writers {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for i := range next {
								bw.create(b, fmt.Sprintf("WH-%d", i))
							}
						}()
					}
					for i := range b.N {
						next <- i
					}
					close(next)
					wg.Wait()
				}
				b.ResetTimer()
				start := time.Now()
				if mode == "drain" {
					b.StopTimer()
					create()
					b.StartTimer()
					start = time.Now()
					w.admin.Do(b, "PATCH", "/v1/webhook-endpoints/"+epID, map[string]any{"enabled": true},
						"Content-Type", "application/merge-patch+json", "If-Match", ep.Header.Get("ETag")).Expect(b, 200)
				} else {
					create()
				}
				select {
				case <-all:
				case <-time.After(5 * time.Minute):
					b.Fatalf("only %d of %d delivered", len(seen), b.N)
				}
				b.StopTimer()
				mu.Lock()
				defer mu.Unlock()
				slices.Sort(lat)
				b.ReportMetric(float64(b.N)/last.Sub(start).Seconds(), "events/s")
				if mode != "drain" {
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
				}
			})
		}
	}
}
