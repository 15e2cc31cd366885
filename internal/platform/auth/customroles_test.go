package auth

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/sequencer"
)

func TestCustomRoles(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		n := newNode(t, d, Options{})

		r, err := CreateRole(ctx, d, Role{Name: "sales-viewer", Description: " Dashboards ", Scopes: []string{"sales:read", "catalog:read", "sales:read"}})
		if err != nil || r.Description != "Dashboards" || !slices.Equal(r.Scopes, []string{"catalog:read", "sales:read"}) || r.BuiltIn || r.CreatedAt.IsZero() {
			t.Fatalf("create: %+v, %v", r, err)
		}
		refusals := []struct {
			name    string
			role    Role
			code    apperr.Code
			mention string
		}{
			{"duplicate", Role{Name: "sales-viewer", Scopes: []string{"sales:read"}}, apperr.Conflict, "sales-viewer"},
			{"built-in name", Role{Name: "admin", Scopes: []string{"sales:read"}}, apperr.Conflict, "admin"},
			{"unknown scope", Role{Name: "x", Scopes: []string{"sales:read", "root:all"}}, apperr.Invalid, "root:all"},
			{"no scopes", Role{Name: "x"}, apperr.Invalid, "scope"},
			{"bad name", Role{Name: "Sales Viewer", Scopes: []string{"sales:read"}}, apperr.Invalid, "name"},
			{"empty name", Role{Scopes: []string{"sales:read"}}, apperr.Invalid, "name"},
		}
		for _, tc := range refusals {
			_, err := CreateRole(ctx, d, tc.role)
			wantCode(t, err, tc.code)
			if !strings.Contains(apperr.As(err).Message, tc.mention) {
				t.Fatalf("%s: %q does not mention %q", tc.name, apperr.As(err).Message, tc.mention)
			}
		}

		list, err := ListRoles(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		var builtIn int
		for _, r := range list {
			if r.BuiltIn {
				builtIn++
				if !slices.Equal(r.Scopes, Roles()[r.Name]) {
					t.Fatalf("built-in %s lists %v", r.Name, r.Scopes)
				}
			}
		}
		if builtIn != len(RoleNames()) || len(list) != builtIn+1 || list[len(list)-1].Name != "sales-viewer" || list[len(list)-1].BuiltIn {
			t.Fatalf("ListRoles = %+v", list)
		}

		// Resolution mixes built-in and custom roles; an unknown one is
		// Invalid naming it.
		got, err := ResolveScopes(ctx, d, []string{"sales-viewer", "hr"})
		want, _ := ScopesFor([]string{"hr"})
		want = canonical(append(want, "catalog:read", "sales:read"))
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("ResolveScopes = %v, %v; want %v", got, err, want)
		}
		_, err = ResolveScopes(ctx, d, []string{"sales-viewer", "ghost"})
		wantCode(t, err, apperr.Invalid)
		if !strings.Contains(err.Error(), `"ghost"`) || !strings.Contains(err.Error(), "sales-viewer") {
			t.Fatalf("unknown role error %v should name it and list the roles", err)
		}

		// A client with a custom role gets its scopes in tokens; changing
		// the role changes the next token.
		c, secret := mustClient(t, d, NewClient{Name: "dash", Roles: []string{"sales-viewer"}})
		_, claims := decodeJWT(t, mustToken(t, n, c.ID, secret))
		if claims["scope"] != "catalog:read sales:read" {
			t.Fatalf("token scope %v", claims["scope"])
		}
		if _, err := UpdateRole(ctx, d, Role{Name: "sales-viewer", Scopes: []string{"sales:read"}}); err != nil {
			t.Fatal(err)
		}
		p, err := n.s.Verify(ctx, mustToken(t, n, c.ID, secret))
		if err != nil || !slices.Equal(p.Scopes, []string{"sales:read"}) || !slices.Equal(p.Roles, []string{"sales-viewer"}) {
			t.Fatalf("after update: %+v, %v", p, err)
		}
		_, err = UpdateRole(ctx, d, Role{Name: "admin", Scopes: []string{"sales:read"}})
		wantCode(t, err, apperr.Conflict)
		_, err = UpdateRole(ctx, d, Role{Name: "ghost", Scopes: []string{"sales:read"}})
		wantCode(t, err, apperr.NotFound)
		_, err = UpdateRole(ctx, d, Role{Name: "sales-viewer", Scopes: []string{"nope"}})
		wantCode(t, err, apperr.Invalid)

		_, _, err = CreateClient(ctx, d, NewClient{Name: "x", Roles: []string{"ghost"}})
		wantCode(t, err, apperr.Invalid)
		if e := apperr.As(err); len(e.Fields) == 0 || e.Fields[0].Pointer != "/roles" || !strings.Contains(e.Message, `"ghost"`) {
			t.Fatalf("unknown custom role: %+v", e)
		}

		// Deleting: refused while a client holds it (naming the client) or
		// a trusted issuer maps to it; a built-in role never.
		err = DeleteRole(ctx, d, "sales-viewer")
		wantCode(t, err, apperr.Conflict)
		if !strings.Contains(err.Error(), c.ID) {
			t.Fatalf("conflict %v does not name the client", err)
		}
		if err := RevokeClient(ctx, d, c.ID); err != nil {
			t.Fatal(err)
		}
		ti, err := CreateTrustedIssuer(ctx, d, TrustedIssuer{Issuer: "https://idp.example.com", Audience: "mainstay",
			Mappings: []Mapping{{ClientID: "bi", Roles: []string{"sales-viewer"}}}})
		if err != nil {
			t.Fatal(err)
		}
		err = DeleteRole(ctx, d, "sales-viewer")
		wantCode(t, err, apperr.Conflict)
		if !strings.Contains(err.Error(), ti.Issuer) {
			t.Fatalf("conflict %v does not name the issuer", err)
		}
		if err := DeleteTrustedIssuer(ctx, d, ti.Issuer); err != nil {
			t.Fatal(err)
		}
		if err := DeleteRole(ctx, d, "sales-viewer"); err != nil {
			t.Fatalf("delete an unused role: %v", err)
		}
		wantCode(t, DeleteRole(ctx, d, "sales-viewer"), apperr.NotFound)
		wantCode(t, DeleteRole(ctx, d, "admin"), apperr.Conflict)
		if _, err := FindRole(ctx, d, "sales-viewer"); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("deleted role found: %v", err)
		}
		if r, err := FindRole(ctx, d, "admin"); err != nil || !r.BuiltIn {
			t.Fatalf("FindRole(admin) = %+v, %v", r, err)
		}

		if _, err := sequencer.Assign(ctx, d, "audit_log"); err != nil {
			t.Fatal(err)
		}
		all, err := audit.After(ctx, d, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, r := range all {
			if r.ResourceType == "role" {
				seen[r.Action]++
			}
		}
		if seen["role.create"] != 1 || seen["role.update"] != 1 || seen["role.delete"] != 1 {
			t.Fatalf("role audit rows %v", seen)
		}
	})
}
