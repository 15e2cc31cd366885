package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/sequencer"
)

// decodeJWT returns a token's header and claims without verifying it.
func decodeJWT(t *testing.T, raw string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

func ccConfig(n *node, clientID, secret string, scopes ...string) *clientcredentials.Config {
	return &clientcredentials.Config{
		ClientID: clientID, ClientSecret: secret, TokenURL: n.http.URL + TokenPath,
		Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader,
	}
}

// A client gets a token with the standard client library (HTTP Basic),
// the token is an RFC 9068 JWT, and it opens the protected resource.
func TestClientCredentialsWithLibrary(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		n := newNode(t, d, Options{})
		c, secret := mustClient(t, d, NewClient{Name: "shop", Roles: []string{"sales"}, Companies: []string{"co_1"}})

		cfg := ccConfig(n, c.ID, secret)
		tok, err := cfg.Token(ctx)
		if err != nil {
			t.Fatalf("token: %v", err)
		}
		if tok.TokenType != "Bearer" || tok.RefreshToken != "" || tok.Expiry.IsZero() {
			t.Fatalf("token %+v", tok)
		}
		header, claims := decodeJWT(t, tok.AccessToken)
		keys := fetchJWKS(t, n)
		if header["typ"] != "at+jwt" || header["alg"] != "EdDSA" || header["kid"] != keys[len(keys)-1]["kid"] {
			t.Fatalf("header %v (keys %v)", header, keys)
		}
		wantScopes, _ := ScopesFor([]string{"sales"})
		iat, _ := claims["iat"].(float64)
		exp, _ := claims["exp"].(float64)
		aud, _ := claims["aud"].([]any)
		if claims["iss"] != testIssuer || claims["sub"] != c.ID || claims["client_id"] != c.ID ||
			len(aud) != 1 || aud[0] != testIssuer+"/v1" || Audience(testIssuer) != testIssuer+"/v1" ||
			int64(iat) != n.clock.Now().Unix() || exp-iat != 3600 ||
			claims["jti"] == "" || claims["scope"] != strings.Join(wantScopes, " ") {
			t.Fatalf("claims %v", claims)
		}
		if r, _ := claims["roles"].([]any); len(r) != 1 || r[0] != "sales" {
			t.Fatalf("roles claim %v", claims["roles"])
		}
		if co, _ := claims["companies"].([]any); len(co) != 1 || co[0] != "co_1" {
			t.Fatalf("companies claim %v", claims["companies"])
		}

		p, err := n.s.Verify(ctx, tok.AccessToken)
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		if p.ClientID != c.ID || !slices.Equal(p.Scopes, wantScopes) || !p.CanAccessCompany("co_1") || p.CanAccessCompany("co_2") {
			t.Fatalf("principal %+v", p)
		}

		// Through the middleware: principal and audit actor are the client.
		res, err := cfg.Client(ctx).Get(n.http.URL + "/v1/whoami")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var who map[string]any
		_ = json.NewDecoder(res.Body).Decode(&who)
		if res.StatusCode != 200 || who["client_id"] != c.ID || who["actor"] != c.ID {
			t.Fatalf("whoami: %d %v", res.StatusCode, who)
		}

		// A second client with every company gets no companies claim.
		admin, adminSecret := mustClient(t, d, NewClient{Name: "ops", Roles: []string{"admin"}})
		tok, err = ccConfig(n, admin.ID, adminSecret).Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, claims := decodeJWT(t, tok.AccessToken); claims["companies"] != nil || claims["scope"] != strings.Join(AllScopes(), " ") {
			t.Fatalf("admin claims %v", claims)
		}
		if p, err := n.s.Verify(ctx, tok.AccessToken); err != nil || !p.AllCompanies() || !p.CanAccessCompany("co_9") {
			t.Fatalf("admin principal %+v, %v", p, err)
		}
	})
}

// tokenPost posts a form to the token endpoint and decodes the answer.
func tokenPost(t *testing.T, n *node, form url.Values, mutate func(*http.Request)) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, n.http.URL+TokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if mutate != nil {
		mutate(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("token endpoint answered %d %q", res.StatusCode, b)
	}
	return res, body
}

func TestClientSecretPostAndScopes(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		n := newNode(t, d, Options{TokenTTL: 15 * time.Minute})
		c, secret := mustClient(t, d, NewClient{Name: "shop", Roles: []string{"sales"}})

		res, body := tokenPost(t, n, url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {secret}}, nil)
		if res.StatusCode != 200 || body["token_type"] != "Bearer" || body["expires_in"] != float64(900) ||
			body["access_token"] == "" || body["refresh_token"] != nil {
			t.Fatalf("client_secret_post: %d %v", res.StatusCode, body)
		}
		if res.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("headers %v", res.Header)
		}

		// Narrowed: the token carries only what was asked, in table order.
		res, body = tokenPost(t, n, url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID},
			"client_secret": {secret}, "scope": {"sales:read  catalog:read"}}, nil)
		if res.StatusCode != 200 || body["scope"] != "catalog:read sales:read" {
			t.Fatalf("narrowed: %d %v", res.StatusCode, body)
		}
		p, err := n.s.Verify(ctx, body["access_token"].(string))
		if err != nil || !slices.Equal(p.Scopes, []string{"catalog:read", "sales:read"}) || p.Has("sales:write") {
			t.Fatalf("narrowed principal %+v, %v", p, err)
		}
		// A narrowed token without sales:write gets 403 and the challenge.
		req, _ := http.NewRequest(http.MethodGet, n.http.URL+"/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+body["access_token"].(string))
		r403, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r403.Body.Close()
		if r403.StatusCode != 403 || r403.Header.Get("WWW-Authenticate") != `Bearer error="insufficient_scope", scope="sales:write"` {
			t.Fatalf("narrowed token on a write: %d %q", r403.StatusCode, r403.Header.Get("WWW-Authenticate"))
		}

		// Asking for more than the roles give is invalid_scope, also with
		// the library.
		res, body = tokenPost(t, n, url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID},
			"client_secret": {secret}, "scope": {"sales:read payroll:read"}}, nil)
		if res.StatusCode != 400 || body["error"] != "invalid_scope" || !strings.Contains(body["error_description"].(string), "payroll:read") {
			t.Fatalf("invalid scope: %d %v", res.StatusCode, body)
		}
		_, err = ccConfig(n, c.ID, secret, "ledger:write").Token(ctx)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_scope" {
			t.Fatalf("library with a scope too many: %v", err)
		}
	})
}

func TestTokenEndpointRefusals(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		n := newNode(t, d, Options{})
		c, secret := mustClient(t, d, NewClient{Name: "shop", Roles: []string{"sales"}})
		gone, goneSecret := mustClient(t, d, NewClient{Name: "old", Roles: []string{"sales"}})
		if err := RevokeClient(ctx, d, gone.ID); err != nil {
			t.Fatal(err)
		}
		basic := func(id, pw string) func(*http.Request) {
			return func(r *http.Request) { r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(pw)) }
		}
		grant := url.Values{"grant_type": {"client_credentials"}}
		cases := []struct {
			name   string
			form   url.Values
			mutate func(*http.Request)
			status int
			code   string
		}{
			{"wrong secret", grant, basic(c.ID, secret+"x"), 401, "invalid_client"},
			{"wrong secret in body", url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {"mss_nope"}}, nil, 401, "invalid_client"},
			{"unknown client", grant, basic("cli_00000000000000000000000000", secret), 401, "invalid_client"},
			{"revoked client", grant, basic(gone.ID, goneSecret), 401, "invalid_client"},
			{"no credentials", grant, nil, 401, "invalid_client"},
			{"bearer scheme", grant, func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") }, 401, "invalid_client"},
			{"wrong grant type", url.Values{"grant_type": {"password"}}, basic(c.ID, secret), 400, "unsupported_grant_type"},
			{"no grant type", url.Values{}, basic(c.ID, secret), 400, "invalid_request"},
			{"json body", grant, func(r *http.Request) {
				r.Header.Set("Content-Type", "application/json")
				r.Body = io.NopCloser(strings.NewReader(`{"grant_type":"client_credentials"}`))
				r.ContentLength = -1
				r.SetBasicAuth(c.ID, secret)
			}, 400, "invalid_request"},
			{"two auth methods", url.Values{"grant_type": {"client_credentials"}, "client_secret": {secret}}, basic(c.ID, secret), 400, "invalid_request"},
			{"repeated parameter", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, basic(c.ID, secret), 400, "invalid_request"},
			{"parameters in URL", grant, func(r *http.Request) { r.URL.RawQuery = "client_secret=" + secret; r.SetBasicAuth(c.ID, secret) }, 400, "invalid_request"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res, body := tokenPost(t, n, tc.form, tc.mutate)
				if res.StatusCode != tc.status || body["error"] != tc.code || body["access_token"] != nil {
					t.Fatalf("got %d %v, want %d %s", res.StatusCode, body, tc.status, tc.code)
				}
				if res.Header.Get("Cache-Control") != "no-store" {
					t.Fatalf("Cache-Control %q", res.Header.Get("Cache-Control"))
				}
				wa := res.Header.Get("WWW-Authenticate")
				if (tc.status == 401) != (wa == `Basic realm="mainstay"`) {
					t.Fatalf("status %d with WWW-Authenticate %q", res.StatusCode, wa)
				}
			})
		}
		// The same through the library.
		_, err := ccConfig(n, c.ID, "mss_wrong").Token(ctx)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
			t.Fatalf("library with a wrong secret: %v", err)
		}
		// GET is not the token endpoint's method.
		res, err := http.Get(n.http.URL + TokenPath)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("GET token endpoint: %d", res.StatusCode)
		}
	})
}

// Every issue and every refusal leaves an audit row naming the client
// (when it exists), and none holds the secret.
func TestTokenAudit(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		n := newNode(t, d, Options{})
		c, secret := mustClient(t, d, NewClient{Name: "shop", Roles: []string{"sales"}})
		if _, err := ccConfig(n, c.ID, secret).Token(ctx); err != nil {
			t.Fatal(err)
		}
		wrong := secret[:len(secret)-2] + "zz"
		if _, err := ccConfig(n, c.ID, wrong).Token(ctx); err == nil {
			t.Fatal("wrong secret got a token")
		}
		if _, err := ccConfig(n, "cli_00000000000000000000000000", secret).Token(ctx); err == nil {
			t.Fatal("unknown client got a token")
		}
		if _, err := sequencer.Assign(ctx, d, "audit_log"); err != nil {
			t.Fatal(err)
		}
		all, err := audit.After(ctx, d, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var issues []audit.Stored
		for _, e := range all {
			if e.Action == "token.issue" {
				issues = append(issues, e)
			}
		}
		if len(issues) != 3 {
			t.Fatalf("%d token.issue rows, want 3: %+v", len(issues), issues)
		}
		ok, bad, unknown := issues[0], issues[1], issues[2]
		if ok.Outcome != audit.Success || ok.Actor != c.ID || ok.ResourceID == "" || ok.Details["scope"] == nil {
			t.Fatalf("success row %+v", ok)
		}
		if bad.Outcome != audit.Failure || bad.Actor != c.ID || bad.Details["error"] != "invalid_client" || bad.Details["reason"] != "wrong secret" {
			t.Fatalf("refusal row %+v", bad)
		}
		if unknown.Outcome != audit.Failure || unknown.Actor != "anonymous" || unknown.Details["reason"] != "unknown client" {
			t.Fatalf("unknown-client row %+v", unknown)
		}
		assertNoSecretInAudit(t, d, secret, wrong)
	})
}

// forge signs claims with the server's current key after mutate had its
// way with the header and claims.
func forge(t *testing.T, n *node, c Client, mutate func(tok *jwt.Token, cl *accessClaims)) string {
	t.Helper()
	key, err := n.s.keys.signer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	now := n.clock.Now()
	cl := &accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: testIssuer, Subject: c.ID, Audience: jwt.ClaimStrings{Audience(testIssuer)},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), ID: "at_test",
		},
		ClientID: c.ID, Scope: "sales:read", Roles: []string{"sales"},
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, cl)
	tok.Header["typ"] = TokenType
	tok.Header["kid"] = key.kid
	var signKey any = key.private
	if mutate != nil {
		mutate(tok, cl)
		if k, ok := tok.Header["_key"]; ok {
			signKey = k
			delete(tok.Header, "_key")
		}
	}
	raw, err := tok.SignedString(signKey)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// The resource-server checks: each forged or stale token is refused with
// Unauthenticated, and the untouched control token passes.
func TestVerifyRefuses(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		n := newNode(t, d, Options{})
		c, _ := mustClient(t, d, NewClient{Name: "shop", Roles: []string{"sales"}})
		key, err := n.s.keys.signer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, stranger, _ := ed25519.GenerateKey(rand.Reader)

		// A revoked token's jti, as POST /oauth2/revoke stores it.
		if _, err := d.ExecContext(ctx, `INSERT INTO oauth_revoked_tokens (jti, client_id, revoked_at, expires_at) VALUES ($1, $2, $3, $4)`,
			"at_revoked", c.ID, n.clock.Now(), n.clock.Now().Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := n.s.Verify(ctx, forge(t, n, c, nil)); err != nil {
			t.Fatalf("control token refused: %v", err)
		}
		cases := map[string]func(tok *jwt.Token, cl *accessClaims){
			"alg none": func(tok *jwt.Token, cl *accessClaims) {
				tok.Method = jwt.SigningMethodNone
				tok.Header["alg"] = "none"
				tok.Header["_key"] = jwt.UnsafeAllowNoneSignatureType
			},
			"HS256 with the public key": func(tok *jwt.Token, cl *accessClaims) {
				tok.Method = jwt.SigningMethodHS256
				tok.Header["alg"] = "HS256"
				tok.Header["_key"] = []byte(key.public)
			},
			"typ JWT":   func(tok *jwt.Token, cl *accessClaims) { tok.Header["typ"] = "JWT" },
			"no typ":    func(tok *jwt.Token, cl *accessClaims) { delete(tok.Header, "typ") },
			"wrong aud": func(tok *jwt.Token, cl *accessClaims) { cl.Audience = jwt.ClaimStrings{"https://other.example/v1"} },
			"no aud":    func(tok *jwt.Token, cl *accessClaims) { cl.Audience = nil },
			"wrong iss": func(tok *jwt.Token, cl *accessClaims) { cl.Issuer = "https://evil.example" },
			"no exp":    func(tok *jwt.Token, cl *accessClaims) { cl.ExpiresAt = nil },
			"iat ahead": func(tok *jwt.Token, cl *accessClaims) {
				cl.IssuedAt = jwt.NewNumericDate(n.clock.Now().Add(10 * time.Minute))
			},
			"unknown kid": func(tok *jwt.Token, cl *accessClaims) {
				tok.Header["kid"] = "no-such-key"
				tok.Header["_key"] = stranger
			},
			"no kid":      func(tok *jwt.Token, cl *accessClaims) { delete(tok.Header, "kid") },
			"foreign key": func(tok *jwt.Token, cl *accessClaims) { tok.Header["_key"] = stranger },
			"sub≠client":  func(tok *jwt.Token, cl *accessClaims) { cl.ClientID = "cli_other" },
			"unknown sub": func(tok *jwt.Token, cl *accessClaims) { cl.Subject, cl.ClientID = "cli_ghost", "cli_ghost" },
			"expired": func(tok *jwt.Token, cl *accessClaims) {
				cl.ExpiresAt = jwt.NewNumericDate(n.clock.Now().Add(-time.Minute))
			},
			"no jti": func(tok *jwt.Token, cl *accessClaims) { cl.ID = "" },
			"not yet valid": func(tok *jwt.Token, cl *accessClaims) {
				cl.NotBefore = jwt.NewNumericDate(n.clock.Now().Add(leeway + time.Minute))
			},
			"revoked": func(tok *jwt.Token, cl *accessClaims) { cl.ID = "at_revoked" },
		}
		for name, mutate := range cases {
			t.Run(name, func(t *testing.T) {
				_, err := n.s.Verify(ctx, forge(t, n, c, mutate))
				wantCode(t, err, apperr.Unauthenticated)
			})
		}

		// A real token, tampered with: more scopes in the payload, same
		// signature.
		real := forge(t, n, c, nil)
		parts := strings.Split(real, ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		payload = []byte(strings.Replace(string(payload), `"scope":"sales:read"`, `"scope":"sales:read payroll:read"`, 1))
		tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
		if tampered == real {
			t.Fatal("tampering changed nothing")
		}
		_, err = n.s.Verify(ctx, tampered)
		wantCode(t, err, apperr.Unauthenticated)
		for _, junk := range []string{"", "a.b.c", "not a token", real + "x", strings.Repeat("a", maxTokenLen+1)} {
			_, err = n.s.Verify(ctx, junk)
			wantCode(t, err, apperr.Unauthenticated)
		}

		// Expiry by the clock: valid now, refused once exp (plus leeway)
		// has passed.
		tok := forge(t, n, c, nil)
		n.clock.Advance(time.Hour + leeway - time.Second)
		if _, err := n.s.Verify(ctx, tok); err != nil {
			t.Fatalf("within leeway: %v", err)
		}
		n.clock.Advance(2 * time.Second)
		_, err = n.s.Verify(ctx, tok)
		wantCode(t, err, apperr.Unauthenticated)
		if !errors.Is(err, errExpiredToken) {
			t.Fatalf("expired token: %v", err)
		}
	})
}

// A revoked client's tokens die: at once on the node that revoked it, and
// within the cache window on another node.
func TestRevokedClientTokensDie(t *testing.T) {
	forEachEngineURL(t, func(t *testing.T, u string) {
		ctx := context.Background()
		a := newNode(t, dbtest.OpenURL(t, u), Options{})
		b := newNode(t, dbtest.OpenURL(t, u), Options{})
		uncached := newNode(t, dbtest.OpenURL(t, u), Options{ClientCacheTTL: -1})
		c, secret := mustClient(t, a.d, NewClient{Name: "shop", Roles: []string{"sales"}})
		tok, err := ccConfig(a, c.ID, secret).Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []*node{a, b, uncached} {
			if _, err := n.s.Verify(ctx, tok.AccessToken); err != nil {
				t.Fatalf("before revoke: %v", err)
			}
		}
		if err := RevokeClient(ctx, a.d, c.ID); err != nil {
			t.Fatal(err)
		}
		_, err = a.s.Verify(ctx, tok.AccessToken)
		wantCode(t, err, apperr.Unauthenticated)
		_, err = uncached.s.Verify(ctx, tok.AccessToken)
		wantCode(t, err, apperr.Unauthenticated)
		// b cached "active" a moment ago; once the window passes, b looks
		// again and refuses.
		b.clock.Advance(DefaultClientCacheTTL)
		_, err = b.s.Verify(ctx, tok.AccessToken)
		wantCode(t, err, apperr.Unauthenticated)
		if !errors.Is(err, errRevokedClient) {
			t.Fatalf("revoked: %v", err)
		}
		// And the middleware says so with a Bearer challenge.
		req, _ := http.NewRequest(http.MethodGet, b.http.URL+"/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") != `Bearer realm="mainstay", error="invalid_token"` {
			t.Fatalf("revoked via middleware: %d %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
		}
	})
}

func TestMiddleware(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	n := newNode(t, d, Options{})
	c, secret := mustClient(t, d, NewClient{Name: "shop", Roles: []string{"sales"}})
	tok, err := ccConfig(n, c.ID, secret).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, auth string
		status     int
		challenge  string
	}{
		{"none", "", 401, `Bearer realm="mainstay"`},
		{"basic", "Basic Zm9vOmJhcg==", 401, `Bearer realm="mainstay"`},
		{"garbage", "Bearer garbage", 401, `Bearer realm="mainstay", error="invalid_token"`},
		{"good", "Bearer " + tok.AccessToken, 200, ""},
		{"lower-case scheme", "bearer " + tok.AccessToken, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, n.http.URL+"/v1/whoami", nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(res.Body).Decode(&body)
			if res.StatusCode != tc.status || res.Header.Get("WWW-Authenticate") != tc.challenge {
				t.Fatalf("%d %q %v", res.StatusCode, res.Header.Get("WWW-Authenticate"), body)
			}
			if tc.status == 401 && (res.Header.Get("Content-Type") != "application/problem+json" || body["code"] != "unauthenticated") {
				t.Fatalf("401 is not an unauthenticated problem: %v", body)
			}
		})
	}
}
