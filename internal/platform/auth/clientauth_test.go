package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
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

func publicPEM(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func p256JWK(t *testing.T, pub *ecdsa.PublicKey, kid string) string {
	t.Helper()
	raw, err := pub.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{
		"kty": "EC", "crv": "P-256", "kid": kid,
		"x": base64.RawURLEncoding.EncodeToString(raw[1:33]), "y": base64.RawURLEncoding.EncodeToString(raw[33:]),
	})
	return string(b)
}

func randomJTI() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// signAssertion makes a client assertion for clientID, valid for two
// minutes by n's clock, which mutate may then spoil.
func signAssertion(t *testing.T, n *node, clientID string, method jwt.SigningMethod, key any, kid string,
	mutate func(*jwt.Token, *jwt.RegisteredClaims)) string {
	t.Helper()
	now := n.clock.Now()
	cl := &jwt.RegisteredClaims{
		Issuer: clientID, Subject: clientID, Audience: jwt.ClaimStrings{testIssuer + TokenPath},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(2 * time.Minute)), ID: randomJTI(),
	}
	tok := jwt.NewWithClaims(method, cl)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	if mutate != nil {
		mutate(tok, cl)
	}
	raw, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func assertionForm(assertion string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {JWTBearerAssertion}, "client_assertion": {assertion}}
}

// private_key_jwt (RFC 7523): a key-only client (Ed25519, PEM) and a
// client with a secret and a P-256 JWK get tokens by signed assertions;
// every spoiled assertion, and every replay, is invalid_client.
func TestPrivateKeyJWT(t *testing.T) {
	forEachEngineURL(t, func(t *testing.T, u string) {
		ctx := context.Background()
		a := newNode(t, dbtest.OpenURL(t, u), Options{})
		b := newNode(t, dbtest.OpenURL(t, u), Options{})
		edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
		keyOnly, secret := mustClient(t, a.d, NewClient{Name: "signer", Roles: []string{"sales"}, PublicKey: publicPEM(t, edPub), NoSecret: true})
		if secret != "" {
			t.Fatalf("a NoSecret client got a secret %q", secret)
		}
		keys, err := ListClientKeys(ctx, a.d, keyOnly.ID)
		if err != nil || len(keys) != 1 || keys[0].Algorithm != "EdDSA" || keys[0].KeyID != thumbprint(edPub) ||
			strings.Contains(string(keys[0].JWK), `"d"`) {
			t.Fatalf("keys %+v, %v", keys, err)
		}
		ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		both, bothSecret := mustClient(t, a.d, NewClient{Name: "both", Roles: []string{"sales"}})
		ck, err := AddClientKey(ctx, a.d, both.ID, p256JWK(t, &ecPriv.PublicKey, "ec-1"))
		if err != nil || ck.KeyID != "ec-1" || ck.Algorithm != "ES256" {
			t.Fatalf("add P-256 key: %+v, %v", ck, err)
		}

		// Ed25519 without kid (one key: unambiguous), from the form.
		assertion := signAssertion(t, a, keyOnly.ID, jwt.SigningMethodEdDSA, edPriv, "", nil)
		res, body := tokenPost(t, a, assertionForm(assertion), nil)
		if res.StatusCode != 200 || body["access_token"] == nil {
			t.Fatalf("private_key_jwt: %d %v", res.StatusCode, body)
		}
		if p, err := a.s.Verify(ctx, body["access_token"].(string)); err != nil || p.ClientID != keyOnly.ID {
			t.Fatalf("verify: %+v, %v", p, err)
		}
		// The same assertion again, here or on another node: a replay.
		for _, n := range []*node{a, b} {
			res, body = tokenPost(t, n, assertionForm(assertion), nil)
			if res.StatusCode != 401 || body["error"] != "invalid_client" {
				t.Fatalf("replay: %d %v", res.StatusCode, body)
			}
		}
		// ES256 with kid, the issuer as audience, and client_id in the body.
		form := assertionForm(signAssertion(t, a, both.ID, jwt.SigningMethodES256, ecPriv, "ec-1", func(_ *jwt.Token, cl *jwt.RegisteredClaims) {
			cl.Audience = jwt.ClaimStrings{testIssuer}
		}))
		form.Set("client_id", both.ID)
		if res, body := tokenPost(t, b, form, nil); res.StatusCode != 200 {
			t.Fatalf("ES256: %d %v", res.StatusCode, body)
		}
		// The secret still works for a client that has both.
		if _, err := ccConfig(a, both.ID, bothSecret).Token(ctx); err != nil {
			t.Fatalf("secret of a client with a key: %v", err)
		}

		_, stranger, _ := ed25519.GenerateKey(rand.Reader)
		rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		revoked, _ := mustClient(t, a.d, NewClient{Name: "gone", Roles: []string{"sales"}, PublicKey: publicPEM(t, edPub), NoSecret: true})
		if err := RevokeClient(ctx, a.d, revoked.ID); err != nil {
			t.Fatal(err)
		}
		ed := func(mutate func(*jwt.Token, *jwt.RegisteredClaims)) url.Values {
			return assertionForm(signAssertion(t, a, keyOnly.ID, jwt.SigningMethodEdDSA, edPriv, "", mutate))
		}
		withForm := func(f url.Values, k, v string) url.Values { f.Set(k, v); return f }
		cases := []struct {
			name   string
			form   url.Values
			mutate func(*http.Request)
			status int
			code   string
		}{
			{"wrong aud", ed(func(_ *jwt.Token, cl *jwt.RegisteredClaims) {
				cl.Audience = jwt.ClaimStrings{"https://other.example/oauth2/token"}
			}), nil, 401, "invalid_client"},
			{"no aud", ed(func(_ *jwt.Token, cl *jwt.RegisteredClaims) { cl.Audience = nil }), nil, 401, "invalid_client"},
			{"exp 10 min ahead", ed(func(_ *jwt.Token, cl *jwt.RegisteredClaims) {
				cl.ExpiresAt = jwt.NewNumericDate(a.clock.Now().Add(10 * time.Minute))
			}), nil, 401, "invalid_client"},
			{"expired", ed(func(_ *jwt.Token, cl *jwt.RegisteredClaims) {
				cl.ExpiresAt = jwt.NewNumericDate(a.clock.Now().Add(-time.Minute))
			}), nil, 401, "invalid_client"},
			{"no exp", ed(func(_ *jwt.Token, cl *jwt.RegisteredClaims) { cl.ExpiresAt = nil }), nil, 401, "invalid_client"},
			{"not yet valid", ed(func(_ *jwt.Token, cl *jwt.RegisteredClaims) {
				cl.NotBefore = jwt.NewNumericDate(a.clock.Now().Add(2 * time.Minute))
			}), nil, 401, "invalid_client"},
			{"no jti", ed(func(_ *jwt.Token, cl *jwt.RegisteredClaims) { cl.ID = "" }), nil, 401, "invalid_client"},
			{"sub is not iss", ed(func(_ *jwt.Token, cl *jwt.RegisteredClaims) { cl.Subject = both.ID }), nil, 401, "invalid_client"},
			{"iss of another client", ed(func(_ *jwt.Token, cl *jwt.RegisteredClaims) { cl.Issuer, cl.Subject = both.ID, both.ID }), nil, 401, "invalid_client"},
			{"unknown client", ed(func(_ *jwt.Token, cl *jwt.RegisteredClaims) {
				cl.Issuer, cl.Subject = "cli_00000000000000000000000000", "cli_00000000000000000000000000"
			}), nil, 401, "invalid_client"},
			{"revoked client", assertionForm(signAssertion(t, a, revoked.ID, jwt.SigningMethodEdDSA, edPriv, "", nil)), nil, 401, "invalid_client"},
			{"foreign key", assertionForm(signAssertion(t, a, keyOnly.ID, jwt.SigningMethodEdDSA, stranger, "", nil)), nil, 401, "invalid_client"},
			{"unknown kid", assertionForm(signAssertion(t, a, keyOnly.ID, jwt.SigningMethodEdDSA, edPriv, "nope", nil)), nil, 401, "invalid_client"},
			{"alg none", assertionForm(signAssertion(t, a, keyOnly.ID, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", nil)), nil, 401, "invalid_client"},
			{"HS256 with the public key", assertionForm(signAssertion(t, a, keyOnly.ID, jwt.SigningMethodHS256, []byte(edPub), "", nil)), nil, 401, "invalid_client"},
			{"HS256 with the public PEM", assertionForm(signAssertion(t, a, keyOnly.ID, jwt.SigningMethodHS256, []byte(publicPEM(t, edPub)), "", nil)), nil, 401, "invalid_client"},
			{"RS256 by an unregistered RSA key", assertionForm(signAssertion(t, a, keyOnly.ID, jwt.SigningMethodRS256, rsaKey, "", nil)), nil, 401, "invalid_client"},
			{"ES256 header on the Ed25519 client", assertionForm(signAssertion(t, a, both.ID, jwt.SigningMethodES256, ecPriv, "", func(tok *jwt.Token, cl *jwt.RegisteredClaims) {
				cl.Issuer, cl.Subject = keyOnly.ID, keyOnly.ID
			})), nil, 401, "invalid_client"},
			{"garbage", assertionForm("not.a.jwt"), nil, 401, "invalid_client"},
			{"empty assertion", withForm(assertionForm(""), "client_id", keyOnly.ID), nil, 401, "invalid_client"},
			{"wrong assertion type", withForm(ed(nil), "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"), nil, 400, "invalid_request"},
			{"assertion and secret", withForm(ed(nil), "client_secret", bothSecret), nil, 400, "invalid_request"},
			{"assertion and basic", ed(nil), func(r *http.Request) { r.SetBasicAuth(both.ID, bothSecret) }, 400, "invalid_request"},
			{"client_id differs", withForm(ed(nil), "client_id", both.ID), nil, 400, "invalid_request"},
			{"key-only client with an empty secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {keyOnly.ID}, "client_secret": {""}}, nil, 401, "invalid_client"},
			{"key-only client with a made-up secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {keyOnly.ID}, "client_secret": {"mss_x"}}, nil, 401, "invalid_client"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res, body := tokenPost(t, a, tc.form, tc.mutate)
				if res.StatusCode != tc.status || body["error"] != tc.code || body["access_token"] != nil {
					t.Fatalf("got %d %v, want %d %s", res.StatusCode, body, tc.status, tc.code)
				}
			})
		}

		// Removing the key ends private_key_jwt for that key.
		if err := RemoveClientKey(ctx, a.d, both.ID, "ec-1"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, RemoveClientKey(ctx, a.d, both.ID, "ec-1"), apperr.NotFound)
		res, body = tokenPost(t, a, assertionForm(signAssertion(t, a, both.ID, jwt.SigningMethodES256, ecPriv, "ec-1", nil)), nil)
		if res.StatusCode != 401 {
			t.Fatalf("removed key still works: %d %v", res.StatusCode, body)
		}

		// The audit log tells how each client authenticated and why a
		// refusal was refused.
		if _, err := sequencer.Assign(ctx, a.d, "audit_log"); err != nil {
			t.Fatal(err)
		}
		rows, err := audit.After(ctx, a.d, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var issued, replays int
		for _, r := range rows {
			if r.Action == "token.issue" && r.Outcome == audit.Success && r.Details["auth_method"] == AuthPrivateKeyJWT && r.Details["key_id"] != nil {
				issued++
			}
			if r.Action == "token.issue" && r.Outcome == audit.Failure && r.Details["reason"] == "replayed assertion" {
				replays++
			}
		}
		if issued != 2 || replays != 2 {
			t.Fatalf("audit: %d private_key_jwt issues (want 2), %d replays (want 2)", issued, replays)
		}
	})
}

// Keys are checked on the way in: only public Ed25519 or P-256 keys.
func TestClientKeysValidate(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
		privDER, _ := x509.MarshalPKCS8PrivateKey(edPriv)
		p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
		ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		var jwk map[string]any
		_ = json.Unmarshal([]byte(p256JWK(t, &ecPriv.PublicKey, "")), &jwk)
		jwk["d"] = "c2VjcmV0"
		privJWK, _ := json.Marshal(jwk)
		jwk["d"], jwk["alg"] = nil, "RS256"
		delete(jwk, "d")
		wrongAlg, _ := json.Marshal(jwk)
		offCurve := strings.Replace(p256JWK(t, &ecPriv.PublicKey, ""), `"y":"`, `"y":"A`, 1)
		for name, key := range map[string]string{
			"private PEM":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})),
			"P-384":        publicPEM(t, &p384.PublicKey),
			"RSA":          publicPEM(t, &rsaKey.PublicKey),
			"private JWK":  string(privJWK),
			"JWK alg lies": string(wrongAlg),
			"off curve":    offCurve,
			"junk":         "hello",
			"two PEMs":     publicPEM(t, edPub) + publicPEM(t, edPub),
		} {
			t.Run(name, func(t *testing.T) {
				_, _, err := CreateClient(ctx, d, NewClient{Name: "x", Roles: []string{"sales"}, PublicKey: key})
				wantCode(t, err, apperr.Invalid)
				if e := apperr.As(err); len(e.Fields) == 0 || e.Fields[0].Pointer != "/public_key" {
					t.Fatalf("error %+v does not point at /public_key", e)
				}
			})
		}
		_, _, err := CreateClient(ctx, d, NewClient{Name: "x", Roles: []string{"sales"}, NoSecret: true})
		wantCode(t, err, apperr.Invalid)
		if list, _ := ListClients(ctx, d); len(list) != 0 {
			t.Fatalf("refused clients were stored: %v", list)
		}

		c, _ := mustClient(t, d, NewClient{Name: "x", Roles: []string{"sales"}, PublicKey: publicPEM(t, edPub)})
		_, err = AddClientKey(ctx, d, c.ID, publicPEM(t, edPub))
		wantCode(t, err, apperr.Conflict) // same kid
		_, err = AddClientKey(ctx, d, "cli_nobody", publicPEM(t, edPub))
		wantCode(t, err, apperr.NotFound)
		for i := range maxClientKeys - 1 {
			if _, err := AddClientKey(ctx, d, c.ID, p256JWK(t, &ecPriv.PublicKey, "k"+string(rune('a'+i)))); err != nil {
				t.Fatal(err)
			}
		}
		_, err = AddClientKey(ctx, d, c.ID, p256JWK(t, &ecPriv.PublicKey, "one-too-many"))
		wantCode(t, err, apperr.Conflict)
	})
}
