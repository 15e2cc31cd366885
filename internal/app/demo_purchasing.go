package app

import (
	"context"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/purchasing/bills"
	purchaseorders "github.com/mainstay-erp/mainstay/internal/purchasing/orders"
)

// seedDemoPurchasing leaves the demo company with open business on the
// buying side: a purchase order half received, a bill for the received
// part priced above the order (a mismatch waiting for finance to approve),
// and a matched service bill due for payment.
func (a *App) seedDemoPurchasing(ctx context.Context, company string) error {
	return a.db.Transact(ctx, func(tx *db.Tx) error {
		var supplier, p1, p2, expense, std string
		for _, q := range []struct {
			sql  string
			dest *string
		}{
			{"SELECT id FROM suppliers WHERE company_id = $1 ORDER BY name LIMIT 1", &supplier},
			{"SELECT id FROM products WHERE company_id = $1 ORDER BY sku LIMIT 1", &p1},
			{"SELECT id FROM products WHERE company_id = $1 ORDER BY sku LIMIT 1 OFFSET 1", &p2},
			{"SELECT id FROM accounts WHERE company_id = $1 AND code = '6100'", &expense},
			{"SELECT id FROM tax_categories WHERE company_id = $1 AND code = 'standard'", &std},
		} {
			if err := tx.QueryRowContext(ctx, q.sql, company).Scan(q.dest); err != nil {
				return fmt.Errorf("seed demo purchasing: %w", err)
			}
		}
		d := money.MustParse
		price1, price2 := d("2.40"), d("3.10")
		po, err := purchaseorders.Create(ctx, tx, purchaseorders.CreateInput{CompanyID: company, SupplierID: supplier, Lines: []purchaseorders.PurchaseOrderLineInput{
			{ProductID: p1, Quantity: d("48"), UnitPrice: &price1}, {ProductID: p2, Quantity: d("24"), UnitPrice: &price2},
		}})
		if err != nil {
			return fmt.Errorf("seed demo purchase order: %w", err)
		}
		if _, err := purchaseorders.Send(ctx, tx, company, po.ID); err != nil {
			return fmt.Errorf("seed demo purchase order: %w", err)
		}
		if _, _, err := purchaseorders.Receive(ctx, tx, purchaseorders.ReceiveInput{CompanyID: company, OrderID: po.ID,
			Lines: []purchaseorders.GoodsReceiptLineInput{{LineNo: 1, Quantity: d("48")}}}); err != nil {
			return fmt.Errorf("seed demo goods receipt: %w", err)
		}
		if _, err := bills.Create(ctx, tx, bills.CreateInput{CompanyID: company, SupplierID: supplier, SupplierReference: "DEMO-INV-4711",
			PurchaseOrderID: po.ID, Post: true, Lines: []bills.BillLineInput{{PurchaseOrderLineNo: 1, Quantity: d("48"), UnitPrice: d("2.55")}}}); err != nil {
			return fmt.Errorf("seed demo bill: %w", err)
		}
		if _, err := bills.Create(ctx, tx, bills.CreateInput{CompanyID: company, SupplierID: supplier, SupplierReference: "DEMO-SVC-17", Post: true,
			Lines: []bills.BillLineInput{{AccountID: expense, Description: "Forklift maintenance", Quantity: d("1"), UnitPrice: d("180.00"), TaxCategoryID: std}}}); err != nil {
			return fmt.Errorf("seed demo service bill: %w", err)
		}
		return nil
	})
}
