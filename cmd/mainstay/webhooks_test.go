package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
)

// A server killed with SIGKILL while webhook deliveries are in flight
// loses none: after a restart its expired leases are claimed again and
// every event arrives, under one webhook-id each.
func TestWebhookDeliverySurvivesSIGKILL(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			env := []string{"MAINSTAY_DATA_DIR=" + t.TempDir(), "MAINSTAY_MASTER_KEY=" + apitest.TestMasterKey,
				"MAINSTAY_WEBHOOKS_ALLOW_LOOPBACK=true", "MAINSTAY_WEBHOOK_LEASE=2s", "MAINSTAY_EVENTS_POLL=100ms"}
			if e == db.Postgres {
				env = append(env, "MAINSTAY_DATABASE_URL="+dbtest.PostgresURL(t, false))
			}
			out, stderr, err := mainstay(t, env, "clients", "create", "--name", "hooks", "--roles", "admin", "--json")
			if err != nil {
				t.Fatalf("create client: %v %s", err, stderr)
			}
			var cl struct {
				ClientID     string `json:"client_id"`
				ClientSecret string `json:"client_secret"`
			}
			if err := json.Unmarshal([]byte(out), &cl); err != nil {
				t.Fatal(err)
			}

			// The receiver is slow, so that deliveries are in flight
			// when the server dies.
			var (
				mu       sync.Mutex
				got      = map[string]int{} // webhook-id → times received
				subjects = map[string]string{}
				inflight atomic.Int32
			)
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inflight.Add(1)
				defer inflight.Add(-1)
				body, _ := io.ReadAll(r.Body)
				time.Sleep(150 * time.Millisecond)
				var ev struct{ Subject string }
				_ = json.Unmarshal(body, &ev)
				mu.Lock()
				got[r.Header.Get("webhook-id")]++
				subjects[r.Header.Get("webhook-id")] = ev.Subject
				mu.Unlock()
			}))
			defer rc.Close()

			addr := freeAddr(t)
			start := func() *exec.Cmd {
				cmd := exec.Command(binary, "serve", "--listen", addr)
				cmd.Env = append([]string{"PATH=" + "/usr/bin:/bin"}, env...)
				var errOut bytes.Buffer
				cmd.Stderr = &errOut
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				// A node that never gets ready is killed, not left behind.
				defer func() {
					if t.Failed() {
						cmd.Process.Kill()
					}
				}()
				waitReady(t, addr, &errOut)
				return cmd
			}
			cmd := start()
			base := "http://" + addr
			token := func() string {
				form := url.Values{"grant_type": {"client_credentials"}}
				req, _ := http.NewRequest("POST", base+"/oauth2/token", strings.NewReader(form.Encode()))
				req.SetBasicAuth(cl.ClientID, cl.ClientSecret)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var tok struct {
					AccessToken string `json:"access_token"`
				}
				json.NewDecoder(resp.Body).Decode(&tok)
				return tok.AccessToken
			}
			tok := token()
			call := func(method, path string, body any) map[string]any {
				b, _ := json.Marshal(body)
				req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var out map[string]any
				json.NewDecoder(resp.Body).Decode(&out)
				if resp.StatusCode >= 300 {
					t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, out)
				}
				return out
			}
			co := call("POST", "/v1/companies", map[string]any{"legal_name": "Kill GmbH", "base_currency": "EUR"})["id"].(string)
			unit := call("POST", "/v1/units-of-measure", map[string]any{"code": "ea", "name": "Each", "company_id": co})["id"].(string)
			call("POST", "/v1/webhook-endpoints", map[string]any{"url": rc.URL, "event_types": []string{"mainstay.catalog.product.created"}})
			const n = 30
			want := map[string]bool{}
			for i := range n {
				p := call("POST", "/v1/products", map[string]any{"company_id": co, "sku": fmt.Sprintf("K-%d", i), "name": "k",
					"stock_unit_id": unit, "list_price": "1", "currency": "EUR"})
				want[p["id"].(string)] = true
			}
			// Kill while a delivery is in flight and some are still due.
			deadline := time.Now().Add(20 * time.Second)
			for inflight.Load() == 0 || func() bool { mu.Lock(); defer mu.Unlock(); return len(got) < 3 }() {
				if time.Now().After(deadline) {
					t.Fatal("no delivery started")
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			mu.Lock()
			before := len(got)
			mu.Unlock()
			if before >= n {
				t.Fatalf("all %d delivered before the kill: the test proves nothing", before)
			}
			cmd = start()
			defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
			deadline = time.Now().Add(30 * time.Second)
			for {
				mu.Lock()
				seen := map[string]bool{}
				for _, s := range subjects {
					seen[s] = true
				}
				done := len(seen) >= n
				mu.Unlock()
				if done {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("only %d of %d events arrived after the restart (%d before the kill)", len(seen), n, before)
				}
				time.Sleep(50 * time.Millisecond)
			}
			mu.Lock()
			defer mu.Unlock()
			ids := map[string]string{}
			for id, s := range subjects {
				if !want[s] {
					t.Errorf("unexpected subject %s", s)
				}
				if prev, dup := ids[s]; dup {
					t.Errorf("product %s arrived under two webhook-ids %s and %s", s, prev, id)
				}
				ids[s] = id
			}
			t.Logf("%d delivered before SIGKILL, %d after restart; redelivered under the same id: %d", before, len(got)-before, redelivered(got))
		})
	}
}

func redelivered(got map[string]int) int {
	n := 0
	for _, c := range got {
		n += c - 1
	}
	return n
}
