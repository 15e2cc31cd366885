package app

import (
	"context"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// seedDemoSales makes the demo company ready to sell: German VAT on its
// tax categories, a carrier with German and EU rates, and a wholesale
// price list with quantity breaks, so a checkout works out of the box.
func (a *App) seedDemoSales(ctx context.Context, company string) error {
	taxes := map[string]string{}
	rows, err := a.db.QueryContext(ctx, "SELECT id, code FROM tax_categories WHERE company_id = $1", company)
	if err != nil {
		return fmt.Errorf("seed demo taxes: %w", err)
	}
	for rows.Next() {
		var id, code string
		if err := rows.Scan(&id, &code); err != nil {
			rows.Close()
			return fmt.Errorf("seed demo taxes: %w", err)
		}
		taxes[code] = id
	}
	rows.Close()
	for code, rate := range map[string]string{"standard": "19", "reduced": "7", "exempt": "0"} {
		for _, country := range []string{"DE", "AT"} {
			r := rate
			if country == "AT" && code != "exempt" {
				r = map[string]string{"standard": "20", "reduced": "10"}[code]
			}
			if _, err := a.services.TaxRates.Create(ctx, company, map[string]any{
				"tax_category_id": taxes[code], "country": country, "rate": r, "name": fmt.Sprintf("%s VAT %s", country, code),
			}); err != nil {
				return fmt.Errorf("seed demo tax rate %s %s: %w", country, code, err)
			}
		}
	}
	if _, err := a.services.Carriers.Create(ctx, company, map[string]any{
		"code": "DHL", "name": "DHL Paket", "currency": "EUR", "tax_category_id": taxes["standard"],
		"tracking_url_template": "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode={tracking_number}",
		"zones": []any{
			map[string]any{"name": "Germany", "countries": []any{"DE"}, "free_above": "50.00",
				"rates": []any{map[string]any{"max_weight_kg": "2", "amount": "4.90"}, map[string]any{"max_weight_kg": "10", "amount": "6.90"}, map[string]any{"max_weight_kg": "31.5", "amount": "12.90"}}},
			map[string]any{"name": "Austria", "countries": []any{"AT"}, "free_above": "100.00",
				"rates": []any{map[string]any{"max_weight_kg": "5", "amount": "9.90"}, map[string]any{"max_weight_kg": "31.5", "amount": "17.90"}}},
		},
	}); err != nil {
		return fmt.Errorf("seed demo carrier: %w", err)
	}
	// Wholesale customers pay 10 % less from 12 units.
	var prices []any
	err = a.db.Transact(ctx, func(tx *db.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT id, list_price FROM products WHERE company_id = $1 ORDER BY sku", company)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var price int64
			if err := rows.Scan(&id, &price); err != nil {
				return err
			}
			prices = append(prices, map[string]any{"product_id": id, "min_quantity": "12", "unit_price": fmt.Sprintf("%d.%06d", price/1e6, price%1e6), "discount_percent": "10"})
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("seed demo prices: %w", err)
	}
	if _, err := a.services.PriceLists.Create(ctx, company, map[string]any{
		"code": "WHOLESALE", "name": "Wholesale", "currency": "EUR", "customer_group": "wholesale", "priority": 10, "prices": prices,
	}); err != nil {
		return fmt.Errorf("seed demo price list: %w", err)
	}
	return nil
}
