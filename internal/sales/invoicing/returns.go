package invoicing

import (
	"context"
	"fmt"
	"github.com/mainstay-erp/mainstay/internal/company"

	"github.com/mainstay-erp/mainstay/internal/inventory"
	"github.com/mainstay-erp/mainstay/internal/inventory/sites"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/sales/orders"
)

// ReturnLine asks to take back stock units of an order line.
type ReturnLine struct {
	LineNo   int           `json:"line_no"`
	Quantity money.Decimal `json:"quantity" doc:"In stock units; at most what shipped less what came back before."`
}

// ReturnInput is goods coming back for an order.
type ReturnInput struct {
	CompanyID, OrderID, Date, LocationID, Reason string
	Lines                                        []ReturnLine
}

// CreateReturn puts returned goods back in stock at the cost they shipped
// with (against cost of goods sold) and credits them with a credit note
// against the invoice that billed them, in tx.
func CreateReturn(ctx context.Context, tx *db.Tx, in ReturnInput) (CustomerReturn, error) {
	if len(in.Lines) == 0 {
		return CustomerReturn{}, apperr.Field("/lines", "a return needs at least one line")
	}
	var ret CustomerReturn
	// Update holds the order's row: concurrent returns of one order queue,
	// so neither takes back more than shipped.
	_, err := orders.Update(ctx, tx, in.CompanyID, in.OrderID, func(o *orders.SalesOrder) error {
		s, err := loadSeller(ctx, tx, in.CompanyID)
		if err != nil {
			return err
		}
		if in.Date == "" {
			in.Date = company.LocalDate(s.zone, tx.Now())
		}
		if in.LocationID == "" {
			if in.LocationID, err = sites.DefaultLocation(ctx, tx, in.CompanyID, o.WarehouseID, sites.Receiving); err != nil {
				return err
			}
		}
		earlier, err := orderReturns(ctx, tx, in.CompanyID, o.ID)
		if err != nil {
			return err
		}
		back := map[int]money.Decimal{}
		for _, r := range earlier {
			for _, l := range r.Lines {
				back[l.LineNo] = back[l.LineNo].Add(l.Quantity)
			}
		}
		ret = CustomerReturn{ID: id.New("ret"), CompanyID: in.CompanyID, SalesOrderID: o.ID, Date: in.Date, LocationID: in.LocationID,
			Reason: in.Reason, CreatedAt: tx.Now().UTC()}
		want := map[int]money.Decimal{}
		for i, rl := range in.Lines {
			ptr := fmt.Sprintf("/lines/%d", i)
			if rl.LineNo < 1 || rl.LineNo > len(o.Lines) {
				return apperr.Field(ptr+"/line_no", "Sales order %s has no line %d.", o.ID, rl.LineNo)
			}
			if rl.Quantity.Sign() <= 0 {
				return apperr.Field(ptr+"/quantity", "must be positive")
			}
			l := o.Lines[rl.LineNo-1]
			if left := l.Shipped.Sub(back[l.LineNo]); rl.Quantity.Cmp(left) > 0 {
				return apperr.New(apperr.Conflict, "Line %d shipped %s and %s came back before; %s cannot be returned.", l.LineNo, l.Shipped,
					back[l.LineNo], rl.Quantity).WithFields(apperr.FieldError{Pointer: ptr + "/quantity", Detail: "more than shipped and not returned"})
			}
			back[l.LineNo] = back[l.LineNo].Add(rl.Quantity)
			want[l.LineNo] = want[l.LineNo].Add(rl.Quantity)
			value, qty, err := shippedCost(ctx, tx, in.CompanyID, o.ID, l.LineNo)
			if err != nil {
				return err
			}
			var cost money.Decimal
			if qty.Sign() > 0 {
				if cost, err = value.DivRound(qty, money.PriceScale, money.HalfEven); err != nil {
					return fmt.Errorf("unit cost of line %d: %w", l.LineNo, err)
				}
			}
			mv, err := inventory.Post(ctx, tx, inventory.MoveInput{CompanyID: in.CompanyID, Type: inventory.CustomerReturn, ProductID: l.ProductID,
				ToLocationID: in.LocationID, Quantity: rl.Quantity, UnitCost: &cost, Date: in.Date, Reason: in.Reason,
				Memo: "Return " + ret.ID + " of " + o.ID, SourceType: ReturnSourceType, SourceID: ret.ID, Purpose: fmt.Sprintf("line %d.%d", l.LineNo, i+1)})
			if err != nil {
				return fmt.Errorf("return line %d: %w", l.LineNo, err)
			}
			ret.Lines = append(ret.Lines, CustomerReturnLine{LineNo: l.LineNo, ProductID: l.ProductID, Quantity: rl.Quantity.Normalize(),
				UnitCost: mv.UnitCost, StockMoveID: mv.ID})
		}
		cn, err := creditReturn(ctx, tx, s, o, want, ret.ID, in.Date)
		if err != nil && err != errNothing {
			return err
		}
		ret.CreditNoteID = cn.ID
		return nil
	})
	if err != nil {
		return CustomerReturn{}, err
	}
	if err := insertReturn(ctx, tx, &ret); err != nil {
		return CustomerReturn{}, err
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: EventReturned, Subject: ret.ID, CompanyID: ret.CompanyID, Data: ret}); err != nil {
		return CustomerReturn{}, fmt.Errorf("return %s: %w", ret.ID, err)
	}
	return ret, audit.Record(ctx, tx, audit.Entry{Action: "customer_return.create", ResourceType: "customer_return", ResourceID: ret.ID,
		CompanyID: ret.CompanyID, Details: map[string]any{"sales_order_id": ret.SalesOrderID, "credit_note_id": ret.CreditNoteID}})
}

// creditReturn makes and finalizes the credit note for returned stock
// units, pro rata like invoices, for what of them was invoiced and not yet
// credited; it credits the latest finalized invoice that billed them.
func creditReturn(ctx context.Context, tx *db.Tx, s seller, o *orders.SalesOrder, want map[int]money.Decimal, returnID, date string) (Invoice, error) {
	docs, err := orderInvoices(ctx, tx, o.CompanyID, o.ID)
	if err != nil {
		return Invoice{}, err
	}
	invoiced, _ := billedOf(docs, KindInvoice)
	credited, _ := billedOf(docs, KindCreditNote)
	cn := newDocument(o, KindCreditNote, CreditNoteSeries, date)
	cn.ReturnID = returnID
	for _, l := range o.Lines {
		q := want[l.LineNo]
		if open := invoiced[l.LineNo].stock.Sub(credited[l.LineNo].stock); open.Cmp(q) < 0 {
			q = open
		}
		if q.Sign() <= 0 {
			continue
		}
		il, err := prorate(l, q, credited[l.LineNo], o.Currency, o.TaxInclusive)
		if err != nil {
			return Invoice{}, err
		}
		cn.Lines = append(cn.Lines, il)
		for i := len(docs) - 1; i >= 0 && cn.CreditOf == ""; i-- {
			if d := docs[i]; d.Kind == KindInvoice && d.Status == Finalized && billsLine(d, l.LineNo) {
				cn.CreditOf = d.ID
			}
		}
	}
	if len(cn.Lines) == 0 {
		return Invoice{}, errNothing
	}
	return cn, create(ctx, tx, s, &cn, true)
}

func billsLine(inv Invoice, lineNo int) bool {
	for _, l := range inv.Lines {
		if l.Kind == lineProduct && l.OrderLineNo == lineNo {
			return true
		}
	}
	return false
}
