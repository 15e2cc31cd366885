package auth

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
)

func fetchJSON(t *testing.T, url string) (*http.Response, map[string]any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return res, body
}

// fetchJWKS returns the published keys, checking that each is a public
// Ed25519 JWK and nothing more.
func fetchJWKS(t *testing.T, n *node) []map[string]any {
	t.Helper()
	res, body := fetchJSON(t, n.http.URL+JWKSPath)
	if res.StatusCode != 200 || len(body) != 1 {
		t.Fatalf("JWKS: %d %v", res.StatusCode, body)
	}
	list, _ := body["keys"].([]any)
	var out []map[string]any
	for _, k := range list {
		m, _ := k.(map[string]any)
		var names []string
		for name := range m {
			names = append(names, name)
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"alg", "crv", "kid", "kty", "use", "x"}) {
			t.Fatalf("JWK members %v: only public members allowed", names)
		}
		x, err := base64.RawURLEncoding.DecodeString(m["x"].(string))
		if m["kty"] != "OKP" || m["crv"] != "Ed25519" || m["alg"] != "EdDSA" || m["use"] != "sig" ||
			err != nil || len(x) != ed25519.PublicKeySize || m["kid"] != thumbprint(x) {
			t.Fatalf("JWK %v", m)
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		t.Fatal("JWKS is empty")
	}
	return out
}

func TestMetadataAndJWKS(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	n := newNode(t, d, Options{Issuer: testIssuer + "/"})
	res, meta := fetchJSON(t, n.http.URL+MetadataPath)
	if res.StatusCode != 200 || meta["issuer"] != testIssuer || meta["token_endpoint"] != testIssuer+"/oauth2/token" ||
		meta["jwks_uri"] != testIssuer+"/oauth2/jwks" {
		t.Fatalf("metadata %d %v", res.StatusCode, meta)
	}
	grants, _ := meta["grant_types_supported"].([]any)
	methods, _ := meta["token_endpoint_auth_methods_supported"].([]any)
	scopes, _ := meta["scopes_supported"].([]any)
	if len(grants) != 1 || grants[0] != "client_credentials" || len(methods) != 3 || methods[2] != "private_key_jwt" ||
		len(scopes) != len(AllScopes()) {
		t.Fatalf("metadata %v", meta)
	}
	if meta["revocation_endpoint"] != testIssuer+"/oauth2/revoke" || meta["introspection_endpoint"] != testIssuer+"/oauth2/introspect" {
		t.Fatalf("metadata lacks revocation or introspection: %v", meta)
	}
	for _, k := range []string{"revocation_endpoint_auth_methods_supported", "introspection_endpoint_auth_methods_supported"} {
		if m, _ := meta[k].([]any); len(m) != 3 {
			t.Fatalf("%s = %v", k, meta[k])
		}
	}
	if algs, _ := meta["token_endpoint_auth_signing_alg_values_supported"].([]any); len(algs) != 2 || algs[0] != "EdDSA" || algs[1] != "ES256" {
		t.Fatalf("assertion algorithms %v", meta["token_endpoint_auth_signing_alg_values_supported"])
	}
	keys := fetchJWKS(t, n)
	if len(keys) != 1 {
		t.Fatalf("%d keys on a fresh database", len(keys))
	}
	for _, bad := range []string{"", "erp.example.com", "ftp://x", "https://x?a=b", "https://x#f", "https://u:p@x"} {
		if _, err := NewServer(d, Options{Issuer: bad}); err == nil {
			t.Errorf("issuer %q accepted", bad)
		}
	}
}

// After a rotation, new tokens carry the new kid, old tokens still verify,
// and another node that loaded its keys before the rotation verifies both.
func TestKeyRotation(t *testing.T) {
	forEachEngineURL(t, func(t *testing.T, u string) {
		ctx := context.Background()
		a := newNode(t, dbtest.OpenURL(t, u), Options{})
		b := newNode(t, dbtest.OpenURL(t, u), Options{})
		c, secret := mustClient(t, a.d, NewClient{Name: "shop", Roles: []string{"sales"}})

		before, err := ccConfig(a, c.ID, secret).Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.s.Verify(ctx, before.AccessToken); err != nil {
			t.Fatalf("other node, before rotation: %v", err)
		}
		oldKid, _ := decodeJWT(t, before.AccessToken)

		newKid, err := RotateKey(ctx, a.d)
		if err != nil {
			t.Fatal(err)
		}
		after, err := ccConfig(a, c.ID, secret).Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := decodeJWT(t, after.AccessToken)
		if h["kid"] != newKid || newKid == oldKid["kid"] {
			t.Fatalf("after rotation signed with %v, want new kid %s (old %v)", h["kid"], newKid, oldKid["kid"])
		}
		for name, n := range map[string]*node{"rotating node": a, "other node": b} {
			for _, tok := range []string{before.AccessToken, after.AccessToken} {
				if _, err := n.s.Verify(ctx, tok); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
		}
		kids := map[any]bool{}
		for _, k := range fetchJWKS(t, b) {
			kids[k["kid"]] = true
		}
		if len(kids) != 2 || !kids[newKid] || !kids[oldKid["kid"]] {
			t.Fatalf("JWKS kids %v", kids)
		}
		// A third node started now signs with the newest key.
		cNode := newNode(t, dbtest.OpenURL(t, u), Options{})
		key, err := cNode.s.keys.signer(ctx)
		if err != nil || key.kid != newKid {
			t.Fatalf("fresh node signs with %v, %v; want %s", key, err, newKid)
		}
	})
}

// Nodes starting together on an empty database make exactly one key.
func TestConcurrentFirstKey(t *testing.T) {
	forEachEngineURL(t, func(t *testing.T, u string) {
		ctx := context.Background()
		const nodes = 4
		servers := make([]*Server, nodes)
		for i := range servers {
			s, err := NewServer(dbtest.OpenURL(t, u), Options{Issuer: testIssuer})
			if err != nil {
				t.Fatal(err)
			}
			servers[i] = s
		}
		start := make(chan struct{})
		kids := make([]string, nodes)
		errs := make([]error, nodes)
		var wg sync.WaitGroup
		for i, s := range servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				key, err := s.keys.signer(ctx)
				if err == nil {
					kids[i] = key.kid
				}
				errs[i] = err
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("node %d: %v", i, err)
			}
			if kids[i] != kids[0] {
				t.Fatalf("nodes sign with different keys: %v", kids)
			}
		}
		var active, total int
		if err := servers[0].db.QueryRowContext(ctx, `SELECT COUNT(*) FROM signing_keys WHERE retired_at IS NULL`).Scan(&active); err != nil {
			t.Fatal(err)
		}
		if err := servers[0].db.QueryRowContext(ctx, `SELECT COUNT(*) FROM signing_keys`).Scan(&total); err != nil {
			t.Fatal(err)
		}
		if active != 1 || total != 1 {
			t.Fatalf("%d active keys (%d in all), want exactly 1", active, total)
		}
	})
}

// A rotated-out key keeps verifying its tokens until they have all
// expired; then it is retired: gone from the JWKS, its private half
// erased, its tokens refused. The newest key is never retired.
func TestKeyRetirement(t *testing.T) {
	forEachEngineURL(t, func(t *testing.T, u string) {
		ctx := context.Background()
		a := newNode(t, dbtest.OpenURL(t, u), Options{TokenTTL: 15 * time.Minute})
		c, secret := mustClient(t, a.d, NewClient{Name: "shop", Roles: []string{"sales"}})
		old := mustToken(t, a, c.ID, secret)
		oldKid, _ := decodeJWT(t, old)
		if retired, err := a.s.RetireKeys(ctx); err != nil || len(retired) != 0 {
			t.Fatalf("retiring the only key: %v, %v", retired, err)
		}
		newKid, err := RotateKey(ctx, a.d)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.s.Verify(ctx, old); err != nil {
			t.Fatalf("old token after rotation: %v", err)
		}
		// Not yet: a node may sign with the old key for a minute more, and
		// that token lives 15 minutes (plus leeway).
		a.clock.Advance(15*time.Minute + leeway + refreshEvery - 2*time.Second)
		if retired, err := a.s.RetireKeys(ctx); err != nil || len(retired) != 0 {
			t.Fatalf("retired too early: %v, %v", retired, err)
		}
		if len(fetchJWKS(t, a)) != 2 {
			t.Fatal("the JWKS lost a key before retirement")
		}
		// The clock started at the rotation's second, truncated; the key's
		// created_at is the real time a moment later.
		a.clock.Advance(time.Minute)
		retired, err := a.s.RetireKeys(ctx)
		if err != nil || !slices.Equal(retired, []string{oldKid["kid"].(string)}) {
			t.Fatalf("retired %v, %v; want the old key", retired, err)
		}
		keys := fetchJWKS(t, a)
		if len(keys) != 1 || keys[0]["kid"] != newKid {
			t.Fatalf("JWKS after retirement: %v", keys)
		}
		_, err = a.s.Verify(ctx, old)
		wantCode(t, err, apperr.Unauthenticated)
		if _, err := a.s.Verify(ctx, mustToken(t, a, c.ID, secret)); err != nil {
			t.Fatalf("new token: %v", err)
		}
		var private string
		if err := a.d.QueryRowContext(ctx, `SELECT private_key FROM signing_keys WHERE kid = $1`, oldKid["kid"]).Scan(&private); err != nil || private != "" {
			t.Fatalf("retired key's private half %q, %v", private, err)
		}

		// The package function, by the database clock, and the automatic
		// retirement of a node that loads its keys.
		if _, err := RetireKeys(ctx, a.d, -time.Second); err == nil {
			t.Fatal("negative age accepted")
		}
		second, err := RotateKey(ctx, a.d)
		if err != nil {
			t.Fatal(err)
		}
		if retired, err := RetireKeys(ctx, a.d, time.Hour); err != nil || len(retired) != 0 {
			t.Fatalf("retired a key rotated out just now: %v, %v", retired, err)
		}
		b := newNode(t, dbtest.OpenURL(t, u), Options{TokenTTL: 15 * time.Minute})
		b.clock.Advance(time.Hour)
		if keys := fetchJWKS(t, b); len(keys) != 1 || keys[0]["kid"] != second {
			t.Fatalf("a node loading after the window still publishes %v", keys)
		}
		if retired, err := RetireKeys(ctx, a.d, 0); err != nil || len(retired) != 0 {
			t.Fatalf("nothing left to retire, yet %v, %v", retired, err)
		}
		var unretired int
		if err := a.d.QueryRowContext(ctx, `SELECT COUNT(*) FROM signing_keys WHERE retired_at IS NULL`).Scan(&unretired); err != nil || unretired != 1 {
			t.Fatalf("%d unretired keys, %v", unretired, err)
		}
	})
}
