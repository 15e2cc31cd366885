package security_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/config"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// tenant is one company with an admin working only in it.
type tenant struct {
	company string
	admin   *apitest.Caller
}

type setup struct {
	s    *apitest.Server
	a, b tenant
	// records of tenant A by resource path
	recs map[string]string
}

func newSetup(t *testing.T, e db.Engine) *setup {
	t.Helper()
	s := apitest.Start(t, e)
	root := s.As(t, []string{"admin"})
	mk := func(name string) tenant {
		co := root.Do(t, "POST", "/v1/companies", map[string]any{"legal_name": name, "base_currency": "EUR"}).Expect(t, 201).JSON(t)["id"].(string)
		return tenant{company: co, admin: s.As(t, []string{"admin"}, co)}
	}
	st := &setup{s: s, a: mk("Tenant A"), b: mk("Tenant B"), recs: map[string]string{}}
	a := st.a.admin
	create := func(path string, body map[string]any) string {
		id := a.Do(t, "POST", path, body).Expect(t, 201).JSON(t)["id"].(string)
		st.recs[path] = id
		return id
	}
	unit := create("/v1/units-of-measure", map[string]any{"code": "ea", "name": "Each", "external_id": "u-1"})
	create("/v1/tax-categories", map[string]any{"code": "std", "name": "Standard", "external_id": "t-1"})
	terms := create("/v1/payment-terms", map[string]any{"code": "n30", "name": "Net 30", "net_days": 30, "external_id": "p-1"})
	create("/v1/products", map[string]any{"sku": "A-1", "name": "A", "stock_unit_id": unit, "list_price": "1", "currency": "EUR", "external_id": "x-1"})
	create("/v1/customers", map[string]any{"name": "Cust A", "currency": "EUR", "payment_terms_id": terms, "tax_id": "DE1", "external_id": "c-1"})
	create("/v1/suppliers", map[string]any{"name": "Sup A", "currency": "EUR", "external_id": "s-1"})
	st.recs["/v1/companies"] = st.a.company
	return st
}

func forEngines(t *testing.T, fn func(t *testing.T, e db.Engine)) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) { fn(t, e) })
	}
}

// API1 — Broken object-level authorization: another company's records are
// 404 on every path that takes an id, and never appear in lists.
func TestAPI1ObjectLevelAuthorization(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		st := newSetup(t, e)
		b := st.b.admin
		mp := []string{"Content-Type", "application/merge-patch+json", "If-Match", `"1"`}
		for path, id := range st.recs {
			b.Do(t, "GET", path+"/"+id, nil).ExpectProblem(t, 404, apperr.NotFound)
			b.Do(t, "PATCH", path+"/"+id, `{"name":"stolen"}`, mp...).ExpectProblem(t, 404, apperr.NotFound)
			if path != "/v1/companies" {
				b.Do(t, "GET", path+"/external/"+externalOf(path), nil).ExpectProblem(t, 404, apperr.NotFound)
				list := b.Do(t, "GET", path, nil).Expect(t, 200)
				if strings.Contains(string(list.Body), id) {
					t.Errorf("%s lists tenant A's %s", path, id)
				}
			}
			b.Do(t, "DELETE", path+"/"+id, nil).ExpectProblem(t, 404, apperr.NotFound)
		}
		// Naming the other company explicitly does not help either.
		b.Do(t, "GET", "/v1/products?company_id="+st.a.company, nil).ExpectProblem(t, 422, apperr.Invalid)
		b.Do(t, "POST", "/v1/tax-categories", map[string]any{"code": "x", "name": "X", "company_id": st.a.company}).ExpectProblem(t, 422, apperr.Invalid)
		// And the records are all still there for their owner.
		for path, id := range st.recs {
			st.a.admin.Do(t, "GET", path+"/"+id, nil).Expect(t, 200)
		}
	})
}

func externalOf(path string) string {
	return map[string]string{"/v1/units-of-measure": "u-1", "/v1/tax-categories": "t-1", "/v1/payment-terms": "p-1",
		"/v1/products": "x-1", "/v1/customers": "c-1", "/v1/suppliers": "s-1"}[path]
}

// API2 — Broken authentication: forged, confused and foreign tokens are
// 401 (the full token matrix, with expiry and revocation, is in
// internal/platform/auth TestVerifyRefuses).
func TestAPI2Authentication(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		st := newSetup(t, e)
		good := st.a.admin.Token(t)
		parts := strings.Split(good, ".")
		var claims map[string]any
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		_ = json.Unmarshal(payload, &claims)
		none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(claims)).SignedString(jwt.UnsafeAllowNoneSignatureType)
		hs, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims)).SignedString([]byte("guess"))
		_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
		foreign := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims(claims))
		foreign.Header["typ"] = "at+jwt"
		foreignSigned, _ := foreign.SignedString(otherKey)
		tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(mustReplace(t, string(payload), `"scope":"`, `"scope":"payroll:read `))) + "." + parts[2]
		for name, tok := range map[string]string{"alg none": none, "HS256": hs, "foreign key": foreignSigned, "tampered": tampered, "garbage": "abc.def.ghi", "empty": ""} {
			r := st.s.Anonymous(t, "GET", "/v1/products", nil, "Authorization", "Bearer "+tok)
			if r.Status != 401 {
				t.Errorf("%s token: %d", name, r.Status)
			}
		}
		// Client secrets are refused without saying which part was wrong.
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {st.a.admin.ID}, "client_secret": {"mss_wrong"}}.Encode()
		r := st.s.Anonymous(t, "POST", "/oauth2/token", form, "Content-Type", "application/x-www-form-urlencoded")
		if r.Status != 401 || !strings.Contains(string(r.Body), "invalid_client") {
			t.Fatalf("wrong secret: %d %s", r.Status, r.Body)
		}
	})
}

// API3 — Broken object property-level authorization: read-only and
// sensitive members cannot be mass-assigned, and responses carry no
// secrets.
func TestAPI3PropertyLevelAuthorization(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		st := newSetup(t, e)
		a := st.a.admin
		id := st.recs["/v1/products"]
		etag := a.Do(t, "GET", "/v1/products/"+id, nil).Header.Get("ETag")
		for _, body := range []string{`{"id":"prod_x"}`, `{"created_at":"2020-01-01T00:00:00Z"}`, `{"company_id":"` + st.b.company + `"}`, `{"updated_at":"2020-01-01T00:00:00Z"}`} {
			a.Do(t, "PATCH", "/v1/products/"+id, body, "Content-Type", "application/merge-patch+json", "If-Match", etag).ExpectProblem(t, 422, apperr.Invalid)
		}
		sales := st.s.As(t, []string{"sales"}, st.a.company)
		cus := st.recs["/v1/customers"]
		seen := sales.Do(t, "GET", "/v1/customers/"+cus, nil).Expect(t, 200)
		if strings.Contains(string(seen.Body), "tax_id") {
			t.Fatal("sales sees the tax id")
		}
		sales.Do(t, "PATCH", "/v1/customers/"+cus, `{"tax_id":"X"}`, "Content-Type", "application/merge-patch+json", "If-Match", seen.Header.Get("ETag")).
			ExpectProblem(t, 403, apperr.Forbidden)
		clients := a.Do(t, "GET", "/v1/clients", nil).Expect(t, 200)
		for _, leak := range []string{"secret_hash", "mss_", "private_key"} {
			if strings.Contains(string(clients.Body), leak) {
				t.Fatalf("client list leaks %s", leak)
			}
		}
	})
}

// API4 — Unrestricted resource consumption: pages are capped, bodies are
// bounded, complex filters are refused, and quotas answer 429.
func TestAPI4ResourceConsumption(t *testing.T) {
	cfg := apitest.Config(t)
	cfg.RateLimits.Read.Limit, cfg.RateLimits.Read.Window = 30, time.Minute
	s := apitest.StartConfig(t, cfg)
	root := s.As(t, []string{"admin"})
	co := root.Do(t, "POST", "/v1/companies", map[string]any{"legal_name": "C", "base_currency": "EUR"}).Expect(t, 201).JSON(t)["id"].(string)
	a := s.As(t, []string{"admin"}, co)
	big := a.Do(t, "GET", "/v1/products?page_size=1000000", nil).Expect(t, 200)
	if !strings.Contains(string(big.Body), `"data":[]`) {
		t.Fatalf("page_size=1e6: %s", big.Body)
	}
	a.Do(t, "POST", "/v1/products", `{"name":"`+strings.Repeat("x", 2<<20)+`"}`, "Content-Type", "application/json").ExpectProblem(t, 413, apperr.TooLarge)
	deep := strings.Repeat("(", 20) + `name = "x"` + strings.Repeat(")", 20)
	a.Do(t, "GET", "/v1/products?filter="+url.QueryEscape(deep), nil).ExpectProblem(t, 400, apperr.BadRequest)
	long := strings.TrimSuffix(strings.Repeat(`name = "x" AND `, 60), " AND ")
	a.Do(t, "GET", "/v1/products?filter="+url.QueryEscape(long), nil).ExpectProblem(t, 400, apperr.BadRequest)
	var last *apitest.Response
	for range 40 {
		if last = a.Do(t, "GET", "/v1/products", nil); last.Status == 429 {
			break
		}
	}
	last.ExpectProblem(t, 429, apperr.RateLimited)
	if last.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}

// API5 — Broken function-level authorization: roles reach only their
// functions (the full operation × role matrix is internal/app
// TestRoleMatrix).
func TestAPI5FunctionLevelAuthorization(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		st := newSetup(t, e)
		for _, c := range []struct {
			role, method, path string
		}{
			{"sales", "POST", "/v1/clients"},
			{"readonly", "DELETE", "/v1/products/" + st.recs["/v1/products"]},
			{"finance", "POST", "/v1/roles"},
			{"hr", "GET", "/v1/customers"},
			{"auditor", "PUT", "/v1/customers/external/c-1"},
			{"inventory", "POST", "/v1/trusted-issuers"},
		} {
			caller := st.s.As(t, []string{c.role}, st.a.company)
			p := caller.Do(t, c.method, c.path, `{}`, "Content-Type", "application/json").ExpectProblem(t, 403, apperr.Forbidden)
			if !strings.Contains(p.Detail, ":") {
				t.Errorf("%s %s as %s: 403 does not name the scope: %s", c.method, c.path, c.role, p.Detail)
			}
		}
	})
}

// API6 — Unrestricted access to sensitive business flows: a retried
// create with its Idempotency-Key never creates twice, even when the
// retries race.
func TestAPI6BusinessFlows(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		st := newSetup(t, e)
		body := map[string]any{"name": "Once Only", "currency": "EUR"}
		done := make(chan int, 8)
		for range 8 {
			go func() { done <- st.a.admin.Do(t, "POST", "/v1/customers", body, "Idempotency-Key", "order-42").Status }()
		}
		created := 0
		for range 8 {
			switch s := <-done; s {
			case 201:
				created++
			case 409:
			default:
				t.Errorf("racing retry: %d", s)
			}
		}
		list := st.a.admin.Do(t, "GET", "/v1/customers?filter="+url.QueryEscape(`name = "Once Only"`), nil).Expect(t, 200).JSON(t)
		if n := len(list["data"].([]any)); n != 1 || created < 1 {
			t.Fatalf("%d customers from 8 racing retries (%d answered 201), want exactly 1", n, created)
		}
	})
}

// API7 — Server-side request forgery. The server's only outbound requests
// today fetch an outside identity provider's keys; plain HTTP to anything
// but loopback is refused when the issuer is registered. (Webhook
// deliveries, with their connect-time address checks, come with the events
// issue.)
func TestAPI7SSRF(t *testing.T) {
	st := newSetup(t, db.SQLite)
	for _, target := range []string{"http://169.254.169.254/latest/meta-data", "http://10.0.0.1/jwks", "http://internal.example/jwks", "ftp://example.com/keys", "file:///etc/passwd"} {
		r := st.a.admin.Do(t, "POST", "/v1/trusted-issuers", map[string]any{
			"issuer": "https://idp.example.com", "jwks_url": target, "audience": "mainstay",
			"mappings": []any{map[string]any{"client_id": "x", "roles": []string{"readonly"}}},
		})
		if r.Status != 422 {
			t.Errorf("JWKS URL %s: %d, want 422", target, r.Status)
		}
	}
}

// API8 — Security misconfiguration: errors carry no internals, every
// response has the security headers, unknown methods are 405, there is no
// permissive CORS, and plain HTTP off loopback is refused at start.
func TestAPI8Misconfiguration(t *testing.T) {
	st := newSetup(t, db.SQLite)
	st.s.App.Mux().HandleFunc("GET /test/boom", func(http.ResponseWriter, *http.Request) {
		panic("pq: relation \"secret_table\" does not exist at /src/internal/store.go:42")
	})
	r := st.s.Anonymous(t, "GET", "/test/boom", nil)
	for _, leak := range []string{"secret_table", "store.go", "goroutine", "pq:"} {
		if strings.Contains(string(r.Body), leak) {
			t.Fatalf("500 leaks %q: %s", leak, r.Body)
		}
	}
	resp := st.a.admin.Do(t, "GET", "/v1/products", nil, "Origin", "https://evil.example")
	for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Referrer-Policy"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("API response Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("a CORS header invites other origins")
	}
	st.a.admin.Do(t, "TRACE", "/v1/products", nil).ExpectProblem(t, 405, apperr.MethodNotAllowed)
	_, _, err := config.Load("serve", []string{"--listen", "0.0.0.0:8080"}, func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "plain HTTP") {
		t.Fatalf("plain HTTP on 0.0.0.0: %v", err)
	}
}

// API9 — Improper inventory management: the served /v1 routes are exactly
// the documented ones, and nothing undocumented answers.
func TestAPI9Inventory(t *testing.T) {
	st := newSetup(t, db.SQLite)
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(st.s.App.Spec(), &doc); err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, op := range st.s.App.API().Operations() {
		served[strings.ToLower(op.Method)+" "+op.Path] = true
		if doc.Paths[op.Path][strings.ToLower(op.Method)] == nil {
			t.Errorf("%s %s is served but not documented", op.Method, op.Path)
		}
	}
	for path, methods := range doc.Paths {
		for m := range methods {
			if !served[m+" "+path] {
				t.Errorf("%s %s is documented but not served", m, path)
			}
		}
	}
	for _, path := range []string{"/debug/pprof/", "/debug/vars", "/v1/admin", "/v2/products", "/.env", "/v1/internal"} {
		if r := st.a.admin.Do(t, "GET", path, nil); r.Status != 404 {
			t.Errorf("GET %s: %d, want 404", path, r.Status)
		}
	}
}

// API10 — Unsafe consumption of APIs: an outside identity provider that
// answers garbage, huge or slow replies, or signs with a key it does not
// publish, grants nothing.
func TestAPI10UnsafeConsumption(t *testing.T) {
	st := newSetup(t, db.SQLite)
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	vouch := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]string{
			"kty": "OKP", "crv": "Ed25519", "kid": "k1", "alg": "EdDSA", "x": base64.RawURLEncoding.EncodeToString(pub)}}})
	}))
	defer vouch.Close()
	for name, handler := range map[string]http.HandlerFunc{
		"garbage": func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>not json")) },
		"huge": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"keys":[` + strings.Repeat(`{"kty":"RSA","n":"AQAB","e":"AQAB"},`, 200000) + `{}]}`))
		},
		"slow": func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(20 * time.Second):
			case <-r.Context().Done():
			}
		},
		// A redirect, even to a loopback server that would vouch for the
		// key, is not followed.
		"redirect": func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, vouch.URL+"/jwks", http.StatusFound) },
	} {
		t.Run(name, func(t *testing.T) {
			idp := httptest.NewServer(handler)
			defer idp.Close()
			st.a.admin.Do(t, "POST", "/v1/trusted-issuers", map[string]any{
				"issuer": idp.URL, "jwks_url": idp.URL + "/jwks", "audience": "mainstay",
				"mappings": []any{map[string]any{"client_id": "bi", "roles": []string{"admin"}}},
			}).Expect(t, 201)
			tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"iss": idp.URL, "sub": "bi", "client_id": "bi", "aud": "mainstay",
				"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
			tok.Header["kid"] = "k1"
			raw, _ := tok.SignedString(key)
			start := time.Now()
			r := st.s.Anonymous(t, "GET", "/v1/products", nil, "Authorization", "Bearer "+raw)
			if r.Status == 200 || r.Status == 403 {
				t.Fatalf("token from a misbehaving IdP: %d", r.Status)
			}
			if time.Since(start) > 12*time.Second {
				t.Fatalf("a slow IdP held the request for %s", time.Since(start))
			}
		})
	}
}

func mustReplace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q not in %s", old, s)
	}
	return strings.Replace(s, old, new, 1)
}
