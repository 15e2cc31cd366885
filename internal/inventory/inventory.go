// Package inventory is stock: moves (the only way stock changes), levels
// per product, location and lot with reservations and quality holds, and
// the valuation every valued move posts to the ledger in the same
// transaction (DESIGN §5, "Stock").
//
// Invariants: available = on hand − reserved − held never goes below zero
// (unless a product allows negative stock, and then only on hand may);
// level rows are locked in one sorted order so concurrent writers never
// deadlock; a move never changes once written (database triggers on both
// engines) and is corrected by a reverse move; the value of stock in the
// valuation equals the inventory account in the ledger, because each
// valued move posts exactly the value it adds or removes.
package inventory

import (
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// StockMove types. Direction comes from the locations: a move with only a
// destination brings stock in, with only a source takes it out, with both
// moves it within the company.
const (
	Receipt    = "receipt"
	Issue      = "issue"
	Transfer   = "transfer"
	Adjustment = "adjustment"
	// Opening brings in stock taken over from a previous system, valued,
	// against the opening-balance equity account.
	Opening = "opening"
	// CustomerReturn brings sold goods back, at the cost they left with,
	// against cost of goods sold.
	CustomerReturn = "return"
)

// Valuation methods and tracking options of a product.
const (
	MovingAverage = "moving_average"
	FIFO          = "fifo"

	TrackNone   = ""
	TrackLot    = "lot"
	TrackSerial = "serial"
)

// ResourceType names stock moves in the audit log and as a ledger source.
const ResourceType = "stock_move"

// Event types.
const (
	EventPosted   = "mainstay.inventory.stock_move.posted"
	EventReversed = "mainstay.inventory.stock_move.reversed"

	EventReserved = "mainstay.inventory.stock_reservation.created"
	EventReleased = "mainstay.inventory.stock_reservation.released"

	EventHoldPlaced = "mainstay.inventory.stock_hold.placed"
	EventHoldLifted = "mainstay.inventory.stock_hold.lifted"
)

// Source names the document a move, reservation or hold belongs to (a
// sales order, a shipment, a count).
type Source struct {
	Type string `json:"source_type"`
	ID   string `json:"source_id"`
}

// MoveInput is what a caller asks to move.
type MoveInput struct {
	CompanyID      string
	Type           string
	ProductID      string
	FromLocationID string
	ToLocationID   string
	Lot            string
	LotExpiry      string // YYYY-MM-DD, for a lot received the first time
	Quantity       money.Decimal
	UnitID         string // the unit Quantity is in; empty for the stock unit
	// UnitCost is the cost per stock unit in the company currency, for
	// moves that bring stock in. Required on receipts; an adjustment that
	// finds stock without one takes the current average cost.
	UnitCost *money.Decimal
	Date     string
	Reason   string // required on adjustments
	Memo     string
	// SourceType, SourceID and Purpose make the move idempotent, like a
	// ledger posting: the same triple moves once.
	SourceType, SourceID, Purpose string
	// Consumes is the reservation this move ships: its reserved quantity
	// at the source location is used up instead of staying reserved.
	Consumes *Source
}

// StockMove is a stored stock move.
type StockMove struct {
	ID              string         `json:"id"`
	CompanyID       string         `json:"company_id"`
	Type            string         `json:"type" doc:"receipt, issue, transfer, adjustment, opening or return today; the set grows as modules arrive (production moves), so treat unknown values as opaque."`
	ProductID       string         `json:"product_id"`
	FromLocationID  string         `json:"from_location_id,omitempty"`
	ToLocationID    string         `json:"to_location_id,omitempty"`
	Lot             string         `json:"lot,omitempty"`
	Quantity        money.Decimal  `json:"quantity" doc:"In the product's stock unit."`
	EnteredQuantity money.Decimal  `json:"entered_quantity" doc:"As given, in entered_unit_id."`
	EnteredUnitID   string         `json:"entered_unit_id"`
	UnitCost        money.Decimal  `json:"unit_cost" doc:"Cost per stock unit in the company currency."`
	Value           money.Decimal  `json:"value" doc:"What the move added to (in) or took from (out) the stock's value; 0 for transfers."`
	Currency        money.Currency `json:"currency"`
	Date            string         `json:"date"`
	Reason          string         `json:"reason,omitempty"`
	Memo            string         `json:"memo,omitempty"`
	SourceType      string         `json:"source_type,omitempty"`
	SourceID        string         `json:"source_id,omitempty"`
	Purpose         string         `json:"purpose,omitempty"`
	ReversalOf      string         `json:"reversal_of,omitempty"`
	ReversedBy      string         `json:"reversed_by,omitempty"`
	JournalEntryID  string         `json:"journal_entry_id,omitempty"`
	CreatedAt       time.Time      `json:"created_at"`
}

// direction is +1 for stock coming in, −1 going out, 0 within.
func (m StockMove) direction() int {
	switch {
	case m.FromLocationID == "":
		return 1
	case m.ToLocationID == "":
		return -1
	}
	return 0
}

// StockLevel is the stock of a product at a location (and lot).
type StockLevel struct {
	ProductID  string        `json:"product_id"`
	LocationID string        `json:"location_id"`
	Lot        string        `json:"lot,omitempty"`
	OnHand     money.Decimal `json:"on_hand"`
	Reserved   money.Decimal `json:"reserved"`
	Held       money.Decimal `json:"held"`
	Available  money.Decimal `json:"available" doc:"on_hand − reserved − held."`
}

// StockReservation is stock set aside for a document.
type StockReservation struct {
	ID         string        `json:"id"`
	ProductID  string        `json:"product_id"`
	LocationID string        `json:"location_id"`
	Lot        string        `json:"lot,omitempty"`
	Quantity   money.Decimal `json:"quantity"`
	Requested  money.Decimal `json:"requested" doc:"What was asked; more than quantity when a backordered line reserved only what was available."`
	SourceType string        `json:"source_type"`
	SourceID   string        `json:"source_id"`
	Status     string        `json:"status" enum:"active,released,consumed"`
	CreatedAt  time.Time     `json:"created_at"`
}

// ReserveLine asks for stock of a product at a location.
type ReserveLine struct {
	ProductID  string
	LocationID string
	Lot        string
	Quantity   money.Decimal // in stock units
	// Partial reserves what is available when less is there (a
	// backordered line) instead of failing.
	Partial bool
}

// StockHold is stock quality control has blocked.
type StockHold struct {
	ID         string        `json:"id"`
	ProductID  string        `json:"product_id"`
	LocationID string        `json:"location_id"`
	Lot        string        `json:"lot,omitempty"`
	Quantity   money.Decimal `json:"quantity"`
	Reason     string        `json:"reason"`
	Status     string        `json:"status" enum:"held,lifted"`
	CreatedAt  time.Time     `json:"created_at"`
	LiftedAt   *time.Time    `json:"lifted_at,omitempty"`
}
