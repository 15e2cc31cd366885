package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/sequencer"
)

// oauthPost posts a form to one of n's OAuth endpoints with HTTP Basic
// credentials (none if clientID is empty) and returns the status and the
// JSON body, if any.
func oauthPost(t *testing.T, n *node, path, clientID, secret string, form url.Values) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, n.http.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if clientID != "" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var body map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("%s answered %d %q", path, res.StatusCode, b)
		}
	}
	return res, body
}

func mustToken(t *testing.T, n *node, clientID, secret string) string {
	t.Helper()
	tok, err := ccConfig(n, clientID, secret).Token(context.Background())
	if err != nil {
		t.Fatalf("token for %s: %v", clientID, err)
	}
	return tok.AccessToken
}

// Tokens carry nbf = iat, and a verifier whose clock has not reached nbf
// (beyond the leeway) refuses them.
func TestNotBefore(t *testing.T) {
	forEachEngineURL(t, func(t *testing.T, u string) {
		ctx := context.Background()
		a := newNode(t, dbtest.OpenURL(t, u), Options{})
		behind := newNode(t, dbtest.OpenURL(t, u), Options{})
		c, secret := mustClient(t, a.d, NewClient{Name: "shop", Roles: []string{"sales"}})
		tok := mustToken(t, a, c.ID, secret)
		_, claims := decodeJWT(t, tok)
		if claims["nbf"] == nil || claims["nbf"] != claims["iat"] {
			t.Fatalf("nbf %v, iat %v", claims["nbf"], claims["iat"])
		}
		behind.clock.Set(a.clock.Now().Add(-leeway + time.Second))
		if _, err := behind.s.Verify(ctx, tok); err != nil {
			t.Fatalf("within the leeway: %v", err)
		}
		behind.clock.Set(a.clock.Now().Add(-leeway - time.Second))
		_, err := behind.s.Verify(ctx, tok)
		wantCode(t, err, apperr.Unauthenticated)
		if !errors.Is(err, jwt.ErrTokenNotValidYet) {
			t.Fatalf("not yet valid: %v", err)
		}
		// A forged nbf ahead is refused on the issuing node too.
		_, err = a.s.Verify(ctx, forge(t, a, c, func(_ *jwt.Token, cl *accessClaims) {
			cl.NotBefore = jwt.NewNumericDate(a.clock.Now().Add(5 * time.Minute))
		}))
		wantCode(t, err, apperr.Unauthenticated)
	})
}

// RFC 7009: a client revokes its own token, which dies at once on the
// node that revoked it and within the cache window elsewhere; unknown
// tokens are 200; another client's token is refused and stays alive.
func TestRevocation(t *testing.T) {
	forEachEngineURL(t, func(t *testing.T, u string) {
		ctx := context.Background()
		a := newNode(t, dbtest.OpenURL(t, u), Options{})
		b := newNode(t, dbtest.OpenURL(t, u), Options{})
		uncached := newNode(t, dbtest.OpenURL(t, u), Options{ClientCacheTTL: -1})
		c1, s1 := mustClient(t, a.d, NewClient{Name: "one", Roles: []string{"sales"}})
		c2, s2 := mustClient(t, a.d, NewClient{Name: "two", Roles: []string{"sales"}})
		t1, t1b, t2 := mustToken(t, a, c1.ID, s1), mustToken(t, a, c1.ID, s1), mustToken(t, a, c2.ID, s2)
		for _, n := range []*node{a, b, uncached} {
			for _, tok := range []string{t1, t1b, t2} {
				if _, err := n.s.Verify(ctx, tok); err != nil {
					t.Fatalf("before revoking: %v", err)
				}
			}
		}

		for _, junk := range []string{"garbage", "a.b.c", forge(t, a, c1, func(_ *jwt.Token, cl *accessClaims) { cl.Issuer = "https://evil.example" })} {
			if res, _ := oauthPost(t, a, RevokePath, c1.ID, s1, url.Values{"token": {junk}}); res.StatusCode != 200 {
				t.Fatalf("revoking junk: %d", res.StatusCode)
			}
		}
		res, body := oauthPost(t, a, RevokePath, c1.ID, s1, url.Values{"token": {t2}, "token_type_hint": {"access_token"}})
		if res.StatusCode != 400 || body["error"] != "unauthorized_client" {
			t.Fatalf("revoking another client's token: %d %v", res.StatusCode, body)
		}
		res, body = oauthPost(t, a, RevokePath, c1.ID, s1+"x", url.Values{"token": {t1}})
		if res.StatusCode != 401 || body["error"] != "invalid_client" || res.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("revoking with a wrong secret: %d %v", res.StatusCode, body)
		}
		res, body = oauthPost(t, a, RevokePath, c1.ID, s1, url.Values{})
		if res.StatusCode != 400 || body["error"] != "invalid_request" {
			t.Fatalf("revoking without a token: %d %v", res.StatusCode, body)
		}

		res, _ = oauthPost(t, a, RevokePath, c1.ID, s1, url.Values{"token": {t1}})
		if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("revoke: %d %v", res.StatusCode, res.Header)
		}
		for name, n := range map[string]*node{"revoking node": a, "uncached node": uncached} {
			_, err := n.s.Verify(ctx, t1)
			wantCode(t, err, apperr.Unauthenticated)
			if !errors.Is(err, errRevokedToken) {
				t.Fatalf("%s: %v", name, err)
			}
		}
		// b looked a moment ago; past the cache window it looks again.
		b.clock.Advance(DefaultClientCacheTTL)
		_, err := b.s.Verify(ctx, t1)
		wantCode(t, err, apperr.Unauthenticated)
		// Only that token: the client's other token and c2's still work.
		for _, n := range []*node{a, b, uncached} {
			for _, tok := range []string{t1b, t2} {
				if _, err := n.s.Verify(ctx, tok); err != nil {
					t.Fatalf("an unrevoked token died: %v", err)
				}
			}
		}
		// Revoking again is fine; the row lives until the token's expiry.
		if res, _ := oauthPost(t, a, RevokePath, c1.ID, s1, url.Values{"token": {t1}}); res.StatusCode != 200 {
			t.Fatalf("second revoke: %d", res.StatusCode)
		}
		var n int
		if err := a.d.QueryRowContext(ctx, `SELECT COUNT(*) FROM oauth_revoked_tokens`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("%d revoked rows, want 1", n)
		}
		// Through the middleware: 401 with the Bearer challenge.
		req, _ := http.NewRequest(http.MethodGet, a.http.URL+"/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+t1)
		r401, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r401.Body.Close()
		if r401.StatusCode != 401 || !strings.Contains(r401.Header.Get("WWW-Authenticate"), "invalid_token") {
			t.Fatalf("revoked token via middleware: %d", r401.StatusCode)
		}

		// Once the token would have expired, the next revocation sweeps it.
		a.clock.Advance(time.Hour + leeway + time.Second)
		t3 := mustToken(t, a, c2.ID, s2)
		if res, _ := oauthPost(t, a, RevokePath, c2.ID, s2, url.Values{"token": {t3}}); res.StatusCode != 200 {
			t.Fatalf("revoke t3: %d", res.StatusCode)
		}
		var jtis []string
		rows, err := a.d.QueryContext(ctx, `SELECT client_id FROM oauth_revoked_tokens`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			_ = rows.Scan(&s)
			jtis = append(jtis, s)
		}
		rows.Close()
		if !slices.Equal(jtis, []string{c2.ID}) {
			t.Fatalf("after the sweep the revoked rows are of %v, want only %s", jtis, c2.ID)
		}

		if _, err := sequencer.Assign(ctx, a.d, "audit_log"); err != nil {
			t.Fatal(err)
		}
		all, err := audit.After(ctx, a.d, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var ok, refused int
		for _, r := range all {
			if r.Action == "token.revoke" && r.Outcome == audit.Success {
				ok++
			}
			if r.Action == "token.revoke" && r.Outcome == audit.Failure {
				refused++
			}
		}
		if ok != 3 || refused != 3 {
			t.Fatalf("audit: %d revocations (want 3), %d refusals (want 3)", ok, refused)
		}
	})
}

// RFC 7662: an authenticated client learns about its own tokens; another
// client's token, or any dead one, is just {"active":false}, unless the
// caller holds clients:read.
func TestIntrospection(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		n := newNode(t, d, Options{})
		c1, s1 := mustClient(t, d, NewClient{Name: "one", Roles: []string{"sales"}, Companies: []string{"co_1"}})
		c2, s2 := mustClient(t, d, NewClient{Name: "two", Roles: []string{"inventory"}})
		admin, adminSecret := mustClient(t, d, NewClient{Name: "ops", Roles: []string{"admin"}})
		t1, t2 := mustToken(t, n, c1.ID, s1), mustToken(t, n, c2.ID, s2)

		res, body := oauthPost(t, n, IntrospectPath, c1.ID, s1, url.Values{"token": {t1}})
		_, claims := decodeJWT(t, t1)
		wantScopes, _ := ScopesFor([]string{"sales"})
		aud, _ := body["aud"].([]any)
		if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-store" || body["active"] != true ||
			body["client_id"] != c1.ID || body["sub"] != c1.ID || body["iss"] != testIssuer || body["jti"] != claims["jti"] ||
			body["scope"] != strings.Join(wantScopes, " ") || body["token_type"] != "Bearer" ||
			body["exp"] != claims["exp"] || body["iat"] != claims["iat"] || body["nbf"] != claims["nbf"] ||
			len(aud) != 1 || aud[0] != Audience(testIssuer) {
			t.Fatalf("introspect own token: %d %v", res.StatusCode, body)
		}
		if co, _ := body["companies"].([]any); len(co) != 1 || co[0] != "co_1" {
			t.Fatalf("companies %v", body["companies"])
		}

		inactive := func(name, clientID, secret, token string) {
			t.Helper()
			res, body := oauthPost(t, n, IntrospectPath, clientID, secret, url.Values{"token": {token}})
			if res.StatusCode != 200 || len(body) != 1 || body["active"] != false {
				t.Fatalf("%s: %d %v, want only active:false", name, res.StatusCode, body)
			}
		}
		inactive("another client's token", c1.ID, s1, t2)
		inactive("garbage", c1.ID, s1, "garbage")
		inactive("wrong iss", c1.ID, s1, forge(t, n, c1, func(_ *jwt.Token, cl *accessClaims) { cl.Issuer = "https://evil.example" }))
		inactive("expired", c1.ID, s1, forge(t, n, c1, func(_ *jwt.Token, cl *accessClaims) {
			cl.ExpiresAt = jwt.NewNumericDate(n.clock.Now().Add(-time.Hour))
		}))
		// The clients:read holder sees every client's tokens.
		res, body = oauthPost(t, n, IntrospectPath, admin.ID, adminSecret, url.Values{"token": {t2}})
		if res.StatusCode != 200 || body["active"] != true || body["client_id"] != c2.ID {
			t.Fatalf("admin introspecting: %d %v", res.StatusCode, body)
		}
		// Revoked token, then revoked client: inactive at once, even for
		// the admin.
		if res, _ := oauthPost(t, n, RevokePath, c1.ID, s1, url.Values{"token": {t1}}); res.StatusCode != 200 {
			t.Fatal("revoke")
		}
		inactive("revoked token", c1.ID, s1, t1)
		if err := RevokeClient(ctx, d, c2.ID); err != nil {
			t.Fatal(err)
		}
		inactive("revoked client's token", admin.ID, adminSecret, t2)

		res, body = oauthPost(t, n, IntrospectPath, "", "", url.Values{"token": {t1}})
		if res.StatusCode != 401 || body["error"] != "invalid_client" || body["active"] != nil {
			t.Fatalf("unauthenticated introspection: %d %v", res.StatusCode, body)
		}
		res, body = oauthPost(t, n, IntrospectPath, c2.ID, s2, url.Values{"token": {t1}})
		if res.StatusCode != 401 || body["error"] != "invalid_client" {
			t.Fatalf("introspection by a revoked client: %d %v", res.StatusCode, body)
		}
		res, body = oauthPost(t, n, IntrospectPath, admin.ID, adminSecret, url.Values{})
		if res.StatusCode != 400 || body["error"] != "invalid_request" {
			t.Fatalf("introspection without a token: %d %v", res.StatusCode, body)
		}
	})
}

// A client's secret is replaced; the old one works until the overlap
// ends, by the verifying node's clock.
func TestRotateSecret(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		n := newNode(t, d, Options{})
		c, oldSecret := mustClient(t, d, NewClient{Name: "shop", Roles: []string{"sales"}})
		newSecret, err := RotateSecret(ctx, d, c.ID, time.Hour)
		if err != nil || newSecret == oldSecret || !strings.HasPrefix(newSecret, SecretPrefix) {
			t.Fatalf("rotate: %q, %v", newSecret, err)
		}
		mustToken(t, n, c.ID, newSecret)
		mustToken(t, n, c.ID, oldSecret)
		n.clock.Advance(time.Hour + time.Minute)
		if _, err := ccConfig(n, c.ID, oldSecret).Token(ctx); err == nil {
			t.Fatal("the old secret works after the overlap")
		}
		mustToken(t, n, c.ID, newSecret)

		// Without overlap the old secret stops at once.
		newer, err := RotateSecret(ctx, d, c.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ccConfig(n, c.ID, newSecret).Token(ctx); err == nil {
			t.Fatal("the old secret works after a rotation without overlap")
		}
		mustToken(t, n, c.ID, newer)

		_, err = RotateSecret(ctx, d, c.ID, -time.Second)
		wantCode(t, err, apperr.Invalid)
		_, err = RotateSecret(ctx, d, c.ID, MaxSecretOverlap+time.Second)
		wantCode(t, err, apperr.Invalid)
		_, err = RotateSecret(ctx, d, "cli_nobody", time.Hour)
		wantCode(t, err, apperr.NotFound)
		if err := RevokeClient(ctx, d, c.ID); err != nil {
			t.Fatal(err)
		}
		_, err = RotateSecret(ctx, d, c.ID, time.Hour)
		wantCode(t, err, apperr.Conflict)

		if _, err := sequencer.Assign(ctx, d, "audit_log"); err != nil {
			t.Fatal(err)
		}
		all, err := audit.After(ctx, d, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var rotations, previous int
		for _, r := range all {
			if r.Action == "client.rotate_secret" && r.ResourceID == c.ID {
				rotations++
			}
			if r.Action == "token.issue" && r.Outcome == audit.Success && r.Details["secret"] == "previous" {
				previous++
			}
			if text := fmt.Sprint(r.Details); strings.Contains(text, oldSecret) || strings.Contains(text, newSecret) || strings.Contains(text, newer) {
				t.Fatal("a secret reached the audit log")
			}
		}
		if rotations != 2 || previous != 1 {
			t.Fatalf("audit: %d rotations (want 2), %d issues with the previous secret (want 1)", rotations, previous)
		}
	})
}

// A token verified once is remembered, not trusted beyond its life: past
// its expiry (and the leeway) the next request with it is refused as
// expired, however recently it was verified.
func TestVerifiedTokenExpiresInCache(t *testing.T) {
	forEachEngineURL(t, func(t *testing.T, u string) {
		ctx := context.Background()
		n := newNode(t, dbtest.OpenURL(t, u), Options{TokenTTL: time.Minute})
		c, secret := mustClient(t, n.d, NewClient{Name: "shop", Roles: []string{"sales"}})
		tok := mustToken(t, n, c.ID, secret)
		for range 3 {
			if _, err := n.s.Verify(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
		n.clock.Set(n.clock.Now().Add(time.Minute + leeway + time.Second))
		_, err := n.s.Verify(ctx, tok)
		wantCode(t, err, apperr.Unauthenticated)
		if !errors.Is(err, jwt.ErrTokenExpired) {
			t.Fatalf("expired token: %v", err)
		}
	})
}
