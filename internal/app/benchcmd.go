package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/loadgen"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
)

const benchUsage = `mainstay bench seeds a storefront dataset into the configured database
(through the stores, in bulk), gets a token for a storefront client with its
own generous rate limit, runs a mixed workload for a while, prints per
operation throughput, p50/p95/p99 latency, errors and 409 refusals apart,
and checks the books afterwards (no oversell, ledger balanced, each order
and event once). Without --url it serves the API itself on a loopback port;
with --url (comma-separated for several nodes) it loads those servers,
which must use the same database. A dataset of a given size is seeded
once and reused.
`

type benchFlags struct {
	urls                    string
	size                    BenchSize
	duration                time.Duration
	concurrency, cartLines  int
	mix                     string
	jsonOut, seedOnly, bare bool
	noVerify                bool
	profile                 string
}

func benchCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f benchFlags
	cfg, rest, log, err := loadWith("bench", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.Usage = func() { fmt.Fprint(fs.Output(), benchUsage+"\nFlags:\n"); fs.PrintDefaults() }
		fs.StringVar(&f.urls, "url", "", "servers to load, comma-separated (default: serve in this process)")
		fs.IntVar(&f.size.Products, "products", 10_000, "products to seed")
		fs.IntVar(&f.size.Customers, "customers", 50_000, "customers to seed")
		fs.IntVar(&f.size.Warehouses, "warehouses", 3, "warehouses to seed, each stocking every product")
		fs.IntVar(&f.size.Orders, "orders", 10_000, "historical orders to seed, each posted to the ledger")
		fs.IntVar(&f.size.LinesPerOrder, "lines-per-order", 4, "lines per historical order")
		fs.Int64Var(&f.size.Stock, "stock", 100_000, "opening stock per product and warehouse")
		fs.DurationVar(&f.duration, "duration", 30*time.Second, "how long to load")
		fs.IntVar(&f.concurrency, "concurrency", 16, "concurrent clients, each with one request in flight")
		fs.IntVar(&f.cartLines, "cart-lines", 3, "most lines in a quoted or checked-out cart")
		fs.StringVar(&f.mix, "mix", loadgen.DefaultMix, "weights of the operations")
		fs.BoolVar(&f.jsonOut, "json", false, "print the report as JSON")
		fs.BoolVar(&f.seedOnly, "seed-only", false, "seed, print the client's credentials and exit")
		fs.BoolVar(&f.bare, "bare", false, "load a bare Go JSON handler instead of the API (the machine's ceiling); seeds nothing")
		fs.BoolVar(&f.noVerify, "no-verify", false, "skip the checks after the run")
		fs.StringVar(&f.profile, "profile", "", "directory for CPU, allocation, mutex and block profiles of the in-process server")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("bench: unexpected argument %q", rest[0])
	}
	mix, err := loadgen.ParseMix(f.mix)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	s := f.size
	if s.Products < 1 || s.Customers < 1 || s.Warehouses < 1 || s.Orders < 0 || s.LinesPerOrder < 1 || s.Stock < 1 {
		return fmt.Errorf("bench: products, customers, warehouses, lines-per-order and stock must be at least 1, orders at least 0")
	}
	lc := loadgen.Config{Concurrency: f.concurrency, Duration: f.duration, Mix: mix, CartLines: f.cartLines, RunID: "bench-" + strings.ToLower(id.New("r")[2:])}
	if f.bare {
		return benchBare(ctx, f, lc, stdout)
	}

	a, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	seed, err := a.seedBench(ctx, s, log)
	if err != nil {
		return err
	}
	if f.seedOnly {
		fmt.Fprintf(stdout, "Bench company %s (reused: %v). A storefront client for it:\n  client_id:     %s\n  client_secret: %s\n",
			seed.CompanyID, seed.Reused, seed.ClientID, seed.Secret)
		return nil
	}
	urls := strings.Split(f.urls, ",")
	if f.urls == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		a.Start()
		sctx, stop := context.WithCancel(ctx)
		served := make(chan error, 1)
		go func() { served <- a.Serve(sctx, ln) }()
		defer func() { stop(); <-served }()
		urls = []string{"http://" + ln.Addr().String()}
	}
	token, err := benchToken(ctx, urls[0], seed.ClientID, seed.Secret)
	if err != nil {
		return err
	}
	lc.URLs, lc.Token = urls, token
	lc.Data = loadgen.Dataset{CompanyID: seed.CompanyID, Products: s.Products, Customers: s.Customers, OrderIDs: seed.SampleOrderIDs}

	var stopProfiles func() error
	if f.profile != "" {
		if f.urls != "" {
			return errors.New("bench: --profile profiles the in-process server; leave out --url")
		}
		if stopProfiles, err = startProfiles(f.profile); err != nil {
			return err
		}
	}
	rep, err := loadgen.Run(ctx, lc)
	if stopProfiles != nil {
		err = errors.Join(err, stopProfiles())
	}
	if err != nil {
		return err
	}
	var checks []benchCheck
	if !f.noVerify {
		if checks, err = a.verifyBench(ctx, seed.CompanyID, lc.RunID, rep.Created); err != nil {
			return err
		}
	}
	if f.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			loadgen.Report
			Engine  string       `json:"engine"`
			Dataset BenchSize    `json:"dataset"`
			Checks  []benchCheck `json:"checks,omitempty"`
		}{rep, string(a.db.Engine()), s, checks}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "Database %s, dataset %d products, %d customers, %d warehouses, %d historical orders × %d lines.\n",
			a.db.Engine(), s.Products, s.Customers, s.Warehouses, s.Orders, s.LinesPerOrder)
		rep.Print(stdout)
		printChecks(stdout, checks)
	}
	for _, c := range checks {
		if !c.OK {
			return fmt.Errorf("bench: check %q failed: %s", c.Name, c.Detail)
		}
	}
	return nil
}

// benchBare loads loadgen.Bare served in this process: the same client,
// concurrency and HTTP stack, with no work behind it.
func benchBare(ctx context.Context, f benchFlags, lc loadgen.Config, stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	srv := &http.Server{Handler: loadgen.Bare(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	lc.URLs, lc.Token = []string{"http://" + ln.Addr().String()}, "bare"
	lc.Mix = loadgen.Mix{loadgen.Availability: 1}
	lc.Data = loadgen.Dataset{CompanyID: "co_bare", Products: f.size.Products, Customers: 1}
	rep, err := loadgen.Run(ctx, lc)
	if err != nil {
		return err
	}
	if f.jsonOut {
		return json.NewEncoder(stdout).Encode(rep)
	}
	fmt.Fprintln(stdout, "A bare Go JSON handler (no database, no middleware), as availability reads:")
	rep.Print(stdout)
	return nil
}

// benchToken gets an access token by client credentials.
func benchToken(ctx context.Context, base, clientID, secret string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/oauth2/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		return "", fmt.Errorf("bench token: %w", err)
	}
	req.SetBasicAuth(clientID, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("bench token: %w", err)
	}
	defer res.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusOK || body.AccessToken == "" {
		return "", fmt.Errorf("bench token from %s: status %d: %v", base, res.StatusCode, err)
	}
	return body.AccessToken, nil
}

// startProfiles starts a CPU profile and mutex and block sampling; the
// returned function writes cpu.pprof, allocs.pprof, mutex.pprof and
// block.pprof into dir.
func startProfiles(dir string) (func() error, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench profiles: %w", err)
	}
	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		return nil, fmt.Errorf("bench profiles: %w", err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		cpu.Close()
		return nil, fmt.Errorf("bench profiles: %w", err)
	}
	runtime.SetMutexProfileFraction(5)
	runtime.SetBlockProfileRate(int(100 * time.Microsecond))
	return func() error {
		pprof.StopCPUProfile()
		errs := []error{cpu.Close()}
		for _, name := range []string{"allocs", "mutex", "block"} {
			out, err := os.Create(filepath.Join(dir, name+".pprof"))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			errs = append(errs, pprof.Lookup(name).WriteTo(out, 0), out.Close())
		}
		runtime.SetMutexProfileFraction(0)
		runtime.SetBlockProfileRate(0)
		return errors.Join(errs...)
	}, nil
}
