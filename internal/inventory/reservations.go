package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// Reserve sets stock aside for a document, in tx, the caller's
// transaction: every line or none (the caller's transaction rolls back on
// the error). The level rows are locked in one sorted order, so carts
// reserving the same products never deadlock, and each line is checked
// against what is available once the lines before it took theirs. A line
// marked Partial reserves what is available (a backorder) instead of
// failing.
func Reserve(ctx context.Context, tx *db.Tx, companyID string, src Source, lines []ReserveLine) ([]StockReservation, error) {
	if src.Type == "" || src.ID == "" {
		return nil, apperr.Field("/source_type", "a reservation names the document it is for (source_type and source_id)")
	}
	if len(lines) == 0 {
		return nil, apperr.Field("/lines", "at least one line")
	}
	keys := make([]levelKey, 0, len(lines))
	var fields []apperr.FieldError
	for i, l := range lines {
		ptr := fmt.Sprintf("/lines/%d", i)
		if l.Quantity.Sign() <= 0 {
			fields = append(fields, apperr.FieldError{Pointer: ptr + "/quantity", Detail: "must be positive"})
		} else if _, err := l.Quantity.Scaled(money.QuantityScale); err != nil {
			fields = append(fields, apperr.FieldError{Pointer: ptr + "/quantity", Detail: fmt.Sprintf("at most %d decimal places", money.QuantityScale)})
		}
		if _, err := loadProduct(ctx, tx, companyID, l.ProductID, ptr+"/product_id"); err != nil {
			return nil, err
		}
		if _, err := loadLocation(ctx, tx, companyID, l.LocationID, ptr+"/location_id"); err != nil {
			return nil, err
		}
		keys = append(keys, levelKey{l.ProductID, l.LocationID, l.Lot})
	}
	if len(fields) > 0 {
		return nil, apperr.Fields(fields...)
	}
	levels, err := lockLevels(ctx, tx, companyID, keys)
	if err != nil {
		return nil, err
	}
	out := make([]StockReservation, 0, len(lines))
	for i, l := range lines {
		lv := levels[levelKey{l.ProductID, l.LocationID, l.Lot}]
		available := lv.OnHand.Sub(lv.Reserved).Sub(lv.Held)
		qty := l.Quantity
		if available.Cmp(qty) < 0 {
			if !l.Partial {
				return nil, apperr.New(apperr.Conflict, "Only %s of %s is available at %s; %s asked.", maxZero(available).Normalize(), l.ProductID, l.LocationID, qty).
					WithFields(apperr.FieldError{Pointer: fmt.Sprintf("/lines/%d/quantity", i), Detail: "more than is available"})
			}
			qty = maxZero(available)
		}
		lv.Reserved = lv.Reserved.Add(qty)
		r := StockReservation{ID: id.New("res"), ProductID: l.ProductID, LocationID: l.LocationID, Lot: l.Lot, Quantity: qty.Normalize(),
			Requested: l.Quantity, SourceType: src.Type, SourceID: src.ID, Status: "active", CreatedAt: tx.Now()}
		_, err := tx.ExecContext(ctx, `INSERT INTO stock_reservations (id, company_id, product_id, location_id, lot, quantity, source_type, source_id, status, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9)`, r.ID, companyID, r.ProductID, r.LocationID, r.Lot, money.Quantity(&qty), src.Type, src.ID, r.CreatedAt)
		if err != nil {
			return nil, fmt.Errorf("reserve %s: %w", l.ProductID, err)
		}
		out = append(out, r)
	}
	for _, lv := range levels {
		if err := saveLevel(ctx, tx, companyID, lv); err != nil {
			return nil, err
		}
	}
	if err := recordReservations(ctx, tx, companyID, EventReserved, out); err != nil {
		return nil, err
	}
	return out, audit.Record(ctx, tx, audit.Entry{Action: "stock.reserve", ResourceType: "stock_reservation", ResourceID: src.Type + "/" + src.ID, CompanyID: companyID,
		Details: map[string]any{"lines": len(lines)}})
}

// recordReservations writes one event per reservation: each is a record
// of its own, listed under its document.
func recordReservations(ctx context.Context, tx *db.Tx, companyID, event string, rs []StockReservation) error {
	for i := range rs {
		if _, err := events.Record(ctx, tx, events.Event{Type: event, Subject: rs[i].ID, CompanyID: companyID, Data: rs[i]}); err != nil {
			return fmt.Errorf("stock reservation %s: %w", rs[i].ID, err)
		}
	}
	return nil
}

func maxZero(d money.Decimal) money.Decimal {
	if d.IsNegative() {
		return money.Decimal{}
	}
	return d
}

// Release gives back every active reservation of a document.
func Release(ctx context.Context, tx *db.Tx, companyID string, src Source) ([]StockReservation, error) {
	active, err := activeReservations(ctx, tx, companyID, src, nil)
	if err != nil {
		return nil, err
	}
	keys := make([]levelKey, len(active))
	for i, r := range active {
		keys[i] = levelKey{r.ProductID, r.LocationID, r.Lot}
	}
	levels, err := lockLevels(ctx, tx, companyID, keys)
	if err != nil {
		return nil, err
	}
	for i := range active {
		r := &active[i]
		lv := levels[keys[i]]
		lv.Reserved = lv.Reserved.Sub(r.Quantity)
		if err := closeReservation(ctx, tx, r.ID, "released", money.Decimal{}, false); err != nil {
			return nil, err
		}
		r.Status = "released"
	}
	for _, lv := range levels {
		if err := saveLevel(ctx, tx, companyID, lv); err != nil {
			return nil, err
		}
	}
	if err := recordReservations(ctx, tx, companyID, EventReleased, active); err != nil {
		return nil, err
	}
	return active, audit.Record(ctx, tx, audit.Entry{Action: "stock.release", ResourceType: "stock_reservation", ResourceID: src.Type + "/" + src.ID, CompanyID: companyID})
}

// consume uses up a document's reservations of the level row a move ships
// from, up to qty, and returns how much was reserved (and is no longer).
// The caller holds the level row locked.
func consume(ctx context.Context, tx *db.Tx, companyID string, src Source, k levelKey, qty money.Decimal) (money.Decimal, error) {
	active, err := activeReservations(ctx, tx, companyID, src, &k)
	if err != nil {
		return money.Decimal{}, err
	}
	var used money.Decimal
	for _, r := range active {
		left := qty.Sub(used)
		if left.Sign() <= 0 {
			break
		}
		take := r.Quantity
		if take.Cmp(left) > 0 {
			take = left
		}
		rest := r.Quantity.Sub(take)
		if err := closeReservation(ctx, tx, r.ID, "consumed", rest, rest.Sign() > 0); err != nil {
			return money.Decimal{}, err
		}
		used = used.Add(take)
	}
	return used, nil
}

// closeReservation marks a reservation released or consumed; a partly
// consumed one stays active with what is left.
func closeReservation(ctx context.Context, tx *db.Tx, id, status string, rest money.Decimal, partly bool) error {
	var err error
	if partly {
		_, err = tx.ExecContext(ctx, "UPDATE stock_reservations SET quantity = $1 WHERE id = $2", money.Quantity(&rest), id)
	} else {
		_, err = tx.ExecContext(ctx, "UPDATE stock_reservations SET status = $1, closed_at = $2 WHERE id = $3", status, tx.Now(), id)
	}
	if err != nil {
		return fmt.Errorf("close reservation %s: %w", id, err)
	}
	return nil
}

func activeReservations(ctx context.Context, q db.Querier, companyID string, src Source, k *levelKey) ([]StockReservation, error) {
	query := `SELECT id, product_id, location_id, lot, quantity, source_type, source_id, status, created_at FROM stock_reservations
WHERE company_id = $1 AND source_type = $2 AND source_id = $3 AND status = 'active'`
	args := []any{companyID, src.Type, src.ID}
	if k != nil {
		query += " AND product_id = $4 AND location_id = $5 AND lot = $6"
		args = append(args, k.product, k.location, k.lot)
	}
	return listReservations(ctx, q, query+" ORDER BY created_at, id", args...)
}

// Reservations lists a document's reservations, all statuses.
func Reservations(ctx context.Context, q db.Querier, companyID string, src Source) ([]StockReservation, error) {
	return listReservations(ctx, q, `SELECT id, product_id, location_id, lot, quantity, source_type, source_id, status, created_at
FROM stock_reservations WHERE company_id = $1 AND source_type = $2 AND source_id = $3 ORDER BY created_at, id`, companyID, src.Type, src.ID)
}

func listReservations(ctx context.Context, q db.Querier, query string, args ...any) ([]StockReservation, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("reservations: %w", err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (StockReservation, error) {
		var r StockReservation
		err := rows.Scan(&r.ID, &r.ProductID, &r.LocationID, &r.Lot, money.Quantity(&r.Quantity), &r.SourceType, &r.SourceID, &r.Status, &r.CreatedAt)
		r.Quantity = r.Quantity.Normalize()
		r.Requested = r.Quantity
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("reservations: %w", err)
	}
	return out, nil
}

// PlaceHold blocks available stock for quality control.
func PlaceHold(ctx context.Context, tx *db.Tx, companyID, productID, locationID, lot string, qty money.Decimal, reason string) (StockHold, error) {
	if qty.Sign() <= 0 {
		return StockHold{}, apperr.Field("/quantity", "must be positive")
	}
	if _, err := qty.Scaled(money.QuantityScale); err != nil {
		return StockHold{}, apperr.Field("/quantity", "at most %d decimal places", money.QuantityScale)
	}
	if strings.TrimSpace(reason) == "" {
		return StockHold{}, apperr.Field("/reason", "a hold needs a reason")
	}
	if _, err := loadProduct(ctx, tx, companyID, productID, "/product_id"); err != nil {
		return StockHold{}, err
	}
	if _, err := loadLocation(ctx, tx, companyID, locationID, "/location_id"); err != nil {
		return StockHold{}, err
	}
	k := levelKey{productID, locationID, lot}
	levels, err := lockLevels(ctx, tx, companyID, []levelKey{k})
	if err != nil {
		return StockHold{}, err
	}
	lv := levels[k]
	if available := lv.OnHand.Sub(lv.Reserved).Sub(lv.Held); available.Cmp(qty) < 0 {
		return StockHold{}, apperr.New(apperr.Conflict, "Only %s of %s is available at %s to hold.", maxZero(available).Normalize(), productID, locationID).
			WithFields(apperr.FieldError{Pointer: "/quantity", Detail: "more than is available"})
	}
	lv.Held = lv.Held.Add(qty)
	if err := saveLevel(ctx, tx, companyID, lv); err != nil {
		return StockHold{}, err
	}
	h := StockHold{ID: id.New("hold"), ProductID: productID, LocationID: locationID, Lot: lot, Quantity: qty.Normalize(), Reason: reason, Status: "held", CreatedAt: tx.Now()}
	if _, err := tx.ExecContext(ctx, `INSERT INTO stock_holds (id, company_id, product_id, location_id, lot, quantity, reason, status, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'held', $8)`, h.ID, companyID, productID, locationID, lot, money.Quantity(&qty), reason, h.CreatedAt); err != nil {
		return StockHold{}, fmt.Errorf("place hold: %w", err)
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: EventHoldPlaced, Subject: h.ID, CompanyID: companyID, Data: h}); err != nil {
		return StockHold{}, fmt.Errorf("stock hold %s: %w", h.ID, err)
	}
	return h, audit.Record(ctx, tx, audit.Entry{Action: "stock_hold.place", ResourceType: "stock_hold", ResourceID: h.ID, CompanyID: companyID})
}

// LiftHold releases held stock back to available, once.
func LiftHold(ctx context.Context, tx *db.Tx, companyID, holdID string) (StockHold, error) {
	var h StockHold
	var status string
	err := tx.QueryRowContext(ctx, `SELECT id, product_id, location_id, lot, quantity, reason, status, created_at FROM stock_holds
WHERE id = $1 AND company_id = $2`, holdID, companyID).Scan(&h.ID, &h.ProductID, &h.LocationID, &h.Lot, money.Quantity(&h.Quantity), &h.Reason, &status, &h.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return StockHold{}, apperr.New(apperr.NotFound, "No stock hold %q.", holdID)
	}
	if err != nil {
		return StockHold{}, fmt.Errorf("read hold %s: %w", holdID, err)
	}
	k := levelKey{h.ProductID, h.LocationID, h.Lot}
	levels, err := lockLevels(ctx, tx, companyID, []levelKey{k})
	if err != nil {
		return StockHold{}, err
	}
	now := tx.Now()
	res, err := tx.ExecContext(ctx, "UPDATE stock_holds SET status = 'lifted', lifted_at = $1 WHERE id = $2 AND status = 'held'", now, holdID)
	if err != nil {
		return StockHold{}, fmt.Errorf("lift hold %s: %w", holdID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 || status != "held" {
		return StockHold{}, apperr.New(apperr.Conflict, "Stock hold %s is already lifted.", holdID)
	}
	lv := levels[k]
	lv.Held = lv.Held.Sub(h.Quantity)
	if err := saveLevel(ctx, tx, companyID, lv); err != nil {
		return StockHold{}, err
	}
	h.Status, h.LiftedAt, h.Quantity = "lifted", &now, h.Quantity.Normalize()
	if _, err := events.Record(ctx, tx, events.Event{Type: EventHoldLifted, Subject: h.ID, CompanyID: companyID, Data: h}); err != nil {
		return StockHold{}, fmt.Errorf("stock hold %s: %w", h.ID, err)
	}
	return h, audit.Record(ctx, tx, audit.Entry{Action: "stock_hold.lift", ResourceType: "stock_hold", ResourceID: h.ID, CompanyID: companyID})
}

// ErrImmutable is the database refusing to change a stock move.
var ErrImmutable = apperr.New(apperr.Conflict, "Stock moves are immutable; reverse the move instead.")

// MapDBError turns the triggers' refusal into ErrImmutable (409).
func MapDBError(err error) error {
	var pgErr *pgconn.PgError
	if (errors.As(err, &pgErr) && pgErr.Code == "MSL02") || (err != nil && strings.Contains(err.Error(), "stock moves are immutable")) {
		return ErrImmutable.Wrap(err)
	}
	return err
}
