package auth

import (
	"slices"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
)

func TestScopeNames(t *testing.T) {
	if got := Scope("catalog", Write); got != "catalog:write" {
		t.Fatalf("Scope = %q", got)
	}
	all := AllScopes()
	if len(all) != 2*13+2 || !slices.Contains(all, "audit:read") || slices.Contains(all, "audit:write") || !slices.Contains(all, PartnersSensitive) {
		t.Fatalf("AllScopes = %v", all)
	}
	all[0] = "changed"
	if AllScopes()[0] == "changed" {
		t.Fatal("AllScopes shares its slice")
	}
}

func TestRolesTable(t *testing.T) {
	table := Roles()
	if !slices.Equal(table["admin"], AllScopes()) {
		t.Fatalf("admin = %v, want every scope", table["admin"])
	}
	has := func(role, scope string) bool { return slices.Contains(table[role], scope) }
	cases := []struct {
		role, scope string
		want        bool
	}{
		{"sales", "sales:read", true}, {"sales", "sales:write", true}, {"sales", "partners:write", true},
		{"sales", "catalog:read", true}, {"sales", "catalog:write", false}, {"sales", "payroll:read", false},
		{"sales", "inventory:read", true}, {"sales", "companies:read", true}, {"sales", "companies:write", false},
		{"inventory", "catalog:write", true}, {"inventory", "sales:read", false},
		{"purchasing", "purchasing:write", true}, {"purchasing", "sales:read", false},
		{"readonly", "clients:read", false}, {"auditor", "clients:read", false}, {"admin", "clients:write", true},
		{"sales", PartnersSensitive, false}, {"readonly", PartnersSensitive, false}, {"finance", PartnersSensitive, true},
		{"finance", "ledger:write", true}, {"finance", "sales:read", true}, {"finance", "sales:write", false},
		{"hr", "hr:write", true}, {"hr", "payroll:read", false},
		{"payroll", "payroll:write", true}, {"payroll", "hr:read", true}, {"payroll", "hr:write", false},
		{"auditor", "audit:read", true}, {"auditor", "ledger:read", true}, {"auditor", "webhooks:read", true},
		{"auditor", "hr:read", false}, {"auditor", "payroll:read", false}, {"auditor", "ledger:write", false},
		{"readonly", "catalog:read", true}, {"readonly", "audit:read", false}, {"readonly", "hr:read", false},
		{"readonly", "payroll:read", false}, {"readonly", "sales:write", false},
	}
	for _, c := range cases {
		if got := has(c.role, c.scope); got != c.want {
			t.Errorf("role %s has %s = %v, want %v", c.role, c.scope, got, c.want)
		}
	}
	if len(table) != 9 {
		t.Errorf("%d roles, want 9: %v", len(table), RoleNames())
	}
	for role, scopes := range table {
		for _, s := range scopes {
			if !knownScope(s) {
				t.Errorf("role %s has unknown scope %q", role, s)
			}
			// Every built-in role that writes a module also reads it.
			if m, ok := strings.CutSuffix(s, ":write"); ok && !slices.Contains(scopes, m+":read") {
				t.Errorf("role %s writes %s without reading it", role, m)
			}
		}
		if strings.Contains(strings.Join(scopes, " "), "audit:write") {
			t.Errorf("role %s can write the audit log", role)
		}
	}
	table["sales"] = append(table["sales"], "payroll:read")
	if slices.Contains(Roles()["sales"], "payroll:read") {
		t.Fatal("Roles shares the table")
	}
}

func TestScopesFor(t *testing.T) {
	got, err := ScopesFor([]string{"hr", "sales", "hr"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"companies:read", "partners:read", "partners:write", "sales:read", "sales:write",
		"hr:read", "hr:write", "catalog:read", "inventory:read", "webhooks:read", "webhooks:write"}
	slices.Sort(want)
	sorted := slices.Sorted(slices.Values(got))
	if !slices.Equal(sorted, want) {
		t.Fatalf("ScopesFor = %v, want %v", got, want)
	}
	if len(got) != len(slices.Compact(sorted)) {
		t.Fatalf("duplicates in %v", got)
	}
	_, err = ScopesFor([]string{"sales", "superuser"})
	if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(err.Error(), `"superuser"`) {
		t.Fatalf("unknown role: %v", err)
	}
	if none, err := ScopesFor(nil); err != nil || len(none) != 0 {
		t.Fatalf("ScopesFor(nil) = %v, %v", none, err)
	}
}
