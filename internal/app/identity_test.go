package app_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// A custom role made over the API grants exactly its scopes.
func TestCustomRoles(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		w.admin.Do(t, "POST", "/v1/roles", map[string]any{"name": "catalog-viewer", "scopes": []string{"catalog:read", "companies:read"}}).Expect(t, 201)
		w.admin.Do(t, "POST", "/v1/roles", map[string]any{"name": "bad", "scopes": []string{"catalog:fly"}}).ExpectProblem(t, 422, apperr.Invalid)
		w.admin.Do(t, "POST", "/v1/roles", map[string]any{"name": "admin", "scopes": []string{"catalog:read"}}).ExpectProblem(t, 409, apperr.Conflict)
		viewer := w.s.As(t, []string{"catalog-viewer"}, w.company)
		viewer.Do(t, "GET", "/v1/products", nil).Expect(t, 200)
		viewer.Do(t, "GET", "/v1/customers", nil).ExpectProblem(t, 403, apperr.Forbidden)
		roles := w.admin.Do(t, "GET", "/v1/roles", nil).Expect(t, 200).JSON(t)["data"].([]any)
		if len(roles) != 10 {
			t.Fatalf("%d roles, want 9 built-in + 1 custom", len(roles))
		}
		w.admin.Do(t, "DELETE", "/v1/roles/catalog-viewer", nil).ExpectProblem(t, 409, apperr.Conflict)
	})
}

func TestSecretRotationOverlap(t *testing.T) {
	w := newWorld(t, db.SQLite)
	created := w.admin.Do(t, "POST", "/v1/clients", map[string]any{"name": "rot", "roles": []string{"readonly"}}).Expect(t, 201).JSON(t)
	id, old := created["id"].(string), created["client_secret"].(string)
	rotated := w.admin.Do(t, "POST", "/v1/clients/"+id+"/secret", map[string]any{"overlap_seconds": 3600}).Expect(t, 200).JSON(t)
	fresh := rotated["client_secret"].(string)
	for _, secret := range []string{old, fresh} {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}.Encode()
		w.s.Anonymous(t, "POST", "/oauth2/token", form, "Content-Type", "application/x-www-form-urlencoded").Expect(t, 200)
	}
	w.admin.Do(t, "POST", "/v1/clients/"+id+"/secret", map[string]any{}).Expect(t, 200)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {old}}.Encode()
	w.s.Anonymous(t, "POST", "/oauth2/token", form, "Content-Type", "application/x-www-form-urlencoded").Expect(t, 401)
}

// An enterprise identity provider, started here, is trusted for the
// subjects mapped to roles; an unmapped subject gets 403, never a default.
func TestTrustedOutsideIssuer(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		idp := startIdP(t)
		w.admin.Do(t, "POST", "/v1/trusted-issuers", map[string]any{
			"issuer": idp.URL, "audience": "mainstay",
			"mappings": []any{map[string]any{"client_id": "bi-dashboard", "roles": []string{"readonly"}, "companies": []string{w.company}}},
		}).Expect(t, 201)
		got := w.admin.Do(t, "GET", "/v1/trusted-issuers/"+url.PathEscape(idp.URL), nil).Expect(t, 200).JSON(t)
		if got["issuer"] != idp.URL {
			t.Fatalf("issuer %v", got)
		}
		call := func(sub, aud string) *http.Response {
			req, _ := http.NewRequest("GET", w.s.URL+"/v1/products", nil)
			req.Header.Set("Authorization", "Bearer "+idp.token(t, sub, aud))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp
		}
		if r := call("bi-dashboard", "mainstay"); r.StatusCode != 200 {
			t.Fatalf("mapped subject: %d", r.StatusCode)
		}
		if r := call("someone-else", "mainstay"); r.StatusCode != 403 {
			t.Fatalf("unmapped subject: %d, want 403", r.StatusCode)
		}
		if r := call("bi-dashboard", "another-api"); r.StatusCode != 401 {
			t.Fatalf("wrong audience: %d, want 401", r.StatusCode)
		}
	})
}

type idp struct {
	*httptest.Server
	key *rsa.PrivateKey
}

func startIdP(t *testing.T) *idp {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &idp{key: key}
	mux := http.NewServeMux()
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": p.URL, "jwks_uri": p.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		b64 := base64.RawURLEncoding.EncodeToString
		json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]string{
			"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	return p
}

func (p *idp) token(t *testing.T, sub, aud string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": p.URL, "sub": sub, "client_id": sub, "aud": aud, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(p.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
