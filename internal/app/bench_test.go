package app_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
)

// The API over real HTTP with a real token, 16 concurrent clients:
//
//	go test ./internal/app -run '^$' -bench . -benchtime 5s
//
// ns/op is per request across all clients; req/s is the throughput.
func BenchmarkProducts(b *testing.B) {
	for _, eng := range dbtest.Engines {
		e := string(eng)
		b.Run("get/"+e, func(b *testing.B) {
			w := benchWorld(b, e)
			id := w.create(b, "BENCH-GET")
			w.run(b, func() *http.Request {
				req, _ := http.NewRequest("GET", w.s.URL+"/v1/products/"+id, nil)
				return req
			}, http.StatusOK)
		})
		b.Run("create/"+e, func(b *testing.B) {
			w := benchWorld(b, e)
			var n atomic.Int64
			w.run(b, func() *http.Request {
				body := fmt.Sprintf(`{"sku":"B-%d","name":"Bench","stock_unit_id":%q,"list_price":"9.99","currency":"EUR"}`, n.Add(1), w.unit)
				req, _ := http.NewRequest("POST", w.s.URL+"/v1/products", bytes.NewBufferString(body))
				req.Header.Set("Content-Type", "application/json")
				return req
			}, http.StatusCreated)
		})
	}
}

type bench struct {
	s     *apitest.Server
	hc    *http.Client
	token string
	unit  string
}

func benchWorld(b *testing.B, e string) *bench {
	b.Helper()
	s := apitest.Start(b, dbEngine(e))
	root := s.As(b, []string{"admin"})
	co := root.Do(b, "POST", "/v1/companies", map[string]any{"legal_name": "Bench", "base_currency": "EUR"}).Expect(b, 201).JSON(b)["id"].(string)
	admin := s.As(b, []string{"admin"}, co)
	unit := admin.Do(b, "POST", "/v1/units-of-measure", map[string]any{"code": "ea", "name": "Each"}).Expect(b, 201).JSON(b)["id"].(string)
	return &bench{s: s, hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}, token: admin.Token(b), unit: unit}
}

func (w *bench) create(b *testing.B, sku string) string {
	b.Helper()
	req, _ := http.NewRequest("POST", w.s.URL+"/v1/products", bytes.NewBufferString(fmt.Sprintf(`{"sku":%q,"name":"Bench","stock_unit_id":%q,"list_price":"9.99","currency":"EUR"}`, sku, w.unit)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+w.token)
	resp, err := w.hc.Do(req)
	if err != nil || resp.StatusCode != 201 {
		b.Fatalf("create: %v %v", err, resp)
	}
	defer resp.Body.Close()
	var id struct{ ID string }
	raw, _ := io.ReadAll(resp.Body)
	_ = jsonUnmarshal(raw, &id)
	return id.ID
}

func (w *bench) run(b *testing.B, mk func() *http.Request, want int) {
	b.SetParallelism(8) // 8 × GOMAXPROCS clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := mk()
			req.Header.Set("Authorization", "Bearer "+w.token)
			resp, err := w.hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkCheckout measures one-call checkouts per second over HTTP: each
// upserts its customer, prices and taxes a two-line cart, quotes shipping,
// creates the order and reserves its stock, 16 clients at once:
//
//	go test ./internal/app -run '^$' -bench Checkout -benchtime 2000x
func BenchmarkCheckout(b *testing.B) {
	for _, eng := range dbtest.Engines {
		b.Run(string(eng), func(b *testing.B) {
			s := apitest.Start(b, eng)
			w := setupWorld(b, s)
			sh := newShop(b, stockWorldOn(b, w))
			for _, p := range []string{sh.a, sh.b} {
				sh.move(b, map[string]any{"type": "receipt", "product_id": p, "to_location_id": sh.bin, "quantity": "1000000", "unit_cost": "1"}).Expect(b, 201)
			}
			bw := &bench{s: s, hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}, token: w.admin.Token(b)}
			var n atomic.Int64
			bw.run(b, func() *http.Request {
				i := n.Add(1)
				body := fmt.Sprintf(`{"external_id":"bench-%d","customer":{"external_id":"c-%d","name":"Bench customer"},`+
					`"ship_to":{"country":"DE","postal_code":"10115"},"lines":[{"sku":"MUG-1","quantity":"1"},{"sku":"TEA-1","quantity":"2"}]}`, i, i%50)
				req, _ := http.NewRequest("POST", s.URL+"/v1/orders/checkout", bytes.NewBufferString(body))
				req.Header.Set("Content-Type", "application/json")
				return req
			}, http.StatusCreated)
		})
	}
}
