package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/mfg"
	"github.com/mainstay-erp/mainstay/internal/mfg/mfgapi"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// mfgResources are manufacturing's registered resources, for the demo
// seed.
type mfgResources struct {
	workCenters *mfg.WorkCenters
	boms        *mfg.BOMs
	plans       *mfg.InspectionPlans
	service     *mfg.Service
}

// mountMfg wires the manufacturing module: work centers, bills of
// materials and inspection plans as resources, and production orders,
// shop-floor intake and quality control as routes.
func (a *App) mountMfg(api *rest.API, eng *resource.Engine) {
	r := &mfgResources{
		workCenters: resource.Register[mfg.WorkCenter](eng, mfg.WorkCenterSpec),
		boms:        resource.Register[mfg.BOM](eng, mfg.BOMSpec),
		plans:       resource.Register[mfg.InspectionPlan](eng, mfg.InspectionPlanSpec),
	}
	// Manufacturing's accounts join the company's chart the first time
	// an order posts to them, through the chart resource (validated,
	// audited, published like any account).
	r.service = mfg.New(func(ctx context.Context, tx *db.Tx, companyID, code, name, typ string) (string, error) {
		var id string
		err := tx.QueryRowContext(ctx, "SELECT id FROM accounts WHERE company_id = $1 AND code = $2", companyID, code).Scan(&id)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return "", fmt.Errorf("account %s: %w", code, err)
		}
		v, err := a.services.Accounts.Create(db.ContextWithTx(ctx, tx), companyID, map[string]any{"code": code, "name": name, "type": typ})
		if err != nil {
			return "", fmt.Errorf("create account %s: %w", code, err)
		}
		return v.Value.ID, nil
	})
	// A bill that production orders were made by stays, for their
	// history; archive it instead.
	r.boms.BeforeDelete(func(ctx context.Context, tx *db.Tx, id string) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM production_orders WHERE bom_id = $1", id).Scan(&n); err != nil {
			return fmt.Errorf("production orders of bill %s: %w", id, err)
		}
		if n > 0 {
			return apperr.New(apperr.Conflict, "Bill of materials %s has %d production order(s); archive it instead (PATCH {\"active\": false}).", id, n)
		}
		return nil
	})
	a.mfg = r
	mfgapi.Mount(api, a.db, r.service)
}
