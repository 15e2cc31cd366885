package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/migrate"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

var binary string

// The tests run the real binary, as a user would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mainstay-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "mainstay")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build mainstay: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	dbtest.StopCluster()
	os.Exit(code)
}

// mainstay runs the binary with a clean environment plus env.
func mainstay(t *testing.T, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestServeAnswersReadyAndStopsCleanlyOnSIGTERM(t *testing.T) {
	addr := freeAddr(t)
	dir := t.TempDir()
	cmd := exec.Command(binary, "serve", "--listen", addr)
	cmd.Env = []string{"MAINSTAY_DATA_DIR=" + dir, "PATH=" + os.Getenv("PATH")}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitReady(t, addr, &errOut)
	if _, err := os.Stat(filepath.Join(dir, "mainstay.db")); err != nil {
		t.Fatalf("no SQLite database in the data directory: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, errOut.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not stop after SIGTERM")
	}
	if !strings.Contains(out.String(), "serving on http://"+addr) {
		t.Fatalf("stdout lacks the address: %q", out.String())
	}
	if !strings.Contains(errOut.String(), `"msg":"listening"`) {
		t.Fatalf("logs are not structured JSON: %q", errOut.String())
	}
}

// Two processes started together on one database migrate it once.
func TestTwoProcessesMigrateOnce(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			var env []string
			var u string
			if e == db.Postgres {
				u = dbtest.PostgresURL(t, false)
				env = []string{"MAINSTAY_DATABASE_URL=" + u}
			} else {
				dir := t.TempDir()
				u = "sqlite:" + filepath.Join(dir, "mainstay.db")
				env = []string{"MAINSTAY_DATA_DIR=" + dir}
			}
			var wg sync.WaitGroup
			outs := make([]string, 2)
			errs := make([]error, 2)
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var stderr string
					outs[i], stderr, errs[i] = mainstay(t, env, "migrate")
					if errs[i] != nil {
						errs[i] = fmt.Errorf("%w: %s", errs[i], stderr)
					}
				}()
			}
			wg.Wait()
			migrated := 0
			for i := range 2 {
				if errs[i] != nil {
					t.Fatalf("process %d: %v", i, errs[i])
				}
				if strings.HasPrefix(outs[i], "Migrated") {
					migrated++
				}
			}
			if migrated != 1 {
				t.Fatalf("%d processes migrated (%q), want exactly 1", migrated, outs)
			}
			d := dbtest.OpenURL(t, u)
			latest, _ := migrate.Latest(e)
			var rows int64
			if err := d.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+migrate.Table+" WHERE version_id > 0").Scan(&rows); err != nil || rows != latest {
				t.Fatalf("%d migrations recorded (%v), want %d", rows, err, latest)
			}
		})
	}
}

func TestCommandLineErrors(t *testing.T) {
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown command", nil, []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"bad flag value", nil, []string{"serve", "--listen", "nowhere"}, "invalid listen"},
		{"bad env value", []string{"MAINSTAY_LOG_LEVEL=loud"}, []string{"serve"}, "MAINSTAY_LOG_LEVEL"},
		{"plain HTTP off loopback", nil, []string{"serve", "--listen", "0.0.0.0:0"}, "refusing plain HTTP"},
		{"stray argument", nil, []string{"migrate", "extra"}, `unexpected argument "extra"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := append([]string{"MAINSTAY_DATA_DIR=" + t.TempDir()}, c.env...)
			_, stderr, err := mainstay(t, env, c.args...)
			if err == nil {
				t.Fatal("exit status 0")
			}
			if !strings.Contains(stderr, c.want) {
				t.Fatalf("stderr %q lacks %q", stderr, c.want)
			}
		})
	}
	out, _, err := mainstay(t, nil, "version")
	if err != nil || !strings.HasPrefix(out, "mainstay ") {
		t.Fatalf("version: %q %v", out, err)
	}
}

func TestBackup(t *testing.T) {
	dir := t.TempDir()
	env := []string{"MAINSTAY_DATA_DIR=" + dir}
	if _, stderr, err := mainstay(t, env, "migrate"); err != nil {
		t.Fatalf("migrate: %v %s", err, stderr)
	}
	target := filepath.Join(t.TempDir(), "copy.db")
	out, stderr, err := mainstay(t, env, "backup", target)
	if err != nil {
		t.Fatalf("backup: %v %s", err, stderr)
	}
	b := dbtest.OpenURL(t, "sqlite:"+target)
	if err := migrate.Check(context.Background(), b); err != nil {
		t.Fatalf("backup is not a current database: %v (%s)", err, out)
	}
	// PostgreSQL is dumped with its own tool; the command is printed, with
	// the password hidden.
	out, _, err = mainstay(t, []string{"MAINSTAY_DATABASE_URL=postgres://u:secret@db.example/erp"}, "backup")
	if err != nil || !strings.Contains(out, "pg_dump --format=custom") || strings.Contains(out, "secret") {
		t.Fatalf("postgres backup printed %q (%v)", out, err)
	}
}

// The README's first command, with --demo: the curl it prints, run as a
// user would paste it, gets products.
func TestDemoPrintsAWorkingCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("curl is needed for this test")
		}
		t.Skip("no curl on this machine")
	}
	addr := freeAddr(t)
	cmd := exec.Command(binary, "serve", "--demo", "--listen", addr, "--data-dir", t.TempDir())
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var script []string
	timeout := time.After(30 * time.Second)
	for len(script) < 2 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo output ended early: %s", errOut.String())
			}
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "TOKEN=") || strings.HasPrefix(l, "curl ") {
				script = append(script, l)
			}
		case <-timeout:
			t.Fatalf("no curl printed: %s", errOut.String())
		}
	}
	go func() {
		for range lines {
		}
	}()
	out, err := exec.Command("bash", "-c", strings.Join(script, "\n")).CombinedOutput()
	if err != nil {
		t.Fatalf("running the printed commands: %v\n%s", err, out)
	}
	var page struct {
		Data []struct {
			SKU string `json:"sku"`
		} `json:"data"`
		NextPageToken string `json:"next_page_token"`
	}
	if err := json.Unmarshal(out, &page); err != nil {
		t.Fatalf("not a product list: %v\n%s", err, out)
	}
	if len(page.Data) == 0 || !strings.HasPrefix(page.Data[0].SKU, "DEMO-") || page.NextPageToken == "" {
		t.Fatalf("demo products missing: %s", out)
	}
	// The demo books: opening balances, a USD sale paid at a better rate,
	// payroll; the trial balance balances.
	tbCurl := fmt.Sprintf(`curl -s -H "Authorization: Bearer $TOKEN" 'http://%s/v1/reports/trial-balance?as_of=%d-12-31'`, addr, time.Now().Year())
	out, err = exec.Command("bash", "-c", script[0]+"\n"+tbCurl).CombinedOutput()
	if err != nil {
		t.Fatalf("trial balance: %v\n%s", err, out)
	}
	var tb struct {
		Lines []struct {
			Debit   string `json:"debit"`
			Credit  string `json:"credit"`
			Balance string `json:"balance"`
		} `json:"lines"`
	}
	if err := json.Unmarshal(out, &tb); err != nil {
		t.Fatalf("not a trial balance: %v\n%s", err, out)
	}
	balances := map[string]bool{}
	var sum money.Decimal
	for _, l := range tb.Lines {
		b := money.MustParse(l.Balance)
		sum = sum.Add(b)
		balances[b.Normalize().String()] = true
	}
	// Bank 48,500 + 1,900 − 4,200; exchange gain 60 (USD 2,000 at 0.92,
	// paid at 0.95).
	if !sum.IsZero() || !balances["46200"] || !balances["-60"] || !balances["-30000"] {
		t.Fatalf("demo trial balance (sum %s): %s", sum, out)
	}
	// Demo stock in two warehouses, valued in the ledger.
	valCurl := fmt.Sprintf(`curl -s -H "Authorization: Bearer $TOKEN" 'http://%s/v1/reports/inventory-valuation?as_of=%d-12-31'`, addr, time.Now().Year())
	out, err = exec.Command("bash", "-c", script[0]+"\n"+valCurl).CombinedOutput()
	if err != nil {
		t.Fatalf("inventory valuation: %v\n%s", err, out)
	}
	var val struct {
		Products []any  `json:"products"`
		Total    string `json:"total"`
	}
	if err := json.Unmarshal(out, &val); err != nil || len(val.Products) != 32 || money.MustParse(val.Total).Sign() <= 0 {
		t.Fatalf("demo stock valuation (%v): %s", err, out)
	}
	if !balances[money.MustParse(val.Total).Normalize().String()] {
		t.Fatalf("demo stock valued at %s, not an inventory balance of the trial balance", val.Total)
	}
	// The README tour's checkout: priced, taxed, shipping quoted, reserved.
	checkout := fmt.Sprintf(`curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"external_id":"web-1001",`+
		`"customer":{"external_id":"shopper-1","name":"Erika Mustermann"},"ship_to":{"country":"DE","postal_code":"10115","city":"Berlin"},`+
		`"lines":[{"sku":"DEMO-001","quantity":"2"},{"sku":"DEMO-007","quantity":"1"}]}' 'http://%s/v1/orders/checkout'`, addr)
	out, err = exec.Command("bash", "-c", script[0]+"\n"+checkout).CombinedOutput()
	if err != nil {
		t.Fatalf("checkout: %v\n%s", err, out)
	}
	var order struct {
		Status     string `json:"status"`
		GrossTotal string `json:"gross_total"`
		Shipping   *struct {
			CarrierCode string `json:"carrier_code"`
		} `json:"shipping"`
	}
	if err := json.Unmarshal(out, &order); err != nil || order.Status != "confirmed" || order.Shipping == nil || order.Shipping.CarrierCode != "DHL" ||
		money.MustParse(order.GrossTotal).Sign() <= 0 {
		t.Fatalf("demo checkout (%v): %s", err, out)
	}
}

func TestClientsCommand(t *testing.T) {
	env := []string{"MAINSTAY_DATA_DIR=" + t.TempDir()}
	out, stderr, err := mainstay(t, env, "clients", "create", "--name", "shop", "--roles", "sales,inventory", "--json")
	if err != nil {
		t.Fatalf("create: %v %s", err, stderr)
	}
	var created struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || !strings.HasPrefix(created.ClientID, "cli_") || !strings.HasPrefix(created.ClientSecret, "mss_") {
		t.Fatalf("create printed %q (%v)", out, err)
	}
	if _, stderr, err := mainstay(t, env, "clients", "create", "--name", "x", "--roles", "wizard"); err == nil || !strings.Contains(stderr, "wizard") {
		t.Fatalf("unknown role accepted: %v %s", err, stderr)
	}
	if _, stderr, err := mainstay(t, env, "clients", "create", "--name", "x", "--roles", "admin", "--companies", "co_nope"); err == nil || !strings.Contains(stderr, "co_nope") {
		t.Fatalf("unknown company accepted: %v %s", err, stderr)
	}
	if _, _, err := mainstay(t, env, "clients", "revoke", created.ClientID); err != nil {
		t.Fatal(err)
	}
	out, _, err = mainstay(t, env, "clients", "list", "--json")
	var list []struct {
		ClientID  string   `json:"client_id"`
		Roles     []string `json:"roles"`
		RevokedAt *string  `json:"revoked_at"`
	}
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].RevokedAt == nil || list[0].ClientID != created.ClientID {
		t.Fatalf("list after revoke: %q %v", out, err)
	}
	if strings.Contains(out, created.ClientSecret) {
		t.Fatal("list shows the secret")
	}
}

// mainstay audit verify passes on an untouched log and fails, naming the
// row, after one is edited behind the server's back.
func TestAuditVerifyDetectsTampering(t *testing.T) {
	dir := t.TempDir()
	env := []string{"MAINSTAY_DATA_DIR=" + dir}
	for i := range 3 {
		if _, stderr, err := mainstay(t, env, "clients", "create", "--name", fmt.Sprint("c", i), "--roles", "readonly"); err != nil {
			t.Fatalf("%v %s", err, stderr)
		}
	}
	out, stderr, err := mainstay(t, env, "audit", "verify")
	if err != nil {
		t.Fatalf("verify of an untouched log: %v\n%s\n%s", err, out, stderr)
	}
	d := dbtest.OpenURL(t, "sqlite:"+filepath.Join(dir, "mainstay.db"))
	if _, err := d.ExecContext(context.Background(), "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2"); err != nil {
		t.Fatal(err)
	}
	d.Close()
	out, _, err = mainstay(t, env, "audit", "verify")
	if err == nil || !strings.Contains(out, "2") {
		t.Fatalf("verify after an edit: %v\n%s", err, out)
	}
}

// Rotating data keys re-encrypts stored values under new keys.
func TestKeysRotateData(t *testing.T) {
	dir := t.TempDir()
	env := []string{"MAINSTAY_DATA_DIR=" + dir}
	ctx := context.Background()
	addr := freeAddr(t)
	cmd := exec.Command(binary, "serve", "--demo", "--listen", addr)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var out syncBuffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "curl -s -H") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	script := ""
	for _, l := range strings.Split(out.String(), "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "TOKEN=") {
			script = l + "\ncurl -s -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -d '{\"name\":\"Rot\",\"currency\":\"EUR\",\"tax_id\":\"FR123\"}' http://" + addr + "/v1/customers"
		}
	}
	created, err := exec.Command("bash", "-c", script).CombinedOutput()
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if err != nil || !strings.Contains(string(created), `"tax_id":"FR123"`) {
		t.Fatalf("create: %v %s", err, created)
	}
	var id, before string
	d := dbtest.OpenURL(t, "sqlite:"+filepath.Join(dir, "mainstay.db"))
	if err := d.QueryRowContext(ctx, "SELECT id, doc FROM customers WHERE name = 'Rot'").Scan(&id, &before); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if _, stderr, err := mainstay(t, env, "keys", "rotate-data"); err != nil {
		t.Fatalf("rotate-data: %v %s", err, stderr)
	}
	d = dbtest.OpenURL(t, "sqlite:"+filepath.Join(dir, "mainstay.db"))
	var after string
	if err := d.QueryRowContext(ctx, "SELECT doc FROM customers WHERE id = $1", id).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after == before || strings.Contains(after, "FR123") || !strings.Contains(after, "enc:v1:") {
		t.Fatalf("doc not re-encrypted:\n%s\n%s", before, after)
	}
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The README's first command run a second time on the same data: the demo
// company is kept (not seeded again) and new credentials are printed, the
// old client revoked.
func TestDemoRestartKeepsCompany(t *testing.T) {
	dir := t.TempDir()
	start := func() (company, client string) {
		t.Helper()
		addr := freeAddr(t)
		cmd := exec.Command(binary, "serve", "--demo", "--listen", addr, "--data-dir", dir, "--log-level", "warn")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		var out, errOut syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(out.String(), "client_secret:") {
			if time.Now().After(deadline) {
				t.Fatalf("no credentials printed:\n%s\n%s", out.String(), errOut.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, l := range strings.Split(out.String(), "\n") {
			f := strings.Fields(l)
			switch {
			case len(f) > 2 && f[0] == "Demo" && f[1] == "company":
				company = f[2]
			case len(f) == 2 && f[0] == "client_id:":
				client = f[1]
			}
		}
		return company, client
	}
	co1, c1 := start()
	co2, c2 := start()
	if co1 == "" || co1 != co2 || c1 == c2 {
		t.Fatalf("first start: company %q client %q; second: %q %q", co1, c1, co2, c2)
	}
}
