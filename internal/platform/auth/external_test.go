package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
)

// testIdP is an outside identity provider started in the test: it serves
// its metadata (OpenID discovery, or RFC 8414 for an issuer with a path)
// and a JWKS, and counts how often each is fetched.
type testIdP struct {
	srv      *httptest.Server
	issuer   string
	metaHits atomic.Int32
	jwksHits atomic.Int32

	mu         sync.Mutex
	published  []map[string]string
	metaIssuer string // what the metadata claims; the issuer unless a test lies
}

func newIdP(t *testing.T, path string) *testIdP {
	t.Helper()
	p := &testIdP{}
	mux := http.NewServeMux()
	meta := func(w http.ResponseWriter, r *http.Request) {
		p.metaHits.Add(1)
		p.mu.Lock()
		iss := p.metaIssuer
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "jwks_uri": p.srv.URL + "/keys"})
	}
	if path == "" {
		mux.HandleFunc("GET /.well-known/openid-configuration", meta)
	} else {
		mux.HandleFunc("GET /.well-known/oauth-authorization-server"+path, meta)
	}
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		p.jwksHits.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": p.published})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	p.issuer = p.srv.URL + path
	p.metaIssuer = p.issuer
	return p
}

func (p *testIdP) publish(jwk map[string]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.published = append(p.published, jwk)
}

func rsaJWK(pub *rsa.PublicKey, kid string) map[string]string {
	return map[string]string{
		"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

// sign makes a token of the IdP; claims are merged over a default set
// valid for ten minutes by n's clock. A nil claim value removes it.
func (p *testIdP) sign(t *testing.T, n *node, method jwt.SigningMethod, key any, kid string, claims map[string]any) string {
	t.Helper()
	now := n.clock.Now()
	c := jwt.MapClaims{
		"iss": p.issuer, "aud": "mainstay-api", "sub": "svc-1", "client_id": "reporting",
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": randomJTI(),
	}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	tok := jwt.NewWithClaims(method, c)
	tok.Header["typ"] = "at+jwt"
	if kid != "" {
		tok.Header["kid"] = kid
	}
	if typ, ok := claims["_typ"].(string); ok {
		tok.Header["typ"] = typ
		delete(c, "_typ")
	}
	raw, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Tokens of a trusted issuer, checked against its JWKS (fetched once and
// cached) and mapped to roles and companies; an unmapped subject is 403,
// every bad token 401.
func TestTrustedIssuer(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		n := newNode(t, d, Options{})
		idp := newIdP(t, "")
		idp.publish(rsaJWK(&rsaKey.PublicKey, "rsa-1"))
		ti, err := CreateTrustedIssuer(ctx, d, TrustedIssuer{
			Issuer: idp.issuer, Audience: "mainstay-api",
			Mappings: []Mapping{
				{ClientID: "reporting", Roles: []string{"sales"}, Companies: []string{"co_1"}},
				{Claim: "groups", Value: "erp-auditors", Roles: []string{"auditor"}},
				{Claim: "realm_access.roles", Value: "erp-admin", Roles: []string{"admin"}},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		host := strings.TrimPrefix(idp.srv.URL, "http://")
		sign := func(claims map[string]any) string {
			return idp.sign(t, n, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims)
		}

		p, err := n.s.Verify(ctx, sign(nil))
		sales, _ := ScopesFor([]string{"sales"})
		if err != nil || p.ClientID != "ext:"+host+":svc-1" || !slices.Equal(p.Scopes, sales) ||
			!slices.Equal(p.Roles, []string{"sales"}) || !p.CanAccessCompany("co_1") || p.CanAccessCompany("co_2") {
			t.Fatalf("mapped client: %+v, %v", p, err)
		}
		// azp when there is no client_id; a group in an array claim; a
		// nested claim by its dotted path.
		if p, err := n.s.Verify(ctx, sign(map[string]any{"client_id": nil, "azp": "reporting"})); err != nil || !slices.Equal(p.Scopes, sales) {
			t.Fatalf("azp: %+v, %v", p, err)
		}
		auditor, _ := ScopesFor([]string{"auditor"})
		p, err = n.s.Verify(ctx, sign(map[string]any{"client_id": "bi", "sub": "alice", "groups": []string{"staff", "erp-auditors"}}))
		if err != nil || !slices.Equal(p.Scopes, auditor) || !p.AllCompanies() || p.ClientID != "ext:"+host+":alice" {
			t.Fatalf("group mapping: %+v, %v", p, err)
		}
		p, err = n.s.Verify(ctx, sign(map[string]any{"client_id": "kc", "realm_access": map[string]any{"roles": []string{"erp-admin"}}}))
		if err != nil || !slices.Equal(p.Scopes, AllScopes()) {
			t.Fatalf("nested claim mapping: %+v, %v", p, err)
		}

		// Valid tokens nobody mapped: 403, never a default grant.
		for name, claims := range map[string]map[string]any{
			"other client":      {"client_id": "stranger"},
			"other group":       {"client_id": "stranger", "groups": []string{"staff"}},
			"group as a prefix": {"client_id": "stranger", "groups": "erp-auditors-not"},
			"sub named like the mapped client but another client_id": {"client_id": "stranger", "sub": "reporting"},
		} {
			_, err := n.s.Verify(ctx, sign(claims))
			wantCode(t, err, apperr.Forbidden)
			if !errors.Is(err, errUnmapped) {
				t.Fatalf("%s: %v", name, err)
			}
		}

		ecJWK := map[string]string{"kty": "EC", "crv": "P-256", "kid": "ec-1", "alg": "ES256"}
		raw, _ := ecKey.PublicKey.Bytes()
		ecJWK["x"], ecJWK["y"] = base64.RawURLEncoding.EncodeToString(raw[1:33]), base64.RawURLEncoding.EncodeToString(raw[33:])
		pubPEM := []byte(publicPEM(t, &rsaKey.PublicKey))
		bad := map[string]string{
			"wrong aud":                sign(map[string]any{"aud": "someone-else"}),
			"no aud":                   sign(map[string]any{"aud": nil}),
			"expired":                  sign(map[string]any{"exp": n.clock.Now().Add(-time.Minute).Unix()}),
			"no exp":                   sign(map[string]any{"exp": nil}),
			"not yet valid":            sign(map[string]any{"nbf": n.clock.Now().Add(5 * time.Minute).Unix()}),
			"iat ahead":                sign(map[string]any{"iat": n.clock.Now().Add(5 * time.Minute).Unix()}),
			"no sub":                   sign(map[string]any{"sub": nil}),
			"id token type":            sign(map[string]any{"_typ": "id_token+jwt"}),
			"unknown kid":              idp.sign(t, n, jwt.SigningMethodRS256, rogue, "rogue", nil),
			"known kid, foreign key":   idp.sign(t, n, jwt.SigningMethodRS256, rogue, "rsa-1", nil),
			"no kid, foreign key":      idp.sign(t, n, jwt.SigningMethodRS256, rogue, "", nil),
			"alg none":                 idp.sign(t, n, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa-1", nil),
			"HS256 with the RSA key":   idp.sign(t, n, jwt.SigningMethodHS256, pubPEM, "rsa-1", nil),
			"HS256 without kid":        idp.sign(t, n, jwt.SigningMethodHS256, pubPEM, "", nil),
			"ES256 on the RSA kid":     idp.sign(t, n, jwt.SigningMethodES256, ecKey, "rsa-1", nil),
			"untrusted issuer":         sign(map[string]any{"iss": "http://127.0.0.1:1/other"}),
			"issuer with a slash":      sign(map[string]any{"iss": idp.issuer + "/"}),
			"our issuer, their key":    sign(map[string]any{"iss": testIssuer, "aud": Audience(testIssuer)}),
			"not yet published EC key": idp.sign(t, n, jwt.SigningMethodES256, ecKey, "ec-1", nil),
		}
		idp.publish(ecJWK) // published now, but the cache will not look for 30 s
		for name, tok := range bad {
			t.Run(name, func(t *testing.T) {
				_, err := n.s.Verify(ctx, tok)
				wantCode(t, err, apperr.Unauthenticated)
			})
		}
		if hits := idp.jwksHits.Load(); hits != 1 || idp.metaHits.Load() != 1 {
			t.Fatalf("JWKS fetched %d times, metadata %d; want once each", hits, idp.metaHits.Load())
		}
		// 30 s on, an unknown kid makes one fetch, which finds the new
		// key; another unknown kid right after makes none.
		n.clock.Advance(jwksMinRefetch + time.Second)
		ecTok := idp.sign(t, n, jwt.SigningMethodES256, ecKey, "ec-1", nil)
		if p, err := n.s.Verify(ctx, ecTok); err != nil || !slices.Equal(p.Scopes, sales) {
			t.Fatalf("token of the IdP's new key: %+v, %v", p, err)
		}
		_, err = n.s.Verify(ctx, idp.sign(t, n, jwt.SigningMethodRS256, rogue, "rogue-2", nil))
		wantCode(t, err, apperr.Unauthenticated)
		if hits := idp.jwksHits.Load(); hits != 2 {
			t.Fatalf("JWKS fetched %d times, want 2", hits)
		}

		// Through the middleware: mapped with sales:write is 200, unmapped
		// is 403 (not 401).
		call := func(tok string) (int, map[string]any) {
			req, _ := http.NewRequest(http.MethodGet, n.http.URL+"/v1/whoami", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(res.Body).Decode(&body)
			return res.StatusCode, body
		}
		if status, body := call(sign(nil)); status != 200 || body["actor"] != "ext:"+host+":svc-1" {
			t.Fatalf("mapped via middleware: %d %v", status, body)
		}
		if status, body := call(sign(map[string]any{"client_id": "stranger"})); status != 403 || body["code"] != "forbidden" ||
			!strings.Contains(fmt.Sprint(body["detail"], body["title"]), "mapped") {
			t.Fatalf("unmapped via middleware: %d %v", status, body)
		}

		// Changing the mappings applies at once on this node.
		ti.Mappings = ti.Mappings[1:]
		if _, err := UpdateTrustedIssuer(ctx, d, ti); err != nil {
			t.Fatal(err)
		}
		_, err = n.s.Verify(ctx, sign(nil))
		wantCode(t, err, apperr.Forbidden)
		if err := DeleteTrustedIssuer(ctx, d, ti.Issuer); err != nil {
			t.Fatal(err)
		}
		_, err = n.s.Verify(ctx, sign(nil))
		wantCode(t, err, apperr.Unauthenticated)
		wantCode(t, DeleteTrustedIssuer(ctx, d, ti.Issuer), apperr.NotFound)

		// Trusted on the command line only: verified against our own
		// audience, and with no mapping, 403.
		m := newNode(t, d, Options{TrustIssuers: []string{idp.issuer}})
		m.clock.Set(n.clock.Now())
		_, err = m.s.Verify(ctx, sign(map[string]any{"aud": Audience(testIssuer)}))
		wantCode(t, err, apperr.Forbidden)
		_, err = m.s.Verify(ctx, sign(nil))
		wantCode(t, err, apperr.Unauthenticated)
		// A row adds the mappings (and the audience) to it.
		if _, err := CreateTrustedIssuer(ctx, d, TrustedIssuer{Issuer: idp.issuer, Audience: "mainstay-api",
			Mappings: []Mapping{{ClientID: "reporting", Roles: []string{"sales"}}}}); err != nil {
			t.Fatal(err)
		}
		m.clock.Advance(DefaultClientCacheTTL) // another node's write
		if _, err := m.s.Verify(ctx, sign(nil)); err != nil {
			t.Fatalf("command-line issuer with a row: %v", err)
		}
	})
}

// An issuer with a path publishes RFC 8414 metadata; an issuer whose
// metadata names another issuer is not believed (its tokens cannot be
// checked: 503, not a grant); a configured JWKS URL skips discovery.
func TestTrustedIssuerDiscovery(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		n := newNode(t, d, Options{})
		mapping := []Mapping{{ClientID: "reporting", Roles: []string{"readonly"}}}

		tenant := newIdP(t, "/tenant-a")
		tenant.publish(rsaJWK(&rsaKey.PublicKey, "k1"))
		if _, err := CreateTrustedIssuer(ctx, d, TrustedIssuer{Issuer: tenant.issuer, Audience: "mainstay-api", Mappings: mapping}); err != nil {
			t.Fatal(err)
		}
		if _, err := n.s.Verify(ctx, tenant.sign(t, n, jwt.SigningMethodRS256, rsaKey, "k1", nil)); err != nil {
			t.Fatalf("RFC 8414 discovery: %v", err)
		}

		liar := newIdP(t, "")
		liar.publish(rsaJWK(&rsaKey.PublicKey, "k1"))
		liar.metaIssuer = "https://someone-else.example"
		if _, err := CreateTrustedIssuer(ctx, d, TrustedIssuer{Issuer: liar.issuer, Audience: "mainstay-api", Mappings: mapping}); err != nil {
			t.Fatal(err)
		}
		_, err := n.s.Verify(ctx, liar.sign(t, n, jwt.SigningMethodRS256, rsaKey, "k1", nil))
		wantCode(t, err, apperr.Unavailable)
		if liar.jwksHits.Load() != 0 {
			t.Fatal("keys fetched from metadata that names another issuer")
		}
		// Told where the keys are, discovery is skipped.
		if _, err := UpdateTrustedIssuer(ctx, d, TrustedIssuer{Issuer: liar.issuer, JWKSURL: liar.srv.URL + "/keys", Audience: "mainstay-api", Mappings: mapping}); err != nil {
			t.Fatal(err)
		}
		if _, err := n.s.Verify(ctx, liar.sign(t, n, jwt.SigningMethodRS256, rsaKey, "k1", nil)); err != nil {
			t.Fatalf("configured JWKS URL: %v", err)
		}
	})
}

func TestTrustedIssuerValidates(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		ok := Mapping{ClientID: "app", Roles: []string{"sales"}}
		cases := []struct {
			name    string
			in      TrustedIssuer
			pointer string
		}{
			{"plain http off loopback", TrustedIssuer{Issuer: "http://idp.example.com", Audience: "a", Mappings: []Mapping{ok}}, "/issuer"},
			{"not a URL", TrustedIssuer{Issuer: "idp", Audience: "a"}, "/issuer"},
			{"query", TrustedIssuer{Issuer: "https://idp.example.com?x=1", Audience: "a"}, "/issuer"},
			{"plain http JWKS", TrustedIssuer{Issuer: "https://idp.example.com", JWKSURL: "http://idp.example.com/keys", Audience: "a"}, "/jwks_url"},
			{"no audience", TrustedIssuer{Issuer: "https://idp.example.com", Mappings: []Mapping{ok}}, "/audience"},
			{"client and claim", TrustedIssuer{Issuer: "https://idp.example.com", Audience: "a",
				Mappings: []Mapping{{ClientID: "app", Claim: "groups", Value: "x", Roles: []string{"sales"}}}}, "/mappings/0"},
			{"matches nothing", TrustedIssuer{Issuer: "https://idp.example.com", Audience: "a", Mappings: []Mapping{{Roles: []string{"sales"}}}}, "/mappings/0"},
			{"claim without value", TrustedIssuer{Issuer: "https://idp.example.com", Audience: "a",
				Mappings: []Mapping{ok, {Claim: "groups", Roles: []string{"sales"}}}}, "/mappings/1/value"},
			{"no role", TrustedIssuer{Issuer: "https://idp.example.com", Audience: "a", Mappings: []Mapping{{ClientID: "app"}}}, "/mappings/0/roles"},
			{"unknown role", TrustedIssuer{Issuer: "https://idp.example.com", Audience: "a",
				Mappings: []Mapping{{ClientID: "app", Roles: []string{"ghost"}}}}, "/mappings"},
			{"blank company", TrustedIssuer{Issuer: "https://idp.example.com", Audience: "a",
				Mappings: []Mapping{{ClientID: "app", Roles: []string{"sales"}, Companies: []string{" "}}}}, "/mappings/0/companies"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := CreateTrustedIssuer(ctx, d, tc.in)
				wantCode(t, err, apperr.Invalid)
				if e := apperr.As(err); len(e.Fields) == 0 || e.Fields[0].Pointer != tc.pointer {
					t.Fatalf("error %+v should point at %s", e, tc.pointer)
				}
			})
		}
		if list, err := ListTrustedIssuers(ctx, d); err != nil || len(list) != 0 {
			t.Fatalf("refused issuers stored: %v, %v", list, err)
		}
		in := TrustedIssuer{Issuer: "https://idp.example.com/", Audience: " api ", Mappings: []Mapping{ok}}
		got, err := CreateTrustedIssuer(ctx, d, in)
		if err != nil || got.Issuer != in.Issuer || got.Audience != "api" {
			t.Fatalf("create: %+v, %v", got, err)
		}
		_, err = CreateTrustedIssuer(ctx, d, in)
		wantCode(t, err, apperr.Conflict)
		_, err = UpdateTrustedIssuer(ctx, d, TrustedIssuer{Issuer: "https://nobody.example.com", Audience: "a"})
		wantCode(t, err, apperr.NotFound)
		found, err := FindTrustedIssuer(ctx, d, in.Issuer)
		if err != nil || len(found.Mappings) != 1 || found.Mappings[0].ClientID != "app" || !found.CreatedAt.Equal(got.CreatedAt) {
			t.Fatalf("find: %+v, %v", found, err)
		}
		for _, bad := range []string{"http://idp.example.com", "idp", testIssuer, testIssuer + "/"} {
			if _, err := NewServer(d, Options{Issuer: testIssuer, TrustIssuers: []string{bad}}); err == nil {
				t.Errorf("trusted issuer %q accepted", bad)
			}
		}
		if _, err := NewServer(d, Options{Issuer: testIssuer, TrustIssuers: []string{"https://idp.example.com", "http://localhost:8080/realms/x"}}); err != nil {
			t.Fatal(err)
		}
	})
}
