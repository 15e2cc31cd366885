package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
)

func TestCreateClientValidates(t *testing.T) {
	d := dbtest.Open(t, db.SQLite) // validation happens before any SQL
	ctx := context.Background()
	cases := []struct {
		name    string
		in      NewClient
		pointer string
		mention string
	}{
		{"no name", NewClient{Name: "  ", Roles: []string{"sales"}}, "/name", "name"},
		{"no role", NewClient{Name: "shop"}, "/roles", "at least one role"},
		{"unknown role", NewClient{Name: "shop", Roles: []string{"sales", "root"}}, "/roles", `"root"`},
		{"blank company", NewClient{Name: "shop", Roles: []string{"sales"}, Companies: []string{""}}, "/companies", "company"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, secret, err := CreateClient(ctx, d, c.in)
			e := apperr.As(err)
			if err == nil || e.Code != apperr.Invalid || secret != "" {
				t.Fatalf("err = %v, secret %q; want Invalid", err, secret)
			}
			if len(e.Fields) == 0 || e.Fields[0].Pointer != c.pointer || !strings.Contains(e.Message, c.mention) {
				t.Fatalf("error %+v should point at %s and mention %s", e, c.pointer, c.mention)
			}
		})
	}
	list, err := ListClients(ctx, d)
	if err != nil || len(list) != 0 {
		t.Fatalf("refused clients were stored: %v, %v", list, err)
	}
}

func TestClientLifecycle(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		c, secret := mustClient(t, d, NewClient{Name: " Shop ", Roles: []string{"sales", "sales"}, Companies: []string{"co_1", "co_2", "co_1"}})
		if !id.HasPrefix(c.ID, "cli") || c.Name != "Shop" || !slices.Equal(c.Roles, []string{"sales"}) ||
			!slices.Equal(c.Companies, []string{"co_1", "co_2"}) || c.RevokedAt != nil || c.CreatedAt.IsZero() {
			t.Fatalf("created %+v", c)
		}
		raw, ok := strings.CutPrefix(secret, SecretPrefix)
		b, err := base64.RawURLEncoding.DecodeString(raw)
		if !ok || err != nil || len(b) != 32 {
			t.Fatalf("secret %q is not mss_ + 256 bits in base64url", secret)
		}
		_, secret2 := mustClient(t, d, NewClient{Name: "Everything", Roles: []string{"admin"}})
		if secret2 == secret {
			t.Fatal("two clients got the same secret")
		}

		got, err := FindClient(ctx, d, c.ID)
		if err != nil || got.ID != c.ID || got.Name != "Shop" || !slices.Equal(got.Companies, c.Companies) ||
			!got.CreatedAt.Equal(c.CreatedAt) {
			t.Fatalf("FindClient = %+v, %v; want %+v", got, err, c)
		}
		_, err = FindClient(ctx, d, "cli_nope")
		wantCode(t, err, apperr.NotFound)

		list, err := ListClients(ctx, d)
		if err != nil || len(list) != 2 || list[0].ID != c.ID || len(list[1].Companies) != 0 || list[1].Companies == nil {
			t.Fatalf("ListClients = %+v, %v", list, err)
		}

		wantCode(t, RevokeClient(ctx, d, "cli_nope"), apperr.NotFound)
		if err := RevokeClient(ctx, d, c.ID); err != nil {
			t.Fatal(err)
		}
		got, err = FindClient(ctx, d, c.ID)
		if err != nil || got.RevokedAt == nil || !got.Revoked() {
			t.Fatalf("after revoke: %+v, %v", got, err)
		}
		first := *got.RevokedAt
		if err := RevokeClient(ctx, d, c.ID); err != nil {
			t.Fatalf("revoking twice: %v", err)
		}
		if again, _ := FindClient(ctx, d, c.ID); !again.RevokedAt.Equal(first) {
			t.Fatalf("second revoke moved revoked_at from %v to %v", first, again.RevokedAt)
		}

		var actions []string
		rows, err := d.QueryContext(ctx, `SELECT action FROM audit_log WHERE resource_id = $1 ORDER BY id`, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				t.Fatal(err)
			}
			actions = append(actions, a)
		}
		if !slices.Equal(actions, []string{"client.create", "client.revoke"}) {
			t.Fatalf("audit actions %v", actions)
		}
	})
}

// The secret is stored only as its SHA-256: no column of the client's row,
// and no audit row, contains it.
func TestSecretsStoredOnlyAsHashes(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		c, secret := mustClient(t, d, NewClient{Name: "shop", Roles: []string{"sales"}})
		var cols [7]string
		err := d.QueryRowContext(ctx, `SELECT id, name, secret_hash, roles, companies,
CAST(created_at AS TEXT), COALESCE(CAST(revoked_at AS TEXT), '') FROM oauth_clients WHERE id = $1`, c.ID).
			Scan(&cols[0], &cols[1], &cols[2], &cols[3], &cols[4], &cols[5], &cols[6])
		if err != nil {
			t.Fatal(err)
		}
		body := strings.TrimPrefix(secret, SecretPrefix)
		for i, v := range cols {
			if strings.Contains(v, body) {
				t.Fatalf("column %d holds the secret", i)
			}
		}
		sum := sha256.Sum256([]byte(secret))
		if cols[2] != hex.EncodeToString(sum[:]) {
			t.Fatalf("secret_hash %q is not the hex SHA-256 of the secret", cols[2])
		}
		if !secretMatches(secret, cols[2]) || secretMatches(secret+"x", cols[2]) || secretMatches(secret, "zz") {
			t.Fatal("secretMatches is wrong")
		}
		assertNoSecretInAudit(t, d, secret)
	})
}

func assertNoSecretInAudit(t *testing.T, d *db.DB, secrets ...string) {
	t.Helper()
	rows, err := d.QueryContext(context.Background(), `SELECT actor, action, resource_id, request_id, CAST(details AS TEXT) FROM audit_log`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var a, b, c, e, f string
		if err := rows.Scan(&a, &b, &c, &e, &f); err != nil {
			t.Fatal(err)
		}
		row := fmt.Sprint(a, b, c, e, f)
		for _, s := range secrets {
			if strings.Contains(row, strings.TrimPrefix(s, SecretPrefix)) {
				t.Fatalf("audit row holds a secret: %s", row)
			}
		}
		n++
	}
	if n == 0 {
		t.Fatal("no audit rows to check")
	}
}
