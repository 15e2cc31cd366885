// Package counts is stock counts: a count sheet of what was counted where
// (opening stock or a periodic or cycle count), whose differences from the
// books are posted as inventory adjustments.
//
// A draft shows each line's book quantity live, so a sheet can be reviewed
// before posting; posting takes the book quantity again, inside the
// posting transaction with the level locked, so stock that moved since the
// sheet was written is counted against what is there now, not what was
// there then. Each line's adjustment carries the source (stock_count,
// count id, "line n"), so a post can never move a line twice.
package counts

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/inventory"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// Statuses of a count.
const (
	StatusDraft  = "draft"
	StatusPosted = "posted"
)

// ResourceType names counts in the audit log and as the source of their
// adjustments.
const ResourceType = "stock_count"

// Event types.
const (
	EventCreated = "mainstay.inventory.stock_count.created"
	EventPosted  = "mainstay.inventory.stock_count.posted"
)

// StockCount is a count sheet.
type StockCount struct {
	ID        string           `json:"id"`
	CompanyID string           `json:"company_id"`
	Status    string           `json:"status" enum:"draft,posted"`
	Date      string           `json:"date" doc:"The business date the adjustments are dated."`
	Memo      string           `json:"memo,omitempty"`
	Lines     []StockCountLine `json:"lines"`
	CreatedAt time.Time        `json:"created_at"`
	PostedAt  *time.Time       `json:"posted_at,omitempty"`
}

// StockCountLine is what was counted of a product at a location (and lot).
type StockCountLine struct {
	Line            int           `json:"line" doc:"1 for the first line; the adjustment's purpose is \"line <n>\"."`
	ProductID       string        `json:"product_id"`
	LocationID      string        `json:"location_id"`
	Lot             string        `json:"lot,omitempty"`
	CountedQuantity money.Decimal `json:"counted_quantity" doc:"In the product's stock unit."`
	BookQuantity    money.Decimal `json:"book_quantity" doc:"What the books say is on hand: now, on a draft; when it was posted, on a posted count."`
	Difference      money.Decimal `json:"difference" doc:"counted_quantity − book_quantity: positive is stock found, negative stock lost."`
	MoveID          string        `json:"move_id,omitempty" doc:"The adjustment posted for the difference; none when there was none."`
}

// NewLine is a line of a count to create.
type NewLine struct {
	ProductID, LocationID, Lot string
	Counted                    money.Decimal
}

// NewCount is a count sheet to create.
type NewCount struct {
	Date, Memo string
	Lines      []NewLine
}

const dateLayout = "2006-01-02"

// Create validates a count sheet, reporting every bad line at once, and
// stores it as a draft in tx.
func Create(ctx context.Context, tx *db.Tx, companyID string, in NewCount) (StockCount, error) {
	var fields []apperr.FieldError
	add := func(ptr, format string, args ...any) {
		fields = append(fields, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
	}
	if t, err := time.Parse(dateLayout, in.Date); err != nil || t.Format(dateLayout) != in.Date {
		add("/date", "must be a calendar date as YYYY-MM-DD, got %q", in.Date)
	}
	if len(in.Lines) == 0 {
		add("/lines", "at least one line")
	}
	products := map[string]*productInfo{}
	locations := map[string]*locationInfo{}
	seen := map[[3]string]int{}
	for i, l := range in.Lines {
		ptr := fmt.Sprintf("/lines/%d", i)
		key := [3]string{l.ProductID, l.LocationID, l.Lot}
		if first, dup := seen[key]; dup {
			add(ptr, "counts the same product, location and lot as line %d", first+1)
		} else {
			seen[key] = i
		}
		if l.Counted.IsNegative() {
			add(ptr+"/counted_quantity", "must not be negative, got %s", l.Counted)
		} else if _, err := l.Counted.Scaled(money.QuantityScale); err != nil {
			add(ptr+"/counted_quantity", "at most %d decimal places", money.QuantityScale)
		}
		p, ok := products[l.ProductID]
		if !ok {
			var err error
			if p, err = loadProduct(ctx, tx, companyID, l.ProductID); err != nil {
				return StockCount{}, err
			}
			products[l.ProductID] = p
		}
		switch {
		case p == nil:
			add(ptr+"/product_id", "no product %q in this company", l.ProductID)
		case p.tracked() && l.Lot == "":
			add(ptr+"/lot", "product %s is tracked by %s: count each %s on its own line", l.ProductID, p.Tracking, p.Tracking)
		case !p.tracked() && l.Lot != "":
			add(ptr+"/lot", "product %s is not tracked by lot or serial number", l.ProductID)
		case p.Tracking == inventory.TrackSerial && l.Counted.Cmp(money.FromInt(1)) > 0:
			add(ptr+"/counted_quantity", "a serial number is one unit: count 0 or 1")
		}
		loc, ok := locations[l.LocationID]
		if !ok {
			var err error
			if loc, err = loadLocation(ctx, tx, companyID, l.LocationID); err != nil {
				return StockCount{}, err
			}
			locations[l.LocationID] = loc
		}
		switch {
		case loc == nil:
			add(ptr+"/location_id", "no location %q in this company", l.LocationID)
		case !loc.Active:
			add(ptr+"/location_id", "location %s is archived", l.LocationID)
		}
	}
	if len(fields) > 0 {
		return StockCount{}, apperr.Fields(fields...)
	}
	c := StockCount{ID: id.New("cnt"), CompanyID: companyID, Status: StatusDraft, Date: in.Date, Memo: in.Memo, CreatedAt: tx.Now()}
	for i, l := range in.Lines {
		c.Lines = append(c.Lines, StockCountLine{Line: i + 1, ProductID: l.ProductID, LocationID: l.LocationID, Lot: l.Lot, CountedQuantity: l.Counted})
	}
	if err := insertCount(ctx, tx, &c); err != nil {
		return StockCount{}, err
	}
	if err := audit.Record(ctx, tx, audit.Entry{Action: "stock_count.create", ResourceType: ResourceType, ResourceID: c.ID, CompanyID: companyID,
		Details: map[string]any{"date": c.Date, "lines": len(c.Lines)}}); err != nil {
		return StockCount{}, err
	}
	// Read back, so the response and the event show the live book
	// quantities exactly as a later GET would.
	out, err := Get(ctx, tx, companyID, c.ID)
	if err != nil {
		return StockCount{}, err
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: EventCreated, Subject: out.ID, CompanyID: companyID, Data: out}); err != nil {
		return StockCount{}, fmt.Errorf("stock count %s: %w", out.ID, err)
	}
	return out, nil
}

// Get returns a count of the company; another company's is not found.
func Get(ctx context.Context, q db.Querier, companyID, countID string) (StockCount, error) {
	c, found, err := loadCount(ctx, q, companyID, countID)
	if err != nil {
		return StockCount{}, err
	}
	if !found {
		return StockCount{}, apperr.New(apperr.NotFound, "No stock count %q.", countID)
	}
	return c, nil
}

// Post moves a draft count's differences from the books as adjustments
// dated the count's date, in tx. unitCosts gives, by line number, the cost
// of stock found of a product that has none in stock to take a cost from;
// otherwise found stock comes in at the current cost.
func Post(ctx context.Context, tx *db.Tx, companyID, countID string, unitCosts map[int]money.Decimal) (StockCount, error) {
	// Claiming the draft first serializes concurrent posts of one count:
	// the second waits on the row, then finds it posted.
	now := tx.Now()
	claimed, err := claimDraft(ctx, tx, companyID, countID, now)
	if err != nil {
		return StockCount{}, err
	}
	c, found, err := loadCount(ctx, tx, companyID, countID)
	if err != nil {
		return StockCount{}, err
	}
	if !found {
		return StockCount{}, apperr.New(apperr.NotFound, "No stock count %q.", countID)
	}
	if !claimed {
		return StockCount{}, apperr.New(apperr.Conflict, "Stock count %s is already posted.", countID)
	}
	for n := range unitCosts {
		if n < 1 || n > len(c.Lines) {
			return StockCount{}, apperr.Field("/unit_costs", "Stock count %s has no line %d; it has %d.", countID, n, len(c.Lines))
		}
	}
	// Lines in (product, location, lot) order: the order every writer
	// locks cost and level rows in, so a count never deadlocks a cart.
	order := make([]int, len(c.Lines))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		x, y := c.Lines[order[a]], c.Lines[order[b]]
		if x.ProductID != y.ProductID {
			return x.ProductID < y.ProductID
		}
		if x.LocationID != y.LocationID {
			return x.LocationID < y.LocationID
		}
		return x.Lot < y.Lot
	})
	moved := 0
	for _, i := range order {
		l := &c.Lines[i]
		book, err := lockBook(ctx, tx, companyID, l.ProductID, l.LocationID, l.Lot)
		if err != nil {
			return StockCount{}, err
		}
		l.BookQuantity, l.Difference, l.MoveID = book, l.CountedQuantity.Sub(book), ""
		if l.Difference.Sign() != 0 {
			in := inventory.MoveInput{
				CompanyID: companyID, Type: inventory.Adjustment, ProductID: l.ProductID, Lot: l.Lot,
				Quantity: l.Difference.Abs(), Date: c.Date, Reason: "stock count " + c.ID, Memo: c.Memo,
				SourceType: ResourceType, SourceID: c.ID, Purpose: fmt.Sprintf("line %d", l.Line),
			}
			if l.Difference.Sign() > 0 {
				in.ToLocationID = l.LocationID
				if cost, ok := unitCosts[l.Line]; ok {
					in.UnitCost = &cost
				}
			} else {
				in.FromLocationID = l.LocationID
			}
			m, err := inventory.Post(ctx, tx, in)
			if err != nil {
				return StockCount{}, lineError(err, *l)
			}
			l.MoveID = m.ID
			moved++
			// The level was locked by the move, so this reads the truth: if
			// it is not what was counted, the book read before the lock was
			// stale (a first move of the product raced us) and the
			// difference wrong.
			after, err := lockBook(ctx, tx, companyID, l.ProductID, l.LocationID, l.Lot)
			if err != nil {
				return StockCount{}, err
			}
			if !after.Equal(l.CountedQuantity) {
				return StockCount{}, apperr.New(apperr.Conflict, "Stock of %s at %s moved while count %s was posted; post it again.", l.ProductID, l.LocationID, c.ID)
			}
		}
		if err := saveLine(ctx, tx, c.ID, *l); err != nil {
			return StockCount{}, err
		}
	}
	c.Status, c.PostedAt = StatusPosted, &now
	normalize(&c)
	if err := audit.Record(ctx, tx, audit.Entry{Action: "stock_count.post", ResourceType: ResourceType, ResourceID: c.ID, CompanyID: companyID,
		Details: map[string]any{"date": c.Date, "lines": len(c.Lines), "adjustments": moved}}); err != nil {
		return StockCount{}, err
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: EventPosted, Subject: c.ID, CompanyID: companyID, Data: c}); err != nil {
		return StockCount{}, fmt.Errorf("stock count %s: %w", c.ID, err)
	}
	return c, nil
}

// lineError names the count line an adjustment failed for, and moves the
// move's field pointers onto the line (or, for a missing cost, onto the
// post request's unit_costs).
func lineError(err error, l StockCountLine) error {
	var e *apperr.Error
	if !errors.As(err, &e) {
		return fmt.Errorf("stock count line %d: %w", l.Line, err)
	}
	ptr := fmt.Sprintf("/lines/%d", l.Line-1)
	out := apperr.New(e.Code, "Line %d (%s at %s): %s", l.Line, l.ProductID, l.LocationID, strings.TrimSuffix(e.Message, "."))
	out.Message += "."
	if e.Code == apperr.Invalid && hasPointer(e, "/unit_cost") {
		out.Message = fmt.Sprintf("Line %d finds %s of %s, which has no stock to take a cost from: give its unit_cost in unit_costs.", l.Line, l.Difference, l.ProductID)
	}
	for _, f := range e.Fields {
		switch f.Pointer {
		case "/quantity":
			f.Pointer = ptr + "/counted_quantity"
		case "/from_location_id", "/to_location_id":
			f.Pointer = ptr + "/location_id"
		case "/unit_cost":
			f.Pointer = "/unit_costs"
		case "/date":
		default:
			f.Pointer = ptr + f.Pointer
		}
		out.Fields = append(out.Fields, f)
	}
	return out.Wrap(err)
}

func hasPointer(e *apperr.Error, ptr string) bool {
	for _, f := range e.Fields {
		if f.Pointer == ptr {
			return true
		}
	}
	return false
}

// normalize shows a count as it reads back.
func normalize(c *StockCount) {
	c.CreatedAt = c.CreatedAt.UTC().Truncate(time.Microsecond)
	if c.PostedAt != nil {
		t := c.PostedAt.UTC().Truncate(time.Microsecond)
		c.PostedAt = &t
	}
	for i := range c.Lines {
		l := &c.Lines[i]
		l.CountedQuantity, l.BookQuantity = l.CountedQuantity.Normalize(), l.BookQuantity.Normalize()
		l.Difference = l.CountedQuantity.Sub(l.BookQuantity).Normalize()
	}
	if c.Lines == nil {
		c.Lines = []StockCountLine{}
	}
}
