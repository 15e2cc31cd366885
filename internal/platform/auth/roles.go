package auth

import (
	"slices"
	"sort"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
)

// Access levels of a scope. A write scope does not imply the read scope of
// the same module: roles list both, so that a write-only integration (an
// importer, say) can exist and every check is one plain lookup.
const (
	Read  = "read"
	Write = "write"
)

// Modules are the parts of the API that scopes guard, in documentation
// order. "audit" is separate: it has only a read scope.
var modules = []string{
	"companies", "catalog", "partners", "inventory", "sales", "purchasing",
	"ledger", "hr", "payroll", "mfg", "automation", "webhooks", "clients",
}

// AuditRead reads the audit log.
const AuditRead = "audit:read"

// PartnersSensitive reads and writes the sensitive fields of customers and
// suppliers (tax ids, bank details). Without it those fields are omitted
// from responses and cannot be written, filtered or ordered on.
const PartnersSensitive = "partners:sensitive"

// Scope names the scope for an access level of a module: Scope("sales",
// Write) is "sales:write".
func Scope(module, access string) string { return module + ":" + access }

// allScopes is every scope in documentation order: each module's read
// then write, then audit:read.
var allScopes = func() []string {
	out := make([]string, 0, 2*len(modules)+1)
	for _, m := range modules {
		out = append(out, Scope(m, Read), Scope(m, Write))
	}
	return append(out, AuditRead, PartnersSensitive)
}()

// AllScopes returns every scope, in documentation order.
func AllScopes() []string { return slices.Clone(allScopes) }

// rw and ro spell the table below; rw lists both scopes on purpose.
func rw(m string) []string { return []string{Scope(m, Read), Scope(m, Write)} }
func ro(m string) []string { return []string{Scope(m, Read)} }

// readsExcept is every module's read scope except the excluded modules'.
func readsExcept(excluded ...string) []string {
	var out []string
	for _, m := range modules {
		if !slices.Contains(excluded, m) {
			out = append(out, Scope(m, Read))
		}
	}
	return out
}

// roles is the built-in role → scope table: the one place that says what
// each role may do. Pay and personal data (hr, payroll) are left out of
// the broad read roles on purpose: reading them takes a role made for it.
// Every integration role may subscribe webhooks: an endpoint receives
// only what its owner's other scopes read.
var roles = map[string][]string{
	"admin":      allScopes,
	"sales":      join(rw("sales"), rw("partners"), ro("catalog"), ro("inventory"), ro("companies"), rw("webhooks")),
	"inventory":  join(rw("inventory"), rw("catalog"), ro("companies"), rw("webhooks")),
	"purchasing": join(rw("purchasing"), rw("partners"), ro("catalog"), ro("inventory"), ro("companies"), []string{PartnersSensitive}, rw("webhooks")),
	"finance":    join(rw("ledger"), ro("sales"), ro("purchasing"), ro("inventory"), ro("partners"), ro("companies"), []string{PartnersSensitive}, rw("webhooks"), rw("automation")),
	"hr":         join(rw("hr"), ro("companies"), rw("webhooks")),
	"payroll":    join(rw("payroll"), ro("hr"), ro("companies"), rw("webhooks")),
	"auditor":    join([]string{AuditRead}, readsExcept("hr", "payroll", "clients")),
	"readonly":   readsExcept("hr", "payroll", "clients"),
}

func join(parts ...[]string) []string { return slices.Concat(parts...) }

// Roles returns the built-in roles and their scopes (a copy: callers may
// not change the table).
func Roles() map[string][]string {
	out := make(map[string][]string, len(roles))
	for name, scopes := range roles {
		out[name] = canonical(scopes)
	}
	return out
}

// RoleNames returns the built-in role names, sorted.
func RoleNames() []string {
	out := make([]string, 0, len(roles))
	for name := range roles {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// ScopesFor returns the union of the roles' scopes in documentation order.
// An unknown role is an error naming it, so a typo never silently grants
// less (or, worse, is stored and later means something).
func ScopesFor(roleNames []string) ([]string, error) {
	set := map[string]bool{}
	for _, name := range roleNames {
		scopes, ok := roles[name]
		if !ok {
			return nil, apperr.New(apperr.Invalid, "Unknown role %q; the roles are %s.", name, strings.Join(RoleNames(), ", "))
		}
		for _, s := range scopes {
			set[s] = true
		}
	}
	out := make([]string, 0, len(set))
	for _, s := range allScopes {
		if set[s] {
			out = append(out, s)
		}
	}
	return out, nil
}

// canonical returns scopes deduplicated, in documentation order, dropping
// any that are not scopes.
func canonical(scopes []string) []string {
	out := make([]string, 0, len(scopes))
	for _, s := range allScopes {
		if slices.Contains(scopes, s) {
			out = append(out, s)
		}
	}
	return out
}

// knownScope reports whether s is a scope of the table.
func knownScope(s string) bool { return slices.Contains(allScopes, s) }
