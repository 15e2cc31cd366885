// Package operations tracks work that takes longer than a request
// (imports, payroll and payment runs, large reports). The request that
// starts such work answers 202 Accepted with the operation, whose status,
// progress, result and errors the client then reads at
// /v1/operations/{id}.
package operations

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
)

// Statuses.
const (
	Pending   = "pending"
	Running   = "running"
	Succeeded = "succeeded"
	Failed    = "failed"
)

// ErrNotFound is the answer for an unknown operation or another client's.
var ErrNotFound = apperr.New(apperr.NotFound, "No such operation.")

// Operation is the resource at /v1/operations/{id}.
type Operation struct {
	ID        string              `json:"id" readOnly:"true"`
	Kind      string              `json:"kind" doc:"What the operation does, e.g. payroll.run."`
	Status    string              `json:"status" enum:"pending,running,succeeded,failed"`
	Done      bool                `json:"done" doc:"True once the operation succeeded or failed."`
	Progress  int                 `json:"progress" minimum:"0" maximum:"100" doc:"Percent complete."`
	CompanyID string              `json:"company_id,omitempty"`
	Result    json.RawMessage     `json:"result,omitempty" doc:"The outcome, once succeeded."`
	Errors    []apperr.FieldError `json:"errors,omitempty" doc:"What went wrong, once failed."`
	CreatedAt time.Time           `json:"created_at"`
	UpdatedAt time.Time           `json:"updated_at"`
}

// Start records a new pending operation in tx, owned by the calling client.
func Start(ctx context.Context, tx *db.Tx, kind, companyID string) (Operation, error) {
	op := Operation{ID: id.New("op"), Kind: kind, Status: Pending, CompanyID: companyID, CreatedAt: tx.Now(), UpdatedAt: tx.Now()}
	_, err := tx.ExecContext(ctx, `INSERT INTO operations (id, company_id, client_id, kind, status, progress, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, 0, $6, $6)`, op.ID, companyID, reqctx.Actor(ctx), kind, Pending, tx.Now())
	if err != nil {
		return Operation{}, fmt.Errorf("start operation %s: %w", kind, err)
	}
	return op, nil
}

// Update sets the status and progress of a running operation.
func Update(ctx context.Context, q db.Querier, now time.Time, opID string, status string, progress int) error {
	_, err := q.ExecContext(ctx, `UPDATE operations SET status = $1, progress = $2, updated_at = $3 WHERE id = $4`,
		status, progress, now, opID)
	if err != nil {
		return fmt.Errorf("update operation %s: %w", opID, err)
	}
	return nil
}

// Finish records the outcome: a result, or the errors that failed it.
func Finish(ctx context.Context, q db.Querier, now time.Time, opID string, result any, failures []apperr.FieldError) error {
	status, progress := Succeeded, 100
	var res, errs sql.NullString
	if len(failures) > 0 {
		status = Failed
		b, _ := json.Marshal(failures)
		errs = sql.NullString{String: string(b), Valid: true}
	} else if result != nil {
		b, err := json.Marshal(result)
		if err != nil {
			return fmt.Errorf("finish operation %s: %w", opID, err)
		}
		res = sql.NullString{String: string(b), Valid: true}
	}
	_, err := q.ExecContext(ctx, `UPDATE operations SET status = $1, progress = $2, result = $3, errors = $4, updated_at = $5 WHERE id = $6`,
		status, progress, res, errs, now, opID)
	if err != nil {
		return fmt.Errorf("finish operation %s: %w", opID, err)
	}
	return nil
}

// Get returns an operation the calling client started.
func Get(ctx context.Context, q db.Querier, opID string) (Operation, error) {
	var op Operation
	var client string
	var res, errs sql.NullString
	err := q.QueryRowContext(ctx, `SELECT id, kind, status, progress, company_id, client_id, result, errors, created_at, updated_at
FROM operations WHERE id = $1`, opID).Scan(&op.ID, &op.Kind, &op.Status, &op.Progress, &op.CompanyID, &client, &res, &errs, &op.CreatedAt, &op.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && client != reqctx.Actor(ctx)) {
		return Operation{}, ErrNotFound
	}
	if err != nil {
		return Operation{}, fmt.Errorf("get operation %s: %w", opID, err)
	}
	if res.Valid {
		op.Result = json.RawMessage(res.String)
	}
	if errs.Valid {
		_ = json.Unmarshal([]byte(errs.String), &op.Errors)
	}
	op.Done = op.Status == Succeeded || op.Status == Failed
	op.CreatedAt, op.UpdatedAt = op.CreatedAt.UTC(), op.UpdatedAt.UTC()
	return op, nil
}
