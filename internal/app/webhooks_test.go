package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
)

// receiver is a real HTTP webhook receiver that keeps what it is sent.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []delivered
	answer func(r *http.Request) int // status to answer; nil: 200
	notify chan struct{}
}

type delivered struct {
	header http.Header
	body   []byte
	event  map[string]any
	at     time.Time
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{notify: make(chan struct{}, 1)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		status := 200
		rc.mu.Lock()
		answer := rc.answer
		rc.mu.Unlock()
		if answer != nil {
			status = answer(r)
		}
		if status == 200 {
			var ev map[string]any
			_ = json.Unmarshal(body, &ev)
			rc.mu.Lock()
			rc.got = append(rc.got, delivered{header: r.Header.Clone(), body: body, event: ev, at: time.Now()})
			rc.mu.Unlock()
			select {
			case rc.notify <- struct{}{}:
			default:
			}
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) setAnswer(fn func(r *http.Request) int) {
	rc.mu.Lock()
	rc.answer = fn
	rc.mu.Unlock()
}

func (rc *receiver) all() []delivered {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivered(nil), rc.got...)
}

// waitFor waits until cond holds over what arrived, or fails.
func (rc *receiver) waitFor(t testing.TB, what string, cond func([]delivered) bool) []delivered {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if got := rc.all(); cond(got) {
			return got
		}
		select {
		case <-rc.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; got %d deliveries", what, len(rc.all()))
		}
	}
}

func ofType(got []delivered, typ string) []delivered {
	var out []delivered
	for _, d := range got {
		if d.event["type"] == typ {
			out = append(out, d)
		}
	}
	return out
}

// eventsConfig is a test server that may deliver to loopback receivers
// and polls fast.
func eventsServer(t testing.TB, e db.Engine) *apitest.Server {
	cfg := apitest.Config(t)
	if e == db.Postgres {
		cfg.DatabaseURL = dbtest.PostgresURL(t, false)
	}
	cfg.WebhooksAllowLoopback = true
	cfg.EventsPoll = 50 * time.Millisecond
	cfg.SSEHeartbeat = 200 * time.Millisecond
	return apitest.StartConfig(t, cfg)
}

func newEventWorld(t *testing.T, e db.Engine) *world {
	return setupWorld(t, eventsServer(t, e))
}

func subscribe(t testing.TB, c *apitest.Caller, url string, types ...string) (id, secret string) {
	t.Helper()
	ep := c.Do(t, "POST", "/v1/webhook-endpoints", map[string]any{"url": url, "event_types": types, "description": "test"}).Expect(t, 201).JSON(t)
	return ep["id"].(string), ep["secret"].(string)
}

// A change made over the API reaches a subscribed URL as a CloudEvent
// carrying the record as GET returns it, signed so that the Standard
// Webhooks library verifies it, and the attempt is visible.
func TestWebhookDeliversSignedEvents(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newEventWorld(t, e)
		rc := newReceiver(t)
		sales := w.s.As(t, []string{"sales"}, w.company)
		epID, secret := subscribe(t, sales, rc.srv.URL+"/hook", "mainstay.catalog.*")
		p := w.product(t, "HOOK-1", "9.90")
		got := rc.waitFor(t, "product.created", func(d []delivered) bool { return len(ofType(d, "mainstay.catalog.product.created")) == 1 })
		d := ofType(got, "mainstay.catalog.product.created")[0]
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(d.body, d.header); err != nil {
			t.Fatalf("signature does not verify: %v (headers %v)", err, d.header)
		}
		if d.header.Get("webhook-id") != d.event["id"] || d.event["specversion"] != "1.0" || d.event["subject"] != p["id"] ||
			d.event["companyid"] != w.company || d.event["source"] != "/v1/products" {
			t.Fatalf("delivery %v %v", d.header, d.event)
		}
		tampered := append([]byte(nil), d.body...)
		tampered[len(tampered)-2] ^= 1
		if wh.Verify(tampered, d.header) == nil {
			t.Fatal("a tampered body verified")
		}
		cur := w.admin.Do(t, "GET", "/v1/products/"+p["id"].(string), nil).Expect(t, 200).JSON(t)
		data, _ := json.Marshal(d.event["data"])
		want, _ := json.Marshal(cur)
		if string(data) != string(want) {
			t.Fatalf("data %s\nwant the GET representation %s", data, want)
		}
		first := waitDelivery(t, sales, epID, d.event["id"].(string), "succeeded")
		att := first["attempts"].([]any)
		if first["status"] != "succeeded" || len(att) != 1 || att[0].(map[string]any)["status_code"].(float64) != 200 ||
			att[0].(map[string]any)["response_body"] != `{"ok":true}` {
			t.Fatalf("delivery record %v", first)
		}
		// Another client does not see the endpoint.
		w.s.As(t, []string{"sales"}, w.company).Do(t, "GET", "/v1/webhook-endpoints/"+epID, nil).ExpectProblem(t, 404, apperr.NotFound)
	})
}

// An endpoint receives only what its owner may read: a sales client's
// endpoint subscribed to everything gets catalog events but no ledger
// posting and nothing of another company; it cannot name a type it may
// not read.
func TestWebhookFilteredByOwnerScopesAndCompanies(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newEventWorld(t, e)
		other := newCompanyCaller(t, w)
		rc := newReceiver(t)
		sales := w.s.As(t, []string{"sales"}, w.company)
		p := sales.Do(t, "POST", "/v1/webhook-endpoints", map[string]any{"url": rc.srv.URL, "event_types": []string{"mainstay.ledger.journal_entry.posted"}}).
			ExpectProblem(t, 422, apperr.Invalid)
		if !apitest.HasPointer(p, "/event_types/0") || !strings.Contains(p.Errors[0].Detail, "ledger:read") {
			t.Fatalf("problem %+v", p)
		}
		sales.Do(t, "POST", "/v1/webhook-endpoints", map[string]any{"url": rc.srv.URL, "event_types": []string{"*"}, "company_ids": []string{"co_nope"}}).
			ExpectProblem(t, 422, apperr.Invalid)
		subscribe(t, sales, rc.srv.URL, "*")
		// A ledger posting (ledger:read), another company's product, and
		// finally a product of ours as a marker.
		cash, revenue := accountByCode(t, w.admin, "1000"), accountByCode(t, w.admin, "4000")
		w.admin.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-11-27", "memo": "cash sale", "lines": []any{
			map[string]any{"account_id": cash, "debit": "100"}, map[string]any{"account_id": revenue, "credit": "100"}}}).Expect(t, 201)
		other.Do(t, "POST", "/v1/units-of-measure", map[string]any{"code": "ea", "name": "Each"}).Expect(t, 201)
		w.product(t, "MARK-1", "1.00")
		got := rc.waitFor(t, "the marker product", func(d []delivered) bool { return len(ofType(d, "mainstay.catalog.product.created")) == 1 })
		for _, d := range got {
			typ := d.event["type"].(string)
			if strings.HasPrefix(typ, "mainstay.ledger.") || d.event["companyid"] != w.company {
				t.Fatalf("sales endpoint received %s of company %v", typ, d.event["companyid"])
			}
		}
	})
}

// waitDelivery waits until the endpoint's delivery of an event has status.
func waitDelivery(t testing.TB, c *apitest.Caller, endpointID, eventID, status string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		dl := c.Do(t, "GET", "/v1/webhook-endpoints/"+endpointID+"/deliveries?event_id="+eventID, nil).Expect(t, 200).JSON(t)["data"].([]any)
		if len(dl) == 1 && dl[0].(map[string]any)["status"] == status {
			return dl[0].(map[string]any)
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery of %s never reached %s: %v", eventID, status, dl)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Two nodes on one PostgreSQL deliver each event to each endpoint once:
// their workers claim deliveries with leases (FOR UPDATE SKIP LOCKED).
func TestTwoNodesDeliverEachEventOnce(t *testing.T) {
	cfg := apitest.Config(t)
	cfg.DatabaseURL = dbtest.PostgresURL(t, false)
	cfg.WebhooksAllowLoopback, cfg.EventsPoll = true, 20*time.Millisecond
	one := apitest.StartConfig(t, cfg)
	w := setupWorld(t, one)
	cfg2 := cfg
	cfg2.DataDir = t.TempDir()
	two := apitest.StartConfig(t, cfg2)
	rcA, rcB := newReceiver(t), newReceiver(t)
	subscribe(t, w.admin, rcA.srv.URL, "mainstay.catalog.product.created")
	subscribe(t, w.admin, rcB.srv.URL, "mainstay.catalog.product.*")
	onTwo := w.admin.On(two)
	const n = 60
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := w.admin
			if i%2 == 1 {
				c = onTwo
			}
			c.Do(t, "POST", "/v1/products", map[string]any{"sku": "TWO-" + string(rune('A'+i%26)) + string(rune('a'+i/26)), "name": "two",
				"stock_unit_id": w.unit, "list_price": "1", "currency": "EUR"}).Expect(t, 201)
		}()
	}
	wg.Wait()
	for _, rc := range []*receiver{rcA, rcB} {
		rc.waitFor(t, "every product", func(d []delivered) bool { return len(ofType(d, "mainstay.catalog.product.created")) >= n })
		// Give a doubled delivery time to show itself.
		time.Sleep(300 * time.Millisecond)
		got := rc.all()
		seen := map[string]int{}
		for _, d := range got {
			seen[d.header.Get("webhook-id")]++
			if d.header.Get("webhook-id") != d.event["id"] {
				t.Fatalf("webhook-id %s for event %v", d.header.Get("webhook-id"), d.event["id"])
			}
		}
		for id, c := range seen {
			if c != 1 {
				t.Errorf("event %s delivered %d times", id, c)
			}
		}
		if len(ofType(got, "mainstay.catalog.product.created")) != n {
			t.Fatalf("%d product events, want %d", len(ofType(got, "mainstay.catalog.product.created")), n)
		}
	}
}

// The change feed pages through events in commit order with deletions,
// filters by type and subject, and shows a caller only its scopes and
// companies.
func TestChangeFeed(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newEventWorld(t, e)
		other := newCompanyCaller(t, w)
		other.Do(t, "POST", "/v1/units-of-measure", map[string]any{"code": "ea", "name": "Each"}).Expect(t, 201)
		var ids []string
		for _, sku := range []string{"F-1", "F-2", "F-3"} {
			ids = append(ids, w.product(t, sku, "2.00")["id"].(string))
		}
		w.admin.Do(t, "DELETE", "/v1/products/"+ids[1], nil).Expect(t, 204)
		cash, revenue := accountByCode(t, w.admin, "1000"), accountByCode(t, w.admin, "4000")
		w.admin.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-11-27", "memo": "x", "lines": []any{
			map[string]any{"account_id": cash, "debit": "5"}, map[string]any{"account_id": revenue, "credit": "5"}}}).Expect(t, 201)
		sales := w.s.As(t, []string{"sales"}, w.company)
		// Page through with page_size 2 until the deletion shows.
		read := func(c *apitest.Caller, q string) []map[string]any {
			var out []map[string]any
			deadline := time.Now().Add(10 * time.Second)
			cursor := "0"
			for {
				page := c.Do(t, "GET", "/v1/events?page_size=2&after="+cursor+q, nil).Expect(t, 200).JSON(t)
				for _, ev := range page["events"].([]any) {
					out = append(out, ev.(map[string]any))
				}
				next := page["next_cursor"].(string)
				if !page["has_more"].(bool) {
					if time.Now().After(deadline) || hasType(out, "mainstay.ledger.journal_entry.posted") || strings.Contains(q, "subject") || c != w.admin {
						return out
					}
					time.Sleep(50 * time.Millisecond)
				}
				cursor = next
			}
		}
		var all []map[string]any
		deadline := time.Now().Add(10 * time.Second)
		for !hasType(all, "mainstay.ledger.journal_entry.posted") {
			if time.Now().After(deadline) {
				t.Fatalf("feed never showed the journal entry: %v", all)
			}
			all = read(w.admin, "")
		}
		last := int64(0)
		for _, ev := range all {
			var seq int64
			fmt.Sscan(ev["sequence"].(string), &seq)
			if seq <= last {
				t.Fatalf("feed out of order at %v", ev)
			}
			last = seq
		}
		del := ofTypeMap(all, "mainstay.catalog.product.deleted")
		if len(del) != 1 || del[0]["subject"] != ids[1] || del[0]["data"].(map[string]any)["id"] != ids[1] {
			t.Fatalf("deletion in feed: %v", del)
		}
		if got := read(w.admin, "&subject="+ids[0]); len(got) != 1 || got[0]["type"] != "mainstay.catalog.product.created" {
			t.Fatalf("subject filter: %v", got)
		}
		if got := read(w.admin, "&types=mainstay.catalog.product.deleted"); len(got) != 1 {
			t.Fatalf("types filter: %v", got)
		}
		for _, ev := range read(sales, "") {
			if strings.HasPrefix(ev["type"].(string), "mainstay.ledger.") || ev["companyid"] != w.company {
				t.Fatalf("sales client sees %v of %v", ev["type"], ev["companyid"])
			}
		}
		if len(read(sales, "")) == 0 {
			t.Fatal("sales client sees nothing: the filter proves nothing")
		}
		now := w.admin.Do(t, "GET", "/v1/events?after=now", nil).Expect(t, 200).JSON(t)
		if len(now["events"].([]any)) != 0 || now["next_cursor"].(string) == "0" {
			t.Fatalf("after=now: %v", now)
		}
		w.admin.Do(t, "GET", "/v1/events?after=abc", nil).ExpectProblem(t, 400, apperr.BadRequest)
		w.admin.Do(t, "GET", "/v1/events?types=mainstay.nope.thing.done", nil).ExpectProblem(t, 400, apperr.BadRequest)
		xml := w.admin.Do(t, "GET", "/v1/events?page_size=1", nil, "Accept", "application/xml").Expect(t, 200)
		if !strings.Contains(string(xml.Body), "<next_cursor>") {
			t.Fatalf("XML feed: %s", xml.Body)
		}
	})
}

func hasType(evs []map[string]any, typ string) bool { return len(ofTypeMap(evs, typ)) > 0 }

func ofTypeMap(evs []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, ev := range evs {
		if ev["type"] == typ {
			out = append(out, ev)
		}
	}
	return out
}

type sseMsg struct {
	id, event string
	data      map[string]any
}

// openStream connects to the event stream and sends each message, and
// each heartbeat as an event ":heartbeat", on the returned channel until
// cancel is called.
func openStream(t *testing.T, base string, c *apitest.Caller, query, lastID string) (<-chan sseMsg, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/events/stream"+query, nil)
	req.Header.Set("Authorization", "Bearer "+c.Token(t))
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		cancel()
		t.Fatalf("stream: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	out := make(chan sseMsg, 1000)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var m sseMsg
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, ": heartbeat"):
				out <- sseMsg{event: ":heartbeat"}
			case strings.HasPrefix(line, "id: "):
				m.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				m.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &m.data)
			case line == "" && m.id != "":
				out <- m
				m = sseMsg{}
			}
		}
	}()
	return out, cancel
}

// A stream client cut off during a burst of writes resumes with
// Last-Event-ID and receives every event once, in order; idle streams
// carry heartbeats.
func TestEventStreamResumesWithoutGap(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newEventWorld(t, e)
		sales := w.s.As(t, []string{"sales"}, w.company)
		msgs, cancel := openStream(t, w.s.URL, sales, "?types=mainstay.catalog.product.created", "")
		// Idle: a heartbeat comes.
		select {
		case m := <-msgs:
			if m.event != ":heartbeat" {
				t.Fatalf("first message on an idle stream: %+v", m)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no heartbeat")
		}
		const n = 40
		want := map[string]bool{}
		var wmu sync.Mutex
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range n {
				p := w.product(t, fmt.Sprintf("SSE-%02d", i), "1.00")
				wmu.Lock()
				want[p["id"].(string)] = true
				wmu.Unlock()
			}
		}()
		got := map[string]int{}
		var order []int64
		lastID := ""
		take := func(m sseMsg) {
			if m.event == ":heartbeat" {
				return
			}
			if m.event != "mainstay.catalog.product.created" || m.data["sequence"] != m.id {
				t.Fatalf("message %+v", m)
			}
			got[m.data["subject"].(string)]++
			var seq int64
			fmt.Sscan(m.id, &seq)
			order = append(order, seq)
			lastID = m.id
		}
		// Read ten, then drop the connection mid-burst.
		for len(order) < 10 {
			select {
			case m := <-msgs:
				take(m)
			case <-time.After(10 * time.Second):
				t.Fatalf("stream stalled at %d", len(order))
			}
		}
		cancel()
		for range msgs {
			// Drain what was buffered before the cut; it is not read.
		}
		msgs, cancel = openStream(t, w.s.URL, sales, "?types=mainstay.catalog.product.created", lastID)
		defer cancel()
		<-done
		deadline := time.After(15 * time.Second)
		for len(got) < n {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatal("stream ended")
				}
				take(m)
			case <-deadline:
				t.Fatalf("only %d of %d after resuming", len(got), n)
			}
		}
		for s, c := range got {
			if !want[s] || c != 1 {
				t.Fatalf("product %s received %d times (wanted: %v)", s, c, want[s])
			}
		}
		for i := 1; i < len(order); i++ {
			if order[i] <= order[i-1] {
				t.Fatalf("out of order: %v", order)
			}
		}
	})
}

// The catalogue lists every declared type with its scope and a JSON
// Schema of its payload whose references resolve; /metrics shows the
// delivery backlog and throughput.
func TestEventCatalogueAndMetrics(t *testing.T) {
	w := newEventWorld(t, db.SQLite)
	cat := w.admin.Do(t, "GET", "/v1/events/schema", nil).Expect(t, 200).JSON(t)
	defs := cat["$defs"].(map[string]any)
	types := map[string]map[string]any{}
	for _, raw := range cat["types"].([]any) {
		ty := raw.(map[string]any)
		types[ty["type"].(string)] = ty
	}
	for name, scope := range map[string]string{
		"mainstay.catalog.product.deleted":           "catalog:read",
		"mainstay.sales.invoice.finalized":           "sales:read",
		"mainstay.ledger.journal_entry.posted":       "ledger:read",
		"mainstay.webhooks.webhook_endpoint.failing": "webhooks:read",
	} {
		ty, ok := types[name]
		if !ok || ty["scope"] != scope {
			t.Fatalf("catalogue entry %s: %v", name, ty)
		}
		ref, _ := ty["data"].(map[string]any)["$ref"].(string)
		if !strings.HasPrefix(ref, "#/$defs/") || defs[strings.TrimPrefix(ref, "#/$defs/")] == nil {
			t.Fatalf("%s data schema %v does not resolve", name, ty["data"])
		}
	}
	inv := defs["Invoice"].(map[string]any)["properties"].(map[string]any)
	if inv["gross_total"] == nil {
		t.Fatalf("invoice schema lacks gross_total: %v", inv)
	}
	rc := newReceiver(t)
	subscribe(t, w.admin, rc.srv.URL, "mainstay.catalog.product.created")
	w.product(t, "MET-1", "1.00")
	rc.waitFor(t, "the product", func(d []delivered) bool { return len(d) == 1 })
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := w.s.Get(t, "/metrics")
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := string(body)
		if strings.Contains(m, "mainstay_webhook_delivered_total 1") && strings.Contains(m, "mainstay_webhook_backlog 0") &&
			strings.Contains(m, "mainstay_webhook_commit_to_delivery_seconds_count 1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics: %s", m)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// docs/events.md lists every event type the code declares.
func TestEventCatalogueDoc(t *testing.T) {
	apitest.Start(t, db.SQLite) // declares every resource's events
	var sb strings.Builder
	sb.WriteString("<!-- catalogue:start -->\n| type | scope | when |\n|---|---|---|\n")
	for _, ty := range events.Catalogue() {
		if strings.HasPrefix(ty.Name, "mainstay.test.") {
			continue
		}
		fmt.Fprintf(&sb, "| `%s` | `%s` | %s |\n", ty.Name, ty.Scope, strings.ReplaceAll(ty.Description, "|", "\\|"))
	}
	sb.WriteString("<!-- catalogue:end -->")
	raw, err := os.ReadFile("../../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	start, end := strings.Index(doc, "<!-- catalogue:start -->"), strings.Index(doc, "<!-- catalogue:end -->")
	if start < 0 || end < start {
		t.Fatal("docs/events.md has no catalogue markers")
	}
	fresh := doc[:start] + sb.String() + doc[end+len("<!-- catalogue:end -->"):]
	if *update {
		if err := os.WriteFile("../../docs/events.md", []byte(fresh), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if fresh != doc {
		t.Fatal("docs/events.md's catalogue is stale: run go test ./internal/app -run TestEventCatalogueDoc -update")
	}
}

// The endpoint API: a test ping is signed and answered; a rotation signs
// with both secrets; replay sends an event again under its webhook-id;
// PATCH needs If-Match; a 410 disables the endpoint and re-enabling it
// delivers what waited; deleting emits an event.
func TestWebhookEndpointAPI(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newEventWorld(t, e)
		rc := newReceiver(t)
		epID, secret := subscribe(t, w.admin, rc.srv.URL, "mainstay.catalog.product.*")
		ping := w.admin.Do(t, "POST", "/v1/webhook-endpoints/"+epID+"/test", nil).Expect(t, 200).JSON(t)
		got := rc.waitFor(t, "the ping", func(d []delivered) bool { return len(d) == 1 })
		wh, _ := standardwebhooks.NewWebhook(secret)
		if ping["succeeded"] != true || ping["status_code"].(float64) != 200 || got[0].event["type"] != "mainstay.webhooks.webhook_endpoint.pinged" ||
			wh.Verify(got[0].body, got[0].header) != nil || got[0].header.Get("webhook-id") != ping["webhook_id"] {
			t.Fatalf("ping %v, received %v", ping, got[0].event)
		}

		rot := w.admin.Do(t, "POST", "/v1/webhook-endpoints/"+epID+"/rotate-secret", map[string]any{"previous_secret_valid_for_seconds": 3600}).Expect(t, 200).JSON(t)
		newSecret := rot["secret"].(string)
		if newSecret == secret || rot["previous_secret_expires_at"] == nil {
			t.Fatalf("rotation %v", rot)
		}
		p := w.product(t, "ROT-1", "1.00")
		got = rc.waitFor(t, "a delivery after rotation", func(d []delivered) bool { return len(ofType(d, "mainstay.catalog.product.created")) == 1 })
		d := ofType(got, "mainstay.catalog.product.created")[0]
		whNew, _ := standardwebhooks.NewWebhook(newSecret)
		if sigs := strings.Fields(d.header.Get("webhook-signature")); len(sigs) != 2 || wh.Verify(d.body, d.header) != nil || whNew.Verify(d.body, d.header) != nil {
			t.Fatalf("during rotation both secrets must verify: %v", d.header.Get("webhook-signature"))
		}

		evID := d.event["id"].(string)
		waitDelivery(t, w.admin, epID, evID, "succeeded")
		rep := w.admin.Do(t, "POST", "/v1/webhook-endpoints/"+epID+"/replay", map[string]any{"event_id": evID}).Expect(t, 202).JSON(t)
		if rep["queued"].(float64) != 1 {
			t.Fatalf("replay %v", rep)
		}
		rc.waitFor(t, "the replay", func(d []delivered) bool { return len(ofType(d, "mainstay.catalog.product.created")) == 2 })
		dl := waitDelivery(t, w.admin, epID, evID, "succeeded")
		att := dl["attempts"].([]any)
		if len(att) != 2 || att[0].(map[string]any)["cause"] != "replay" {
			t.Fatalf("attempts after replay %v", att)
		}
		if d2 := ofType(rc.all(), "mainstay.catalog.product.created")[1]; d2.header.Get("webhook-id") != evID {
			t.Fatalf("replay under another id %s", d2.header.Get("webhook-id"))
		}
		w.admin.Do(t, "POST", "/v1/webhook-endpoints/"+epID+"/replay", map[string]any{}).ExpectProblem(t, 422, apperr.Invalid)

		// 410 disables; what happens meanwhile waits and arrives after
		// re-enabling.
		rc.setAnswer(func(*http.Request) int { return http.StatusGone })
		w.admin.Do(t, "PATCH", "/v1/products/"+p["id"].(string), map[string]any{"name": "renamed"},
			"Content-Type", "application/merge-patch+json", "If-Match", `"1"`).Expect(t, 200)
		var ep map[string]any
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := w.admin.Do(t, "GET", "/v1/webhook-endpoints/"+epID, nil).Expect(t, 200)
			ep = r.JSON(t)
			if ep["status"] == "disabled" {
				ep["etag"] = r.Header.Get("ETag")
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("410 did not disable: %v", ep)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if ep["enabled"] != false || !strings.Contains(ep["status_reason"].(string), "410") {
			t.Fatalf("disabled endpoint %v", ep)
		}
		w.product(t, "ROT-2", "1.00")
		rc.setAnswer(nil)
		w.admin.Do(t, "PATCH", "/v1/webhook-endpoints/"+epID, map[string]any{"enabled": true}, "Content-Type", "application/merge-patch+json").
			ExpectProblem(t, 428, apperr.PreconditionRequired)
		w.admin.Do(t, "PATCH", "/v1/webhook-endpoints/"+epID, map[string]any{"enabled": true}, "Content-Type", "application/merge-patch+json",
			"If-Match", ep["etag"].(string)).Expect(t, 200)
		rc.waitFor(t, "what waited", func(d []delivered) bool {
			return len(ofType(d, "mainstay.catalog.product.updated")) == 1 && len(ofType(d, "mainstay.catalog.product.created")) == 3
		})

		w.admin.Do(t, "PATCH", "/v1/webhook-endpoints/"+epID, map[string]any{"url": "http://10.0.0.1/x"}, "Content-Type", "application/merge-patch+json",
			"If-Match", "*").ExpectProblem(t, 422, apperr.Invalid)
		w.admin.Do(t, "DELETE", "/v1/webhook-endpoints/"+epID, nil).Expect(t, 204)
		w.admin.Do(t, "GET", "/v1/webhook-endpoints/"+epID, nil).ExpectProblem(t, 404, apperr.NotFound)
		evs, _ := drainFeed(t, w.s.App.DB())
		kinds := map[string]bool{}
		for _, ev := range evs {
			kinds[ev.Type] = true
		}
		for _, k := range []string{"mainstay.webhooks.webhook_endpoint.created", "mainstay.webhooks.webhook_endpoint.disabled", "mainstay.webhooks.webhook_endpoint.deleted"} {
			if !kinds[k] {
				t.Errorf("no %s in the feed", k)
			}
		}
	})
}

// A graceful shutdown ends open event streams at once instead of waiting
// out its timeout for them (clients resume with Last-Event-ID).
func TestShutdownEndsEventStreams(t *testing.T) {
	w := newEventWorld(t, db.SQLite)
	msgs, cancel := openStream(t, w.s.URL, w.admin, "", "")
	defer cancel()
	start := time.Now()
	if err := w.s.Stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %s with a stream open (the timeout is 10s)", d)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-msgs:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the stream did not end")
		}
	}
}
