package app

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/inventory"
	"github.com/mainstay-erp/mainstay/internal/inventory/sites"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// seedDemoStock gives the demo company two warehouses with opening stock
// of every product (valued at 40 % of its list price, into the ledger
// against opening balances) and reorder rules for a few.
func (a *App) seedDemoStock(ctx context.Context, company string) error {
	warehouses := map[string]string{}
	for _, w := range [][2]string{{"BER1", "Berlin warehouse"}, {"HAM1", "Hamburg warehouse"}} {
		v, err := a.services.Warehouses.Create(ctx, company, map[string]any{"code": w[0], "name": w[1]})
		if err != nil {
			return fmt.Errorf("seed demo warehouse %s: %w", w[0], err)
		}
		warehouses[w[0]] = v.Value.ID
	}
	first := fmt.Sprintf("%d-01-01", a.db.Now().Year())
	return a.db.Transact(ctx, func(tx *db.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT id, list_price FROM products WHERE company_id = $1 ORDER BY sku", company)
		if err != nil {
			return fmt.Errorf("seed demo stock: %w", err)
		}
		type prod struct {
			id    string
			price money.Decimal
		}
		products, err := db.Collect(rows, func(rows *sql.Rows) (prod, error) {
			var p prod
			return p, rows.Scan(&p.id, money.Price(&p.price))
		})
		if err != nil {
			return fmt.Errorf("seed demo stock: %w", err)
		}
		for i, p := range products {
			cost := money.RoundAmount(p.price.Mul(money.MustParse("0.4")), "EUR", money.HalfEven)
			for j, code := range []string{"BER1", "HAM1"} {
				loc, err := sites.DefaultLocation(ctx, tx, company, warehouses[code], sites.Receiving)
				if err != nil {
					return err
				}
				qty := money.FromInt(int64(10 + (i*7+j*13)%40))
				if _, err := inventory.Post(ctx, tx, inventory.MoveInput{
					CompanyID: company, Type: inventory.Opening, ProductID: p.id, ToLocationID: loc,
					Quantity: qty, UnitCost: &cost, Date: first, Reason: "opening stock",
					SourceType: "demo", SourceID: p.id, Purpose: "opening_" + code,
				}); err != nil {
					return fmt.Errorf("seed demo stock of %s: %w", p.id, err)
				}
			}
			if i%5 == 0 {
				if _, err := a.services.ReorderRules.Create(db.ContextWithTx(ctx, tx), company, map[string]any{
					"product_id": p.id, "warehouse_id": warehouses["BER1"], "reorder_point": "30", "reorder_quantity": "24", "lead_time_days": 5,
				}); err != nil {
					return fmt.Errorf("seed demo reorder rule: %w", err)
				}
			}
		}
		return nil
	})
}
