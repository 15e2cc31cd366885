package shipping

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/catalog"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// loadCarriers reads the company's carriers (only carrierID's when set),
// archived ones included, in code order. A company has tens of carriers,
// so reading them whole and matching zones in Go is cheaper than keeping
// the rate table in rows.
func loadCarriers(ctx context.Context, q db.Querier, companyID, carrierID string) ([]*Carrier, error) {
	rows, err := q.QueryContext(ctx, `SELECT doc FROM carriers
WHERE company_id = $1 AND ($2 = '' OR id = $2)
ORDER BY code, id`, companyID, carrierID)
	if err != nil {
		return nil, fmt.Errorf("load carriers: %w", err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (*Carrier, error) {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		c := new(Carrier)
		if err := json.Unmarshal([]byte(doc), c); err != nil {
			return nil, fmt.Errorf("decode carrier: %w", err)
		}
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("load carriers: %w", err)
	}
	return out, nil
}

type productWeight struct {
	weight *money.Decimal
	unit   string
}

// productWeights reads the weight of each listed product of the company;
// absent ids are missing from the map.
func productWeights(ctx context.Context, q db.Querier, companyID string, ids []string) (map[string]productWeight, error) {
	out := map[string]productWeight{}
	uniq := dedupe(ids)
	if len(uniq) == 0 {
		return out, nil
	}
	marks, args := inList(companyID, uniq)
	rows, err := q.QueryContext(ctx, "SELECT doc FROM products WHERE company_id = $1 AND id IN ("+marks+")", args...)
	if err != nil {
		return nil, fmt.Errorf("product weights: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("product weights: %w", err)
		}
		var p catalog.Product
		if err := json.Unmarshal([]byte(doc), &p); err != nil {
			return nil, fmt.Errorf("decode product: %w", err)
		}
		out[p.ID] = productWeight{weight: p.Weight, unit: p.WeightUnit}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("product weights: %w", err)
	}
	return out, nil
}

// productIDsBySKU maps the listed SKUs of the company to product ids;
// unknown SKUs are missing from the map.
func productIDsBySKU(ctx context.Context, q db.Querier, companyID string, skus []string) (map[string]string, error) {
	out := map[string]string{}
	uniq := dedupe(skus)
	if len(uniq) == 0 {
		return out, nil
	}
	marks, args := inList(companyID, uniq)
	rows, err := q.QueryContext(ctx, "SELECT sku, id FROM products WHERE company_id = $1 AND sku IN ("+marks+")", args...)
	if err != nil {
		return nil, fmt.Errorf("products by SKU: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sku, id string
		if err := rows.Scan(&sku, &id); err != nil {
			return nil, fmt.Errorf("products by SKU: %w", err)
		}
		out[sku] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("products by SKU: %w", err)
	}
	return out, nil
}

// inList returns placeholders $2… for values, with companyID as $1.
func inList(companyID string, values []string) (string, []any) {
	marks := make([]string, len(values))
	args := make([]any, 0, len(values)+1)
	args = append(args, companyID)
	for i, v := range values {
		marks[i] = fmt.Sprintf("$%d", i+2)
		args = append(args, v)
	}
	return strings.Join(marks, ", "), args
}

func dedupe(values []string) []string {
	seen := make(map[string]bool, len(values))
	out := make([]string, 0, len(values))
	for _, v := range values {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
