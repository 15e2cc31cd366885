package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// RolesChangedTopic is notified when a custom role is created, changed or
// deleted, so that a node drops what it resolved from the old definition.
const RolesChangedTopic = "auth.roles"

// Limits of a custom role.
const (
	maxRoleNameLen    = 64
	maxDescriptionLen = 500
)

// Role is a named set of scopes. Built-in roles come from the table in
// roles.go and are read-only; custom roles live in the roles table.
// Changing a custom role affects tokens issued afterwards: a token keeps
// the scopes it was issued with until it expires.
type Role struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Scopes      []string  `json:"scopes"`
	BuiltIn     bool      `json:"built_in"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
}

// builtinDescriptions say in a line what each built-in role is for; a role
// added to the table without one simply has no description.
var builtinDescriptions = map[string]string{
	"admin":      "Every scope, client administration included.",
	"sales":      "Sales and partners; reads the catalog, stock and companies.",
	"inventory":  "Stock and the catalog.",
	"purchasing": "Purchasing and partners; reads the catalog, stock and companies.",
	"finance":    "The ledger; reads sales, purchasing, partners and companies.",
	"hr":         "Employees (personal data).",
	"payroll":    "Payroll; reads employees.",
	"auditor":    "The audit log, and reads every module except hr, payroll and clients.",
	"readonly":   "Reads every module except hr, payroll and clients.",
}

func isBuiltinRole(name string) bool {
	_, ok := roles[name]
	return ok
}

// checkRoleName accepts lower-case names of letters, digits, '-' and '_'
// starting with a letter: they appear in tokens, CLI flags and URLs.
func checkRoleName(name string) error {
	ok := name != "" && len(name) <= maxRoleNameLen && name[0] >= 'a' && name[0] <= 'z'
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			ok = false
		}
	}
	if !ok {
		return apperr.Field("/name", "A role name is 1 to %d lower-case letters, digits, '-' or '_', starting with a letter.", maxRoleNameLen)
	}
	return nil
}

// checkRole validates and normalises a custom role's description and
// scopes (deduplicated, in documentation order).
func checkRole(r Role) (Role, error) {
	r.Description = strings.TrimSpace(r.Description)
	if !utf8.ValidString(r.Description) || utf8.RuneCountInString(r.Description) > maxDescriptionLen {
		return Role{}, apperr.Field("/description", "The description must be valid text of at most %d characters.", maxDescriptionLen)
	}
	if len(r.Scopes) == 0 {
		return Role{}, apperr.Field("/scopes", "A role needs at least one scope; the scopes are %s.", strings.Join(allScopes, ", "))
	}
	for i, sc := range r.Scopes {
		if !knownScope(sc) {
			if len(sc) > 100 {
				sc = sc[:100] + "…"
			}
			return Role{}, apperr.Field(fmt.Sprintf("/scopes/%d", i), "Unknown scope %q; the scopes are %s.", sc, strings.Join(allScopes, ", "))
		}
	}
	r.Scopes = canonical(r.Scopes)
	r.BuiltIn = false
	return r, nil
}

// CreateRole creates a custom role. A built-in role's name, or a taken
// one, is a Conflict; an unknown scope is Invalid naming it.
func CreateRole(ctx context.Context, d *db.DB, in Role) (Role, error) {
	if err := checkRoleName(in.Name); err != nil {
		return Role{}, err
	}
	if isBuiltinRole(in.Name) {
		return Role{}, apperr.New(apperr.Conflict, "%q is a built-in role; pick another name.", in.Name)
	}
	r, err := checkRole(in)
	if err != nil {
		return Role{}, err
	}
	scopesJSON, err := json.Marshal(r.Scopes)
	if err != nil {
		return Role{}, fmt.Errorf("create role: %w", err)
	}
	err = d.Transact(ctx, func(tx *db.Tx) error {
		r.CreatedAt = tx.Now().Truncate(time.Microsecond)
		r.UpdatedAt = r.CreatedAt
		if _, err := tx.ExecContext(ctx, `INSERT INTO roles (name, description, scopes, created_at, updated_at)
VALUES ($1, $2, $3, $4, $4)`, r.Name, r.Description, string(scopesJSON), r.CreatedAt); err != nil {
			if db.IsUniqueViolation(err) {
				return apperr.New(apperr.Conflict, "A role %q already exists.", r.Name)
			}
			return fmt.Errorf("insert role: %w", err)
		}
		tx.Notify(RolesChangedTopic)
		return audit.Record(ctx, tx, audit.Entry{
			Action: "role.create", ResourceType: "role", ResourceID: r.Name,
			Details: map[string]any{"scopes": r.Scopes},
		})
	})
	if err != nil {
		return Role{}, fmt.Errorf("create role %s: %w", r.Name, err)
	}
	return r, nil
}

// UpdateRole replaces a custom role's description and scopes. A built-in
// role is a Conflict (they are read-only), an unknown one NotFound.
func UpdateRole(ctx context.Context, d *db.DB, in Role) (Role, error) {
	if isBuiltinRole(in.Name) {
		return Role{}, apperr.New(apperr.Conflict, "%q is a built-in role and cannot be changed; create a custom role instead.", in.Name)
	}
	r, err := checkRole(in)
	if err != nil {
		return Role{}, err
	}
	scopesJSON, err := json.Marshal(r.Scopes)
	if err != nil {
		return Role{}, fmt.Errorf("update role: %w", err)
	}
	err = d.Transact(ctx, func(tx *db.Tx) error {
		old, err := findRole(ctx, tx, in.Name, lockUpdate)
		if err != nil {
			return err
		}
		r.CreatedAt = old.CreatedAt
		r.UpdatedAt = tx.Now().Truncate(time.Microsecond)
		if _, err := tx.ExecContext(ctx, `UPDATE roles SET description = $1, scopes = $2, updated_at = $3 WHERE name = $4`,
			r.Description, string(scopesJSON), r.UpdatedAt, r.Name); err != nil {
			return fmt.Errorf("update role: %w", err)
		}
		tx.Notify(RolesChangedTopic)
		return audit.Record(ctx, tx, audit.Entry{
			Action: "role.update", ResourceType: "role", ResourceID: r.Name,
			Details: map[string]any{"scopes": r.Scopes, "previous_scopes": old.Scopes},
		})
	})
	if err != nil {
		return Role{}, fmt.Errorf("update role %s: %w", in.Name, err)
	}
	return r, nil
}

// DeleteRole deletes a custom role. It refuses (Conflict, naming who) while
// an unrevoked client holds the role or a trusted issuer maps to it, so a
// deletion never silently changes what someone may do.
func DeleteRole(ctx context.Context, d *db.DB, name string) error {
	if isBuiltinRole(name) {
		return apperr.New(apperr.Conflict, "%q is a built-in role and cannot be deleted.", name)
	}
	err := d.Transact(ctx, func(tx *db.Tx) error {
		// Locked first, so a client being created with the role either
		// commits before (and is seen below) or finds the role gone.
		if _, err := findRole(ctx, tx, name, lockUpdate); err != nil {
			return err
		}
		clients, err := ListClients(ctx, tx)
		if err != nil {
			return err
		}
		for _, c := range clients {
			if !c.Revoked() && slices.Contains(c.Roles, name) {
				return apperr.New(apperr.Conflict, "The role %q is held by client %s (%s); change or revoke that client first.", name, c.ID, c.Name)
			}
		}
		issuers, err := ListTrustedIssuers(ctx, tx)
		if err != nil {
			return err
		}
		for _, ti := range issuers {
			for _, m := range ti.Mappings {
				if slices.Contains(m.Roles, name) {
					return apperr.New(apperr.Conflict, "The role %q is mapped for the trusted issuer %s; change that mapping first.", name, ti.Issuer)
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM roles WHERE name = $1`, name); err != nil {
			return fmt.Errorf("delete role: %w", err)
		}
		tx.Notify(RolesChangedTopic)
		return audit.Record(ctx, tx, audit.Entry{Action: "role.delete", ResourceType: "role", ResourceID: name})
	})
	if err != nil {
		return fmt.Errorf("delete role %s: %w", name, err)
	}
	return nil
}

// ListRoles returns the built-in roles (BuiltIn set, sorted by name) and
// then the custom ones, sorted by name.
func ListRoles(ctx context.Context, q db.Querier) ([]Role, error) {
	out := make([]Role, 0, len(roles))
	for _, name := range RoleNames() {
		out = append(out, Role{Name: name, Description: builtinDescriptions[name], Scopes: canonical(roles[name]), BuiltIn: true})
	}
	rows, err := q.QueryContext(ctx, `SELECT name, description, scopes, created_at, updated_at FROM roles ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	custom, err := db.Collect(rows, func(rows *sql.Rows) (Role, error) { return scanRole(rows) })
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	return append(out, custom...), nil
}

// FindRole returns one role, built-in or custom; an unknown name is
// NotFound.
func FindRole(ctx context.Context, q db.Querier, name string) (Role, error) {
	if isBuiltinRole(name) {
		return Role{Name: name, Description: builtinDescriptions[name], Scopes: canonical(roles[name]), BuiltIn: true}, nil
	}
	return findRole(ctx, q, name, lockNone)
}

// Row locks taken on PostgreSQL; SQLite has one writer, so its
// transactions are serial and need none (nor support the syntax).
type lockMode int

const (
	lockNone lockMode = iota
	lockShare
	lockUpdate
)

func lockClause(q db.Querier, mode lockMode) string {
	tx, ok := q.(*db.Tx)
	if !ok || tx.Engine() != db.Postgres {
		return ""
	}
	switch mode {
	case lockShare:
		return " FOR SHARE"
	case lockUpdate:
		return " FOR UPDATE"
	}
	return ""
}

func findRole(ctx context.Context, q db.Querier, name string, mode lockMode) (Role, error) {
	row := q.QueryRowContext(ctx, `SELECT name, description, scopes, created_at, updated_at FROM roles WHERE name = $1`+lockClause(q, mode), name)
	r, err := scanRole(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Role{}, apperr.New(apperr.NotFound, "No role %q.", name)
	}
	if err != nil {
		return Role{}, fmt.Errorf("find role %s: %w", name, err)
	}
	return r, nil
}

func scanRole(s scanner) (Role, error) {
	var r Role
	var scopesJSON string
	if err := s.Scan(&r.Name, &r.Description, &scopesJSON, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return Role{}, err
	}
	if err := json.Unmarshal([]byte(scopesJSON), &r.Scopes); err != nil {
		return Role{}, fmt.Errorf("role %s: scopes: %w", r.Name, err)
	}
	// A scope a newer binary stored and this one does not know grants
	// nothing here.
	r.Scopes = canonical(r.Scopes)
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, nil
}

// customRoleScopes returns the scopes of the named custom roles that
// exist, locking them on PostgreSQL when mode asks (so that a concurrent
// DeleteRole waits for the caller's transaction).
func customRoleScopes(ctx context.Context, q db.Querier, names []string, mode lockMode) (map[string][]string, error) {
	out := map[string][]string{}
	if len(names) == 0 {
		return out, nil
	}
	args := make([]any, len(names))
	marks := make([]string, len(names))
	for i, n := range names {
		args[i] = n
		marks[i] = fmt.Sprintf("$%d", i+1)
	}
	rows, err := q.QueryContext(ctx, `SELECT name, scopes FROM roles WHERE name IN (`+strings.Join(marks, ", ")+`) ORDER BY name`+lockClause(q, mode), args...)
	if err != nil {
		return nil, fmt.Errorf("read roles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, scopesJSON string
		if err := rows.Scan(&name, &scopesJSON); err != nil {
			return nil, fmt.Errorf("read roles: %w", err)
		}
		var scopes []string
		if err := json.Unmarshal([]byte(scopesJSON), &scopes); err != nil {
			return nil, fmt.Errorf("role %s: scopes: %w", name, err)
		}
		out[name] = scopes
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read roles: %w", err)
	}
	return out, nil
}

// unknownRoleError names the unknown role and lists the roles there are.
func unknownRoleError(ctx context.Context, q db.Querier, name string) *apperr.Error {
	names := RoleNames()
	if list, err := ListRoles(ctx, q); err == nil {
		names = names[:0]
		for _, r := range list {
			names = append(names, r.Name)
		}
	}
	if len(name) > 100 {
		name = name[:100] + "…"
	}
	return apperr.New(apperr.Invalid, "Unknown role %q; the roles are %s.", name, strings.Join(names, ", "))
}

// ResolveScopes returns the union of the roles' scopes, built-in and
// custom, in documentation order. An unknown role is an Invalid error
// naming it. Token issuance uses this; ScopesFor knows only the built-in
// roles.
func ResolveScopes(ctx context.Context, q db.Querier, roleNames []string) ([]string, error) {
	return resolveScopes(ctx, q, roleNames, lockNone)
}

func resolveScopes(ctx context.Context, q db.Querier, roleNames []string, mode lockMode) ([]string, error) {
	var all, custom []string
	for _, name := range roleNames {
		if scopes, ok := roles[name]; ok {
			all = append(all, scopes...)
		} else if !slices.Contains(custom, name) {
			custom = append(custom, name)
		}
	}
	found, err := customRoleScopes(ctx, q, custom, mode)
	if err != nil {
		return nil, err
	}
	for _, name := range custom {
		scopes, ok := found[name]
		if !ok {
			return nil, unknownRoleError(ctx, q, name)
		}
		all = append(all, scopes...)
	}
	return canonical(all), nil
}
