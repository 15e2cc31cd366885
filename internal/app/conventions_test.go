package app_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/sequencer"
)

// world is a server with one company, an admin client working in it, and a
// unit of measure to make products with.
type world struct {
	s       *apitest.Server
	admin   *apitest.Caller
	company string
	unit    string
}

func newWorld(t *testing.T, e db.Engine) *world {
	t.Helper()
	s := apitest.Start(t, e)
	return setupWorld(t, s)
}

func setupWorld(t testing.TB, s *apitest.Server) *world {
	t.Helper()
	root := s.As(t, []string{"admin"})
	co := root.Do(t, "POST", "/v1/companies", map[string]any{"legal_name": "Acme GmbH", "base_currency": "EUR", "time_zone": "Europe/Berlin"}).
		Expect(t, 201).JSON(t)
	w := &world{s: s, company: co["id"].(string)}
	w.admin = s.As(t, []string{"admin"}, w.company)
	w.unit = w.admin.Do(t, "POST", "/v1/units-of-measure", map[string]any{"code": "ea", "name": "Each"}).Expect(t, 201).JSON(t)["id"].(string)
	return w
}

func (w *world) product(t testing.TB, sku, price string, extra ...string) map[string]any {
	t.Helper()
	body := map[string]any{"sku": sku, "name": "Thing " + sku, "stock_unit_id": w.unit, "list_price": price, "currency": "EUR"}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i]] = extra[i+1]
	}
	return w.admin.Do(t, "POST", "/v1/products", body).Expect(t, 201).JSON(t)
}

func forEngines(t *testing.T, fn func(t *testing.T, e db.Engine)) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) { fn(t, e) })
	}
}

// drainFeed numbers the outbox and audit log and returns both.
func drainFeed(t *testing.T, d *db.DB) ([]events.Stored, []audit.Stored) {
	t.Helper()
	ctx := context.Background()
	for _, tbl := range sequencer.Tables {
		if _, err := sequencer.Assign(ctx, d, tbl); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := events.After(ctx, d, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	aud, err := audit.After(ctx, d, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return evs, aud
}

func TestProductLifecycleWritesEventsAndAudit(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		created := w.admin.Do(t, "POST", "/v1/products", map[string]any{
			"sku": "SKU-1", "name": "Mug", "stock_unit_id": w.unit, "list_price": "12.50", "currency": "EUR", "external_id": "gid://shopify/Product/1",
		}).Expect(t, 201)
		p := created.JSON(t)
		id := p["id"].(string)
		if !strings.HasPrefix(id, "prod_") || p["list_price"] != "12.50" || p["company_id"] != w.company || p["active"] != true {
			t.Fatalf("created %s", created.Body)
		}
		if created.Header.Get("Location") != "/v1/products/"+id || created.Header.Get("ETag") == "" {
			t.Fatalf("Location %q ETag %q", created.Header.Get("Location"), created.Header.Get("ETag"))
		}
		got := w.admin.Do(t, "GET", "/v1/products/"+id, nil).Expect(t, 200)
		etag := got.Header.Get("ETag")
		ext := w.admin.Do(t, "GET", "/v1/products/external/"+url.PathEscape("gid://shopify/Product/1"), nil).Expect(t, 200).JSON(t)
		if ext["id"] != id {
			t.Fatalf("external look-up found %v", ext["id"])
		}
		patched := w.admin.Do(t, "PATCH", "/v1/products/"+id, `{"list_price":"13.00","description":"blue"}`,
			"Content-Type", "application/merge-patch+json", "If-Match", etag).Expect(t, 200)
		if patched.JSON(t)["list_price"] != "13.00" || patched.Header.Get("ETag") == etag {
			t.Fatalf("patched %s (ETag %s)", patched.Body, patched.Header.Get("ETag"))
		}
		// Clearing a member with null.
		cleared := w.admin.Do(t, "PATCH", "/v1/products/"+id, `{"description":null}`,
			"Content-Type", "application/merge-patch+json", "If-Match", patched.Header.Get("ETag")).Expect(t, 200).JSON(t)
		if _, has := cleared["description"]; has {
			t.Fatalf("null did not clear description: %v", cleared)
		}
		w.admin.Do(t, "DELETE", "/v1/products/"+id, nil).Expect(t, 204)
		w.admin.Do(t, "GET", "/v1/products/"+id, nil).ExpectProblem(t, 404, apperr.NotFound)

		evs, aud := drainFeed(t, w.s.App.DB())
		var types []string
		for _, ev := range evs {
			if ev.Subject == id {
				types = append(types, ev.Type)
			}
		}
		want := []string{"mainstay.catalog.product.created", "mainstay.catalog.product.updated", "mainstay.catalog.product.updated", "mainstay.catalog.product.deleted"}
		if strings.Join(types, ",") != strings.Join(want, ",") {
			t.Fatalf("events %v, want %v", types, want)
		}
		var actions []string
		for _, a := range aud {
			if a.ResourceID == id {
				actions = append(actions, a.Action+"@"+a.Actor)
				if a.RequestID == "" {
					t.Errorf("audit row without request ID: %+v", a)
				}
			}
		}
		wantAudit := fmt.Sprintf("product.create@%[1]s,product.update@%[1]s,product.update@%[1]s,product.delete@%[1]s", w.admin.ID)
		if strings.Join(actions, ",") != wantAudit {
			t.Fatalf("audit %v, want %s", actions, wantAudit)
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		body := map[string]any{"sku": "IDEM-1", "name": "Once", "stock_unit_id": w.unit, "list_price": "1.00", "currency": "EUR"}
		first := w.admin.Do(t, "POST", "/v1/products", body, "Idempotency-Key", "key-1").Expect(t, 201)
		again := w.admin.Do(t, "POST", "/v1/products", body, "Idempotency-Key", "key-1").Expect(t, 201)
		if string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay differs:\n%s\n%s", first.Body, again.Body)
		}
		if again.Header.Get("Location") != first.Header.Get("Location") || again.Header.Get("ETag") != first.Header.Get("ETag") {
			t.Fatal("replay lost Location or ETag")
		}
		body["name"] = "Other"
		p := w.admin.Do(t, "POST", "/v1/products", body, "Idempotency-Key", "key-1").ExpectProblem(t, 422, apperr.Invalid)
		if !apitest.HasPointer(p, "header:Idempotency-Key") {
			t.Fatalf("422 does not point at the header: %+v", p)
		}
		// A request refused by validation stores nothing: the key can be
		// used again once the body is right.
		bad := map[string]any{"sku": "IDEM-2", "name": "Bad", "stock_unit_id": w.unit, "list_price": 5, "currency": "EUR"}
		w.admin.Do(t, "POST", "/v1/products", bad, "Idempotency-Key", "key-2").ExpectProblem(t, 422, apperr.Invalid)
		bad["list_price"] = "5.00"
		w.admin.Do(t, "POST", "/v1/products", bad, "Idempotency-Key", "key-2").Expect(t, 201)
		// Keys belong to a client: another client's same key is a new request.
		other := w.s.As(t, []string{"admin"}, w.company)
		body["sku"], body["name"] = "IDEM-3", "Third"
		other.Do(t, "POST", "/v1/products", body, "Idempotency-Key", "key-1").Expect(t, 201)

		list := w.admin.Do(t, "GET", "/v1/products?filter="+url.QueryEscape(`sku = "IDEM-1"`), nil).Expect(t, 200).JSON(t)
		if n := len(list["data"].([]any)); n != 1 {
			t.Fatalf("%d products with IDEM-1, want 1", n)
		}
	})
}

// Two requests with one key truly overlap (the handler holds the first
// until the second has been answered): the second is 409.
func TestIdempotencyKeyInFlightIs409(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		started, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		w.s.App.API().Mux().HandleFunc("POST /v1/test/slow", func(rw http.ResponseWriter, r *http.Request) {
			once.Do(func() { close(started) })
			<-release
			rw.WriteHeader(http.StatusCreated)
			fmt.Fprint(rw, `{"ok":true}`)
		})
		var firstStatus int
		done := make(chan struct{})
		go func() {
			defer close(done)
			firstStatus = w.admin.Do(t, "POST", "/v1/test/slow", `{}`, "Idempotency-Key", "slow", "Content-Type", "application/json").Status
		}()
		<-started
		second := w.admin.Do(t, "POST", "/v1/test/slow", `{}`, "Idempotency-Key", "slow", "Content-Type", "application/json")
		close(release)
		<-done
		second.ExpectProblem(t, 409, apperr.Conflict)
		if firstStatus != 201 {
			t.Fatalf("first request %d", firstStatus)
		}
		third := w.admin.Do(t, "POST", "/v1/test/slow", `{}`, "Idempotency-Key", "slow", "Content-Type", "application/json").Expect(t, 201)
		if third.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatal("after the first finished, the key did not replay")
		}
	})
}

// The stored response survives a restart: it lives in the database.
func TestIdempotentReplayAfterRestart(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		cfg := apitest.Config(t)
		if e == db.Postgres {
			cfg.DatabaseURL = dbtest.PostgresURL(t, false)
		}
		s := apitest.StartConfig(t, cfg)
		w := setupWorld(t, s)
		body := map[string]any{"sku": "R-1", "name": "Restart", "stock_unit_id": w.unit, "list_price": "2.00", "currency": "EUR"}
		first := w.admin.Do(t, "POST", "/v1/products", body, "Idempotency-Key", "restart").Expect(t, 201)
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		s2 := apitest.StartConfig(t, cfg)
		w.admin = rebind(t, w.admin, s2)
		again := w.admin.Do(t, "POST", "/v1/products", body, "Idempotency-Key", "restart").Expect(t, 201)
		if string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("after restart:\n%s\n%s", first.Body, again.Body)
		}
	})
}

func rebind(t *testing.T, c *apitest.Caller, s *apitest.Server) *apitest.Caller {
	t.Helper()
	return c.On(s)
}

func TestConditionalWrites(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		p := w.product(t, "C-1", "1.00")
		id := p["id"].(string)
		patch := `{"name":"New"}`
		mp := "application/merge-patch+json"
		w.admin.Do(t, "PATCH", "/v1/products/"+id, patch, "Content-Type", mp).ExpectProblem(t, 428, apperr.PreconditionRequired)
		w.admin.Do(t, "PATCH", "/v1/products/"+id, patch, "Content-Type", mp, "If-Match", `"999"`).ExpectProblem(t, 412, apperr.PreconditionFailed)
		etag := w.admin.Do(t, "GET", "/v1/products/"+id, nil).Header.Get("ETag")
		w.admin.Do(t, "PATCH", "/v1/products/"+id, patch, "Content-Type", mp, "If-Match", etag).Expect(t, 200)
		// The old ETag is now stale.
		w.admin.Do(t, "PATCH", "/v1/products/"+id, `{"name":"Newer"}`, "Content-Type", mp, "If-Match", etag).ExpectProblem(t, 412, apperr.PreconditionFailed)
		// Another company's record is 404 even with a matching ETag.
		stranger := newCompanyCaller(t, w)
		stranger.Do(t, "PATCH", "/v1/products/"+id, patch, "Content-Type", mp, "If-Match", etag).ExpectProblem(t, 404, apperr.NotFound)
		// Read-only members cannot be set.
		cur := w.admin.Do(t, "GET", "/v1/products/"+id, nil)
		pr := w.admin.Do(t, "PATCH", "/v1/products/"+id, `{"id":"prod_x","created_at":"2020-01-01T00:00:00Z"}`, "Content-Type", mp, "If-Match", cur.Header.Get("ETag")).
			ExpectProblem(t, 422, apperr.Invalid)
		if !apitest.HasPointer(pr, "/id") || !apitest.HasPointer(pr, "/created_at") {
			t.Fatalf("read-only errors %+v", pr.Errors)
		}
		pr = w.admin.Do(t, "PATCH", "/v1/products/"+id, `{"company_id":"co_other"}`, "Content-Type", mp, "If-Match", cur.Header.Get("ETag")).
			ExpectProblem(t, 422, apperr.Invalid)
		if !apitest.HasPointer(pr, "/company_id") {
			t.Fatalf("company change errors %+v", pr.Errors)
		}
	})
}

// newCompanyCaller makes a second company and an admin working only there.
func newCompanyCaller(t *testing.T, w *world) *apitest.Caller {
	t.Helper()
	root := w.s.As(t, []string{"admin"})
	co := root.Do(t, "POST", "/v1/companies", map[string]any{"legal_name": "Other Ltd", "base_currency": "GBP"}).Expect(t, 201).JSON(t)
	return w.s.As(t, []string{"admin"}, co["id"].(string))
}

func TestStrictDecoding(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		p := w.admin.Do(t, "POST", "/v1/products", map[string]any{"sku": "S", "name": "N", "stock_unit_id": w.unit, "list_price": "1", "currency": "EUR", "colour": "red"}).
			ExpectProblem(t, 422, apperr.Invalid)
		if !apitest.HasPointer(p, "/colour") {
			t.Fatalf("unknown field not pointed at: %+v", p.Errors)
		}
		p = w.admin.Do(t, "POST", "/v1/products", map[string]any{"name": "N", "stock_unit_id": w.unit, "list_price": 1.5, "currency": "EUR", "dimensions": map[string]any{"length": "1", "width": "1", "height": "x", "unit": "cm"}}).
			ExpectProblem(t, 422, apperr.Invalid)
		for _, ptr := range []string{"/sku", "/list_price", "/dimensions/height"} {
			if !apitest.HasPointer(p, ptr) {
				t.Errorf("no error at %s: %+v", ptr, p.Errors)
			}
		}
		w.admin.Do(t, "POST", "/v1/products", `{"sku": "S",`, "Content-Type", "application/json").ExpectProblem(t, 400, apperr.BadRequest)
		w.admin.Do(t, "POST", "/v1/products", `[1]`, "Content-Type", "application/json").ExpectProblem(t, 422, apperr.Invalid)
		w.admin.Do(t, "POST", "/v1/products", `sku=S`, "Content-Type", "application/x-www-form-urlencoded").ExpectProblem(t, 415, apperr.UnsupportedMedia)
		w.admin.Do(t, "POST", "/v1/products", `{"sku":"S"}`).ExpectProblem(t, 415, apperr.UnsupportedMedia)
		big := `{"name":"` + strings.Repeat("x", 2<<20) + `"}`
		w.admin.Do(t, "POST", "/v1/products", big, "Content-Type", "application/json").ExpectProblem(t, 413, apperr.TooLarge)
		// Business rules name their field too.
		for ptr, body := range map[string]map[string]any{
			"/currency":      {"sku": "S", "name": "N", "stock_unit_id": w.unit, "list_price": "1", "currency": "XYZ"},
			"/list_price":    {"sku": "S", "name": "N", "stock_unit_id": w.unit, "list_price": "-1", "currency": "EUR"},
			"/stock_unit_id": {"sku": "S", "name": "N", "stock_unit_id": "uom_nope", "list_price": "1", "currency": "EUR"},
		} {
			p = w.admin.Do(t, "POST", "/v1/products", body).ExpectProblem(t, 422, apperr.Invalid)
			if !apitest.HasPointer(p, ptr) {
				t.Errorf("no error at %s: %+v", ptr, p.Errors)
			}
		}
		// Nothing was written by any of these.
		list := w.admin.Do(t, "GET", "/v1/products", nil).Expect(t, 200).JSON(t)
		if n := len(list["data"].([]any)); n != 0 {
			t.Fatalf("%d products after only failed creates", n)
		}
	})
}

func TestXMLRoundTrip(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		body := `<?xml version="1.0"?><product><sku>XML-1</sku><name>Über &amp; more</name><stock_unit_id>` + w.unit +
			`</stock_unit_id><list_price>9.99</list_price><currency>EUR</currency><active>true</active>` +
			`<dimensions><length>10</length><width>5</width><height>2.5</height><unit>cm</unit></dimensions></product>`
		created := w.admin.Do(t, "POST", "/v1/products", body, "Content-Type", "application/xml", "Accept", "application/xml").Expect(t, 201)
		if !strings.HasPrefix(created.Header.Get("Content-Type"), "application/xml") {
			t.Fatalf("Content-Type %q", created.Header.Get("Content-Type"))
		}
		var p struct {
			XMLName   xml.Name `xml:"product"`
			ID        string   `xml:"id"`
			Name      string   `xml:"name"`
			ListPrice string   `xml:"list_price"`
			Active    bool     `xml:"active"`
			Height    string   `xml:"dimensions>height"`
		}
		if err := xml.Unmarshal(created.Body, &p); err != nil {
			t.Fatalf("%v: %s", err, created.Body)
		}
		if p.Name != "Über & more" || p.ListPrice != "9.99" || !p.Active || p.Height != "2.5" {
			t.Fatalf("XML create gave %+v", p)
		}
		// Read it back as XML and as JSON: the same record.
		back := w.admin.Do(t, "GET", "/v1/products/"+p.ID, nil, "Accept", "application/xml").Expect(t, 200)
		var again struct {
			Name string `xml:"name"`
		}
		if err := xml.Unmarshal(back.Body, &again); err != nil || again.Name != p.Name {
			t.Fatalf("XML read %q %v", again.Name, err)
		}
		js := w.admin.Do(t, "GET", "/v1/products/"+p.ID, nil).Expect(t, 200).JSON(t)
		if js["name"] != "Über & more" {
			t.Fatalf("JSON read %v", js["name"])
		}
		// Malformed XML is 400; an unknown element is 422 like JSON.
		w.admin.Do(t, "POST", "/v1/products", "<product><sku>", "Content-Type", "application/xml").ExpectProblem(t, 400, apperr.BadRequest)
		pr := w.admin.Do(t, "POST", "/v1/products", strings.Replace(body, "XML-1", "XML-2", 1)[:len(body)-len("</product>")]+"<colour>red</colour></product>",
			"Content-Type", "application/xml").ExpectProblem(t, 422, apperr.Invalid)
		if !apitest.HasPointer(pr, "/colour") {
			t.Fatalf("XML unknown element errors %+v", pr.Errors)
		}
	})
}

func TestAuthentication(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		r := w.s.Anonymous(t, "GET", "/v1/products", nil)
		r.ExpectProblem(t, 401, apperr.Unauthenticated)
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("401 without WWW-Authenticate: %v", r.Header)
		}
		w.s.Anonymous(t, "GET", "/v1/products", nil, "Authorization", "Bearer not.a.token").ExpectProblem(t, 401, apperr.Unauthenticated)
		// The sales role reads the catalog but may not write it.
		sales := w.s.As(t, []string{"sales"}, w.company)
		sales.Do(t, "GET", "/v1/products", nil).Expect(t, 200)
		r = sales.Do(t, "POST", "/v1/products", map[string]any{"sku": "X"})
		p := r.ExpectProblem(t, 403, apperr.Forbidden)
		if !strings.Contains(p.Detail, "catalog:write") || !strings.Contains(r.Header.Get("WWW-Authenticate"), "insufficient_scope") {
			t.Fatalf("403 does not name the scope: %s %v", r.Body, r.Header)
		}
		// Another company's records are 404, in reads and in lists.
		prod := w.product(t, "MINE", "1.00", "external_id", "ext-mine")["id"].(string)
		stranger := newCompanyCaller(t, w)
		stranger.Do(t, "GET", "/v1/products/external/ext-mine", nil).ExpectProblem(t, 404, apperr.NotFound)
		stranger.Do(t, "PATCH", "/v1/products/"+prod, `{"name":"x"}`, "Content-Type", "application/merge-patch+json", "If-Match", `"1"`).ExpectProblem(t, 404, apperr.NotFound)
		stranger.Do(t, "GET", "/v1/products/"+prod, nil).ExpectProblem(t, 404, apperr.NotFound)
		stranger.Do(t, "DELETE", "/v1/products/"+prod, nil).ExpectProblem(t, 404, apperr.NotFound)
		list := stranger.Do(t, "GET", "/v1/products", nil).Expect(t, 200).JSON(t)
		if n := len(list["data"].([]any)); n != 0 {
			t.Fatalf("stranger lists %d products", n)
		}
		stranger.Do(t, "GET", "/v1/products?company_id="+w.company, nil).ExpectProblem(t, 422, apperr.Invalid)
		stranger.Do(t, "GET", "/v1/companies/"+w.company, nil).ExpectProblem(t, 404, apperr.NotFound)
	})
}

// A client granted several companies must name one; a client granted one
// works in it implicitly.
func TestCompanyContext(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		root := w.s.As(t, []string{"admin"})
		second := root.Do(t, "POST", "/v1/companies", map[string]any{"legal_name": "Second", "base_currency": "USD"}).Expect(t, 201).JSON(t)["id"].(string)
		multi := w.s.As(t, []string{"admin"}, w.company, second)
		p := multi.Do(t, "POST", "/v1/units-of-measure", map[string]any{"code": "kg", "name": "Kilogram"}).ExpectProblem(t, 422, apperr.Invalid)
		if !apitest.HasPointer(p, "/company_id") {
			t.Fatalf("missing company not pointed at: %+v", p.Errors)
		}
		p = multi.Do(t, "GET", "/v1/units-of-measure", nil).ExpectProblem(t, 422, apperr.Invalid)
		if !apitest.HasPointer(p, "query:company_id") {
			t.Fatalf("missing company on a list not pointed at: %+v", p.Errors)
		}
		u := multi.Do(t, "POST", "/v1/units-of-measure", map[string]any{"code": "kg", "name": "Kilogram", "company_id": second}).Expect(t, 201).JSON(t)
		if u["company_id"] != second {
			t.Fatalf("created in %v", u["company_id"])
		}
		list := multi.Do(t, "GET", "/v1/units-of-measure?company_id="+second, nil).Expect(t, 200).JSON(t)
		if n := len(list["data"].([]any)); n != 1 {
			t.Fatalf("%d units in the second company, want 1", n)
		}
		// The same code in another company is fine; in the same, 409.
		w.admin.Do(t, "POST", "/v1/units-of-measure", map[string]any{"code": "kg", "name": "Kilogram"}).Expect(t, 201)
		pr := w.admin.Do(t, "POST", "/v1/units-of-measure", map[string]any{"code": "kg", "name": "Again"}).ExpectProblem(t, 409, apperr.Conflict)
		if !apitest.HasPointer(pr, "/code") {
			t.Fatalf("duplicate code not pointed at: %+v", pr.Errors)
		}
	})
}

func TestUpsertByExternalID(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		path := "/v1/customers/external/" + url.PathEscape("crm:42/a")
		body := map[string]any{"name": "Café Zentral", "currency": "EUR", "emails": []string{"a@example.com"}}
		first := w.admin.Do(t, "PUT", path, body).Expect(t, 201).JSON(t)
		if first["external_id"] != "crm:42/a" {
			t.Fatalf("external id %v", first["external_id"])
		}
		body["name"] = "Café Zentral Wien"
		second := w.admin.Do(t, "PUT", path, body).Expect(t, 200)
		if second.JSON(t)["id"] != first["id"] || second.JSON(t)["name"] != "Café Zentral Wien" {
			t.Fatalf("upsert replaced into %s", second.Body)
		}
		w.admin.Do(t, "PUT", path, body, "If-Match", `"1"`).ExpectProblem(t, 412, apperr.PreconditionFailed)
		w.admin.Do(t, "PUT", path, body, "If-Match", second.Header.Get("ETag")).Expect(t, 200)
		body["external_id"] = "different"
		w.admin.Do(t, "PUT", path, body).ExpectProblem(t, 422, apperr.Invalid)
	})
}

func TestReferencedRecordsCannotBeDeleted(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		prod := w.product(t, "R-1", "1.00")["id"].(string)
		p := w.admin.Do(t, "DELETE", "/v1/units-of-measure/"+w.unit, nil).ExpectProblem(t, 409, apperr.Conflict)
		if !strings.Contains(p.Detail, prod) {
			t.Fatalf("409 does not name the referrer: %s", p.Detail)
		}
		// Archiving keeps the SKU taken.
		etag := w.admin.Do(t, "GET", "/v1/products/"+prod, nil).Header.Get("ETag")
		w.admin.Do(t, "PATCH", "/v1/products/"+prod, `{"active":false}`, "Content-Type", "application/merge-patch+json", "If-Match", etag).Expect(t, 200)
		w.admin.Do(t, "POST", "/v1/products", map[string]any{"sku": "R-1", "name": "Again", "stock_unit_id": w.unit, "list_price": "1", "currency": "EUR"}).
			ExpectProblem(t, 409, apperr.Conflict)
		w.admin.Do(t, "DELETE", "/v1/products/"+prod, nil).Expect(t, 204)
		// A company with records (at least its chart of accounts) cannot be
		// deleted: archive it.
		root := w.s.As(t, []string{"admin"})
		root.Do(t, "DELETE", "/v1/companies/"+w.company, nil).ExpectProblem(t, 409, apperr.Conflict)
		w.admin.Do(t, "DELETE", "/v1/units-of-measure/"+w.unit, nil).Expect(t, 204)
	})
}

func TestBatchIsAtomic(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		ops := func(lastSKU string) map[string]any {
			return map[string]any{"operations": []any{
				map[string]any{"method": "POST", "path": "/v1/products", "body": map[string]any{"sku": "B-1", "name": "One", "stock_unit_id": w.unit, "list_price": "1", "currency": "EUR"}},
				map[string]any{"method": "POST", "path": "/v1/products", "body": map[string]any{"sku": "B-2", "name": "Two", "stock_unit_id": w.unit, "list_price": "2", "currency": "EUR"}},
				map[string]any{"method": "POST", "path": "/v1/products", "body": map[string]any{"sku": lastSKU, "name": "Three", "stock_unit_id": w.unit, "list_price": "3", "currency": "EUR"}},
			}}
		}
		count := func() int {
			return len(w.admin.Do(t, "GET", "/v1/products", nil).Expect(t, 200).JSON(t)["data"].([]any))
		}
		// The last operation repeats the first SKU: everything is undone.
		p := w.admin.Do(t, "POST", "/v1/batch", ops("B-1")).ExpectProblem(t, 409, apperr.Conflict)
		if !apitest.HasPointer(p, "/operations/2") {
			t.Fatalf("failure does not point at the operation: %+v", p.Errors)
		}
		if n := count(); n != 0 {
			t.Fatalf("%d products after a failed batch", n)
		}
		dry := w.admin.Do(t, "POST", "/v1/batch?dry_run=true", ops("B-3")).Expect(t, 200).JSON(t)
		if dry["committed"] != false || len(dry["results"].([]any)) != 3 || count() != 0 {
			t.Fatalf("dry run: %v, %d products", dry, count())
		}
		ok := w.admin.Do(t, "POST", "/v1/batch", ops("B-3")).Expect(t, 200).JSON(t)
		if ok["committed"] != true || count() != 3 {
			t.Fatalf("batch: %v, %d products", ok, count())
		}
		// Scopes apply per operation.
		sales := w.s.As(t, []string{"sales"}, w.company)
		sales.Do(t, "POST", "/v1/batch", ops("B-9")).ExpectProblem(t, 403, apperr.Forbidden)
		too := map[string]any{"operations": make([]any, 101)}
		for i := range too["operations"].([]any) {
			too["operations"].([]any)[i] = map[string]any{"method": "GET", "path": "/v1/products"}
		}
		w.admin.Do(t, "POST", "/v1/batch", too).ExpectProblem(t, 422, apperr.Invalid)
		// Events of a failed batch never reach the feed.
		evs, _ := drainFeed(t, w.s.App.DB())
		created := 0
		for _, ev := range evs {
			if ev.Type == "mainstay.catalog.product.created" {
				created++
			}
		}
		if created != 3 {
			t.Fatalf("%d product.created events, want 3", created)
		}
	})
}

func TestOperationsResource(t *testing.T) {
	w := newWorld(t, db.SQLite)
	w.admin.Do(t, "GET", "/v1/operations/op_nope", nil).ExpectProblem(t, 404, apperr.NotFound)
}

func dbEngine(e string) db.Engine { return db.Engine(e) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func postgresURL(t *testing.T) string { return dbtest.PostgresURL(t, false) }
