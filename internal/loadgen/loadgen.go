// Package loadgen drives a mixed storefront workload against one or more
// Mainstay servers over HTTP and reports, per operation, throughput,
// latency percentiles, errors and 409 refusals. It knows the API, not the
// database: `mainstay bench` seeds the data it needs and checks the
// books afterwards.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Op is one kind of storefront request.
type Op string

// The operations of the storefront workload.
const (
	Availability Op = "availability" // GET /v1/availability for one SKU
	Quote        Op = "quote"        // POST /v1/prices/quote for a cart
	Checkout     Op = "checkout"     // POST /v1/orders/checkout
	OrderRead    Op = "order"        // GET /v1/sales-orders/{id}
)

// Ops lists the operations in report order.
var Ops = []Op{Availability, Quote, Checkout, OrderRead}

// DefaultMix is the storefront's mix: mostly product pages asking for
// stock, some carts priced, a tenth of the requests checking out.
const DefaultMix = "availability=70,quote=15,checkout=10,order=5"

// Mix is the relative weight of each operation.
type Mix map[Op]int

// ParseMix reads "availability=70,quote=15,checkout=10,order=5"; an
// operation left out has weight 0.
func ParseMix(s string) (Mix, error) {
	m := Mix{}
	total := 0
	for part := range strings.SplitSeq(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		op := Op(strings.TrimSpace(name))
		if !ok || !slices.Contains(Ops, op) {
			return nil, fmt.Errorf("mix %q: want op=weight pairs of %v", s, Ops)
		}
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("mix %q: weight of %s must be a whole number ≥ 0", s, op)
		}
		m[op] = n
		total += n
	}
	if total == 0 {
		return nil, fmt.Errorf("mix %q: every weight is 0", s)
	}
	return m, nil
}

func (m Mix) String() string {
	parts := make([]string, 0, len(Ops))
	for _, op := range Ops {
		parts = append(parts, fmt.Sprintf("%s=%d", op, m[op]))
	}
	return strings.Join(parts, ",")
}

// Dataset is what the seeded company holds, as the workload addresses it.
type Dataset struct {
	CompanyID string
	Products  int // SKUs SKU(1) … SKU(Products)
	Customers int // external ids CustomerRef(1) … CustomerRef(Customers)
	OrderIDs  []string
}

// SKU is the seeded product number i's SKU.
func SKU(i int) string { return fmt.Sprintf("BENCH-%06d", i) }

// CustomerRef is the seeded customer number i's external id.
func CustomerRef(i int) string { return fmt.Sprintf("bench-c-%d", i) }

// Config is one run.
type Config struct {
	URLs         []string // servers; client i talks to URLs[i % len]
	Token        string   // bearer token
	Concurrency  int      // clients, each with one request in flight
	Duration     time.Duration
	Mix          Mix
	Data         Dataset
	RunID        string // prefixes the run's storefront order ids
	CartLines    int    // lines per cart: 1 … CartLines, default 3
	Client       *http.Client
	KeepFailures int // error responses kept per operation for the report; default 3
}

// Stat is one operation's figures.
type Stat struct {
	Op        Op       `json:"op"`
	Requests  int      `json:"requests"`
	OK        int      `json:"ok"`
	Conflicts int      `json:"conflicts"` // 409: refused (short stock), neither error nor success
	Errors    int      `json:"errors"`
	PerSecond float64  `json:"per_second"` // successful requests per second
	P50       float64  `json:"p50_ms"`
	P95       float64  `json:"p95_ms"`
	P99       float64  `json:"p99_ms"`
	Max       float64  `json:"max_ms"`
	Failures  []string `json:"failures,omitempty"`
}

// Report is a run's outcome.
type Report struct {
	URLs        []string  `json:"urls"`
	Concurrency int       `json:"concurrency"`
	Seconds     float64   `json:"seconds"`
	Mix         string    `json:"mix"`
	Ops         []Stat    `json:"ops"`
	Total       Stat      `json:"total"`
	Started     time.Time `json:"started"`
	// Created are the ids of the orders the run's checkouts created.
	Created []string `json:"-"`
}

// sample is one finished request.
type sample struct {
	op      Op
	latency time.Duration
	status  int // 0: no response
}

type worker struct {
	cfg     *Config
	base    string
	rng     *rand.Rand
	n       int
	id      int
	samples []sample
	fails   map[Op][]string
	created []string
	orders  *orderPool
}

// orderPool is the order ids the reads pick from: the seeded ones and the
// ones checked out so far.
type orderPool struct {
	mu  sync.RWMutex
	ids []string
}

func (p *orderPool) add(id string) {
	p.mu.Lock()
	if len(p.ids) < 100_000 {
		p.ids = append(p.ids, id)
	}
	p.mu.Unlock()
}

func (p *orderPool) pick(r *rand.Rand) string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if len(p.ids) == 0 {
		return ""
	}
	return p.ids[r.IntN(len(p.ids))]
}

// Run drives the workload for cfg.Duration (or until ctx ends), then
// waits for the requests in flight.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if len(cfg.URLs) == 0 || cfg.Concurrency < 1 || cfg.Duration <= 0 {
		return Report{}, fmt.Errorf("load: need a URL, concurrency ≥ 1 and a duration")
	}
	if cfg.Data.Products < 1 || cfg.Data.Customers < 1 {
		return Report{}, fmt.Errorf("load: the dataset needs products and customers")
	}
	if cfg.Mix == nil {
		cfg.Mix, _ = ParseMix(DefaultMix)
	}
	if cfg.CartLines < 1 {
		cfg.CartLines = 3
	}
	if cfg.KeepFailures == 0 {
		cfg.KeepFailures = 3
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConns: cfg.Concurrency * 2, MaxIdleConnsPerHost: cfg.Concurrency * 2,
		}}
	}
	if cfg.RunID == "" {
		cfg.RunID = strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	if cfg.Mix[Availability]+cfg.Mix[Quote]+cfg.Mix[Checkout] == 0 && len(cfg.Data.OrderIDs) == 0 {
		return Report{}, fmt.Errorf("load: order reads alone need orders to read")
	}
	pool := &orderPool{ids: slices.Clone(cfg.Data.OrderIDs)}
	workers := make([]*worker, cfg.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	// Requests in flight when the time is up finish: a checkout cut off
	// might have been committed without its client knowing.
	deadline := start.Add(cfg.Duration)
	for i := range workers {
		w := &worker{cfg: &cfg, base: strings.TrimRight(cfg.URLs[i%len(cfg.URLs)], "/"), id: i,
			rng: rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(i))), fails: map[Op][]string{}, orders: pool}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx, deadline)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	return summarize(cfg, workers, start, elapsed), nil
}

func (w *worker) loop(ctx context.Context, deadline time.Time) {
	total := 0
	for _, op := range Ops {
		total += w.cfg.Mix[op]
	}
	for ctx.Err() == nil && time.Now().Before(deadline) {
		pick, op := w.rng.IntN(total), Ops[0]
		for _, o := range Ops {
			if pick < w.cfg.Mix[o] {
				op = o
				break
			}
			pick -= w.cfg.Mix[o]
		}
		req, err := w.request(ctx, op)
		if err != nil {
			continue // nothing to read yet
		}
		t0 := time.Now()
		res, err := w.cfg.Client.Do(req)
		s := sample{op: op, latency: time.Since(t0)}
		if err != nil {
			if ctx.Err() != nil {
				return // the run ended mid-request: not a failure of the server
			}
			w.fail(op, err.Error())
			w.samples = append(w.samples, s)
			continue
		}
		s.status = res.StatusCode
		if res.StatusCode >= 300 && res.StatusCode != http.StatusConflict {
			body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
			w.fail(op, fmt.Sprintf("%d %s", res.StatusCode, bytes.TrimSpace(body)))
		} else {
			_, _ = io.Copy(io.Discard, res.Body)
		}
		res.Body.Close()
		s.latency = time.Since(t0)
		if op == Checkout && res.StatusCode == http.StatusCreated {
			if id := strings.TrimPrefix(res.Header.Get("Location"), "/v1/sales-orders/"); id != "" {
				w.created = append(w.created, id)
				w.orders.add(id)
			}
		}
		w.samples = append(w.samples, s)
	}
}

func (w *worker) fail(op Op, msg string) {
	if len(w.fails[op]) < w.cfg.KeepFailures {
		w.fails[op] = append(w.fails[op], msg)
	}
}

var errNothing = fmt.Errorf("nothing to request")

func (w *worker) request(ctx context.Context, op Op) (*http.Request, error) {
	d := w.cfg.Data
	company := url.QueryEscape(d.CompanyID)
	var (
		method, path string
		body         any
	)
	switch op {
	case Availability:
		method, path = http.MethodGet, "/v1/availability?company_id="+company+"&sku="+SKU(1+w.rng.IntN(d.Products))
	case Quote:
		method, path = http.MethodPost, "/v1/prices/quote"
		body = map[string]any{"company_id": d.CompanyID, "ship_to": map[string]any{"country": "DE"}, "lines": w.cart()}
	case Checkout:
		w.n++
		method, path = http.MethodPost, "/v1/orders/checkout"
		c := 1 + w.rng.IntN(d.Customers)
		body = map[string]any{
			"company_id":  d.CompanyID,
			"external_id": fmt.Sprintf("%s-%d-%d", w.cfg.RunID, w.id, w.n),
			"customer":    map[string]any{"external_id": CustomerRef(c), "name": fmt.Sprintf("Bench customer %d", c)},
			"ship_to":     map[string]any{"name": "Bench", "line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
			"lines":       w.cart(),
		}
	case OrderRead:
		id := w.orders.pick(w.rng)
		if id == "" {
			return nil, errNothing
		}
		method, path = http.MethodGet, "/v1/sales-orders/"+id+"?company_id="+company
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, w.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+w.cfg.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// cart is 1 … CartLines distinct random SKUs, 1 to 3 of each.
func (w *worker) cart() []any {
	n := 1 + w.rng.IntN(min(w.cfg.CartLines, w.cfg.Data.Products))
	seen := map[int]bool{}
	lines := make([]any, 0, n)
	for len(lines) < n {
		p := 1 + w.rng.IntN(w.cfg.Data.Products)
		if seen[p] {
			continue
		}
		seen[p] = true
		lines = append(lines, map[string]any{"sku": SKU(p), "quantity": strconv.Itoa(1 + w.rng.IntN(3))})
	}
	return lines
}

func summarize(cfg Config, workers []*worker, start time.Time, elapsed time.Duration) Report {
	rep := Report{URLs: cfg.URLs, Concurrency: cfg.Concurrency, Seconds: elapsed.Seconds(), Mix: cfg.Mix.String(), Started: start.UTC()}
	by := map[Op][]sample{}
	var all []sample
	fails := map[Op][]string{}
	for _, w := range workers {
		for _, s := range w.samples {
			by[s.op] = append(by[s.op], s)
		}
		all = append(all, w.samples...)
		for op, f := range w.fails {
			fails[op] = append(fails[op], f...)
		}
		rep.Created = append(rep.Created, w.created...)
	}
	for _, op := range Ops {
		if cfg.Mix[op] == 0 {
			continue
		}
		st := stat(op, by[op], elapsed)
		st.Failures = fails[op][:min(len(fails[op]), cfg.KeepFailures)]
		rep.Ops = append(rep.Ops, st)
	}
	rep.Total = stat("total", all, elapsed)
	return rep
}

func stat(op Op, samples []sample, elapsed time.Duration) Stat {
	st := Stat{Op: op, Requests: len(samples)}
	lat := make([]time.Duration, 0, len(samples))
	for _, s := range samples {
		switch {
		case s.status >= 200 && s.status < 300:
			st.OK++
		case s.status == http.StatusConflict:
			st.Conflicts++
		default:
			st.Errors++
		}
		if s.status != 0 {
			lat = append(lat, s.latency)
		}
	}
	st.PerSecond = float64(st.OK) / elapsed.Seconds()
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		q := func(p float64) float64 {
			i := min(int(p*float64(len(lat))), len(lat)-1)
			return float64(lat[i].Microseconds()) / 1000
		}
		st.P50, st.P95, st.P99 = q(0.50), q(0.95), q(0.99)
		st.Max = float64(lat[len(lat)-1].Microseconds()) / 1000
	}
	return st
}

// Print writes the report as a table.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "%d clients against %s for %.1f s, mix %s\n\n", r.Concurrency, strings.Join(r.URLs, ", "), r.Seconds, r.Mix)
	fmt.Fprintf(w, "%-13s %9s %9s %9s %7s %9s %8s %8s %8s %8s\n", "operation", "requests", "ok", "409", "errors", "ok/s", "p50 ms", "p95 ms", "p99 ms", "max ms")
	for _, s := range append(slices.Clone(r.Ops), r.Total) {
		fmt.Fprintf(w, "%-13s %9d %9d %9d %7d %9.1f %8.2f %8.2f %8.2f %8.2f\n", s.Op, s.Requests, s.OK, s.Conflicts, s.Errors, s.PerSecond, s.P50, s.P95, s.P99, s.Max)
	}
	for _, s := range r.Ops {
		for _, f := range s.Failures {
			fmt.Fprintf(w, "  %s failed: %s\n", s.Op, f)
		}
	}
}

// Bare is a handler that answers every request with a small JSON
// document, encoded per request: the ceiling of Go's HTTP stack and this
// load generator on the machine, measured the same way as the API.
func Bare() http.Handler {
	type item struct {
		SKU       string `json:"sku"`
		Found     bool   `json:"found"`
		OnHand    string `json:"on_hand"`
		Reserved  string `json:"reserved"`
		Available string `json:"available"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"company_id": "co_bare", "data": []item{{SKU: r.URL.Query().Get("sku"), Found: true, OnHand: "1000", Reserved: "10", Available: "990"}}})
	})
}
