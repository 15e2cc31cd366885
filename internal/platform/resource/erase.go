package resource

import (
	"context"
	"fmt"
	"sync"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// Hold says why a record's personal data must be kept (an open invoice,
// a retention period); "" means no hold.
type Hold func(ctx context.Context, q db.Querier, recordID string) (reason string, err error)

var holdsMu sync.RWMutex

// AddHold registers a legal hold other modules check before erasure.
func (r *Resource[T, PT]) AddHold(h Hold) {
	holdsMu.Lock()
	defer holdsMu.Unlock()
	r.holds = append(r.holds, h)
}

// Erase erases a record's personal data: its data key is destroyed (so
// every encrypted value of it, in any copy or backup, is unreadable) and
// the members listed in clear are replaced by blank, while the record, its
// id and everything referring to it (documents, ledger, audit chain) stay.
// A legal hold refuses with 409 and its reason.
func (r *Resource[T, PT]) Erase(ctx context.Context, recordID string, blank map[string]any) (Versioned[T], error) {
	var out Versioned[T]
	p, err := principal(ctx)
	if err != nil {
		return out, err
	}
	err = r.e.db.Transact(ctx, func(tx *db.Tx) error {
		cur, company, err := r.lockForWrite(ctx, tx, p, recordID, func(string) error { return nil })
		if err != nil {
			return err
		}
		holdsMu.RLock()
		holds := append([]Hold(nil), r.holds...)
		holdsMu.RUnlock()
		for _, h := range holds {
			reason, err := h(ctx, tx, recordID)
			if err != nil {
				return fmt.Errorf("check legal holds of %s: %w", recordID, err)
			}
			if reason != "" {
				return apperr.New(apperr.Conflict, "%s %s cannot be erased: %s", r.spec.Singular, recordID, reason)
			}
		}
		if r.e.keyring != nil {
			if err := r.e.keyring.DestroyOwner(db.ContextWithTx(ctx, tx), recordID); err != nil {
				return fmt.Errorf("destroy data key of %s: %w", recordID, err)
			}
		}
		curDoc, err := toMap(cur.Value)
		if err != nil {
			return err
		}
		for k := range r.readOnly {
			delete(curDoc, k)
		}
		delete(curDoc, "company_id")
		for _, member := range r.spec.Encrypted {
			delete(curDoc, member)
		}
		for member, v := range blank {
			if v == nil {
				delete(curDoc, member)
			} else {
				curDoc[member] = v
			}
		}
		out, err = r.replace(ctx, tx, company, cur, curDoc, false)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: r.spec.Singular + ".erase", ResourceType: r.spec.Singular,
			ResourceID: recordID, CompanyID: company, Details: map[string]any{"personal_data": "erased"}})
	})
	return out, err
}
