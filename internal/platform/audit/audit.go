// Package audit writes the audit log: one row for every write, every read
// of sensitive data and every authentication event, in the caller's
// transaction so that the record and the change commit together.
//
// Rows are linked into a hash chain after commit, by the sequencer pass
// that numbers them (see Configure), and the chain's head is signed
// periodically in audit_checkpoints, so Verify detects an edited row, a
// deleted row and a cut-off tail. Personal data (IP address, user agent,
// the person a client acted for) enters the chain only through a keyed
// digest, never in clear.
package audit

import (
	"context"
	"database/sql"
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

// Entry is one audited action. Actor, RequestID, IP and UserAgent default
// to the ones the request context carries. Details must never hold
// sensitive values in clear: name changed fields, not their contents.
type Entry struct {
	Actor        string
	Action       string // e.g. "product.create", "token.issue"
	ResourceType string
	ResourceID   string
	CompanyID    string
	RequestID    string
	Outcome      string
	Details      map[string]any
	// OnBehalfOf is the person (user) a client acted for, when there is
	// one. Personal data, like IP and UserAgent.
	OnBehalfOf string
	IP         string
	UserAgent  string
}

// Stored is an entry as read back.
type Stored struct {
	Entry
	ID         string
	OccurredAt time.Time
	Seq        int64
	// PersonalErased is true once IP, user agent and on-behalf-of have been
	// erased (their digest stays, so the chain still verifies).
	PersonalErased bool
	// PrevHash and Hash are the row's chain link, hex; empty when the row
	// was numbered while no chain key was configured.
	PrevHash, Hash string
}

// maxUserAgent bounds what one row keeps of a client-chosen header.
const maxUserAgent = 512

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
	if e.IP == "" || e.UserAgent == "" {
		ip, ua := reqctx.Client(ctx)
		if e.IP == "" {
			e.IP = ip
		}
		if e.UserAgent == "" {
			e.UserAgent = ua
		}
	}
	if len(e.UserAgent) > maxUserAgent {
		e.UserAgent = e.UserAgent[:maxUserAgent]
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
(audit_id, occurred_at, actor, action, resource_type, resource_id, company_id, request_id, outcome, details,
 on_behalf_of, ip, user_agent)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		id.New("aud"), tx.Now(), e.Actor, e.Action, e.ResourceType, e.ResourceID, e.CompanyID, e.RequestID, e.Outcome, string(details),
		e.OnBehalfOf, e.IP, e.UserAgent)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	tx.Notify(Topic)
	return nil
}

// After returns up to limit sequenced entries after seq, in log order.
func After(ctx context.Context, q db.Querier, seq int64, limit int) ([]Stored, error) {
	out, err := List(ctx, q, Filter{}, seq, limit)
	if err != nil {
		return nil, fmt.Errorf("read audit log after %d: %w", seq, err)
	}
	return out, nil
}

// storedColumns is what scanStored reads, in order.
const storedColumns = `seq, audit_id, occurred_at, actor, action, resource_type, resource_id,
company_id, request_id, outcome, details, on_behalf_of, ip, user_agent, personal_erased_at, prev_hash, hash`

func scanStored(rows *sql.Rows) (Stored, error) {
	var s Stored
	var details string
	var erased sql.NullTime
	var prev, hash sql.NullString
	if err := rows.Scan(&s.Seq, &s.ID, &s.OccurredAt, &s.Actor, &s.Action, &s.ResourceType, &s.ResourceID,
		&s.CompanyID, &s.RequestID, &s.Outcome, &details, &s.OnBehalfOf, &s.IP, &s.UserAgent, &erased, &prev, &hash); err != nil {
		return s, err
	}
	s.OccurredAt = s.OccurredAt.UTC()
	s.PersonalErased = erased.Valid
	s.PrevHash, s.Hash = prev.String, hash.String
	if err := json.Unmarshal([]byte(details), &s.Details); err != nil {
		return s, fmt.Errorf("read audit log entry %s: %w", s.ID, err)
	}
	return s, nil
}
