package counts

// The SQL of counts. Quantities are scaled integers (money.Quantity), as in
// stock_levels, so book and counted compare exactly.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/inventory"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
)

// productInfo is what a count needs to know of a product.
type productInfo struct {
	Tracking string `json:"tracking"`
}

func (p productInfo) tracked() bool {
	return p.Tracking == inventory.TrackLot || p.Tracking == inventory.TrackSerial
}

// loadProduct returns nil when the company has no such product.
func loadProduct(ctx context.Context, q db.Querier, companyID, productID string) (*productInfo, error) {
	var doc string
	err := q.QueryRowContext(ctx, "SELECT doc FROM products WHERE id = $1 AND company_id = $2", productID, companyID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read product %s: %w", productID, err)
	}
	var p productInfo
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return nil, fmt.Errorf("decode product %s: %w", productID, err)
	}
	if p.Tracking == "none" {
		p.Tracking = inventory.TrackNone
	}
	return &p, nil
}

type locationInfo struct{ Active bool }

// loadLocation returns nil when the company has no such location.
func loadLocation(ctx context.Context, q db.Querier, companyID, locationID string) (*locationInfo, error) {
	var l locationInfo
	err := q.QueryRowContext(ctx, "SELECT active FROM locations WHERE id = $1 AND company_id = $2", locationID, companyID).Scan(&l.Active)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read location %s: %w", locationID, err)
	}
	return &l, nil
}

func insertCount(ctx context.Context, tx *db.Tx, c *StockCount) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO stock_counts (id, company_id, status, count_date, memo, created_at)
VALUES ($1, $2, $3, $4, $5, $6)`, c.ID, c.CompanyID, c.Status, c.Date, c.Memo, c.CreatedAt); err != nil {
		return fmt.Errorf("insert stock count: %w", err)
	}
	for _, l := range c.Lines {
		if _, err := tx.ExecContext(ctx, `INSERT INTO stock_count_lines (count_id, line_no, product_id, location_id, lot, counted)
VALUES ($1, $2, $3, $4, $5, $6)`, c.ID, l.Line, l.ProductID, l.LocationID, l.Lot, money.Quantity(&l.CountedQuantity)); err != nil {
			return fmt.Errorf("insert stock count %s line %d: %w", c.ID, l.Line, err)
		}
	}
	return nil
}

const countColumns = "id, company_id, status, count_date, memo, created_at, posted_at"

func scanCount(row interface{ Scan(...any) error }) (StockCount, error) {
	var (
		c        StockCount
		postedAt sql.NullTime
	)
	if err := row.Scan(&c.ID, &c.CompanyID, &c.Status, &c.Date, &c.Memo, &c.CreatedAt, &postedAt); err != nil {
		return StockCount{}, err
	}
	if postedAt.Valid {
		c.PostedAt = &postedAt.Time
	}
	return c, nil
}

func loadCount(ctx context.Context, q db.Querier, companyID, countID string) (StockCount, bool, error) {
	c, err := scanCount(q.QueryRowContext(ctx, "SELECT "+countColumns+" FROM stock_counts WHERE id = $1 AND company_id = $2", countID, companyID))
	if errors.Is(err, sql.ErrNoRows) {
		return StockCount{}, false, nil
	}
	if err != nil {
		return StockCount{}, false, fmt.Errorf("read stock count %s: %w", countID, err)
	}
	if c.Lines, err = loadLines(ctx, q, c.ID); err != nil {
		return StockCount{}, false, err
	}
	normalize(&c)
	return c, true, nil
}

// loadLines reads a count's lines; a line not yet posted shows the book
// quantity on hand now.
func loadLines(ctx context.Context, q db.Querier, countID string) ([]StockCountLine, error) {
	rows, err := q.QueryContext(ctx, `SELECT l.line_no, l.product_id, l.location_id, l.lot, l.counted, COALESCE(l.book, s.on_hand, 0), l.move_id
FROM stock_count_lines l
JOIN stock_counts c ON c.id = l.count_id
LEFT JOIN stock_levels s ON s.company_id = c.company_id AND s.product_id = l.product_id AND s.location_id = l.location_id AND s.lot = l.lot
WHERE l.count_id = $1 ORDER BY l.line_no`, countID)
	if err != nil {
		return nil, fmt.Errorf("stock count %s lines: %w", countID, err)
	}
	lines, err := db.Collect(rows, func(rows *sql.Rows) (StockCountLine, error) {
		var (
			l      StockCountLine
			moveID sql.NullString
		)
		err := rows.Scan(&l.Line, &l.ProductID, &l.LocationID, &l.Lot, money.Quantity(&l.CountedQuantity), money.Quantity(&l.BookQuantity), &moveID)
		l.MoveID = moveID.String
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("stock count %s lines: %w", countID, err)
	}
	return lines, nil
}

// claimDraft marks a draft posted; false when the company has no draft by
// that id (none at all, or posted already).
func claimDraft(ctx context.Context, tx *db.Tx, companyID, countID string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE stock_counts SET status = $1, posted_at = $2 WHERE id = $3 AND company_id = $4 AND status = $5`,
		StatusPosted, now, countID, companyID, StatusDraft)
	if err != nil {
		return false, fmt.Errorf("post stock count %s: %w", countID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("post stock count %s: %w", countID, err)
	}
	return n == 1, nil
}

// lockBook reads what is on hand of a product at a location and lot, 0
// when there is no level row. On PostgreSQL it first locks the product's
// cost row and then the level, the order inventory.Post takes them in, so
// the quantity cannot change before the adjustment is posted (SQLite's
// single writer already excludes other writers).
func lockBook(ctx context.Context, tx *db.Tx, companyID, productID, locationID, lot string) (money.Decimal, error) {
	lock := ""
	if tx.Engine() == db.Postgres {
		lock = " FOR UPDATE"
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM product_costs WHERE company_id = $1 AND product_id = $2 FOR UPDATE", companyID, productID).Scan(&one)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return money.Decimal{}, fmt.Errorf("lock cost of %s: %w", productID, err)
		}
	}
	var onHand money.Decimal
	err := tx.QueryRowContext(ctx, `SELECT on_hand FROM stock_levels WHERE company_id = $1 AND product_id = $2 AND location_id = $3 AND lot = $4`+lock,
		companyID, productID, locationID, lot).Scan(money.Quantity(&onHand))
	if errors.Is(err, sql.ErrNoRows) {
		return money.Decimal{}, nil
	}
	if err != nil {
		return money.Decimal{}, fmt.Errorf("stock level of %s at %s: %w", productID, locationID, err)
	}
	return onHand.Normalize(), nil
}

func saveLine(ctx context.Context, tx *db.Tx, countID string, l StockCountLine) error {
	var moveID sql.NullString
	if l.MoveID != "" {
		moveID = sql.NullString{String: l.MoveID, Valid: true}
	}
	book := l.BookQuantity
	if _, err := tx.ExecContext(ctx, "UPDATE stock_count_lines SET book = $1, move_id = $2 WHERE count_id = $3 AND line_no = $4",
		money.Quantity(&book), moveID, countID, l.Line); err != nil {
		return fmt.Errorf("save stock count %s line %d: %w", countID, l.Line, err)
	}
	return nil
}

// Schema is what clients may filter counts by.
var Schema = query.Schema{
	{Name: "status", Column: "status", Kind: query.Enum, Values: []string{StatusDraft, StatusPosted}},
	{Name: "date", Column: "count_date", Kind: query.String},
	{Name: "created_at", Column: "created_at", Kind: query.Time, Sortable: true},
}

// ListParams selects a page of a company's counts.
type ListParams struct {
	CompanyID string
	Filter    string // AIP-160 over Schema
	PageToken string
	PageSize  int
	TokenKey  []byte // HMAC key of page tokens
	ClientID  string // a token is only good for the client it was given to
}

// StockCountList is one page of counts, each with its lines.
type StockCountList struct {
	Data          []StockCount `json:"data"`
	NextPageToken string       `json:"next_page_token"`
}

// List returns a page of a company's counts, oldest first, keyset-paged
// on (created_at, id) so pages stay stable while counts are added.
func List(ctx context.Context, q db.Querier, lp ListParams) (StockCountList, error) {
	where, args := []string{"company_id = $1"}, []any{lp.CompanyID}
	expr, err := query.ParseFilter(lp.Filter)
	if err != nil {
		return StockCountList{}, err
	}
	orders, err := query.ParseOrderBy("created_at", Schema)
	if err != nil {
		return StockCountList{}, fmt.Errorf("list stock counts: %w", err)
	}
	if expr != nil {
		frag, fargs, err := query.CompileFilter(expr, Schema, len(args)+1)
		if err != nil {
			return StockCountList{}, err
		}
		where, args = append(where, "("+frag+")"), append(args, fargs...)
	}
	fingerprint := query.Fingerprint("stock-counts", lp.CompanyID, lp.Filter, lp.ClientID)
	if lp.PageToken != "" {
		cur, err := query.DecodeToken(lp.TokenKey, lp.PageToken, fingerprint)
		if err != nil {
			return StockCountList{}, err
		}
		frag, kargs, err := query.Keyset(orders, cur, "id", len(args)+1)
		if err != nil {
			return StockCountList{}, err
		}
		where, args = append(where, "("+frag+")"), append(args, kargs...)
	}
	args = append(args, lp.PageSize+1)
	rows, err := q.QueryContext(ctx, "SELECT "+countColumns+" FROM stock_counts WHERE "+strings.Join(where, " AND ")+
		" ORDER BY "+query.OrderSQL(orders, "id")+fmt.Sprintf(" LIMIT $%d", len(args)), args...)
	if err != nil {
		return StockCountList{}, fmt.Errorf("list stock counts: %w", err)
	}
	list, err := db.Collect(rows, func(rows *sql.Rows) (StockCount, error) { return scanCount(rows) })
	if err != nil {
		return StockCountList{}, fmt.Errorf("list stock counts: %w", err)
	}
	page := StockCountList{Data: []StockCount{}}
	for i, c := range list {
		if i == lp.PageSize {
			last := list[i-1]
			cur, err := query.NewCursor(orders, []any{last.CreatedAt}, last.ID)
			if err != nil {
				return StockCountList{}, fmt.Errorf("list stock counts: %w", err)
			}
			page.NextPageToken = query.EncodeToken(lp.TokenKey, cur, fingerprint)
			break
		}
		// At most a page of counts, each one query for its lines.
		if c.Lines, err = loadLines(ctx, q, c.ID); err != nil {
			return StockCountList{}, err
		}
		normalize(&c)
		page.Data = append(page.Data, c)
	}
	return page, nil
}
