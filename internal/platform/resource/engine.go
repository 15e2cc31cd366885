package resource

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/crypto"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// Engine holds every registered resource, so references can be checked
// across modules.
type Engine struct {
	db  *db.DB
	api *rest.API

	mu       sync.RWMutex
	byPlural map[string]*kind
	tokenKey []byte
	keyring  *crypto.Keyring
}

// kind is what the engine knows of a resource without its Go type.
type kind struct {
	plural, singular, table, prefix string
	scoped                          bool
}

// NewEngine returns an engine that mounts resources on api.
func NewEngine(d *db.DB, api *rest.API) *Engine {
	return &Engine{db: d, api: api, byPlural: map[string]*kind{}}
}

// DB is the engine's database.
func (e *Engine) DB() *db.DB { return e.db }

func (e *Engine) add(k *kind) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, dup := e.byPlural[k.plural]; dup {
		panic("resource: registered twice: " + k.plural)
	}
	e.byPlural[k.plural] = k
}

func (e *Engine) kind(plural string) *kind {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.byPlural[plural]
}

// pageKey is the HMAC key for page tokens, shared by every node through
// the settings table and made on first use.
func (e *Engine) pageKey(ctx context.Context) ([]byte, error) {
	e.mu.RLock()
	key := e.tokenKey
	e.mu.RUnlock()
	if key != nil {
		return key, nil
	}
	fresh := make([]byte, 32)
	_, _ = rand.Read(fresh)
	var stored string
	err := e.db.Transact(ctx, func(tx *db.Tx) error {
		// Insert-if-absent, then read: whichever node wrote first wins.
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value, created_at) VALUES ('page_token_key', $1, $2)
ON CONFLICT (name) DO NOTHING`, hex.EncodeToString(fresh), tx.Now()); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = 'page_token_key'`).Scan(&stored)
	})
	if err != nil {
		return nil, fmt.Errorf("page token key: %w", err)
	}
	key, err = hex.DecodeString(stored)
	if err != nil {
		return nil, fmt.Errorf("page token key: %w", err)
	}
	e.mu.Lock()
	e.tokenKey = key
	e.mu.Unlock()
	return key, nil
}

// checkRefs verifies that every referenced record exists and, for
// company records, belongs to the same company; then it records the
// references for the delete check.
func (e *Engine) checkRefs(ctx context.Context, tx *db.Tx, fromType, fromID, companyID string, refs map[string][]refTarget) error {
	var fields []apperr.FieldError
	pointers := make([]string, 0, len(refs))
	for p := range refs {
		pointers = append(pointers, p)
	}
	sort.Strings(pointers)
	for _, p := range pointers {
		for _, r := range refs[p] {
			k := e.kind(r.target)
			if k == nil {
				return fmt.Errorf("reference %s to unregistered resource %s", p, r.target)
			}
			where := "id = $1"
			args := []any{r.id}
			if k.scoped {
				where += " AND company_id = $2"
				args = append(args, companyID)
			}
			var found string
			err := tx.QueryRowContext(ctx, "SELECT id FROM "+k.table+" WHERE "+where, args...).Scan(&found)
			if errors.Is(err, sql.ErrNoRows) {
				fields = append(fields, apperr.FieldError{Pointer: p, Detail: fmt.Sprintf("No %s %q in this company.", strings.ReplaceAll(k.singular, "_", " "), r.id)})
				continue
			}
			if err != nil {
				return fmt.Errorf("check reference %s: %w", p, err)
			}
		}
	}
	if len(fields) > 0 {
		return apperr.Fields(fields...)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM resource_refs WHERE from_id = $1", fromID); err != nil {
		return fmt.Errorf("record references: %w", err)
	}
	for _, p := range pointers {
		seen := map[string]bool{}
		for _, r := range refs[p] {
			if seen[r.id] {
				continue
			}
			seen[r.id] = true
			if _, err := tx.ExecContext(ctx, "INSERT INTO resource_refs (from_type, from_id, to_id, pointer) VALUES ($1, $2, $3, $4)",
				fromType, fromID, r.id, p); err != nil {
				return fmt.Errorf("record references: %w", err)
			}
		}
	}
	return nil
}

// referrer returns a record that refers to id, if any: through a
// reference member, or, for a company, by belonging to it.
func (e *Engine) referrer(ctx context.Context, q db.Querier, id string) (fromType, fromID string, err error) {
	err = q.QueryRowContext(ctx, "SELECT from_type, from_id FROM resource_refs WHERE to_id = $1 ORDER BY from_id LIMIT 1", id).Scan(&fromType, &fromID)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return fromType, fromID, err
	}
	e.mu.RLock()
	var owned []*kind
	for _, k := range e.byPlural {
		if k.scoped {
			owned = append(owned, k)
		}
	}
	e.mu.RUnlock()
	sort.Slice(owned, func(i, j int) bool { return owned[i].plural < owned[j].plural })
	for _, k := range owned {
		err = q.QueryRowContext(ctx, "SELECT id FROM "+k.table+" WHERE company_id = $1 LIMIT 1", id).Scan(&fromID)
		if err == nil {
			return k.singular, fromID, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return "", "", err
		}
	}
	return "", "", nil
}

type refTarget struct{ target, id string }

// principal returns the caller; every resource call is authenticated.
func principal(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return auth.Principal{}, apperr.New(apperr.Unauthenticated, "No credentials.")
	}
	return p, nil
}
