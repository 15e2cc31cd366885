// Package audit writes the audit log: one row for every write, every read
// of sensitive data and every authentication event, in the caller's
// transaction so that the record and the change commit together.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
)

// Topic is what the sequencer subscribes to.
const Topic = "audit_log"

// Outcomes.
const (
	Success = "success"
	Failure = "failure"
	Denied  = "denied"
)

// Entry is one audited action. Actor and RequestID default to the ones the
// request context carries. Details must never hold sensitive values in
// clear: name changed fields, not their contents.
type Entry struct {
	Actor        string
	Action       string // e.g. "product.create", "token.issue"
	ResourceType string
	ResourceID   string
	CompanyID    string
	RequestID    string
	Outcome      string
	Details      map[string]any
}

// Stored is an entry as read back.
type Stored struct {
	Entry
	ID         string
	OccurredAt time.Time
	Seq        int64
}

// Record writes e in tx.
func Record(ctx context.Context, tx *db.Tx, e Entry) error {
	if e.Actor == "" {
		e.Actor = reqctx.Actor(ctx)
	}
	if e.Actor == "" {
		e.Actor = "system"
	}
	if e.RequestID == "" {
		e.RequestID = reqctx.RequestID(ctx)
	}
	if e.Outcome == "" {
		e.Outcome = Success
	}
	if e.Action == "" || e.ResourceType == "" {
		return fmt.Errorf("audit: action and resource type are required")
	}
	details := []byte("{}")
	if len(e.Details) > 0 {
		var err error
		if details, err = json.Marshal(e.Details); err != nil {
			return fmt.Errorf("audit %s: %w", e.Action, err)
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_log
(audit_id, occurred_at, actor, action, resource_type, resource_id, company_id, request_id, outcome, details)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		id.New("aud"), tx.Now(), e.Actor, e.Action, e.ResourceType, e.ResourceID, e.CompanyID, e.RequestID, e.Outcome, string(details))
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	tx.Notify(Topic)
	return nil
}

// After returns up to limit sequenced entries after seq, in log order.
func After(ctx context.Context, q db.Querier, seq int64, limit int) ([]Stored, error) {
	rows, err := q.QueryContext(ctx, `SELECT seq, audit_id, occurred_at, actor, action, resource_type, resource_id,
company_id, request_id, outcome, details FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`, seq, limit)
	if err != nil {
		return nil, fmt.Errorf("read audit log after %d: %w", seq, err)
	}
	defer rows.Close()
	var out []Stored
	for rows.Next() {
		var s Stored
		var details string
		if err := rows.Scan(&s.Seq, &s.ID, &s.OccurredAt, &s.Actor, &s.Action, &s.ResourceType, &s.ResourceID,
			&s.CompanyID, &s.RequestID, &s.Outcome, &details); err != nil {
			return nil, fmt.Errorf("read audit log after %d: %w", seq, err)
		}
		s.OccurredAt = s.OccurredAt.UTC()
		if err := json.Unmarshal([]byte(details), &s.Details); err != nil {
			return nil, fmt.Errorf("read audit log entry %s: %w", s.ID, err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
