package rules

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

type account struct {
	code, typ string
	active    bool
}

const accountSQL = `SELECT code, type, active FROM accounts WHERE id = $1 AND company_id = $2`

func loadAccount(ctx context.Context, q db.Querier, companyID, id string) (account, error) {
	var a account
	err := q.QueryRowContext(ctx, accountSQL, id, companyID).Scan(&a.code, &a.typ, &a.active)
	if err != nil {
		return a, fmt.Errorf("load account %s: %w", id, err)
	}
	return a, nil
}

// duplicateSQL finds another rule with the same role and selector. Only one
// selector column is ever set, so comparing all five is comparing the one.
const duplicateSQL = `SELECT id FROM posting_rules
WHERE company_id = $1 AND role = $2 AND product_id = $3 AND tax_category_id = $4
  AND customer_group = $5 AND supplier_group = $6 AND payroll_component = $7 AND id <> $8
LIMIT 1`

func duplicate(ctx context.Context, q db.Querier, r *Rule) (string, error) {
	var other string
	err := q.QueryRowContext(ctx, duplicateSQL, r.CompanyID, r.Role, r.ProductID, r.TaxCategoryID,
		r.CustomerGroup, r.SupplierGroup, r.PayrollComponent, r.ID).Scan(&other)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look for a duplicate rule: %w", err)
	}
	return other, nil
}

// determineSQL ranks every candidate for a role in one query: the rules
// whose selector matches a key (an empty key matches nothing, as a set
// selector is never empty), the default rule, and last the account that
// carries the role in the chart. The ranks follow the order of selectors.
const determineSQL = `SELECT m.rule_id, a.id, a.code, a.type, a.active FROM (
  SELECT r.id AS rule_id, r.account_id,
    CASE WHEN r.product_id <> '' THEN 1
         WHEN r.tax_category_id <> '' THEN 2
         WHEN r.customer_group <> '' THEN 3
         WHEN r.supplier_group <> '' THEN 4
         WHEN r.payroll_component <> '' THEN 5
         ELSE 6 END AS rank
  FROM posting_rules r
  WHERE r.company_id = $1 AND r.role = $2 AND (
       (r.product_id <> '' AND r.product_id = $3)
    OR (r.tax_category_id <> '' AND r.tax_category_id = $4)
    OR (r.customer_group <> '' AND r.customer_group = $5)
    OR (r.supplier_group <> '' AND r.supplier_group = $6)
    OR (r.payroll_component <> '' AND r.payroll_component = $7)
    OR (r.product_id = '' AND r.tax_category_id = '' AND r.customer_group = ''
        AND r.supplier_group = '' AND r.payroll_component = ''))
  UNION ALL
  SELECT '' AS rule_id, c.id AS account_id, 7 AS rank FROM accounts c WHERE c.company_id = $1 AND c.role = $2 AND c.role <> ''
) m JOIN accounts a ON a.id = m.account_id AND a.company_id = $1
ORDER BY m.rank
LIMIT 1`

type match struct {
	found                        bool
	ruleID, accountID, code, typ string
	active                       bool
}

func determine(ctx context.Context, q db.Querier, companyID, role string, k Keys) (match, error) {
	m := match{found: true}
	err := q.QueryRowContext(ctx, determineSQL, companyID, role, k.ProductID, k.TaxCategoryID,
		k.CustomerGroup, k.SupplierGroup, k.PayrollComponent).Scan(&m.ruleID, &m.accountID, &m.code, &m.typ, &m.active)
	if errors.Is(err, sql.ErrNoRows) {
		return match{}, nil
	}
	if err != nil {
		return match{}, fmt.Errorf("determine account: %w", err)
	}
	return m, nil
}
