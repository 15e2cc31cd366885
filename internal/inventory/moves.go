package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/ledger/periods"
	"github.com/mainstay-erp/mainstay/internal/ledger/rules"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

const dateLayout = "2006-01-02"

func validDate(s string) bool {
	t, err := time.Parse(dateLayout, s)
	return err == nil && t.Format(dateLayout) == s
}

// checkInput reports every problem of a move request at once, each at its
// field.
func checkInput(in MoveInput) error {
	var fields []apperr.FieldError
	add := func(ptr, format string, args ...any) {
		fields = append(fields, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
	}
	from, to := in.FromLocationID != "", in.ToLocationID != ""
	switch in.Type {
	case Receipt, Opening, CustomerReturn:
		if !to || from {
			add("/to_location_id", "a %s brings stock to to_location_id and has no from_location_id", in.Type)
		}
		if in.UnitCost == nil {
			add("/unit_cost", "a %s needs the cost per stock unit", in.Type)
		}
	case Issue:
		if !from || to {
			add("/from_location_id", "an issue takes stock from from_location_id and has no to_location_id")
		}
	case Transfer:
		if !from || !to {
			add("/to_location_id", "a transfer needs from_location_id and to_location_id")
		} else if in.FromLocationID == in.ToLocationID {
			add("/to_location_id", "a transfer goes to another location")
		}
	case Adjustment:
		if from == to {
			add("/to_location_id", "an adjustment names to_location_id (stock found) or from_location_id (stock lost), not both")
		}
		if strings.TrimSpace(in.Reason) == "" {
			add("/reason", "an adjustment needs a reason")
		}
	default:
		add("/type", "must be receipt, issue, transfer, adjustment, opening or return, got %q", in.Type)
	}
	if in.ProductID == "" {
		add("/product_id", "is required")
	}
	if in.Quantity.Sign() <= 0 {
		add("/quantity", "must be positive, got %s", in.Quantity)
	}
	if in.UnitCost != nil && in.UnitCost.IsNegative() {
		add("/unit_cost", "must not be negative")
	} else if in.UnitCost != nil {
		if _, err := in.UnitCost.Scaled(money.PriceScale); err != nil {
			add("/unit_cost", "at most %d decimal places", money.PriceScale)
		}
	}
	if !validDate(in.Date) {
		add("/date", "must be a calendar date as YYYY-MM-DD, got %q", in.Date)
	}
	if in.LotExpiry != "" && !validDate(in.LotExpiry) {
		add("/lot_expiry", "must be a calendar date as YYYY-MM-DD, got %q", in.LotExpiry)
	}
	if (in.SourceType == "") != (in.SourceID == "") {
		add("/source_type", "source type and source id go together")
	}
	if len(fields) > 0 {
		return apperr.Fields(fields...)
	}
	return nil
}

// Post records a stock move in tx, the caller's transaction, with its
// effect on levels and valuation and, when it changes the stock's value,
// its ledger entry. It is idempotent per (source type, source id,
// purpose): the same triple returns the move already made.
func Post(ctx context.Context, tx *db.Tx, in MoveInput) (StockMove, error) {
	return post(ctx, tx, in, "")
}

// post is Post, booking the value against contra instead of the posting
// rules' account when contra is set (PostAgainst).
func post(ctx context.Context, tx *db.Tx, in MoveInput, contra string) (StockMove, error) {
	if err := checkInput(in); err != nil {
		return StockMove{}, err
	}
	if in.SourceType != "" {
		if moveID, found, err := moveBySource(ctx, tx, in.CompanyID, in.SourceType, in.SourceID, in.Purpose); err != nil {
			return StockMove{}, err
		} else if found {
			m, _, err := loadMove(ctx, tx, in.CompanyID, moveID)
			if err != nil {
				return StockMove{}, err
			}
			if m.ProductID != in.ProductID || m.FromLocationID != in.FromLocationID || m.ToLocationID != in.ToLocationID || m.Lot != in.Lot {
				return StockMove{}, apperr.New(apperr.Conflict, "%s %s (purpose %q) already moved stock as %s, with other figures.", in.SourceType, in.SourceID, in.Purpose, m.ID)
			}
			return m, nil
		}
	}
	if err := periods.CheckOpen(ctx, tx, in.CompanyID, in.Date); err != nil {
		return StockMove{}, err
	}
	if err := checkLotNotHeld(ctx, tx, in); err != nil {
		return StockMove{}, err
	}
	cur, err := companyCurrency(ctx, tx, in.CompanyID)
	if err != nil {
		return StockMove{}, err
	}
	p, err := loadProduct(ctx, tx, in.CompanyID, in.ProductID, "/product_id")
	if err != nil {
		return StockMove{}, err
	}
	qty, err := p.toStockUnits(ctx, tx, in.CompanyID, in.UnitID, in.Quantity, "/quantity")
	if err != nil {
		return StockMove{}, err
	}
	if err := checkTracking(ctx, tx, in, p, qty); err != nil {
		return StockMove{}, err
	}
	for _, l := range []struct{ id, ptr string }{{in.FromLocationID, "/from_location_id"}, {in.ToLocationID, "/to_location_id"}} {
		if l.id != "" {
			if _, err := loadLocation(ctx, tx, in.CompanyID, l.id, l.ptr); err != nil {
				return StockMove{}, err
			}
		}
	}
	m := StockMove{
		ID: id.New("smv"), CompanyID: in.CompanyID, Type: in.Type, ProductID: in.ProductID,
		FromLocationID: in.FromLocationID, ToLocationID: in.ToLocationID, Lot: in.Lot,
		Quantity: qty, EnteredQuantity: in.Quantity, EnteredUnitID: in.UnitID, Currency: cur, Date: in.Date,
		Reason: in.Reason, Memo: in.Memo, SourceType: in.SourceType, SourceID: in.SourceID, Purpose: in.Purpose,
		CreatedAt: tx.Now(),
	}
	if m.EnteredUnitID == "" {
		m.EnteredUnitID = p.StockUnitID
	}
	if err := apply(ctx, tx, p, &m, in.UnitCost, in.Consumes, nil); err != nil {
		return StockMove{}, err
	}
	if in.Lot != "" && m.direction() > 0 {
		if err := ensureLot(ctx, tx, in.CompanyID, in.ProductID, in.Lot, in.LotExpiry); err != nil {
			return StockMove{}, err
		}
	}
	return m, record(ctx, tx, &m, contra)
}

// checkLotNotHeld refuses to move a lot out of a location where it is on
// hold: a hold that names a lot quarantines the lot there, so units of it
// reserved before the hold (by a sales order, a production order) cannot
// ship or be consumed either until the hold is lifted. Holds without a
// lot only take quantity from what is available.
func checkLotNotHeld(ctx context.Context, tx *db.Tx, in MoveInput) error {
	if in.Lot == "" || in.FromLocationID == "" {
		return nil
	}
	var holdID string
	err := tx.QueryRowContext(ctx, `SELECT id FROM stock_holds WHERE company_id = $1 AND product_id = $2 AND location_id = $3 AND lot = $4
AND status = 'held' ORDER BY id LIMIT 1`, in.CompanyID, in.ProductID, in.FromLocationID, in.Lot).Scan(&holdID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check holds of lot %s: %w", in.Lot, err)
	}
	return apperr.New(apperr.Conflict, "Lot %s is on hold at this location (%s); lift the hold before moving it.", in.Lot, holdID).
		WithFields(apperr.FieldError{Pointer: "/lot", Detail: "on hold (" + holdID + ")"})
}

// checkTracking enforces lots and serial numbers on tracked products.
func checkTracking(ctx context.Context, tx *db.Tx, in MoveInput, p product, qty money.Decimal) error {
	switch {
	case !p.tracked() && in.Lot != "":
		return apperr.Field("/lot", "Product %s is not tracked by lot or serial number.", p.ID)
	case p.tracked() && in.Lot == "":
		return apperr.Field("/lot", "Product %s is tracked by %s: name the %s.", p.ID, p.Tracking, p.Tracking)
	case p.Tracking == TrackSerial && !qty.Equal(money.FromInt(1)):
		return apperr.Field("/quantity", "A serial number is one unit: move %s one unit at a time.", p.ID)
	case p.Tracking == TrackSerial && (in.Type == Receipt || in.Type == Opening || in.Type == CustomerReturn):
		held, err := serialOnHand(ctx, tx, in.CompanyID, p.ID, in.Lot)
		if err != nil {
			return err
		}
		if held.Sign() > 0 {
			return apperr.New(apperr.Conflict, "Serial number %s of %s is already in stock.", in.Lot, p.ID).
				WithFields(apperr.FieldError{Pointer: "/lot", Detail: "already in stock"})
		}
	}
	return nil
}

// apply changes levels and valuation for m and fills its unit cost and
// value. For a reversal, fixed is the value the original moved, taken
// back exactly.
func apply(ctx context.Context, tx *db.Tx, p product, m *StockMove, unitCost *money.Decimal, consumes *Source, fixed *money.Decimal) error {
	keys := []levelKey{}
	from := levelKey{m.ProductID, m.FromLocationID, m.Lot}
	to := levelKey{m.ProductID, m.ToLocationID, m.Lot}
	if m.FromLocationID != "" {
		keys = append(keys, from)
	}
	if m.ToLocationID != "" {
		keys = append(keys, to)
	}
	// The cost row first, then levels: every writer takes them in this
	// order.
	dir := m.direction()
	var cs costState
	if dir != 0 {
		var err error
		if cs, err = lockCost(ctx, tx, m.CompanyID, p.ID); err != nil {
			return err
		}
	}
	levels, err := lockLevels(ctx, tx, m.CompanyID, keys)
	if err != nil {
		return err
	}
	if m.FromLocationID != "" {
		l := levels[from]
		consumed := money.Decimal{}
		if consumes != nil {
			if consumed, err = consume(ctx, tx, m.CompanyID, *consumes, from, m.Quantity); err != nil {
				return err
			}
			l.Reserved = l.Reserved.Sub(consumed)
		}
		available := l.OnHand.Sub(l.Reserved).Sub(l.Held)
		if available.Cmp(m.Quantity) < 0 && !(p.AllowNegativeStock && l.Reserved.Add(l.Held).Sign() == 0) {
			return apperr.New(apperr.Conflict, "Only %s of %s is available at %s (on hand %s, reserved %s, held %s); %s asked.",
				available.Normalize(), m.ProductID, m.FromLocationID, l.OnHand.Normalize(), l.Reserved.Normalize(), l.Held.Normalize(), m.Quantity).
				WithFields(apperr.FieldError{Pointer: "/quantity", Detail: "more than is available"})
		}
		l.OnHand = l.OnHand.Sub(m.Quantity)
		if err := saveLevel(ctx, tx, m.CompanyID, l); err != nil {
			return err
		}
	}
	if m.ToLocationID != "" {
		l := levels[to]
		l.OnHand = l.OnHand.Add(m.Quantity)
		if err := saveLevel(ctx, tx, m.CompanyID, l); err != nil {
			return err
		}
	}
	switch {
	case dir > 0:
		value := money.Decimal{}
		cost := money.Decimal{}
		switch {
		case fixed != nil:
			value = *fixed
			cost = unitCostOf(value, m.Quantity)
		case unitCost != nil:
			cost = *unitCost
			value = money.RoundAmount(cost.Mul(m.Quantity), m.Currency, money.HalfEven)
		case cs.quantity.Sign() > 0:
			// Stock found by an adjustment comes in at the current cost.
			cost = unitCostOf(cs.value, cs.quantity)
			value = money.RoundAmount(cost.Mul(m.Quantity), m.Currency, money.HalfEven)
		default:
			return apperr.Field("/unit_cost", "%s has no stock to take a cost from; give unit_cost.", m.ProductID)
		}
		m.UnitCost, m.Value = cost, value
		if err := valueIn(ctx, tx, m.CompanyID, p, m.ID, m.Date, m.Quantity, value, cost, &cs); err != nil {
			return err
		}
	case dir < 0:
		if fixed != nil {
			if err := takeBack(ctx, tx, p, m, *fixed, &cs); err != nil {
				return err
			}
			m.Value = *fixed
		} else {
			v, err := valueOut(ctx, tx, m.CompanyID, p, m.Quantity, m.Currency, &cs)
			if err != nil {
				return err
			}
			m.Value = v
		}
		m.UnitCost = unitCostOf(m.Value, m.Quantity)
	}
	if dir != 0 {
		return saveCost(ctx, tx, m.CompanyID, p.ID, cs)
	}
	return nil
}

// takeBack removes a receipt's stock at exactly the value it came in with
// (its reversal). Under FIFO its layer must still be whole: once units of
// it were issued at its cost, taking it back at its value would leave the
// other layers wrong, so that is a 409.
func takeBack(ctx context.Context, tx *db.Tx, p product, m *StockMove, value money.Decimal, cs *costState) error {
	if p.fifo() {
		l, qty, ok, err := layerOf(ctx, tx, m.ReversalOf)
		if err != nil {
			return err
		}
		if !ok || !l.remaining.Equal(qty) {
			return apperr.New(apperr.Conflict, "Stock move %s has been issued from in part; adjust the stock instead of reversing it.", m.ReversalOf)
		}
		l.remaining, l.remainingValue = money.Decimal{}, money.Decimal{}
		if err := saveLayer(ctx, tx, l); err != nil {
			return err
		}
	} else if cs.quantity.Cmp(m.Quantity) < 0 || cs.value.Cmp(value) < 0 {
		return apperr.New(apperr.Conflict, "Stock move %s cannot be taken back at its value: less is in stock now; adjust instead.", m.ReversalOf)
	}
	cs.quantity, cs.value = cs.quantity.Sub(m.Quantity), cs.value.Sub(value)
	return nil
}

func unitCostOf(value, qty money.Decimal) money.Decimal {
	if qty.Sign() == 0 {
		return money.Decimal{}
	}
	v, err := value.DivRound(qty, money.PriceScale, money.HalfEven)
	if err != nil {
		return money.Decimal{}
	}
	return v.Normalize()
}

// record posts the move's value to the ledger, stores the move, and
// writes its event and audit row.
func record(ctx context.Context, tx *db.Tx, m *StockMove, contra string) error {
	if m.Value.Sign() > 0 && m.ReversalOf == "" {
		post := postValue
		if contra != "" {
			post = func(ctx context.Context, tx *db.Tx, m *StockMove) (ledger.Entry, error) {
				return postAgainst(ctx, tx, m, contra)
			}
		}
		e, err := post(ctx, tx, m)
		if err != nil {
			return err
		}
		m.JournalEntryID = e.ID
	}
	normalize(m)
	if err := insertMove(ctx, tx, m); err != nil {
		return MapDBError(err)
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: EventPosted, Subject: m.ID, CompanyID: m.CompanyID, Data: m}); err != nil {
		return fmt.Errorf("stock move %s: %w", m.ID, err)
	}
	details := map[string]any{"type": m.Type, "product_id": m.ProductID, "quantity": m.Quantity.String(), "date": m.Date}
	if m.ReversalOf != "" {
		details["reversal_of"] = m.ReversalOf
	}
	if m.SourceType != "" {
		details["source_type"], details["source_id"] = m.SourceType, m.SourceID
	}
	return audit.Record(ctx, tx, audit.Entry{Action: "stock_move.post", ResourceType: ResourceType, ResourceID: m.ID, CompanyID: m.CompanyID, Details: details})
}

// postValue books the value a move changed: receipts inventory against
// goods received not invoiced, issues cost of goods sold against
// inventory, adjustments inventory against inventory adjustments, opening
// stock inventory against opening balances, customer returns inventory
// against cost of goods sold. The
// accounts come from the company's posting rules for the product.
func postValue(ctx context.Context, tx *db.Tx, m *StockMove) (ledger.Entry, error) {
	keys := rules.Keys{ProductID: m.ProductID}
	inventoryAcct, err := rules.Determine(ctx, tx, m.CompanyID, "inventory", keys)
	if err != nil {
		return ledger.Entry{}, err
	}
	other := map[string]string{Receipt: "grir_clearing", Issue: "cogs", Adjustment: "inventory_adjustment", Opening: "opening_balance", CustomerReturn: "cogs"}[m.Type]
	otherAcct, err := rules.Determine(ctx, tx, m.CompanyID, other, keys)
	if err != nil {
		return ledger.Entry{}, err
	}
	debit, credit := inventoryAcct, otherAcct
	if m.direction() < 0 {
		debit, credit = otherAcct, inventoryAcct
	}
	return ledger.Post(ctx, tx, ledger.Posting{
		CompanyID: m.CompanyID, Date: m.Date, Currency: m.Currency,
		SourceType: ResourceType, SourceID: m.ID, Purpose: "valuation",
		Memo:  fmt.Sprintf("Stock %s of %s %s", m.Type, m.Quantity, m.ProductID),
		Lines: []ledger.Line{{AccountID: debit, Debit: m.Value}, {AccountID: credit, Credit: m.Value}},
	})
}

// Reverse posts the move that undoes moveID on date: the same quantity
// back the other way, at exactly the value the original moved (its ledger
// entry is reversed, not recomputed). A move is reversed at most once.
func Reverse(ctx context.Context, tx *db.Tx, companyID, moveID, date string) (StockMove, error) {
	orig, found, err := loadMove(ctx, tx, companyID, moveID)
	if err != nil {
		return StockMove{}, err
	}
	if !found {
		return StockMove{}, apperr.New(apperr.NotFound, "No stock move %q.", moveID)
	}
	if orig.ReversedBy != "" {
		return StockMove{}, apperr.New(apperr.Conflict, "Stock move %s has already been reversed by %s.", orig.ID, orig.ReversedBy)
	}
	if !validDate(date) {
		return StockMove{}, apperr.Field("/date", "must be a calendar date as YYYY-MM-DD, got %q", date)
	}
	if err := periods.CheckOpen(ctx, tx, companyID, date); err != nil {
		return StockMove{}, err
	}
	p, err := loadProduct(ctx, tx, companyID, orig.ProductID, "/product_id")
	if err != nil {
		return StockMove{}, err
	}
	m := StockMove{
		ID: id.New("smv"), CompanyID: companyID, Type: orig.Type, ProductID: orig.ProductID,
		FromLocationID: orig.ToLocationID, ToLocationID: orig.FromLocationID, Lot: orig.Lot,
		Quantity: orig.Quantity, EnteredQuantity: orig.EnteredQuantity, EnteredUnitID: orig.EnteredUnitID,
		Currency: orig.Currency, Date: date, Reason: orig.Reason, Memo: "Reversal of " + orig.ID, ReversalOf: orig.ID,
		CreatedAt: tx.Now(),
	}
	value := orig.Value
	if err := apply(ctx, tx, p, &m, nil, nil, &value); err != nil {
		return StockMove{}, err
	}
	if orig.JournalEntryID != "" {
		e, err := ledger.Reverse(ctx, tx, orig.JournalEntryID, date)
		if err != nil {
			return StockMove{}, fmt.Errorf("reverse stock move %s: %w", orig.ID, err)
		}
		m.JournalEntryID = e.ID
	}
	if err := record(ctx, tx, &m, ""); err != nil {
		if db.IsUniqueViolation(err) {
			return StockMove{}, apperr.New(apperr.Conflict, "Stock move %s has already been reversed.", orig.ID)
		}
		return StockMove{}, err
	}
	if ok, err := setReversedBy(ctx, tx, orig.ID, m.ID); err != nil {
		return StockMove{}, MapDBError(err)
	} else if !ok {
		return StockMove{}, apperr.New(apperr.Conflict, "Stock move %s has already been reversed.", orig.ID)
	}
	// The original now names its reversal: the event carries it as read.
	reversed, err := Get(ctx, tx, companyID, orig.ID)
	if err != nil {
		return StockMove{}, err
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: EventReversed, Subject: orig.ID, CompanyID: companyID, Data: reversed}); err != nil {
		return StockMove{}, fmt.Errorf("stock move %s: %w", orig.ID, err)
	}
	return m, nil
}

// Get returns a move of the company.
func Get(ctx context.Context, q db.Querier, companyID, moveID string) (StockMove, error) {
	m, found, err := loadMove(ctx, q, companyID, moveID)
	if err != nil {
		return StockMove{}, err
	}
	if !found {
		return StockMove{}, apperr.New(apperr.NotFound, "No stock move %q.", moveID)
	}
	return m, nil
}

// RefuseDeleteIfMoved refuses to delete a product or location (column
// product_id, from_location_id or to_location_id) that stock moves name:
// their history, levels and valuation need it. Archive it instead.
func RefuseDeleteIfMoved(what string, columns ...string) func(ctx context.Context, tx *db.Tx, id string) error {
	return func(ctx context.Context, tx *db.Tx, id string) error {
		for _, c := range columns {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM stock_moves WHERE "+c+" = $1", id).Scan(&n); err != nil {
				return fmt.Errorf("stock moves of %s: %w", id, err)
			}
			if n > 0 {
				return apperr.New(apperr.Conflict, "%s %s has stock moves; archive it instead (PATCH {\"active\": false}).", what, id)
			}
		}
		return nil
	}
}
