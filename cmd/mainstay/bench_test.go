package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
)

// benchReport is the part of `mainstay bench --json` the smoke run reads.
type benchReport struct {
	URLs []string `json:"urls"`
	Ops  []struct {
		Op        string  `json:"op"`
		Requests  int     `json:"requests"`
		OK        int     `json:"ok"`
		Conflicts int     `json:"conflicts"`
		Errors    int     `json:"errors"`
		P99       float64 `json:"p99_ms"`
		Failures  []string
	} `json:"ops"`
	Checks []struct {
		Name string `json:"name"`
		OK   bool   `json:"ok"`
	} `json:"checks"`
}

// The load generator's smoke run, as CI's: a small dataset, a few seconds
// of the storefront mix, every operation answered without an error and
// the checks after it passing. On SQLite the bench serves the API
// itself; on PostgreSQL it loads two `mainstay serve` nodes sharing the
// database, which must sell no stock twice and record each order and
// event once between them.
func TestBenchSmoke(t *testing.T) {
	small := []string{"--products", "60", "--customers", "80", "--warehouses", "2", "--orders", "40", "--stock", "50",
		"--duration", "3s", "--concurrency", "6", "--json", "--log-level", "warn"}
	t.Run("sqlite", func(t *testing.T) {
		env := []string{"MAINSTAY_DATA_DIR=" + t.TempDir()}
		rep := runBench(t, env, small...)
		if len(rep.URLs) != 1 {
			t.Fatalf("urls %v", rep.URLs)
		}
		// Run again: the dataset is reused, not seeded twice.
		runBench(t, env, small...)
	})
	t.Run("postgres two nodes", func(t *testing.T) {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		env := []string{"MAINSTAY_DATABASE_URL=" + dbtest.PostgresURL(t, false), "MAINSTAY_MASTER_KEY=" + base64.StdEncoding.EncodeToString(key)}
		// Seed first, so the nodes start on a migrated database.
		if out, stderr, err := mainstay(t, env, append([]string{"bench", "--seed-only"}, small...)...); err != nil {
			t.Fatalf("seed: %v\n%s\n%s", err, out, stderr)
		}
		// Nodes behind one balancer share its URL: it is the tokens'
		// issuer, so a token either node issued is good on both.
		var urls []string
		balancer := "http://" + freeAddr(t)
		for range 2 {
			addr := freeAddr(t)
			cmd := exec.Command(binary, "serve", "--listen", addr, "--public-url", balancer, "--log-level", "warn")
			cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
			var errOut bytes.Buffer
			cmd.Stderr = &errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				_ = cmd.Wait()
			})
			waitReady(t, addr, &errOut)
			urls = append(urls, "http://"+addr)
		}
		rep := runBench(t, env, append(small, "--url", strings.Join(urls, ","))...)
		if len(rep.URLs) != 2 {
			t.Fatalf("urls %v", rep.URLs)
		}
	})
}

func runBench(t *testing.T, env []string, args ...string) benchReport {
	t.Helper()
	out, stderr, err := mainstay(t, env, append([]string{"bench"}, args...)...)
	if err != nil {
		t.Fatalf("bench: %v\n%s\n%s", err, out, stderr)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, out)
	}
	if len(rep.Ops) != 4 {
		t.Fatalf("ops %+v", rep.Ops)
	}
	for _, op := range rep.Ops {
		if op.OK == 0 || op.Errors != 0 || op.P99 <= 0 {
			t.Errorf("%s: %d requests, %d ok, %d errors, p99 %.2f ms: %v", op.Op, op.Requests, op.OK, op.Errors, op.P99, op.Failures)
		}
	}
	if len(rep.Checks) != 3 {
		t.Fatalf("checks %+v", rep.Checks)
	}
	for _, c := range rep.Checks {
		if !c.OK {
			t.Errorf("check %s failed:\n%s", c.Name, out)
		}
	}
	return rep
}

func waitReady(t *testing.T, addr string, logs *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready in time: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
