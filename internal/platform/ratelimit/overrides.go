package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// Overrides are per-client quotas kept in the database
// (client_rate_limits), read through a cache so the request path does no
// query: a change reaches every node within the refresh interval.
type Overrides struct {
	d       *db.DB
	refresh time.Duration
	changed <-chan struct{}

	mu     sync.RWMutex
	quotas map[string]map[string]Quota
	loaded time.Time
}

// NewOverrides returns the database-backed overrides.
func NewOverrides(d *db.DB, refresh time.Duration) *Overrides {
	return &Overrides{d: d, refresh: refresh, changed: d.Subscribe(OverridesTopic)}
}

// OverridesTopic is signalled when a node changes overrides, so its own
// cache reloads at once (other nodes within the refresh interval).
const OverridesTopic = "client_rate_limits"

// Lookup is a Policy.Override.
func (o *Overrides) Lookup(clientID, class string) (Quota, bool) {
	o.mu.RLock()
	stale := time.Since(o.loaded) > o.refresh
	q, ok := o.quotas[clientID][class]
	o.mu.RUnlock()
	select {
	case <-o.changed:
		stale = true
	default:
	}
	if stale {
		// A failed reload keeps the last known quotas; the next request
		// tries again.
		_ = o.Reload(context.Background())
		o.mu.RLock()
		q, ok = o.quotas[clientID][class]
		o.mu.RUnlock()
	}
	return q, ok
}

// Reload reads every override now.
func (o *Overrides) Reload(ctx context.Context) error {
	rows, err := o.d.QueryContext(ctx, "SELECT client_id, class, quota FROM client_rate_limits")
	if err != nil {
		return fmt.Errorf("load rate-limit overrides: %w", err)
	}
	defer rows.Close()
	next := map[string]map[string]Quota{}
	for rows.Next() {
		var client, class, text string
		if err := rows.Scan(&client, &class, &text); err != nil {
			return fmt.Errorf("load rate-limit overrides: %w", err)
		}
		q, err := ParseQuota(text)
		if err != nil {
			continue
		}
		if next[client] == nil {
			next[client] = map[string]Quota{}
		}
		next[client][class] = q
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load rate-limit overrides: %w", err)
	}
	o.mu.Lock()
	o.quotas, o.loaded = next, time.Now()
	o.mu.Unlock()
	return nil
}

// Set stores a client's quotas (class → quota; a missing class uses the
// default) replacing what it had.
func Set(ctx context.Context, d *db.DB, clientID string, quotas map[string]Quota) error {
	return d.Transact(ctx, func(tx *db.Tx) error {
		tx.Notify(OverridesTopic)
		if _, err := tx.ExecContext(ctx, "DELETE FROM client_rate_limits WHERE client_id = $1", clientID); err != nil {
			return err
		}
		for class, q := range quotas {
			if _, err := tx.ExecContext(ctx, "INSERT INTO client_rate_limits (client_id, class, quota) VALUES ($1, $2, $3)", clientID, class, q.String()); err != nil {
				return err
			}
		}
		return nil
	})
}

// Get returns a client's stored quotas.
func Get(ctx context.Context, q db.Querier, clientID string) (map[string]Quota, error) {
	rows, err := q.QueryContext(ctx, "SELECT class, quota FROM client_rate_limits WHERE client_id = $1", clientID)
	if err != nil {
		return nil, fmt.Errorf("read rate limits of %s: %w", clientID, err)
	}
	defer rows.Close()
	out := map[string]Quota{}
	for rows.Next() {
		var class, text string
		if err := rows.Scan(&class, &text); err != nil {
			return nil, err
		}
		if qt, err := ParseQuota(text); err == nil {
			out[class] = qt
		}
	}
	return out, rows.Err()
}
